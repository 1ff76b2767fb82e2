//! Codec tests: every packet round-trips in every version that has it, decoding is
//! incremental, and each thing the specs forbid is rejected.

use bytes::{Bytes, BytesMut};

use super::*;

const MAX: usize = framing::MAX_REMAINING_LENGTH + 5;

fn encode(packet: &Packet, version: Version) -> BytesMut {
    let mut out = BytesMut::new();
    packet.encode(version, &mut out);
    out
}

fn decode_all(bytes: &[u8], version: Version) -> Result<Option<Packet>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let packet = decode(&mut buf, version, MAX)?;
    assert!(
        buf.is_empty() || packet.is_none(),
        "decode left bytes behind"
    );
    Ok(packet)
}

fn round_trip(packet: Packet, version: Version) {
    let bytes = encode(&packet, version);
    let mut back = decode_all(&bytes, version).unwrap().unwrap();
    // The raw properties are a by-product of decoding, checked on their own below.
    back.forget_raw_properties();
    assert_eq!(back, packet, "{version:?} round trip");
}

fn sample_connect(version: Version) -> Connect {
    let v5 = version == Version::V5;
    let properties = |p: Properties| if v5 { p } else { Properties::default() };
    Connect {
        version,
        clean_start: true,
        keep_alive: 60,
        client_id: "cli-1".into(),
        will: Some(Will {
            topic: "will/topic".into(),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: properties(Properties {
                will_delay_interval: Some(5),
                ..Properties::default()
            }),
            raw_properties: Bytes::new(),
        }),
        username: Some("user".into()),
        password: Some(Bytes::from_static(b"secret")),
        properties: properties(Properties {
            session_expiry_interval: Some(30),
            receive_maximum: Some(10),
            ..Properties::default()
        }),
    }
}

#[test]
fn connect_round_trips_in_every_version() {
    for version in [Version::V31, Version::V311, Version::V5] {
        round_trip(Packet::Connect(Box::new(sample_connect(version))), version);
    }
}

#[test]
fn minimal_connect_matches_the_bytes_mosquitto_sends() {
    let connect = Connect {
        version: Version::V311,
        clean_start: true,
        keep_alive: 60,
        client_id: "a".into(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    };
    let expected = [
        0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'a',
    ];
    assert_eq!(
        &encode(&Packet::Connect(Box::new(connect)), Version::V311)[..],
        &expected
    );
}

#[test]
fn every_other_packet_round_trips() {
    let v5_props = Properties {
        reason_string: Some("because".into()),
        user_properties: vec![("k".into(), "v".into())],
        ..Properties::default()
    };
    for version in [Version::V31, Version::V311, Version::V5] {
        let v5 = version == Version::V5;
        let props = |p: &Properties| if v5 { p.clone() } else { Properties::default() };
        let resp = PubResp {
            packet_id: 7,
            reason: if v5 {
                reason::NO_MATCHING_SUBSCRIBERS
            } else {
                0
            },
            properties: props(&v5_props),
        };
        let packets = vec![
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: 0,
                properties: props(&Properties {
                    assigned_client_identifier: Some("auto-x".into()),
                    ..Properties::default()
                }),
            }),
            Packet::Publish(Publish {
                dup: true,
                qos: QoS::ExactlyOnce,
                retain: true,
                topic: "a/b".into(),
                packet_id: 9,
                properties: v5.then(|| {
                    Box::new(Properties {
                        message_expiry_interval: Some(10),
                        ..Properties::default()
                    })
                }),
                raw_properties: Bytes::new(),
                payload: Bytes::from_static(b"payload"),
            }),
            Packet::Publish(Publish {
                topic: "q0".into(),
                payload: Bytes::new(),
                ..Publish::default()
            }),
            Packet::PubAck(resp.clone()),
            Packet::PubRec(resp.clone()),
            Packet::PubRel(resp.clone()),
            Packet::PubComp(PubResp::new(65535)),
            Packet::Subscribe(Subscribe {
                packet_id: 1,
                filters: vec![
                    ("a/+".into(), SubOptions::qos(QoS::AtLeastOnce)),
                    (
                        "b/#".into(),
                        if v5 {
                            SubOptions {
                                qos: QoS::ExactlyOnce,
                                no_local: true,
                                retain_as_published: true,
                                retain_handling: RetainHandling::Never,
                            }
                        } else {
                            SubOptions::qos(QoS::ExactlyOnce)
                        },
                    ),
                ],
                properties: props(&Properties {
                    subscription_identifiers: vec![42],
                    ..Properties::default()
                }),
            }),
            Packet::SubAck(SubAck {
                packet_id: 1,
                return_codes: vec![0, 1, 2, 0x80],
                properties: props(&v5_props),
            }),
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 2,
                filters: vec!["a/+".into(), "c".into()],
                properties: Properties::default(),
            }),
            Packet::UnsubAck(UnsubAck {
                packet_id: 2,
                reason_codes: if v5 { vec![0, 0x11] } else { vec![] },
                properties: props(&v5_props),
            }),
            Packet::PingReq,
            Packet::PingResp,
            Packet::Disconnect(Disconnect {
                reason: if v5 { reason::DISCONNECT_WITH_WILL } else { 0 },
                properties: props(&v5_props),
            }),
        ];
        for packet in packets {
            round_trip(packet, version);
        }
    }
    round_trip(
        Packet::Auth(Auth {
            reason: 0x18,
            properties: Properties {
                authentication_method: Some("SCRAM-SHA-1".into()),
                authentication_data: Some(Bytes::from_static(b"\x01\x02")),
                ..Properties::default()
            },
        }),
        Version::V5,
    );
}

#[test]
fn short_forms_of_v5_acknowledgements_decode() {
    // PUBACK with only a packet id, DISCONNECT and AUTH with nothing at all.
    assert_eq!(
        decode_all(&[0x40, 0x02, 0x00, 0x05], Version::V5),
        Ok(Some(Packet::PubAck(PubResp::new(5))))
    );
    assert_eq!(
        decode_all(&[0xe0, 0x00], Version::V5),
        Ok(Some(Packet::Disconnect(Disconnect::default())))
    );
    assert_eq!(
        decode_all(&[0xf0, 0x00], Version::V5),
        Ok(Some(Packet::Auth(Auth::default())))
    );
    // And a success PUBACK is encoded in its two-byte form.
    let out = encode(&Packet::PubAck(PubResp::new(5)), Version::V5);
    assert_eq!(&out[..], &[0x40, 0x02, 0x00, 0x05]);
}

#[test]
fn a_packet_split_across_reads_decodes_once_complete() {
    let bytes = encode(
        &Packet::Connect(Box::new(sample_connect(Version::V5))),
        Version::V5,
    );
    let mut buf = BytesMut::new();
    for (i, byte) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[*byte]);
        let got = decode(&mut buf, Version::V5, MAX).unwrap();
        assert_eq!(got.is_some(), i == bytes.len() - 1, "after byte {i}");
    }
    assert!(buf.is_empty());
}

#[test]
fn many_packets_in_one_read_decode_one_by_one() {
    let mut buf = BytesMut::new();
    for i in 1..=100u16 {
        Packet::PubAck(PubResp::new(i)).encode(Version::V311, &mut buf);
    }
    Packet::PingReq.encode(Version::V311, &mut buf);
    for i in 1..=100u16 {
        assert_eq!(
            decode(&mut buf, Version::V311, MAX),
            Ok(Some(Packet::PubAck(PubResp::new(i))))
        );
    }
    assert_eq!(
        decode(&mut buf, Version::V311, MAX),
        Ok(Some(Packet::PingReq))
    );
    assert_eq!(decode(&mut buf, Version::V311, MAX), Ok(None));
}

#[test]
fn payload_is_a_slice_of_the_read_buffer_not_a_copy() {
    let publish = Publish {
        topic: "t".into(),
        payload: Bytes::from(vec![7u8; 4096]),
        ..Publish::default()
    };
    let mut buf = encode(&Packet::Publish(publish), Version::V311);
    let frame_start = buf.as_ptr() as usize;
    let frame_end = frame_start + buf.len();
    let Ok(Some(Packet::Publish(got))) = decode(&mut buf, Version::V311, MAX) else {
        panic!("expected a PUBLISH");
    };
    let payload_at = got.payload.as_ptr() as usize;
    assert!((frame_start..frame_end).contains(&payload_at));
}

#[test]
fn a_claimed_length_is_not_allocated_before_the_bytes_arrive() {
    // Claims 268,435,455 bytes and sends five.
    let mut buf = BytesMut::from(&[0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, b't', 1, 2][..]);
    let capacity = buf.capacity();
    assert_eq!(decode(&mut buf, Version::V311, MAX), Ok(None));
    assert_eq!(buf.capacity(), capacity);
}

#[test]
fn a_packet_over_the_size_limit_is_refused_from_its_header() {
    let mut buf = BytesMut::from(&[0x30, 0x80, 0x08][..]); // claims 1024 bytes
    assert_eq!(
        decode(&mut buf, Version::V311, 1000),
        Err(DecodeError::TooLarge {
            size: 1027,
            max: 1000
        })
    );
}

fn rejects(bytes: &[u8], version: Version) -> DecodeError {
    match decode_all(bytes, version) {
        Err(e) => e,
        Ok(p) => panic!("{bytes:02x?} decoded as {p:?}"),
    }
}

#[test]
fn remaining_length_over_four_bytes_is_malformed() {
    let e = rejects(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f], Version::V311);
    assert_eq!(e.reason_code(), reason::MALFORMED_PACKET);
}

#[test]
fn reserved_flag_bits_are_malformed() {
    for bytes in [
        &[0xc1, 0x00][..],                      // PINGREQ with a flag
        &[0x60, 0x02, 0x00, 0x01][..],          // PUBREL without its 0010
        &[0x80, 0x06, 0, 1, 0, 1, b'a', 0][..], // SUBSCRIBE without its 0010
        &[0x42, 0x02, 0x00, 0x01][..],          // PUBACK with a flag
    ] {
        assert!(matches!(
            rejects(bytes, Version::V311),
            DecodeError::Malformed(_)
        ));
    }
}

#[test]
fn mqtt_3_1_pubrel_subscribe_and_unsubscribe_may_carry_dup() {
    for bytes in [
        &[0x6a, 0x02, 0x00, 0x01][..],          // PUBREL, DUP and QoS 1
        &[0x8a, 0x06, 0, 1, 0, 1, b'a', 0][..], // SUBSCRIBE, DUP and QoS 1
        &[0xaa, 0x05, 0, 1, 0, 1, b'a'][..],    // UNSUBSCRIBE, DUP and QoS 1
    ] {
        assert!(decode_all(bytes, Version::V31).unwrap().is_some());
        assert!(decode_all(bytes, Version::V311).is_err());
    }
}

#[test]
fn qos_3_is_malformed_in_publish_subscribe_and_will() {
    assert!(matches!(
        rejects(&[0x36, 0x05, 0, 1, b't', 0, 1], Version::V311),
        DecodeError::Malformed("QoS 3")
    ));
    assert!(matches!(
        rejects(&[0x82, 0x06, 0, 1, 0, 1, b'a', 3], Version::V311),
        DecodeError::Malformed(_)
    ));
    let will_qos3 = [
        0x10, 0x15, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x1e, 0, 60, 0, 1, b'a', 0, 1, b'w', 0, 2,
        b'h', b'i', 0,
    ];
    assert!(matches!(
        rejects(&will_qos3[..23], Version::V311),
        DecodeError::Malformed(_)
    ));
}

#[test]
fn wildcards_and_empty_topics_are_refused_in_publish() {
    for topic in [&b"a/+"[..], b"#", b""] {
        let mut bytes = vec![0x30, (2 + topic.len()) as u8, 0, topic.len() as u8];
        bytes.extend_from_slice(topic);
        assert!(matches!(
            rejects(&bytes, Version::V311),
            DecodeError::Protocol(_)
        ));
    }
}

#[test]
fn an_empty_topic_is_allowed_with_a_v5_topic_alias() {
    // topic "", properties: topic alias 1, payload "x"
    let bytes = [0x30, 0x07, 0, 0, 0x03, 0x23, 0, 1, b'x'];
    let Ok(Some(Packet::Publish(p))) = decode_all(&bytes, Version::V5) else {
        panic!("expected a PUBLISH");
    };
    assert_eq!(p.props().topic_alias, Some(1));
    assert_eq!(&p.payload[..], b"x");
}

#[test]
fn malformed_utf8_and_nul_are_refused_in_strings() {
    let bad_utf8 = [0x30, 0x04, 0, 2, 0xc3, 0x28];
    assert!(matches!(
        rejects(&bad_utf8, Version::V311),
        DecodeError::Malformed(_)
    ));
    let nul = [0x30, 0x04, 0, 2, b'a', 0];
    assert!(matches!(
        rejects(&nul, Version::V311),
        DecodeError::Malformed(_)
    ));
    // A UTF-16 surrogate half encoded in UTF-8 (U+D800) is not valid UTF-8 either.
    let surrogate = [0x30, 0x05, 0, 3, 0xed, 0xa0, 0x80];
    assert!(matches!(
        rejects(&surrogate, Version::V311),
        DecodeError::Malformed(_)
    ));
}

#[test]
fn malformed_filters_are_refused_in_subscribe_and_unsubscribe() {
    for filter in [&b"a/#/b"[..], b"a+", b"#a", b""] {
        let mut sub = vec![0x82, (5 + filter.len()) as u8, 0, 1, 0, filter.len() as u8];
        sub.extend_from_slice(filter);
        sub.push(0);
        assert!(matches!(
            rejects(&sub, Version::V311),
            DecodeError::Malformed(_)
        ));
        let mut unsub = vec![0xa2, (4 + filter.len()) as u8, 0, 1, 0, filter.len() as u8];
        unsub.extend_from_slice(filter);
        assert!(matches!(
            rejects(&unsub, Version::V311),
            DecodeError::Malformed(_)
        ));
    }
}

#[test]
fn packet_id_zero_is_a_protocol_error_where_one_is_required() {
    for bytes in [
        &[0x32, 0x05, 0, 1, b't', 0, 0][..],    // PUBLISH QoS 1
        &[0x40, 0x02, 0, 0][..],                // PUBACK
        &[0x62, 0x02, 0, 0][..],                // PUBREL
        &[0x82, 0x06, 0, 0, 0, 1, b'a', 0][..], // SUBSCRIBE
        &[0xa2, 0x05, 0, 0, 0, 1, b'a'][..],    // UNSUBSCRIBE
    ] {
        assert_eq!(
            rejects(bytes, Version::V311),
            DecodeError::Protocol("packet identifier 0"),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn subscribe_and_unsubscribe_need_at_least_one_filter() {
    // Malformed rather than a protocol error, as mosquitto answers (0x81).
    assert!(matches!(
        rejects(&[0x82, 0x02, 0, 1], Version::V311),
        DecodeError::Malformed(_)
    ));
    assert!(matches!(
        rejects(&[0xa2, 0x02, 0, 1], Version::V311),
        DecodeError::Malformed(_)
    ));
}

#[test]
fn dup_on_qos0_is_accepted_as_mosquitto_does() {
    let Ok(Some(Packet::Publish(p))) = decode_all(&[0x38, 0x03, 0, 1, b't'], Version::V311) else {
        panic!("expected a PUBLISH");
    };
    assert!(p.dup);
}

#[test]
fn unknown_protocol_names_and_levels_are_told_apart() {
    let connect = |name: &[u8], level: u8| {
        let mut body = vec![0, name.len() as u8];
        body.extend_from_slice(name);
        body.extend_from_slice(&[level, 0x02, 0, 60, 0, 1, b'a']);
        let mut bytes = vec![0x10, body.len() as u8];
        bytes.extend_from_slice(&body);
        bytes
    };
    assert_eq!(
        rejects(&connect(b"MQTT", 6), Version::V311),
        DecodeError::UnsupportedVersion(6)
    );
    assert_eq!(
        rejects(&connect(b"MQIsdp", 4), Version::V311),
        DecodeError::UnsupportedVersion(4)
    );
    assert_eq!(
        rejects(&connect(b"HTTP", 4), Version::V311),
        DecodeError::InvalidProtocolName("HTTP".into())
    );
    // A bridge's level has the top bit set; it is still 3.1.1.
    assert!(
        decode_all(&connect(b"MQTT", 0x84), Version::V311)
            .unwrap()
            .is_some()
    );
    assert!(
        decode_all(&connect(b"MQIsdp", 3), Version::V311)
            .unwrap()
            .is_some()
    );
}

#[test]
fn connect_flag_rules_are_enforced() {
    let connect = |flags: u8| {
        vec![
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0, 60, 0, 1, b'a',
        ]
    };
    // Reserved bit, will retain without a will, will QoS without a will.
    for flags in [0x03, 0x22, 0x0a] {
        assert!(matches!(
            rejects(&connect(flags), Version::V311),
            DecodeError::Malformed(_)
        ));
    }
    // A password without a username is a 3.1.1 protocol error (flags announce a password the
    // packet does not contain, but the flag rule is checked first).
    assert!(matches!(
        rejects(&connect(0x42), Version::V311),
        DecodeError::Protocol(_)
    ));
}

#[test]
fn reserved_packet_types_are_protocol_errors_as_mosquitto_says() {
    assert!(matches!(
        rejects(&[0x00, 0x00], Version::V311),
        DecodeError::Protocol(_)
    ));
    assert!(matches!(
        rejects(&[0xf0, 0x00], Version::V311),
        DecodeError::Protocol(_)
    ));
}

#[test]
fn trailing_bytes_are_malformed() {
    assert!(matches!(
        rejects(&[0xc0, 0x01, 0x00], Version::V311),
        DecodeError::Malformed(_)
    ));
    assert!(matches!(
        rejects(&[0x40, 0x03, 0x00, 0x01, 0x00], Version::V311),
        DecodeError::Malformed(_)
    ));
}

#[test]
fn v3_subscription_options_must_not_use_v5_bits() {
    let sub = [0x82, 0x06, 0, 1, 0, 1, b'a', 0x04]; // no-local bit in 3.1.1
    assert!(matches!(
        rejects(&sub, Version::V311),
        DecodeError::Malformed(_)
    ));
    assert!(decode_all(&sub, Version::V5).is_err()); // v5 needs a property length first
    let v5 = [0x82, 0x07, 0, 1, 0, 0, 1, b'a', 0x04];
    assert!(decode_all(&v5, Version::V5).unwrap().is_some());
}

#[test]
fn outgoing_publish_decodes_as_the_publish_it_describes() {
    let shared = Properties {
        content_type: Some("text/plain".into()),
        user_properties: vec![("k".into(), "v".into())],
        ..Properties::default()
    };
    let mut shared_bytes = BytesMut::new();
    shared.encode_body(&mut shared_bytes);
    let outgoing = OutgoingPublish {
        dup: true,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: "a/b",
        packet_id: 9,
        topic_alias: Some(2),
        message_expiry: Some(30),
        subscription_ids: &[1, 300],
        properties: &shared_bytes,
        payload_len: 3,
    };
    let mut out = BytesMut::new();
    outgoing.encode_header(Version::V5, &mut out);
    out.extend_from_slice(b"xyz");
    assert_eq!(out.len(), outgoing.packet_len(Version::V5));
    let Ok(Some(Packet::Publish(p))) = decode_all(&out, Version::V5) else {
        panic!("expected a PUBLISH");
    };
    assert_eq!(
        (p.dup, p.qos, p.retain, p.packet_id),
        (true, QoS::AtLeastOnce, true, 9)
    );
    assert_eq!(&*p.topic, "a/b");
    assert_eq!(&p.payload[..], b"xyz");
    let props = p.props();
    assert_eq!(props.topic_alias, Some(2));
    assert_eq!(props.message_expiry_interval, Some(30));
    assert_eq!(props.subscription_identifiers, vec![1, 300]);
    assert_eq!(props.content_type, shared.content_type);
    assert_eq!(props.user_properties, shared.user_properties);
}

#[test]
fn outgoing_publish_for_3_1_1_has_no_properties() {
    let outgoing = OutgoingPublish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t",
        packet_id: 0,
        topic_alias: Some(1),
        message_expiry: Some(5),
        subscription_ids: &[4],
        properties: b"\x03\x00\x01x",
        payload_len: 2,
    };
    let mut out = BytesMut::new();
    outgoing.encode_header(Version::V311, &mut out);
    out.extend_from_slice(b"hi");
    assert_eq!(&out[..], &[0x30, 0x05, 0x00, 0x01, b't', b'h', b'i']);
}

#[test]
fn a_decoded_publish_keeps_its_raw_properties_in_order() {
    // Properties: user property ("k", "v") then content type "c".
    let props = [0x26, 0, 1, b'k', 0, 1, b'v', 0x03, 0, 1, b'c'];
    let mut bytes = vec![0x30, 0, 0, 1, b't', props.len() as u8];
    bytes.extend_from_slice(&props);
    bytes.push(b'x');
    bytes[1] = (bytes.len() - 2) as u8;
    let Ok(Some(Packet::Publish(p))) = decode_all(&bytes, Version::V5) else {
        panic!("expected a PUBLISH");
    };
    assert_eq!(&p.raw_properties[..], &props);
    assert_eq!(&p.payload[..], b"x");
}
