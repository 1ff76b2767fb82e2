//! Property tests of hostile input, run with every `cargo test`: arbitrary bytes to the
//! decoder, encode/decode round trips of arbitrary valid packets of every type in every
//! version, and arbitrary scripts of bytes, packets, closes and time to a whole broker in
//! process (`common/inproc.rs`, the harness the `broker_session` fuzz target uses too).
//!
//! The case counts keep the file to a few seconds; `MIDGE_PROPTEST_SCALE=N` multiplies them
//! for a longer run (`MIDGE_PROPTEST_SCALE=100 cargo test --release --test hostile_proptest`).

#[path = "common/inproc.rs"]
mod inproc;

use bytes::{Bytes, BytesMut};
use midge::protocol::framing::MAX_REMAINING_LENGTH;
use midge::protocol::{
    Auth, ByteStr, ConnAck, Connect, DecodeError, Disconnect, Packet, Properties, PubResp, Publish,
    QoS, RetainHandling, SubAck, SubOptions, Subscribe, UnsubAck, Unsubscribe, Version, Will,
    decode,
};
use proptest::prelude::*;

use inproc::{Op, Rig};

const PROTOCOL_MAX: usize = MAX_REMAINING_LENGTH + 5;

fn config(cases: u32) -> ProptestConfig {
    let scale = std::env::var("MIDGE_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    ProptestConfig {
        cases: cases.saturating_mul(scale),
        max_shrink_time: 30_000,
        // A failure is reported with its minimal case; the seed is in the message, and the
        // test is deterministic enough to rerun from it, so no regression files are written.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- strategies: valid strings, topics, properties and packets ---

/// A character MQTT strings may carry: midge (like mosquitto) refuses control characters
/// and non-characters.
fn allowed(c: char) -> bool {
    let cp = u32::from(c);
    !(cp <= 0x1f || (0x7f..=0x9f).contains(&cp) || (0xfdd0..=0xfdef).contains(&cp))
        && cp & 0xfffe != 0xfffe
}

fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        1 => any::<char>().prop_filter("allowed in MQTT strings", |&c| allowed(c)),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(text_char(), 0..max).prop_map(String::from_iter)
}

fn byte_str(max: usize) -> impl Strategy<Value = ByteStr> {
    text(max).prop_map(|s| ByteStr::from(s.as_str()))
}

fn level() -> impl Strategy<Value = String> {
    text(6).prop_map(|s| s.replace(['+', '#', '/'], "x"))
}

/// A valid topic name: levels without wildcards, not empty.
fn topic_name() -> impl Strategy<Value = ByteStr> {
    prop::collection::vec(level(), 1..5)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("a topic name is not empty", |t| !t.is_empty())
        .prop_map(|t| ByteStr::from(t.as_str()))
}

/// A valid topic filter: `+` levels anywhere, `#` only last.
fn topic_filter() -> impl Strategy<Value = ByteStr> {
    let level = prop_oneof![3 => level(), 1 => Just("+".to_string())];
    (prop::collection::vec(level, 1..5), any::<bool>())
        .prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#".into());
            }
            levels.join("/")
        })
        .prop_filter("a filter is not empty", |f| !f.is_empty())
        .prop_map(|f| ByteStr::from(f.as_str()))
}

fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// Where a property list sits: which properties it may hold (MQTT 5 table 2.2.2.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ctx {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubResp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop::option::weighted(0.25, s).boxed()
}

fn flag() -> impl Strategy<Value = u8> {
    0u8..=1
}

/// Arbitrary properties, each present at random among those `ctx` allows.
fn properties(ctx: Ctx) -> BoxedStrategy<Properties> {
    use Ctx::*;
    let message = (
        opt(any::<u8>()),
        opt(any::<u32>()),
        opt(byte_str(8)),
        opt(topic_name()),
        opt(binary(8)),
    );
    let session = (
        opt(any::<u32>()),
        opt(byte_str(8)),
        opt(any::<u16>()),
        opt(byte_str(8)),
        opt(binary(8)),
        opt(flag()),
        opt(any::<u32>()),
        opt(flag()),
        opt(byte_str(8)),
        opt(byte_str(8)),
        opt(byte_str(8)),
    );
    let limits = (
        opt(1u16..),
        opt(any::<u16>()),
        opt(any::<u16>()),
        opt(flag()),
        opt(flag()),
        opt(1u32..),
        opt(flag()),
        opt(flag()),
        opt(flag()),
    );
    let lists = (
        prop::collection::vec(1u32..=MAX_REMAINING_LENGTH as u32, 0..3),
        prop::collection::vec((byte_str(6), byte_str(6)), 0..3),
    );
    (message, session, limits, lists)
        .prop_map(move |(m, s, l, (sub_ids, users))| {
            let any_of = |set: &[Ctx]| set.contains(&ctx);
            let only = |set: &[Ctx]| any_of(set);
            let mut p = Properties::default();
            if only(&[Publish, Will]) {
                p.payload_format_indicator = m.0;
                p.message_expiry_interval = m.1;
                p.content_type = m.2;
                p.response_topic = m.3;
                p.correlation_data = m.4;
            }
            if only(&[Connect, ConnAck, Disconnect]) {
                p.session_expiry_interval = s.0;
            }
            if only(&[ConnAck]) {
                p.assigned_client_identifier = s.1;
                p.server_keep_alive = s.2;
                p.response_information = s.8;
                p.maximum_qos = l.3;
                p.retain_available = l.4;
                p.wildcard_subscription_available = l.6;
                p.subscription_identifier_available = l.7;
                p.shared_subscription_available = l.8;
            }
            if only(&[Connect, ConnAck, Auth]) {
                p.authentication_method = s.3;
                p.authentication_data = s.4;
            }
            if only(&[Connect]) {
                p.request_problem_information = s.5;
                p.request_response_information = s.7;
            }
            if only(&[Will]) {
                p.will_delay_interval = s.6;
            }
            if only(&[ConnAck, Disconnect]) {
                p.server_reference = s.9;
            }
            if only(&[ConnAck, PubResp, SubAck, UnsubAck, Disconnect, Auth]) {
                p.reason_string = s.10;
            }
            if only(&[Connect, ConnAck]) {
                p.receive_maximum = l.0;
                p.topic_alias_maximum = l.1;
                p.maximum_packet_size = l.5;
            }
            if only(&[Publish]) {
                p.topic_alias = l.2;
                p.subscription_identifiers = sub_ids;
            } else if only(&[Subscribe]) {
                p.subscription_identifiers = sub_ids.into_iter().take(1).collect();
            }
            p.user_properties = users;
            p
        })
        .boxed()
}

fn props_for(version: Version, ctx: Ctx) -> BoxedStrategy<Properties> {
    if version == Version::V5 {
        properties(ctx)
    } else {
        Just(Properties::default()).boxed()
    }
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = u16> {
    1u16..
}

fn connect(version: Version) -> impl Strategy<Value = Packet> {
    let will = (
        topic_name(),
        binary(16),
        qos(),
        any::<bool>(),
        props_for(version, Ctx::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
            raw_properties: Bytes::new(),
        });
    (
        any::<bool>(),
        any::<u16>(),
        byte_str(12),
        prop::option::of(will),
        prop::option::of(byte_str(8)),
        prop::option::of(binary(8)),
        props_for(version, Ctx::Connect),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                // 3.1 and 3.1.1 allow a password only with a user name.
                let password = password.filter(|_| version == Version::V5 || username.is_some());
                Packet::Connect(Box::new(Connect {
                    version,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
}

fn publish(version: Version) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        props_for(version, Ctx::Publish),
        binary(64),
        any::<bool>(),
    )
        .prop_map(
            |(dup, qos, retain, topic, id, properties, payload, alias_only)| {
                // With a topic alias the topic may be empty (MQTT 5).
                let topic = if alias_only && properties.topic_alias.is_some() {
                    ByteStr::default()
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    dup,
                    qos,
                    retain,
                    topic,
                    packet_id: if qos == QoS::AtMostOnce { 0 } else { id },
                    properties: Some(Box::new(properties)).filter(|p| !p.is_empty()),
                    raw_properties: Bytes::new(),
                    payload,
                })
            },
        )
}

fn pub_resp(version: Version) -> impl Strategy<Value = PubResp> {
    let v5 = version == Version::V5;
    (packet_id(), any::<u8>(), props_for(version, Ctx::PubResp)).prop_map(
        move |(packet_id, reason, properties)| PubResp {
            packet_id,
            reason: if v5 { reason } else { 0 },
            properties,
        },
    )
}

fn sub_options(version: Version) -> impl Strategy<Value = SubOptions> {
    let v5 = version == Version::V5;
    let handling = prop_oneof![
        Just(RetainHandling::OnSubscribe),
        Just(RetainHandling::OnNewSubscription),
        Just(RetainHandling::Never)
    ];
    (qos(), any::<bool>(), any::<bool>(), handling).prop_map(move |(qos, nl, rap, rh)| {
        if v5 {
            SubOptions {
                qos,
                no_local: nl,
                retain_as_published: rap,
                retain_handling: rh,
            }
        } else {
            SubOptions::qos(qos)
        }
    })
}

fn any_packet(version: Version) -> BoxedStrategy<Packet> {
    let v5 = version == Version::V5;
    let mut choices: Vec<BoxedStrategy<Packet>> = vec![
        connect(version).boxed(),
        (any::<bool>(), any::<u8>(), props_for(version, Ctx::ConnAck))
            .prop_map(|(session_present, code, properties)| {
                Packet::ConnAck(ConnAck {
                    session_present,
                    code,
                    properties,
                })
            })
            .boxed(),
        publish(version).boxed(),
        pub_resp(version).prop_map(Packet::PubAck).boxed(),
        pub_resp(version).prop_map(Packet::PubRec).boxed(),
        pub_resp(version).prop_map(Packet::PubRel).boxed(),
        pub_resp(version).prop_map(Packet::PubComp).boxed(),
        (
            packet_id(),
            prop::collection::vec((topic_filter(), sub_options(version)), 1..4),
            props_for(version, Ctx::Subscribe),
        )
            .prop_map(|(packet_id, filters, properties)| {
                Packet::Subscribe(Subscribe {
                    packet_id,
                    filters,
                    properties,
                })
            })
            .boxed(),
        (
            packet_id(),
            prop::collection::vec(any::<u8>(), 1..4),
            props_for(version, Ctx::SubAck),
        )
            .prop_map(|(packet_id, return_codes, properties)| {
                Packet::SubAck(SubAck {
                    packet_id,
                    return_codes,
                    properties,
                })
            })
            .boxed(),
        (
            packet_id(),
            prop::collection::vec(topic_filter(), 1..4),
            props_for(version, Ctx::Unsubscribe),
        )
            .prop_map(|(packet_id, filters, properties)| {
                Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    filters,
                    properties,
                })
            })
            .boxed(),
        (
            packet_id(),
            prop::collection::vec(any::<u8>(), 0..4),
            props_for(version, Ctx::UnsubAck),
        )
            .prop_map(move |(packet_id, codes, properties)| {
                Packet::UnsubAck(UnsubAck {
                    packet_id,
                    reason_codes: if v5 { codes } else { Vec::new() },
                    properties,
                })
            })
            .boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        (any::<u8>(), props_for(version, Ctx::Disconnect))
            .prop_map(move |(reason, properties)| {
                Packet::Disconnect(Disconnect {
                    reason: if v5 { reason } else { 0 },
                    properties,
                })
            })
            .boxed(),
    ];
    if v5 {
        choices.push(
            (any::<u8>(), props_for(version, Ctx::Auth))
                .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties }))
                .boxed(),
        );
    }
    prop::strategy::Union::new(choices).boxed()
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V31), Just(Version::V311), Just(Version::V5)]
}

fn versioned_packet() -> impl Strategy<Value = (Version, Packet)> {
    version().prop_flat_map(|v| any_packet(v).prop_map(move |p| (v, p)))
}

fn encode(packet: &Packet, version: Version) -> Vec<u8> {
    let mut out = BytesMut::new();
    packet.encode(version, &mut out);
    out.to_vec()
}

/// Bytes near valid ones: an encoded packet with a few bytes changed, cut or inserted.
fn near_valid_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(versioned_packet(), 1..4),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4),
    )
        .prop_map(|(packets, edits)| {
            let mut bytes: Vec<u8> = packets.iter().flat_map(|(v, p)| encode(p, *v)).collect();
            for (at, value, kind) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = value,
                    1 => bytes.truncate(i),
                    _ => bytes.insert(i, value),
                }
            }
            bytes
        })
}

fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        near_valid_bytes(),
    ]
}

// --- the decoder ---

/// Decodes until the bytes run out or are refused, checking what each call took.
fn decode_all(bytes: &[u8], version: Version, max: usize) -> Vec<Result<Packet, DecodeError>> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    for _ in 0..=bytes.len() {
        let before = buf.len();
        match decode(&mut buf, version, max) {
            Ok(Some(packet)) => {
                let taken = before - buf.len();
                assert!(
                    (2..=before).contains(&taken),
                    "took {taken} of {before} bytes"
                );
                out.push(Ok(packet));
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "bytes taken while waiting for more");
                return out;
            }
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
    panic!("more packets than bytes");
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder_nor_take_more_than_given(
        bytes in hostile_bytes(),
        version in version(),
        max in prop_oneof![Just(2usize), Just(64), Just(300), Just(PROTOCOL_MAX)],
    ) {
        decode_all(&bytes, version, max);
    }

    #[test]
    fn every_valid_packet_round_trips_in_its_version((version, packet) in versioned_packet()) {
        let bytes = encode(&packet, version);
        let decoded = decode_all(&bytes, version, PROTOCOL_MAX);
        let mut back = match decoded.as_slice() {
            [Ok(back)] => back.clone(),
            other => panic!("{packet:?} as {bytes:02x?} decodes to {other:?}"),
        };
        back.forget_raw_properties();
        prop_assert_eq!(back, packet);
    }

    #[test]
    fn a_packet_split_anywhere_decodes_the_same(
        (version, packet) in versioned_packet(),
        at in any::<prop::sample::Index>(),
    ) {
        let bytes = encode(&packet, version);
        let cut = at.index(bytes.len());
        let mut buf = BytesMut::from(&bytes[..cut]);
        prop_assert!(matches!(decode(&mut buf, version, PROTOCOL_MAX), Ok(None)));
        prop_assert_eq!(buf.len(), cut, "bytes taken from an incomplete packet");
        buf.extend_from_slice(&bytes[cut..]);
        let whole = decode(&mut buf, version, PROTOCOL_MAX);
        prop_assert!(matches!(whole, Ok(Some(_))), "{:?}", whole);
        prop_assert!(buf.is_empty());
    }
}

// --- the broker in process ---

fn op() -> impl Strategy<Value = Op> {
    let client = 0u8..8;
    let write = prop_oneof![
        hostile_bytes(),
        prop::collection::vec(versioned_packet(), 1..3)
            .prop_map(|ps| ps.iter().flat_map(|(v, p)| encode(p, *v)).collect()),
    ];
    prop_oneof![
        1 => Just(Op::Open),
        3 => (any::<u8>(), any::<u8>(), any::<bool>(), 0u8..4, any::<bool>()).prop_map(
            |(version, id, clean, keep_alive, will)| Op::Hello { version, id, clean, keep_alive, will }
        ),
        4 => (client.clone(), write).prop_map(|(client, bytes)| Op::Write { client, bytes }),
        4 => (client.clone(), any::<u8>(), any::<u8>())
            .prop_map(|(client, packet, id)| Op::Canned { client, packet, id }),
        1 => (client.clone(), any::<bool>()).prop_map(|(client, abort)| Op::Close { client, abort }),
        1 => client.clone().prop_map(|client| Op::ShutdownWrite { client }),
        1 => (1u8..=40).prop_map(|quarters| Op::Tick { quarters }),
        1 => client.clone().prop_map(|client| Op::StopReading { client }),
        1 => client.clone().prop_map(|client| Op::ResumeReading { client }),
        1 => (client, any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(client, packet, id, times)| Op::Flood { client, packet, id, times }),
    ]
}

fn init_log() {
    // Every log line is formatted (hostile client ids and topics included), then discarded.
    let _ = midge::log::init(
        midge::log::LogTypes::ALL,
        &[midge::log::LogDest::File("/dev/null".into())],
    );
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn arbitrary_scripts_never_panic_the_broker_and_others_stay_served(
        variant in 0u8..5,
        ops in prop::collection::vec(op(), 1..24),
    ) {
        init_log();
        Rig::run(variant, Rig::listener(), &ops);
    }

    #[test]
    fn arbitrary_bytes_read_as_a_script_never_panic_the_broker(
        variant in 0u8..5,
        script in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        init_log();
        Rig::run(variant, Rig::listener(), &Op::parse_script(&script));
    }
}

/// The harness itself: a short script reaches subscriptions, both QoS 2 directions, the
/// retained store, and a keep-alive time-out under virtual time.
#[test]
fn the_harness_reaches_qos_flows_retained_messages_and_timeouts() {
    init_log();
    let ops = [
        // c0: 3.1.1, persistent, keep-alive 1 s, with a will; c1: 5.0, no keep-alive.
        Op::Hello {
            version: 1,
            id: 0,
            clean: false,
            keep_alive: 1,
            will: true,
        },
        Op::Hello {
            version: 2,
            id: 1,
            clean: true,
            keep_alive: 0,
            will: false,
        },
        Op::Canned {
            client: 0,
            packet: 0,
            id: 0,
        }, // SUBSCRIBE t/# QoS 2
        Op::Canned {
            client: 1,
            packet: 5,
            id: 0,
        }, // PUBLISH QoS 2, id 1
        Op::Canned {
            client: 1,
            packet: 6,
            id: 1,
        }, // PUBLISH retained QoS 1, id 2
        Op::Canned {
            client: 1,
            packet: 12,
            id: 0,
        }, // PUBREL 1
    ];
    let mut rig = Rig::new(0, Rig::listener());
    for op in &ops {
        rig.apply(op);
        rig.check();
    }
    let max = rig.max_footprint;
    assert_eq!(max.connections, 3, "the bystander, c0 and c1");
    assert_eq!(max.sessions, 3);
    assert_eq!(max.subscriptions, 2, "the bystander's and c0's");
    assert_eq!(max.incoming, 1, "c1's QoS 2 message until PUBREL");
    assert_eq!(max.inflight, 2, "both messages to c0, unacknowledged");
    assert_eq!(max.retained, 1);
    // 3 s later c0 has missed its keep-alive (1.5 s); its session stays, being persistent.
    rig.apply(&Op::Tick { quarters: 12 });
    rig.check();
    let now = rig.footprint();
    assert_eq!(now.connections, 2, "c0 timed out");
    assert_eq!(
        now.sessions, 3,
        "c0's persistent session outlives its connection"
    );
    // Its socket lingers (see broker/linger.rs) until its client closes, or for 2 s.
    assert_eq!(now.lingering, 1, "c0's socket lingers");
    rig.apply(&Op::Tick { quarters: 9 });
    rig.check();
    assert_eq!(rig.footprint().lingering, 0, "c0's socket closed after 2 s");
    rig.finish();
}

fn hello(id: u8) -> Op {
    Op::Hello {
        version: 1,
        id,
        clean: true,
        keep_alive: 0,
        will: false,
    }
}

/// The rig models a subscriber that stops reading: its socket fills, the broker holds what
/// did not fit, within the bound (QoS 0 beyond it is dropped), and when the client reads
/// again everything held reaches it. Configuration 1: `max_queued_bytes 2000`.
#[test]
fn a_subscriber_that_stops_reading_costs_its_bound_and_gets_the_rest_when_it_reads() {
    init_log();
    let mut rig = Rig::new(1, Rig::listener());
    let subscribe_t_all = Op::Canned {
        client: 0,
        packet: 0,
        id: 0,
    };
    for op in [
        hello(0),
        hello(1),
        subscribe_t_all,
        Op::StopReading { client: 0 },
    ] {
        rig.apply(&op);
        rig.check();
    }
    // A turn's output to c0 stops at the bound (QoS 0 beyond it is dropped); floods go on
    // until its socket is full and the broker holds the bound.
    let bound = rig.bounds().send_queue_bytes;
    assert_eq!(bound, 2000);
    let held = |rig: &Rig| {
        rig.client_footprint(0)
            .expect("c0 is connected")
            .send_queued_bytes
    };
    for _ in 0..100 {
        if held(&rig) >= bound {
            break;
        }
        rig.apply(&Op::Flood {
            client: 1,
            packet: 3, // PUBLISH t/a QoS 0
            id: 0,
            times: 8,
        });
        rig.check();
        assert!(
            held(&rig) <= bound + 64,
            "{} bytes held: more than the bound and one packet",
            held(&rig)
        );
    }
    let held = held(&rig);
    assert!(
        held >= bound,
        "c0's socket filled up and the broker holds the bound"
    );
    let received = rig.client_received_bytes(0);
    rig.apply(&Op::ResumeReading { client: 0 });
    rig.check();
    assert_eq!(
        rig.client_footprint(0).map(|f| f.send_queued_bytes),
        Some(0)
    );
    assert!(
        rig.client_received_bytes(0) >= received + held,
        "what the broker held reached c0 once it read again"
    );
    rig.finish();
}

/// A peer that sends PINGREQ after PINGREQ and never reads costs the broker at most its
/// output bound: replies count against it as deliveries do, and its input waits in its own
/// socket. The rig checks the same bound after every op of the scripts above.
#[test]
fn a_peer_flooding_pingreq_without_reading_costs_at_most_its_bound() {
    init_log();
    let mut rig = Rig::new(1, Rig::listener());
    let flood_ping = Op::Flood {
        client: 0,
        packet: 15, // PINGREQ
        id: 0,
        times: 255,
    };
    for op in [
        hello(0),
        Op::StopReading { client: 0 },
        flood_ping.clone(),
        flood_ping,
    ] {
        rig.apply(&op);
    }
    let bound = rig.bounds().send_queue_bytes;
    let held = rig
        .client_footprint(0)
        .expect("c0 is connected")
        .send_queued_bytes;
    assert!(
        held <= bound + 2,
        "{held} bytes of PINGRESP held, over the bound {bound}"
    );
    rig.finish();
}
