//! The keys by which the broker's tables name each other's entries. Typed, so that a
//! session's key is never taken for a group's or a slab index of something else; and in a
//! module of their own, which the tables' modules share without importing each other
//! (message -> shared -> session -> auth -> message was a cycle through them).

/// A session in the broker's session slab; the router, the shared groups and the timers
/// refer to sessions by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(pub usize);

/// A shared subscription group in `SharedGroups`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey(pub usize);
