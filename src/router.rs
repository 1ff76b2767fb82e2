//! The subscription index: which sessions want a topic.
//!
//! Exact filters (no wildcard) live in a flat hash table: one lookup per publish, however
//! many filters exist. Wildcard filters live in a trie of topic levels, walked once per
//! publish along the topic's own levels plus the `+` and `#` branches, so the cost grows with
//! the topic's depth and the number of matches, not with the number of filters.

use std::collections::HashMap;

use slab::Slab;

use crate::protocol::topic;
use crate::protocol::{ByteStr, SubOptions};
use crate::session::SessionKey;
use crate::shared::GroupKey;

mod list;
use list::SubscriberList;

/// Who a subscription delivers to: one session, or a shared subscription group that picks
/// one of its members per message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Session(SessionKey),
    Group(GroupKey),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub target: Target,
    pub options: SubOptions,
    /// MQTT 5 subscription identifier; 0 for none.
    pub subscription_id: u32,
}

#[derive(Default)]
struct Node {
    parent: usize,
    /// This node's level, as its parent's `children` knows it ("" for `+` and the root).
    level: Box<str>,
    children: HashMap<Box<str>, usize>,
    plus: Option<usize>,
    /// Subscribers whose filter ends at this node.
    exact: SubscriberList,
    /// Subscribers whose filter is this node's path followed by `/#`.
    hash: SubscriberList,
}

impl Node {
    fn is_unused(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.exact.is_empty()
            && self.hash.is_empty()
    }
}

const ROOT: usize = 0;

pub struct Router {
    exact: HashMap<ByteStr, SubscriberList>,
    nodes: Slab<Node>,
    /// Subscribers over all filters, exact and wildcard.
    subscribers: usize,
}

impl Default for Router {
    fn default() -> Router {
        Router::new()
    }
}

/// The level of `topic` that starts at byte `offset`, and the offset of the next one.
/// `None` once every level has been consumed.
fn level_at(topic: &str, offset: usize) -> Option<(&str, usize)> {
    if offset > topic.len() {
        return None;
    }
    let rest = &topic[offset..];
    let end = rest.find('/').unwrap_or(rest.len());
    Some((&rest[..end], offset + end + 1))
}

impl Router {
    pub fn new() -> Router {
        let mut nodes = Slab::new();
        nodes.insert(Node::default());
        Router {
            exact: HashMap::new(),
            nodes,
            subscribers: 0,
        }
    }

    /// Adds a subscription, or updates its options. Returns true if it is new.
    pub fn subscribe(&mut self, filter: &ByteStr, subscriber: Subscriber) -> bool {
        let new = self.list_or_insert(filter).upsert(subscriber);
        self.subscribers += usize::from(new);
        new
    }

    /// The subscribers of `filter`, an empty list if it has none yet.
    fn list_or_insert(&mut self, filter: &ByteStr) -> &mut SubscriberList {
        if !topic::has_wildcard(filter) {
            return self.exact.entry(filter.clone()).or_default();
        }
        let mut node = ROOT;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" {
                debug_assert!(levels.peek().is_none(), "filters are validated");
                return &mut self.nodes[node].hash;
            }
            node = self.child_or_insert(node, level);
        }
        &mut self.nodes[node].exact
    }

    fn child_or_insert(&mut self, node: usize, level: &str) -> usize {
        let existing = if level == "+" {
            self.nodes[node].plus
        } else {
            self.nodes[node].children.get(level).copied()
        };
        if let Some(child) = existing {
            return child;
        }
        let key: Box<str> = if level == "+" {
            "".into()
        } else {
            level.into()
        };
        let child = self.nodes.insert(Node {
            parent: node,
            level: key.clone(),
            ..Node::default()
        });
        if level == "+" {
            self.nodes[node].plus = Some(child);
        } else {
            self.nodes[node].children.insert(key, child);
        }
        child
    }

    /// Removes a subscription. Returns true if it existed.
    pub fn unsubscribe(&mut self, filter: &str, target: Target) -> bool {
        let removed = self.remove(filter, target);
        self.subscribers -= usize::from(removed);
        removed
    }

    fn remove(&mut self, filter: &str, target: Target) -> bool {
        if !topic::has_wildcard(filter) {
            let Some(list) = self.exact.get_mut(filter) else {
                return false;
            };
            let removed = list.remove(target);
            if list.is_empty() {
                self.exact.remove(filter);
            }
            return removed;
        }
        let mut node = ROOT;
        let mut levels = filter.split('/');
        let removed = loop {
            match levels.next() {
                Some("#") => break self.nodes[node].hash.remove(target),
                Some(level) => {
                    let child = if level == "+" {
                        self.nodes[node].plus
                    } else {
                        self.nodes[node].children.get(level).copied()
                    };
                    match child {
                        Some(child) => node = child,
                        None => return false,
                    }
                }
                None => break self.nodes[node].exact.remove(target),
            }
        };
        self.prune(node);
        removed
    }

    /// Frees nodes that no filter needs any more, from `node` up towards the root.
    fn prune(&mut self, mut node: usize) {
        while node != ROOT && self.nodes[node].is_unused() {
            let removed = self.nodes.remove(node);
            let parent = &mut self.nodes[removed.parent];
            if parent.plus == Some(node) {
                parent.plus = None;
            } else {
                parent.children.remove(&removed.level);
            }
            node = removed.parent;
        }
    }

    /// Appends every subscriber whose filter matches `topic` (a valid topic name). A target
    /// with several matching filters appears once per filter; the caller merges them.
    ///
    /// The order is mosquitto's, because MQTT 5 clients get one copy per matching
    /// subscription and see it: depth first along the topic's levels, at each level the
    /// literal branch, then `+`, then `#`; where the topic ends, `#` (the parent match)
    /// before the filters that end there.
    pub fn matches(&self, topic: &str, out: &mut Vec<Subscriber>) {
        let exact = self
            .exact
            .get(topic)
            .map_or(&[][..], SubscriberList::as_slice);
        let mut exact = Some(exact);
        self.collect(ROOT, topic, 0, &mut exact, out);
        debug_assert!(
            exact.is_none(),
            "the literal path always places the exact filters"
        );
    }

    /// Walks the trie below `id` for the levels of `topic` from `offset`. `exact` holds the
    /// exact filters' subscribers until the all-literal path reaches them.
    fn collect<'a>(
        &'a self,
        id: usize,
        topic: &str,
        offset: usize,
        exact: &mut Option<&'a [Subscriber]>,
        out: &mut Vec<Subscriber>,
    ) {
        let node = &self.nodes[id];
        // Topics starting with '$' are not matched by a wildcard in the first level.
        let wildcards = !(id == ROOT && topic.starts_with('$'));
        let Some((level, next)) = level_at(topic, offset) else {
            out.extend_from_slice(node.hash.as_slice());
            out.extend(exact.take().into_iter().flatten());
            out.extend_from_slice(node.exact.as_slice());
            return;
        };
        match node.children.get(level) {
            Some(&child) => self.collect(child, topic, next, exact, out),
            // Off the literal path: the exact filters, if not yet placed, belong here.
            None => out.extend(exact.take().into_iter().flatten()),
        }
        // Only the literal path may carry the exact filters; `+` and `#` never do.
        let mut none = None;
        if wildcards {
            if let Some(plus) = node.plus {
                self.collect(plus, topic, next, &mut none, out);
            }
            out.extend_from_slice(node.hash.as_slice());
        }
    }

    /// Shrinks the tables if they hold far less than they have room for (after a storm of
    /// subscribers has gone). Returns true if anything was shrunk.
    pub fn shrink_if_sparse(&mut self) -> bool {
        let sparse = |len: usize, capacity: usize| capacity > 1024 && len * 4 < capacity;
        let mut shrunk = false;
        if sparse(self.exact.len(), self.exact.capacity()) {
            self.exact.shrink_to_fit();
            shrunk = true;
        }
        if sparse(self.nodes.len(), self.nodes.capacity()) {
            self.nodes.shrink_to_fit();
            shrunk = true;
        }
        shrunk
    }

    /// Subscribers over all filters (a shared group counts once); for tests and statistics.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers
    }

    /// Number of trie nodes besides the root; for tests and statistics.
    pub fn wildcard_nodes(&self) -> usize {
        self.nodes.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::QoS;

    fn sub(session: usize) -> Subscriber {
        Subscriber {
            target: Target::Session(SessionKey(session)),
            options: SubOptions::qos(QoS::AtMostOnce),
            subscription_id: 0,
        }
    }

    fn session(s: &Subscriber) -> usize {
        match s.target {
            Target::Session(key) => key.0,
            Target::Group(key) => 1_000_000 + key.0,
        }
    }

    fn matching(router: &Router, topic: &str) -> Vec<usize> {
        let mut out = Vec::new();
        router.matches(topic, &mut out);
        let mut sessions: Vec<_> = out.iter().map(session).collect();
        sessions.sort();
        sessions
    }

    #[test]
    fn exact_and_wildcard_filters_both_match() {
        let mut r = Router::new();
        r.subscribe(&"a/b".into(), sub(1));
        r.subscribe(&"a/+".into(), sub(2));
        r.subscribe(&"a/#".into(), sub(3));
        r.subscribe(&"#".into(), sub(4));
        r.subscribe(&"+/+/c".into(), sub(5));
        assert_eq!(matching(&r, "a/b"), vec![1, 2, 3, 4]);
        assert_eq!(matching(&r, "a"), vec![3, 4]);
        assert_eq!(matching(&r, "a/b/c"), vec![3, 4, 5]);
        assert_eq!(matching(&r, "x/y"), vec![4]);
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        let mut r = Router::new();
        r.subscribe(&"#".into(), sub(1));
        r.subscribe(&"+/info".into(), sub(2));
        r.subscribe(&"$SYS/#".into(), sub(3));
        r.subscribe(&"$SYS/+".into(), sub(4));
        assert_eq!(matching(&r, "$SYS/info"), vec![3, 4]);
        assert_eq!(matching(&r, "sys/info"), vec![1, 2]);
    }

    #[test]
    fn resubscribing_replaces_options_instead_of_adding() {
        let mut r = Router::new();
        assert!(r.subscribe(&"a/+".into(), sub(1)));
        let again = Subscriber {
            options: SubOptions::qos(QoS::ExactlyOnce),
            subscription_id: 7,
            ..sub(1)
        };
        assert!(!r.subscribe(&"a/+".into(), again));
        let mut out = Vec::new();
        r.matches("a/x", &mut out);
        assert_eq!(out, vec![again]);
    }

    #[test]
    fn unsubscribing_removes_only_that_session_and_prunes_the_trie() {
        let mut r = Router::new();
        r.subscribe(&"a/+/c/#".into(), sub(1));
        r.subscribe(&"a/+/c/#".into(), sub(2));
        r.subscribe(&"x".into(), sub(1));
        let s = |key| Target::Session(SessionKey(key));
        assert!(r.unsubscribe("a/+/c/#", s(1)));
        assert!(!r.unsubscribe("a/+/c/#", s(1)));
        assert_eq!(matching(&r, "a/b/c/d"), vec![2]);
        assert!(r.unsubscribe("a/+/c/#", s(2)));
        assert_eq!(r.wildcard_nodes(), 0);
        assert_eq!(r.subscriber_count(), 1);
        assert!(r.unsubscribe("x", s(1)));
        assert!(r.exact.is_empty());
        assert_eq!(r.subscriber_count(), 0);
        assert!(!r.unsubscribe("never/+", s(1)));
    }

    #[test]
    fn a_group_and_a_session_with_the_same_key_are_different_targets() {
        let mut r = Router::new();
        r.subscribe(&"g".into(), sub(3));
        let group = Subscriber {
            target: Target::Group(GroupKey(3)),
            ..sub(0)
        };
        r.subscribe(&"g".into(), group);
        assert_eq!(matching(&r, "g"), vec![3, 1_000_003]);
        assert!(r.unsubscribe("g", Target::Group(GroupKey(3))));
        assert_eq!(matching(&r, "g"), vec![3]);
    }

    #[test]
    fn matches_come_in_mosquittos_order() {
        let mut r = Router::new();
        for (i, f) in ["#", "+/b", "a/#", "a/+", "a/b", "a/b/#", "+/+", "a/+/#"]
            .iter()
            .enumerate()
        {
            r.subscribe(&(*f).into(), sub(i));
        }
        let mut out = Vec::new();
        r.matches("a/b", &mut out);
        let order: Vec<_> = out.iter().map(session).collect();
        // a/b/#, a/b, a/+/#, a/+, a/#, +/b, +/+, #
        assert_eq!(order, vec![5, 4, 7, 3, 2, 1, 6, 0]);
    }

    #[test]
    fn exact_filters_come_first_when_no_wildcard_shares_their_path() {
        let mut r = Router::new();
        r.subscribe(&"x/+".into(), sub(1));
        r.subscribe(&"x/y".into(), sub(2));
        let mut out = Vec::new();
        r.matches("x/y", &mut out);
        assert_eq!(out.iter().map(session).collect::<Vec<_>>(), vec![2, 1]);
    }

    #[test]
    fn empty_levels_are_levels() {
        let mut r = Router::new();
        r.subscribe(&"a/+".into(), sub(1));
        r.subscribe(&"+/+".into(), sub(2));
        r.subscribe(&"/#".into(), sub(3));
        assert_eq!(matching(&r, "a/"), vec![1, 2]);
        assert_eq!(matching(&r, "/x"), vec![2, 3]);
    }

    /// The router must agree with the reference matcher on every filter/topic pair.
    #[test]
    fn agrees_with_the_reference_matcher() {
        let levels = ["a", "b", "", "$x", "+", "#"];
        let mut filters = Vec::new();
        for x in levels {
            filters.push(x.to_string());
            for y in levels {
                filters.push(format!("{x}/{y}"));
                for z in levels {
                    filters.push(format!("{x}/{y}/{z}"));
                }
            }
        }
        filters.retain(|f| topic::validate_filter(f).is_ok());
        let mut r = Router::new();
        for (i, f) in filters.iter().enumerate() {
            r.subscribe(&f.as_str().into(), sub(i));
        }
        let names = ["a", "b", "", "$x"];
        let mut topics = Vec::new();
        for x in names {
            topics.push(x.to_string());
            for y in names {
                topics.push(format!("{x}/{y}"));
                for z in names {
                    topics.push(format!("{x}/{y}/{z}"));
                }
            }
        }
        for t in topics.iter().filter(|t| !t.is_empty()) {
            let expected: Vec<usize> = (0..filters.len())
                .filter(|&i| topic::matches(&filters[i], t))
                .collect();
            assert_eq!(matching(&r, t), expected, "topic {t:?}");
        }
    }
}
