//! What midge_pub and midge_sub share: the connection flags, mosquitto's wording for bad
//! command lines, and the console both tools print to.
//!
//! The flags are parsed by clap, but every error is reported in mosquitto's words (from
//! client_shared.c of mosquitto 2.0.11), because scripts written for mosquitto_pub and
//! mosquitto_sub match on them. Numbers are read the way mosquitto reads them, with C's
//! `atoi`: "abc" is 0 and "7x" is 7.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use clap::{Args, Parser};

pub use super::clap_words::from_clap;
pub use super::cnum::{atoi, strtol_base0};
pub use super::error::{ArgError, BadValue};
use super::props::{self, PropertyArgs, Value};
use super::session::{ConnectOptions, Logger};
use super::tls::TlsArgs;
use crate::protocol::{ByteStr, QoS, Version, Will, topic};

/// The flags both tools take.
#[derive(Args, Debug, Default)]
pub struct CommonArgs {
    #[arg(short = 'h', long = "host", allow_hyphen_values = true)]
    pub host: Option<String>,
    #[arg(short = 'p', long = "port", allow_hyphen_values = true, value_parser = port)]
    pub port: Option<u16>,
    #[arg(short = 'q', long = "qos", allow_hyphen_values = true, value_parser = qos)]
    pub qos: Option<QoS>,
    #[arg(short = 'i', long = "id", allow_hyphen_values = true)]
    pub id: Option<String>,
    #[arg(short = 'I', long = "id-prefix", allow_hyphen_values = true)]
    pub id_prefix: Option<String>,
    #[arg(short = 'u', long = "username", allow_hyphen_values = true)]
    pub username: Option<String>,
    #[arg(short = 'P', long = "pw", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub password: Option<OsString>,
    #[arg(short = 'k', long = "keepalive", allow_hyphen_values = true, value_parser = keepalive)]
    pub keepalive: Option<u16>,
    #[arg(short = 'V', long = "protocol-version", allow_hyphen_values = true,
          value_parser = protocol_version)]
    pub protocol_version: Option<Version>,
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    #[arg(short = 'c', long = "disable-clean-session")]
    pub disable_clean_session: bool,
    #[arg(long = "quiet")]
    pub quiet: bool,
    #[arg(long = "will-topic", allow_hyphen_values = true, value_parser = will_topic)]
    pub will_topic: Option<String>,
    #[arg(long = "will-payload", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub will_payload: Option<OsString>,
    #[arg(long = "will-qos", allow_hyphen_values = true, value_parser = will_qos)]
    pub will_qos: Option<QoS>,
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    #[arg(short = 'x', allow_hyphen_values = true, value_parser = session_expiry)]
    pub session_expiry: Option<u32>,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[arg(long = "help")]
    pub help: bool,
    #[arg(long = "version")]
    pub version: bool,
}

impl CommonArgs {
    /// `--help` or `--version`, when given.
    pub fn help_or_version(&self) -> Option<ArgError> {
        if self.help {
            Some(ArgError::Help)
        } else if self.version {
            Some(ArgError::Version)
        } else {
            None
        }
    }
}

/// The connection and console settings the tools derive from [`CommonArgs`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub connect: ConnectOptions,
    pub debug: bool,
    pub quiet: bool,
    /// `-D`: CONNECT's and the will's are already in `connect`; the rest go out with their
    /// packets.
    pub properties: PropertyArgs,
}

/// Which tool reads the command line: they differ in defaults and in a few messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Pub,
    Sub,
    Rr,
}

/// Reads a command line with `T`'s flags plus `-D` groups. mosquitto reads left to right and
/// stops at the first problem (or at `--help` / `--version`), so a bad `-D` is reported only
/// when nothing before it is wrong.
pub fn parse_command_line<T: Parser>(
    args: &[OsString],
    help_or_version: impl Fn(&T) -> Option<ArgError>,
) -> Result<(T, PropertyArgs, bool), ArgError> {
    let command = T::command();
    let takes_value = |word: &OsStr| {
        command.get_arguments().any(|arg| {
            let named = arg
                .get_short()
                .is_some_and(|c| word == format!("-{c}").as_str())
                || arg
                    .get_long()
                    .is_some_and(|l| word == format!("--{l}").as_str());
            named && arg.get_action().takes_values()
        })
    };
    let split = props::split(args, &takes_value);
    if let Some((before, error)) = split.error {
        let earlier = &split.rest[..before];
        let parsed = T::try_parse_from(earlier).map_err(|e| from_clap(e, earlier))?;
        return Err(help_or_version(&parsed).unwrap_or(error));
    }
    let parsed = T::try_parse_from(&split.rest).map_err(|e| from_clap(e, &split.rest))?;
    Ok((parsed, split.properties, split.forces_v5))
}

impl Tool {
    fn default_version(self) -> Version {
        match self {
            Tool::Rr => Version::V5,
            Tool::Pub | Tool::Sub => Version::V311,
        }
    }
}

impl CommonArgs {
    /// mosquitto's checks once the whole command line is read (client_config_load).
    /// `forces_v5`: a `-D` came after any `-V`.
    pub fn finish(
        self,
        tool: Tool,
        mut properties: PropertyArgs,
        forces_v5: bool,
    ) -> Result<ClientConfig, ArgError> {
        if self.id.is_some() && self.id_prefix.is_some() {
            return Err(usage(
                "Error: -i and -I argument cannot be used together.\n\n",
            ));
        }
        if self.will_payload.is_some() && self.will_topic.is_none() {
            return Err(usage(
                "Error: Will payload given, but no will topic given.\n",
            ));
        }
        if self.will_retain && self.will_topic.is_none() {
            return Err(usage(
                "Error: Will retain given, but no will topic given.\n",
            ));
        }
        self.tls.check()?;
        let version = match self.protocol_version {
            _ if forces_v5 => Version::V5,
            Some(version) => version,
            None => tool.default_version(),
        };
        let clean_session = !self.disable_clean_session;
        let no_fixed_id = self.id_prefix.is_some() || self.id.is_none();
        if version == Version::V5 {
            // -c alone means a session that never expires; -x says otherwise.
            let expiry = match self.session_expiry {
                None if !clean_session => u32::MAX,
                other => other.unwrap_or(0),
            };
            if expiry == u32::MAX && no_fixed_id {
                return Err(usage(
                    "Error: You must provide a client id if you are using an infinite \
                     session expiry interval.\n",
                ));
            }
            if expiry > 0 {
                let expiry = Value::Number(expiry);
                properties
                    .connect
                    .push(props::SESSION_EXPIRY_INTERVAL, expiry);
            }
        } else if !clean_session && no_fixed_id {
            return Err(usage(
                "Error: You must provide a client id if you are using the -c option.\n",
            ));
        }
        let client_id = match (self.id, self.id_prefix) {
            (Some(id), _) => id,
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            // MQTT 3.1 does not let the broker choose: libmosquitto makes one up.
            (None, None) if version == Version::V31 => random_client_id(),
            (None, None) => String::new(),
        };
        let will = self.will_topic.map(|topic| Will {
            topic: ByteStr::from(topic),
            payload: Bytes::from(self.will_payload.unwrap_or_default().into_vec()),
            qos: self.will_qos.unwrap_or_default(),
            retain: self.will_retain,
            properties: properties.will.to_properties(),
            raw_properties: Bytes::new(),
        });
        // client_opts_set's mosquitto_tls_set: files that cannot be read end the tool.
        let tls = self
            .tls
            .client_config()
            .map_err(|line| ArgError::Plain(if self.quiet { String::new() } else { line }))?;
        // mosquitto's clients default to 8883 when they speak TLS.
        let default_port = if tls.is_some() { 8883 } else { 1883 };
        Ok(ClientConfig {
            connect: ConnectOptions {
                host: self.host.unwrap_or_else(|| "localhost".into()),
                port: self.port.unwrap_or(default_port),
                version,
                client_id,
                clean_session,
                keep_alive: self.keepalive.unwrap_or(60),
                username: self.username,
                password: self.password.map(|p| Bytes::from(p.into_vec())),
                will,
                properties: properties.connect.to_properties(),
                tls,
            },
            debug: self.debug,
            quiet: self.quiet,
            properties,
        })
    }
}

impl ClientConfig {
    /// MQTT 3.x has no password without a user name; libmosquitto refuses to set one
    /// (checked by the tools after the command line, in client_opts_set).
    pub fn check_credentials(&self) -> Result<(), ArgError> {
        let c = &self.connect;
        // libmosquitto will not put will properties in an MQTT 3 CONNECT.
        if c.version != Version::V5 && c.will.is_some() && !self.properties.will.is_empty() {
            return Err(ArgError::Plain(
                self.unless_quiet("Error: Problem setting will.\n"),
            ));
        }
        if c.version != Version::V5 && c.password.is_some() && c.username.is_none() {
            return Err(ArgError::Plain(
                "Error: Problem setting username and/or password.\n".into(),
            ));
        }
        Ok(())
    }
}

impl ClientConfig {
    /// `-D connect ...` then `-V 311`: libmosquitto refuses to connect at all. The line to
    /// print (exit code 1), if so.
    pub fn unsupported_connect_properties(&self) -> Option<String> {
        let v3 = self.connect.version != Version::V5;
        (v3 && !self.properties.connect.is_empty())
            .then(|| self.unless_quiet("Unable to connect (This feature is not supported.).\n"))
    }

    /// `-c` with a session that expires and no `-i`: libmosquitto cannot make a client without
    /// an id that keeps its session. `message` is the tool's wording.
    pub fn check_id(&self, message: &str) -> Result<(), ArgError> {
        if !self.connect.clean_session && self.connect.client_id.is_empty() {
            return Err(ArgError::Plain(self.unless_quiet(message)));
        }
        Ok(())
    }

    fn unless_quiet(&self, text: &str) -> String {
        if self.quiet {
            String::new()
        } else {
            text.to_string()
        }
    }
}

fn usage(message: &str) -> ArgError {
    ArgError::Usage(message.to_string())
}

/// `-x`: seconds, or -1, 4294967295 or ∞ for a session that never expires. Read with
/// `strtol(s, NULL, 0)`, so hexadecimal and octal work too, but the whole word must be a number.
fn session_expiry(s: &str) -> Result<u32, BadValue> {
    if s == "∞" {
        return Ok(u32::MAX);
    }
    let value = strtol_base0(s)
        .ok_or_else(|| BadValue("Error: session-expiry-interval not a number.\n\n".into()))?;
    match value {
        -1 => Ok(u32::MAX),
        v => u32::try_from(v)
            .map_err(|_| BadValue("Error: session-expiry-interval out of range.\n\n".into())),
    }
}

/// "mosq-" and 18 random letters and digits, like libmosquitto's generated ids.
fn random_client_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let random = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let chars = random
        .iter()
        .flat_map(|u| u.as_bytes().iter().copied())
        .take(18)
        .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
    format!("mosq-{}", chars.collect::<String>())
}

fn port(s: &str) -> Result<u16, BadValue> {
    let port = atoi(s);
    u16::try_from(port).map_err(|_| BadValue(format!("Error: Invalid port given: {port}\n")))
}

fn qos(s: &str) -> Result<QoS, BadValue> {
    let qos = atoi(s);
    u8::try_from(qos)
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| BadValue(format!("Error: Invalid QoS given: {qos}\n")))
}

fn will_qos(s: &str) -> Result<QoS, BadValue> {
    let qos = atoi(s);
    u8::try_from(qos)
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| BadValue(format!("Error: Invalid will QoS {qos}.\n\n")))
}

fn keepalive(s: &str) -> Result<u16, BadValue> {
    match u16::try_from(atoi(s)) {
        Ok(k) if k >= 5 => Ok(k),
        _ => Err(BadValue(
            "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n".into(),
        )),
    }
}

fn protocol_version(s: &str) -> Result<Version, BadValue> {
    match s {
        "mqttv31" | "31" => Ok(Version::V31),
        "mqttv311" | "311" => Ok(Version::V311),
        "mqttv5" | "5" => Ok(Version::V5),
        _ => Err(BadValue(
            "Error: Invalid protocol version argument given.\n\n".into(),
        )),
    }
}

/// mosquitto_pub_topic_check: no wildcard anywhere, at most 65535 bytes. An empty topic
/// passes here; the publish itself is refused later.
pub fn is_valid_pub_topic(topic: &str) -> bool {
    !topic.contains(['+', '#']) && topic.len() <= usize::from(u16::MAX)
}

/// mosquitto_sub_topic_check: wildcards only as whole levels, `#` last. Empty passes.
pub fn is_valid_sub_topic(filter: &str) -> bool {
    filter.is_empty() || (topic::validate_filter(filter).is_ok() && filter.len() <= 65535)
}

fn will_topic(s: &str) -> Result<String, BadValue> {
    if is_valid_pub_topic(s) {
        Ok(s.to_string())
    } else {
        Err(BadValue(format!(
            "Error: Invalid will topic '{s}', does it contain '+' or '#'?\n"
        )))
    }
}

/// The tool's name as invoked, so that messages name the command the user typed.
pub fn program_name(argv: &[OsString], default: &str) -> String {
    argv.first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| default.to_string())
}

type Sink = Arc<Mutex<dyn Write + Send>>;

/// Where a tool prints: stdout for messages and debug lines, stderr for errors. Each write is
/// flushed at once, so that a pipe sees every message as it arrives.
#[derive(Clone)]
pub struct Console {
    stdout: Sink,
    stderr: Sink,
}

impl Console {
    pub fn new(
        stdout: impl Write + Send + 'static,
        stderr: impl Write + Send + 'static,
    ) -> Console {
        Console {
            stdout: Arc::new(Mutex::new(stdout)),
            stderr: Arc::new(Mutex::new(stderr)),
        }
    }

    pub fn stdio() -> Console {
        Console::new(io::stdout(), io::stderr())
    }

    pub fn out(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(bytes)?;
        out.flush()
    }

    pub fn err(&self, text: &str) {
        let mut err = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        // Nowhere left to report a failure to write an error.
        let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
    }

    /// A [`Logger`] that prints each debug line on stdout, as mosquitto's `-d` does.
    pub fn logger(&self) -> Logger {
        let console = self.clone();
        Box::new(move |line| {
            let _ = console.out(format!("{line}\n").as_bytes());
        })
    }

    /// Prints an [`ArgError`] as mosquitto's tools do; returns their exit code, 1.
    pub fn arg_error(&self, err: &ArgError, program: &str, usage_text: &str) -> i32 {
        match err {
            ArgError::Usage(message) => self.err(&format!(
                "{message}\nUse '{program} --help' to see usage.\n"
            )),
            ArgError::Plain(message) => self.err(message),
            ArgError::WithHelp(message) => {
                self.err(message);
                let _ = self.out(usage_text.as_bytes());
            }
            ArgError::Help => {
                let _ = self.out(usage_text.as_bytes());
            }
            ArgError::Version => {
                let line = format!("{program} version {}.\n", env!("CARGO_PKG_VERSION"));
                let _ = self.out(line.as_bytes());
            }
        }
        1
    }
}
