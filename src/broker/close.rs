//! Ending a connection: the reason, the log line, the MQTT 5 DISCONNECT, the will, and what
//! becomes of the session.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use mio::Token;

use super::Broker;
use crate::connection::State;
use crate::message::{Delivery, Message};
use crate::protocol::{DecodeError, Disconnect, Packet, Version, Will, kind, reason};
use crate::session::{Expiry, OutState, SessionKey};
use crate::tls::TlsFailure;
use crate::{log_debug, log_error, log_info, log_notice};

/// Why a connection ends.
#[derive(Debug)]
pub enum Close {
    /// The client sent DISCONNECT: its will is discarded.
    Disconnected,
    /// An MQTT 5 client sent DISCONNECT with a reason other than 0x00 (0x04 "with will
    /// message", or an error): its will is published all the same.
    DisconnectedWithWill,
    /// The client closed the socket without DISCONNECT.
    ConnectionLost,
    SocketError(io::Error),
    /// A TLS failure: a handshake that did not complete (a plain-TCP client on a TLS port, an
    /// unknown CA, no certificate where one is required), or a bad record later.
    Tls(TlsFailure),
    /// A packet that could not be decoded: its type (the first byte's high nibble), since
    /// what mosquitto tells the client depends on it, and why.
    Decode {
        packet_type: u8,
        error: DecodeError,
    },
    /// A valid packet that breaks the protocol and is answered with 0x82: a DISCONNECT
    /// reviving a session, an unknown topic alias, no local on a shared subscription; or
    /// anything before CONNECT (no DISCONNECT before CONNECT).
    Protocol(&'static str),
    /// A valid packet that breaks the protocol where mosquitto closes without a word: a
    /// second CONNECT, a packet only a server sends, an acknowledgement of the wrong kind,
    /// AUTH outside an exchange.
    Unexpected(&'static str),
    /// The CONNACK would be larger than the client's maximum packet size [MQTT-3.1.2-24]:
    /// it is not sent, and, as in mosquitto, the connection ends as if lost.
    ConnAckTooLarge,
    KeepAliveTimeout,
    /// The socket never sent CONNECT within `connect_timeout`.
    ConnectTimeout,
    /// Another connection took over the session (same client id).
    TakenOver,
    /// CONNECT was refused; the refusing CONNACK is already queued.
    Refused,
    /// CONNECT was refused for lack of authorisation; the CONNACK is already queued.
    NotAuthorized,
    /// A retained PUBLISH while `retain_available false`.
    RetainNotSupported,
    /// The client's queue overflowed and `disconnect_on_full_queue` is set.
    QuotaExceeded,
    /// A PUBLISH above the listener's `max_qos`.
    QosNotSupported,
    /// An MQTT 5 topic alias of 0 or above our maximum.
    TopicAliasInvalid,
    /// An MQTT 5 client has more unreleased QoS 2 messages than our receive maximum allows
    /// (older clients are held back instead: `backpressure.rs`).
    ReceiveMaximumExceeded,
    Shutdown,
}

impl Close {
    /// A read or write error: a socket's, or TLS's carried inside it.
    pub fn from_io(e: io::Error) -> Close {
        if !e.get_ref().is_some_and(|inner| inner.is::<TlsFailure>()) {
            return Close::SocketError(e);
        }
        match e.into_inner().map(|inner| inner.downcast::<TlsFailure>()) {
            Some(Ok(failure)) => Close::Tls(*failure),
            _ => Close::SocketError(io::ErrorKind::InvalidData.into()),
        }
    }

    /// The reason code of the DISCONNECT an MQTT 5 client is sent before the close: where
    /// mosquitto 2.0.11 sends one, the same code; where it closes without a word, none;
    /// where it contradicts MQTT 5, the specification's (README, "How midge differs").
    ///
    /// | close | DISCONNECT | mosquitto 2.0.11 |
    /// |---|---|---|
    /// | a bad packet | see `decode_error_reason` | |
    /// | a DISCONNECT reviving a session, an unknown topic alias | 0x82 | the same |
    /// | QoS over `max_qos`, retain while unavailable | 0x9B, 0x9A | the same |
    /// | topic alias 0 or over the maximum | 0x94 | 0x81 for 0 [MQTT-3.3.2-8] |
    /// | no local on a shared subscription | 0x82 | grants it [MQTT-3.8.3-4] |
    /// | QoS 2 beyond our receive maximum | 0x93 | PUBREC 0x97 [MQTT-3.3.4-9] |
    /// | session taken over | 0x8E | none [MQTT-3.1.4-3] |
    /// | queue full with `disconnect_on_full_queue` (midge's key) | 0x97 | |
    /// | `Unexpected`, keep-alive, shutdown, a too large CONNACK, TLS | none | none |
    fn disconnect_reason(&self) -> Option<u8> {
        Some(match self {
            Close::Decode { packet_type, error } => {
                return decode_error_reason(*packet_type, error);
            }
            Close::Protocol(_) => reason::PROTOCOL_ERROR,
            Close::TakenOver => reason::SESSION_TAKEN_OVER,
            Close::RetainNotSupported => reason::RETAIN_NOT_SUPPORTED,
            Close::TopicAliasInvalid => reason::TOPIC_ALIAS_INVALID,
            Close::QosNotSupported => reason::QOS_NOT_SUPPORTED,
            Close::QuotaExceeded => reason::QUOTA_EXCEEDED,
            Close::ReceiveMaximumExceeded => reason::RECEIVE_MAXIMUM_EXCEEDED,
            _ => return None,
        })
    }

    /// Whether the will is published. Only a DISCONNECT from the client cancels it; a
    /// takeover decides separately (see `connect.rs`).
    fn publishes_will(&self) -> bool {
        !matches!(
            self,
            Close::Disconnected | Close::TakenOver | Close::Shutdown
        )
    }

    /// Whether the connection lingers before its socket closes (see `linger.rs`): when the
    /// broker ends it while the client may still be sending. Not when the client has closed
    /// or said goodbye, nor at shutdown, when the process is about to go.
    fn lingers(&self) -> bool {
        !matches!(
            self,
            Close::Disconnected
                | Close::DisconnectedWithWill
                | Close::ConnectionLost
                | Close::SocketError(_)
                | Close::Shutdown
        )
    }

    /// mosquitto's log line for this ending.
    fn log(&self, id: &str, peer_address: std::net::SocketAddr) {
        let peer = peer_address.ip();
        match self {
            Close::Disconnected | Close::DisconnectedWithWill => {
                log_notice!("Client {id} disconnected.")
            }
            Close::ConnectionLost => log_notice!("Client {id} closed its connection."),
            Close::SocketError(e) => {
                log_notice!("Socket error on client {id}, disconnecting: {e}.")
            }
            Close::Tls(TlsFailure {
                during_handshake: true,
                error,
            }) => {
                // mosquitto's "OpenSSL Error[0]: ..." line, with the client it concerns.
                log_error!("TLS handshake failed for {peer_address}: {error}.");
                log_notice!("Client {id} disconnected due to protocol error.");
            }
            Close::Tls(failure) => {
                log_error!("TLS error on client {id}: {failure}.");
                log_notice!("Client {id} disconnected due to protocol error.");
            }
            Close::Decode { error, .. } => log_decode_error(error, id, peer),
            Close::Protocol(why) | Close::Unexpected(why) => {
                log_info!("Protocol error from {id} ({why}).");
                log_notice!("Client {id} disconnected due to protocol error.");
            }
            Close::ConnAckTooLarge => {
                log_info!("CONNACK for {id} exceeds its maximum packet size.");
                log_notice!("Client {id} disconnected due to oversize packet.");
            }
            Close::KeepAliveTimeout => {
                log_notice!("Client {id} has exceeded timeout, disconnecting.")
            }
            Close::ConnectTimeout => {
                log_notice!("Client {id} from {peer} did not send CONNECT in time, disconnecting.")
            }
            Close::TakenOver => log_notice!("Client {id} disconnected: session taken over."),
            Close::Refused => log_notice!("Client {id} disconnected due to protocol error."),
            Close::NotAuthorized => log_notice!("Client {id} disconnected, not authorised."),
            Close::RetainNotSupported => log_notice!(
                "Client {id} disconnected due to using not allowed feature (retain not supported)."
            ),
            Close::QuotaExceeded => {
                log_notice!("Client {id} disconnected: its queue of outgoing messages is full.")
            }
            Close::QosNotSupported => log_notice!(
                "Client {id} disconnected due to using not allowed feature (QoS too high)."
            ),
            Close::TopicAliasInvalid => {
                log_notice!("Client {id} disconnected due to an invalid topic alias.")
            }
            Close::ReceiveMaximumExceeded => {
                log_notice!("Client {id} disconnected for exceeding the receive maximum.")
            }
            Close::Shutdown => {}
        }
    }
}

/// What an MQTT 5 client is told of a packet that could not be decoded, by the packet's type,
/// as mosquitto 2.0.11 decides it: `read_handle.c` sends a DISCONNECT only for the errors of
/// PUBLISH, SUBSCRIBE, UNSUBSCRIBE and unknown types; the other handlers' errors, and those
/// found while reading the fixed header (`packet_mosq.c`), close without a word, except a
/// packet over `max_packet_size`.
///
/// | packet at fault | DISCONNECT |
/// |---|---|
/// | any, over `max_packet_size` | 0x95 |
/// | any, a remaining length over four bytes, a duplicate property, bad UTF-8 in a property | none |
/// | PUBLISH | 0x81 malformed, 0x82 protocol error (packet id 0, wildcards, ...) |
/// | SUBSCRIBE, UNSUBSCRIBE | 0x81, packet id 0 too (mosquitto's MALFORMED for all) |
/// | a reserved type (0; 15 before MQTT 5) | 0x82 |
/// | CONNECT, CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH | none |
fn decode_error_reason(packet_type: u8, error: &DecodeError) -> Option<u8> {
    match (packet_type, error) {
        (_, DecodeError::TooLarge { .. }) => Some(reason::PACKET_TOO_LARGE),
        (
            _,
            DecodeError::FixedHeader(_)
            | DecodeError::DuplicateProperty
            | DecodeError::Utf8InProperty,
        ) => None,
        (kind::PUBLISH, _) => Some(error.reason_code()),
        (kind::SUBSCRIBE | kind::UNSUBSCRIBE, _) => Some(reason::MALFORMED_PACKET),
        (kind::RESERVED, _) => Some(reason::PROTOCOL_ERROR),
        _ => None,
    }
}

/// mosquitto's log lines for a packet that could not be decoded.
fn log_decode_error(error: &DecodeError, id: &str, peer: std::net::IpAddr) {
    match error {
        DecodeError::Malformed(why) | DecodeError::FixedHeader(why) => {
            log_info!("Malformed packet from {id} ({why}).");
            log_notice!("Client {id} disconnected due to malformed packet.");
        }
        DecodeError::Utf8InProperty => {
            log_info!("Malformed packet from {id} (string property is not valid UTF-8).");
            log_notice!("Client {id} disconnected due to malformed packet.");
        }
        DecodeError::TooLarge { size, max } => {
            log_info!("Packet of {size} bytes from {id} exceeds the maximum of {max}.");
            log_notice!("Client {id} disconnected due to oversize packet.");
        }
        DecodeError::UnsupportedVersion(v) => {
            log_info!("Invalid protocol version {v} in CONNECT from {peer}.");
            log_notice!("Client {id} disconnected due to protocol error.");
        }
        DecodeError::InvalidProtocolName(name) => {
            log_info!("Invalid protocol \"{name}\" in CONNECT from {peer}.");
            log_notice!("Client {id} disconnected due to protocol error.");
        }
        DecodeError::Protocol(why) => {
            log_info!("Protocol error from {id} ({why}).");
            log_notice!("Client {id} disconnected due to protocol error.");
        }
        DecodeError::DuplicateProperty => {
            log_info!("Protocol error from {id} (property included more than once).");
            log_notice!("Client {id} disconnected due to protocol error.");
        }
    }
}

impl Broker {
    /// Ends a connection. Safe to call for a token that is already gone.
    pub(super) fn close(&mut self, token: Token, reason: Close) {
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        if conn.is_closing() {
            // Already ended; what is left is its socket.
            return self.end_linger(token);
        }
        self.listener_conns[usize::from(conn.listener)] -= 1;
        if conn.state == State::Connected
            && conn.version == Version::V5
            && let Some(code) = reason.disconnect_reason()
        {
            Packet::Disconnect(Disconnect::new(code)).encode(Version::V5, conn.send.tail());
        }
        if self.config.connection_messages {
            reason.log(conn.log_id(), conn.peer());
        }
        let (session, will) = (conn.session, conn.will.take());
        // Output held for the journal (see durable.rs) must not go out before what it
        // acknowledges is written, nor be lost to a client that said goodbye right after
        // publishing: that connection lingers too, its output going out once released.
        let held = conn.held_until != 0;
        let goodbye = matches!(reason, Close::Disconnected | Close::DisconnectedWithWill);
        // A refusing CONNACK or a DISCONNECT must reach the client: the connection lingers
        // (see linger.rs). A client that has gone or said goodbye is closed at once, with
        // what the socket takes of its queue.
        if !((reason.lingers() || held && goodbye) && self.begin_linger(token)) {
            let mut conn = self.conns.remove(token.0);
            // Unless its acknowledgements are not durable yet: they are not sent then, and
            // the client sends its messages again.
            if !held {
                conn.flush_last();
            }
        }

        let Some(key) = session else {
            return;
        };
        self.sessions[key].conn = None;
        self.set_shared_online(key, false);
        self.hand_over_shared_deliveries(key);
        if let Some(will) = will.filter(|_| reason.publishes_will()) {
            self.schedule_will(key, *will);
        }
        self.session_offline(key);
    }

    /// A session's client has gone: the session ends now, or its expiry starts.
    pub(super) fn session_offline(&mut self, key: SessionKey) {
        if self.sessions[key].expiry != Expiry::AtDisconnect {
            self.record_session(key);
        }
        let lifetime = match self.sessions[key].expiry {
            Expiry::AtDisconnect => return self.remove_session(key),
            Expiry::After(seconds) => Some(Duration::from_secs(u64::from(seconds))),
            Expiry::Never => self.config.persistent_client_expiration,
        };
        // A lifetime too long for the clock to express is forever.
        self.sessions[key].expires_at = lifetime.and_then(|d| self.now.checked_add(d));
        self.arm_session_timer(key);
    }

    /// Closes a connection at the end of the turn (in `flush`), once however often asked:
    /// for decisions taken where closing at once would pull a session out from under a loop
    /// over subscribers. The close misses if the connection has gone by then.
    pub(super) fn close_at_end_of_turn(&mut self, token: Token, reason: Close) {
        let Some(serial) = self.conns.get(token.0).map(|c| c.serial()) else {
            return;
        };
        if !self
            .to_close
            .iter()
            .any(|&(t, s, _)| t == token && s == serial)
        {
            self.to_close.push((token, serial, reason));
        }
    }

    /// Publishes a will now, or after its MQTT 5 will delay interval if it has one; a
    /// reconnection within the delay cancels it (see `connect.rs`).
    fn schedule_will(&mut self, key: SessionKey, will: Will) {
        match will.properties.will_delay_interval {
            Some(delay) if delay > 0 => {
                // Later than the clock can say: the session's end will publish it.
                let at = self.now.checked_add(Duration::from_secs(u64::from(delay)));
                let journal = super::durable::journal(&mut self.durable);
                self.sessions[key].delay_will(at.unwrap_or(self.now), will, journal);
            }
            _ => self.publish_will(will, Some(key)),
        }
        self.arm_session_timer(key);
    }

    /// Publishes a will as if its client had published it: `origin` is the client's
    /// session, so that its own no-local subscriptions do not receive it. Like mosquitto,
    /// it is checked as a PUBLISH would be when it goes out (`$SYS`, `$share`, the ACL), and
    /// dropped if the client may not publish there.
    pub(super) fn publish_will(&mut self, will: Will, origin: Option<SessionKey>) {
        if self.will_allowed(&will, origin) {
            self.publish_allowed_will(will, origin);
        }
    }

    /// Whether a will may go out; `origin`, if given, must still be a session.
    pub(super) fn will_allowed(&self, will: &Will, origin: Option<SessionKey>) -> bool {
        let allowed = match origin {
            Some(key) => self.may_write(key, &will.topic),
            None => super::publish::client_may_publish_to(&will.topic),
        };
        if !allowed {
            log_debug!(
                "Denied will of {} bytes to '{}'.",
                will.payload.len(),
                will.topic
            );
        }
        allowed
    }

    /// Publishes a will already checked by `will_allowed`. `origin` is only compared with
    /// subscribers (no local), so it may name a session that has just ended.
    pub(super) fn publish_allowed_will(&mut self, will: Will, origin: Option<SessionKey>) {
        let message = Message::from_will(will, self.now);
        self.publish_message(Rc::new(message), origin);
    }

    /// A member of a shared subscription that goes away hands the QoS 1/2 messages it got
    /// through the group, and has not finished acknowledging, to another member, so that a
    /// consumer dying mid-message does not lose it.
    fn hand_over_shared_deliveries(&mut self, key: SessionKey) {
        let session = &mut self.sessions[key];
        let shared = |d: &Delivery| d.group.is_some();
        if !session.inflight().iter().any(|i| shared(&i.delivery))
            && !session.queued().iter().any(shared)
        {
            return;
        }
        let mut handed = Vec::new();
        let journal = super::durable::journal(&mut self.durable);
        session.retain_deliveries(
            |d, state| {
                // A QoS 2 message the member already has (PUBREC sent) must not be doubled.
                let give = shared(d) && state != Some(OutState::AwaitPubComp);
                if give {
                    handed.push(d.clone());
                }
                !give
            },
            journal,
        );
        for delivery in handed {
            let Some(group) = delivery.group else {
                continue;
            };
            if !self.deliver_to_group(group, &delivery.message, Some(key)) {
                // Nobody else in the group: the message stays with this member.
                self.deliver(key, delivery);
            }
        }
    }
}
