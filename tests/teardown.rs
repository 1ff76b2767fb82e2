//! A session with more subscriptions than one turn's budget is taken out of the router a
//! slice per turn (issue 11: no client can hurt another): a broker in process, driven turn
//! by turn (`common/turns.rs`), so that what each turn removed, and what a bystander got
//! after exactly one turn, can be looked at. Meanwhile the client id is free, the going
//! session receives nothing, and nothing of it is left once its last slice is done. A
//! session ends by a DISCONNECT, a clean start's takeover, or its expiry while offline.
mod common;

use std::time::Duration;

use common::packets::{
    Connect, DISCONNECT, PINGREQ, PINGRESP, Props, connack5_ok, connect_v311, publish, subscribe,
    subscribe_many, subscribe5,
};
use common::turns::{Peer, Rig, TURNS_MAX};
use midge::broker::TEARDOWN_FILTERS_PER_TURN as BUDGET;

/// Filters of the big session: three budgets and some, so that it goes in four slices.
const HOARD: usize = 3 * BUDGET + 1000;
/// Filters per SUBSCRIBE (`max_filters_per_subscribe`'s default).
const PER_SUBSCRIBE: usize = 1000;

fn rig() -> Rig {
    Rig::with_config("allow_anonymous true\nmax_subscriptions_per_client 0\n")
}

/// `peer` subscribes to `count` filters `hoard/N/I` at QoS 0, with the broker turning
/// until every SUBACK is in.
fn hoard(rig: &mut Rig, peer: &mut Peer, count: usize) {
    hoard_with(rig, peer, count, 0, subscribe_many);
}

/// `peer` subscribes to `count` filters `hoard/N/I` at `qos` with SUBSCRIBE packets that
/// `encode` makes (packet id, filters), with the broker turning until every SUBACK is in.
fn hoard_with(
    rig: &mut Rig,
    peer: &mut Peer,
    count: usize,
    qos: u8,
    encode: impl Fn(u16, &[(&str, u8)]) -> Vec<u8>,
) {
    let names: Vec<String> = (0..count)
        .map(|i| format!("hoard/{}/{}", i / PER_SUBSCRIBE, i % PER_SUBSCRIBE))
        .collect();
    let mut bytes = Vec::new();
    for (n, chunk) in names.chunks(PER_SUBSCRIBE).enumerate() {
        let filters: Vec<(&str, u8)> = chunk.iter().map(|f| (f.as_str(), qos)).collect();
        bytes.extend(encode(n as u16 + 1, &filters));
    }
    rig.send(peer, &bytes);
    let mut subacks = 0;
    for _ in 0..TURNS_MAX {
        rig.turn();
        peer.read();
        subacks += peer
            .packets()
            .iter()
            .filter(|(first, _)| *first == 0x90)
            .count();
        if subacks == count.div_ceil(PER_SUBSCRIBE) {
            return;
        }
    }
    panic!("{subacks} SUBACKs came");
}

/// Router entries now.
fn routes(rig: &Rig) -> usize {
    rig.broker.footprint().routes
}

/// The topics of the QoS 0 PUBLISH packets `peer` has received (SUBACKs passed over);
/// anything else fails the test.
fn topics(peer: &mut Peer) -> Vec<String> {
    peer.read();
    peer.packets()
        .into_iter()
        .filter(|(first, _)| *first != 0x90)
        .map(|(first, body)| {
            assert_eq!(first, 0x30, "only QoS 0 PUBLISH expected");
            let len = usize::from(u16::from_be_bytes([body[0], body[1]]));
            String::from_utf8(body[2..2 + len].to_vec()).expect("UTF-8 topic")
        })
        .collect()
}

/// Turns while the going session's filters leave the router, `others` being the entries
/// that are not its own. Each turn the bystander pings and must have its PINGRESP after
/// that one turn, the publisher publishes at QoS 1 on one of the old filters (which an
/// offline session would queue), no session holds a message, and the router loses at most
/// one budget of the going session's entries. Returns the number of turns in which some
/// left.
fn tear_down(rig: &mut Rig, bystander: &mut Peer, publisher: &mut Peer, others: usize) -> usize {
    let mut slices = 0;
    let mut left = routes(rig) - others;
    for turn in 0..TURNS_MAX {
        if !rig.broker.teardown_pending() {
            assert_eq!(left, 0, "nothing of the going session left in the router");
            return slices;
        }
        rig.send(bystander, &PINGREQ);
        let old = format!("hoard/{}/{}", turn % 13, turn % PER_SUBSCRIBE);
        let id = turn as u16 % 1000 + 1;
        rig.send(publisher, &publish(&old, b"to nobody", 1, false, id));
        rig.turn();
        bystander.read();
        assert_eq!(
            bystander.packets(),
            [(PINGRESP[0], vec![])],
            "the bystander's PINGRESP within the turn"
        );
        let now = routes(rig) - others;
        assert!(
            left - now <= BUDGET,
            "{} entries removed in one turn",
            left - now
        );
        slices += usize::from(now < left);
        left = now;
        let f = rig.broker.footprint();
        assert_eq!(f.sessions, f.session_ids, "going sessions are not counted");
        assert_eq!(
            (f.queued, f.inflight),
            (0, 0),
            "nothing for the going session"
        );
    }
    panic!("the teardown did not end");
}

/// A client with over three budgets of subscriptions says DISCONNECT: its filters leave
/// the router in four slices of at most a budget each, the bystander gets its PINGRESP
/// within every turn, the same client id connects again at once and its new subscription
/// works, and what is published on the old filters meanwhile reaches nobody.
#[test]
fn a_big_session_leaves_the_router_a_slice_per_turn_and_its_id_is_free_at_once() {
    let mut rig = rig();
    let mut bystander = rig.client("bystander", &subscribe(1, "marker", 0));
    let mut publisher = rig.client("pub", &[]);
    let mut hoarder = rig.client("hoarder", &[]);
    hoard(&mut rig, &mut hoarder, HOARD);
    assert_eq!(routes(&rig), HOARD + 1);
    assert_eq!(topics(&mut bystander), Vec::<String>::new(), "its SUBACK");

    rig.send(&mut hoarder, &DISCONNECT);
    rig.turn();
    let f = rig.broker.footprint();
    assert_eq!((f.sessions, f.session_ids, f.going_sessions), (2, 2, 1));
    assert_eq!(f.subscriptions, 1, "the going session holds none");
    assert_eq!(
        routes(&rig),
        HOARD + 1 - BUDGET,
        "one slice in the first turn"
    );
    assert!(rig.broker.teardown_pending());

    // The same id, while its old session is still going: a fresh session.
    let mut again = rig.client("hoarder", &subscribe(1, "fresh", 0));
    assert_eq!(
        routes(&rig),
        HOARD + 1 - 2 * BUDGET + 1,
        "a second slice, and the new subscription"
    );
    let slices = tear_down(&mut rig, &mut bystander, &mut publisher, 2);
    assert_eq!(slices + 2, HOARD.div_ceil(BUDGET), "four slices in all");
    let f = rig.broker.footprint();
    assert_eq!((f.sessions, f.going_sessions, f.routes), (3, 0, 2));

    rig.send(
        &mut publisher,
        &publish("hoard/0/0", b"to nobody", 0, false, 0),
    );
    rig.send(&mut publisher, &publish("fresh", b"end", 0, false, 0));
    rig.send(&mut publisher, &publish("marker", b"end", 0, false, 0));
    rig.turn();
    assert_eq!(topics(&mut again), ["fresh"], "nothing on the old filters");
    assert_eq!(topics(&mut bystander), ["marker"]);
}

/// A clean start takes over a persistent session with over three budgets of
/// subscriptions: the old connection closes, the new one gets a fresh session at once, and
/// none of the old filters reach it while they leave the router a slice per turn.
#[test]
fn a_clean_start_replaces_a_big_session_at_once_and_gets_none_of_its_filters() {
    let mut rig = rig();
    let mut bystander = rig.client("bystander", &subscribe(1, "marker", 0));
    let mut publisher = rig.client("pub", &[]);
    let mut old = rig.connect(&connect_v311("hoarder", false, 0), [0x20, 2, 0, 0]);
    hoard(&mut rig, &mut old, HOARD);
    assert_eq!(topics(&mut bystander), Vec::<String>::new(), "its SUBACK");
    assert_eq!(rig.broker.persistent_sessions(), 1);

    let hello = [connect_v311("hoarder", true, 0), subscribe(1, "fresh", 0)].concat();
    let mut new = rig.connect(&hello, [0x20, 2, 0, 0]);
    assert!(old.read_to_close(), "the old connection is closed");
    let f = rig.broker.footprint();
    assert_eq!((f.sessions, f.session_ids, f.going_sessions), (3, 3, 1));
    assert_eq!(
        rig.broker.persistent_sessions(),
        0,
        "the old one no longer counts"
    );
    assert_eq!(
        f.routes,
        HOARD + 2 - BUDGET,
        "one slice, and the new subscription"
    );

    let slices = tear_down(&mut rig, &mut bystander, &mut publisher, 2);
    assert_eq!(slices + 1, HOARD.div_ceil(BUDGET));
    rig.send(&mut publisher, &publish("fresh", b"end", 0, false, 0));
    rig.turn();
    assert_eq!(topics(&mut new), ["fresh"], "nothing on the old filters");
    assert_eq!(rig.broker.footprint().routes, 2);
}

/// A persistent MQTT 5 session with over three budgets of QoS 1 subscriptions expires
/// while offline: in the turn its expiry interval runs out, its client id is free and the
/// message queued for it is gone with it, its filters leave the router in four slices of
/// at most a budget each, what is published on them meanwhile is queued for no one, and a
/// marker published afterwards reaches the bystander.
#[test]
fn a_big_session_that_expires_offline_leaves_the_router_a_slice_per_turn() {
    let mut rig = rig();
    let mut bystander = rig.client("bystander", &subscribe(1, "marker", 0));
    let mut publisher = rig.client("pub", &[]);
    let kept = |id: &str, seconds| {
        Connect::v5(id)
            .clean(false)
            .properties(&Props::new().session_expiry_interval(seconds))
            .build()
    };
    let mut hoarder = rig.connect(&kept("hoarder", 1), connack5_ok(false));
    hoard_with(&mut rig, &mut hoarder, HOARD, 1, |id, filters| {
        subscribe5(id, &[], filters)
    });
    assert_eq!(topics(&mut bystander), Vec::<String>::new(), "its SUBACK");
    rig.send(&mut hoarder, &DISCONNECT);
    rig.turn();
    assert!(hoarder.read_to_close(), "closed after its DISCONNECT");
    rig.send(
        &mut publisher,
        &publish("hoard/0/0", b"queued", 1, false, 1),
    );
    rig.turn();
    let f = rig.broker.footprint();
    assert_eq!(
        (f.sessions, f.going_sessions, f.queued),
        (3, 0, 1),
        "offline"
    );
    assert_eq!(routes(&rig), HOARD + 1);

    rig.tick_after(Duration::from_millis(500));
    assert_eq!(rig.broker.footprint().sessions, 3, "not expired half-way");
    // A second and a millisecond after the DISCONNECT's turn at least: timers round their
    // deadlines up to the millisecond.
    rig.tick_after(Duration::from_millis(501));
    let f = rig.broker.footprint();
    assert_eq!((f.sessions, f.session_ids, f.going_sessions), (2, 2, 1));
    assert_eq!(
        (f.subscriptions, f.queued),
        (1, 0),
        "the going session holds none"
    );
    assert_eq!(rig.broker.persistent_sessions(), 0);
    assert_eq!(
        routes(&rig),
        HOARD + 1 - BUDGET,
        "one slice in the turn it expired"
    );

    // The same id, while the expired session is still going: no session present.
    let hello = [kept("hoarder", 60), subscribe5(1, &[], &[("fresh", 0)])].concat();
    let mut again = rig.connect(&hello, connack5_ok(false));
    assert_eq!(
        routes(&rig),
        HOARD + 1 - 2 * BUDGET + 1,
        "a second slice, and the new subscription"
    );
    let slices = tear_down(&mut rig, &mut bystander, &mut publisher, 2);
    assert_eq!(slices + 2, HOARD.div_ceil(BUDGET), "four slices in all");
    let f = rig.broker.footprint();
    assert_eq!((f.sessions, f.going_sessions, f.routes), (3, 0, 2));

    rig.send(
        &mut publisher,
        &publish("hoard/0/0", b"to nobody", 1, false, 1),
    );
    rig.send(&mut publisher, &publish("fresh", b"end", 0, false, 0));
    rig.send(&mut publisher, &publish("marker", b"end", 0, false, 0));
    rig.turn();
    again.read();
    let packets = again.packets();
    assert_eq!(packets.len(), 2, "its SUBACK and one PUBLISH: {packets:?}");
    assert_eq!(packets[1].0, 0x30, "a QoS 0 PUBLISH");
    assert!(packets[1].1.starts_with(b"\0\x05fresh"), "on fresh only");
    assert_eq!(topics(&mut bystander), ["marker"]);
    assert_eq!(rig.broker.footprint().queued, 0);
}

/// A going session that is a member of shared groups: a group that picks it drops it and
/// picks again, so the other member, offline, gets every message, and a group it was alone
/// in delivers to nobody and leaves the router.
#[test]
fn a_shared_group_never_picks_a_going_member() {
    const MESSAGES: u16 = 6;
    let mut rig = rig();
    let hello = [
        connect_v311("member", false, 0),
        subscribe(1, "$share/g/s", 1),
    ]
    .concat();
    let mut member = rig.connect(&hello, [0x20, 2, 0, 0]);
    rig.send(&mut member, &DISCONNECT);
    rig.turn();
    let mut hoarder = rig.client("hoarder", &[]);
    hoard(&mut rig, &mut hoarder, HOARD);
    let shared = [("$share/g/s", 1), ("$share/solo/y", 1)];
    rig.send(&mut hoarder, &subscribe_many(99, &shared));
    // Read after the hoarder in each turn, so its messages are routed in the turn of the
    // DISCONNECT, while every filter of the going session is still in the router.
    let mut publisher = rig.client("pub", &[]);
    assert_eq!(routes(&rig), HOARD + 2, "each group counts once");

    rig.send(&mut hoarder, &DISCONNECT);
    let mut bytes = Vec::new();
    for id in 1..=MESSAGES {
        bytes.extend(publish("s", &id.to_be_bytes(), 1, false, id));
    }
    bytes.extend(publish("y", b"to nobody", 1, false, 100));
    rig.send(&mut publisher, &bytes);
    rig.turn();
    assert_eq!(rig.broker.footprint().going_sessions, 1);
    for _ in 0..TURNS_MAX {
        if !rig.broker.teardown_pending() {
            break;
        }
        rig.turn();
    }
    assert_eq!(
        routes(&rig),
        1,
        "the solo group has gone, g stays for its member"
    );

    let mut member = rig.connect(&connect_v311("member", false, 0), [0x20, 2, 1, 0]);
    rig.turn();
    member.read();
    let ids: Vec<Vec<u8>> = member
        .packets()
        .into_iter()
        .map(|(first, body)| {
            assert_eq!(first & 0xf0, 0x30, "only PUBLISH expected");
            body[body.len() - 2..].to_vec()
        })
        .collect();
    let expected: Vec<Vec<u8>> = (1..=MESSAGES).map(|id| id.to_be_bytes().to_vec()).collect();
    assert_eq!(ids, expected, "every message went to the member that stays");
}

/// Shared groups one member belongs to, more than the broker tells in one turn.
const GROUPS: usize = 3000;

/// Subscribes `peer` to `$share/g/s/0` ... `$share/g/s/{GROUPS - 1}` at QoS 0, turning until
/// every SUBACK is in.
fn join_groups(rig: &mut Rig, peer: &mut Peer) {
    let names: Vec<String> = (0..GROUPS).map(|i| format!("$share/g/s/{i}")).collect();
    let mut subacks = 0;
    for (n, chunk) in names.chunks(PER_SUBSCRIBE).enumerate() {
        let filters: Vec<(&str, u8)> = chunk.iter().map(|f| (f.as_str(), 0)).collect();
        rig.send(peer, &subscribe_many(n as u16 + 1, &filters));
    }
    for _ in 0..TURNS_MAX {
        rig.turn();
        peer.read();
        subacks += peer.packets().iter().filter(|(f, _)| *f == 0x90).count();
        if subacks == GROUPS.div_ceil(PER_SUBSCRIBE) {
            return;
        }
    }
    panic!("{subacks} SUBACKs came");
}

/// Turns until no slice is left; returns how many it took.
fn settle(rig: &mut Rig) -> usize {
    for turns in 0..TURNS_MAX {
        if !rig.broker.teardown_pending() {
            return turns;
        }
        rig.turn();
    }
    panic!("slices never ended");
}

/// Two QoS 0 messages to each group; returns how many `a` and `b` got.
fn publish_to_every_group(
    rig: &mut Rig,
    publisher: &mut Peer,
    a: &mut Peer,
    b: &mut Peer,
) -> (usize, usize) {
    let mut bytes = Vec::new();
    for i in 0..GROUPS {
        for _ in 0..2 {
            bytes.extend(publish(&format!("s/{i}"), b"x", 0, false, 0));
        }
    }
    rig.send(publisher, &bytes);
    let (mut got_a, mut got_b) = (0, 0);
    for _ in 0..TURNS_MAX {
        rig.turn();
        a.read();
        b.read();
        got_a += a.packets().len();
        got_b += b.packets().len();
        if got_a + got_b == 2 * GROUPS {
            return (got_a, got_b);
        }
    }
    panic!("{} of {} messages came", got_a + got_b, 2 * GROUPS);
}

/// A client in thousands of shared groups: its CONNECT and its close tell them a slice per
/// turn, and once the slices are done every group has it on the right side, online members
/// taking turns and an offline one left out. A close while the CONNECT's slices are still
/// going replaces them.
#[test]
fn a_member_of_thousands_of_shared_groups_is_told_to_them_a_slice_per_turn() {
    let mut rig = rig();
    let mut a = rig.connect(&connect_v311("a", false, 0), [0x20, 2, 0, 0]);
    join_groups(&mut rig, &mut a);
    let mut b = rig.client("b", &[]);
    join_groups(&mut rig, &mut b);
    let mut publisher = rig.client("publisher", &[]);
    rig.send(&mut a, &DISCONNECT);
    rig.turn();
    assert!(rig.broker.teardown_pending(), "the close is sliced");
    assert_eq!(settle(&mut rig), 2, "3,000 groups in three turns of 1,024");

    let mut a = rig.connect(&connect_v311("a", false, 0), [0x20, 2, 1, 0]);
    assert!(rig.broker.teardown_pending(), "the CONNECT is sliced");
    assert_eq!(settle(&mut rig), 2);
    // Round robin between two online members: one message of each group for each.
    assert_eq!(
        publish_to_every_group(&mut rig, &mut publisher, &mut a, &mut b),
        (GROUPS, GROUPS)
    );

    let mut a = rig.connect(&connect_v311("a", false, 0), [0x20, 2, 1, 0]);
    rig.send(&mut a, &DISCONNECT);
    rig.turn();
    settle(&mut rig);
    // Offline everywhere, whatever the CONNECT's slices had done: b gets every message.
    let mut gone = rig.client("reader-of-nothing", &[]);
    assert_eq!(
        publish_to_every_group(&mut rig, &mut publisher, &mut gone, &mut b),
        (0, 2 * GROUPS)
    );
}
