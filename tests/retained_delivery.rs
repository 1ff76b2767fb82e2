//! Retained messages are sent as they are found and only as fast as the subscriber reads
//! (issue 11): a broker in process, driven turn by turn over loopback sockets, so that
//! what it holds for a subscriber that does not read can be looked at between turns.
mod common;

use common::packets::{packet, publish, string, subscribe};
use common::turns::{Peer, Rig, TURNS_MAX};

/// The rig's bound on bytes waiting for one connection (`max_queued_bytes`), below the
/// default so that the retained messages of these tests do not all fit under it.
const SEND_BOUND: usize = 1024 * 1024;
fn rig() -> Rig {
    Rig::with_config(&format!(
        "allow_anonymous true\nmax_queued_bytes {SEND_BOUND}\n"
    ))
}

/// What one turn may add beyond the bound: one batch of retained messages (256) and
/// one SUBACK.
const SLACK: usize = 256 * 1024;
/// The topic of a QoS 0 PUBLISH's body, and its payload.
fn topic_and_payload(body: &[u8]) -> (String, Vec<u8>) {
    let len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = String::from_utf8(body[2..2 + len].to_vec()).expect("UTF-8 topic");
    (topic, body[2 + len..].to_vec())
}

/// Publishes `count` retained messages `r/NNNNN` with `payload_len`-byte payloads, and
/// waits for the broker to have stored them.
fn retain_many(rig: &mut Rig, publ: &mut Peer, count: usize, payload_len: usize) {
    let payload = vec![b'p'; payload_len];
    let mut bytes = Vec::new();
    for i in 0..count {
        bytes.extend(publish(&format!("r/{i:05}"), &payload, 0, true, 0));
    }
    rig.send(publ, &bytes);
    for _ in 0..TURNS_MAX {
        rig.turn();
        if rig.broker.footprint().retained == count {
            return;
        }
    }
    panic!("the retained messages were not all stored");
}

/// Reads the subscriber until `count` PUBLISH packets have come, with the broker turning;
/// a SUBACK first is checked to have `codes` codes.
fn read_publishes(
    rig: &mut Rig,
    sub: &mut Peer,
    count: usize,
    suback_codes: Option<usize>,
) -> Vec<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let mut suback_due = suback_codes;
    for _ in 0..TURNS_MAX {
        rig.turn();
        sub.read();
        for (first, body) in sub.packets() {
            if let Some(codes) = suback_due.take() {
                assert_eq!((first, body.len()), (0x90, 2 + codes), "SUBACK first");
                continue;
            }
            assert_eq!(first & 0xf0, 0x30, "only PUBLISH packets expected");
            got.push(topic_and_payload(&body));
        }
        if got.len() >= count {
            return got;
        }
    }
    panic!("{} of {count} messages arrived", got.len());
}

/// The amplification: one SUBSCRIBE of 16,000 copies of `#` against 2,000
/// retained messages took the broker from 4 MB to 505 MB and stalled everyone. Now the
/// subscriber that does not read costs at most its send bound, a bystander is served
/// meanwhile, and once it reads it gets each retained message once, in topic order.
#[test]
fn sixteen_thousand_hash_filters_cost_one_walk_and_no_more_than_the_send_bound() {
    const RETAINED: usize = 2_000;
    const COPIES: usize = 16_000;
    let mut rig = rig();
    let mut publ = rig.client("pub", &[]);
    let mut bystander = rig.client("bystander", &subscribe(1, "b/x", 0));
    retain_many(&mut rig, &mut publ, RETAINED, 1000);
    bystander.read();
    assert_eq!(
        bystander.packets(),
        [(0x90, vec![0, 1, 0])],
        "bystander's SUBACK"
    );

    let mut body = vec![0, 7];
    for _ in 0..COPIES {
        string(&mut body, b"#");
        body.push(0);
    }
    let mut greedy = rig.client("greedy", &packet(0x82, &body));
    for _ in 0..50 {
        rig.turn();
        let held = rig.broker.footprint().send_queued_bytes;
        assert!(
            held <= SEND_BOUND + SLACK,
            "{held} bytes queued for a client that does not read"
        );
    }
    // A bystander is served while the greedy client still has retained messages due.
    assert_eq!(
        rig.broker.footprint().retained_cursors,
        1,
        "retained delivery paused"
    );
    rig.send(&mut publ, &publish("b/x", b"served", 0, false, 0));
    rig.turn();
    bystander.read();
    assert_eq!(
        bystander.packets(),
        [(0x30, [&[0, 3][..], b"b/x", b"served"].concat())]
    );

    // The greedy client reads: its SUBACK (a code per copy), then each message once.
    let got = read_publishes(&mut rig, &mut greedy, RETAINED + 1, Some(COPIES));
    let topics: Vec<String> = got.into_iter().map(|(t, _)| t).collect();
    let mut expected: Vec<String> = (0..RETAINED).map(|i| format!("r/{i:05}")).collect();
    // The bystander's message matched `#` too, and waited behind the retained ones.
    expected.push("b/x".into());
    assert!(
        topics == expected,
        "{} messages, not each retained one once in order then b/x",
        topics.len()
    );
    assert_eq!(rig.broker.footprint().retained_cursors, 0);
    // Nothing more was queued: a live message is the next thing to arrive.
    rig.send(&mut publ, &publish("r/live", b"marker", 0, false, 0));
    let next = read_publishes(&mut rig, &mut greedy, 1, None);
    assert_eq!(next, [("r/live".to_string(), b"marker".to_vec())]);
}

/// A message published for a subscriber while its retained messages are still under way
/// is not lost and does not overtake them: it waits behind them, even on a topic whose
/// retained message has not gone out yet.
#[test]
fn a_message_published_while_retained_ones_are_under_way_comes_after_them() {
    const RETAINED: usize = 20_000;
    let mut rig = rig();
    let mut publ = rig.client("pub", &[]);
    retain_many(&mut rig, &mut publ, RETAINED, 1000);
    let mut sub = rig.client("sub", &subscribe(1, "r/#", 0));
    for _ in 0..20 {
        rig.turn();
    }
    let f = rig.broker.footprint();
    assert_eq!(
        f.retained_cursors, 1,
        "20 MB of retained messages cannot all be out yet"
    );
    assert!(
        f.send_queued_bytes <= SEND_BOUND + SLACK,
        "{} bytes queued",
        f.send_queued_bytes
    );
    let last = format!("r/{:05}", RETAINED - 1);
    rig.send(&mut publ, &publish(&last, b"live", 0, false, 0));
    // The publisher's bytes may take more than one turn to be read; the subscriber reads
    // nothing meanwhile, so its cursor stays paused.
    for _ in 0..TURNS_MAX {
        if rig.broker.footprint().retained_held == 1 {
            break;
        }
        rig.turn();
    }
    assert_eq!(rig.broker.footprint().retained_held, 1);

    let mut got = read_publishes(&mut rig, &mut sub, RETAINED + 1, Some(1));
    assert_eq!(got.len(), RETAINED + 1);
    let live = got.pop().expect("the live message");
    assert_eq!(live, (last.clone(), b"live".to_vec()));
    let topics: Vec<String> = got.into_iter().map(|(t, _)| t).collect();
    let expected: Vec<String> = (0..RETAINED).map(|i| format!("r/{i:05}")).collect();
    assert!(
        topics == expected,
        "not each retained message once, in order, before the live one"
    );
    assert_eq!(rig.broker.footprint().retained_cursors, 0);
}
