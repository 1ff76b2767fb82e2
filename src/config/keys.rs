//! THE table of mosquitto 2.0's mosquitto.conf keys, each with what midge does with it.
//!
//! Every key of mosquitto.conf(5) and of mosquitto 2.0.11's `conf.c` is listed here, plus
//! midge's own. The parser dispatches on this table (`Parser::entry`), so a key is either
//! handled by a match arm in `Parser::implemented`, warned about, or refused, and never
//! silently dropped; unit tests check that every `Implemented` key has its arm and that the
//! README's table of config keys lists every key here with the same status.
//!
//! To implement a key: change its status to `Implemented`, add its arm to
//! `Parser::implemented`, and change its row in README.md.

/// What a key midge does not implement takes, so obviously broken values are still caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Arg {
    Bool,
    Int,
    Text,
    /// Bridge syntax varies per key; only its place after a `connection` line is checked.
    Bridge,
}

/// What midge does with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    /// Read and honoured with mosquitto's meaning.
    Implemented,
    /// midge's own key, unknown to mosquitto 2.0.
    MidgeOnly,
    /// Accepted (its value checked) with one warning line saying what midge does instead.
    Warn(&'static str),
    /// A start-up error naming the key: ignoring it would let someone in or expose something.
    Refused(&'static str),
    /// A feature planned in a later issue; until then it warns like `Warn`.
    Later { issue: u16, warning: &'static str },
}

impl Status {
    /// The word README's table of config keys uses for this status.
    #[cfg(test)]
    pub(super) fn label(self) -> String {
        match self {
            Status::Implemented => "yes".into(),
            Status::MidgeOnly => "midge only".into(),
            Status::Warn(_) => "warns".into(),
            Status::Refused(_) => "refused".into(),
            Status::Later { issue, .. } => format!("warns, issue {issue}"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Key {
    /// The key as written in mosquitto.conf; a trailing `*` matches any suffix (`auth_opt_*`).
    pub name: &'static str,
    pub arg: Arg,
    pub status: Status,
    /// A value with which midge already does what the line asks (`persistence false`), so
    /// it gets no warning.
    pub quiet: Option<&'static str>,
}

const fn key(name: &'static str, arg: Arg, status: Status) -> Key {
    Key {
        name,
        arg,
        status,
        quiet: None,
    }
}

impl Key {
    const fn quiet(self, value: &'static str) -> Key {
        Key {
            quiet: Some(value),
            ..self
        }
    }

    fn matches(&self, key: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => self.name == key,
        }
    }
}

/// The key's row in [`KEYS`], if mosquitto or midge knows it.
pub(super) fn find(key: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.matches(key))
}

use Arg::{Bool, Bridge, Int, Text};
use Status::{Implemented as Yes, MidgeOnly, Refused, Warn};

const fn later(issue: u16, warning: &'static str) -> Status {
    Status::Later { issue, warning }
}

// Each text follows the key's name: "Warning: FILE:LINE: 'KEY' TEXT".
const NO_SYS: &str = "is not supported yet: midge publishes no $SYS topics";
const NO_WEBSOCKETS: &str = "has no effect: WebSockets are not supported yet";
const BRIDGE: &str = "has no effect: bridges are not supported yet";
const PLUGIN: &str = "is not supported: midge loads no plugins, and without this one the \
                      clients it should check would get in unchecked";
const PLUGIN_OPTION: &str = "configures a plugin, and midge loads no plugins";
const PSK: &str = "is not supported: rustls, midge's TLS library, has no pre-shared keys \
                   (TLS-PSK), and ignoring it would leave a PSK listener in plain text, open \
                   to clients without a key";
const ENGINE: &str = "is not supported: rustls, midge's TLS library, has no OpenSSL engines \
                      (keys held in hardware), so the listener would have no key; give the \
                      key as a PEM file (keyfile)";
const CIPHERS: &str = "is not supported: midge offers rustls's cipher suites (all with \
                       forward secrecy); ignored";

/// Every key of mosquitto 2.0, and midge's own, in the order of mosquitto.conf(5)'s sections.
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    // General options.
    key("acl_file", Text, Yes),
    key("allow_anonymous", Bool, Yes),
    key("allow_duplicate_messages", Bool, Yes),
    key("allow_zero_length_clientid", Bool, Yes),
    key("auth_opt_*", Text, Refused(PLUGIN_OPTION)),
    key("auth_plugin", Text, Refused(PLUGIN)),
    key("auth_plugin_deny_special_chars", Bool, Refused(PLUGIN_OPTION)),
    key("auto_id_prefix", Text, Yes),
    key("autosave_interval", Int, Yes),
    key("autosave_on_changes", Bool, Yes),
    key("check_retain_source", Bool, Yes),
    key("clientid_prefixes", Text, Yes),
    key("connection_messages", Bool, Yes),
    key("include_dir", Text, Yes),
    key("log_dest", Text, Yes),
    key("log_facility", Int, Yes),
    key("log_timestamp", Bool, Yes),
    key("log_timestamp_format", Text, Yes),
    key("log_type", Text, Yes),
    key("max_inflight_bytes", Int, Yes),
    key("max_inflight_messages", Int, Yes),
    key("max_keepalive", Int, Yes),
    key("max_packet_size", Int, Yes),
    key("max_queued_bytes", Int, Yes),
    key("max_queued_messages", Int, Yes),
    key("memory_limit", Int, Yes),
    key("message_size_limit", Int, Yes),
    key("password_file", Text, Yes),
    key("per_listener_settings", Bool, Yes),
    key("persistence", Bool, Yes),
    key("persistence_file", Text, Yes),
    key("persistence_location", Text, Yes),
    key("persistent_client_expiration", Text, Yes),
    key("pid_file", Text, Yes),
    key("plugin", Text, Refused(PLUGIN)),
    key("plugin_opt_*", Text, Refused(PLUGIN_OPTION)),
    key("psk_file", Text, Refused(PSK)),
    key("queue_qos0_messages", Bool, Yes),
    key("retain_available", Bool, Yes),
    key("retained_persistence", Bool, Yes),
    key("retry_interval", Int, Warn("was removed in mosquitto 2.0; ignored, as mosquitto does")),
    key("set_tcp_nodelay", Bool, Yes),
    key("sys_interval", Int, later(13, NO_SYS)).quiet("0"),
    key("upgrade_outgoing_qos", Bool, Yes),
    key("user", Text, Yes),
    // Listeners.
    key("bind_address", Text, Yes),
    key("bind_interface", Text, Yes),
    key("http_dir", Text, later(15, NO_WEBSOCKETS)),
    key("listener", Text, Yes),
    key("max_connections", Int, Yes),
    key("max_qos", Int, Yes),
    key("maximum_qos", Int, Yes),
    key("max_topic_alias", Int, Yes),
    key("mount_point", Text, Yes),
    key("port", Int, Yes),
    key("protocol", Text, Yes),
    key("socket_domain", Text, Yes),
    key("use_username_as_clientid", Bool, Yes),
    key("websockets_headers_size", Int, later(15, NO_WEBSOCKETS)).quiet("4096"),
    key("websockets_log_level", Int, later(15, NO_WEBSOCKETS)).quiet("0"),
    // TLS, with certificates or pre-shared keys.
    key("cafile", Text, Yes),
    key("capath", Text, Yes),
    key("certfile", Text, Yes),
    key("ciphers", Text, Warn(CIPHERS)),
    key("ciphers_tls1.3", Text, Warn(CIPHERS)),
    key("crlfile", Text, Yes),
    key("dhparamfile", Text, Warn(CIPHERS)),
    key("keyfile", Text, Yes),
    key("psk_hint", Text, Refused(PSK)),
    key("require_certificate", Bool, Yes),
    key("tls_engine", Text, Refused(ENGINE)),
    key("tls_engine_kpass_sha1", Text, Refused(ENGINE)),
    key("tls_keyform", Text, Yes),
    key("tls_version", Text, Yes),
    key("use_identity_as_username", Bool, Yes),
    key("use_subject_as_username", Bool, Yes),
    // Bridges: `connection` starts one, the others configure it.
    key("connection", Text, later(14, BRIDGE)),
    key("address", Bridge, later(14, BRIDGE)),
    key("addresses", Bridge, later(14, BRIDGE)),
    key("bridge_alpn", Bridge, later(14, BRIDGE)),
    key("bridge_attempt_unsubscribe", Bridge, later(14, BRIDGE)),
    key("bridge_bind_address", Bridge, later(14, BRIDGE)),
    key("bridge_cafile", Bridge, later(14, BRIDGE)),
    key("bridge_capath", Bridge, later(14, BRIDGE)),
    key("bridge_certfile", Bridge, later(14, BRIDGE)),
    key("bridge_identity", Bridge, later(14, BRIDGE)),
    key("bridge_insecure", Bridge, later(14, BRIDGE)),
    key("bridge_keyfile", Bridge, later(14, BRIDGE)),
    key("bridge_max_packet_size", Bridge, later(14, BRIDGE)),
    key("bridge_outgoing_retain", Bridge, later(14, BRIDGE)),
    key("bridge_protocol_version", Bridge, later(14, BRIDGE)),
    key("bridge_psk", Bridge, later(14, BRIDGE)),
    key("bridge_require_ocsp", Bridge, later(14, BRIDGE)),
    key("bridge_tls_version", Bridge, later(14, BRIDGE)),
    key("cleansession", Bridge, later(14, BRIDGE)),
    key("clientid", Bridge, later(14, BRIDGE)),
    key("idle_timeout", Bridge, later(14, BRIDGE)),
    key("keepalive_interval", Bridge, later(14, BRIDGE)),
    key("local_cleansession", Bridge, later(14, BRIDGE)),
    key("local_clientid", Bridge, later(14, BRIDGE)),
    key("local_password", Bridge, later(14, BRIDGE)),
    key("local_username", Bridge, later(14, BRIDGE)),
    key("notification_topic", Bridge, later(14, BRIDGE)),
    key("notifications", Bridge, later(14, BRIDGE)),
    key("notifications_local_only", Bridge, later(14, BRIDGE)),
    key("password", Bridge, later(14, BRIDGE)),
    key("remote_clientid", Bridge, later(14, BRIDGE)),
    key("remote_password", Bridge, later(14, BRIDGE)),
    key("remote_username", Bridge, later(14, BRIDGE)),
    key("restart_timeout", Bridge, later(14, BRIDGE)),
    key("round_robin", Bridge, later(14, BRIDGE)),
    key("start_type", Bridge, later(14, BRIDGE)),
    key("threshold", Bridge, later(14, BRIDGE)),
    key("topic", Bridge, later(14, BRIDGE)),
    key("try_private", Bridge, later(14, BRIDGE)),
    key("username", Bridge, later(14, BRIDGE)),
    // midge's own.
    key("connect_timeout", Int, MidgeOnly),
    key("disconnect_on_full_queue", Bool, MidgeOnly),
    key("global_max_connections", Int, MidgeOnly),
    key("max_client_id_length", Int, MidgeOnly),
    key("max_connection_rate", Int, MidgeOnly),
    key("max_filters_per_subscribe", Int, MidgeOnly),
    key("max_persistent_sessions", Int, MidgeOnly),
    key("max_retained_bytes", Int, MidgeOnly),
    key("max_retained_messages", Int, MidgeOnly),
    key("max_subscriptions_per_client", Int, MidgeOnly),
    key("max_topic_length", Int, MidgeOnly),
    key("max_topic_levels", Int, MidgeOnly),
    key("persistence_sync", Text, MidgeOnly),
];

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
