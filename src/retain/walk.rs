//! Walking the retained store for one filter, a bounded batch at a time.
//!
//! The walk's order is depth first: a topic before the topics below it, siblings in byte
//! order. A walk stops when its budget runs out and says where to resume as a topic (a
//! [`Position`]), not as a pointer into the trie, so topics stored, replaced or deleted
//! between two batches are simply found or not found when the walk gets there.

use std::ops::Bound;
use std::rc::Rc;
use std::time::Instant;

use super::{Node, RetainStore};
use crate::message::Message;
use crate::protocol::ByteStr;
use crate::protocol::topic::MAX_LEVELS;

/// Where a walk for one filter stands: every match before `topic` in the walk's order has
/// been handed out, and `topic`'s own message too unless `inclusive`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    topic: ByteStr,
    inclusive: bool,
}

impl Position {
    /// Resume after `topic`, whose message was handed out.
    pub fn after(topic: &ByteStr) -> Position {
        Position {
            topic: topic.clone(),
            inclusive: false,
        }
    }

    /// Resume at `topic`, whose message was found but not handed out.
    pub fn at(topic: &ByteStr) -> Position {
        Position {
            topic: topic.clone(),
            inclusive: true,
        }
    }
}

/// What one turn may spend: trie nodes visited and messages found.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub visits: usize,
    pub found: usize,
}

impl Budget {
    /// A walk resumed at a position first goes down to it again; with fewer visits than
    /// the deepest topic has levels it could never get past it.
    pub const VISITS_MIN: usize = MAX_LEVELS + 1;
}

impl RetainStore {
    /// Appends to `out`, in walk order, the unexpired retained messages `filter` matches
    /// after `from`, until the walk is over (`None`) or `budget` runs out (where to resume).
    pub fn walk(
        &self,
        filter: &str,
        from: Option<&Position>,
        now: Instant,
        budget: &mut Budget,
        out: &mut Vec<Rc<Message>>,
    ) -> Option<Position> {
        debug_assert!(budget.visits >= Budget::VISITS_MIN || from.is_none());
        let levels: Vec<&str> = filter.split('/').collect();
        let mut walk = Walk {
            hash: levels.last() == Some(&"#"),
            filter: levels,
            bound: from.map_or_else(Vec::new, |p| p.topic.split('/').collect()),
            from,
            now,
            budget,
            path: Vec::new(),
            out,
        };
        // A filter starting with `$` is exact at its first level, which is all that picks
        // the root: wildcards never start a walk of `$` topics.
        walk.visit(self.root(filter), from.is_some()).err()
    }
}

struct Walk<'a, 'o> {
    filter: Vec<&'a str>,
    /// The filter ends in `#`: its parent level and everything below match.
    hash: bool,
    /// The levels of `from`'s topic.
    bound: Vec<&'a str>,
    from: Option<&'a Position>,
    now: Instant,
    budget: &'o mut Budget,
    /// The levels down to the node being visited.
    path: Vec<&'a str>,
    out: &'o mut Vec<Rc<Message>>,
}

impl<'a> Walk<'a, '_> {
    /// Visits `node` at `path`; `bounded` while `path` leads to the bound, whose topics
    /// before it are done.
    fn visit(&mut self, node: &'a Node, bounded: bool) -> Result<(), Position> {
        let depth = self.path.len();
        if self.budget.visits == 0 {
            return Err(self.here(bounded));
        }
        self.budget.visits -= 1;
        let done =
            bounded && (depth < self.bound.len() || !self.from.is_some_and(|from| from.inclusive));
        if let Some(message) = &node.message
            && !done
            && self.matches_at(depth)
            && !message.is_expired(self.now)
        {
            if self.budget.found == 0 {
                return Err(self.here(bounded));
            }
            self.budget.found -= 1;
            self.out.push(Rc::clone(message));
        }
        self.children(node, bounded)
    }

    /// Whether a topic `depth` levels deep on the walk's path matches the filter.
    fn matches_at(&self, depth: usize) -> bool {
        match self.hash {
            true => depth + 1 >= self.filter.len(),
            false => depth == self.filter.len(),
        }
    }

    fn children(&mut self, node: &'a Node, bounded: bool) -> Result<(), Position> {
        let depth = self.path.len();
        let level = match self.filter.get(depth) {
            Some(&level) => level,
            None if self.hash => "#",
            None => return Ok(()),
        };
        // Children sorted before the bound's next level are done; the one equal to it
        // stays bounded; the rest are all to do.
        let from = match bounded && depth < self.bound.len() {
            true => Some(self.bound[depth]),
            false => None,
        };
        if level == "+" || level == "#" {
            let range = match from {
                Some(from) => node
                    .children
                    .range::<str, _>((Bound::Included(from), Bound::Unbounded)),
                None => node.children.range::<str, _>(..),
            };
            for (name, child) in range {
                self.descend(name, child, from == Some(&**name))?;
            }
            return Ok(());
        }
        if let Some((name, child)) = node.children.get_key_value(level)
            && from.is_none_or(|from| from <= level)
        {
            self.descend(name, child, from == Some(level))?;
        }
        Ok(())
    }

    fn descend(&mut self, name: &'a str, child: &'a Node, bounded: bool) -> Result<(), Position> {
        self.path.push(name);
        let result = self.visit(child, bounded);
        self.path.pop();
        result
    }

    /// Where to resume when the budget ran out at the node at `path`: there, inclusive. On
    /// the way down to the bound nothing new has been done, so the bound stays.
    fn here(&self, bounded: bool) -> Position {
        match (bounded, self.from) {
            (true, Some(from)) => from.clone(),
            _ => Position {
                topic: ByteStr::from(self.path.join("/")),
                inclusive: true,
            },
        }
    }
}
