//! Every message the broker drops for a client is counted by its reason, in the counters
//! `Broker::drops` returns (for `$SYS` and Prometheus): each test makes one of them move, and
//! no other. The broker runs in process (`common/inproc.rs`), so the counters can be read.

#[path = "common/inproc.rs"]
mod inproc;

use inproc::packets::*;
use inproc::{Op, Rig};
use midge::broker::{Drops, Refusals};

fn rig(config: &str) -> Rig {
    Rig::with_config(&format!("allow_anonymous true\n{config}"), Rig::listener())
}

/// Opens a connection that sends `bytes`; connections are numbered from 0 in order.
fn open(rig: &mut Rig, bytes: Vec<u8>) {
    rig.apply(&Op::Open);
    let client = u8::try_from(rig.client_count() - 1).expect("few clients");
    rig.apply(&Op::Write { client, bytes });
}

/// Connection 0: a persistent 3.1.1 session subscribed to `t` at `qos`, whose client left.
fn offline_subscriber(rig: &mut Rig, qos: u8) {
    open(
        rig,
        [connect_v311("away", false, 60), subscribe(1, "t", qos)].concat(),
    );
    rig.apply(&Op::Close {
        client: 0,
        abort: false,
    });
}

/// A publisher (MQTT 3.1.1) sending `packets` after its CONNECT.
fn publisher(rig: &mut Rig, packets: &[Vec<u8>]) {
    open(
        rig,
        [&[connect_v311("pub", true, 60)], packets]
            .concat()
            .concat(),
    );
}

fn qos1(n: u16, payload: &[u8]) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|id| publish("t", payload, 1, false, id))
        .collect()
}

#[test]
fn a_full_queue_counts_queue_full() {
    let mut rig = rig("max_queued_messages 2\n");
    offline_subscriber(&mut rig, 1);
    publisher(&mut rig, &qos1(5, b"m"));
    let queue_full = 3;
    assert_eq!(
        rig.broker().drops(),
        Drops {
            queue_full,
            ..Drops::default()
        }
    );
}

#[test]
fn a_queue_over_its_bytes_counts_queue_bytes() {
    let mut rig = rig("max_queued_bytes 150\n");
    offline_subscriber(&mut rig, 1);
    publisher(&mut rig, &qos1(3, &[b'x'; 99]));
    let queue_bytes = 2;
    assert_eq!(
        rig.broker().drops(),
        Drops {
            queue_bytes,
            ..Drops::default()
        }
    );
}

#[test]
fn a_message_that_expires_in_the_queue_counts_expired() {
    let mut rig = rig("");
    offline_subscriber(&mut rig, 1);
    let expiring = Publish5::new("t", b"soon")
        .qos(1, 1)
        .properties(&[0x02, 0, 0, 0, 1]);
    open(
        &mut rig,
        [Connect::v5("pub").build(), expiring.build()].concat(),
    );
    rig.apply(&Op::Tick { quarters: 8 });
    open(&mut rig, connect_v311("away", false, 60));
    let expired = 1;
    assert_eq!(
        rig.broker().drops(),
        Drops {
            expired,
            ..Drops::default()
        }
    );
}

#[test]
fn a_message_the_acl_keeps_from_a_subscriber_counts_acl_denied() {
    let acl = std::env::temp_dir().join(format!("midge-drops-{}.acl", std::process::id()));
    std::fs::write(
        &acl,
        "topic readwrite bystander/#\ntopic write secret\ntopic readwrite open\n",
    )
    .expect("write the ACL file");
    let mut rig = rig(&format!("acl_file {}\n", acl.display()));
    open(
        &mut rig,
        [connect_v311("sub", true, 60), subscribe(1, "#", 0)].concat(),
    );
    publisher(
        &mut rig,
        &[
            publish("secret", b"s", 0, false, 0),
            publish("open", b"o", 0, false, 0),
        ],
    );
    let acl_denied = 1;
    assert_eq!(
        rig.broker().drops(),
        Drops {
            acl_denied,
            ..Drops::default()
        }
    );
}

#[test]
fn a_message_larger_than_the_client_accepts_counts_oversize() {
    let mut rig = rig("");
    let small = Connect::v5("small")
        .properties(&[0x27, 0, 0, 0, 30])
        .build();
    open(&mut rig, [small, subscribe5(1, &[], &[("t", 1)])].concat());
    let big = [0u8; 100];
    publisher(
        &mut rig,
        &[
            publish("t", &big, 0, false, 0),
            publish("t", &big, 1, false, 1),
        ],
    );
    let oversize = 2;
    assert_eq!(
        rig.broker().drops(),
        Drops {
            oversize,
            ..Drops::default()
        }
    );
}

#[test]
fn qos0_over_the_send_queue_bound_counts_send_queue_full() {
    // Each delivery is 105 bytes: two fit under 200 before the turn's flush, eight do not.
    let mut rig = rig("max_queued_bytes 200\n");
    open(
        &mut rig,
        [connect_v311("sub", true, 60), subscribe(1, "t", 0)].concat(),
    );
    let burst: Vec<Vec<u8>> = (0..10)
        .map(|_| publish("t", &[b'x'; 100], 0, false, 0))
        .collect();
    publisher(&mut rig, &burst);
    let send_queue_full = 8;
    assert_eq!(
        rig.broker().drops(),
        Drops {
            send_queue_full,
            ..Drops::default()
        }
    );
}

/// A PUBLISH refused on the way in is acknowledged and counted by reason in
/// `Broker::refusals`, not as a drop: nobody was meant to get it.
#[test]
fn refused_publishes_are_counted_by_reason() {
    let mut rig = rig("message_size_limit 10\n");
    publisher(
        &mut rig,
        &[
            publish("$SYS/forged", b"m", 1, false, 1),
            publish("t", b"eleven byte", 1, false, 2),
            publish("t", b"ten bytes!", 1, false, 3),
        ],
    );
    assert_eq!(
        rig.broker().refusals(),
        Refusals {
            not_authorized: 1,
            too_large: 1,
            ..Refusals::default()
        }
    );
    assert_eq!(rig.broker().drops(), Drops::default());
}
