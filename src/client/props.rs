//! `-D COMMAND PROPERTY VALUE` (and `--property`): MQTT 5 properties given on the command
//! line, read and checked the way mosquitto 2.0.11's clients do (client/client_props.c and
//! libmosquitto's property checks), with the same error texts, which differ in places from
//! later mosquitto sources: 2.0.11 does not name the bad command or property, and reads
//! 32-bit values with `atol`.
//!
//! A `-D` takes three or four words depending on the property, which clap cannot express, so
//! [`split`] takes the `-D` groups out of the command line before clap sees the rest.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use bytes::Bytes;

use super::cnum::atol;
use super::error::ArgError;
use crate::protocol::{ByteStr, Properties};

/// The packets `-D` accepts by name (mosquitto_string_to_command in 2.0.11: no SUBACK,
/// UNSUBACK or PING*, which it calls invalid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Connect,
    Connack,
    Publish,
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
    Subscribe,
    Unsubscribe,
    Disconnect,
    Auth,
    Will,
}

impl Cmd {
    fn from_name(name: &[u8]) -> Option<Cmd> {
        const NAMES: [(&str, Cmd); 12] = [
            ("auth", Cmd::Auth),
            ("connack", Cmd::Connack),
            ("connect", Cmd::Connect),
            ("disconnect", Cmd::Disconnect),
            ("puback", Cmd::Puback),
            ("pubcomp", Cmd::Pubcomp),
            ("publish", Cmd::Publish),
            ("pubrec", Cmd::Pubrec),
            ("pubrel", Cmd::Pubrel),
            ("subscribe", Cmd::Subscribe),
            ("unsubscribe", Cmd::Unsubscribe),
            ("will", Cmd::Will),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|&(_, cmd)| cmd)
    }
}

/// Value types, numbered as libmosquitto numbers them: "Error adding property X N" shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Byte = 1,
    Int16 = 2,
    Int32 = 3,
    Varint = 4,
    Binary = 5,
    Text = 6,
    Pair = 7,
}

mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0b;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1a;
    pub const SERVER_REFERENCE: u8 = 0x1c;
    pub const REASON_STRING: u8 = 0x1f;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUB_AVAILABLE: u8 = 0x28;
    pub const SUB_ID_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUB_AVAILABLE: u8 = 0x2a;
}

/// Every property name libmosquitto knows (matched without regard to case).
const NAMES: [(&str, u8, Kind); 27] = [
    (
        "payload-format-indicator",
        id::PAYLOAD_FORMAT_INDICATOR,
        Kind::Byte,
    ),
    (
        "message-expiry-interval",
        id::MESSAGE_EXPIRY_INTERVAL,
        Kind::Int32,
    ),
    ("content-type", id::CONTENT_TYPE, Kind::Text),
    ("response-topic", id::RESPONSE_TOPIC, Kind::Text),
    ("correlation-data", id::CORRELATION_DATA, Kind::Binary),
    (
        "subscription-identifier",
        id::SUBSCRIPTION_IDENTIFIER,
        Kind::Varint,
    ),
    (
        "session-expiry-interval",
        id::SESSION_EXPIRY_INTERVAL,
        Kind::Int32,
    ),
    (
        "assigned-client-identifier",
        id::ASSIGNED_CLIENT_IDENTIFIER,
        Kind::Text,
    ),
    ("server-keep-alive", id::SERVER_KEEP_ALIVE, Kind::Int16),
    (
        "authentication-method",
        id::AUTHENTICATION_METHOD,
        Kind::Text,
    ),
    ("authentication-data", id::AUTHENTICATION_DATA, Kind::Binary),
    (
        "request-problem-information",
        id::REQUEST_PROBLEM_INFORMATION,
        Kind::Byte,
    ),
    ("will-delay-interval", id::WILL_DELAY_INTERVAL, Kind::Int32),
    (
        "request-response-information",
        id::REQUEST_RESPONSE_INFORMATION,
        Kind::Byte,
    ),
    ("response-information", id::RESPONSE_INFORMATION, Kind::Text),
    ("server-reference", id::SERVER_REFERENCE, Kind::Text),
    ("reason-string", id::REASON_STRING, Kind::Text),
    ("receive-maximum", id::RECEIVE_MAXIMUM, Kind::Int16),
    ("topic-alias-maximum", id::TOPIC_ALIAS_MAXIMUM, Kind::Int16),
    ("topic-alias", id::TOPIC_ALIAS, Kind::Int16),
    ("maximum-qos", id::MAXIMUM_QOS, Kind::Byte),
    ("retain-available", id::RETAIN_AVAILABLE, Kind::Byte),
    ("user-property", id::USER_PROPERTY, Kind::Pair),
    ("maximum-packet-size", id::MAXIMUM_PACKET_SIZE, Kind::Int32),
    (
        "wildcard-subscription-available",
        id::WILDCARD_SUB_AVAILABLE,
        Kind::Byte,
    ),
    (
        "subscription-identifier-available",
        id::SUB_ID_AVAILABLE,
        Kind::Byte,
    ),
    (
        "shared-subscription-available",
        id::SHARED_SUB_AVAILABLE,
        Kind::Byte,
    ),
];

/// mosquitto_property_check_command: may `property` appear in `cmd`?
fn allowed(cmd: Cmd, property: u8) -> bool {
    use Cmd::*;
    match property {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::MESSAGE_EXPIRY_INTERVAL
        | id::CONTENT_TYPE
        | id::RESPONSE_TOPIC
        | id::CORRELATION_DATA => matches!(cmd, Publish | Will),
        id::SUBSCRIPTION_IDENTIFIER => matches!(cmd, Publish | Subscribe),
        id::SESSION_EXPIRY_INTERVAL => matches!(cmd, Connect | Connack | Disconnect),
        id::AUTHENTICATION_METHOD | id::AUTHENTICATION_DATA => {
            matches!(cmd, Connect | Connack | Auth)
        }
        id::ASSIGNED_CLIENT_IDENTIFIER
        | id::SERVER_KEEP_ALIVE
        | id::RESPONSE_INFORMATION
        | id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUB_AVAILABLE
        | id::SUB_ID_AVAILABLE
        | id::SHARED_SUB_AVAILABLE => cmd == Connack,
        id::WILL_DELAY_INTERVAL => cmd == Will,
        id::REQUEST_PROBLEM_INFORMATION | id::REQUEST_RESPONSE_INFORMATION => cmd == Connect,
        id::SERVER_REFERENCE => matches!(cmd, Connack | Disconnect),
        id::REASON_STRING => !matches!(cmd, Connect | Publish | Subscribe | Unsubscribe),
        id::RECEIVE_MAXIMUM | id::TOPIC_ALIAS_MAXIMUM | id::MAXIMUM_PACKET_SIZE => {
            matches!(cmd, Connect | Connack)
        }
        id::TOPIC_ALIAS => cmd == Publish,
        _ => true, // user-property
    }
}

/// One property value as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Number(u32),
    Binary(Bytes),
    Text(ByteStr),
    Pair(ByteStr, ByteStr),
}

/// The properties for one packet, in command-line order (which the checks depend on).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct List(pub Vec<(u8, Value)>);

/// The packets a tool can attach properties to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropertyArgs {
    pub connect: List,
    pub publish: List,
    pub subscribe: List,
    pub unsubscribe: List,
    pub disconnect: List,
    pub will: List,
}

impl PropertyArgs {
    pub fn is_empty(&self) -> bool {
        *self == PropertyArgs::default()
    }

    /// mosquitto_property_check_all for each packet, in client_config_load's order. When
    /// `quiet`, the message is left out but the pointer to `--help` still follows.
    pub fn check(&self, quiet: bool) -> Result<(), ArgError> {
        let lists = [
            ("CONNECT", &self.connect),
            ("PUBLISH", &self.publish),
            ("SUBSCRIBE", &self.subscribe),
            ("UNSUBSCRIBE", &self.unsubscribe),
            ("DISCONNECT", &self.disconnect),
            ("Will", &self.will),
        ];
        for (name, list) in lists {
            if let Err(why) = list.check() {
                let text = if quiet {
                    String::new()
                } else {
                    format!("Error in {name} properties: {why}\n")
                };
                return Err(ArgError::Usage(text));
            }
        }
        Ok(())
    }
}

impl List {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, property: u8) -> bool {
        self.0.iter().any(|(p, _)| *p == property)
    }

    pub fn push(&mut self, property: u8, value: Value) {
        self.0.push((property, value));
    }

    /// The value checks and duplicate check of mosquitto_property_check_all; returns
    /// mosquitto_strerror's text for the first problem.
    fn check(&self) -> Result<(), &'static str> {
        const PROTOCOL: &str =
            "A network protocol error occurred when communicating with the broker.";
        for (at, (property, value)) in self.0.iter().enumerate() {
            let number = match value {
                Value::Number(n) => Some(*n),
                _ => None,
            };
            // 2.0.11 checks these two flags; it lets a payload format indicator of 2 through.
            let bad = match *property {
                id::REQUEST_PROBLEM_INFORMATION | id::REQUEST_RESPONSE_INFORMATION => {
                    number.is_some_and(|n| n > 1)
                }
                id::MAXIMUM_PACKET_SIZE | id::RECEIVE_MAXIMUM | id::TOPIC_ALIAS => {
                    number == Some(0)
                }
                _ => false,
            };
            if bad {
                return Err(PROTOCOL);
            }
            let repeated = self.0[at + 1..].iter().any(|(p, _)| p == property);
            if *property != id::USER_PROPERTY && repeated {
                return Err("Duplicate property in property list");
            }
        }
        Ok(())
    }

    /// The properties as the codec carries them.
    pub fn to_properties(&self) -> Properties {
        let mut p = Properties::default();
        self.add_to(&mut p);
        p
    }

    /// Sets each property in `p` (after check(), so at most one of each but user properties).
    pub fn add_to(&self, p: &mut Properties) {
        for (property, value) in &self.0 {
            let n = match value {
                Value::Number(n) => *n,
                _ => 0,
            };
            let byte = u8::try_from(n).unwrap_or(u8::MAX);
            let short = u16::try_from(n).unwrap_or(u16::MAX);
            let text = match value {
                Value::Text(s) => Some(s.clone()),
                _ => None,
            };
            let binary = match value {
                Value::Binary(b) => Some(b.clone()),
                _ => None,
            };
            match *property {
                id::PAYLOAD_FORMAT_INDICATOR => p.payload_format_indicator = Some(byte),
                id::MESSAGE_EXPIRY_INTERVAL => p.message_expiry_interval = Some(n),
                id::CONTENT_TYPE => p.content_type = text,
                id::RESPONSE_TOPIC => p.response_topic = text,
                id::CORRELATION_DATA => p.correlation_data = binary,
                id::SUBSCRIPTION_IDENTIFIER => p.subscription_identifiers.push(n),
                id::SESSION_EXPIRY_INTERVAL => p.session_expiry_interval = Some(n),
                id::AUTHENTICATION_METHOD => p.authentication_method = text,
                id::AUTHENTICATION_DATA => p.authentication_data = binary,
                id::REQUEST_PROBLEM_INFORMATION => p.request_problem_information = Some(byte),
                id::WILL_DELAY_INTERVAL => p.will_delay_interval = Some(n),
                id::REQUEST_RESPONSE_INFORMATION => p.request_response_information = Some(byte),
                id::SERVER_REFERENCE => p.server_reference = text,
                id::REASON_STRING => p.reason_string = text,
                id::RECEIVE_MAXIMUM => p.receive_maximum = Some(short),
                id::TOPIC_ALIAS_MAXIMUM => p.topic_alias_maximum = Some(short),
                id::TOPIC_ALIAS => p.topic_alias = Some(short),
                id::MAXIMUM_PACKET_SIZE => p.maximum_packet_size = Some(n),
                id::USER_PROPERTY => {
                    if let Value::Pair(k, v) = value {
                        p.user_properties.push((k.clone(), v.clone()));
                    }
                }
                // Only CONNACK may carry the rest, and -D cannot put anything there.
                _ => {}
            }
        }
    }
}

/// The id of the session expiry interval property, which `-x` adds to CONNECT.
pub const SESSION_EXPIRY_INTERVAL: u8 = id::SESSION_EXPIRY_INTERVAL;
/// The id of the response topic, which midge_rr adds to PUBLISH.
pub const RESPONSE_TOPIC: u8 = id::RESPONSE_TOPIC;

fn usage(message: String) -> ArgError {
    ArgError::Usage(message)
}

/// Reads one `-D` group from `words` (the words after `-D`): returns the command's list to add
/// to, the property and the number of words it took, or mosquitto's complaint.
fn parse_one(words: &[OsString]) -> Result<(Option<Target>, u8, Value, usize), ArgError> {
    let not_enough =
        || usage("Error: --property argument given but not enough arguments specified.\n\n".into());
    if words.len() < 3 {
        return Err(not_enough());
    }
    let cmd_name = words[0].as_bytes();
    let cmd = Cmd::from_name(cmd_name)
        .ok_or_else(|| usage("Error: Invalid command given in --property argument.\n\n".into()))?;
    let prop_name = words[1].as_bytes();
    let &(_, property, kind) = NAMES
        .iter()
        .find(|(n, _, _)| n.as_bytes().eq_ignore_ascii_case(prop_name))
        .ok_or_else(|| {
            usage("Error: Invalid property name given in --property argument.\n\n".into())
        })?;
    let (cmd_text, prop_text) = (words[0].to_string_lossy(), words[1].to_string_lossy());
    if !allowed(cmd, property) {
        return Err(usage(format!(
            "Error: {prop_text} property not allowed for {cmd_text} in --property argument.\n\n"
        )));
    }
    let (key, value, taken) = if kind == Kind::Pair {
        if words.len() < 4 {
            return Err(not_enough());
        }
        (Some(words[2].as_bytes()), words[3].as_bytes(), 4)
    } else {
        (None, words[2].as_bytes(), 3)
    };
    let not_supported = || {
        usage(format!(
            "Error: {prop_text} property not supported for {cmd_text} in --property argument.\n\n"
        ))
    };
    let target = match cmd {
        Cmd::Connect => Some(Target::Connect),
        Cmd::Publish if property == id::SUBSCRIPTION_IDENTIFIER => return Err(not_supported()),
        Cmd::Publish => Some(Target::Publish),
        Cmd::Subscribe => Some(Target::Subscribe),
        Cmd::Unsubscribe => Some(Target::Unsubscribe),
        Cmd::Disconnect => Some(Target::Disconnect),
        Cmd::Will => Some(Target::Will),
        Cmd::Auth | Cmd::Puback | Cmd::Pubrec | Cmd::Pubrel | Cmd::Pubcomp => {
            return Err(not_supported());
        }
        // libmosquitto has no list for CONNACK: refused without a word.
        Cmd::Connack => None,
    };
    let value = read_value(kind, &prop_text, key, value)?;
    Ok((target, property, value, taken))
}

/// Converts a value as client_props.c does for `kind`.
fn read_value(kind: Kind, name: &str, key: Option<&[u8]>, value: &[u8]) -> Result<Value, ArgError> {
    let number = |max: i64| {
        let n = atol(value);
        u32::try_from(n)
            .ok()
            .filter(|&v| i64::from(v) <= max)
            .ok_or_else(|| {
                usage(format!(
                    "Error: Property value ({n}) out of range for property {name}.\n\n"
                ))
            })
    };
    let cannot_add = || usage(format!("Error adding property {name} {}\n", kind as u8));
    let text = |bytes: &[u8]| {
        if bytes.len() > usize::from(u16::MAX) {
            return Err(cannot_add());
        }
        ByteStr::from_utf8(Bytes::copy_from_slice(bytes)).map_err(|_| cannot_add())
    };
    Ok(match kind {
        Kind::Byte => Value::Number(number(0xff)?),
        Kind::Int16 => Value::Number(number(0xffff)?),
        Kind::Int32 => Value::Number(number(0xffff_ffff)?),
        Kind::Varint => match number(0xffff_ffff)? {
            n if n > 268_435_455 => return Err(cannot_add()),
            n => Value::Number(n),
        },
        Kind::Binary if value.len() > usize::from(u16::MAX) => {
            return Err(usage(format!(
                "Error: Property value too long for property {name}.\n\n"
            )));
        }
        Kind::Binary => Value::Binary(Bytes::copy_from_slice(value)),
        Kind::Text => Value::Text(text(value)?),
        Kind::Pair => {
            let key = text(key.unwrap_or_default())?;
            // libmosquitto does not check the value; we still need UTF-8 of MQTT's length.
            let value = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.len() <= usize::from(u16::MAX))
                .ok_or_else(cannot_add)?;
            Value::Pair(key, ByteStr::from(value))
        }
    })
}

#[derive(Clone, Copy)]
enum Target {
    Connect,
    Publish,
    Subscribe,
    Unsubscribe,
    Disconnect,
    Will,
}

/// A command line with its `-D` groups taken out.
#[derive(Debug, Default)]
pub struct Split {
    /// The other words, for clap.
    pub rest: Vec<OsString>,
    pub properties: PropertyArgs,
    /// The first bad `-D`: how many words of `rest` came before it, and the complaint.
    pub error: Option<(usize, ArgError)>,
    /// A `-D` came after the last `-V`: like mosquitto, that makes the client MQTT 5.
    pub forces_v5: bool,
}

/// Takes the `-D`/`--property` groups out of `args`. `takes_value` says whether a flag
/// consumes the next word, so that a value which happens to read "-D" is left alone.
pub fn split(args: &[OsString], takes_value: &dyn Fn(&OsStr) -> bool) -> Split {
    let mut out = Split::default();
    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_os_str();
        if word == "-D" || word == "--property" {
            match parse_one(&args[i + 1..]) {
                Ok((target, property, value, taken)) => {
                    let list = match target {
                        Some(Target::Connect) => &mut out.properties.connect,
                        Some(Target::Publish) => &mut out.properties.publish,
                        Some(Target::Subscribe) => &mut out.properties.subscribe,
                        Some(Target::Unsubscribe) => &mut out.properties.unsubscribe,
                        Some(Target::Disconnect) => &mut out.properties.disconnect,
                        Some(Target::Will) => &mut out.properties.will,
                        None => {
                            out.error = Some((out.rest.len(), usage(String::new())));
                            return out;
                        }
                    };
                    list.push(property, value);
                    out.forces_v5 = true;
                    i += 1 + taken;
                }
                Err(e) => {
                    out.error = Some((out.rest.len(), e));
                    return out;
                }
            }
            continue;
        }
        let version = word.as_bytes().starts_with(b"-V")
            || word.as_bytes().starts_with(b"--protocol-version");
        if version {
            out.forces_v5 = false;
        }
        out.rest.push(args[i].clone());
        if takes_value(word) {
            if let Some(value) = args.get(i + 1) {
                out.rest.push(value.clone());
            }
            i += 1;
        }
        i += 1;
    }
    out
}
