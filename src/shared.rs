//! Shared subscriptions, `$share/GROUP/FILTER`: a group of sessions that share one filter,
//! each message going to one member of the group.
//!
//! The router holds one entry per group (not per member), so a message is matched once
//! whatever the group's size; the group then picks a member, round robin, preferring members
//! that are online.

use std::collections::HashMap;

use slab::Slab;

use crate::protocol::{ByteStr, DecodeError, SubOptions, topic};
use crate::session::SessionKey;

pub type GroupKey = usize;

pub const PREFIX: &str = "$share/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub session: SessionKey,
    pub options: SubOptions,
    pub subscription_id: u32,
}

#[derive(Debug)]
pub struct Group {
    pub name: ByteStr,
    pub filter: ByteStr,
    pub members: Vec<Member>,
    /// Where the next round-robin pick starts.
    next: usize,
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
    /// Adds `member` to the group (or updates its options). Returns the group and whether
    /// it is new, in which case the caller adds the group to the router.
    pub fn join(&mut self, name: &str, filter: &str, member: Member) -> (GroupKey, bool) {
        let key = (ByteStr::from(name), ByteStr::from(filter));
        if let Some(&group_key) = self.by_name.get(&key) {
            let group = &mut self.groups[group_key];
            match group
                .members
                .iter_mut()
                .find(|m| m.session == member.session)
            {
                Some(existing) => *existing = member,
                None => group.members.push(member),
            }
            return (group_key, false);
        }
        let group_key = self.groups.insert(Group {
            name: key.0.clone(),
            filter: key.1.clone(),
            members: vec![member],
            next: 0,
        });
        self.by_name.insert(key, group_key);
        (group_key, true)
    }

    /// Removes `session` from the group. Returns the group's key if the group is now empty
    /// and gone, in which case the caller removes it from the router.
    pub fn leave(&mut self, name: &str, filter: &str, session: SessionKey) -> Option<GroupKey> {
        let key = (ByteStr::from(name), ByteStr::from(filter));
        let &group_key = self.by_name.get(&key)?;
        let group = &mut self.groups[group_key];
        group.members.retain(|m| m.session != session);
        if !group.members.is_empty() {
            return None;
        }
        self.groups.remove(group_key);
        self.by_name.remove(&key);
        Some(group_key)
    }

    pub fn get(&self, key: GroupKey) -> Option<&Group> {
        self.groups.get(key)
    }

    /// The member the next message goes to: the next one round robin that is online, or if
    /// none is, the next one at all (its session queues the message). `except` is skipped,
    /// for handing a departing member's messages to someone else.
    pub fn pick(
        &mut self,
        key: GroupKey,
        online: impl Fn(SessionKey) -> bool,
        except: Option<SessionKey>,
    ) -> Option<Member> {
        let group = self.groups.get_mut(key)?;
        let count = group.members.len();
        let candidates = || {
            (0..count)
                .map(|i| (group.next + i) % count)
                .filter(|&i| Some(group.members[i].session) != except)
        };
        let chosen = candidates()
            .find(|&i| online(group.members[i].session))
            .or_else(|| candidates().next())?;
        let member = group.members[chosen];
        group.next = (chosen + 1) % count;
        Some(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(session: SessionKey) -> Member {
        Member {
            session,
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
        let (key, new) = groups.join("g", "t", member(1));
        assert!(new);
        assert_eq!(groups.join("g", "t", member(2)), (key, false));
        let picks: Vec<_> = (0..4)
            .map(|_| groups.pick(key, |_| true, None).unwrap().session)
            .collect();
        assert_eq!(picks, vec![1, 2, 1, 2]);
    }

    #[test]
    fn online_members_are_preferred_and_the_excluded_one_skipped() {
        let mut groups = SharedGroups::default();
        let (key, _) = groups.join("g", "t", member(1));
        groups.join("g", "t", member(2));
        groups.join("g", "t", member(3));
        for _ in 0..3 {
            assert_eq!(groups.pick(key, |s| s == 3, None).unwrap().session, 3);
        }
        assert_eq!(groups.pick(key, |s| s != 2, Some(1)).unwrap().session, 3);
        // Nobody online: someone still gets it.
        assert!(groups.pick(key, |_| false, Some(1)).is_some());
    }

    #[test]
    fn the_last_member_leaving_removes_the_group() {
        let mut groups = SharedGroups::default();
        let (key, _) = groups.join("g", "t", member(1));
        groups.join("g", "t", member(2));
        assert_eq!(groups.leave("g", "t", 1), None);
        assert_eq!(groups.leave("g", "t", 2), Some(key));
        assert!(groups.get(key).is_none());
        assert!(groups.pick(key, |_| true, None).is_none());
    }
}
