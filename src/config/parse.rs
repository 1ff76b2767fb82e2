//! The parser: mosquitto.conf's lines, one key at a time, into a [`Config`].

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::keys::{self, Arg, Key, Status};
use super::tls;
use super::{
    Config, ConfigError, ConfigWarning, ListenerConfig, ListenerProtocol, ListenerSecurity,
    SocketDomain,
};
use crate::log::{LogDest, LogTypes};

/// Where listener settings go: mosquitto restarts at the default listener in every file.
#[derive(Clone, Copy, Default)]
enum Target {
    #[default]
    Default,
    Listener(usize),
}

/// A file name and line, where something was said.
pub(super) type Place = (String, usize);

#[derive(Default)]
pub(super) struct Parser {
    config: Config,
    warnings: Vec<ConfigWarning>,
    origin: String,
    line: usize,
    target: Target,
    /// Security settings without `per_listener_settings`, copied into `config` at the end.
    global: ListenerSecurity,
    /// mosquitto's default listener; it exists once `default_made_by` says which line made it.
    default: ListenerConfig,
    default_made_by: Option<(Place, String)>,
    /// Where each of `config.listeners` was defined, for duplicate errors.
    listener_at: Vec<Place>,
    port_set: bool,
    bind_address_set: bool,
    security_seen: bool,
    bridge_seen: bool,
    log_file_seen: bool,
    anonymous_false_at: Option<Place>,
    log_types: Option<LogTypes>,
    log_dest: Option<Vec<LogDest>>,
    pub(super) warned: HashSet<&'static str>,
    /// Keys refused so far; reported together at the end of the file.
    refused: Vec<ConfigError>,
}

/// A value's words, up to a trailing `# comment`.
pub(super) fn words(rest: &str) -> Vec<&str> {
    let words = rest.split_whitespace();
    words.take_while(|w| !w.starts_with('#')).collect()
}

/// mosquitto's include_dir order: alphabetical, each upper case letter just before its lower case.
fn include_order(name: &str) -> Vec<(char, bool)> {
    let key = |c: char| (c.to_ascii_lowercase(), c.is_ascii_lowercase());
    name.chars().map(key).collect()
}

impl Parser {
    pub(super) fn place(&self) -> Place {
        (self.origin.clone(), self.line)
    }

    pub(super) fn err(&self, message: impl Into<String>) -> ConfigError {
        let (origin, line) = self.place();
        let message = message.into();
        ConfigError {
            origin,
            line,
            message,
        }
    }

    pub(super) fn bad(&self, key: &str, value: impl fmt::Display, expected: &str) -> ConfigError {
        self.err(format!("invalid {key} value '{value}': {expected}"))
    }

    pub(super) fn warn_at(&mut self, (origin, line): Place, message: impl Into<String>) {
        let message = message.into();
        self.warnings.push(ConfigWarning {
            origin,
            line,
            message,
        });
    }

    pub(super) fn warn(&mut self, message: impl Into<String>) {
        self.warn_at(self.place(), message);
    }

    pub(super) fn file(&mut self, text: &str, origin: &str, main: bool) -> Result<(), ConfigError> {
        let outer_origin = std::mem::replace(&mut self.origin, origin.to_string());
        let outer = (self.line, std::mem::take(&mut self.target));
        for (index, raw) in text.lines().enumerate() {
            self.line = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            self.entry(key, rest.trim_start(), main)?;
        }
        (self.origin, (self.line, self.target)) = (outer_origin, outer);
        Ok(())
    }

    pub(super) fn one<'a>(&self, key: &str, rest: &'a str) -> Result<&'a str, ConfigError> {
        match words(rest)[..] {
            [value] => Ok(value),
            [] => Err(self.err(format!("missing value for '{key}'"))),
            [_, extra, ..] => {
                Err(self.err(format!("unexpected extra value '{extra}' for '{key}'")))
            }
        }
    }

    /// A string value: the rest of the line, spaces and `#` included, as mosquitto takes it.
    pub(super) fn text<'a>(&self, key: &str, rest: &'a str) -> Result<&'a str, ConfigError> {
        match rest.trim() {
            "" => Err(self.err(format!("missing value for '{key}'"))),
            value => Ok(value),
        }
    }

    pub(super) fn boolean(&self, key: &str, rest: &str) -> Result<bool, ConfigError> {
        match self.one(key, rest)? {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            v => Err(self.bad(key, v, "expected true or false")),
        }
    }

    fn int(&self, key: &str, rest: &str) -> Result<i64, ConfigError> {
        let value = self.one(key, rest)?;
        value
            .parse()
            .map_err(|_| self.bad(key, value, "not a whole number"))
    }

    fn int_in(
        &self,
        key: &str,
        rest: &str,
        range: RangeInclusive<i64>,
    ) -> Result<i64, ConfigError> {
        let n = self.int(key, rest)?;
        let expected = format!("must be {} to {}", range.start(), range.end());
        range
            .contains(&n)
            .then_some(n)
            .ok_or_else(|| self.bad(key, n, &expected))
    }

    /// A count where mosquitto treats 0 and below as "no limit".
    fn limit(&self, key: &str, rest: &str) -> Result<Option<usize>, ConfigError> {
        Ok(usize::try_from(self.int(key, rest)?)
            .ok()
            .filter(|&n| n > 0))
    }

    pub(super) fn listener(&mut self) -> &mut ListenerConfig {
        match self.target {
            Target::Default => &mut self.default,
            Target::Listener(i) => &mut self.config.listeners[i],
        }
    }

    /// Notes that a setting landed on the default listener, which makes mosquitto open it.
    pub(super) fn touch_default(&mut self, key: &str) {
        if matches!(self.target, Target::Default) && self.default_made_by.is_none() {
            self.default_made_by = Some((self.place(), key.to_string()));
        }
    }

    /// One `key value` line: dispatched on the key's status in [`keys::KEYS`].
    fn entry(&mut self, key: &str, rest: &str, main: bool) -> Result<(), ConfigError> {
        let Some(known) = keys::find(key) else {
            self.warn(format!("unknown configuration key '{key}'"));
            return Ok(());
        };
        match known.status {
            Status::Implemented | Status::MidgeOnly => self.implemented(key, rest, main),
            _ => self.not_implemented(key, known, rest),
        }
    }

    /// The keys midge honours. Each has its status `Implemented` or `MidgeOnly` in
    /// [`keys::KEYS`]; a unit test checks that none falls through to the last arm.
    fn implemented(&mut self, key: &str, rest: &str, main: bool) -> Result<(), ConfigError> {
        match key {
            "listener" => self.new_listener(rest)?,
            "port" | "bind_address" => {
                if key == "port" {
                    self.default.port = self.int_in(key, rest, 1..=65535)? as u16;
                    if std::mem::replace(&mut self.port_set, true) {
                        self.warn(
                            "default listener port given more than once; the last one is used",
                        );
                    }
                } else {
                    let address = self.text(key, rest)?.to_string();
                    if self.default.bind_address.replace(address).is_some() {
                        return Err(self.err("duplicate bind_address value"));
                    }
                    self.bind_address_set = true;
                }
                self.warn(format!(
                    "'{key}' is deprecated in mosquitto 2.0; prefer 'listener'"
                ));
                self.config.listener_configured = true;
                self.default_made_by = Some((self.place(), key.to_string()));
            }
            "max_connections" => {
                let n = self.int(key, rest)?;
                self.listener().max_connections = usize::try_from(n).ok().filter(|&n| n > 0);
                if n >= 0 {
                    self.touch_default(key); // mosquitto's "unset" is -1
                }
            }
            "max_topic_alias" => {
                let n = self.int_in(key, rest, 0..=i64::from(u16::MAX))?;
                self.listener().max_topic_alias = n as u16;
                self.touch_default(key);
            }
            "clientid_prefixes" => {
                self.config.clientid_prefixes = Some(self.text(key, rest)?.to_string());
            }
            // mosquitto 2.0 reads both names.
            "max_qos" | "maximum_qos" => {
                let qos = self.int_in(key, rest, 0..=2)?;
                self.listener().max_qos = qos as u8;
                if qos != 2 {
                    self.touch_default(key); // mosquitto's test is `max_qos != 2`
                }
            }
            "socket_domain" => {
                self.listener().socket_domain = Some(match self.one(key, rest)? {
                    "ipv4" => SocketDomain::Ipv4,
                    "ipv6" => SocketDomain::Ipv6,
                    v => return Err(self.bad(key, v, "expected ipv4 or ipv6")),
                });
                self.touch_default(key);
            }
            "protocol" => {
                self.listener().protocol = match self.one(key, rest)? {
                    "mqtt" => ListenerProtocol::Mqtt,
                    "websockets" => ListenerProtocol::Websockets,
                    v => return Err(self.bad(key, v, "expected mqtt or websockets")),
                };
                if self.listener().protocol != ListenerProtocol::Mqtt {
                    self.touch_default(key);
                    // Ignored, it would serve plain MQTT where WebSocket clients are expected.
                    let refusal = self.err("'protocol websockets' is not supported yet: midge would serve plain MQTT on this port");
                    self.refused.push(refusal);
                }
            }
            "mount_point" => {
                let mount = self.text(key, rest)?.to_string();
                if matches!(self.target, Target::Default) && self.config.listeners.is_empty() {
                    return Err(self.err("mount_point must follow a 'listener' line"));
                }
                if mount.contains(['+', '#']) {
                    return Err(self.bad(key, mount, "wildcards are not allowed"));
                }
                if self.listener().mount_point.replace(mount).is_some() {
                    return Err(self.err("duplicate mount_point value for this listener"));
                }
                self.touch_default(key);
            }
            "per_listener_settings" => {
                let on = self.boolean(key, rest)?;
                // mosquitto: once on it stays on, and it must come before any security setting.
                if on && !self.config.per_listener_settings && self.security_seen {
                    return Err(
                        self.err("per_listener_settings must come before any security setting")
                    );
                }
                self.config.per_listener_settings |= on;
            }
            "allow_anonymous"
            | "allow_zero_length_clientid"
            | "password_file"
            | "acl_file"
            | "auto_id_prefix" => self.security(key, rest)?,
            "check_retain_source" => {
                // A security setting for per_listener_settings' order rule, though global.
                self.security_seen = true;
                self.config.check_retain_source = self.boolean(key, rest)?;
            }
            "global_max_connections" => self.config.max_connections = self.limit(key, rest)?,
            "max_packet_size" => {
                let n = self.int(key, rest)?;
                if n != 0 && !(20..=i64::from(u32::MAX)).contains(&n) {
                    return Err(self.bad(key, n, "must be 0 (no limit) or at least 20"));
                }
                self.config.max_packet_size = u32::try_from(n).ok();
            }
            "max_persistent_sessions" => {
                let n = self.int_in(key, rest, 0..=i64::from(u32::MAX))?;
                self.config.max_persistent_sessions = n as usize
            }
            "max_client_id_length" => {
                self.config.max_client_id_length = self.int_in(key, rest, 1..=65535)? as usize
            }
            "max_topic_length" => {
                self.config.max_topic_length = self.int_in(key, rest, 1..=65535)? as usize
            }
            "max_topic_levels" => {
                let levels = 1..=crate::protocol::topic::MAX_LEVELS as i64;
                self.config.max_topic_levels = self.int_in(key, rest, levels)? as usize
            }
            "message_size_limit" => {
                let n = self.int_in(key, rest, 0..=268_435_455)?;
                self.config.message_size_limit = u32::try_from(n).ok().filter(|&n| n > 0);
            }
            "max_inflight_messages" => {
                let n = self.int(key, rest)?;
                if n > 65535 {
                    return Err(self.bad(key, n, "must be at most 65535"));
                }
                // Negative, 0 and 65535 all mean unlimited in mosquitto.
                let n = u16::try_from(n).ok().filter(|&n| n > 0 && n < 65535);
                self.config.max_inflight_messages = n;
            }
            "max_inflight_bytes" => self.config.max_inflight_bytes = self.limit(key, rest)?,
            "max_queued_messages" => self.config.max_queued_messages = self.limit(key, rest)?,
            // Unlike the other limits, "unset" and "0" differ: unset leaves midge's bounded
            // default, 0 asks for no bound at all, as in mosquitto.
            "max_queued_bytes" => {
                let n = self.int(key, rest)?;
                self.config.max_queued_bytes = Some(usize::try_from(n).unwrap_or(0));
            }
            "queue_qos0_messages" => self.config.queue_qos0_messages = self.boolean(key, rest)?,
            "disconnect_on_full_queue" => {
                self.config.disconnect_on_full_queue = self.boolean(key, rest)?
            }
            "max_connection_rate" => {
                let n = self.int_in(key, rest, 0..=i64::from(u32::MAX))?;
                self.config.max_connection_rate = u32::try_from(n).ok().filter(|&n| n > 0);
            }
            "memory_limit" => self.config.memory_limit = self.limit(key, rest)?,
            "max_subscriptions_per_client" => {
                self.config.max_subscriptions_per_client = self.limit(key, rest)?
            }
            "max_filters_per_subscribe" => {
                self.config.max_filters_per_subscribe = self.limit(key, rest)?
            }
            "max_retained_messages" => self.config.max_retained_messages = self.limit(key, rest)?,
            "persistence" | "retained_persistence" => {
                self.config.persistence = self.boolean(key, rest)?;
            }
            "persistence_file" => self.config.persistence_file = self.one(key, rest)?.to_string(),
            "persistence_location" => {
                self.config.persistence_location = Some(self.text(key, rest)?.into())
            }
            "persistence_sync" => {
                let name = self.one(key, rest)?;
                self.config.persistence_sync = crate::persist::Sync::from_name(name)
                    .ok_or_else(|| self.err(format!("'{key}' must be none, write or fsync")))?;
            }
            "autosave_interval" => {
                // mosquitto takes a negative interval as 0.
                self.config.autosave_interval = self.int(key, rest)?.max(0) as u64
            }
            "autosave_on_changes" => self.config.autosave_on_changes = self.boolean(key, rest)?,
            "max_retained_bytes" => self.config.max_retained_bytes = self.limit(key, rest)?,
            "retain_available" => self.config.retain_available = self.boolean(key, rest)?,
            "upgrade_outgoing_qos" => {
                self.config.upgrade_outgoing_qos = self.boolean(key, rest)?;
            }
            "allow_duplicate_messages" => {
                self.config.allow_duplicate_messages = self.boolean(key, rest)?;
                // mosquitto's own warning; its default is false in 2.0.11 whatever it says.
                self.warn("The 'allow_duplicate_messages' option is now deprecated and will be removed in a future version. The behaviour will default to true.");
            }
            "use_username_as_clientid" => {
                let on = self.boolean(key, rest)?;
                self.listener().use_username_as_clientid = on;
                if on {
                    self.touch_default(key);
                }
            }
            "persistent_client_expiration" => {
                self.config.persistent_client_expiration = Some(self.expiration(key, rest)?);
            }
            "max_keepalive" => {
                self.config.max_keepalive = self.int_in(key, rest, 1..=65535)? as u16
            }
            "log_type" => {
                let name = self.one(key, rest)?;
                if name == "internal" {
                    self.warn("log_type internal is not supported yet; ignored");
                    self.log_types.get_or_insert(LogTypes::NONE);
                    return Ok(());
                }
                let types = LogTypes::from_name(name)
                    .ok_or_else(|| self.bad(key, name, "unknown log type"))?;
                // The first line starts from nothing; `none` starts over.
                let sum = self.log_types.unwrap_or(LogTypes::NONE) | types;
                self.log_types = Some(if name == "none" { LogTypes::NONE } else { sum });
            }
            "log_dest" => self.log_dest(rest)?,
            "log_timestamp" => self.config.log_timestamp = self.boolean(key, rest)?,
            "log_timestamp_format" => {
                let format = self.text(key, rest)?.to_string();
                if self.config.log_timestamp_format.replace(format).is_some() {
                    return Err(self.err("duplicate log_timestamp_format value"));
                }
            }
            "log_facility" => {
                let n = self.int_in(key, rest, 0..=7)?;
                let facility = u8::try_from(n).ok().and_then(crate::log::local_facility);
                self.config.log_facility = facility.unwrap_or(crate::log::DAEMON_FACILITY);
            }
            "user" => self.config.user = self.text(key, rest)?.to_string(),
            "set_tcp_nodelay" => self.config.set_tcp_nodelay = self.boolean(key, rest)?,
            "bind_interface" => {
                let device = self.text(key, rest)?.to_string();
                if self.listener().bind_interface.replace(device).is_some() {
                    return Err(self.err("duplicate bind_interface value for this listener"));
                }
                self.touch_default(key);
            }
            "connection_messages" => self.config.connection_messages = self.boolean(key, rest)?,
            "pid_file" => {
                let path = PathBuf::from(self.text(key, rest)?);
                if self.config.pid_file.replace(path).is_some() {
                    return Err(self.err("duplicate pid_file value"));
                }
            }
            "connect_timeout" => {
                let secs = self.int_in(key, rest, 1..=i64::from(u32::MAX))?;
                self.config.connect_timeout = Duration::from_secs(secs as u64);
            }
            "include_dir" => {
                let dir = self.text(key, rest)?;
                if main {
                    self.include_dir(Path::new(dir))?; // mosquitto ignores it in included files
                }
            }
            key if tls::KEYS.contains(&key) => self.tls_key(key, rest)?,
            _ => {
                return Err(self.err(format!(
                    "internal error: '{key}' is listed as implemented but has no parser"
                )));
            }
        }
        Ok(())
    }

    fn new_listener(&mut self, rest: &str) -> Result<(), ConfigError> {
        let (port, address) = match words(rest)[..] {
            [] => return Err(self.err("missing port for 'listener'")),
            [port] => (port, None),
            [port, address] => (port, Some(address.to_string())),
            [_, _, extra, ..] => {
                return Err(self.err(format!("unexpected extra value '{extra}' for 'listener'")));
            }
        };
        let port: u16 = port
            .parse()
            .map_err(|_| self.bad("listener port", port, "must be 0 to 65535"))?;
        if let Some(path) = address
            .as_deref()
            .filter(|a| port == 0 && a.parse::<IpAddr>().is_err())
        {
            return Err(self.err(format!(
                "'listener 0 {path}' is a unix socket; unix sockets are not supported yet"
            )));
        }
        let listener = ListenerConfig {
            port,
            bind_address: address,
            ..ListenerConfig::default()
        };
        self.check_duplicate(&listener, self.place())?;
        self.config.listeners.push(listener);
        self.listener_at.push(self.place());
        self.config.listener_configured = true;
        self.target = Target::Listener(self.config.listeners.len() - 1);
        Ok(())
    }

    /// mosquitto would accept the file and then fail to bind; say so while we know the line.
    fn check_duplicate(
        &self,
        new: &ListenerConfig,
        (origin, line): Place,
    ) -> Result<(), ConfigError> {
        let same = |l: &ListenerConfig| l.port == new.port && l.bind_address == new.bind_address;
        let Some(i) = self
            .config
            .listeners
            .iter()
            .position(same)
            .filter(|_| new.port != 0)
        else {
            return Ok(());
        };
        let on = new
            .bind_address
            .as_ref()
            .map(|a| format!(" on {a}"))
            .unwrap_or_default();
        let (first_origin, first_line) = &self.listener_at[i];
        let message = format!(
            "duplicate listener for port {}{on}: already defined at {first_origin}:{first_line}",
            new.port
        );
        Err(ConfigError {
            origin,
            line,
            message,
        })
    }

    fn security(&mut self, key: &str, rest: &str) -> Result<(), ConfigError> {
        self.security_seen = true;
        let per_listener = self.config.per_listener_settings;
        let (flag, text) = match key {
            "allow_anonymous" | "allow_zero_length_clientid" => {
                (Some(self.boolean(key, rest)?), "")
            }
            _ => (None, self.text(key, rest)?),
        };
        if key == "allow_anonymous" && flag == Some(false) {
            self.anonymous_false_at = Some(self.place());
        }
        // As in mosquitto, these (not the others) make the default listener exist.
        if per_listener
            && (key == "password_file"
                || key == "allow_zero_length_clientid" && flag == Some(false))
        {
            self.touch_default(key);
        }
        let security = if per_listener {
            &mut self.listener().security
        } else {
            &mut self.global
        };
        let duplicate = match key {
            "allow_anonymous" => {
                security.allow_anonymous = flag;
                false
            }
            "allow_zero_length_clientid" => {
                security.allow_zero_length_clientid = flag;
                false
            }
            "auto_id_prefix" => security.auto_id_prefix.replace(text.to_string()).is_some(),
            "password_file" => security
                .password_file
                .replace(PathBuf::from(text))
                .is_some(),
            _ => security.acl_file.replace(PathBuf::from(text)).is_some(),
        };
        if duplicate {
            return Err(self.err(format!("duplicate {key} value")));
        }
        Ok(())
    }

    fn expiration(&self, key: &str, rest: &str) -> Result<Duration, ConfigError> {
        let value = self.one(key, rest)?;
        let bad = || {
            self.bad(
                key,
                value,
                "expected a positive whole number then h, d, w, m or y",
            )
        };
        let unit = value.chars().last().ok_or_else(bad)?;
        let count = &value[..value.len() - unit.len_utf8()];
        let secs_per_unit: u64 = match unit {
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            'm' => 30 * 86400,
            'y' => 365 * 86400,
            _ => return Err(bad()),
        };
        let secs = count
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(secs_per_unit));
        secs.filter(|&s| s > 0)
            .map(Duration::from_secs)
            .ok_or_else(bad)
    }

    fn log_dest(&mut self, rest: &str) -> Result<(), ConfigError> {
        let dest = match rest.split_once(char::is_whitespace).unwrap_or((rest, "")) {
            ("file", path) => {
                let path = PathBuf::from(self.text("log_dest file", path)?);
                if std::mem::replace(&mut self.log_file_seen, true) {
                    return Err(self.err("duplicate 'log_dest file': only one log file is allowed"));
                }
                Some(LogDest::File(path))
            }
            _ => match self.one("log_dest", rest)? {
                "none" => None,
                "stderr" => Some(LogDest::Stderr),
                "stdout" => Some(LogDest::Stdout),
                "syslog" => Some(LogDest::Syslog),
                "topic" => Some(LogDest::Topic),
                "dlt" => {
                    self.warn("'log_dest dlt' is not supported: midge has no DLT (automotive) logging; ignored");
                    self.log_dest.get_or_insert_with(Vec::new);
                    return Ok(());
                }
                other => {
                    return Err(self.bad(
                        "log_dest",
                        other,
                        "expected stderr, stdout, file, syslog, topic, dlt or none",
                    ));
                }
            },
        };
        // The first log_dest line replaces the default; `none` empties the list.
        let dests = self.log_dest.get_or_insert_with(Vec::new);
        match dest {
            None => dests.clear(),
            Some(dest) if !dests.contains(&dest) => dests.push(dest),
            Some(_) => {}
        }
        Ok(())
    }

    fn include_dir(&mut self, dir: &Path) -> Result<(), ConfigError> {
        let shown = dir.display();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| self.err(format!("unable to open include_dir '{shown}': {e}")))?;
        let mut files: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| Some((entry.file_name().into_string().ok()?, entry.path())))
            .filter(|(name, _)| name.len() > ".conf".len() && name.ends_with(".conf"))
            .collect();
        files.sort_by_key(|(name, _)| include_order(name));
        for (_, path) in files {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| self.err(format!("cannot read included file '{shown}': {e}")))?;
            self.file(&text, &shown, false)?;
        }
        Ok(())
    }

    /// A key midge does not honour: its value is checked, then it warns once or is refused.
    fn not_implemented(&mut self, key: &str, known: &Key, rest: &str) -> Result<(), ConfigError> {
        match known.arg {
            Arg::Bool => drop(self.boolean(key, rest)?),
            Arg::Int => drop(self.int(key, rest)?),
            Arg::Text => drop(self.text(key, rest)?),
            Arg::Bridge if self.bridge_seen => return Ok(()), // its `connection` line warned
            Arg::Bridge => {
                return Err(self.err(format!(
                    "'{key}' is a bridge setting; it must follow a 'connection' line"
                )));
            }
        }
        match known.status {
            Status::Refused(why) => {
                // Refusals are collected, so that one run names every key to remove.
                let refusal = self.err(format!("'{key}' {why}"));
                self.refused.push(refusal);
            }
            Status::Warn(why) | Status::Later { warning: why, .. } => {
                if key == "connection" {
                    self.bridge_seen = true;
                    let name = self.one(key, rest)?;
                    self.warn(format!(
                        "bridge '{name}' does not run: bridges are not supported yet"
                    ));
                } else if known.quiet != words(rest).first().copied()
                    && self.warned.insert(known.name)
                {
                    self.warn(format!("'{key}' {why}"));
                }
            }
            Status::Implemented | Status::MidgeOnly => {}
        }
        // mosquitto counts these as security settings for the per_listener_settings order check.
        self.security_seen |= matches!(key, "plugin" | "auth_plugin" | "psk_file");
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut refused = std::mem::take(&mut self.refused).into_iter();
        if let Some(mut first) = refused.next() {
            // One line per refused key; the first one carries the others.
            for more in refused {
                first.message.push_str(&format!("\n{more}"));
            }
            return Err(first);
        }
        if let Some((place, key)) = self.default_made_by.take() {
            let default = std::mem::take(&mut self.default);
            self.check_duplicate(&default, place.clone())?;
            if !self.port_set && !self.bind_address_set {
                let anonymous = match self.config.listener_configured {
                    true => "",
                    false => " and, as in mosquitto 2.0, open to anonymous clients",
                };
                self.warn_at(place, format!("'{key}' before any 'listener' line opens mosquitto's default listener on port 1883, all interfaces{anonymous}"));
            }
            self.config.listeners.push(default);
        }
        for i in 0..self.config.listeners.len() {
            let listener = self.config.listeners[i].clone();
            self.check_tls(&listener)?;
        }
        if let Some(place) = self.anonymous_false_at.take()
            && !self.config.listener_configured
        {
            self.warn_at(place, "allow_anonymous false has no effect without a 'listener' line: mosquitto 2.0 then allows anonymous clients");
        }
        let global = std::mem::take(&mut self.global);
        let config = &mut self.config;
        config.allow_anonymous = global.allow_anonymous;
        config.allow_zero_length_clientid = global.allow_zero_length_clientid.unwrap_or(true);
        config.auto_id_prefix = global.auto_id_prefix.unwrap_or_else(|| "auto-".to_string());
        (config.password_file, config.acl_file) = (global.password_file, global.acl_file);
        config.log_types = self.log_types.unwrap_or(config.log_types);
        config.log_dest = self
            .log_dest
            .take()
            .unwrap_or_else(|| config.log_dest.clone());
        Ok((self.config, self.warnings))
    }
}
