//! MQTT 5 conveniences on top of `Raw`: connecting, subscribing, and expectations that
//! cannot be exact bytes (a message expiry interval that counts down while it waits).

use super::packets::*;
use super::{Broker, Raw, hex};

impl Raw {
    /// Connects with MQTT 5 (clean start, keep-alive 60 s, no properties) and expects
    /// mosquitto's default CONNACK.
    pub fn connected_v5(broker: &Broker, client_id: &str) -> Raw {
        Raw::handshake(broker, &Connect::v5(client_id).build(), &connack5_ok(false))
    }

    /// Connects with MQTT 5 and subscribes to `filter` with the subscription `options`
    /// (packet id 1, no properties), expecting the QoS in `options` to be granted.
    pub fn subscribed_v5(broker: &Broker, client_id: &str, filter: &str, options: u8) -> Raw {
        let mut sub = Raw::connected_v5(broker, client_id);
        sub.send(&subscribe5(1, &[], &[(filter, options)]));
        sub.expect(&suback5(1, &[], &[options & 0x03]));
        sub
    }

    /// Expects a DISCONNECT with `reason` (no properties), then the close.
    pub fn expect_disconnect(&mut self, reason: u8) {
        self.expect(&disconnect5(reason, &[]));
        self.expect_closed();
    }

    /// Reads one packet and checks it is `template` except for the value of its message
    /// expiry interval property, which `template` gives as `sent` (the interval the message
    /// was published with) and which must have counted down to between `at_least` and
    /// `sent` seconds. The bytes `02` + `sent` (big endian) must occur once in `template`.
    pub fn expect_with_expiry(&mut self, template: &[u8], sent: u32, at_least: u32) {
        let mut needle = vec![0x02];
        needle.extend_from_slice(&sent.to_be_bytes());
        let positions: Vec<usize> = (0..=template.len().saturating_sub(needle.len()))
            .filter(|&i| template[i..].starts_with(&needle))
            .collect();
        assert_eq!(
            positions.len(),
            1,
            "the template must hold the expiry property once: {}",
            hex(template)
        );
        let at = positions[0] + 1;
        let got = self.recv_packet();
        let mut masked = got.clone();
        if masked.len() == template.len() {
            masked[at..at + 4].copy_from_slice(&sent.to_be_bytes());
        }
        assert_eq!(
            hex(&masked),
            hex(template),
            "unexpected packet (expiry value aside): {}",
            hex(&got)
        );
        let value = u32::from_be_bytes([got[at], got[at + 1], got[at + 2], got[at + 3]]);
        assert!(
            (at_least..=sent).contains(&value),
            "message expiry interval {value}, wanted {at_least}..={sent}"
        );
    }
}
