//! Authentication: `password_file` (hashes made by mosquitto_passwd), `allow_anonymous`,
//! `per_listener_settings`, and the SIGHUP reload. Checked against mosquitto 2.0.11:
//!
//!     MIDGE_TEST_BROKER=mosquitto cargo test --test auth
//!
//! mosquitto 2.0.11 answers every failed password check with "not authorised": CONNACK 5
//! in MQTT 3.1/3.1.1 and 0x87 in MQTT 5, never 4 or 0x86 (bad user name or password), and
//! closes the connection.

mod common;

use common::packets::*;
use common::security::*;
use common::{Broker, Kind, Raw, broker_kind, midge_only};

const CONNACK_NOT_AUTHORISED: [u8; 4] = [0x20, 0x02, 0x00, 0x05];
const CONNACK5_NOT_AUTHORISED: [u8; 5] = [0x20, 0x03, 0x00, 0x87, 0x00];

fn refused(broker: &Broker, connect: Connect, reply: &[u8]) {
    let mut c = Raw::connect(broker);
    c.send(&connect.build());
    c.expect(reply);
    c.expect_closed();
}

fn user(id: &str, name: &str, password: &str) -> Connect {
    Connect::v311(id)
        .username(name.as_bytes())
        .password(password.as_bytes())
}

fn both_files() -> String {
    format!("{PBKDF2_FILE}{SHA512_FILE}")
}

#[test]
fn a_pbkdf2_password_made_by_mosquitto_passwd_is_accepted() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, PBKDF2_FILE, "");
    connected_as(&broker, "a", "alice", "alicepw");
    connected_as(&broker, "b", "bob", "b0b with spaces:and colon");
    connected_as(&broker, "e", "erin", "erinpw");
}

#[test]
fn a_sha512_password_from_mosquitto_1_is_accepted() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, SHA512_FILE, "");
    connected_as(&broker, "c", "carol", "carolpw");
    connected_as(&broker, "d", "dave", "dävé-ünïcode");
}

#[test]
fn the_username_appears_in_the_connect_log_line() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, PBKDF2_FILE, "");
    connected_as(&broker, "cli", "alice", "alicepw");
    broker.wait_for_log(" as cli (p2, c1, k60, u'alice').");
}

#[test]
fn a_wrong_password_gets_connack_5() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, &both_files(), "");
    refused(
        &broker,
        user("a", "alice", "alicepW"),
        &CONNACK_NOT_AUTHORISED,
    );
    refused(&broker, user("c", "carol", ""), &CONNACK_NOT_AUTHORISED);
    broker.wait_for_log("Client <unknown> disconnected, not authorised.");
}

#[test]
fn an_unknown_user_gets_connack_5() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, PBKDF2_FILE, "");
    refused(
        &broker,
        user("m", "mallory", "alicepw"),
        &CONNACK_NOT_AUTHORISED,
    );
}

#[test]
fn a_known_user_without_a_password_gets_connack_5() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, PBKDF2_FILE, "");
    refused(
        &broker,
        Connect::v311("a").username(b"alice"),
        &CONNACK_NOT_AUTHORISED,
    );
}

/// `empty`'s password is the empty string: a `$6$` hash from mosquitto's own test suite.
const EMPTY_PASSWORD_ENTRY: &str = "empty:$6$o+53eGXtmlfHeYrg$FY7X9DNQ4uU1j0NiPmGOOSU05ZSzhqNmNhXIof/0nLpVb1zDhcRHdaC72E3YryH7dtTiG/r6jH6C8J+30cZBgA==\n";

// mosquitto reads a zero-length password as no password (its fix for a CVE): the hash of an
// empty password never logs in, even when it matches.
#[test]
fn a_zero_length_password_is_refused_even_when_its_hash_matches() {
    let files = Files::new();
    let passwords = format!("{EMPTY_PASSWORD_ENTRY}{PBKDF2_FILE}");
    let broker = broker_with_passwords(&files, &passwords, "allow_anonymous true");
    refused(&broker, user("e", "empty", ""), &CONNACK_NOT_AUTHORISED);
    let v5 = Connect::v5("e").username(b"empty").password(b"");
    refused(&broker, v5, &CONNACK5_NOT_AUTHORISED);
    refused(&broker, user("a", "alice", ""), &CONNACK_NOT_AUTHORISED);
    connected_as(&broker, "a", "alice", "alicepw");
}

// A zero-length username is no username at all: anonymous, so `allow_anonymous` decides.
#[test]
fn a_zero_length_username_is_anonymous() {
    let files = Files::new();
    let closed = broker_with_passwords(&files, PBKDF2_FILE, "");
    refused(&closed, user("z", "", "alicepw"), &CONNACK_NOT_AUTHORISED);
    let open = broker_with_passwords(&files, PBKDF2_FILE, "allow_anonymous true");
    let anonymous = user("z", "", "whatever").build();
    Raw::handshake(&open, &anonymous, &CONNACK_OK);
    open.wait_for_log(" as z (p2, c1, k60).");
}

#[test]
fn mqtt5_failures_get_0x87_not_authorised() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, PBKDF2_FILE, "");
    let v5 = |name: &str, pw: &str| {
        Connect::v5("a")
            .username(name.as_bytes())
            .password(pw.as_bytes())
    };
    refused(&broker, v5("alice", "nope"), &CONNACK5_NOT_AUTHORISED);
    refused(&broker, v5("mallory", "alicepw"), &CONNACK5_NOT_AUTHORISED);
    refused(&broker, Connect::v5("a"), &CONNACK5_NOT_AUTHORISED);
    let good = v5("alice", "alicepw").build();
    Raw::handshake(&broker, &good, &connack5_ok(false));
}

#[test]
fn mqtt31_failures_get_connack_5_too() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, PBKDF2_FILE, "");
    let v31 = |pw: &[u8]| Connect::v31("a").username(b"alice").password(pw);
    refused(&broker, v31(b"nope"), &CONNACK_NOT_AUTHORISED);
    Raw::handshake(&broker, &v31(b"alicepw").build(), &CONNACK_OK);
}

#[test]
fn without_username_a_client_needs_allow_anonymous() {
    let files = Files::new();
    let closed = broker_with_passwords(&files, PBKDF2_FILE, "");
    refused(&closed, Connect::v311("anon"), &CONNACK_NOT_AUTHORISED);
    let open = broker_with_passwords(&files, PBKDF2_FILE, "allow_anonymous true");
    Raw::connected(&open, "anon");
    // A username is still checked when anonymous clients are allowed.
    refused(&open, user("m", "mallory", "x"), &CONNACK_NOT_AUTHORISED);
    connected_as(&open, "a", "alice", "alicepw");
}

#[test]
fn without_a_password_file_allow_anonymous_false_refuses_usernames_too() {
    let broker = Broker::start_with("allow_anonymous false");
    refused(
        &broker,
        user("a", "alice", "alicepw"),
        &CONNACK_NOT_AUTHORISED,
    );
    refused(&broker, Connect::v311("anon"), &CONNACK_NOT_AUTHORISED);
}

#[test]
fn a_refused_client_leaves_no_session_and_no_will() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, PBKDF2_FILE, "allow_anonymous true");
    let mut watcher = Raw::subscribed(&broker, "watcher", "will/#", 0);
    refused(
        &broker,
        user("x", "alice", "bad")
            .clean(false)
            .will("will/x", b"gone", 0, false),
        &CONNACK_NOT_AUTHORISED,
    );
    watcher.expect_silence(300);
    let good = user("x", "alice", "alicepw").clean(false).build();
    Raw::handshake(&broker, &good, &connack(false, 0));
}

#[test]
fn sighup_rereads_the_password_file_for_new_connections() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, &entry(PBKDF2_FILE, "alice"), "");
    let mut alice = connected_as(&broker, "a", "alice", "alicepw");
    refused(
        &broker,
        user("c", "carol", "carolpw"),
        &CONNACK_NOT_AUTHORISED,
    );
    let both = format!(
        "{}{}",
        entry(PBKDF2_FILE, "alice"),
        entry(SHA512_FILE, "carol")
    );
    files.write("passwd", &both);
    reload(&broker);
    connected_as(&broker, "c", "carol", "carolpw");
    // The connection made before the reload carries on.
    alice.send(&PINGREQ);
    alice.expect(&PINGRESP);
}

// mosquitto re-checks connected clients on reload and closes those whose password no
// longer matches, without a DISCONNECT and without their will, logging them as if they had
// disconnected.
#[test]
fn sighup_disconnects_clients_whose_user_was_removed() {
    let files = Files::new();
    let both = format!(
        "{}{}",
        entry(PBKDF2_FILE, "alice"),
        entry(SHA512_FILE, "carol")
    );
    let broker = broker_with_passwords(&files, &both, "");
    let mut watcher = connected_as(&broker, "w", "alice", "alicepw");
    watcher.send(&subscribe(1, "will/#", 0));
    watcher.expect(&suback(1, 0));
    let mut carol = Raw::connect(&broker);
    let connect = user("c", "carol", "carolpw").will("will/c", b"gone", 0, false);
    carol.send(&connect.build());
    carol.expect(&CONNACK_OK);
    let mut carol5 = Raw::connect(&broker);
    let connect5 = Connect::v5("c5").username(b"carol").password(b"carolpw");
    carol5.send(&connect5.build());
    carol5.expect(&connack5_ok(false));
    files.write("passwd", &entry(PBKDF2_FILE, "alice"));
    reload(&broker);
    carol.expect_closed();
    carol5.expect_closed();
    broker.wait_for_log("Client c disconnected.");
    watcher.expect_silence(300);
    watcher.send(&PINGREQ);
    watcher.expect(&PINGRESP);
}

#[test]
fn sighup_with_a_changed_password_disconnects_its_user() {
    let files = Files::new();
    let broker = broker_with_passwords(&files, &entry(PBKDF2_FILE, "alice"), "");
    let mut alice = connected_as(&broker, "a", "alice", "alicepw");
    // Erin's hash under alice's name: a new password for alice.
    let erin = entry(PBKDF2_FILE, "erin");
    files.write("passwd", &erin.replacen("erin", "alice", 1));
    reload(&broker);
    alice.expect_closed();
    connected_as(&broker, "a", "alice", "erinpw");
}

// As at start, a reloaded file's unusable entries are dropped: their users are disconnected
// like removed ones, and the rest of the file applies.
#[test]
fn sighup_with_a_broken_entry_disconnects_its_user_and_keeps_the_rest() {
    let files = Files::new();
    let both = format!(
        "{}{}",
        entry(PBKDF2_FILE, "alice"),
        entry(SHA512_FILE, "carol")
    );
    let broker = broker_with_passwords(&files, &both, "");
    let mut alice = connected_as(&broker, "a", "alice", "alicepw");
    let mut carol = connected_as(&broker, "c", "carol", "carolpw");
    files.write(
        "passwd",
        &format!("alice:plaintext\n{}", entry(SHA512_FILE, "carol")),
    );
    reload(&broker);
    alice.expect_closed();
    refused(
        &broker,
        user("a2", "alice", "alicepw"),
        &CONNACK_NOT_AUTHORISED,
    );
    carol.send(&PINGREQ);
    carol.expect(&PINGRESP);
}

#[test]
fn sighup_without_security_files_changes_nothing() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "c");
    reload(&broker);
    c.send(&PINGREQ);
    c.expect(&PINGRESP);
    Raw::connected(&broker, "d");
}

#[test]
fn a_missing_password_file_stops_the_broker_at_start() {
    let finished = start_fails("listener {port} 127.0.0.1\npassword_file /nonexistent/passwd\n");
    // mosquitto exits with 13 (its MOSQ_ERR_UNKNOWN); midge with 1, as for any bad config.
    if broker_kind() == Kind::Mosquitto {
        assert_ne!(finished.code, Some(0), "{}", finished.describe());
    } else {
        finished.assert_code(1);
        assert!(
            finished
                .stderr
                .contains("Error: password file /nonexistent/passwd: unable to open"),
            "{}",
            finished.describe()
        );
    }
}

// mosquitto 2.0.11 starts with a password file whose lines are not all usable: each bad one
// is logged and removed, and its user cannot log in.
#[test]
fn a_password_file_with_unusable_lines_serves_the_usable_ones() {
    let files = Files::new();
    let bad = "no colon here\n:$6$njERlZMi/7DzNB9E$x\nzed:zedpw\nyan:\nxi:$6$\nwu:$5$a$b\n";
    let broker = broker_with_passwords(&files, &format!("{bad}{PBKDF2_FILE}"), "");
    broker.wait_for_log("Error: Invalid password hash type for user zed, removing entry.");
    broker.wait_for_log("Error: Invalid password hash for user yan, removing entry.");
    broker.wait_for_log("Error: Invalid password hash for user xi, removing entry.");
    broker.wait_for_log("Error: Invalid password hash type for user wu, removing entry.");
    refused(&broker, user("z", "zed", "zedpw"), &CONNACK_NOT_AUTHORISED);
    refused(&broker, user("y", "yan", ""), &CONNACK_NOT_AUTHORISED);
    connected_as(&broker, "a", "alice", "alicepw");
}

#[test]
fn per_listener_settings_check_each_listener_with_its_own_file() {
    let files = Files::new();
    let alice = files.write("alice", &entry(PBKDF2_FILE, "alice"));
    let carol = files.write("carol", &entry(SHA512_FILE, "carol"));
    let (broker, second) = Broker::start_config(broker_kind(), |a, b| {
        format!(
            "per_listener_settings true\n\
             listener {a} 127.0.0.1\npassword_file {alice}\n\
             listener {b} 127.0.0.1\npassword_file {carol}\nallow_anonymous true\n"
        )
    });
    connected_as(&broker, "a", "alice", "alicepw");
    refused(
        &broker,
        user("c", "carol", "carolpw"),
        &CONNACK_NOT_AUTHORISED,
    );
    refused(&broker, Connect::v311("n"), &CONNACK_NOT_AUTHORISED);
    let on_second = |connect: Connect, reply: &[u8]| {
        let mut c = raw_on_port(second);
        c.send(&connect.build());
        c.expect(reply);
        c
    };
    on_second(user("c", "carol", "carolpw"), &CONNACK_OK);
    on_second(Connect::v311("n"), &CONNACK_OK);
    on_second(user("a", "alice", "alicepw"), &CONNACK_NOT_AUTHORISED).expect_closed();
}

#[test]
fn per_listener_settings_reload_every_listeners_file() {
    let files = Files::new();
    let first = files.write("first", &entry(PBKDF2_FILE, "alice"));
    let second_file = files.write("second", &entry(SHA512_FILE, "carol"));
    let (broker, second) = Broker::start_config(broker_kind(), |a, b| {
        format!(
            "per_listener_settings true\n\
             listener {a} 127.0.0.1\npassword_file {first}\n\
             listener {b} 127.0.0.1\npassword_file {second_file}\n"
        )
    });
    files.write("second", &entry(SHA512_FILE, "dave"));
    reload(&broker);
    let mut c = raw_on_port(second);
    c.send(&user("d", "dave", "dävé-ünïcode").build());
    c.expect(&CONNACK_OK);
    connected_as(&broker, "a", "alice", "alicepw");
}

#[test]
fn test_config_checks_the_password_and_acl_files_too() {
    if midge_only() {
        return;
    }
    let files = Files::new();
    let good = files.write("good", PBKDF2_FILE);
    let acl = files.write("acl", "topic read a/#\nuser\n");
    let midge = env!("CARGO_BIN_EXE_midge");
    let check = |conf: &str| {
        let path = files.write("midge.conf", conf);
        common::clients::run(midge, &["--test-config", "-c", &path], None)
    };
    check(&format!("listener 1883\npassword_file {good}\n")).assert_success();
    // An unusable entry is dropped at start, as by mosquitto: the broker would run.
    let dropped = files.write("dropped", &format!("alice:alicepw\n{SHA512_FILE}"));
    check(&format!("listener 1883\npassword_file {dropped}\n")).assert_success();
    let missing = files.path("missing").display().to_string();
    let done = check(&format!("listener 1883\npassword_file {missing}\n"));
    done.assert_code(1);
    assert!(
        done.stderr
            .contains(&format!("Error: password file {missing}: unable to open")),
        "{}",
        done.describe()
    );
    let done = check(&format!("listener 1883\nacl_file {acl}\n"));
    done.assert_code(1);
    assert!(
        done.stderr
            .contains(&format!("Error: ACL file {acl}:2: missing username")),
        "{}",
        done.describe()
    );
}
