//! Ending a connection: the reason, the log line, the MQTT 5 DISCONNECT, the will, and what
//! becomes of the session.

use std::io;
use std::rc::Rc;

use mio::Token;

use super::Broker;
use crate::connection::State;
use crate::message::Message;
use crate::protocol::{DecodeError, Disconnect, Packet, Version, reason};
use crate::session::Expiry;
use crate::{log_info, log_notice};

/// Why a connection ends.
#[derive(Debug)]
pub enum Close {
    /// The client sent DISCONNECT: its will is discarded.
    Disconnected,
    /// An MQTT 5 client sent DISCONNECT with reason 0x04: publish its will all the same.
    DisconnectedWithWill,
    /// The client closed the socket without DISCONNECT.
    ConnectionLost,
    SocketError(io::Error),
    /// The byte stream was not valid MQTT.
    Decode(DecodeError),
    /// A valid packet at the wrong time (a second CONNECT, anything before CONNECT, ...).
    Protocol(&'static str),
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
    /// An MQTT 5 topic alias of 0 or above our maximum.
    TopicAliasInvalid,
    /// More unacknowledged QoS 2 messages than our receive maximum allows.
    ReceiveMaximumExceeded,
    Shutdown,
}

impl Close {
    /// The reason code of the DISCONNECT an MQTT 5 client is sent before we close.
    fn disconnect_reason(&self) -> Option<u8> {
        Some(match self {
            Close::Decode(e) => e.reason_code(),
            Close::Protocol(_) => reason::PROTOCOL_ERROR,
            Close::KeepAliveTimeout => reason::KEEP_ALIVE_TIMEOUT,
            Close::TakenOver => reason::SESSION_TAKEN_OVER,
            Close::RetainNotSupported => reason::RETAIN_NOT_SUPPORTED,
            Close::TopicAliasInvalid => reason::TOPIC_ALIAS_INVALID,
            Close::ReceiveMaximumExceeded => reason::RECEIVE_MAXIMUM_EXCEEDED,
            Close::Shutdown => reason::SERVER_SHUTTING_DOWN,
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

    /// mosquitto's log line for this ending.
    fn log(&self, id: &str, peer: std::net::IpAddr) {
        match self {
            Close::Disconnected | Close::DisconnectedWithWill => {
                log_notice!("Client {id} disconnected.")
            }
            Close::ConnectionLost => log_notice!("Client {id} closed its connection."),
            Close::SocketError(e) => {
                log_notice!("Socket error on client {id}, disconnecting: {e}.")
            }
            Close::Decode(DecodeError::Malformed(why)) => {
                log_info!("Malformed packet from {id} ({why}).");
                log_notice!("Client {id} disconnected due to malformed packet.");
            }
            Close::Decode(DecodeError::TooLarge { size, max }) => {
                log_info!("Packet of {size} bytes from {id} exceeds the maximum of {max}.");
                log_notice!("Client {id} disconnected due to oversize packet.");
            }
            Close::Decode(DecodeError::UnsupportedVersion(v)) => {
                log_info!("Invalid protocol version {v} in CONNECT from {peer}.");
                log_notice!("Client {id} disconnected due to protocol error.");
            }
            Close::Decode(DecodeError::InvalidProtocolName(name)) => {
                log_info!("Invalid protocol \"{name}\" in CONNECT from {peer}.");
                log_notice!("Client {id} disconnected due to protocol error.");
            }
            Close::Decode(DecodeError::Protocol(why)) | Close::Protocol(why) => {
                log_info!("Protocol error from {id} ({why}).");
                log_notice!("Client {id} disconnected due to protocol error.");
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

impl Broker {
    /// Ends a connection. Safe to call for a token that is already gone.
    pub(super) fn close(&mut self, token: Token, reason: Close) {
        let Some(mut conn) = self.conns.try_remove(token.0) else {
            return;
        };
        self.listener_conns[conn.listener] -= 1;
        if conn.state == State::Connected
            && conn.version == Version::V5
            && let Some(code) = reason.disconnect_reason()
        {
            Packet::Disconnect(Disconnect::new(code)).encode(Version::V5, conn.send.tail());
        }
        // A refusing CONNACK or a DISCONNECT should reach the client if the socket takes it;
        // if it does not, the client learns from the close instead.
        let _ = conn.flush();
        reason.log(conn.log_id(), conn.peer.ip());

        let Some(key) = conn.session else {
            return;
        };
        let session = &mut self.sessions[key];
        session.conn = None;
        let expiry = session.expiry;
        if let Some(will) = conn.will.take().filter(|_| reason.publishes_will()) {
            self.publish_will(will);
        }
        let lifetime = match expiry {
            Expiry::AtDisconnect => return self.remove_session(key),
            Expiry::After(interval) => Some(interval),
            Expiry::Never => self.config.persistent_client_expiration,
        };
        // A lifetime too long for the clock to express is forever.
        self.sessions[key].expires_at = lifetime.and_then(|d| self.now.checked_add(d));
    }

    /// Publishes a will as if its client had published it.
    pub(super) fn publish_will(&mut self, will: crate::protocol::Will) {
        let properties = Some(will.properties)
            .filter(|p| !p.is_empty())
            .map(Box::new);
        let message = Message {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties,
        };
        self.publish_message(Rc::new(message));
    }
}
