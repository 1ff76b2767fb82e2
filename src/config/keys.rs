//! The keys of mosquitto 2.0's mosquitto.conf that midge knows but does not implement yet.

/// What a key midge does not implement yet takes, so obviously broken values are still caught.
#[derive(Clone, Copy)]
pub(super) enum Arg {
    Bool,
    Int,
    Text,
    /// Bridge syntax varies per key; only its place after a `connection` line is checked.
    Bridge,
}

/// Keys mosquitto 2.0 knows that midge accepts and ignores with a warning, grouped by feature.
/// Supporting one means deleting its name here and adding a match arm in `Parser::entry`.
#[rustfmt::skip]
pub(super) const UNSUPPORTED: &[(&str, Arg, &str)] = &[
    ("persistence", Arg::Bool, "persistence autosave_on_changes"),
    ("persistence", Arg::Text, "persistence_file persistence_location"),
    ("persistence", Arg::Int, "autosave_interval"),
    ("TLS-PSK", Arg::Text, "psk_hint psk_file"),
    ("TLS engines", Arg::Text, "tls_engine tls_engine_kpass_sha1"),
    ("TLS subject as user name", Arg::Bool, "use_subject_as_username"),
    ("plugins", Arg::Text, "plugin auth_plugin"),
    ("plugins", Arg::Bool, "auth_plugin_deny_special_chars"),
    ("websockets", Arg::Text, "http_dir"),
    ("websockets", Arg::Int, "websockets_log_level websockets_headers_size"),
    ("syslog", Arg::Int, "log_facility"),
    ("$SYS topics", Arg::Int, "sys_interval"),
    ("listener options", Arg::Text, "bind_interface"),
    ("listener options", Arg::Bool, "use_username_as_clientid"),
    ("no longer in mosquitto", Arg::Int, "retry_interval"),
    ("other", Arg::Text, "user log_timestamp_format"),
    ("other", Arg::Bool, "upgrade_outgoing_qos set_tcp_nodelay"),
    ("other", Arg::Bool, "allow_duplicate_messages"),
    ("bridges", Arg::Bridge, "address addresses cleansession clientid remote_clientid idle_timeout"),
    ("bridges", Arg::Bridge, "keepalive_interval local_cleansession local_clientid local_password"),
    ("bridges", Arg::Bridge, "local_username notifications notifications_local_only"),
    ("bridges", Arg::Bridge, "notification_topic password remote_password username remote_username"),
    ("bridges", Arg::Bridge, "restart_timeout round_robin start_type threshold topic try_private"),
    ("bridges", Arg::Bridge, "bridge_attempt_unsubscribe bridge_bind_address bridge_alpn"),
    ("bridges", Arg::Bridge, "bridge_cafile bridge_capath bridge_certfile bridge_identity"),
    ("bridges", Arg::Bridge, "bridge_insecure bridge_keyfile bridge_max_packet_size"),
    ("bridges", Arg::Bridge, "bridge_outgoing_retain bridge_protocol_version bridge_psk"),
    ("bridges", Arg::Bridge, "bridge_require_ocsp bridge_tls_version"),
];
