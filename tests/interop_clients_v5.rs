//! The clients' MQTT 5 features end to end: `-D` properties, `-x`, subscription options,
//! `-F` output and midge_rr, each scenario run two ways,
//!
//! - `midge_clients_against_mosquitto::*`: midge_pub/midge_sub/midge_rr against mosquitto
//!   2.0.11, whose MQTT 5 support is the reference;
//! - `midge_clients_against_midge::*`: the same against midge, ignored until the broker's
//!   MQTT 5 work lands.
//!
//! `MIDGE_TEST_CLIENTS=mosquitto` puts mosquitto_pub/mosquitto_sub/mosquitto_rr in place of
//! ours, which checks the scenarios themselves against the real programs (scenarios for
//! midge's own flags, `--nl` and `--rh`, then skip):
//!
//! ```text
//! MIDGE_TEST_CLIENTS=mosquitto cargo test --test interop_clients_v5
//! ```
//!
//! Synchronisation as in interop_clients.rs: unique `-i` ids, nothing published before the
//! broker logs `Sending SUBACK to <id>`, bounded waits, children killed on drop.

mod common;
use common::clients::{ClientPrograms, Finished, Proc, on_path, tool_available};
use common::{Broker, Kind};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use midge::client::{Client, ConnectOptions, Event};
use midge::protocol::{Properties, QoS, SubOptions, Version};

fn mosquitto_clients() -> bool {
    std::env::var("MIDGE_TEST_CLIENTS").as_deref() == Ok("mosquitto")
}

struct Setup {
    broker: Kind,
}

impl Setup {
    fn midge_clients_against_mosquitto() -> Setup {
        Setup {
            broker: Kind::Mosquitto,
        }
    }

    fn midge_clients_against_midge() -> Setup {
        Setup {
            broker: Kind::Midge,
        }
    }

    /// Starts the broker, or returns None when a tool is missing and the test is skipped.
    fn start(self) -> Option<Ctx> {
        let clients = ClientPrograms::midge();
        let rr = if mosquitto_clients() {
            "mosquitto_rr".to_string()
        } else {
            env!("CARGO_BIN_EXE_midge_rr").to_string()
        };
        let needed = [
            (
                clients.publisher.as_str(),
                "apt-get install mosquitto-clients",
            ),
            (
                clients.subscriber.as_str(),
                "apt-get install mosquitto-clients",
            ),
            (rr.as_str(), "apt-get install mosquitto-clients"),
            // The reference output comes from mosquitto_sub whatever the clients under test.
            ("mosquitto_sub", "apt-get install mosquitto-clients"),
        ];
        for (program, install) in needed {
            if !tool_available(on_path(program), program, install) {
                return None;
            }
        }
        if self.broker == Kind::Mosquitto
            && !tool_available(
                on_path("mosquitto"),
                "mosquitto",
                "apt-get install mosquitto",
            )
        {
            return None;
        }
        let broker = Broker::start_kind(self.broker, "");
        let port = broker.port.to_string();
        Some(Ctx {
            clients,
            rr,
            broker,
            port,
        })
    }
}

struct Ctx {
    clients: ClientPrograms,
    rr: String,
    broker: Broker,
    port: String,
}

impl Ctx {
    fn with_address<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-h", "127.0.0.1", "-p", self.port.as_str()];
        all.extend_from_slice(args);
        all
    }

    /// Starts `program` with id `id` and `args`, and waits until it is subscribed.
    fn sub_with(&self, program: &str, id: &str, args: &[&str]) -> Proc {
        let mut all = self.with_address(&["-i", id]);
        all.extend_from_slice(args);
        let mut sub = Proc::spawn(program, &all, None);
        sub.wait_subscribed(&self.broker, id);
        sub
    }

    /// Our subscriber (or mosquitto's, with `MIDGE_TEST_CLIENTS=mosquitto`).
    fn sub(&self, id: &str, args: &[&str]) -> Proc {
        self.sub_with(&self.clients.subscriber, id, args)
    }

    /// Runs our subscriber to completion: for runs that must end by themselves.
    fn run_sub(&self, args: &[&str]) -> Finished {
        common::clients::run(&self.clients.subscriber, &self.with_address(args), None)
    }

    /// Publishes with our publisher and asserts it succeeded.
    fn publish(&self, args: &[&str]) {
        let done = common::clients::run(&self.clients.publisher, &self.with_address(args), None);
        done.assert_success();
    }

    fn run_rr(&self, args: &[&str]) -> Finished {
        common::clients::run(&self.rr, &self.with_address(args), None)
    }
}

fn assert_printed(sub: Proc, expected: &str) {
    let done = sub.finish();
    done.assert_success();
    assert_eq!(done.stdout, expected, "{}", done.describe());
}

/// Scenarios for flags mosquitto's clients lack: skipped when they stand in for ours.
fn midge_flags_only() -> bool {
    if mosquitto_clients() {
        eprintln!("skipped: a midge-only flag");
        return true;
    }
    false
}

/// A client of the midge library that answers one request on `svc/#`: it publishes
/// "echo:PAYLOAD" to the request's response topic with the request's correlation data.
fn responder(t: &Ctx) -> JoinHandle<()> {
    let mut options = ConnectOptions::new("127.0.0.1", t.broker.port);
    options.version = Version::V5;
    options.client_id = "responder".into();
    let handle = std::thread::spawn(move || {
        let mut client = Client::connect(&options, None).expect("responder connects");
        let filter = [("svc/#".to_string(), SubOptions::qos(QoS::AtMostOnce))];
        client
            .subscribe(&filter, Properties::default())
            .expect("subscribe");
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(event) = client.poll(Some(deadline)).expect("responder polls") {
            let Event::Message { publish, .. } = event else {
                continue;
            };
            let request = publish.props();
            let topic = request.response_topic.clone().expect("a response topic");
            let reply = Properties {
                correlation_data: request.correlation_data.clone(),
                ..Properties::default()
            };
            let payload = [&b"echo:"[..], &publish.payload].concat();
            client
                .publish_with(&topic, payload.into(), QoS::AtMostOnce, false, &reply)
                .expect("reply");
            let _ = client.disconnect(0);
            return;
        }
        panic!("no request came");
    });
    t.broker.wait_for_log("Sending SUBACK to responder\n");
    handle
}

// ------------------------------------------------------------------------------------------
// Scenarios
// ------------------------------------------------------------------------------------------

/// `-D publish user-property` arrives: mosquitto_sub shows it with `%P`, and so do we.
fn user_properties_reach_subscribers(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let format = ["-V", "5", "-t", "up/t", "-C", "1", "-F", "%t %P"];
    let reference = t.sub_with("mosquitto_sub", "up_ref", &format);
    let ours = t.sub("up_sub", &format);
    t.publish(&[
        "-t",
        "up/t",
        "-m",
        "x",
        "-D",
        "publish",
        "user-property",
        "k1",
        "v1",
        "-D",
        "publish",
        "user-property",
        "k2",
        "v 2",
    ]);
    assert_printed(reference, "up/t k1:v1 k2:v 2\n");
    assert_printed(ours, "up/t k1:v1 k2:v 2\n");
}

/// `-F` prints what mosquitto_sub prints for the same message, byte for byte (`%j`'s
/// timestamp aside): fields, widths, properties in the broker's order, escapes.
fn format_matches_mosquitto_sub(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let format = "%t|%10p|%-6x|%X|%l|%q|%r|%m|%C|%R|%D|%E|%F|%P|%S|%5A|%%\\t@@|%j";
    let args = ["-V", "5", "-t", "fm/#", "-q", "1", "-C", "1", "-F", format];
    let reference = t.sub_with("mosquitto_sub", "fm_ref", &args);
    let ours = t.sub("fm_sub", &args);
    t.publish(&[
        "-t",
        "fm/a",
        "-q",
        "1",
        "-m",
        "pay\"load",
        "-D",
        "publish",
        "content-type",
        "text/x",
        "-D",
        "publish",
        "response-topic",
        "re/sp",
        "-D",
        "publish",
        "correlation-data",
        "c-9",
        "-D",
        "publish",
        "message-expiry-interval",
        "120",
        "-D",
        "publish",
        "payload-format-indicator",
        "1",
        "-D",
        "publish",
        "user-property",
        "a",
        "b",
    ]);
    let (reference, ours) = (reference.finish(), ours.finish());
    reference.assert_success();
    ours.assert_success();
    let tst = |out: &str| {
        let at = out.find("\"tst\":\"").map_or(0, |i| i + 7);
        format!("{}{}", &out[..at], &out[at + 32.min(out.len() - at)..])
    };
    assert_eq!(
        tst(&ours.stdout),
        tst(&reference.stdout),
        "{}",
        ours.describe()
    );
    assert!(
        reference.stdout.contains("|c-9|120|1|a:b|"),
        "{}",
        reference.describe()
    );
}

/// `-D publish response-topic` and `correlation-data` arrive as given.
fn request_properties_reach_subscribers(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let sub = t.sub_with(
        "mosquitto_sub",
        "rq_ref",
        &["-V", "5", "-t", "rq/t", "-C", "1", "-F", "%R %D %p"],
    );
    t.publish(&[
        "-t",
        "rq/t",
        "-m",
        "ask",
        "-D",
        "publish",
        "response-topic",
        "rs/t",
        "-D",
        "publish",
        "correlation-data",
        "id-1",
    ]);
    assert_printed(sub, "rs/t id-1 ask\n");
}

/// midge_rr asks, a responder answers on the response topic with the correlation data,
/// and midge_rr prints the answer and exits 0.
fn request_response(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let responder = responder(&t);
    let done = t.run_rr(&[
        "-t",
        "svc/echo",
        "-e",
        "rr/reply",
        "-m",
        "ping",
        "-D",
        "publish",
        "correlation-data",
        "c-1",
        "-F",
        "%t %p %D",
        "-W",
        "5",
    ]);
    responder.join().expect("responder");
    done.assert_success();
    assert_eq!(
        done.stdout,
        "rr/reply echo:ping c-1\n",
        "{}",
        done.describe()
    );
}

/// No answer within `-W`: "Timed out", exit code 27.
fn request_times_out(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let done = t.run_rr(&["-t", "svc/none", "-e", "rr/none", "-m", "x", "-W", "1"]);
    done.assert_code(27);
    assert_eq!(done.stderr, "Timed out\n", "{}", done.describe());
}

/// A retained message with `-D publish message-expiry-interval` is gone once it expires;
/// before that `%E` shows the time left.
fn message_expiry(setup: Setup) {
    let Some(t) = setup.start() else { return };
    let expiry = ["-D", "publish", "message-expiry-interval"];
    t.publish(&[&["-t", "ex/long", "-r", "-m", "kept"], &expiry[..], &["60"]].concat());
    t.publish(&[&["-t", "ex/short", "-r", "-m", "gone"], &expiry[..], &["1"]].concat());
    let kept = t.run_sub(&[
        "-V", "5", "-t", "ex/long", "-C", "1", "-W", "5", "-F", "%p %E",
    ]);
    kept.assert_success();
    let left: Vec<&str> = kept.stdout.trim_end().split(' ').collect();
    assert_eq!(left[0], "kept", "{}", kept.describe());
    assert!(
        matches!(left[1].parse::<u32>(), Ok(58..=60)),
        "{}",
        kept.describe()
    );
    std::thread::sleep(Duration::from_millis(2100));
    let gone = t.run_sub(&["-V", "5", "-t", "ex/short", "-W", "1"]);
    gone.assert_code(27);
    assert_eq!(gone.stdout, "", "{}", gone.describe());
    // Clean up, so the broker holds nothing retained for other scenarios.
    t.publish(&["-t", "ex/long", "-r", "-n"]);
}

/// `-c -x 60`: the session outlives the connection and gets what was published meanwhile;
/// `-c -x 0` (or no -c) does not.
fn session_expiry_keeps_the_session(setup: Setup) {
    let Some(t) = setup.start() else { return };
    for (id, expiry, kept) in [("x_keep", "60", true), ("x_drop", "0", false)] {
        let subscribe = [
            "-V", "5", "-c", "-i", id, "-x", expiry, "-q", "1", "-t", "xs/t", "-E",
        ];
        t.run_sub(&subscribe).assert_success();
        t.publish(&["-t", "xs/t", "-q", "1", "-m", &format!("for {id}")]);
        let again = [
            "-V", "5", "-c", "-i", id, "-x", expiry, "-q", "1", "-t", "xs/t", "-C", "1", "-W", "2",
        ];
        let done = t.run_sub(&again);
        if kept {
            done.assert_success();
            assert_eq!(done.stdout, format!("for {id}\n"), "{}", done.describe());
        } else {
            done.assert_code(27);
            assert_eq!(done.stdout, "", "{}", done.describe());
        }
    }
}

/// `--nl`: a persistent subscriber does not get its own will (the broker sends it on its
/// behalf, so it counts as its own publication); without `--nl` it does.
fn no_local(setup: Setup) {
    if midge_flags_only() {
        return;
    }
    let Some(t) = setup.start() else { return };
    for (id, flags, expected) in [("nl_off", &[][..], "bye\n"), ("nl_on", &["--nl"][..], "")] {
        let will = [
            "--will-topic",
            "nl/t",
            "--will-payload",
            "bye",
            "--will-qos",
            "1",
        ];
        let session = ["-V", "5", "-c", "-x", "60", "-q", "1", "-t", "nl/t"];
        let doomed = t.sub(id, &[&session[..], flags, &will[..]].concat());
        doomed.kill();
        t.broker
            .wait_for_log(&format!("Client {id} closed its connection"));
        let mut again = vec!["-i", id];
        again.extend_from_slice(&session);
        again.extend_from_slice(&["-C", "1", "-W", "2"]);
        let done = t.run_sub(&again);
        assert_eq!(done.stdout, expected, "{}", done.describe());
        done.assert_code(if expected.is_empty() { 27 } else { 0 });
    }
}

/// Retain handling: `--rh 2` (and `-R`) asks for no retained messages; `--rh 1` only for a
/// subscription the session did not have; `--retain-as-published` keeps the retain flag of
/// live messages.
fn retain_handling_and_retain_as_published(setup: Setup) {
    let Some(t) = setup.start() else { return };
    t.publish(&["-t", "rh/t", "-r", "-m", "stale"]);
    let base = ["-V", "5", "-t", "rh/t", "-W", "1", "-F", "%p %r"];
    let never = t.run_sub(&[&base[..], &["-R"]].concat());
    never.assert_code(27);
    assert_eq!(never.stdout, "", "{}", never.describe());
    // mosquitto_sub has --retain-as-published; live retained messages keep r1 with it.
    for (id, flags, expected) in [
        ("rap_off", &[][..], "live 0\n"),
        ("rap_on", &["--retain-as-published"][..], "live 1\n"),
    ] {
        let args = [
            &["-V", "5", "-t", "rh/live", "-C", "1", "-F", "%p %r"][..],
            flags,
        ]
        .concat();
        let sub = t.sub(id, &args);
        t.publish(&["-t", "rh/live", "-r", "-m", "live"]);
        assert_printed(sub, expected);
        t.publish(&["-t", "rh/live", "-r", "-n"]);
    }
    if !midge_flags_only() {
        let rh2 = t.run_sub(&[&base[..], &["--rh", "2"]].concat());
        rh2.assert_code(27);
        let session = [
            "-V", "5", "-c", "-i", "rh1", "-x", "60", "-t", "rh/t", "-W", "1",
        ];
        let first = t.run_sub(&[&session[..], &["--rh", "1", "-C", "1", "-F", "%p %r"]].concat());
        first.assert_success();
        assert_eq!(first.stdout, "stale 1\n", "{}", first.describe());
        let second = t.run_sub(&[&session[..], &["--rh", "1"]].concat());
        second.assert_code(27);
        assert_eq!(second.stdout, "", "{}", second.describe());
    }
    t.publish(&["-t", "rh/t", "-r", "-n"]);
}

// ------------------------------------------------------------------------------------------
// Instantiations
// ------------------------------------------------------------------------------------------

macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        mod midge_clients_against_mosquitto {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(super::Setup::midge_clients_against_mosquitto());
                }
            )*
        }
        mod midge_clients_against_midge {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(super::Setup::midge_clients_against_midge());
                }
            )*
        }
    };
}

scenarios!(
    user_properties_reach_subscribers,
    format_matches_mosquitto_sub,
    request_properties_reach_subscribers,
    request_response,
    request_times_out,
    message_expiry,
    session_expiry_keeps_the_session,
    no_local,
    retain_handling_and_retain_as_published,
);
