//! The durable state as the files describe it: what recovery hands the broker, and what a
//! snapshot writes out. Built by applying records in order; each op says what the state
//! is after it, so that applying the same journal twice changes nothing.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::record::{Op, Retained};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Retained messages by topic.
    pub retained: BTreeMap<Bytes, Retained>,
}

impl State {
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Header { .. } => {}
            Op::Retain(r) => {
                self.retained.insert(r.topic.clone(), r);
            }
            Op::Unretain { topic } => {
                self.retained.remove(&topic);
            }
        }
    }

    /// The ops that rebuild this state from nothing, for a snapshot.
    pub fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        self.retained.values().cloned().map(Op::Retain)
    }

    pub fn is_empty(&self) -> bool {
        self.retained.is_empty()
    }
}
