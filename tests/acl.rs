//! `acl_file` end to end: what each kind of rule grants, user sections and patterns, the ways
//! a client might try to get around them (wildcards, `%`, `/` and `..` in its client id or
//! username, topic aliases, another user's resumed session, wildcard, shared and `$`
//! subscriptions, retained messages, wills), `check_retain_source`, the SIGHUP reload and
//! `per_listener_settings`. Checked against mosquitto 2.0.11:
//!
//!     MIDGE_TEST_BROKER=mosquitto cargo test --test acl
//!
//! How the tests see a decision: a *write* is an MQTT 5 PUBLISH at QoS 1, whose PUBACK says
//! 0x87 when the ACL refuses it (a watcher allowed everything receives the allowed ones); a
//! *read* is a subscriber to `#` that receives, in order, only the readable ones of the
//! messages an administrator publishes. As messages from one publisher keep their order, a
//! forbidden message would show up before the next allowed one, so few tests need to wait
//! for silence.
//!
//! A SUBSCRIBE is never refused: mosquitto 2.0.11's `acl_file` grants every filter and
//! checks each message at delivery, and so does midge.

mod common;

use common::packets::*;
use common::security::*;
use common::{Broker, Raw, broker_kind};

/// Appended to every test's ACL: a user that may read and write everything (`$app` too, as
/// a rule `#` does not cover `$` topics), to publish probes and watch what gets through.
const ADMIN: &str = "user admin\ntopic readwrite #\ntopic readwrite $app/#\n";

/// MQTT 5 reason code "not authorized".
const NOT_AUTHORIZED: u8 = 0x87;

/// A broker whose ACL file is `rules` followed by [`ADMIN`].
fn acl_broker(files: &Files, rules: &str) -> Broker {
    broker_with_acl(files, &format!("{rules}\n{ADMIN}"), "")
}

fn login(connect: Connect, user: Option<&str>) -> Connect {
    match user {
        Some(name) => connect.username(name.as_bytes()),
        None => connect,
    }
}

/// An MQTT 3.1.1 client, with a username (no password: the broker has no password file).
fn client(broker: &Broker, id: &str, user: Option<&str>) -> Raw {
    Raw::handshake(broker, &login(Connect::v311(id), user).build(), &CONNACK_OK)
}

/// An MQTT 5 client, for writes: its PUBACKs carry the ACL's answer.
fn client5(broker: &Broker, id: &str, user: Option<&str>) -> Raw {
    let connect = login(Connect::v5(id), user).build();
    Raw::handshake(broker, &connect, &connack5_ok(false))
}

/// Subscribes an MQTT 3.1.1 client to `filter` at QoS 0 and expects it granted.
fn subscribe_granted(c: &mut Raw, packet_id: u16, filter: &str) {
    c.send(&subscribe(packet_id, filter, 0));
    c.expect(&suback(packet_id, 0));
}

/// The QoS 0 PUBLISH a 3.1.1 subscriber receives for a probe: the topic is the payload.
fn probe(topic: &str) -> Vec<u8> {
    publish(topic, topic.as_bytes(), 0, false, 0)
}

/// The administrator, subscribed to `filter`.
fn watcher(broker: &Broker, id: &str, filter: &str) -> Raw {
    let mut w = client(broker, id, Some("admin"));
    subscribe_granted(&mut w, 1, filter);
    w
}

/// The administrator publishes each topic (QoS 0, in order); `reader`, already subscribed,
/// must receive exactly the ones marked readable.
fn assert_reads(broker: &Broker, reader: &mut Raw, topics: &[(&str, bool)]) {
    let mut admin = client(broker, "admin-pub", Some("admin"));
    for (topic, _) in topics {
        admin.send(&probe(topic));
    }
    for (topic, _) in topics.iter().filter(|(_, readable)| *readable) {
        reader.expect(&probe(topic));
    }
    if topics.last().is_some_and(|(_, readable)| !readable) {
        reader.expect_silence(300);
    }
    admin.send(&DISCONNECT);
}

/// `writer` (MQTT 5) publishes each topic at QoS 1: PUBACK 0x87 for the forbidden ones,
/// 0x00 for the others, which a watcher subscribed to `#` receives.
fn assert_writes(broker: &Broker, writer: &mut Raw, topics: &[(&str, bool)]) {
    let mut watch = watcher(broker, "admin-watch", "#");
    for (index, (topic, writable)) in topics.iter().enumerate() {
        let packet_id = index as u16 + 1;
        writer.send(
            &Publish5::new(topic, topic.as_bytes())
                .qos(1, packet_id)
                .build(),
        );
        let reason = if *writable { 0 } else { NOT_AUTHORIZED };
        writer.expect(&puback5(packet_id, reason));
        if *writable {
            watch.expect(&probe(topic));
        }
    }
    if topics.last().is_some_and(|(_, writable)| !writable) {
        watch.expect_silence(300);
    }
    watch.send(&DISCONNECT);
}

/// A client identity whose access the tests probe.
#[derive(Clone, Copy)]
struct Subject<'a> {
    id: &'a str,
    user: Option<&'a str>,
}

fn anonymous(id: &str) -> Subject<'_> {
    Subject { id, user: None }
}

fn user<'a>(id: &'a str, name: &'a str) -> Subject<'a> {
    Subject {
        id,
        user: Some(name),
    }
}

impl Subject<'_> {
    /// Connects (MQTT 3.1.1), subscribes to `#` and checks which probes arrive.
    fn reads(self, broker: &Broker, topics: &[(&str, bool)]) {
        let mut reader = client(broker, self.id, self.user);
        subscribe_granted(&mut reader, 1, "#");
        assert_reads(broker, &mut reader, topics);
        reader.send(&DISCONNECT);
    }

    /// Connects (MQTT 5) and checks which publications the ACL lets through.
    fn writes(self, broker: &Broker, topics: &[(&str, bool)]) {
        let mut writer = client5(broker, self.id, self.user);
        assert_writes(broker, &mut writer, topics);
        writer.send(&DISCONNECT);
    }
}

/// After a hostile client: a fresh client still publishes and receives.
fn assert_serves_others(broker: &Broker) {
    let mut fresh = watcher(broker, "fresh", "fresh/#");
    fresh.send(&probe("fresh/check"));
    fresh.expect(&probe("fresh/check"));
}

// --- PUBLISH without write access ---

#[test]
fn an_mqtt311_publish_without_write_access_is_acknowledged_and_dropped() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read closed/#\ntopic readwrite open/#");
    let mut sub = Raw::connected(&broker, "sub");
    subscribe_granted(&mut sub, 1, "#");
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("closed/0", b"q0", 0, false, 0));
    publisher.send(&publish("closed/1", b"q1", 1, false, 1));
    publisher.expect(&puback(1));
    publisher.send(&publish("closed/2", b"q2", 2, false, 2));
    publisher.expect(&pubrec(2));
    publisher.send(&pubrel(2));
    publisher.expect(&pubcomp(2));
    // The reader may read closed/#, yet the first thing it gets is the allowed message.
    publisher.send(&publish("open/x", b"ok", 0, false, 0));
    sub.expect(&publish("open/x", b"ok", 0, false, 0));
}

#[test]
fn an_mqtt5_publish_without_write_access_gets_reason_0x87() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read closed/#\ntopic readwrite open/#");
    let mut sub = Raw::connected(&broker, "sub");
    subscribe_granted(&mut sub, 1, "#");
    let mut publisher = client5(&broker, "pub", None);
    publisher.send(&Publish5::new("closed/0", b"q0").build());
    publisher.send(&Publish5::new("closed/1", b"q1").qos(1, 1).build());
    publisher.expect(&puback5(1, NOT_AUTHORIZED));
    publisher.send(&Publish5::new("closed/2", b"q2").qos(2, 2).build());
    publisher.expect(&pubrec5(2, NOT_AUTHORIZED));
    publisher.send(&Publish5::new("open/x", b"ok").build());
    sub.expect(&publish("open/x", b"ok", 0, false, 0));
}

// --- What each kind of rule grants ---

#[test]
fn topic_read_lets_a_client_receive_but_not_publish() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read r/#");
    let me = anonymous("me");
    me.reads(&broker, &[("elsewhere", false), ("r/x", true)]);
    me.writes(&broker, &[("r/x", false), ("elsewhere", false)]);
}

#[test]
fn topic_write_lets_a_client_publish_but_not_receive() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic write w/#\ntopic read seen");
    let me = anonymous("me");
    me.reads(&broker, &[("w/x", false), ("seen", true)]);
    me.writes(&broker, &[("seen", false), ("w/x", true)]);
}

#[test]
fn topic_readwrite_and_a_topic_without_access_word_grant_both() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic readwrite rw/#\ntopic bare/#");
    let me = anonymous("me");
    me.reads(
        &broker,
        &[("other", false), ("rw/x", true), ("bare/x", true)],
    );
    me.writes(
        &broker,
        &[("other", false), ("rw/x", true), ("bare/x", true)],
    );
}

#[test]
fn topic_deny_wins_even_when_listed_after_a_grant() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic readwrite home/#\ntopic deny home/secret");
    let me = anonymous("me");
    me.reads(&broker, &[("home/secret", false), ("home/open", true)]);
    me.writes(&broker, &[("home/secret", false), ("home/open", true)]);
}

// --- User sections ---

const SECTIONS: &str = "topic read anon/#\n\
                        user alice\ntopic readwrite alice/#\n\
                        user bob\ntopic read bob/#\n\
                        pattern read users/%u/#";

#[test]
fn rules_under_a_user_line_apply_to_that_user_only() {
    let files = Files::new();
    let broker = acl_broker(&files, SECTIONS);
    let alice = user("a", "alice");
    alice.reads(
        &broker,
        &[("anon/x", false), ("bob/x", false), ("alice/x", true)],
    );
    alice.writes(&broker, &[("bob/x", false), ("alice/x", true)]);
    let bob = user("b", "bob");
    bob.reads(
        &broker,
        &[("alice/x", false), ("anon/x", false), ("bob/x", true)],
    );
    bob.writes(&broker, &[("bob/x", false)]);
}

#[test]
fn rules_before_any_user_line_apply_only_to_clients_without_a_username() {
    let files = Files::new();
    let broker = acl_broker(&files, SECTIONS);
    let anon = anonymous("n");
    anon.reads(&broker, &[("alice/x", false), ("anon/x", true)]);
    anon.writes(&broker, &[("anon/x", false)]);
    user("a", "alice").reads(&broker, &[("anon/x", false), ("alice/x", true)]);
}

#[test]
fn a_username_not_in_the_file_gets_only_the_patterns() {
    let files = Files::new();
    let broker = acl_broker(&files, SECTIONS);
    let carol = user("c", "carol");
    carol.reads(
        &broker,
        &[
            ("anon/x", false),
            ("alice/x", false),
            ("users/alice/x", false),
            ("users/carol/x", true),
        ],
    );
    carol.writes(&broker, &[("anon/x", false), ("users/carol/x", false)]);
}

// --- Patterns ---

const PATTERNS: &str =
    "pattern readwrite devices/%c/#\npattern read users/%u/#\ntopic read public/#";

#[test]
fn a_client_id_pattern_reaches_the_clients_own_subtree_only() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    let dev = anonymous("dev1");
    dev.reads(
        &broker,
        &[("devices/dev2/x", false), ("devices/dev1/x", true)],
    );
    dev.writes(
        &broker,
        &[("devices/dev2/x", false), ("devices/dev1/x", true)],
    );
}

#[test]
fn a_username_pattern_reaches_the_users_own_subtree_only() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    let ann = user("c1", "ann");
    ann.reads(&broker, &[("users/bob/x", false), ("users/ann/x", true)]);
    ann.writes(&broker, &[("users/ann/x", false), ("devices/c1/x", true)]);
}

#[test]
fn username_patterns_do_not_apply_to_clients_without_a_username() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    // Without a username `%u` is neither left as it is nor replaced by nothing.
    anonymous("c2").reads(
        &broker,
        &[
            ("users/%u/x", false),
            ("users//x", false),
            ("users/c2/x", false),
            ("devices/c2/x", true),
        ],
    );
}

// --- Attempts to get around the patterns ---

#[test]
fn a_client_id_with_a_wildcard_gets_no_pattern_access() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    for id in ["#", "+", "dev/#", "a+b"] {
        let sneaky = anonymous(id);
        // Its own rules (the anonymous ones) still apply.
        sneaky.reads(&broker, &[("devices/other/x", false), ("public/x", true)]);
        sneaky.writes(&broker, &[("devices/other/x", false), ("public/x", false)]);
    }
    assert_serves_others(&broker);
}

#[test]
fn a_username_with_a_wildcard_gets_no_pattern_access() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    for name in ["#", "+", "a/#"] {
        // Not even the `%c` patterns, whose client id is harmless.
        let sneaky = user("dev9", name);
        sneaky.reads(
            &broker,
            &[("users/bob/x", false), ("devices/dev9/x", false)],
        );
        sneaky.writes(&broker, &[("devices/dev9/x", false)]);
    }
    assert_serves_others(&broker);
}

#[test]
fn percent_signs_in_a_client_id_or_username_are_taken_literally() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    // Client id `%u` with username bob: devices/%u, not devices/bob.
    let id_u = user("%u", "bob");
    id_u.reads(&broker, &[("devices/bob/x", false), ("devices/%u/x", true)]);
    id_u.writes(&broker, &[("devices/bob/x", false), ("devices/%u/x", true)]);
    // Username `%c` with client id dev9: users/%c, not users/dev9.
    let name_c = user("dev9", "%c");
    name_c.reads(&broker, &[("users/dev9/x", false), ("users/%c/x", true)]);
    assert_serves_others(&broker);
}

// mosquitto 2.0 lets `/` through in a username or client id: it only reaches deeper into the
// client's own place, `users/ann/b/...` for `ann/b`, and nothing of `users/ann` itself.
#[test]
fn a_slash_in_a_username_only_reaches_deeper_into_its_own_prefix() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    user("c3", "ann/b").reads(
        &broker,
        &[
            ("users/ann/x", false),
            ("users/ann", false),
            ("users/ann/b/x", true),
        ],
    );
    assert_serves_others(&broker);
}

#[test]
fn a_dot_dot_level_is_a_literal_level_not_a_path_traversal() {
    let files = Files::new();
    let broker = acl_broker(&files, PATTERNS);
    let mut other = client(&broker, "other", None);
    subscribe_granted(&mut other, 1, "devices/other/#");
    // `devices/me/../other/x` is under devices/me/#, as a topic of its own.
    anonymous("me").writes(
        &broker,
        &[
            ("devices/other/x", false),
            ("devices/../other/x", false),
            ("devices/me/../other/x", true),
        ],
    );
    // A client whose id is `..` reaches only topics under the literal `devices/..`.
    anonymous("..").writes(&broker, &[("devices/x", false), ("devices/../x", true)]);
    // The owner of devices/other got none of that: the first thing it receives is this.
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&probe("devices/other/ok"));
    other.expect(&probe("devices/other/ok"));
    assert_serves_others(&broker);
}

#[test]
fn a_topic_alias_does_not_carry_write_access_to_another_topic() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic readwrite public/#");
    let mut watch = watcher(&broker, "admin-watch", "#");
    let mut sneaky = client5(&broker, "sneaky", None);
    let aliased = |topic: &str, alias: u16, packet_id: u16| {
        let props = Props::new().topic_alias(alias);
        Publish5::new(topic, b"x")
            .qos(1, packet_id)
            .properties(&props)
            .build()
    };
    sneaky.send(&aliased("public/x", 1, 1));
    sneaky.expect(&puback5(1, 0));
    watch.expect(&publish("public/x", b"x", 0, false, 0));
    // Alias 1 now names public/x; a new topic with it is that topic, checked as such.
    sneaky.send(&aliased("secret/x", 1, 2));
    sneaky.expect(&puback5(2, NOT_AUTHORIZED));
    sneaky.send(&aliased("", 1, 3));
    sneaky.expect(&puback5(3, NOT_AUTHORIZED));
    sneaky.send(&aliased("public/y", 1, 4));
    sneaky.expect(&puback5(4, 0));
    watch.expect(&publish("public/y", b"x", 0, false, 0));
    assert_serves_others(&broker);
}

#[test]
fn a_client_resuming_another_users_session_does_not_get_its_queued_messages() {
    let files = Files::new();
    let broker = acl_broker(
        &files,
        "user alice
topic read alice/#
user bob
topic read bob/#",
    );
    let persistent = |name: &str, present: bool| {
        let connect = Connect::v311("shared-id")
            .clean(false)
            .username(name.as_bytes())
            .build();
        Raw::handshake(&broker, &connect, &connack(present, 0))
    };
    let mut alice = persistent("alice", false);
    alice.send(&subscribe(1, "#", 1));
    alice.expect(&suback(1, 1));
    alice.send(&DISCONNECT);
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&publish("alice/x", b"for alice", 1, false, 1));
    admin.expect(&puback(1));
    let mut bob = persistent("bob", true);
    admin.send(&publish("bob/x", b"for bob", 1, false, 2));
    admin.expect(&puback(2));
    // Whatever packet id it comes with (mosquitto spends one on the message it withheld).
    let first = bob.recv_packet();
    let packet_id = u16::from_be_bytes([first[9], first[10]]);
    assert_eq!(
        common::hex(&first),
        common::hex(&publish("bob/x", b"for bob", 1, false, packet_id)),
        "bob's first message"
    );
}

// --- Wildcard and `$` subscriptions ---

#[test]
fn wildcard_subscriptions_are_granted_but_deliver_only_readable_topics() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read public/#");
    let mut readers: Vec<Raw> = ["#", "+/x", "public/x"]
        .iter()
        .enumerate()
        .map(|(i, filter)| {
            let mut r = client(&broker, &format!("reader{i}"), None);
            subscribe_granted(&mut r, 1, filter);
            r
        })
        .collect();
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    for topic in ["secret/x", "public/x"] {
        admin.send(&probe(topic));
    }
    for reader in &mut readers {
        reader.expect(&probe("public/x"));
    }
}

#[test]
fn a_shared_subscription_delivers_only_readable_topics() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read public/#");
    let mut member = client5(&broker, "member", None);
    member.send(&subscribe5(1, &[], &[("$share/g/#", 0)]));
    member.expect(&suback5(1, &[], &[0]));
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&probe("secret/x"));
    admin.send(&probe("public/x"));
    member.expect(&Publish5::new("public/x", b"public/x").build());
}

#[test]
fn an_acl_rule_hash_does_not_grant_dollar_topics() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic readwrite #\ntopic read $app/ok");
    let me = anonymous("me");
    me.writes(&broker, &[("$app/x", false), ("plain/x", true)]);
    let mut app = client(&broker, "app", None);
    subscribe_granted(&mut app, 1, "$app/#");
    assert_reads(&broker, &mut app, &[("$app/x", false), ("$app/ok", true)]);
    // mosquitto keeps retained `$SYS/broker/...` messages; none may reach this client.
    let mut sys = client(&broker, "sys", None);
    subscribe_granted(&mut sys, 1, "$SYS/#");
    sys.expect_silence(500);
}

#[test]
fn a_hash_subscriber_never_receives_dollar_topics_even_when_it_may_read_them() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read #\ntopic read $app/#");
    let mut all = client(&broker, "all", None);
    subscribe_granted(&mut all, 1, "#");
    let mut app = client(&broker, "app", None);
    subscribe_granted(&mut app, 1, "$app/#");
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&probe("$app/x"));
    admin.send(&probe("plain/x"));
    app.expect(&probe("$app/x"));
    all.expect(&probe("plain/x"));
}

// --- SUBSCRIBE granted, filtered at delivery ---

/// Filters for a client that may read `public/#` except `public/secret`, at the QoS asked:
/// some can never deliver anything, all are granted.
const FILTERS: &[(&str, u8)] = &[
    ("secret/x", 1),
    ("secret/#", 0),
    ("$SYS/#", 1),
    ("public/secret", 2),
    ("#", 0),
    ("public/a", 1),
];
const PUBLIC_ACL: &str = "topic read public/#\ntopic deny public/secret";

#[test]
fn an_mqtt311_subscription_the_acl_cannot_serve_is_granted() {
    let files = Files::new();
    let broker = acl_broker(&files, PUBLIC_ACL);
    let mut c = Raw::connected(&broker, "c");
    let granted: Vec<u8> = FILTERS.iter().map(|&(_, qos)| qos).collect();
    c.send(&subscribe_many(1, FILTERS));
    c.expect(&suback_many(1, &granted));
    // The ACL filters what they deliver.
    assert_reads(
        &broker,
        &mut c,
        &[
            ("secret/x", false),
            ("public/secret", false),
            ("public/x", true),
        ],
    );
}

#[test]
fn an_mqtt5_subscription_the_acl_cannot_serve_is_granted() {
    let files = Files::new();
    let broker = acl_broker(&files, PUBLIC_ACL);
    let mut c = client5(&broker, "c", None);
    let granted: Vec<u8> = FILTERS.iter().map(|&(_, qos)| qos).collect();
    c.send(&subscribe5(1, &[], FILTERS));
    c.expect(&suback5(1, &[], &granted));
}

#[test]
fn a_reloaded_acl_opens_a_subscription_granted_before() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read public/#");
    let mut c = Raw::connected(&broker, "c");
    subscribe_granted(&mut c, 1, "secret/#");
    assert_reads(&broker, &mut c, &[("secret/x", false), ("public/x", false)]);
    files.write("acl", &format!("topic read #\n{ADMIN}"));
    reload(&broker);
    // The same subscription, never repeated, now delivers.
    assert_reads(&broker, &mut c, &[("secret/y", true)]);
}

#[test]
fn wildcards_are_granted_to_a_client_that_may_read_only_dollar_topics() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read $app/#");
    let mut c = Raw::connected(&broker, "c");
    let filters = [
        ("#", 0),
        ("+/x", 0),
        ("+/#", 0),
        ("$app/+", 0),
        ("$app/#", 0),
    ];
    c.send(&subscribe_many(1, &filters));
    c.expect(&suback_many(1, &[0, 0, 0, 0, 0]));
    assert_reads(&broker, &mut c, &[("plain/x", false), ("$app/x", true)]);
}

// --- What the publisher learns ---

// Both brokers count a subscriber whose ACL filters the message out as a match: the
// publisher cannot probe with PUBACK 0x10 (no matching subscribers) who listens where.
#[test]
fn a_publisher_cannot_tell_a_filtered_subscriber_from_a_reader() {
    let files = Files::new();
    let broker = acl_broker(
        &files,
        "topic write secret/#
topic read public/#",
    );
    let mut writer = client5(&broker, "writer", None);
    let send = |c: &mut Raw, topic: &str, packet_id: u16| {
        c.send(&Publish5::new(topic, b"x").qos(1, packet_id).build());
        c.recv_packet()
    };
    let nobody = send(&mut writer, "secret/x", 1);
    assert_eq!(nobody, puback5(1, 0x10), "no subscriber at all");
    let mut reader = Raw::connected(&broker, "reader");
    subscribe_granted(&mut reader, 1, "#");
    let filtered = send(&mut writer, "secret/x", 2);
    assert_eq!(filtered, puback5(2, 0), "a subscriber that may not read it");
}

// --- Retained messages ---

#[test]
fn a_retained_message_on_a_forbidden_topic_is_not_sent_on_subscribe() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read public/#");
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&publish("secret/r", b"s", 1, true, 1));
    admin.expect(&puback(1));
    admin.send(&publish("public/r", b"p", 1, true, 2));
    admin.expect(&puback(2));
    let mut reader = client(&broker, "reader", None);
    subscribe_granted(&mut reader, 1, "#");
    reader.expect(&publish("public/r", b"p", 0, true, 0));
    admin.send(&probe("public/live"));
    reader.expect(&probe("public/live"));
}

#[test]
fn a_client_without_write_access_cannot_set_or_clear_a_retained_message() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic read ro/#");
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&publish("ro/r", b"orig", 1, true, 1));
    admin.expect(&puback(1));
    let mut sneaky = Raw::connected(&broker, "sneaky");
    sneaky.send(&publish("ro/r", b"evil", 1, true, 1));
    sneaky.expect(&puback(1));
    sneaky.send(&publish("ro/new", b"evil", 1, true, 2));
    sneaky.expect(&puback(2));
    sneaky.send(&publish("ro/r", b"", 1, true, 3));
    sneaky.expect(&puback(3));
    let mut reader = watcher(&broker, "reader", "ro/#");
    reader.expect(&publish("ro/r", b"orig", 0, true, 0));
    reader.expect_silence(300);
}

// --- Wills ---

/// Connects `id` with a will to `topic`, then drops the connection without DISCONNECT,
/// waiting for the broker to have noticed.
fn drop_with_will(broker: &Broker, id: &str, topic: &str) {
    let connect = Connect::v311(id)
        .will(topic, id.as_bytes(), 0, false)
        .build();
    let c = Raw::handshake(broker, &connect, &CONNACK_OK);
    c.stream
        .shutdown(std::net::Shutdown::Both)
        .expect("shutdown");
    broker.wait_for_log(&format!("Client {id} closed its connection."));
}

#[test]
fn a_will_is_published_only_to_a_topic_its_client_may_write() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic write wills/ok\ntopic read wills/#");
    let mut watch = watcher(&broker, "watch", "wills/#");
    drop_with_will(&broker, "bad", "wills/bad");
    drop_with_will(&broker, "good", "wills/ok");
    watch.expect(&publish("wills/ok", b"good", 0, false, 0));
}

/// A takeover that ends the old session publishes its will: checked against the old client's
/// rules even though its session is gone by the time the will goes out. (The fuzz harness
/// found midge panicking here.)
#[test]
fn a_will_published_on_takeover_is_checked_against_the_old_clients_rules() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic write wills/ok\ntopic read wills/#");
    let mut watch = watcher(&broker, "watch", "wills/#");
    for (id, topic) in [("bad", "wills/bad"), ("good", "wills/ok")] {
        let old = Connect::v311(id).will(topic, id.as_bytes(), 0, false);
        let _old = Raw::handshake(&broker, &old.build(), &CONNACK_OK);
        let _new = Raw::handshake(&broker, &Connect::v311(id).build(), &CONNACK_OK);
    }
    watch.expect(&publish("wills/ok", b"good", 0, false, 0));
    watch.expect_silence(300);
}

// --- check_retain_source and the SIGHUP reload ---

#[test]
fn check_retain_source_withholds_a_retained_message_once_its_publisher_may_not_write_it() {
    let files = Files::new();
    let rules =
        |publisher: &str| format!("topic read keep/#\nuser pub\ntopic {publisher} keep/#\n{ADMIN}");
    let broker = broker_with_acl(&files, &rules("readwrite"), "check_retain_source true");
    let mut publisher = client(&broker, "pub", Some("pub"));
    publisher.send(&publish("keep/pub", b"p", 1, true, 1));
    publisher.expect(&puback(1));
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&publish("keep/admin", b"a", 1, true, 1));
    admin.expect(&puback(1));
    let retained = |id: &str| {
        let mut r = Raw::connected(&broker, id);
        subscribe_granted(&mut r, 1, "keep/#");
        r
    };
    let mut before = retained("before");
    before.expect_unordered(&[
        publish("keep/pub", b"p", 0, true, 0),
        publish("keep/admin", b"a", 0, true, 0),
    ]);
    files.write("acl", &rules("read"));
    reload(&broker);
    let mut after = retained("after");
    after.expect(&publish("keep/admin", b"a", 0, true, 0));
    after.expect_silence(300);
}

#[test]
fn sighup_changes_a_connected_clients_access_without_reconnecting() {
    let files = Files::new();
    let broker = acl_broker(&files, "topic readwrite a/#");
    let mut reader = Raw::connected(&broker, "reader");
    subscribe_granted(&mut reader, 1, "#");
    let mut writer = client5(&broker, "writer", None);
    assert_reads(&broker, &mut reader, &[("b/x", false), ("a/x", true)]);
    assert_writes(&broker, &mut writer, &[("b/x", false), ("a/x", true)]);
    reader.expect(&probe("a/x")); // the writer's
    files.write("acl", &format!("topic readwrite b/#\n{ADMIN}"));
    reload(&broker);
    assert_reads(&broker, &mut reader, &[("a/x", false), ("b/x", true)]);
    assert_writes(&broker, &mut writer, &[("a/x", false), ("b/x", true)]);
    reader.expect(&probe("b/x"));
}

// A queued message the new rules drop on reconnect no longer counts towards
// `max_queued_bytes`: the next message for the offline client still fits in the queue.
#[test]
fn a_queued_message_dropped_by_a_reloaded_acl_frees_its_room_in_the_queue() {
    let files = Files::new();
    let rules = |extra: &str| format!("user u\ntopic read a/#\n{extra}{ADMIN}");
    let broker = broker_with_acl(&files, &rules("topic read b/#\n"), "max_queued_bytes 100");
    let connect = Connect::v311("u").clean(false).username(b"u").build();
    let mut u = Raw::handshake(&broker, &connect, &connack(false, 0));
    u.send(&subscribe_many(1, &[("a/#", 1), ("b/#", 1)]));
    u.expect(&suback_many(1, &[1, 1]));
    u.send(&DISCONNECT);
    u.expect_closed();
    let payload = [b'x'; 60];
    let mut admin = client(&broker, "admin-pub", Some("admin"));
    admin.send(&publish("b/x", &payload, 1, false, 1));
    admin.expect(&puback(1));
    files.write("acl", &rules(""));
    reload(&broker);
    let mut u = Raw::handshake(&broker, &connect, &connack(true, 0));
    u.send(&DISCONNECT);
    u.expect_closed();
    admin.send(&publish("a/x", &payload, 1, false, 2));
    admin.expect(&puback(2));
    let mut u = Raw::handshake(&broker, &connect, &connack(true, 0));
    u.expect(&publish("a/x", &payload, 1, false, 2));
}

// --- per_listener_settings ---

#[test]
fn per_listener_settings_apply_each_listeners_acl_file() {
    let files = Files::new();
    let acl_a = files.write("acl_a", "topic readwrite a/#\n");
    let acl_b = files.write("acl_b", "topic readwrite b/#\n");
    let (broker, second) = Broker::start_config(broker_kind(), |a, b| {
        format!(
            "per_listener_settings true\n\
             listener {a} 127.0.0.1\nallow_anonymous true\nacl_file {acl_a}\n\
             listener {b} 127.0.0.1\nallow_anonymous true\nacl_file {acl_b}\n"
        )
    });
    let on_second = |connect: Connect, reply: &[u8]| {
        let mut c = raw_on_port(second);
        c.send(&connect.build());
        c.expect(reply);
        c
    };
    let mut sub_a = Raw::connected(&broker, "sub-a");
    subscribe_granted(&mut sub_a, 1, "#");
    let mut sub_b = on_second(Connect::v311("sub-b"), &CONNACK_OK);
    subscribe_granted(&mut sub_b, 1, "#");
    let mut pub_a = client5(&broker, "pub-a", None);
    let mut pub_b = on_second(Connect::v5("pub-b"), &connack5_ok(false));
    let send = |c: &mut Raw, topic: &str, reason: u8| {
        c.send(&Publish5::new(topic, topic.as_bytes()).qos(1, 1).build());
        c.expect(&puback5(1, reason));
    };
    send(&mut pub_a, "b/x", NOT_AUTHORIZED);
    send(&mut pub_a, "a/x", 0);
    send(&mut pub_b, "a/y", NOT_AUTHORIZED);
    send(&mut pub_b, "b/y", 0);
    send(&mut pub_a, "a/z", 0);
    // Each subscriber reads only its listener's topics; nothing crossed over in between.
    sub_a.expect(&probe("a/x"));
    sub_a.expect(&probe("a/z"));
    sub_b.expect(&probe("b/y"));
    sub_b.expect_silence(300);
}
