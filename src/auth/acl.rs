//! mosquitto's ACL file, and the decision it gives for one client, one topic, one access.
//!
//! ```text
//! # Rules before any `user` line are for clients without a username.
//! topic read public/#
//! user alice
//! topic readwrite alice/#
//! topic deny alice/secret
//! # Patterns apply to every client; %c is its client id, %u its username.
//! pattern write devices/%c/state
//! ```
//!
//! The decision is mosquitto 2.0.11's (`security_default.c`): the client's own rules (its
//! user's, or the anonymous ones) are tried first, then the patterns. Within each list a
//! matching `deny` wins over everything; otherwise the first matching rule that grants the
//! access decides. Nothing matching means no. A client id or username containing `+` or `#`
//! gets no pattern rules at all, so it cannot widen a pattern into a wildcard (mosquitto 2.0
//! lets `/` through, and so does midge: a `/` only reaches deeper into the client's own
//! place). Each message is checked against the subscriber's read access when it is delivered,
//! as in mosquitto. Beyond mosquitto 2.0, which grants every subscription, a filter that can
//! match no readable topic is refused in the SUBACK, so the client learns at once that it
//! will get nothing.

use std::collections::HashMap;
use std::rc::Rc;

use crate::protocol::topic;

/// The access a client asks for. As bits, so a rule can grant both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Receive messages published to the topic.
    Read = 1,
    /// Publish to the topic.
    Write = 2,
}

const DENY: u8 = 0;
const READWRITE: u8 = Access::Read as u8 | Access::Write as u8;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    filter: Box<str>,
    /// Bits of `Access`; `DENY` (0) forbids.
    access: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    rule: Rule,
    /// A pattern with `%u` does not apply to clients without a username.
    uses_username: bool,
}

/// A parsed ACL file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AclFile {
    /// Rules for clients without a username; `None` when there are none (which differs from
    /// an empty list only in mosquitto's bookkeeping, not in any decision).
    anonymous: Option<Rc<[Rule]>>,
    users: HashMap<String, Rc<[Rule]>>,
    patterns: Rc<[Pattern]>,
}

/// A harmless oddity worth a warning, with its line.
pub type Warning = (usize, String);

impl AclFile {
    /// Parses a file, with mosquitto's grammar; an error names the line. Warns, as mosquitto
    /// does, of patterns without `%c` or `%u`.
    pub fn parse(text: &str) -> Result<(AclFile, Vec<Warning>), (usize, String)> {
        let mut warnings = Vec::new();
        let mut user: Option<String> = None;
        let mut lists: HashMap<Option<String>, Vec<Rule>> = HashMap::new();
        let mut patterns = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = split_word(line);
            match keyword {
                "topic" | "pattern" => {
                    let (access, filter) = rule_words(rest).map_err(|e| (line_no, e))?;
                    topic::validate_filter(filter)
                        .map_err(|_| (line_no, format!("invalid ACL topic '{filter}'")))?;
                    let rule = Rule {
                        filter: filter.into(),
                        access,
                    };
                    if keyword == "pattern" {
                        if !filter.contains("%c") && !filter.contains("%u") {
                            warnings.push((
                                line_no,
                                format!("ACL pattern '{filter}' does not contain '%c' or '%u'."),
                            ));
                        }
                        patterns.push(Pattern {
                            uses_username: filter.contains("%u"),
                            rule,
                        });
                    } else {
                        lists.entry(user.clone()).or_default().push(rule);
                    }
                }
                "user" => {
                    if rest.is_empty() {
                        return Err((line_no, "missing username".to_string()));
                    }
                    // The rest of the line, spaces and all, as mosquitto takes it.
                    user = Some(rest.to_string());
                }
                _ => return Err((line_no, format!("invalid line: '{line}'"))),
            }
        }
        let mut acl = AclFile::default();
        for (user, rules) in lists {
            let rules: Rc<[Rule]> = deny_first(rules).into();
            match user {
                Some(name) => drop(acl.users.insert(name, rules)),
                None => acl.anonymous = Some(rules),
            }
        }
        patterns.sort_by_key(|p| p.rule.access != DENY);
        acl.patterns = patterns.into();
        Ok((acl, warnings))
    }

    /// The rules for one client, with its client id and username put into the patterns.
    pub fn for_client(&self, client_id: &str, username: Option<&str>) -> ClientAcl {
        let own = match username {
            Some(name) => self.users.get(name),
            None => self.anonymous.as_ref(),
        };
        let patterns = if self.patterns.is_empty() {
            Patterns::Rules(Box::new([]))
        } else if let Some(why) = dangerous(client_id, username) {
            crate::log_notice!("ACL denying access to client with dangerous {why}");
            Patterns::Refused
        } else {
            let rules = self
                .patterns
                .iter()
                .filter(|p| username.is_some() || !p.uses_username)
                .map(|p| Rule {
                    filter: substitute(&p.rule.filter, client_id, username).into(),
                    access: p.rule.access,
                })
                .collect();
            Patterns::Rules(rules)
        };
        ClientAcl {
            own: own.cloned(),
            patterns,
        }
    }
}

/// mosquitto puts `deny` rules first in each list, so that one matching deny always wins.
fn deny_first(mut rules: Vec<Rule>) -> Vec<Rule> {
    rules.sort_by_key(|r| r.access != DENY); // stable: the rest keep their order
    rules
}

/// The first word of `line` and the rest, trimmed.
fn split_word(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    }
}

/// `[read|write|readwrite|deny] FILTER` after `topic` or `pattern`. With one word only, that
/// word is the filter and the access is readwrite (so `topic read` is the topic `read`).
fn rule_words(rest: &str) -> Result<(u8, &str), String> {
    let (first, filter) = split_word(rest);
    if first.is_empty() {
        return Err("empty topic".to_string());
    }
    if filter.is_empty() {
        return Ok((READWRITE, first));
    }
    let access = match first {
        "read" => Access::Read as u8,
        "write" => Access::Write as u8,
        "readwrite" => READWRITE,
        "deny" => DENY,
        other => return Err(format!("invalid topic access type '{other}'")),
    };
    Ok((access, filter))
}

/// Why a client may not use patterns: a `+` or `#` in what would be put into them.
fn dangerous(client_id: &str, username: Option<&str>) -> Option<String> {
    let wild = |s: &str| s.contains(['+', '#']);
    if let Some(name) = username.filter(|u| wild(u)) {
        return Some(format!("username \"{name}\""));
    }
    wild(client_id).then(|| format!("client id \"{client_id}\""))
}

/// Replaces `%c` and `%u` left to right, as mosquitto does (`%u` only with a username).
fn substitute(pattern: &str, client_id: &str, username: Option<&str>) -> String {
    let mut out = String::with_capacity(pattern.len() + client_id.len());
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match (after.as_bytes().first(), username) {
            (Some(b'c'), _) => out.push_str(client_id),
            (Some(b'u'), Some(name)) => out.push_str(name),
            _ => {
                out.push('%');
                rest = after;
                continue;
            }
        }
        rest = &after[1..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, PartialEq, Eq)]
enum Patterns {
    Rules(Box<[Rule]>),
    /// The client id or username could turn a pattern into a wildcard.
    Refused,
}

/// The rules that apply to one client: its own list, shared with every client of the same
/// username, and the patterns with its id and username filled in once, at connection.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientAcl {
    own: Option<Rc<[Rule]>>,
    patterns: Patterns,
}

impl ClientAcl {
    /// mosquitto 2.0.11's decision for `access` to `topic` (a topic name, not a filter).
    pub fn allows(&self, topic: &str, access: Access) -> bool {
        let own = self.own.as_deref().unwrap_or_default();
        if let Some(decision) = decide(own, topic, access) {
            return decision;
        }
        match &self.patterns {
            Patterns::Rules(rules) => decide(rules, topic, access).unwrap_or(false),
            Patterns::Refused => false,
        }
    }
}

fn decide(rules: &[Rule], topic: &str, access: Access) -> Option<bool> {
    for rule in rules {
        if topic::matches(&rule.filter, topic) {
            if rule.access == DENY {
                return Some(false);
            }
            if rule.access & access as u8 != 0 {
                return Some(true);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Access::{Read, Write};
    use super::*;

    fn acl(text: &str) -> AclFile {
        AclFile::parse(text).unwrap().0
    }

    /// `(topic, access) -> allowed` for a client.
    fn can(acl: &AclFile, id: &str, user: Option<&str>, topic: &str, access: Access) -> bool {
        acl.for_client(id, user).allows(topic, access)
    }

    #[test]
    fn each_access_kind_grants_what_it_says() {
        let a = acl("topic read r\ntopic write w\ntopic readwrite rw\ntopic both\ntopic deny d\n");
        let anon = |topic, access| can(&a, "c", None, topic, access);
        assert!(anon("r", Read) && !anon("r", Write));
        assert!(!anon("w", Read) && anon("w", Write));
        assert!(anon("rw", Read) && anon("rw", Write));
        assert!(anon("both", Read) && anon("both", Write));
        assert!(!anon("d", Read) && !anon("d", Write));
        assert!(!anon("elsewhere", Read));
    }

    #[test]
    fn rules_before_any_user_line_are_for_anonymous_clients_only() {
        let a = acl("topic anon/#\nuser alice\ntopic alice/#\nuser bob\ntopic read bob/#\n");
        assert!(can(&a, "c", None, "anon/x", Read));
        assert!(!can(&a, "c", None, "alice/x", Read));
        assert!(!can(&a, "c", Some("alice"), "anon/x", Read));
        assert!(can(&a, "c", Some("alice"), "alice/x", Write));
        assert!(can(&a, "c", Some("bob"), "bob/x", Read));
        assert!(!can(&a, "c", Some("bob"), "bob/x", Write));
        // A user the file does not name gets no rules but the patterns.
        assert!(!can(&a, "c", Some("carol"), "anon/x", Read));
    }

    #[test]
    fn a_users_rules_gather_from_every_section_of_that_user() {
        let a = acl("user alice\ntopic a\nuser bob\ntopic b\nuser alice\ntopic c\n");
        assert!(can(&a, "x", Some("alice"), "a", Read));
        assert!(can(&a, "x", Some("alice"), "c", Read));
        assert!(!can(&a, "x", Some("alice"), "b", Read));
    }

    #[test]
    fn deny_wins_wherever_it_is_in_the_list() {
        let a = acl("topic readwrite home/#\ntopic deny home/secret\n");
        assert!(can(&a, "c", None, "home/open", Read));
        assert!(!can(&a, "c", None, "home/secret", Read));
        assert!(!can(&a, "c", None, "home/secret", Write));
        let b = acl("pattern deny %c/secret\npattern readwrite %c/#\n");
        assert!(can(&b, "dev", None, "dev/x", Write));
        assert!(!can(&b, "dev", None, "dev/secret", Write));
    }

    #[test]
    fn the_clients_own_rules_decide_before_patterns_do() {
        // An own allow beats a pattern deny, and an own deny beats a pattern allow.
        let a = acl("user u\ntopic x/open\ntopic deny x/closed\npattern deny x/#\npattern x/%u\n");
        assert!(can(&a, "c", Some("u"), "x/open", Read));
        assert!(!can(&a, "c", Some("u"), "x/u", Read));
        assert!(!can(&a, "c", Some("u"), "x/closed", Read));
    }

    #[test]
    fn patterns_put_in_the_client_id_and_username() {
        let a = acl("pattern readwrite devices/%c/#\npattern read users/%u/+\n");
        assert!(can(&a, "dev1", None, "devices/dev1/state", Write));
        assert!(!can(&a, "dev1", None, "devices/dev2/state", Write));
        assert!(can(&a, "c", Some("ann"), "users/ann/inbox", Read));
        assert!(!can(&a, "c", Some("ann"), "users/ann/inbox", Write));
        // Without a username a %u pattern does not apply at all.
        assert!(!can(&a, "c", None, "users/%u/inbox", Read));
        assert!(!can(&a, "c", None, "users//inbox", Read));
    }

    #[test]
    fn wildcards_in_an_id_or_username_refuse_every_pattern() {
        let a = acl("pattern readwrite devices/%c/#\npattern readwrite users/%u/#\n");
        assert!(!can(&a, "+", None, "devices/anything/x", Read));
        assert!(!can(&a, "#", None, "devices/#/x", Read));
        assert!(!can(&a, "a+b", None, "devices/a+b", Read));
        assert!(!can(&a, "ok", Some("#"), "devices/ok/x", Read));
        assert!(!can(&a, "ok", Some("x+"), "users/x+/y", Read));
    }

    #[test]
    fn own_rules_still_apply_to_a_client_whose_name_refuses_patterns() {
        let a = acl("topic read public\npattern %c/#\n");
        assert!(can(&a, "a#", None, "public", Read));
        assert!(!can(&a, "a#", None, "a#/x", Read));
    }

    #[test]
    fn a_slash_in_an_id_reaches_deeper_only_into_its_own_place() {
        // As in mosquitto 2.0: `a/b` gets `devices/a/b/#`, nothing of `devices/a` itself.
        let a = acl("pattern readwrite devices/%c/#\n");
        assert!(can(&a, "a/b", None, "devices/a/b/x", Read));
        assert!(!can(&a, "a/b", None, "devices/a/x", Read));
        assert!(!can(&a, "a/..", None, "devices/a/x", Read));
        assert!(can(&a, "a/..", None, "devices/a/../x", Read));
    }

    #[test]
    fn a_percent_in_an_id_is_not_substituted_again() {
        let a = acl("pattern readwrite devices/%c/#\n");
        assert!(can(&a, "%u", Some("bob"), "devices/%u/x", Read));
        assert!(!can(&a, "%u", Some("bob"), "devices/bob/x", Read));
        assert_eq!(substitute("a/%%c/%x/%", "id", None), "a/%id/%x/%");
        assert_eq!(substitute("%u/%c%c", "id", Some("u")), "u/idid");
        assert_eq!(substitute("%u", "id", None), "%u");
    }

    #[test]
    fn dollar_topics_need_rules_that_start_with_dollar() {
        let a = acl("topic read #\ntopic read +/broker/#\ntopic read $SYS/broker/uptime\n");
        assert!(can(&a, "c", None, "a/b", Read));
        assert!(!can(&a, "c", None, "$SYS/broker/load", Read));
        assert!(can(&a, "c", None, "$SYS/broker/uptime", Read));
    }

    #[test]
    fn wildcard_rules_match_as_subscriptions_do() {
        let a = acl("topic read a/+/c\ntopic read b/#\n");
        assert!(can(&a, "c", None, "a/x/c", Read));
        assert!(!can(&a, "c", None, "a/x/y/c", Read));
        assert!(can(&a, "c", None, "b", Read));
        assert!(can(&a, "c", None, "b/x/y", Read));
        assert!(!can(&a, "c", None, "bb", Read));
    }

    #[test]
    fn an_empty_file_denies_everything() {
        let a = acl("# nothing\n\n");
        assert!(!can(&a, "c", None, "a", Read));
        assert!(!can(&a, "c", Some("u"), "a", Write));
    }

    #[test]
    fn mosquittos_grammar_odd_corners_included() {
        // One word after `topic` is the filter, with readwrite access.
        let a = acl("topic read\n");
        assert!(can(&a, "c", None, "read", Write));
        // The filter is the rest of the line, spaces included; tabs separate words.
        let b = acl("topic\tread  a b \r\n  # indented comment\nuser  ann smith \ntopic x\n");
        assert!(can(&b, "c", None, "a b", Read));
        assert!(can(&b, "c", Some("ann smith"), "x", Read));
    }

    #[test]
    fn malformed_lines_are_errors_naming_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("topic\n", 1, "empty topic"),
            ("# c\ntopic rw a\n", 2, "invalid topic access type 'rw'"),
            ("user\n", 1, "missing username"),
            ("topic read a/#/b\n", 1, "invalid ACL topic 'a/#/b'"),
            ("pattern read a+\n", 1, "invalid ACL topic"),
            ("\nallow a\n", 2, "invalid line"),
        ];
        for &(text, line, needle) in cases {
            let (at, why) = AclFile::parse(text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {why}");
            assert!(why.contains(needle), "{text:?}: {why}");
        }
    }

    #[test]
    fn patterns_without_substitutions_are_warned_about() {
        let (_, warnings) = AclFile::parse("pattern read a/b\npattern read %c\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].0, 1);
    }
}
