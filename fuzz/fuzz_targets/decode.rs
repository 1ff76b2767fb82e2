//! The packet decoder on arbitrary bytes.
//!
//! Input: a selector byte (protocol version, packet size limit, chunk size), then a byte
//! stream. The stream is decoded packet after packet until it runs out or is refused, once
//! whole and once fed in small chunks as a socket would deliver it. Checked:
//! - no panic, and a decode never takes more bytes than it was given, nor any while it
//!   waits for the rest of a packet;
//! - the result does not depend on how the bytes were split;
//! - every packet that decodes encodes back to bytes that decode to the same packet.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use midge::protocol::framing::MAX_REMAINING_LENGTH;
use midge::protocol::{DecodeError, Packet, Version, decode};

const PROTOCOL_MAX: usize = MAX_REMAINING_LENGTH + 5;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let version = [Version::V31, Version::V311, Version::V5][usize::from(selector % 3)];
    let max = [PROTOCOL_MAX, 2, 64, 300][usize::from((selector >> 2) & 3)];
    let chunk = usize::from(selector >> 4) + 1;
    let whole = decode_stream(stream, version, max, stream.len().max(1));
    let chunked = decode_stream(stream, version, max, chunk);
    assert_eq!(
        whole, chunked,
        "the result depends on how the bytes arrived"
    );
    for packet in whole.iter().filter_map(|r| r.as_ref().ok()) {
        round_trip(packet, version);
    }
});

/// Decodes `stream` delivered `chunk` bytes at a time; stops at the first error.
fn decode_stream(
    stream: &[u8],
    version: Version,
    max: usize,
    chunk: usize,
) -> Vec<Result<Packet, DecodeError>> {
    let mut out = Vec::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    // Each decoded packet takes at least two bytes and each feed adds one: bounded.
    for _ in 0..=2 * stream.len() + 1 {
        let before = buf.len();
        match decode(&mut buf, version, max) {
            Ok(Some(packet)) => {
                let taken = before - buf.len();
                assert!(taken >= 2, "a packet of {taken} bytes");
                out.push(Ok(normalise(packet)));
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "bytes taken while waiting for more");
                if fed == stream.len() {
                    return out;
                }
                let end = (fed + chunk).min(stream.len());
                buf.extend_from_slice(&stream[fed..end]);
                fed = end;
            }
            Err(e) => {
                assert!(buf.len() <= before, "a refusal added bytes");
                out.push(Err(e));
                return out;
            }
        }
    }
    panic!("decoding did not finish within its bound");
}

/// Raw properties are the bytes a PUBLISH or a will arrived with, kept for forwarding; the
/// decoded properties say the same, so comparisons leave them out.
fn normalise(mut packet: Packet) -> Packet {
    packet.forget_raw_properties();
    packet
}

fn round_trip(packet: &Packet, version: Version) {
    let mut bytes = BytesMut::new();
    packet.encode(version, &mut bytes);
    let len = bytes.len();
    match decode(&mut bytes, version, PROTOCOL_MAX) {
        Ok(Some(back)) => {
            assert!(
                bytes.is_empty(),
                "{len} bytes encoded, {} left over",
                bytes.len()
            );
            assert_eq!(
                &normalise(back),
                packet,
                "encode then decode changed the packet"
            );
        }
        other => panic!("{packet:?} encoded as {len} bytes decodes to {other:?}"),
    }
}
