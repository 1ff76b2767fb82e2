//! Topic names and topic filters: what makes them valid, and how a filter matches a name.

use super::{DecodeError, Packet};

/// mosquitto refuses topics and filters with more than 200 separators (its
/// TOPIC_HIERARCHY_LIMIT), so at most 201 levels; the bound keeps the cost of matching one
/// publish bounded.
pub const MAX_LEVELS: usize = 201;

/// The configured bounds on the topics and filters a client sends (`max_topic_length`,
/// `max_topic_levels`), within the hard ones the decoder checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicLimits {
    pub bytes_max: usize,
    pub levels_max: usize,
}

impl TopicLimits {
    /// Checks every topic and filter in `packet` (a PUBLISH, a will, SUBSCRIBE and
    /// UNSUBSCRIBE filters) and answers one over a bound as the decoder answers one over
    /// mosquitto's level limit: a topic name is a protocol error, a filter malformed.
    #[inline]
    pub fn check(&self, packet: &Packet) -> Result<(), DecodeError> {
        let name = |topic: &str| match self.exceeded_by(topic) {
            true => Err(DecodeError::Protocol(
                "topic over max_topic_length or _levels",
            )),
            false => Ok(()),
        };
        let filter = |topic: &str| match self.exceeded_by(topic) {
            true => Err(DecodeError::Malformed(
                "filter over max_topic_length or _levels",
            )),
            false => Ok(()),
        };
        match packet {
            Packet::Publish(publish) => name(&publish.topic),
            Packet::Connect(connect) => connect.will.as_ref().map_or(Ok(()), |w| name(&w.topic)),
            Packet::Subscribe(s) => s.filters.iter().try_for_each(|(f, _)| filter(f)),
            Packet::Unsubscribe(u) => u.filters.iter().try_for_each(|f| filter(f)),
            _ => Ok(()),
        }
    }

    /// Levels are counted only when the bound is below the decoder's own.
    fn exceeded_by(&self, topic: &str) -> bool {
        topic.len() > self.bytes_max
            || (self.levels_max < MAX_LEVELS && level_count(topic) > self.levels_max)
    }
}

/// Checks a topic name, as published: non-empty, no wildcards [MQTT-4.7.3-1, MQTT-3.3.2-2].
/// (An empty name is legal in MQTT 5 when a topic alias stands in; the caller handles that.)
/// mosquitto calls all of these protocol errors, and so do we.
pub fn validate_name(name: &str) -> Result<(), DecodeError> {
    if name.is_empty() {
        return Err(DecodeError::Protocol("empty topic name"));
    }
    if name.contains(['+', '#']) {
        return Err(DecodeError::Protocol("wildcard in a topic name"));
    }
    if level_count(name) > MAX_LEVELS {
        return Err(DecodeError::Protocol("topic deeper than 201 levels"));
    }
    Ok(())
}

/// Checks a topic filter: non-empty, `+` and `#` each a whole level, `#` only last.
pub fn validate_filter(filter: &str) -> Result<(), DecodeError> {
    if filter.is_empty() {
        return Err(DecodeError::Malformed("empty topic filter"));
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        match level {
            "+" => {}
            "#" if is_last => {}
            "#" => return Err(DecodeError::Malformed("'#' is not the last level")),
            _ if level.contains(['+', '#']) => {
                return Err(DecodeError::Malformed("wildcard inside a topic level"));
            }
            _ => {}
        }
    }
    if level_count(filter) > MAX_LEVELS {
        return Err(DecodeError::Malformed(
            "topic filter deeper than 201 levels",
        ));
    }
    Ok(())
}

/// Number of levels in a topic name or filter (`a/b` has two, `/` has two empty ones).
pub fn level_count(topic: &str) -> usize {
    topic.bytes().filter(|&b| b == b'/').count() + 1
}

/// What starts a shared subscription's filter, `$share/GROUP/FILTER` (see `shared.rs`).
pub const SHARE_PREFIX: &str = "$share/";

/// Whether a subscription's filter is a shared one (`$share/...`), unchecked.
pub fn is_shared(filter: &str) -> bool {
    filter.starts_with(SHARE_PREFIX)
}

/// True if `filter` has a wildcard, so that it cannot be looked up as an exact topic.
pub fn has_wildcard(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

/// Does `filter` (valid) match `topic` (a valid name)? Topics that start with `$` are not
/// matched by a filter that starts with a wildcard [MQTT-4.7.2-1].
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            // `#` also matches the parent level: `a/#` matches `a`.
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_wildcards_or_empty_are_invalid() {
        assert!(validate_name("a/b").is_ok());
        assert!(validate_name("/").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a/+").is_err());
        assert!(validate_name("a/#").is_err());
        assert!(validate_name("a+b").is_err());
    }

    #[test]
    fn filters_must_use_wildcards_as_whole_levels() {
        for ok in [
            "#", "+", "a/#", "a/+/b", "+/+", "/", "a//b", "$SYS/#", "+/#",
        ] {
            assert!(validate_filter(ok).is_ok(), "{ok} should be valid");
        }
        for bad in ["", "a/#/b", "a+", "#a", "a/b#", "a/+b", "##", "a/#/"] {
            assert!(validate_filter(bad).is_err(), "{bad} should be invalid");
        }
    }

    #[test]
    fn plus_matches_exactly_one_level_even_an_empty_one() {
        assert!(matches("a/+/c", "a/b/c"));
        assert!(matches("a/+", "a/"));
        assert!(!matches("a/+", "a"));
        assert!(!matches("a/+", "a/b/c"));
        assert!(matches("+/+", "/x"));
    }

    #[test]
    fn hash_matches_the_parent_and_everything_below() {
        assert!(matches("a/#", "a"));
        assert!(matches("a/#", "a/b/c"));
        assert!(matches("#", "a/b"));
        assert!(!matches("a/#", "b"));
    }

    #[test]
    fn exact_filters_match_only_themselves() {
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(!matches("a/b", "a/bc"));
    }

    #[test]
    fn dollar_topics_escape_leading_wildcards_only() {
        assert!(!matches("#", "$SYS/broker"));
        assert!(!matches("+/broker", "$SYS/broker"));
        assert!(matches("$SYS/#", "$SYS/broker"));
        assert!(matches("$SYS/+", "$SYS/broker"));
    }

    #[test]
    fn depth_is_limited_as_in_mosquitto() {
        let deep = |levels: usize| vec!["a"; levels].join("/");
        assert!(validate_name(&deep(201)).is_ok());
        assert!(validate_name(&deep(202)).is_err());
        assert!(validate_filter(&deep(201)).is_ok());
        assert!(validate_filter(&deep(202)).is_err());
    }

    #[test]
    fn levels_are_counted_by_separators() {
        assert_eq!(level_count("a"), 1);
        assert_eq!(level_count("a/b"), 2);
        assert_eq!(level_count("/"), 2);
    }
}
