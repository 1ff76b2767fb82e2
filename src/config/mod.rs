//! The mosquitto.conf file, read with mosquitto 2.0's meaning.
//!
//! Users switch brokers by changing one word in a unit file, so midge reads the same file and
//! gives it the same meaning, checked against mosquitto 2.0.11's `conf.c` and the running broker,
//! odd corners included:
//!
//! - Listener settings before the first `listener` line of a file go to mosquitto's implicit
//!   *default listener* (port 1883, all interfaces). `port` and `bind_address` shape it, but any
//!   setting that touches it (`max_connections 10`, `socket_domain ipv4`, ...) makes it exist.
//! - With no listener at all the broker runs in "local only mode" (127.0.0.1 and ::1); `-p` ports
//!   are used only then, and ignored when the file defines listeners.
//! - Without a `listener`, `port` or `bind_address` line anonymous clients are always allowed,
//!   whatever `allow_anonymous` says.
//!
//! Deliberate differences: unknown keys and keys midge does not implement yet are warnings, not
//! errors, so any mosquitto file loads; values mosquitto would misread through `atoi` (`abc`,
//! `1.5h`, extra words) are errors instead of silent zeros.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::log::{LogDest, LogTypes};

mod keys;
mod parse;
mod tls;

use parse::Parser;
pub use tls::{ListenerTls, TlsVersion};

/// Defaults of midge's own bounds (issue 11), each far above what a well-behaved client
/// or site needs and far below what would hurt an edge device: 10,000 subscriptions cost
/// about 2 MiB, the retained store at most 64 MiB.
pub const MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 10_000;
pub const MAX_FILTERS_PER_SUBSCRIBE: usize = 1_000;
pub const MAX_RETAINED_MESSAGES: usize = 100_000;
pub const MAX_RETAINED_BYTES: usize = 64 * 1024 * 1024;

/// The broker's whole configuration. `Default` is mosquitto 2.0 with no config file.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Listeners from `listener PORT [ADDRESS]` lines in file order, then mosquitto's default
    /// listener if anything configured it (`port`, `bind_address`, or a listener setting before
    /// the first `listener`). Empty = local only mode: see [`Config::effective_listeners`].
    pub listeners: Vec<ListenerConfig>,
    /// True once the file has a `listener`, `port` or `bind_address` line. mosquitto keys its
    /// anonymous rule on exactly this, not on whether listeners exist: see `anonymous_allowed`.
    pub listener_configured: bool,
    /// Ports given with `-p`, used only in local only mode (mosquitto ignores them otherwise).
    pub cli_ports: Vec<u16>,
    pub allow_anonymous: Option<bool>,
    pub password_file: Option<PathBuf>,
    pub acl_file: Option<PathBuf>,
    /// When true the security settings live in each listener's `security` instead of here.
    pub per_listener_settings: bool,
    /// Re-check a retained message's publisher against the ACL before handing it out. False
    /// by default: mosquitto 2.0.11's documentation says true, its code starts with false.
    pub check_retain_source: bool,
    /// Cap over all listeners, from `global_max_connections` (a key of mosquitto after 2.0). 2.0 has
    /// no global cap: its `max_connections` is per listener (see [`ListenerConfig`]).
    pub max_connections: Option<usize>,
    /// None: unset (midge's default bound, not announced to clients); Some(0): the
    /// protocol's maximum.
    pub max_packet_size: Option<u32>,
    pub message_size_limit: Option<u32>,
    /// midge extension: the longest client identifier taken, in bytes.
    pub max_client_id_length: usize,
    /// midge extensions: the longest topic name or filter taken, in bytes and in levels.
    pub max_topic_length: usize,
    pub max_topic_levels: usize,
    pub max_inflight_messages: Option<u16>,
    pub max_inflight_bytes: Option<usize>,
    pub max_queued_messages: Option<usize>,
    /// None: unset (midge's bounded default); Some(0): explicitly unlimited.
    pub max_queued_bytes: Option<usize>,
    pub queue_qos0_messages: bool,
    /// midge extension: when a client's queue is full, disconnect it (MQTT 5: reason 0x97,
    /// quota exceeded) instead of dropping the message, as mosquitto does. Default false.
    pub disconnect_on_full_queue: bool,
    /// midge extension: new connections accepted per second, over all listeners; more are
    /// closed at once. None: no limit.
    pub max_connection_rate: Option<u32>,
    /// midge extension: subscriptions one session may hold; a new one beyond is refused
    /// (SUBACK 0x80, MQTT 5 0x97). None: no limit.
    pub max_subscriptions_per_client: Option<usize>,
    /// midge extension: filters handled in one SUBSCRIBE; the rest are refused one by one.
    pub max_filters_per_subscribe: Option<usize>,
    /// midge extension: retained messages stored, and their bytes (topic, payload and
    /// properties); a new topic beyond is not stored, its PUBLISH still delivered.
    pub max_retained_messages: Option<usize>,
    pub max_retained_bytes: Option<usize>,
    /// Bytes of heap the broker may use before it refuses new connections and messages.
    pub memory_limit: Option<usize>,
    pub retain_available: bool,
    /// `upgrade_outgoing_qos`: deliver at the subscription's QoS, even above the message's.
    pub upgrade_outgoing_qos: bool,
    /// `allow_duplicate_messages`: an MQTT 3.1/3.1.1 client gets a copy per matching
    /// subscription instead of one (MQTT 5 clients always get one per subscription).
    pub allow_duplicate_messages: bool,
    pub persistent_client_expiration: Option<Duration>,
    /// `persistence` (or mosquitto's older `retained_persistence`): keep state on disk.
    pub persistence: bool,
    /// `persistence_location`: the directory of the files; the working directory if unset.
    pub persistence_location: Option<std::path::PathBuf>,
    /// `persistence_file`: the stem of midge's file names (`mosquitto.db` unless set).
    pub persistence_file: String,
    /// midge extension `persistence_sync`: what an acknowledgement waits for.
    pub persistence_sync: crate::persist::Sync,
    /// `autosave_interval`, seconds (changes, with `autosave_on_changes`) between
    /// snapshots; 0 for none but those the journal's size asks for and at shut-down.
    pub autosave_interval: u64,
    pub autosave_on_changes: bool,
    /// midge extension: sessions that outlive their connection, online or not; a CONNECT
    /// that would start one more is refused.
    pub max_persistent_sessions: usize,
    pub max_keepalive: u16,
    pub allow_zero_length_clientid: bool,
    pub auto_id_prefix: String,
    /// Only client ids starting with this prefix may connect (`clientid_prefixes`).
    pub clientid_prefixes: Option<String>,
    pub log_types: LogTypes,
    /// Empty after `log_dest none` (or when only `log_dest dlt` is named).
    pub log_dest: Vec<LogDest>,
    pub log_timestamp: bool,
    /// `log_timestamp_format`: a `strftime` format for the time at the start of each line.
    pub log_timestamp_format: Option<String>,
    /// `log_facility`: the syslog facility, LOG_DAEMON unless set (local0 to local7).
    pub log_facility: i32,
    /// `user`: who a broker started as root becomes once its listeners are open.
    pub user: String,
    /// `set_tcp_nodelay`. midge's default is true (mosquitto's false): it writes each
    /// connection's output once per loop turn, so Nagle's algorithm would only delay it.
    pub set_tcp_nodelay: bool,
    pub connection_messages: bool,
    pub pid_file: Option<PathBuf>,
    /// midge extension (`connect_timeout SECONDS`): how long a socket may stay open without
    /// sending CONNECT, so idle sockets cannot pin connection slots.
    pub connect_timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// 0 lets the OS pick (a midge extension: mosquitto reserves 0 for unix sockets).
    pub port: u16,
    /// None = all interfaces. A host name is kept as written and resolved when binding.
    pub bind_address: Option<String>,
    /// None = unlimited (mosquitto's -1, and 0, which its accept check also treats as no limit).
    pub max_connections: Option<usize>,
    pub socket_domain: Option<SocketDomain>,
    /// Listen on this network interface only (`bind_interface`, SO_BINDTODEVICE).
    pub bind_interface: Option<String>,
    pub protocol: ListenerProtocol,
    /// `mount_point`: the prefix of every topic this listener's clients use (see
    /// `listener_rules`).
    pub mount_point: Option<String>,
    /// The highest QoS clients of this listener may use (`max_qos`, 0 to 2).
    pub max_qos: u8,
    /// Topic aliases an MQTT 5 client of this listener may set up (`max_topic_alias`).
    pub max_topic_alias: u16,
    /// `use_username_as_clientid`: the client's username becomes its client id.
    pub use_username_as_clientid: bool,
    /// Used only with `per_listener_settings true`.
    pub security: ListenerSecurity,
    /// `certfile`, `keyfile`, `cafile`, ...: TLS once `certfile` is set.
    pub tls: ListenerTls,
}

/// Per-listener security settings; None = not set for this listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerSecurity {
    pub allow_anonymous: Option<bool>,
    pub password_file: Option<PathBuf>,
    pub acl_file: Option<PathBuf>,
    pub allow_zero_length_clientid: Option<bool>,
    pub auto_id_prefix: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketDomain {
    Ipv4,
    Ipv6,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListenerProtocol {
    #[default]
    Mqtt,
    Websockets,
}

/// Something worth telling the user that does not stop the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    pub origin: String,
    pub line: usize,
    pub message: String,
}

/// A config the broker must refuse to start with. `line` 0 means the file as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Warning: {}:{}: {}",
            self.origin, self.line, self.message
        )
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "Error: {}: {}", self.origin, self.message)
        } else {
            write!(f, "Error: {}:{}: {}", self.origin, self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Default for ListenerConfig {
    /// mosquitto's default listener: port 1883 on all interfaces.
    fn default() -> Self {
        ListenerConfig {
            port: 1883,
            bind_address: None,
            max_connections: None,
            socket_domain: None,
            bind_interface: None,
            protocol: ListenerProtocol::Mqtt,
            mount_point: None,
            max_qos: 2,
            max_topic_alias: 10,
            use_username_as_clientid: false,
            security: ListenerSecurity::default(),
            tls: ListenerTls::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listeners: Vec::new(),
            listener_configured: false,
            cli_ports: Vec::new(),
            allow_anonymous: None,
            password_file: None,
            acl_file: None,
            per_listener_settings: false,
            check_retain_source: false,
            max_connections: None,
            max_packet_size: None,
            message_size_limit: None,
            max_client_id_length: 1024,
            max_persistent_sessions: 100_000,
            max_topic_length: 4096,
            max_topic_levels: crate::protocol::topic::MAX_LEVELS,
            max_inflight_messages: Some(20),
            max_inflight_bytes: None,
            max_queued_messages: Some(1000),
            max_queued_bytes: None,
            disconnect_on_full_queue: false,
            max_connection_rate: None,
            max_subscriptions_per_client: Some(MAX_SUBSCRIPTIONS_PER_CLIENT),
            max_filters_per_subscribe: Some(MAX_FILTERS_PER_SUBSCRIBE),
            max_retained_messages: Some(MAX_RETAINED_MESSAGES),
            max_retained_bytes: Some(MAX_RETAINED_BYTES),
            memory_limit: None,
            queue_qos0_messages: false,
            retain_available: true,
            upgrade_outgoing_qos: false,
            allow_duplicate_messages: false,
            persistent_client_expiration: None,
            persistence: false,
            persistence_location: None,
            persistence_file: "mosquitto.db".to_string(),
            persistence_sync: crate::persist::Sync::Write,
            autosave_interval: 1800,
            autosave_on_changes: false,
            max_keepalive: 65535,
            allow_zero_length_clientid: true,
            auto_id_prefix: "auto-".to_string(),
            clientid_prefixes: None,
            log_types: LogTypes::DEFAULT,
            log_dest: vec![LogDest::Stderr],
            log_timestamp: true,
            log_timestamp_format: None,
            log_facility: crate::log::DAEMON_FACILITY,
            user: "mosquitto".to_string(),
            set_tcp_nodelay: true,
            connection_messages: true,
            pid_file: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// Parses config text; `origin` names it in messages. `include_dir` reads from the filesystem.
    pub fn parse(text: &str, origin: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut parser = Parser::default();
        parser.file(text, origin, true)?;
        parser.finish()
    }

    /// Reads and parses a file; a relative path is taken from the working directory, as mosquitto does.
    pub fn from_file(path: &Path) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let origin = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, &origin),
            Err(e) => Err(ConfigError {
                origin,
                line: 0,
                message: format!("cannot read config file: {e}"),
            }),
        }
    }

    /// mosquitto 2.0's rule: with no `listener`, `port` or `bind_address` line anonymous clients
    /// are allowed even if `allow_anonymous false` is set; otherwise only if `allow_anonymous true`.
    pub fn anonymous_allowed(&self) -> bool {
        !self.listener_configured || self.allow_anonymous == Some(true)
    }

    /// The same rule for one listener, honouring `per_listener_settings`.
    pub fn anonymous_allowed_on(&self, listener: &ListenerConfig) -> bool {
        if !self.per_listener_settings {
            return self.anonymous_allowed();
        }
        !self.listener_configured || listener.security.allow_anonymous == Some(true)
    }

    /// `-p PORT`, repeatable. As in mosquitto 2.0 it only picks the ports of local only mode: a
    /// file that defines listeners wins and the `-p` ports are ignored.
    pub fn add_cli_port(&mut self, port: u16) {
        if !self.cli_ports.contains(&port) {
            self.cli_ports.push(port);
        }
    }

    /// True when no listener is configured: the broker listens on loopback only.
    pub fn is_local_only(&self) -> bool {
        self.listeners.is_empty()
    }

    /// The sockets to open: the configured listeners, or in local only mode 127.0.0.1 and ::1 on
    /// each `-p` port (1883 without `-p`), open to anonymous clients as in mosquitto.
    pub fn effective_listeners(&self) -> Vec<ListenerConfig> {
        if !self.listeners.is_empty() {
            return self.listeners.clone();
        }
        let ports = if self.cli_ports.is_empty() {
            vec![1883]
        } else {
            self.cli_ports.clone()
        };
        let local = |port: u16, address: &str| ListenerConfig {
            port,
            bind_address: Some(address.to_string()),
            security: ListenerSecurity {
                allow_anonymous: Some(true),
                ..ListenerSecurity::default()
            },
            ..ListenerConfig::default()
        };
        ports
            .into_iter()
            .flat_map(|port| [local(port, "127.0.0.1"), local(port, "::1")])
            .collect()
    }
}

#[cfg(test)]
mod tests;
