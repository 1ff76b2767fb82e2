//! Retained messages: the last retained message of each topic, for new subscribers.
//!
//! They live in a trie of topic levels, so that a filter visits only the branches it
//! matches: `a/+/c` looks at `a`'s children and one grandchild of each, not at every topic.
//! A new subscriber's messages are not collected all at once either: the broker walks the
//! store for a filter a bounded batch at a time (`walk.rs`) and resumes where it stopped
//! (`cursor.rs`). The store is bounded in messages and bytes (`max_retained_messages`,
//! `max_retained_bytes`): at the bound a new topic is refused and counted, its PUBLISH still
//! goes to its subscribers.

mod cursor;
mod walk;

pub use cursor::RetainedCursor;
pub use walk::{Budget, Position};

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use crate::message::Message;

/// What `RetainStore::set` did with a retained message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Stored, as a new topic or replacing the topic's message.
    Kept,
    /// An empty payload: the topic's message, if any, is gone [MQTT-3.3.1-10].
    Deleted,
    /// Not stored: a new topic with `max_retained_messages` topics stored already.
    OverCount,
    /// Not stored: `max_retained_bytes` would be exceeded. A message it would have replaced
    /// is deleted too, so that new subscribers are not handed a stale value.
    OverBytes,
}

/// One level of the trie. Children are sorted so that a walk can resume after any topic.
#[derive(Default)]
struct Node {
    message: Option<Rc<Message>>,
    children: BTreeMap<Box<str>, Node>,
}

impl Node {
    fn is_unused(&self) -> bool {
        self.message.is_none() && self.children.is_empty()
    }
}

pub struct RetainStore {
    /// Topics whose first level starts with `$`, apart: no wildcard at the first level
    /// reaches them [MQTT-4.7.2-1], so a walk for `#` never looks at them.
    plain: Node,
    dollar: Node,
    count: usize,
    bytes: usize,
    count_max: usize,
    bytes_max: usize,
    /// Retained messages not stored because of a bound, since start.
    refused: u64,
}

impl Default for RetainStore {
    fn default() -> RetainStore {
        RetainStore::new(usize::MAX, usize::MAX)
    }
}

/// The bytes a retained message is counted for: what it holds of its own.
fn weight(message: &Message) -> usize {
    message.size()
}

impl RetainStore {
    pub fn new(count_max: usize, bytes_max: usize) -> RetainStore {
        RetainStore {
            plain: Node::default(),
            dollar: Node::default(),
            count: 0,
            bytes: 0,
            count_max,
            bytes_max,
            refused: 0,
        }
    }

    fn root(&self, topic: &str) -> &Node {
        match topic.starts_with('$') {
            true => &self.dollar,
            false => &self.plain,
        }
    }

    fn root_mut(&mut self, topic: &str) -> &mut Node {
        match topic.starts_with('$') {
            true => &mut self.dollar,
            false => &mut self.plain,
        }
    }

    /// Stores `message` as its topic's retained message, within the store's bounds; an
    /// empty payload deletes the topic's message.
    pub fn set(&mut self, message: &Rc<Message>) -> Stored {
        let topic = message.topic.as_str();
        if message.payload.is_empty() {
            self.remove(topic);
            return Stored::Deleted;
        }
        let new = weight(message);
        let old = self.get(topic).map(|m| weight(m));
        let refusal = match old {
            Some(old) if self.bytes - old + new > self.bytes_max => Some(Stored::OverBytes),
            Some(_) => None,
            None if self.count >= self.count_max => Some(Stored::OverCount),
            None if self.bytes + new > self.bytes_max => Some(Stored::OverBytes),
            None => None,
        };
        if let Some(refusal) = refusal {
            self.refused += 1;
            if refusal == Stored::OverBytes {
                self.remove(topic);
            }
            return refusal;
        }
        let mut node = self.root_mut(topic);
        for level in topic.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        node.message = Some(Rc::clone(message));
        self.count += usize::from(old.is_none());
        self.bytes = self.bytes - old.unwrap_or(0) + new;
        Stored::Kept
    }

    /// The retained message of exactly `topic`, expired or not.
    fn get(&self, topic: &str) -> Option<&Rc<Message>> {
        let mut node = self.root(topic);
        for level in topic.split('/') {
            node = node.children.get(level)?;
        }
        node.message.as_ref()
    }

    /// Deletes `topic`'s message and the levels only it needed.
    fn remove(&mut self, topic: &str) {
        fn remove_below(
            node: &mut Node,
            mut levels: std::str::Split<'_, char>,
        ) -> Option<Rc<Message>> {
            let Some(level) = levels.next() else {
                return node.message.take();
            };
            let child = node.children.get_mut(level)?;
            let removed = remove_below(child, levels);
            if child.is_unused() {
                node.children.remove(level);
            }
            removed
        }
        let root = self.root_mut(topic);
        if let Some(old) = remove_below(root, topic.split('/')) {
            self.count -= 1;
            self.bytes -= weight(&old);
        }
    }

    /// Forgets expired messages that nobody asked for.
    pub fn sweep_expired(&mut self, now: Instant) {
        /// Drops expired messages below `node`; returns the bytes of those dropped, and
        /// their number.
        fn sweep(node: &mut Node, now: Instant) -> (usize, usize) {
            let mut freed = (0, 0);
            if node.message.as_ref().is_some_and(|m| m.is_expired(now))
                && let Some(old) = node.message.take()
            {
                freed = (weight(&old), 1);
            }
            node.children.retain(|_, child| {
                let (bytes, count) = sweep(child, now);
                freed.0 += bytes;
                freed.1 += count;
                !child.is_unused()
            });
            freed
        }
        for root in [&mut self.plain, &mut self.dollar] {
            let (bytes, count) = sweep(root, now);
            self.bytes -= bytes;
            self.count -= count;
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every retained message, depth first (for `Broker::footprint`).
    pub fn iter(&self) -> impl Iterator<Item = &Rc<Message>> {
        let mut stack: Vec<&Node> = vec![&self.dollar, &self.plain];
        std::iter::from_fn(move || {
            loop {
                let node = stack.pop()?;
                stack.extend(node.children.values().rev());
                if let Some(message) = &node.message {
                    return Some(message);
                }
            }
        })
    }

    /// Bytes of the stored messages, as `max_retained_bytes` counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Retained messages not stored because of a bound, since start.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests;
