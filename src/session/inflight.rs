//! The in-flight window: sent QoS 1/2 messages awaiting their acknowledgement.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::message::Delivery;

/// Where an outgoing QoS 1/2 message stands in its acknowledgement flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutState {
    /// QoS 1 sent, waiting for PUBACK.
    AwaitPubAck,
    /// QoS 2 sent, waiting for PUBREC.
    AwaitPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitPubComp,
}

#[derive(Debug)]
pub struct Inflight {
    pub packet_id: u16,
    pub state: OutState,
    pub delivery: Delivery,
}

/// Sent QoS 1/2 messages not yet fully acknowledged, oldest first (re-sent in this order on
/// reconnect), found by packet id without a long search: with `max_inflight_messages 0` a
/// window holds up to 65,534, and each acknowledgement would otherwise look through them.
///
/// Entries sit in `slots` in the order they were sent; one acknowledged out of order leaves
/// a hole (`None`), holes at the front are dropped at once (so the front slot is never a
/// hole), and the slots are compacted when holes outnumber messages, so the slots stay
/// within twice the window (plus a few) and every operation but `retain` costs O(1),
/// amortised. The oldest is found without a hash, and so is any message in a window of a
/// few slots; an index by packet id is built for the first acknowledgement that would need
/// a longer search, and kept until the window is small again. Acknowledgements in the
/// order sent, the usual case, then cost no hashing at all.
#[derive(Debug, Default)]
pub struct InflightWindow {
    slots: VecDeque<Option<Inflight>>,
    /// Messages in `slots`, holes not counted. This and `popped` are u32, so that `Session`
    /// keeps its size: a window holds at most 65,534 messages, its slots about twice that.
    live: u32,
    /// Slots ever taken off the front, wrapping: a slot's ordinal less this (wrapping too)
    /// is its position.
    popped: u32,
    /// The ordinal of each packet id in flight, while there is an index. Ids are ours,
    /// unique while in flight [MQTT-2.2.1-4], so a cheap multiplicative hash is enough.
    by_id: Option<HashMap<u16, u32, BuildHasherDefault<IdHasher>>>,
}

/// Holes tolerated before compaction is considered at all.
const HOLES_MIN: usize = 16;

/// Slots searched one by one, beyond the oldest, before an index is built; below half
/// this many messages the index goes again (so a window on the edge does not build and
/// drop it in turn).
const SEARCHED_MAX: usize = 8;

impl InflightWindow {
    pub fn len(&self) -> usize {
        self.live as usize
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The messages in the order they were sent.
    pub fn iter(&self) -> impl Iterator<Item = &Inflight> {
        self.slots.iter().flatten()
    }

    /// The oldest message in flight: the front slot, never a hole.
    pub fn front(&self) -> Option<&Inflight> {
        self.slots.front().and_then(Option::as_ref)
    }

    pub fn contains(&mut self, packet_id: u16) -> bool {
        self.position(packet_id).is_some()
    }

    /// Adds the newest message; its packet id must not be in flight already.
    pub fn push_back(&mut self, inflight: Inflight) {
        if let Some(by_id) = &mut self.by_id {
            let ordinal = self.popped.wrapping_add(self.slots.len() as u32);
            let old = by_id.insert(inflight.packet_id, ordinal);
            debug_assert!(
                old.is_none(),
                "packet id {} in flight twice",
                inflight.packet_id
            );
        }
        self.slots.push_back(Some(inflight));
        self.live += 1;
    }

    pub fn get(&mut self, packet_id: u16) -> Option<&Inflight> {
        let position = self.position(packet_id)?;
        self.slots[position].as_ref()
    }

    pub fn get_mut(&mut self, packet_id: u16) -> Option<&mut Inflight> {
        let position = self.position(packet_id)?;
        self.slots[position].as_mut()
    }

    /// Takes a message out of the window, wherever it is.
    pub fn remove(&mut self, packet_id: u16) -> Option<Inflight> {
        let position = self.position(packet_id)?;
        // The oldest, usually: popped, not left as a hole to pop.
        let removed = if position == 0 {
            self.popped = self.popped.wrapping_add(1);
            self.slots.pop_front().flatten()
        } else {
            self.slots[position].take()
        };
        self.live -= 1;
        if let Some(by_id) = &mut self.by_id {
            by_id.remove(&packet_id);
        }
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.popped = self.popped.wrapping_add(1);
        }
        let holes = self.slots.len() - self.len();
        if self.by_id.is_some() && self.len() < SEARCHED_MAX / 2 {
            self.by_id = None;
        }
        if holes > HOLES_MIN && holes > self.len() {
            self.compact();
        }
        removed
    }

    /// Keeps the messages `keep` says to, in their order; O(window).
    pub fn retain(&mut self, mut keep: impl FnMut(&Inflight) -> bool) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|i| !keep(i)) {
                *slot = None;
            }
        }
        self.compact();
    }

    /// Where `packet_id` sits in `slots`: the oldest, one of the next few, or by the index
    /// (built now if it is missing).
    #[inline(always)]
    fn position(&mut self, packet_id: u16) -> Option<usize> {
        // Acknowledgements mostly come in the order sent: the oldest, found at once.
        if let Some(Some(oldest)) = self.slots.front()
            && oldest.packet_id == packet_id
        {
            return Some(0);
        }
        self.position_beyond_front(packet_id)
    }

    #[inline(never)]
    fn position_beyond_front(&mut self, packet_id: u16) -> Option<usize> {
        if self.by_id.is_none() {
            if self.slots.len() <= SEARCHED_MAX {
                return self
                    .slots
                    .iter()
                    .position(|s| s.as_ref().is_some_and(|i| i.packet_id == packet_id));
            }
            self.index();
        }
        let ordinal = *self.by_id.as_ref()?.get(&packet_id)?;
        Some(ordinal.wrapping_sub(self.popped) as usize)
    }

    /// Builds the index from the slots; O(window).
    fn index(&mut self) {
        let by_id = self.by_id.get_or_insert_default();
        by_id.clear();
        for (position, slot) in self.slots.iter().enumerate() {
            if let Some(inflight) = slot {
                by_id.insert(
                    inflight.packet_id,
                    self.popped.wrapping_add(position as u32),
                );
            }
        }
    }

    /// Drops every hole and numbers the messages again.
    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        self.live = self.slots.len() as u32;
        if self.len() < SEARCHED_MAX / 2 {
            self.by_id = None;
        }
        if self.by_id.is_some() {
            self.index();
        }
        if self.slots.capacity() > 64 && self.slots.len() * 4 < self.slots.capacity() {
            self.slots.shrink_to(self.slots.len() * 2);
            if let Some(by_id) = &mut self.by_id {
                by_id.shrink_to(self.slots.len() * 2);
            }
        }
    }
}

/// Fibonacci hashing of a packet id: spreads consecutive ids over the whole hash, whose top
/// bits hashbrown uses as tags.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u16(&mut self, id: u16) {
        self.write_u64(u64::from(id));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflight(packet_id: u16) -> Inflight {
        Inflight {
            packet_id,
            state: OutState::AwaitPubAck,
            delivery: crate::session::tests::delivery(),
        }
    }

    fn ids(window: &InflightWindow) -> Vec<u16> {
        window.iter().map(|i| i.packet_id).collect()
    }

    // Acknowledgements in any order leave the others found by id and in the order sent,
    // and the slots never grow far beyond the messages.
    #[test]
    fn removal_from_anywhere_keeps_order_and_lookups() {
        let mut window = InflightWindow::default();
        for id in 1..=1000 {
            window.push_back(inflight(id));
        }
        // Every id but multiples of 10 is acknowledged, the newest first.
        for id in (1..=1000u16).rev().filter(|id| id % 10 != 0) {
            assert_eq!(window.remove(id).map(|i| i.packet_id), Some(id));
            assert!(window.remove(id).is_none(), "{id} twice");
            assert!(window.slots.len() <= 2 * window.len() + HOLES_MIN + 1);
        }
        let expected: Vec<u16> = (1..=100).map(|i| i * 10).collect();
        assert_eq!(ids(&window), expected);
        for &id in &expected {
            assert_eq!(window.get(id).map(|i| i.packet_id), Some(id));
        }
        window.get_mut(500).unwrap().state = OutState::AwaitPubComp;
        assert_eq!(window.get(500).unwrap().state, OutState::AwaitPubComp);
        assert_eq!(window.front().map(|i| i.packet_id), Some(10));
        // The oldest goes: the next is the front, and new ones go behind the newest.
        window.remove(10);
        window.push_back(inflight(7));
        assert_eq!(window.front().map(|i| i.packet_id), Some(20));
        assert_eq!(ids(&window).last(), Some(&7));
        assert!(window.contains(7) && !window.contains(10));
        window.retain(|i| i.packet_id % 20 == 0 || i.packet_id == 7);
        assert_eq!(window.len(), 51);
        assert_eq!(window.get(7).map(|i| i.packet_id), Some(7));
        assert_eq!(window.get(40).map(|i| i.packet_id), Some(40));
        assert!(window.get(30).is_none());
    }

    // The index is built only when a search would be long, and goes when the window is
    // small again; lookups agree either way.
    #[test]
    fn the_index_is_built_for_long_searches_only() {
        let mut window = InflightWindow::default();
        for id in 1..=100 {
            window.push_back(inflight(id));
        }
        for id in 1..=50 {
            assert_eq!(window.remove(id).map(|i| i.packet_id), Some(id));
        }
        assert!(
            window.by_id.is_none(),
            "acknowledged oldest first: no index"
        );
        assert!(window.get(7).is_none());
        assert!(window.by_id.is_some(), "a miss in a long window built it");
        assert_eq!(window.get(75).map(|i| i.packet_id), Some(75));
        window.push_back(inflight(7));
        assert_eq!(window.get(7).map(|i| i.packet_id), Some(7));
        for id in (51..=100).rev() {
            assert_eq!(window.remove(id).map(|i| i.packet_id), Some(id), "{id}");
        }
        assert!(window.by_id.is_none(), "a small window drops it");
        assert_eq!(ids(&window), vec![7]);
        for id in 8..=12 {
            window.push_back(inflight(id));
        }
        // Six slots: searched one by one, newest first.
        assert_eq!(window.remove(12).map(|i| i.packet_id), Some(12));
        assert_eq!(window.remove(9).map(|i| i.packet_id), Some(9));
        assert!(window.by_id.is_none());
        assert_eq!(ids(&window), vec![7, 8, 10, 11]);
        assert_eq!(window.len(), 4);
    }

    #[test]
    fn an_empty_window_drops_its_slots() {
        let mut window = InflightWindow::default();
        for id in 1..=100 {
            window.push_back(inflight(id));
        }
        for id in 1..=100 {
            window.remove(id);
        }
        assert!(window.is_empty() && window.slots.is_empty());
        assert!(window.front().is_none());
    }
}
