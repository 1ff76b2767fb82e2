//! One filter's subscribers.

use std::collections::HashMap;

use super::{Subscriber, Target};

/// Past this many subscribers a list keeps an index from target to position; below it a
/// search of a few entries is cheaper than a hash, and costs no memory.
const INDEXED_FROM: usize = 8;

/// A filter's subscribers, in a slice that `Router::matches` copies out in one go. Most
/// filters have one subscriber, held inline: no allocation of its own, so subscribing costs
/// one allocation fewer, and tearing down a client's filters one fewer free and one fewer
/// cache miss each. Once it holds more than a few, an index finds a target's entry, so that
/// a storm of subscribers on one filter costs each of them O(1), not a search of all the
/// others. A removal moves the last entry into the hole (the order within one filter is no
/// promise).
#[derive(Debug, Default)]
pub(super) struct SubscriberList {
    entries: Entries,
    /// Position of each target in `entries`, while there are at least `INDEXED_FROM`.
    /// Boxed: 8 bytes on every filter instead of a map's 48, for the few that need one.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<Target, u32>>>,
}

/// The entries of a `SubscriberList`: none, one inline, or more in a vector (never fewer
/// than two).
#[derive(Debug, Default)]
enum Entries {
    #[default]
    None,
    One(Subscriber),
    Many(Vec<Subscriber>),
}

impl SubscriberList {
    pub(super) fn as_slice(&self) -> &[Subscriber] {
        match &self.entries {
            Entries::None => &[],
            Entries::One(one) => std::slice::from_ref(one),
            Entries::Many(many) => many,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Subscriber] {
        match &mut self.entries {
            Entries::None => &mut [],
            Entries::One(one) => std::slice::from_mut(one),
            Entries::Many(many) => many,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(super) fn is_empty(&self) -> bool {
        matches!(self.entries, Entries::None)
    }

    /// Adds or replaces a target's entry; true if it was new.
    pub(super) fn upsert(&mut self, subscriber: Subscriber) -> bool {
        if let Some(i) = self.position(subscriber.target) {
            self.as_mut_slice()[i] = subscriber;
            return false;
        }
        let position = self.len() as u32;
        self.entries = match std::mem::take(&mut self.entries) {
            Entries::None => Entries::One(subscriber),
            Entries::One(first) => Entries::Many(vec![first, subscriber]),
            Entries::Many(mut many) => {
                many.push(subscriber);
                Entries::Many(many)
            }
        };
        let len = self.len();
        match &mut self.index {
            Some(index) => {
                index.insert(subscriber.target, position);
            }
            None if len >= INDEXED_FROM => self.build_index(),
            None => {}
        }
        true
    }

    /// Removes a target's entry; true if it was there.
    pub(super) fn remove(&mut self, target: Target) -> bool {
        let Some(i) = self.position(target) else {
            return false;
        };
        self.entries = match std::mem::take(&mut self.entries) {
            Entries::None | Entries::One(_) => Entries::None,
            Entries::Many(mut many) => {
                many.swap_remove(i);
                match many[..] {
                    [last] => Entries::One(last),
                    _ => Entries::Many(many),
                }
            }
        };
        let moved = self.as_slice().get(i).map(|s| s.target);
        if let Some(index) = &mut self.index {
            index.remove(&target);
            if let Some(moved) = moved {
                index.insert(moved, i as u32);
            }
        }
        self.shrink_if_sparse();
        true
    }

    fn position(&self, target: Target) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(&target).map(|&i| i as usize),
            None => self.as_slice().iter().position(|s| s.target == target),
        }
    }

    fn build_index(&mut self) {
        let index = self
            .as_slice()
            .iter()
            .enumerate()
            .map(|(i, s)| (s.target, i as u32))
            .collect();
        self.index = Some(Box::new(index));
    }

    /// After a storm has gone: the index goes below half its threshold (so a list on the
    /// edge does not build and drop it in turn), and room far beyond the entries is given
    /// back. Both cost time proportional to removals already made.
    fn shrink_if_sparse(&mut self) {
        let len = self.len();
        if self.index.is_some() && len < INDEXED_FROM / 2 {
            self.index = None;
        }
        if let Entries::Many(many) = &mut self.entries
            && many.capacity() > 64
            && len * 4 < many.capacity()
        {
            many.shrink_to(len * 2);
            if let Some(index) = &mut self.index {
                index.shrink_to(len * 2);
            }
        }
    }

    /// Room for entries, for tests.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        match &self.entries {
            Entries::Many(many) => many.capacity(),
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{GroupKey, SessionKey};
    use crate::protocol::{QoS, SubOptions};

    fn sub(session: usize, qos: QoS) -> Subscriber {
        Subscriber {
            target: Target::Session(SessionKey(session)),
            options: SubOptions::qos(qos),
            subscription_id: 0,
        }
    }

    fn sessions(list: &SubscriberList) -> Vec<usize> {
        let mut keys: Vec<_> = list
            .as_slice()
            .iter()
            .map(|s| match s.target {
                Target::Session(SessionKey(key)) | Target::Group(GroupKey(key)) => key,
            })
            .collect();
        keys.sort();
        keys
    }

    // The index must agree with the entries through growth, replacement, removal from
    // anywhere and shrinking back below the threshold.
    #[test]
    fn the_index_follows_the_entries_up_and_down() {
        let mut list = SubscriberList::default();
        for i in 0..100 {
            assert!(list.upsert(sub(i, QoS::AtMostOnce)));
        }
        assert!(list.index.is_some());
        assert!(!list.upsert(sub(50, QoS::ExactlyOnce)));
        assert_eq!(list.as_slice().len(), 100);
        let replaced = list
            .as_slice()
            .iter()
            .find(|s| s.target == Target::Session(SessionKey(50)));
        assert_eq!(replaced.map(|s| s.options.qos), Some(QoS::ExactlyOnce));
        // Remove from the front, the back and the middle.
        for i in (0..100).filter(|i| i % 3 != 1) {
            assert!(list.remove(Target::Session(SessionKey(i))), "{i}");
            assert!(!list.remove(Target::Session(SessionKey(i))), "{i} twice");
        }
        assert_eq!(
            sessions(&list),
            (0..100).filter(|i| i % 3 == 1).collect::<Vec<_>>()
        );
        for i in (0..100).filter(|i| i % 3 == 1 && *i > 7) {
            assert!(list.remove(Target::Session(SessionKey(i))), "{i}");
        }
        assert_eq!(sessions(&list), vec![1, 4, 7]);
        assert!(list.index.is_none(), "dropped below half the threshold");
        assert!(list.capacity() <= 64, "room given back");
        assert!(list.remove(Target::Session(SessionKey(4))));
        assert!(
            !list.remove(Target::Group(GroupKey(1))),
            "a group is another target"
        );
        assert_eq!(sessions(&list), vec![1, 7]);
        assert!(list.remove(Target::Session(SessionKey(1))));
        assert!(matches!(list.entries, Entries::One(_)), "one left, inline");
        assert!(!list.upsert(sub(7, QoS::AtLeastOnce)));
        assert_eq!(list.as_slice()[0].options.qos, QoS::AtLeastOnce);
        assert!(list.remove(Target::Session(SessionKey(7))));
        assert!(list.is_empty());
        assert!(!list.remove(Target::Session(SessionKey(7))));
    }
}
