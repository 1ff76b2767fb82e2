//! Inputs the fuzz targets (`fuzz/`) found to break an invariant, each kept as a test once
//! fixed. The decoder's: a stream that decodes must re-encode to the same packet.

use bytes::BytesMut;
use midge::protocol::framing::MAX_REMAINING_LENGTH;
use midge::protocol::{DecodeError, Packet, Version, decode};

fn decode_one(bytes: &[u8], version: Version) -> Result<Option<Packet>, DecodeError> {
    decode(
        &mut BytesMut::from(bytes),
        version,
        MAX_REMAINING_LENGTH + 5,
    )
}

// Found by `decode`: a 3.1.1 UNSUBACK with bytes after its packet id decoded, the bytes
// taken as MQTT 5 reason codes, and re-encoded without them.
#[test]
fn v311_unsuback_with_bytes_after_the_packet_id_is_malformed() {
    for version in [Version::V31, Version::V311] {
        assert!(
            matches!(
                decode_one(&[0xb0, 0x03, 0x02, 0x00, 0x01], version),
                Err(DecodeError::Malformed(_))
            ),
            "{version:?}"
        );
        assert!(matches!(
            decode_one(&[0xb0, 0x02, 0x02, 0x00], version),
            Ok(Some(Packet::UnsubAck(_)))
        ));
    }
    let Ok(Some(Packet::UnsubAck(v5))) =
        decode_one(&[0xb0, 0x04, 0x02, 0x00, 0x00, 0x11], Version::V5)
    else {
        panic!("an MQTT 5 UNSUBACK with a reason code decodes");
    };
    assert_eq!(v5.reason_codes, [0x11]);
}
