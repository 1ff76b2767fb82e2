//! Shared subscriptions, `$share/GROUP/FILTER`: a group of sessions that share one filter,
//! each message going to one member of the group.
//!
//! The router holds one entry per group (not per member), so a message is matched once
//! whatever the group's size; the group then picks a member, round robin, preferring members
//! that are online.

use std::collections::HashMap;

use slab::Slab;

pub use crate::ids::GroupKey;
use crate::ids::SessionKey;
use crate::protocol::{ByteStr, DecodeError, SubOptions, topic};

pub const PREFIX: &str = topic::SHARE_PREFIX;

impl std::ops::Index<GroupKey> for Slab<Group> {
    type Output = Group;

    fn index(&self, key: GroupKey) -> &Group {
        &self[key.0]
    }
}

impl std::ops::IndexMut<GroupKey> for Slab<Group> {
    fn index_mut(&mut self, key: GroupKey) -> &mut Group {
        &mut self[key.0]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub session: SessionKey,
    pub options: SubOptions,
    pub subscription_id: u32,
}

/// A group's members, online ones first: `members[..online]` are online and
/// `members[online..]` are not, and `index` says where each session is. Joining, leaving and
/// going on- or offline each move at most two entries, and a pick looks at one or two, so a
/// group of 10,000 costs each of them O(1). Round robin goes through each part in turn with
/// its own cursor; moves reorder the parts, so "in turn" means every member once per round
/// while nobody comes or goes.
#[derive(Debug)]
pub struct Group {
    pub name: ByteStr,
    pub filter: ByteStr,
    members: Vec<Member>,
    online: usize,
    index: HashMap<SessionKey, usize>,
    /// Where the next round-robin pick starts among the online and the offline members.
    next_online: usize,
    next_offline: usize,
}

impl Group {
    fn new(name: ByteStr, filter: ByteStr) -> Group {
        Group {
            name,
            filter,
            members: Vec::new(),
            online: 0,
            index: HashMap::new(),
            next_online: 0,
            next_offline: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds a member or updates its options and presence.
    fn upsert(&mut self, member: Member, online: bool) {
        match self.index.get(&member.session) {
            Some(&i) => self.members[i] = member,
            None => {
                self.index.insert(member.session, self.members.len());
                self.members.push(member);
            }
        }
        self.set_online(member.session, online);
    }

    fn remove(&mut self, session: SessionKey) -> bool {
        if !self.set_online(session, false) {
            return false;
        }
        // Offline now, so it sits in the second part, which the last entry also ends.
        let Some(i) = self.index.remove(&session) else {
            return false;
        };
        self.members.swap_remove(i);
        if let Some(moved) = self.members.get(i) {
            self.index.insert(moved.session, i);
        }
        true
    }

    /// Moves a member to the online or the offline part; false if it is no member.
    fn set_online(&mut self, session: SessionKey, online: bool) -> bool {
        let Some(&i) = self.index.get(&session) else {
            return false;
        };
        let is_online = i < self.online;
        if online != is_online {
            // The boundary moves over the entry next to it, which trades places with `i`.
            let boundary = if online { self.online } else { self.online - 1 };
            self.swap(i, boundary);
            if online {
                self.online += 1;
            } else {
                self.online -= 1;
            }
        }
        true
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.members.swap(a, b);
        self.index.insert(self.members[a].session, a);
        self.index.insert(self.members[b].session, b);
    }

    /// The next member round robin among the online ones, or if there are none (other than
    /// `except`), among the offline ones.
    fn pick(&mut self, except: Option<SessionKey>) -> Option<Member> {
        let online = self.online;
        let offline = self.members.len() - online;
        if let Some(i) = pick_in(&self.members[..online], &mut self.next_online, except) {
            return Some(self.members[i]);
        }
        let members = &self.members[online..];
        debug_assert_eq!(members.len(), offline);
        pick_in(members, &mut self.next_offline, except).map(|i| members[i])
    }
}

/// Round robin over `members` from `next`, skipping `except`: the position picked.
fn pick_in(members: &[Member], next: &mut usize, except: Option<SessionKey>) -> Option<usize> {
    let count = members.len();
    // `except` is at most one member: two candidates are enough.
    let chosen = (0..count.min(2))
        .map(|step| (*next + step) % count)
        .find(|&i| Some(members[i].session) != except)?;
    *next = (chosen + 1) % count;
    Some(chosen)
}

#[derive(Default)]
pub struct SharedGroups {
    groups: Slab<Group>,
    by_name: HashMap<(ByteStr, ByteStr), GroupKey>,
}

/// Share name and topic filter of a shared subscription's filter, unchecked (see `parse`).
pub fn split(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix(PREFIX)?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// Splits a subscription filter into share name and topic filter if it is a shared one.
///
/// The spec wants a non-empty share name followed by `/` and a topic filter (MQTT-4.8.2-1,
/// MQTT-4.8.2-2); mosquitto is more lenient and so are we, since clients built against it
/// rely on that: `$share//t` is a group with an empty name, and `$share/g` is a subscription
/// that matches nothing (`Some((g, ""))`). A wildcard in the share name is malformed.
pub fn parse(filter: &str) -> Result<Option<(&str, &str)>, DecodeError> {
    let Some((name, topic_filter)) = split(filter) else {
        return Ok(None);
    };
    if name.contains(['+', '#']) {
        return Err(DecodeError::Malformed("invalid share name"));
    }
    if !topic_filter.is_empty() {
        topic::validate_filter(topic_filter)?;
    }
    Ok(Some((name, topic_filter)))
}

impl SharedGroups {
    /// Adds `member` to the group (or updates its options), online or not. Returns the group
    /// and whether it is new, in which case the caller adds the group to the router.
    pub fn join(
        &mut self,
        name: &str,
        filter: &str,
        member: Member,
        online: bool,
    ) -> (GroupKey, bool) {
        let key = (ByteStr::from(name), ByteStr::from(filter));
        if let Some(&group_key) = self.by_name.get(&key) {
            self.groups[group_key].upsert(member, online);
            return (group_key, false);
        }
        let mut group = Group::new(key.0.clone(), key.1.clone());
        group.upsert(member, online);
        let group_key = GroupKey(self.groups.insert(group));
        self.by_name.insert(key, group_key);
        (group_key, true)
    }

    /// Removes `session` from the group. Returns the group's key if the group is now empty
    /// and gone, in which case the caller removes it from the router.
    pub fn leave(&mut self, name: &str, filter: &str, session: SessionKey) -> Option<GroupKey> {
        let key = (ByteStr::from(name), ByteStr::from(filter));
        let &group_key = self.by_name.get(&key)?;
        let group = &mut self.groups[group_key];
        group.remove(session);
        if !group.is_empty() {
            return None;
        }
        self.groups.remove(group_key.0);
        self.by_name.remove(&key);
        Some(group_key)
    }

    /// Tells the group that a member's client has come or gone, so that picks prefer the
    /// members that are online without looking at the others.
    pub fn set_online(&mut self, name: &str, filter: &str, session: SessionKey, online: bool) {
        let key = (ByteStr::from(name), ByteStr::from(filter));
        if let Some(&group_key) = self.by_name.get(&key) {
            self.groups[group_key].set_online(session, online);
        }
    }

    pub fn get(&self, key: GroupKey) -> Option<&Group> {
        self.groups.get(key.0)
    }

    /// The member the next message goes to: the next one round robin that is online, or if
    /// none is, the next one at all (its session queues the message). `except` is skipped,
    /// for handing a departing member's messages to someone else.
    pub fn pick(&mut self, key: GroupKey, except: Option<SessionKey>) -> Option<Member> {
        self.groups.get_mut(key.0)?.pick(except)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(session: usize) -> Member {
        Member {
            session: SessionKey(session),
            options: SubOptions::default(),
            subscription_id: 0,
        }
    }

    #[test]
    fn shared_filters_split_into_name_and_filter() {
        assert_eq!(parse("$share/g/a/+"), Ok(Some(("g", "a/+"))));
        assert_eq!(parse("a/b"), Ok(None));
        assert_eq!(parse("$shared/g/a"), Ok(None));
        // mosquitto's leniency: an empty name, or no filter at all.
        assert_eq!(parse("$share//a"), Ok(Some(("", "a"))));
        assert_eq!(parse("$share/g"), Ok(Some(("g", ""))));
        for bad in ["$share/+/a", "$share/g#/a", "$share/g/a/#/b"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn members_take_turns() {
        let mut groups = SharedGroups::default();
        let (key, new) = groups.join("g", "t", member(1), true);
        assert!(new);
        assert_eq!(groups.join("g", "t", member(2), true), (key, false));
        let picks: Vec<_> = (0..4)
            .map(|_| groups.pick(key, None).unwrap().session.0)
            .collect();
        assert_eq!(picks, vec![1, 2, 1, 2]);
    }

    #[test]
    fn online_members_are_preferred_and_the_excluded_one_skipped() {
        let mut groups = SharedGroups::default();
        let (key, _) = groups.join("g", "t", member(1), true);
        groups.join("g", "t", member(2), false);
        groups.join("g", "t", member(3), false);
        groups.set_online("g", "t", SessionKey(1), false);
        groups.set_online("g", "t", SessionKey(3), true);
        for _ in 0..3 {
            assert_eq!(groups.pick(key, None).unwrap().session.0, 3);
        }
        groups.set_online("g", "t", SessionKey(1), true);
        groups.set_online("g", "t", SessionKey(2), false);
        assert_eq!(groups.pick(key, Some(SessionKey(1))).unwrap().session.0, 3);
        assert_eq!(groups.pick(key, Some(SessionKey(1))).unwrap().session.0, 3);
        // Nobody online but the excluded one: an offline member still gets it.
        groups.set_online("g", "t", SessionKey(3), false);
        let picked = groups.pick(key, Some(SessionKey(1))).unwrap().session.0;
        assert!([2, 3].contains(&picked), "{picked}");
        groups.set_online("g", "t", SessionKey(1), false);
        assert_ne!(groups.pick(key, Some(SessionKey(1))).unwrap().session.0, 1);
    }

    // Every member is picked once per round, whatever its place, after members came, went
    // and changed presence in every order.
    #[test]
    fn round_robin_reaches_every_online_member_once_per_round() {
        let mut groups = SharedGroups::default();
        let (key, _) = groups.join("g", "t", member(0), true);
        for s in 1..50 {
            groups.join("g", "t", member(s), s % 3 != 0);
        }
        for s in (0..50).filter(|s| s % 7 == 0) {
            assert_eq!(groups.leave("g", "t", SessionKey(s)), None);
        }
        for s in (0..50).filter(|s| s % 5 == 0) {
            groups.set_online("g", "t", SessionKey(s), true);
        }
        let online: Vec<usize> = (0..50)
            .filter(|s| s % 7 != 0 && (s % 3 != 0 || s % 5 == 0))
            .collect();
        for _ in 0..3 {
            let mut round: Vec<_> = (0..online.len())
                .map(|_| groups.pick(key, None).unwrap().session.0)
                .collect();
            round.sort();
            assert_eq!(round, online);
        }
        // Then nobody online: the offline members take turns the same way.
        for &s in &online {
            groups.set_online("g", "t", SessionKey(s), false);
        }
        let members = groups.get(key).unwrap().len();
        let mut round: Vec<_> = (0..members)
            .map(|_| groups.pick(key, None).unwrap().session.0)
            .collect();
        round.sort();
        assert_eq!(round, (0..50).filter(|s| s % 7 != 0).collect::<Vec<_>>());
    }

    #[test]
    fn the_last_member_leaving_removes_the_group() {
        let mut groups = SharedGroups::default();
        let (key, _) = groups.join("g", "t", member(1), true);
        groups.join("g", "t", member(2), false);
        assert_eq!(groups.leave("g", "t", SessionKey(1)), None);
        assert_eq!(
            groups.leave("g", "t", SessionKey(1)),
            None,
            "not a member any more"
        );
        assert_eq!(groups.leave("g", "t", SessionKey(2)), Some(key));
        assert!(groups.get(key).is_none());
        assert!(groups.pick(key, None).is_none());
    }
}
