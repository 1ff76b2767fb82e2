//! Command-line clients against brokers: each scenario is written once and run three ways,
//!
//! - `mosquitto_clients_against_broker::*`: mosquitto_pub/mosquitto_sub against
//!   `Broker::start()` (midge; mosquitto with `MIDGE_TEST_BROKER=mosquitto`);
//! - `midge_clients_against_mosquitto::*`: midge_pub/midge_sub against mosquitto;
//! - `midge_clients_against_midge::*`: midge_pub/midge_sub against `Broker::start()`.
//!
//! `MIDGE_TEST_CLIENTS=mosquitto` puts mosquitto_pub/mosquitto_sub in place of
//! midge_pub/midge_sub, which checks the scenarios themselves against the real thing:
//!
//! ```text
//! MIDGE_TEST_BROKER=mosquitto MIDGE_TEST_CLIENTS=mosquitto cargo test --test interop_clients
//! ```
//!
//! Every expectation here (output, exit codes, error messages) is what mosquitto 2.0.11's
//! clients do; our clients are drop-in replacements, so they must do the same.
//!
//! Synchronisation: a subscriber is started with a unique `-i` id and nothing is published
//! until the broker log shows `Sending SUBACK to <id>`. Subscribers exit by themselves
//! (`-C N`) where they can; every wait is bounded and children are killed on drop.
//! Needs mosquitto and mosquitto-clients; without them the tests are skipped, or fail under CI.

mod common;
use common::clients::{ClientPrograms, Finished, Proc, on_path, tool_available};
use common::{Broker, Kind, broker_kind, free_port};
use std::time::{Duration, Instant};

/// Which clients talk to which broker.
struct Setup {
    clients: ClientPrograms,
    /// None: `Broker::start()`, which honours `MIDGE_TEST_BROKER`.
    broker: Option<Kind>,
}

impl Setup {
    fn mosquitto_clients_against_broker() -> Setup {
        Setup {
            clients: ClientPrograms::mosquitto(),
            broker: None,
        }
    }

    fn midge_clients_against_mosquitto() -> Setup {
        Setup {
            clients: ClientPrograms::midge(),
            broker: Some(Kind::Mosquitto),
        }
    }

    fn midge_clients_against_midge() -> Setup {
        Setup {
            clients: ClientPrograms::midge(),
            broker: None,
        }
    }

    /// Starts the broker, or returns None when a tool is missing and the test is skipped.
    fn start(self) -> Option<Ctx> {
        for program in [&self.clients.publisher, &self.clients.subscriber] {
            if !tool_available(
                on_path(program),
                program,
                "apt-get install mosquitto-clients",
            ) {
                return None;
            }
        }
        let kind = self.broker.unwrap_or_else(broker_kind);
        if kind == Kind::Mosquitto
            && !tool_available(
                on_path("mosquitto"),
                "mosquitto",
                "apt-get install mosquitto",
            )
        {
            return None;
        }
        let broker = Broker::start_kind(kind, "");
        let port = broker.port.to_string();
        Some(Ctx {
            clients: self.clients,
            broker,
            port,
        })
    }
}

/// A running broker and the clients to drive it with.
struct Ctx {
    clients: ClientPrograms,
    broker: Broker,
    port: String,
}

impl Ctx {
    /// `args` with `-h 127.0.0.1 -p PORT` in front.
    fn with_address<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-h", "127.0.0.1", "-p", self.port.as_str()];
        all.extend_from_slice(args);
        all
    }

    /// Starts the subscriber program with exactly `args`.
    fn spawn_sub(&self, args: &[&str]) -> Proc {
        Proc::spawn(&self.clients.subscriber, args, None)
    }

    /// Starts a subscriber with id `id` on this broker and waits until it is subscribed.
    fn sub(&self, id: &str, args: &[&str]) -> Proc {
        let mut all = self.with_address(&["-i", id]);
        all.extend_from_slice(args);
        let mut sub = self.spawn_sub(&all);
        sub.wait_subscribed(&self.broker, id);
        sub
    }

    /// Runs the publisher program with exactly `args` and `stdin`.
    fn run_pub(&self, args: &[&str], stdin: Option<&[u8]>) -> Finished {
        common::clients::run(&self.clients.publisher, args, stdin)
    }

    /// Publishes to this broker and asserts the publisher succeeded.
    fn publish(&self, args: &[&str]) -> Finished {
        let done = self.run_pub(&self.with_address(args), None);
        done.assert_success();
        done
    }

    /// Publishes with `stdin` to this broker and asserts the publisher succeeded.
    fn publish_stdin(&self, args: &[&str], stdin: &[u8]) -> Finished {
        let done = self.run_pub(&self.with_address(args), Some(stdin));
        done.assert_success();
        done
    }

    /// Asserts some line of the broker log contains all of `parts`.
    /// Waits for a broker log line that contains all of `parts`: the log reaches the test
    /// through a pipe, so a line may still be on its way when a client has already exited.
    fn assert_log_line(&self, parts: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.broker.log();
            if log
                .lines()
                .any(|line| parts.iter().all(|p| line.contains(p)))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no broker log line contains all of {parts:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the broker log shows `needle`, so that what it stands for has happened.
    fn wait_for_log(&self, needle: &str) {
        self.broker.wait_for_log(needle);
    }
}

/// Asserts a subscriber exited by itself with code 0 and printed exactly `expected`.
fn assert_printed(sub: Proc, expected: &str) {
    let done = sub.finish();
    done.assert_success();
    assert_eq!(done.stdout, expected, "{}", done.describe());
}

// ------------------------------------------------------------------------------------------
// Scenarios. Each takes a `Setup` and returns early (skipped) when a tool is missing.
// ------------------------------------------------------------------------------------------

/// The README walkthrough: `sub -t wony`, `pub -t wony -m "Topic wony message"`, on the
/// default host (localhost); the subscriber prints each message as it arrives.
fn readme_walkthrough(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let port = t.port.as_str();
    let mut sub = t.spawn_sub(&["-p", port, "-i", "wony_sub", "-t", "wony"]);
    sub.wait_subscribed(&t.broker, "wony_sub");
    t.run_pub(
        &["-p", port, "-t", "wony", "-m", "Topic wony message"],
        None,
    )
    .assert_success();
    // The subscriber keeps running: it must print (and flush) the message as it comes.
    sub.wait_for_stdout("Topic wony message\n");
    let done = sub.kill();
    assert_eq!(done.stdout, "Topic wony message\n", "{}", done.describe());
}

/// `-h 127.0.0.1 -p PORT`: an IP address as the host.
fn ip_address_host(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("ip_sub", &["-t", "ip_addr_wony", "-C", "1"]);
    t.publish(&["-t", "ip_addr_wony", "-m", "wony ip go message1"]);
    assert_printed(sub, "wony ip go message1\n");
}

/// `-v` prints `topic payload`.
fn verbose_prints_topic_and_payload(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("v_sub", &["-t", "verbose/topic", "-v", "-C", "1"]);
    t.publish(&["-t", "verbose/topic", "-m", "hello world"]);
    assert_printed(sub, "verbose/topic hello world\n");
}

/// `-C 3` keeps going after two messages and exits with code 0 after the third.
fn count_exits_after_three(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let mut sub = t.sub("count_sub", &["-t", "count", "-C", "3"]);
    t.publish(&["-t", "count", "-m", "one"]);
    t.publish(&["-t", "count", "-m", "two"]);
    sub.wait_for_stdout("one\ntwo\n");
    std::thread::sleep(Duration::from_millis(100));
    assert!(sub.is_running(), "-C 3 exited after two messages");
    t.publish(&["-t", "count", "-m", "three"]);
    assert_printed(sub, "one\ntwo\nthree\n");
}

/// `-q 1` on both sides: the message goes both ways with PUBACKs.
fn qos1_roundtrip(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("q1_sub", &["-t", "qos/1", "-q", "1", "-C", "1"]);
    t.publish(&["-i", "q1_pub", "-t", "qos/1", "-q", "1", "-m", "qos one"]);
    assert_printed(sub, "qos one\n");
    t.assert_log_line(&["Received PUBLISH from q1_pub (d0, q1,", "'qos/1'"]);
    t.assert_log_line(&["Sending PUBACK to q1_pub"]);
    t.assert_log_line(&["Sending PUBLISH to q1_sub (d0, q1,", "'qos/1'"]);
    t.wait_for_log("Received PUBACK from q1_sub");
}

/// `-q 2` on both sides: the whole PUBREC/PUBREL/PUBCOMP exchange on both legs.
fn qos2_roundtrip(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("q2_sub", &["-t", "qos/2", "-q", "2", "-C", "1"]);
    t.publish(&["-i", "q2_pub", "-t", "qos/2", "-q", "2", "-m", "qos two"]);
    assert_printed(sub, "qos two\n");
    t.assert_log_line(&["Received PUBLISH from q2_pub (d0, q2,", "'qos/2'"]);
    t.assert_log_line(&["Received PUBREL from q2_pub"]);
    t.assert_log_line(&["Sending PUBCOMP to q2_pub"]);
    t.assert_log_line(&["Sending PUBLISH to q2_sub (d0, q2,", "'qos/2'"]);
    t.wait_for_log("Received PUBCOMP from q2_sub");
}

/// Published at QoS 2 to a subscription at QoS 1: delivered at QoS 1.
fn qos_is_min_of_pub_and_sub(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("qmin_sub", &["-t", "qos/min", "-q", "1", "-C", "1"]);
    t.publish(&[
        "-i",
        "qmin_pub",
        "-t",
        "qos/min",
        "-q",
        "2",
        "-m",
        "downgraded",
    ]);
    assert_printed(sub, "downgraded\n");
    t.assert_log_line(&["Received PUBLISH from qmin_pub (d0, q2,"]);
    t.assert_log_line(&["Sending PUBLISH to qmin_sub (d0, q1,"]);
}

/// `pub -r`: a later subscriber gets the retained message (flagged retained).
fn retained_delivered_to_later_subscriber(setup: Setup) {
    let Some(t) = setup.start() else { return };
    t.publish(&["-t", "ret/status", "-m", "kept", "-r"]);
    let sub = t.sub("ret_sub", &["-t", "ret/status", "-v", "-C", "1"]);
    assert_printed(sub, "ret/status kept\n");
    t.assert_log_line(&["Sending PUBLISH to ret_sub (d0, q0, r1,", "'ret/status'"]);
}

/// `sub -R` does not print retained messages, only new ones.
fn retained_skipped_with_no_stale(setup: Setup) {
    let Some(t) = setup.start() else { return };
    t.publish(&["-t", "ret/stale", "-m", "stale", "-r"]);
    let sub = t.sub("stale_sub", &["-t", "ret/stale", "-R", "-C", "1"]);
    // The broker does send the retained message; the client drops it.
    t.wait_for_log("Sending PUBLISH to stale_sub (d0, q0, r1,");
    t.publish(&["-t", "ret/stale", "-m", "fresh"]);
    assert_printed(sub, "fresh\n");
}

/// `sub -W 1` with nothing to receive: after about a second it prints "Timed out" on stderr
/// and exits with code 27 (mosquitto_sub's exit code for -W, which is ETIMEDOUT on Linux).
fn timeout_exits_with_code_27(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let started = Instant::now();
    let sub = t.sub("w_sub", &["-t", "silence", "-W", "1"]);
    let done = sub.finish();
    done.assert_code(27);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "-W 1 exited after {elapsed:?}"
    );
    assert_eq!(done.stdout, "", "{}", done.describe());
    assert!(done.stderr.contains("Timed out"), "{}", done.describe());
}

/// `-t 'a/+/c'` matches exactly one level.
fn wildcard_plus(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("plus_sub", &["-t", "a/+/c", "-v", "-C", "1"]);
    // The non-matching topics go first: had one been delivered, it would be printed first.
    for topic in ["a/b/d", "a/b/c/d", "a/c", "b/b/c", "a/b/c"] {
        t.publish(&["-t", topic, "-m", "m"]);
    }
    assert_printed(sub, "a/b/c m\n");
}

/// `-t '#'` matches every topic, at any depth.
fn wildcard_hash(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("hash_sub", &["-t", "#", "-v", "-C", "3"]);
    for topic in ["x", "a/b", "a/b/c/d"] {
        t.publish(&["-t", topic, "-m", "m"]);
    }
    assert_printed(sub, "x m\na/b m\na/b/c/d m\n");
}

/// Several `-t`: all of them are subscribed.
fn multiple_topics(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let mut sub = t.sub(
        "multi_sub",
        &["-t", "multi/one", "-t", "multi/two", "-v", "-C", "2"],
    );
    // Subscribed to both filters (mosquitto logs each one under "Received SUBSCRIBE").
    sub.wait_for_log_count(&t.broker, "\tmulti/one (QoS 0)", 1);
    sub.wait_for_log_count(&t.broker, "\tmulti/two (QoS 0)", 1);
    t.publish(&["-t", "multi/three", "-m", "3"]);
    t.publish(&["-t", "multi/one", "-m", "1"]);
    t.publish(&["-t", "multi/two", "-m", "2"]);
    assert_printed(sub, "multi/one 1\nmulti/two 2\n");
}

/// `-T` filters out matching topics from what is printed.
fn filter_out(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub(
        "filt_sub",
        &["-t", "f/#", "-T", "f/secret/#", "-v", "-C", "1"],
    );
    t.publish(&["-t", "f/secret/x", "-m", "hidden"]);
    t.wait_for_log("Sending PUBLISH to filt_sub (d0, q0, r0, m0, 'f/secret/x'");
    t.publish(&["-t", "f/ok", "-m", "visible"]);
    assert_printed(sub, "f/ok visible\n");
}

/// `-V <version>` on both clients: they connect with that protocol level (the broker logs it
/// as `(pN, ...)`) and the message goes through.
fn protocol_version(setup: Setup, version: &str, level: &str) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("ver_sub", &["-V", version, "-t", "ver", "-C", "1"]);
    t.publish(&[
        "-V",
        version,
        "-i",
        "ver_pub",
        "-t",
        "ver",
        "-m",
        "versioned",
    ]);
    assert_printed(sub, "versioned\n");
    t.assert_log_line(&[
        "New client connected from",
        &format!(" as ver_sub ({level},"),
    ]);
    t.assert_log_line(&[
        "New client connected from",
        &format!(" as ver_pub ({level},"),
    ]);
}

fn protocol_v31(setup: Setup) {
    protocol_version(setup, "31", "p1");
}

fn protocol_v311(setup: Setup) {
    protocol_version(setup, "311", "p2");
}

/// mosquitto's clients take the long names (mqttv31, mqttv311, mqttv5) as well as the numbers.
fn protocol_mqttv311(setup: Setup) {
    protocol_version(setup, "mqttv311", "p2");
}

fn protocol_v5(setup: Setup) {
    protocol_version(setup, "5", "p5");
}

fn protocol_mqttv5(setup: Setup) {
    protocol_version(setup, "mqttv5", "p5");
}

/// `-V 4` is not a version mosquitto's clients know (3.1.1 is "311" or "mqttv311").
fn bad_protocol_version(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let pub_done = t.run_pub(&t.with_address(&["-V", "4", "-t", "x", "-m", "y"]), None);
    let sub_done = common::clients::run(
        &t.clients.subscriber,
        &t.with_address(&["-V", "4", "-t", "x"]),
        None,
    );
    for done in [pub_done, sub_done] {
        done.assert_code(1);
        assert!(
            done.stderr
                .starts_with("Error: Invalid protocol version argument given."),
            "{}",
            done.describe()
        );
    }
}

/// `pub -n` sends a zero-length message. mosquitto_sub prints nothing at all for an empty
/// payload (not even a newline), and with `-v` prints `topic (null)`.
fn null_message(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let verbose = t.sub("nullv_sub", &["-t", "null/t", "-v", "-C", "1"]);
    let plain = t.sub("null_sub", &["-t", "null/t", "-C", "2"]);
    t.publish(&["-i", "null_pub", "-t", "null/t", "-n"]);
    t.publish(&["-t", "null/t", "-m", "after"]);
    assert_printed(verbose, "null/t (null)\n");
    assert_printed(plain, "after\n");
    t.assert_log_line(&["Received PUBLISH from null_pub (d0, q0, r0,", "(0 bytes)"]);
}

/// `pub -f FILE` sends the file's contents, byte for byte, as one message.
fn message_from_file(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("payload.txt");
    std::fs::write(&path, "first line\nsecond line\n").expect("write payload");
    let sub = t.sub("file_sub", &["-t", "file/t", "-C", "1"]);
    let path = path.to_str().expect("utf-8 path");
    t.publish(&["-i", "file_pub", "-t", "file/t", "-f", path]);
    assert_printed(sub, "first line\nsecond line\n\n");
    t.assert_log_line(&["Received PUBLISH from file_pub", "(23 bytes)"]);
}

/// `pub -l` sends one message per line of standard input, without the newline.
fn lines_from_stdin(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("lines_sub", &["-t", "lines/t", "-C", "3"]);
    t.publish_stdin(
        &["-i", "lines_pub", "-t", "lines/t", "-l"],
        b"one\ntwo\nthree\n",
    );
    assert_printed(sub, "one\ntwo\nthree\n");
    t.assert_log_line(&["Received PUBLISH from lines_pub", "(3 bytes)"]);
    t.assert_log_line(&["Received PUBLISH from lines_pub", "(5 bytes)"]);
}

/// `pub -s` sends all of standard input as a single message.
fn whole_stdin(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub("stdin_sub", &["-t", "stdin/t", "-C", "1"]);
    t.publish_stdin(
        &["-i", "stdin_pub", "-t", "stdin/t", "-s"],
        b"all\nof\nit\n",
    );
    assert_printed(sub, "all\nof\nit\n\n");
    // Everything the publisher sent is logged once it is seen to disconnect.
    t.wait_for_log("Client stdin_pub disconnected.");
    let log = t.broker.log();
    assert_eq!(
        log.matches("Received PUBLISH from stdin_pub").count(),
        1,
        "-s sent more than one message; log:\n{log}"
    );
    t.assert_log_line(&["Received PUBLISH from stdin_pub", "(10 bytes)"]);
}

/// `-i` sets the client id, which the broker logs on connect.
fn client_id_in_broker_log(setup: Setup) {
    let Some(t) = setup.start() else { return };
    t.publish(&["-i", "myid", "-t", "id/t", "-m", "x"]);
    t.assert_log_line(&["New client connected from 127.0.0.1:", " as myid ("]);
}

/// `-u/-P` are accepted by a broker that allows anonymous access; the username is logged.
fn username_and_password(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub(
        "user_sub",
        &["-u", "alice", "-P", "secret", "-t", "user/t", "-C", "1"],
    );
    t.publish(&[
        "-i", "user_pub", "-u", "bob", "-P", "pw", "-t", "user/t", "-m", "hi",
    ]);
    assert_printed(sub, "hi\n");
    t.assert_log_line(&[" as user_sub (", "u'alice'"]);
    t.assert_log_line(&[" as user_pub (", "u'bob'"]);
}

/// Nothing listens on the port: "Error: Connection refused" on stderr, exit code 1.
fn connection_refused(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let closed = free_port().to_string();
    let pub_done = t.run_pub(
        &["-h", "127.0.0.1", "-p", &closed, "-t", "x", "-m", "y"],
        None,
    );
    let sub_done = common::clients::run(
        &t.clients.subscriber,
        &["-h", "127.0.0.1", "-p", &closed, "-t", "x"],
        None,
    );
    for done in [pub_done, sub_done] {
        done.assert_code(1);
        assert!(
            done.stderr.contains("Error: Connection refused"),
            "{}",
            done.describe()
        );
    }
}

/// An unknown option: "Error: Unknown option '--bogus'." on stderr, exit code 1.
fn bad_flag(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let pub_done = t.run_pub(&t.with_address(&["--bogus", "-t", "x", "-m", "y"]), None);
    let sub_done = common::clients::run(
        &t.clients.subscriber,
        &t.with_address(&["--bogus", "-t", "x"]),
        None,
    );
    for done in [pub_done, sub_done] {
        done.assert_code(1);
        assert!(
            done.stderr.starts_with("Error: Unknown option '--bogus'."),
            "{}",
            done.describe()
        );
    }
}

/// `sub -c -i id -q 1`: messages published while it is away arrive when it comes back.
fn persistent_session(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let args = ["-c", "-q", "1", "-t", "persist/t"];
    let first = t.sub("persist_sub", &[&args[..], &["-C", "1"]].concat());
    t.publish(&["-t", "persist/t", "-q", "1", "-m", "present"]);
    assert_printed(first, "present\n");
    t.assert_log_line(&[" as persist_sub (", ", c0,"]);
    t.wait_for_log("Client persist_sub disconnected.");

    t.publish(&["-t", "persist/t", "-q", "1", "-m", "away one"]);
    t.publish(&["-t", "persist/t", "-q", "2", "-m", "away two"]);

    // No need to wait for its SUBSCRIBE: the queued messages come with the session.
    let back =
        t.spawn_sub(&t.with_address(&[&["-i", "persist_sub"], &args[..], &["-C", "2"]].concat()));
    assert_printed(back, "away one\naway two\n");
}

/// `--will-topic/--will-payload`: published by the broker when the client is killed.
fn will_on_kill(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let watcher = t.sub("watcher", &["-t", "will/t", "-v", "-C", "1"]);
    let doomed = t.sub(
        "doomed",
        &[
            "-t",
            "doomed/t",
            "--will-topic",
            "will/t",
            "--will-payload",
            "doomed is gone",
        ],
    );
    doomed.kill();
    assert_printed(watcher, "will/t doomed is gone\n");
}

// ------------------------------------------------------------------------------------------
// Instantiations: one module per setup, one #[test] per scenario.
// ------------------------------------------------------------------------------------------

macro_rules! instantiate {
    ($setup:ident: $($scenario:ident),* $(,)?) => {
        mod $setup {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(super::Setup::$setup());
                }
            )*
        }
    };
}

macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        instantiate!(mosquitto_clients_against_broker: $($scenario),*);
        instantiate!(midge_clients_against_mosquitto: $($scenario),*);
        instantiate!(midge_clients_against_midge: $($scenario),*);
    };
}

scenarios!(
    readme_walkthrough,
    ip_address_host,
    verbose_prints_topic_and_payload,
    count_exits_after_three,
    qos1_roundtrip,
    qos2_roundtrip,
    qos_is_min_of_pub_and_sub,
    retained_delivered_to_later_subscriber,
    retained_skipped_with_no_stale,
    timeout_exits_with_code_27,
    wildcard_plus,
    wildcard_hash,
    multiple_topics,
    filter_out,
    protocol_v31,
    protocol_v311,
    protocol_mqttv311,
    protocol_v5,
    protocol_mqttv5,
    bad_protocol_version,
    null_message,
    message_from_file,
    lines_from_stdin,
    whole_stdin,
    client_id_in_broker_log,
    username_and_password,
    connection_refused,
    bad_flag,
    persistent_session,
    will_on_kill,
);
