use std::fs;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mio::{Events, Poll, Token, Waker};

use super::record::{MAGIC, Role};
use super::*;

fn retained(topic: &str, payload: &str) -> StoredMessage {
    StoredMessage {
        topic: Bytes::copy_from_slice(topic.as_bytes()),
        qos: 1,
        retain: true,
        utf8_payload: false,
        expires_at: 0,
        properties: Bytes::new(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
    }
}

fn options(dir: &std::path::Path, sync: Sync) -> Options {
    Options {
        dir: dir.to_path_buf(),
        stem: "test.db".into(),
        sync,
        autosave_interval: 0,
        autosave_on_changes: false,
    }
}

/// A journal and the poll its writer wakes.
struct Rig {
    poll: Poll,
    journal: Journal,
}

impl Rig {
    fn open(options: Options) -> (Rig, Recovered) {
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
        let (journal, recovered) = Journal::open(options, waker).unwrap();
        (Rig { poll, journal }, recovered)
    }

    /// Hands the turn's records over and waits, as the loop does, for the writer's wake-up
    /// until they are durable.
    fn commit(&mut self) {
        let position = self.journal.end();
        self.journal.hand_off();
        let mut events = Events::with_capacity(4);
        while !self.journal.is_durable(position) {
            self.poll
                .poll(&mut events, Some(Duration::from_secs(10)))
                .unwrap();
            assert!(!events.is_empty(), "the writer did not wake the loop");
        }
    }
}

fn files(dir: &std::path::Path) -> Files {
    Files::new(dir, "test.db")
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn what_was_written_is_recovered_after_a_restart_from_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    for sync in [Sync::None, Sync::Write, Sync::Fsync] {
        let (mut rig, recovered) = Rig::open(options(dir.path(), sync));
        assert!(recovered.state.is_empty(), "{sync:?}");
        rig.journal.record(&Op::Retain(retained("a", "1")));
        rig.journal.record(&Op::Retain(retained("b", "2")));
        rig.commit();
        rig.journal.record(&Op::Retain(retained("a", "3")));
        rig.journal.record(&Op::Unretain {
            topic: Bytes::from_static(b"b"),
        });
        rig.commit();
        drop(rig);
        assert_eq!(names(dir.path()), ["test.db"]);
        let (rig, recovered) = Rig::open(options(dir.path(), sync));
        let mut expected = State::default();
        expected.apply(Op::Retain(retained("a", "3")));
        assert_eq!(recovered.state, expected, "{sync:?}");
        assert_eq!(recovered.generation, 1);
        drop(rig);
        assert_eq!(
            names(dir.path()),
            ["test.db"],
            "an empty journal is removed"
        );
        for name in names(dir.path()) {
            fs::remove_file(dir.path().join(name)).unwrap();
        }
    }
}

/// As a crash leaves them: a journal that was never compacted, its last record torn, or
/// followed by zeros or garbage. Recovery keeps every whole record, cuts the tail, and the
/// next recovery reads the same.
#[test]
fn a_journal_with_a_damaged_tail_is_cut_at_its_last_whole_record() {
    let tails: [&[u8]; 4] = [b"", &[0; 100], b"garbage garbage garbage", b"\x20\x00\x00"];
    for tail in tails {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        drop(files.create_journal(1, false).unwrap());
        let mut records = Vec::new();
        Op::Retain(retained("a", "1")).encode(&mut records);
        Op::Retain(retained("b", "2")).encode(&mut records);
        let whole = records.len();
        Op::Retain(retained("c", "3")).encode(&mut records);
        records.truncate(records.len() - 1); // the third is torn
        records.extend_from_slice(tail);
        let path = files.journal(1);
        let mut data = fs::read(&path).unwrap();
        let header = data.len();
        data.extend_from_slice(&records);
        fs::write(&path, data).unwrap();

        let recovered = files.recover().unwrap();
        assert_eq!(recovered.state.retained.len(), 2, "{tail:?}");
        assert_eq!(recovered.records, 2);
        assert_eq!(fs::metadata(&path).unwrap().len(), (header + whole) as u64);
        let again = files.recover().unwrap();
        assert_eq!(again.state, recovered.state);
    }
}

#[test]
fn a_file_that_is_not_a_midge_file_is_moved_aside_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(dir.path());
    // mosquitto's database where the snapshot goes, a journal in a format from the future,
    // one zero-filled by a power loss.
    fs::write(
        files.snapshot(),
        b"\x00\xb5\x00mosquitto db\x00\x00\x00\x06",
    )
    .unwrap();
    fs::write(files.journal(3), [0u8; 4096]).unwrap();
    let mut future = MAGIC.to_vec();
    Op::Header {
        format: record::FORMAT + 1,
        role: Role::Journal,
        generation: 1,
    }
    .encode(&mut future);
    fs::write(files.journal(1), &future).unwrap();
    let mut good = MAGIC.to_vec();
    Op::Header {
        format: record::FORMAT,
        role: Role::Journal,
        generation: 2,
    }
    .encode(&mut good);
    Op::Retain(retained("kept", "1")).encode(&mut good);
    fs::write(files.journal(2), &good).unwrap();

    let recovered = files.recover().unwrap();
    assert_eq!(recovered.state.retained.len(), 1);
    assert_eq!(recovered.generation, 3);
    assert_eq!(
        names(dir.path()),
        [
            "test.db.1.log.damaged",
            "test.db.2.log",
            "test.db.3.log.damaged",
            "test.db.mosquitto"
        ]
    );
    assert_eq!(
        fs::read(dir.path().join("test.db.1.log.damaged")).unwrap(),
        future
    );
}

/// A crash after a snapshot was renamed into place but before the journals it covers
/// were removed: they are removed at recovery, not applied again on top of it. Nor is a
/// snapshot that was never renamed into place read.
#[test]
fn journals_a_snapshot_covers_and_an_unfinished_snapshot_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(dir.path());
    let journal = |generation, ops: &[Op]| {
        let mut data = MAGIC.to_vec();
        Op::Header {
            format: record::FORMAT,
            role: Role::Journal,
            generation,
        }
        .encode(&mut data);
        for op in ops {
            op.encode(&mut data);
        }
        fs::write(files.journal(generation), data).unwrap();
    };
    journal(1, &[Op::Retain(retained("a", "old"))]);
    journal(
        2,
        &[Op::Unretain {
            topic: Bytes::from_static(b"a"),
        }],
    );
    files.compact(2).unwrap();
    // As if the removal had not happened: generation 2 again, and a later one.
    journal(2, &[Op::Retain(retained("a", "stale"))]);
    journal(3, &[Op::Retain(retained("b", "new"))]);
    fs::write(dir.path().join("test.db.tmp"), b"half a snapshot").unwrap();

    let recovered = files.recover().unwrap();
    let topics: Vec<&[u8]> = recovered.state.retained.keys().map(|k| &k[..]).collect();
    assert_eq!(topics, [b"b"]);
    assert_eq!(recovered.generation, 3);
    assert_eq!(names(dir.path()), ["test.db", "test.db.3.log"]);
}

/// `autosave_on_changes` with `autosave_interval 3`: three changes start a new journal and
/// a snapshot of the old one, while records go on being written.
#[test]
fn autosave_on_changes_snapshots_after_that_many_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path(), Sync::Write);
    options.autosave_on_changes = true;
    options.autosave_interval = 3;
    let (mut rig, _) = Rig::open(options.clone());
    for topic in ["a", "b", "c"] {
        rig.journal.record(&Op::Retain(retained(topic, "1")));
    }
    rig.commit();
    rig.journal.record(&Op::Retain(retained("d", "1")));
    rig.commit();
    drop(rig);
    // The journal written after the autosave is generation 2; shut-down compacted it too.
    let recovered = files(dir.path()).recover().unwrap();
    assert_eq!(recovered.generation, 2);
    assert_eq!(recovered.state.retained.len(), 4);
}

fn message(payload: &'static str) -> std::rc::Rc<crate::message::Message> {
    std::rc::Rc::new(crate::message::Message {
        topic: "q".into(),
        payload: Bytes::from_static(payload.as_bytes()),
        qos: crate::protocol::QoS::AtLeastOnce,
        retain: false,
        properties: Bytes::new(),
        expires_at: None,
        utf8_payload: false,
        journaled: Default::default(),
    })
}

/// The ops of a file, after its header.
fn file_ops(path: &std::path::Path) -> Vec<Op> {
    let data = Bytes::from(fs::read(path).unwrap());
    record::Records::new(data, MAGIC.len()).collect()
}

/// A message sessions hold is written once in each batch that gives it to one, however
/// many it goes to; the snapshot keeps the messages a session still holds, and no other;
/// and ids are not used again after a restart.
#[test]
fn a_held_message_is_written_once_a_batch_and_kept_while_a_session_holds_it() {
    use crate::message::Delivery;
    use crate::protocol::{ByteStr, QoS};
    let dir = tempfile::tempdir().unwrap();
    let (mut rig, _) = Rig::open(options(dir.path(), Sync::Write));
    let (a, b) = (ByteStr::from("a"), ByteStr::from("b"));
    for client_id in [&a, &b] {
        rig.journal.record(&Op::Session {
            client_id: client_id.as_bytes().clone(),
            version: 4,
            expiry: u32::MAX,
            packet_ids: 0,
        });
    }
    let kept = message("kept");
    let mut delivery = Delivery::new(kept.clone(), QoS::AtLeastOnce, false);
    delivery.packet_seq = 1;
    rig.journal.deliver(&a, &delivery);
    rig.journal.deliver(&b, &delivery);
    rig.commit();
    rig.journal.delivered(&a, 1);
    delivery.packet_seq = 2;
    rig.journal.deliver(&a, &delivery);
    let dropped = message("dropped");
    let mut other = Delivery::new(dropped.clone(), QoS::AtLeastOnce, false);
    other.packet_seq = 2;
    rig.journal.deliver(&b, &other);
    rig.journal.delivered(&b, 2);
    rig.commit();
    let journal = dir.path().join("test.db.1.log");
    let written: Vec<u64> = file_ops(&journal)
        .into_iter()
        .filter_map(|op| match op {
            Op::Message { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    let (kept_id, dropped_id) = (kept.journaled.get().id, dropped.journaled.get().id);
    assert_eq!(written, [kept_id, kept_id, dropped_id]);
    drop(rig); // saves a snapshot

    let (mut rig, recovered) = Rig::open(options(dir.path(), Sync::Write));
    let state = &recovered.state;
    assert_eq!(state.messages.ids().collect::<Vec<_>>(), [kept_id]);
    assert_eq!(state.messages.get(kept_id).unwrap().payload, "kept");
    let seqs = |c: &[u8]| {
        state.sessions[c]
            .deliveries
            .keys()
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!((seqs(b"a"), seqs(b"b")), (vec![2], vec![1]));
    let fresh = message("fresh");
    let mut delivery = Delivery::new(fresh.clone(), QoS::AtLeastOnce, false);
    delivery.packet_seq = 3;
    rig.journal.deliver(&a, &delivery);
    assert!(fresh.journaled.get().id > kept_id);
}

/// A retained message's publisher is kept with it, in the snapshot too, and goes with it:
/// a newer retained message on the topic, from a publisher not kept, has none.
#[test]
fn a_retained_messages_source_lives_and_dies_with_it() {
    let source = |topic: &'static str| Op::RetainSource {
        topic: Bytes::from_static(topic.as_bytes()),
        client_id: Bytes::from_static(b"publisher"),
        username: None,
        port: 1883,
    };
    let mut state = State::default();
    state.apply(source("a")); // no message yet: nothing to be the source of
    state.apply(Op::Retain(retained("a", "1")));
    state.apply(source("a"));
    state.apply(Op::Retain(retained("b", "2")));
    state.apply(source("b"));
    let ops: Vec<Op> = state.ops().collect();
    let mut again = State::default();
    ops.iter().cloned().for_each(|op| again.apply(op));
    assert_eq!(again, state);
    assert_eq!(ops[1], source("a"));
    state.apply(Op::Retain(retained("a", "3")));
    state.apply(Op::Unretain {
        topic: Bytes::from_static(b"b"),
    });
    assert!(state.retain_sources.is_empty());
}

/// A message nothing names is dropped at the end of its batch, not before: later in the
/// batch a delivery may still name it without its record being written again.
#[test]
fn a_message_nothing_names_goes_at_the_end_of_its_batch() {
    let client = || Bytes::from_static(b"c");
    let deliver = |seq| Op::Deliver {
        client_id: client(),
        seq,
        message: 7,
        qos: 1,
        retain: false,
        subscription_ids: Vec::new(),
    };
    let delivered = |seq| Op::Delivered {
        client_id: client(),
        seq,
    };
    let mut state = State::default();
    state.apply(Op::Session {
        client_id: client(),
        version: 4,
        expiry: u32::MAX,
        packet_ids: 0,
    });
    state.apply(Op::Message {
        id: 7,
        message: retained("q", "m"),
    });
    state.apply(deliver(1));
    state.apply(delivered(1));
    assert!(state.messages.is_empty(), "named by nothing");
    state.apply(deliver(2)); // the same batch: no Message record again
    state.apply(Op::BatchEnd);
    assert_eq!(
        state.messages.get(7).map(|m| &m.payload[..]),
        Some(&b"m"[..])
    );
    state.apply(delivered(2));
    state.apply(Op::BatchEnd);
    assert!(state.messages.is_empty() && state.last_message_id() == 0);
    state.apply(deliver(3)); // a later batch names it without its record: gone
    assert!(state.messages.is_empty());
    // A session's end lets go of what it held.
    state.apply(Op::Message {
        id: 8,
        message: retained("q", "n"),
    });
    state.apply(Op::Incoming {
        client_id: client(),
        packet_id: 1,
        message: 8,
    });
    state.apply(Op::BatchEnd);
    assert_eq!(state.messages.len(), 1);
    state.apply(Op::SessionGone {
        client_id: client(),
    });
    state.apply(Op::BatchEnd);
    assert!(state.messages.is_empty());
}

/// mosquitto 2.0.11's database of one retained message and one persistent session with a
/// subscription and two queued messages (made by `tests/persistence.rs`'s steps, by hand)
/// reads whole; cut anywhere or with any byte changed, it is refused or read, never a panic.
#[test]
fn a_mosquitto_database_reads_whole_and_damage_never_panics() {
    let data = include_bytes!("../../tests/fixtures/mosquitto-2.0.11.db");
    let (state, imported) = super::mosquitto_db::import(data).expect("imports");
    let expected = super::mosquitto_db::Imported {
        sessions: 1,
        subscriptions: 1,
        retained: 1,
        messages: 2,
    };
    assert_eq!(imported, expected);
    assert_eq!(state.retained[&b"ret/a"[..]].payload, "retained A");
    let session = &state.sessions[&b"sub1"[..]];
    let queued: Vec<(u64, u8)> = session
        .deliveries
        .iter()
        .map(|(&s, d)| (s, d.qos))
        .collect();
    assert_eq!(queued, [(1, 1), (2, 2)]);
    for cut in 0..data.len() {
        let _ = super::mosquitto_db::import(&data[..cut]);
    }
    for at in 0..data.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = data.to_vec();
            bad[at] ^= flip;
            let _ = super::mosquitto_db::import(&bad);
        }
    }
}

#[test]
fn batch_numbers_wrap_past_u32_max_to_1_never_0() {
    let max = u64::from(u32::MAX);
    let numbers: Vec<u32> = [0, 1, 2, max, max + 1, 2 * max + 1]
        .map(batch_number)
        .to_vec();
    assert_eq!(numbers, [0, 1, 2, u32::MAX, 1, 1]);
}
