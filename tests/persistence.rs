//! `persistence true`: retained messages survive restarts, kill -9 and damaged files, and
//! an acknowledgement leaves only once what it acknowledges is written.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use common::packets::*;
use common::{Broker, Raw};

fn persistent_broker(dir: &Path, extra: &str) -> Broker {
    // As root, the broker would give root up for `mosquitto`, who cannot write the test's
    // directory.
    Broker::start_with(&format!(
        "user root\npersistence true\npersistence_location {}\n{extra}",
        dir.display()
    ))
}

/// A PUBLISH as the broker sends it to an MQTT 3.1.1 client: topic, payload, retain flag.
fn parse_publish(packet: &[u8]) -> (String, Vec<u8>, bool) {
    assert_eq!(packet[0] >> 4, 3, "not a PUBLISH: {packet:02x?}");
    let qos = (packet[0] >> 1) & 3;
    let mut at = 1;
    while packet[at] & 0x80 != 0 {
        at += 1;
    }
    at += 1;
    let len = usize::from(u16::from_be_bytes([packet[at], packet[at + 1]]));
    let topic = String::from_utf8(packet[at + 2..at + 2 + len].to_vec()).expect("utf-8 topic");
    at += 2 + len + if qos > 0 { 2 } else { 0 };
    (topic, packet[at..].to_vec(), packet[0] & 1 == 1)
}

/// The retained messages a new subscriber to `#` gets, by topic; `marker` is published
/// after subscribing, so that its arrival ends the list.
fn retained(broker: &Broker) -> HashMap<String, Vec<u8>> {
    let mut sub = Raw::subscribed(broker, "reader", "#", 0);
    let mut publisher = Raw::connected(broker, "marker");
    publisher.send(&publish("marker", b"end", 0, false, 0));
    let mut found = HashMap::new();
    loop {
        let (topic, payload, retain) = parse_publish(&sub.recv_packet());
        if topic == "marker" && !retain {
            return found;
        }
        assert!(retain, "{topic} came without its retain flag");
        found.insert(topic, payload);
    }
}

/// Whether the file at `journal` holds `text`, read now, by this process.
fn holds(journal: &Path, text: &str) -> bool {
    let written = std::fs::read(journal).expect("read journal");
    written.windows(text.len()).any(|w| w == text.as_bytes())
}

fn map(entries: &[(&str, &str)]) -> HashMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(t, p)| (t.to_string(), p.as_bytes().to_vec()))
        .collect()
}

#[test]
fn retained_messages_survive_a_clean_restart_and_a_kill() {
    if common::midge_only() {
        return; // mosquitto's persistence saves only at its autosave and at exit
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log(
        "Restored 0 sessions with 0 subscriptions, 0 held messages and 0 delayed wills, 0 retained messages (0 expired)",
    );
    let mut publisher = Raw::connected(&broker, "publisher");
    publisher.send(&publish("a/1", b"first", 1, true, 1));
    publisher.expect(&puback(1));
    publisher.send(&publish("a/2", b"zero", 0, true, 0));
    publisher.send(&publish("a/3", b"gone soon", 1, true, 2));
    publisher.expect(&puback(2));
    publisher.send(&publish("a/3", b"", 1, true, 3)); // deletes a/3
    publisher.expect(&puback(3));
    publisher.send(&publish("a/1", b"second", 1, true, 4));
    publisher.expect(&puback(4));
    let expected = map(&[("a/1", "second"), ("a/2", "zero")]);
    assert_eq!(retained(&broker), expected);

    drop(broker); // SIGKILL: nothing is saved on the way out
    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log(", 2 retained messages (0 expired), from 1 file(s), 5 records");
    assert_eq!(retained(&broker), expected);

    broker.signal("TERM");
    let mut broker = broker;
    broker
        .wait_exit(common::REPLY_TIMEOUT)
        .expect("exits on SIGTERM");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("name"))
        .collect();
    assert_eq!(names, ["mosquitto.db"], "shut-down leaves one snapshot");
    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log(", 2 retained messages (0 expired), from 1 file(s), 2 records");
    assert_eq!(retained(&broker), expected);
}

/// With `persistence_sync write` (the default), a PUBACK means the message is in the
/// journal: read back by another process the moment the PUBACK arrives, it is there.
#[test]
fn a_puback_leaves_only_after_its_retained_message_is_written() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = persistent_broker(dir.path(), "");
    let journal = dir.path().join("mosquitto.db.1.log");
    let mut publisher = Raw::connected(&broker, "publisher");
    for i in 1..=200u16 {
        let payload = format!("value-{i:05}");
        publisher.send(&publish("t", payload.as_bytes(), 1, true, i));
        publisher.expect(&puback(i));
        assert!(
            holds(&journal, &payload),
            "PUBACK {i} arrived before its message was written"
        );
    }
}

/// Ten times: retained updates pipelined at QoS 1, the broker killed at a random moment,
/// its journal perhaps damaged the way crashes and power losses damage files, and
/// restarted. Each topic's retained value is never older than the last one acknowledged
/// (unless the damage cut into the journal itself) nor one that was never sent, and the
/// broker always starts and serves.
#[test]
fn kill_9_under_load_loses_nothing_acknowledged_and_damage_never_stops_the_broker() {
    if common::midge_only() {
        return;
    }
    const TOPICS: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut acked = [0u32; TOPICS];
    let mut sent = [0u32; TOPICS];
    let mut counter = 0u32;
    let mut cut = false;
    for round in 0..10 {
        let broker = persistent_broker(dir.path(), "");
        let found = retained(&broker);
        for t in 0..TOPICS {
            let topic = format!("k/{t}");
            let value = found.get(&topic).map_or(0, |p| {
                std::str::from_utf8(p)
                    .expect("utf-8")
                    .parse::<u32>()
                    .expect("a number")
            });
            assert!(
                value <= sent[t],
                "round {round}: {topic} = {value}, never sent"
            );
            // A tail cut short may take acknowledged records with it; nothing else may.
            if !cut {
                assert!(
                    value >= acked[t],
                    "round {round}: {topic} = {value}, but {} was acknowledged",
                    acked[t]
                );
            }
            acked[t] = value;
        }
        // Pipelined: up to 32 unacknowledged, the kill after a random number of PUBACKs.
        let mut publisher = Raw::connected(&broker, "publisher");
        let kill_after = 50 + random(400) as u32;
        let mut in_flight = std::collections::VecDeque::new();
        let mut acks = 0;
        while acks < kill_after {
            while in_flight.len() < 32 {
                counter += 1;
                let t = (counter as usize) % TOPICS;
                let id = (counter % 65535 + 1) as u16;
                let payload = counter.to_string();
                publisher.send(&publish(&format!("k/{t}"), payload.as_bytes(), 1, true, id));
                sent[t] = counter;
                in_flight.push_back((id, t, counter));
            }
            let (id, t, value) = in_flight.pop_front().expect("in flight");
            publisher.expect(&puback(id));
            acked[t] = value;
            acks += 1;
        }
        drop(broker); // SIGKILL
        let journals: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        let newest = journals.iter().max().expect("a journal");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(newest)
            .expect("open journal");
        let damage = round % 4;
        match damage {
            1 => file.write_all(&[0; 4096]).expect("zeros"),
            2 => file
                .write_all(b"\x10\x00\x00\x00garbage after the last record")
                .expect("garbage"),
            3 => {
                let len = file.metadata().expect("metadata").len();
                file.set_len(len - 1 - random(len / 4)).expect("cut");
            }
            _ => {}
        }
        cut = damage == 3;
    }
}

/// A session that outlives its connection keeps its subscriptions across a kill -9: the
/// client is told its session is present and gets what is published for it, with packet
/// identifiers going on from where they were. A clean session and one unsubscribed from
/// leave nothing behind.
#[test]
fn persistent_sessions_and_their_subscriptions_survive_a_kill() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = persistent_broker(dir.path(), "");
    let mut kept = Raw::connected_persistent(&broker, "kept", false);
    kept.send(&subscribe(1, "news/#", 1));
    kept.expect(&suback(1, 1));
    kept.send(&subscribe(2, "gone", 1));
    kept.expect(&suback(2, 1));
    kept.send(&unsubscribe(3, "gone"));
    kept.expect(&unsuback(3));
    let mut publisher = Raw::connected(&broker, "publisher");
    publisher.send(&publish("news/1", b"one", 1, false, 1));
    publisher.expect(&puback(1));
    kept.expect(&publish("news/1", b"one", 1, false, 1));
    kept.send(&puback(1));
    let mut clean = Raw::connected(&broker, "clean");
    clean.send(&subscribe(1, "news/#", 1));
    clean.expect(&suback(1, 1));
    kept.send(&DISCONNECT);
    kept.expect_closed();
    clean.send(&DISCONNECT);
    clean.expect_closed();
    // Its PUBACK waits for every record made before it, the count of packet ids that
    // kept's disconnect recorded included.
    publisher.send(&publish("marker", b"m", 1, true, 9));
    publisher.expect(&puback(9));
    drop(broker); // SIGKILL

    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log("Restored 1 sessions with 1 subscriptions");
    Raw::handshake(
        &broker,
        &connect_v311("clean", false, 60),
        &connack(false, 0),
    );
    let mut kept = Raw::connected_persistent(&broker, "kept", true);
    let mut publisher = Raw::connected(&broker, "publisher");
    publisher.send(&publish("gone", b"no one", 1, false, 1));
    publisher.expect(&puback(1));
    publisher.send(&publish("news/2", b"two", 1, false, 2));
    publisher.expect(&puback(2));
    kept.expect(&publish("news/2", b"two", 1, false, 2));
}

/// A SUBACK means the subscription is in the journal when it arrives.
#[test]
fn a_suback_leaves_only_after_its_subscription_is_written() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = persistent_broker(dir.path(), "");
    let journal = dir.path().join("mosquitto.db.1.log");
    let mut client = Raw::connected_persistent(&broker, "subscriber", false);
    for i in 1..=100u16 {
        let filter = format!("filter/{i:05}");
        client.send(&subscribe(i, &filter, 0));
        client.expect(&suback(i, 0));
        assert!(
            holds(&journal, &filter),
            "SUBACK {i} arrived before its subscription was written"
        );
    }
}

/// A `persistence_location` that cannot be a directory stops the broker at start-up with
/// the path in the error, rather than running without the persistence it was asked for.
#[test]
fn a_location_that_cannot_be_written_is_an_error_at_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let location = file.join("state");
    let conf = dir.path().join("midge.conf");
    let text = format!(
        "user root\nlistener 0 127.0.0.1\npersistence true\npersistence_location {}\n",
        location.display()
    );
    std::fs::write(&conf, text).expect("write config");
    let conf = conf.display().to_string();
    let done = common::clients::run(env!("CARGO_BIN_EXE_midge"), &["-c", &conf], None);
    assert_eq!(done.code, Some(1), "{}", done.describe());
    let expected = format!(
        "Error: Unable to open persistence files: {}",
        location.display()
    );
    assert!(done.stderr.contains(&expected), "{}", done.describe());
}

/// Messages queued for an offline session, published at QoS 1 and 2, survive a kill -9
/// and come out in order with the packet identifiers they were given; where its client
/// left them half acknowledged (a QoS 1 message not acknowledged, a QoS 2 one received
/// but not completed), they survive a clean restart through the snapshot, and the flows
/// resume: the QoS 1 message is sent again, the QoS 2 one is released with PUBREL.
#[test]
fn queued_and_in_flight_messages_survive_a_kill_and_a_restart() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = persistent_broker(dir.path(), "");
    Raw::offline_subscriber(&broker, "q", "q/#", 2);
    let mut publisher = Raw::connected(&broker, "publisher");
    let qos = |i: u16| 2 - (i % 2) as u8;
    let payload = |i: u16| format!("message {i}").into_bytes();
    for i in 1..=20u16 {
        publisher.send(&publish(&format!("q/{i}"), &payload(i), qos(i), false, i));
        if qos(i) == 1 {
            publisher.expect(&puback(i));
        } else {
            // The PUBREC leaves once the message is on disk, waiting for its PUBREL.
            publisher.expect(&pubrec(i));
            publisher.send(&pubrel(i));
            publisher.expect(&pubcomp(i));
        }
    }
    drop(broker); // SIGKILL

    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log("Restored 1 sessions with 1 subscriptions, 20 held messages");
    let mut q = Raw::connected_persistent(&broker, "q", true);
    for i in 1..=20u16 {
        q.expect(&publish(&format!("q/{i}"), &payload(i), qos(i), false, i));
    }
    // All but 3 acknowledged; 4 received but never completed.
    for i in (1..=20u16).filter(|&i| i != 3) {
        q.send(&if qos(i) == 1 { puback(i) } else { pubrec(i) });
    }
    for i in (2..=20u16).step_by(2) {
        q.expect(&pubrel(i));
        if i != 4 {
            q.send(&pubcomp(i));
        }
    }
    // Everything q said is taken in before the shut-down.
    q.send(&PINGREQ);
    q.expect(&PINGRESP);
    broker.signal("TERM");
    let mut broker = broker;
    broker
        .wait_exit(common::REPLY_TIMEOUT)
        .expect("exits on SIGTERM");

    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log("Restored 1 sessions with 1 subscriptions, 2 held messages");
    let mut q = Raw::connected_persistent(&broker, "q", true);
    q.expect(&pubrel(4));
    q.expect(&publish("q/3", &payload(3), 1, false, 3));
    q.send(&pubcomp(4));
    q.send(&puback(3));
    let mut publisher = Raw::connected(&broker, "publisher");
    publisher.send(&publish("q/marker", b"end", 1, false, 1));
    publisher.expect(&puback(1));
    // Identifiers go on after the last one given out.
    q.expect(&publish("q/marker", b"end", 1, false, 21));
}

/// An inbound QoS 2 message whose PUBREC was sent is kept until its PUBREL, across a
/// kill: the publisher that comes back and releases it has it delivered, once.
#[test]
fn an_inbound_qos2_message_awaiting_pubrel_survives_a_kill() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = persistent_broker(dir.path(), "");
    Raw::offline_subscriber(&broker, "reader", "in/#", 2);
    let mut publisher = Raw::connected_persistent(&broker, "writer", false);
    publisher.send(&publish("in/1", b"exactly once", 2, false, 7));
    publisher.expect(&pubrec(7));
    drop(broker); // SIGKILL

    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log("Restored 2 sessions with 1 subscriptions, 1 held messages");
    let mut publisher = Raw::connected_persistent(&broker, "writer", true);
    publisher.send(&pubrel(7));
    publisher.expect(&pubcomp(7));
    // A second PUBREL finds nothing to release.
    publisher.send(&pubrel(7));
    publisher.expect(&pubcomp(7));
    publisher.send(&publish("in/marker", b"end", 1, false, 8));
    publisher.expect(&puback(8));
    let mut reader = Raw::connected_persistent(&broker, "reader", true);
    reader.expect(&publish("in/1", b"exactly once", 2, false, 1));
    reader.expect(&publish("in/marker", b"end", 1, false, 2));
}

/// Files written by midge's first persistence format (retained messages, sessions and
/// subscriptions; made by f2f4179: a snapshot and, after a kill, a journal) still open,
/// with everything in them.
#[test]
fn files_of_the_first_format_are_read() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/persist-format-1");
    for name in ["mosquitto.db", "mosquitto.db.2.log"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).expect("copy fixture");
    }
    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log(
        "Restored 2 sessions with 4 subscriptions, 0 held messages and 0 delayed wills, 3 retained messages (1 expired), from 2 file(s)",
    );
    let expected = map(&[
        ("fix/retained/a", "first retained"),
        ("fix/retained/b", "second retained"),
        ("fix/retained/c", "third"),
    ]);
    assert_eq!(retained(&broker), expected);
    let mut client = Raw::connected_persistent(&broker, "fix-v311", true);
    let mut publisher = Raw::connected(&broker, "publisher");
    publisher.send(&publish("other/x", b"unsubscribed", 0, false, 0));
    publisher.send(&publish("more/x", b"subscribed", 0, false, 0));
    client.expect(&publish("more/x", b"subscribed", 0, false, 0));
}

/// The packet identifier and payload of a QoS 1/2 PUBLISH from the broker, with its topic.
fn parse_queued(packet: &[u8]) -> (String, u16, Vec<u8>) {
    let (topic, _, _) = parse_publish(packet);
    let mut at = 1;
    while packet[at] & 0x80 != 0 {
        at += 1;
    }
    at += 3 + topic.len();
    let id = u16::from_be_bytes([packet[at], packet[at + 1]]);
    (topic, id, packet[at + 2..].to_vec())
}

/// Ten times: QoS 1 messages pipelined to an offline persistent subscriber, the broker
/// killed after a random number of PUBACKs, its journal perhaps followed by zeros or
/// garbage, and restarted; then the subscriber drains its queue and acknowledges about
/// half. Each round it gets, in the order they were published, every message whose PUBACK
/// the publisher saw and every one it had not acknowledged itself, none it did
/// acknowledge, and none that was never sent.
#[test]
fn kill_9_under_load_loses_no_acknowledged_queued_message_and_repeats_none_consumed() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "max_inflight_messages 0\nmax_queued_messages 0\n";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut must, mut may) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    let mut counter = 0u32;
    for round in 0..10 {
        let broker = persistent_broker(dir.path(), config);
        if round == 0 {
            Raw::offline_subscriber(&broker, "s", "w/#", 1);
        } else {
            let mut s = Raw::connected_persistent(&broker, "s", true);
            let mut publisher = Raw::connected(&broker, "marker");
            let marker = format!("end of round {round}");
            publisher.send(&publish("w/marker", marker.as_bytes(), 1, false, 1));
            publisher.expect(&puback(1));
            let mut received = Vec::new();
            loop {
                let (topic, id, payload) = parse_queued(&s.recv_packet());
                if topic == "w/marker" {
                    assert_eq!(payload, marker.as_bytes(), "round {round}: consumed, again");
                    s.send(&puback(id));
                    break;
                }
                let n: u32 = String::from_utf8(payload)
                    .expect("utf-8")
                    .parse()
                    .expect("number");
                received.push((n, id));
            }
            let numbers: Vec<u32> = received.iter().map(|&(n, _)| n).collect();
            assert!(
                numbers.is_sorted(),
                "round {round}: out of order: {numbers:?}"
            );
            for n in &must {
                assert!(numbers.contains(n), "round {round}: {n} lost");
            }
            for n in &numbers {
                assert!(
                    must.contains(n) || may.contains(n),
                    "round {round}: {n} was consumed or never sent"
                );
            }
            must.clear();
            for (n, id) in received {
                match random(2) {
                    0 => s.send(&puback(id)),
                    _ => drop(must.insert(n)),
                }
            }
            s.send(&PINGREQ);
            s.expect(&PINGRESP);
            s.send(&DISCONNECT);
            s.expect_closed();
        }
        may.clear();
        // Pipelined, up to 32 unacknowledged; the first PUBACK also waits for the
        // subscriber's acknowledgements above to be written.
        let mut publisher = Raw::connected(&broker, "publisher");
        let kill_after = 50 + random(400) as u32;
        let mut in_flight = std::collections::VecDeque::new();
        let mut acks = 0;
        while acks < kill_after {
            while in_flight.len() < 32 {
                counter += 1;
                let id = (counter % 65535 + 1) as u16;
                publisher.send(&publish(
                    "w/n",
                    counter.to_string().as_bytes(),
                    1,
                    false,
                    id,
                ));
                may.insert(counter);
                in_flight.push_back((id, counter));
            }
            let (id, n) = in_flight.pop_front().expect("in flight");
            publisher.expect(&puback(id));
            may.remove(&n);
            must.insert(n);
            acks += 1;
        }
        drop(broker); // SIGKILL
        let newest = std::fs::read_dir(dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .max()
            .expect("a journal");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(newest)
            .expect("open journal");
        match round % 3 {
            1 => file.write_all(&[0; 4096]).expect("zeros"),
            2 => file.write_all(b"\x10\x00\x00\x00garbage").expect("garbage"),
            _ => {}
        }
    }
}

/// A broker whose persistence writer writes nothing while the returned gate file exists.
fn gated_broker(dir: &Path) -> (Broker, std::path::PathBuf) {
    let gate = dir.join("gate");
    std::fs::write(&gate, b"closed").expect("close the gate");
    let state = dir.join("state");
    let conf = format!(
        "user root\npersistence true\npersistence_location {}\n",
        state.display()
    );
    (Broker::start_with_writer_gate(&conf, &gate), gate)
}

/// A client that publishes at QoS 1 and says goodbye in the same write gets its PUBACK
/// only once the message is written: the connection lingers for it, instead of the
/// acknowledgement going out with the close.
#[test]
fn a_puback_followed_by_a_disconnect_still_waits_for_the_journal() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, gate) = gated_broker(dir.path());
    let mut client = Raw::connected(&broker, "leaving");
    let mut both = publish("t", b"written first", 1, true, 1);
    both.extend_from_slice(&DISCONNECT);
    client.send(&both);
    broker.wait_for_log("Client leaving disconnected.");
    // A turn after the close: had the PUBACK gone with it, it would be waiting by now.
    let mut other = Raw::connected(&broker, "other");
    other.send(&PINGREQ);
    other.expect(&PINGRESP);
    client.expect_silence(1);
    std::fs::remove_file(&gate).expect("open the gate");
    client.expect(&puback(1));
    assert!(holds(
        &dir.path().join("state/mosquitto.db.1.log"),
        "written first"
    ));
    client.expect_closed();
}

/// A writer 64 MiB behind (`BACKLOG_MAX`) stops the broker reading anyone's input, and
/// input resumes once the writer has caught up: a slow disk holds traffic back instead of
/// growing memory without bound.
#[test]
fn a_writer_far_behind_pauses_all_input_until_it_catches_up() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, gate) = gated_broker(dir.path());
    let mut bystander = Raw::connected(&broker, "bystander");
    let mut publisher = Raw::connected(&broker, "publisher");
    let payload = vec![b'x'; 1 << 20];
    // 64 retained messages of 1 MiB, each a record the writer is handed: the backlog
    // passes 64 MiB with the last, on a topic of its own.
    for i in 0..63 {
        publisher.send(&publish(&format!("big/{}", i % 4), &payload, 0, true, 0));
    }
    publisher.send(&publish("big/last", &payload, 0, true, 0));
    broker.wait_for_log("'big/last'");
    bystander.send(&PINGREQ);
    broker
        .wait_for_log("Persistence is behind the traffic; input paused until the disk catches up.");
    std::fs::remove_file(&gate).expect("open the gate");
    bystander.expect(&PINGRESP);
    // The log is read on threads of the test's own: wait for the later line.
    broker.wait_for_log("Received PINGREQ from bystander");
    let log = broker.log();
    let resumed = log.find("input resumed").expect("resumed line");
    let pinged = log
        .find("Received PINGREQ from bystander")
        .expect("PINGREQ line");
    assert!(
        resumed < pinged,
        "the PINGREQ was read while paused:\n{log}"
    );
}

/// A will waiting for its MQTT 5 delay survives a kill -9: it goes out when its delay runs
/// out after the restart, and only once (the next restart has no will to publish).
#[test]
fn a_delayed_will_survives_a_kill_and_goes_out_once() {
    if common::midge_only() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = persistent_broker(dir.path(), "");
    Raw::offline_subscriber(&broker, "watcher", "will/#", 1);
    let connect = Connect::v5("w")
        .clean(false)
        .properties(&Props::new().session_expiry_interval(100))
        .will("will/w", b"gone", 1, false)
        .will_properties(&Props::new().will_delay_interval(2))
        .build();
    drop(Raw::handshake(&broker, &connect, &connack5_ok(false)));
    broker.wait_for_log("Client w closed its connection.");
    // Its PUBACK waits for the will's record.
    let mut barrier = Raw::connected(&broker, "barrier");
    barrier.send(&publish("barrier", b"b", 1, true, 1));
    barrier.expect(&puback(1));
    drop(broker); // SIGKILL, well within the delay

    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log("and 1 delayed wills");
    let mut watcher = Raw::connected_persistent(&broker, "watcher", true);
    watcher.expect(&publish("will/w", b"gone", 1, false, 1));
    watcher.send(&puback(1));
    watcher.send(&PINGREQ);
    watcher.expect(&PINGRESP);
    let mut barrier = Raw::connected(&broker, "barrier");
    barrier.send(&publish("barrier", b"b", 1, true, 1));
    barrier.expect(&puback(1));
    drop(broker); // SIGKILL

    let broker = persistent_broker(dir.path(), "");
    broker.wait_for_log("and 0 delayed wills");
    let mut watcher = Raw::connected_persistent(&broker, "watcher", true);
    let mut publisher = Raw::connected(&broker, "publisher");
    publisher.send(&publish("will/marker", b"end", 1, false, 1));
    publisher.expect(&puback(1));
    // Identifiers count on from those on disk as of the watcher's last connect or
    // disconnect, before the will: 1 is free again.
    watcher.expect(&publish("will/marker", b"end", 1, false, 1));
}

/// Switching from mosquitto keeps state: the `mosquitto.db` mosquitto 2.0.11 saved where
/// midge's snapshot goes is imported at start-up (and kept beside it), with its retained
/// message, its persistent session and subscription, and the QoS 1 and 2 messages queued
/// for that session, which arrive in order under the identifiers mosquitto gave them.
#[test]
fn a_mosquitto_database_is_imported_with_its_sessions_and_queued_messages() {
    if common::midge_only()
        || !common::clients::tool_available(
            common::clients::on_path("mosquitto"),
            "mosquitto",
            "apt-get install mosquitto",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let theirs = dir.path().join("mosquitto");
    std::fs::create_dir(&theirs).expect("mkdir");
    // mosquitto run as root writes its database as its own user.
    use std::os::unix::fs::PermissionsExt;
    for path in [dir.path(), &theirs] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    let mut mosquitto = Broker::start_kind(
        common::Kind::Mosquitto,
        &format!(
            "persistence true\npersistence_location {}/",
            theirs.display()
        ),
    );
    Raw::offline_subscriber(&mosquitto, "kept", "q/#", 2);
    let mut publisher = Raw::connected(&mosquitto, "publisher");
    publisher.send(&publish("r/1", b"retained", 1, true, 1));
    publisher.expect(&puback(1));
    publisher.send(&publish("q/1", b"one", 1, false, 2));
    publisher.expect(&puback(2));
    publisher.send(&publish("q/2", b"two", 2, false, 3));
    publisher.expect(&pubrec(3));
    publisher.send(&pubrel(3));
    publisher.expect(&pubcomp(3));
    drop(publisher);
    mosquitto.signal("TERM");
    mosquitto
        .wait_exit(common::REPLY_TIMEOUT)
        .expect("mosquitto exits on SIGTERM, saving its database");

    let ours = dir.path().join("midge");
    std::fs::create_dir(&ours).expect("mkdir");
    std::fs::copy(theirs.join("mosquitto.db"), ours.join("mosquitto.db")).expect("copy");
    let broker = persistent_broker(&ours, "");
    broker.wait_for_log("Imported mosquitto's database");
    broker.wait_for_log("1 sessions, 1 subscriptions, 1 retained messages, 2 queued messages");
    assert!(ours.join("mosquitto.db.mosquitto").is_file(), "kept aside");
    assert_eq!(retained(&broker), map(&[("r/1", "retained")]));
    let mut kept = Raw::connected_persistent(&broker, "kept", true);
    kept.expect(&publish("q/1", b"one", 1, false, 1));
    kept.expect(&publish("q/2", b"two", 2, false, 2));
}
