//! What can end a client session, and the words mosquitto's clients use for it.
//!
//! The texts are libmosquitto's (`mosquitto_strerror`, `mosquitto_connack_string`,
//! `mosquitto_reason_string` in lib/strings_mosq.c) so that scripts which match on
//! mosquitto_pub's or mosquitto_sub's stderr keep working with midge's tools.

use std::fmt;
use std::io;

use crate::protocol::Version;

/// libmosquitto error numbers (`enum mosq_err_t` in mosquitto.h). mosquitto_pub and
/// mosquitto_sub exit with them, so ours do too.
pub mod mosq_err {
    pub const PROTOCOL: i32 = 2;
    pub const INVAL: i32 = 3;
    pub const CONN_REFUSED: i32 = 5;
    pub const CONN_LOST: i32 = 7;
    pub const TLS: i32 = 8;
    pub const ERRNO: i32 = 14;
    pub const EAI: i32 = 15;
    pub const KEEPALIVE: i32 = 19;
    pub const QOS_NOT_SUPPORTED: i32 = 24;
    pub const TIMEOUT: i32 = 27;
}

/// Why a session with the broker failed.
#[derive(Debug)]
pub enum ClientError {
    /// The broker's host name did not resolve.
    Lookup,
    /// The TCP connection could not be made.
    Connect(io::Error),
    /// The TLS handshake failed (the broker's certificate, ours, or no TLS at all); the
    /// detail is rustls's, mosquitto's tools print only "A TLS error occurred.".
    Tls(String),
    /// The broker answered CONNECT with a refusal (a 3.x return code or a v5 reason code).
    Refused { version: Version, code: u8 },
    /// The broker closed the connection.
    ConnectionLost,
    /// The broker sent something that is not valid MQTT here.
    Protocol(String),
    /// No CONNACK or PINGRESP within the keep-alive interval.
    Keepalive,
    /// A publish at a QoS above the broker's Maximum QoS (MQTT 5).
    QosNotSupported,
    /// A topic that cannot be published to: empty, or with a wildcard.
    InvalidTopic,
    /// Any other socket error after connecting.
    Io(io::Error),
}

impl ClientError {
    /// The libmosquitto error number for this error, which is also the tools' exit code.
    pub fn code(&self) -> i32 {
        match self {
            ClientError::Lookup => mosq_err::EAI,
            ClientError::Connect(_) | ClientError::Io(_) => mosq_err::ERRNO,
            // libmosquitto's handle__connack: return codes 1-5 are "refused", anything
            // else (all v5 reason codes) is a protocol error.
            ClientError::Refused { code: 1..=5, .. } => mosq_err::CONN_REFUSED,
            ClientError::Refused { .. } | ClientError::Protocol(_) => mosq_err::PROTOCOL,
            ClientError::ConnectionLost => mosq_err::CONN_LOST,
            ClientError::Tls(_) => mosq_err::TLS,
            ClientError::Keepalive => mosq_err::KEEPALIVE,
            ClientError::QosNotSupported => mosq_err::QOS_NOT_SUPPORTED,
            ClientError::InvalidTopic => mosq_err::INVAL,
        }
    }

    /// `mosquitto_strerror` of [`ClientError::code`]: what the tools print after "Error: ".
    pub fn strerror(&self) -> String {
        match self {
            ClientError::Connect(e) | ClientError::Io(e) => errno_text(e),
            other => strerror(other.code()).to_string(),
        }
    }
}

/// The line mosquitto's clients print when this error ends a session.
impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Lookup => write!(f, "Unable to connect ({}).", strerror(mosq_err::EAI)),
            ClientError::Tls(_) => write!(f, "Unable to connect ({}).", strerror(mosq_err::TLS)),
            ClientError::Refused {
                version: Version::V5,
                code: code @ 0x84,
            } => write!(
                f,
                "Connection error: {}. Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.",
                reason_string(*code)
            ),
            ClientError::Refused {
                version: Version::V5,
                code,
            } => write!(f, "Connection error: {}", reason_string(*code)),
            ClientError::Refused { code, .. } => {
                write!(f, "Connection error: {}", connack_string(*code))
            }
            ClientError::QosNotSupported => {
                f.write_str("Error: Message QoS not supported on broker, try a lower QoS.")
            }
            ClientError::InvalidTopic => {
                f.write_str("Error: Invalid input. Does your topic contain '+' or '#'?")
            }
            other => write!(f, "Error: {}", other.strerror()),
        }
    }
}

impl std::error::Error for ClientError {}

/// The C library's text for an OS error, without Rust's " (os error N)" suffix: mosquitto
/// prints plain `strerror(errno)`, e.g. "Connection refused".
pub fn errno_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if e.raw_os_error().is_some() => text[..at].to_string(),
        _ => text,
    }
}

/// libmosquitto's `mosquitto_strerror`, for the errors a command-line client can meet.
pub fn strerror(code: i32) -> &'static str {
    match code {
        0 => "No error.",
        1 => "Out of memory.",
        mosq_err::PROTOCOL => {
            "A network protocol error occurred when communicating with the broker."
        }
        mosq_err::INVAL => "Invalid arguments provided.",
        4 => "The client is not currently connected.",
        mosq_err::CONN_REFUSED => "The connection was refused.",
        mosq_err::CONN_LOST => "The connection was lost.",
        mosq_err::TLS => "A TLS error occurred.",
        9 => "Payload too large.",
        mosq_err::EAI => "Lookup error.",
        // mosquitto 2.0.11 has no text for its keep-alive error and says "Unknown error."
        mosq_err::QOS_NOT_SUPPORTED => "Requested QoS not supported on server.",
        _ => "Unknown error.",
    }
}

/// libmosquitto's `mosquitto_connack_string`: MQTT 3.1/3.1.1 CONNACK return codes.
pub fn connack_string(code: u8) -> &'static str {
    match code {
        0 => "Connection Accepted.",
        1 => "Connection Refused: unacceptable protocol version.",
        2 => "Connection Refused: identifier rejected.",
        3 => "Connection Refused: broker unavailable.",
        4 => "Connection Refused: bad user name or password.",
        5 => "Connection Refused: not authorised.",
        _ => "Connection Refused: unknown reason.",
    }
}

/// libmosquitto's `mosquitto_reason_string`: MQTT 5 reason codes.
pub fn reason_string(code: u8) -> &'static str {
    match code {
        0x00 => "Success",
        0x01 => "Granted QoS 1",
        0x02 => "Granted QoS 2",
        0x04 => "Disconnect with Will Message",
        0x10 => "No matching subscribers",
        0x11 => "No subscription existed",
        0x18 => "Continue authentication",
        0x19 => "Re-authenticate",
        0x80 => "Unspecified error",
        0x81 => "Malformed Packet",
        0x82 => "Protocol Error",
        0x83 => "Implementation specific error",
        0x84 => "Unsupported Protocol Version",
        0x85 => "Client Identifier not valid",
        0x86 => "Bad User Name or Password",
        0x87 => "Not authorized",
        0x88 => "Server unavailable",
        0x89 => "Server busy",
        0x8a => "Banned",
        0x8b => "Server shutting down",
        0x8c => "Bad authentication method",
        0x8d => "Keep Alive timeout",
        0x8e => "Session taken over",
        0x8f => "Topic Filter invalid",
        0x90 => "Topic Name invalid",
        0x91 => "Packet Identifier in use",
        0x92 => "Packet Identifier not found",
        0x93 => "Receive Maximum exceeded",
        0x94 => "Topic Alias invalid",
        0x95 => "Packet too large",
        0x96 => "Message rate too high",
        0x97 => "Quota exceeded",
        0x98 => "Administrative action",
        0x99 => "Payload format invalid",
        0x9a => "Retain not supported",
        0x9b => "QoS not supported",
        0x9c => "Use another server",
        0x9d => "Server moved",
        0x9e => "Shared Subscriptions not supported",
        0x9f => "Connection rate exceeded",
        0xa0 => "Maximum connect time",
        0xa1 => "Subscription identifiers not supported",
        0xa2 => "Wildcard Subscriptions not supported",
        _ => "Unknown reason",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_like_mosquitto() {
        let v311 = ClientError::Refused {
            version: Version::V311,
            code: 5,
        };
        assert_eq!(
            v311.to_string(),
            "Connection error: Connection Refused: not authorised."
        );
        assert_eq!(v311.code(), 5);
        assert_eq!(v311.strerror(), "The connection was refused.");

        let v5 = ClientError::Refused {
            version: Version::V5,
            code: 0x87,
        };
        assert_eq!(v5.to_string(), "Connection error: Not authorized");
        assert_eq!(v5.code(), mosq_err::PROTOCOL);

        let old_broker = ClientError::Refused {
            version: Version::V5,
            code: 0x84,
        };
        assert_eq!(
            old_broker.to_string(),
            "Connection error: Unsupported Protocol Version. Try connecting to an MQTT v5 \
             broker, or use MQTT v3.x mode."
        );
    }

    #[test]
    fn socket_errors_print_the_bare_errno_text() {
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(
            ClientError::Connect(refused).to_string(),
            "Error: Connection refused"
        );
        assert_eq!(
            ClientError::Lookup.to_string(),
            "Unable to connect (Lookup error.)."
        );
        assert_eq!(
            ClientError::ConnectionLost.to_string(),
            "Error: The connection was lost."
        );
        assert_eq!(ClientError::ConnectionLost.code(), 7);
        assert_eq!(ClientError::Keepalive.to_string(), "Error: Unknown error.");
        assert_eq!(ClientError::Keepalive.code(), 19);
        let tls = ClientError::Tls("invalid peer certificate: UnknownIssuer".into());
        assert_eq!(
            tls.to_string(),
            "Unable to connect (A TLS error occurred.)."
        );
        assert_eq!(tls.code(), 8);
    }
}

/// A command line that mosquitto's clients would refuse, and how they report it. Here, not
/// in `cli`, so that the modules `cli` reads flags with (`props`, `tls`) need not import it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// The message, then "\nUse 'PROG --help' to see usage.\n".
    Usage(String),
    /// The message alone.
    Plain(String),
    /// The message, then the whole usage text on stdout.
    WithHelp(String),
    /// `--help`: the usage text on stdout. mosquitto 2.0.11 exits 1 for it too.
    Help,
    /// `--version`.
    Version,
}

/// A flag value that mosquitto refuses; carries mosquitto's message through clap.
#[derive(Debug)]
pub struct BadValue(pub String);

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadValue {}
