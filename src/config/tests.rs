//! Each expectation about mosquitto was checked against mosquitto 2.0.11 itself.

use super::*;

fn parse(text: &str) -> (Config, Vec<ConfigWarning>) {
    match Config::parse(text, "test.conf") {
        Ok(parsed) => parsed,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn config(text: &str) -> Config {
    parse(text).0
}

fn error(text: &str) -> ConfigError {
    match Config::parse(text, "test.conf") {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e,
    }
}

/// Asserts that the error is on `line` and its message contains `needle`.
fn assert_error(text: &str, line: usize, needle: &str) {
    let e = error(text);
    assert_eq!((e.origin.as_str(), e.line), ("test.conf", line), "{e}");
    assert!(
        e.message.contains(needle),
        "{e:?} should mention {needle:?}"
    );
}

fn listener(port: u16, address: Option<&str>) -> ListenerConfig {
    ListenerConfig {
        port,
        bind_address: address.map(str::to_string),
        ..ListenerConfig::default()
    }
}

#[test]
fn defaults_are_mosquitto_2_0_defaults() {
    let c = Config::default();
    assert!(c.listeners.is_empty() && !c.listener_configured && c.cli_ports.is_empty());
    assert_eq!(c.allow_anonymous, None);
    assert_eq!(c.password_file, None);
    assert_eq!(c.acl_file, None);
    assert!(!c.per_listener_settings);
    assert_eq!(c.max_connections, None);
    assert_eq!(c.max_packet_size, None);
    assert_eq!(c.message_size_limit, None);
    assert_eq!((c.max_topic_length, c.max_topic_levels), (4096, 201));
    assert_eq!(c.max_client_id_length, 1024);
    assert_eq!(c.max_inflight_messages, Some(20));
    assert_eq!(c.max_inflight_bytes, None);
    assert_eq!(c.max_queued_messages, Some(1000));
    assert_eq!(c.max_queued_bytes, None);
    assert!(!c.queue_qos0_messages && c.retain_available);
    assert_eq!(c.persistent_client_expiration, None);
    assert_eq!(c.max_keepalive, 65535);
    assert!(c.allow_zero_length_clientid);
    assert_eq!(c.auto_id_prefix, "auto-");
    assert_eq!(c.log_types, LogTypes::DEFAULT);
    assert_eq!(c.log_dest, vec![LogDest::Stderr]);
    assert!(c.log_timestamp && c.connection_messages);
    assert_eq!(c.pid_file, None);
    assert_eq!(c.connect_timeout, Duration::from_secs(10));
}

#[test]
fn empty_file_gives_defaults_without_warnings() {
    assert_eq!(parse(""), (Config::default(), vec![]));
}

#[test]
fn comments_blank_lines_and_surrounding_whitespace_are_ignored() {
    let (c, warnings) =
        parse("# a comment\n\n   \n  # indented comment\r\n\tmax_keepalive 60  \r\n");
    assert_eq!(c.max_keepalive, 60);
    assert!(warnings.is_empty());
}

#[test]
fn trailing_comment_after_a_word_value_is_ignored() {
    let c = config("listener 1884 # plain MQTT\nmax_queued_messages 10 # per client\n");
    assert_eq!(c.listeners, vec![listener(1884, None)]);
    assert_eq!(c.max_queued_messages, Some(10));
}

#[test]
fn global_numeric_keys_parse() {
    let c = config(
        "global_max_connections 500\nmax_packet_size 1000\nmessage_size_limit 2000\n\
         max_inflight_messages 5\nmax_inflight_bytes 3000\nmax_queued_messages 50\n\
         max_queued_bytes 4000\nmax_keepalive 120\nconnect_timeout 3\n",
    );
    assert_eq!(c.max_connections, Some(500));
    assert_eq!(
        (c.max_packet_size, c.message_size_limit),
        (Some(1000), Some(2000))
    );
    assert_eq!(
        (c.max_inflight_messages, c.max_inflight_bytes),
        (Some(5), Some(3000))
    );
    assert_eq!(
        (c.max_queued_messages, c.max_queued_bytes),
        (Some(50), Some(4000))
    );
    assert_eq!(c.max_keepalive, 120);
    assert_eq!(c.connect_timeout, Duration::from_secs(3));
}

#[test]
fn zero_and_negative_limits_mean_unlimited() {
    let c = config(
        "global_max_connections -1\nmax_packet_size 0\nmessage_size_limit 0\n\
         max_inflight_messages 0\nmax_inflight_bytes -5\nmax_queued_messages 0\nmax_queued_bytes 0\n",
    );
    assert_eq!(
        (c.max_connections, c.max_packet_size, c.message_size_limit),
        (None, Some(0), None)
    );
    assert_eq!(
        (c.max_inflight_messages, c.max_inflight_bytes),
        (None, None)
    );
    // max_queued_bytes 0 is an explicit "unlimited", which differs from unset.
    assert_eq!((c.max_queued_messages, c.max_queued_bytes), (None, Some(0)));
    assert_eq!(
        config("max_inflight_messages 65535").max_inflight_messages,
        None
    );
    assert_eq!(
        config("max_inflight_messages -1").max_inflight_messages,
        None
    );
}

#[test]
fn boolean_keys_parse_true_false_and_mosquittos_1_0() {
    let c = config(
        "queue_qos0_messages true\nretain_available false\nallow_zero_length_clientid 0\n\
         log_timestamp false\nconnection_messages 0\nallow_anonymous 1\n",
    );
    assert!(c.queue_qos0_messages && !c.retain_available && !c.allow_zero_length_clientid);
    assert!(!c.log_timestamp && !c.connection_messages);
    assert_eq!(c.allow_anonymous, Some(true));
}

#[test]
fn string_keys_take_the_rest_of_the_line() {
    let c = config(
        "password_file /etc/mosquitto/pass words\nacl_file acl\npid_file /run/m.pid\nauto_id_prefix gen-\n",
    );
    assert_eq!(
        c.password_file,
        Some(PathBuf::from("/etc/mosquitto/pass words"))
    );
    assert_eq!(c.acl_file, Some(PathBuf::from("acl")));
    assert_eq!(c.pid_file, Some(PathBuf::from("/run/m.pid")));
    assert_eq!(c.auto_id_prefix, "gen-");
}

#[test]
fn persistent_client_expiration_takes_mosquittos_units() {
    let expiry =
        |v: &str| config(&format!("persistent_client_expiration {v}")).persistent_client_expiration;
    let day = 86400;
    assert_eq!(expiry("2h"), Some(Duration::from_secs(2 * 3600)));
    assert_eq!(expiry("2d"), Some(Duration::from_secs(2 * day)));
    assert_eq!(expiry("1w"), Some(Duration::from_secs(7 * day)));
    assert_eq!(expiry("3m"), Some(Duration::from_secs(90 * day)));
    assert_eq!(expiry("1y"), Some(Duration::from_secs(365 * day)));
    for bad in [
        "0h",
        "5",
        "5s",
        "h",
        "1.5h",
        "-1d",
        "5é",
        "99999999999999999y",
    ] {
        assert_error(
            &format!("persistent_client_expiration {bad}"),
            1,
            "persistent_client_expiration",
        );
    }
}

#[test]
fn log_type_lines_accumulate_from_nothing() {
    let c = config("log_type error\nlog_type debug\n");
    assert_eq!(c.log_types, LogTypes::ERROR | LogTypes::DEBUG);
    assert_eq!(config("log_type all").log_types, LogTypes::ALL);
}

#[test]
fn log_type_none_starts_over() {
    let c = config("log_type debug\nlog_type none\nlog_type warning\n");
    assert_eq!(c.log_types, LogTypes::WARNING);
}

#[test]
fn log_dest_first_line_replaces_the_default_and_later_ones_add() {
    let c = config("log_dest stdout\nlog_dest file /var/log/midge file.log\n");
    let file = LogDest::File(PathBuf::from("/var/log/midge file.log"));
    assert_eq!(c.log_dest, vec![LogDest::Stdout, file]);
}

#[test]
fn log_dest_none_empties_the_list() {
    assert!(config("log_dest none").log_dest.is_empty());
    assert_eq!(
        config("log_dest none\nlog_dest stderr").log_dest,
        vec![LogDest::Stderr]
    );
}

#[test]
fn log_dest_takes_syslog_and_topic_and_warns_about_dlt() {
    let (c, warnings) = parse("log_dest syslog\nlog_dest topic\nlog_dest dlt\nlog_facility 5\n");
    assert_eq!(c.log_dest, [LogDest::Syslog, LogDest::Topic]);
    assert_eq!(c.log_facility, libc::LOG_LOCAL5);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("'log_dest dlt' is not supported")
    );
    assert_eq!(config("").log_facility, libc::LOG_DAEMON);
    assert_error("log_facility 8\n", 1, "must be 0 to 7");
}

#[test]
fn log_timestamp_format_and_user_take_the_rest_of_the_line() {
    let c = config("log_timestamp_format %Y-%m-%d %H:%M:%S\nuser nobody\n");
    assert_eq!(c.log_timestamp_format.as_deref(), Some("%Y-%m-%d %H:%M:%S"));
    assert_eq!(
        (c.user.as_str(), config("").user.as_str()),
        ("nobody", "mosquitto")
    );
    assert!(!config("set_tcp_nodelay false\n").set_tcp_nodelay);
    assert!(config("").set_tcp_nodelay, "midge's default");
    let c = config("listener 1883\nbind_interface lo\nlistener 1884\n");
    assert_eq!(c.listeners[0].bind_interface.as_deref(), Some("lo"));
    assert_eq!(c.listeners[1].bind_interface, None);
}

#[test]
fn second_log_dest_file_is_an_error() {
    assert_error(
        "log_dest file a.log\nlog_dest none\nlog_dest file b.log\n",
        3,
        "duplicate",
    );
}

#[test]
fn listener_lines_make_listeners_in_file_order() {
    let c = config("listener 1883\nlistener 8883 127.0.0.1\nlistener 9001 ::1\n");
    let expected = [
        listener(1883, None),
        listener(8883, Some("127.0.0.1")),
        listener(9001, Some("::1")),
    ];
    assert_eq!(c.listeners, expected);
    assert!(c.listener_configured);
}

#[test]
fn listener_scoped_settings_apply_to_the_latest_listener() {
    let c = config(
        "listener 1883\nmax_connections 10\nlistener 9001\nprotocol mqtt\n\
         socket_domain ipv6\nmax_connections -1\n",
    );
    assert_eq!(
        c.listeners[0],
        ListenerConfig {
            max_connections: Some(10),
            ..listener(1883, None)
        }
    );
    let ws = &c.listeners[1];
    assert_eq!(
        (ws.protocol, ws.socket_domain),
        (ListenerProtocol::Mqtt, Some(SocketDomain::Ipv6))
    );
    assert_eq!(ws.max_connections, None);
    assert_eq!(
        c.max_connections, None,
        "per-listener max_connections is not the global cap"
    );
}

#[test]
fn listener_port_zero_lets_the_os_pick() {
    let c = config("listener 0\nlistener 0 127.0.0.1\n");
    assert_eq!(
        c.listeners,
        vec![listener(0, None), listener(0, Some("127.0.0.1"))]
    );
}

#[test]
fn listener_zero_with_a_path_is_an_unsupported_unix_socket() {
    assert_error("listener 0 /run/mosquitto.sock\n", 1, "unix socket");
}

#[test]
fn duplicate_listener_is_an_error_naming_the_first() {
    assert_error(
        "listener 1883\n\nlistener 1883\n",
        3,
        "already defined at test.conf:1",
    );
    assert_error(
        "listener 1883 ::1\nlistener 1883 ::1\n",
        2,
        "port 1883 on ::1",
    );
}

#[test]
fn same_port_on_different_addresses_is_allowed() {
    assert_eq!(
        config("listener 1883 127.0.0.1\nlistener 1883 ::1\n")
            .listeners
            .len(),
        2
    );
}

#[test]
fn port_and_bind_address_make_the_default_listener_after_explicit_ones() {
    let (c, warnings) = parse("port 1884\nbind_address 127.0.0.1\nlistener 8883\n");
    assert_eq!(
        c.listeners,
        vec![listener(8883, None), listener(1884, Some("127.0.0.1"))]
    );
    assert!(c.listener_configured);
    assert!(
        warnings.iter().all(|w| w.message.contains("deprecated")),
        "{warnings:?}"
    );
}

#[test]
fn bind_address_alone_listens_on_1883() {
    assert_eq!(
        config("bind_address localhost").listeners,
        vec![listener(1883, Some("localhost"))]
    );
}

#[test]
fn repeated_port_warns_and_the_last_one_wins() {
    let (c, warnings) = parse("port 1884\nport 1885\n");
    assert_eq!(c.listeners, vec![listener(1885, None)]);
    assert!(
        warnings
            .iter()
            .any(|w| w.line == 2 && w.message.contains("more than once"))
    );
}

#[test]
fn port_clashing_with_a_listener_is_a_duplicate() {
    assert_error(
        "port 1883\nlistener 1883\n",
        1,
        "already defined at test.conf:2",
    );
}

#[test]
fn max_connections_before_any_listener_opens_the_default_listener_with_a_warning() {
    let (c, warnings) = parse("max_connections 10\nlistener 8883\n");
    let default = ListenerConfig {
        max_connections: Some(10),
        ..listener(1883, None)
    };
    assert_eq!(c.listeners, vec![listener(8883, None), default]);
    assert_eq!((warnings[0].line, warnings.len()), (1, 1));
    assert!(
        warnings[0]
            .message
            .contains("default listener on port 1883")
    );
    assert!(
        config("max_connections -1").listeners.is_empty(),
        "-1 is mosquitto's unset"
    );
}

#[test]
fn mount_point_before_any_listener_is_an_error() {
    assert_error("port 1884\nmount_point a/\n", 2, "must follow a 'listener'");
}

#[test]
fn mount_point_with_a_wildcard_is_an_error() {
    assert_error("listener 1883\nmount_point a/#\n", 2, "wildcards");
}

#[test]
fn cli_ports_without_listeners_give_local_only_listeners_on_those_ports() {
    let mut c = Config::default();
    c.add_cli_port(18830);
    c.add_cli_port(18831);
    assert!(c.is_local_only());
    let open: Vec<_> = c
        .effective_listeners()
        .into_iter()
        .map(|l| (l.port, l.bind_address))
        .collect();
    let local = |p, a: &str| (p, Some(a.to_string()));
    assert_eq!(
        open,
        [
            local(18830, "127.0.0.1"),
            local(18830, "::1"),
            local(18831, "127.0.0.1"),
            local(18831, "::1")
        ]
    );
}

#[test]
fn without_cli_ports_local_only_mode_listens_on_1883() {
    let ports: Vec<_> = Config::default()
        .effective_listeners()
        .iter()
        .map(|l| l.port)
        .collect();
    assert_eq!(ports, [1883, 1883]);
}

#[test]
fn cli_ports_are_ignored_when_the_file_defines_listeners() {
    let mut c = config("listener 1884");
    c.add_cli_port(18830);
    assert_eq!(c.effective_listeners(), vec![listener(1884, None)]);
}

#[test]
fn cli_ports_are_used_when_the_file_has_no_listener() {
    let mut c = config("allow_anonymous true");
    c.add_cli_port(18830);
    assert!(c.effective_listeners().iter().all(|l| l.port == 18830));
}

#[test]
fn anonymous_allowed_without_any_listener() {
    assert!(Config::default().anonymous_allowed());
    assert!(config("password_file /p").anonymous_allowed());
}

#[test]
fn anonymous_refused_by_default_once_a_listener_is_configured() {
    assert!(!config("listener 1883").anonymous_allowed());
    assert!(!config("port 1884").anonymous_allowed());
    assert!(!config("bind_address 127.0.0.1").anonymous_allowed());
}

#[test]
fn allow_anonymous_true_allows_anonymous_on_listeners() {
    assert!(config("listener 1883\nallow_anonymous true").anonymous_allowed());
    assert!(!config("listener 1883\nallow_anonymous false").anonymous_allowed());
}

#[test]
fn allow_anonymous_false_without_listener_is_overridden_with_a_warning() {
    let (c, warnings) = parse("allow_anonymous false\n");
    assert!(c.anonymous_allowed());
    assert!(
        warnings
            .iter()
            .any(|w| w.line == 1 && w.message.contains("no effect"))
    );
}

#[test]
fn default_listener_made_by_max_connections_alone_stays_anonymous_as_in_mosquitto() {
    let (c, warnings) = parse("max_connections 10\n");
    assert_eq!(c.listeners.len(), 1);
    assert!(c.anonymous_allowed());
    assert!(warnings[0].message.contains("anonymous"));
}

#[test]
fn per_listener_settings_put_security_on_each_listener() {
    let c = config(
        "per_listener_settings true\nlistener 1883\nallow_anonymous true\n\
         listener 1884\npassword_file /p\nacl_file /a\nauto_id_prefix x-\nallow_zero_length_clientid false\n",
    );
    assert_eq!(c.listeners[0].security.allow_anonymous, Some(true));
    let expected = ListenerSecurity {
        allow_anonymous: None,
        password_file: Some(PathBuf::from("/p")),
        acl_file: Some(PathBuf::from("/a")),
        allow_zero_length_clientid: Some(false),
        auto_id_prefix: Some("x-".to_string()),
    };
    assert_eq!(c.listeners[1].security, expected);
    assert_eq!((c.allow_anonymous, c.password_file.clone()), (None, None));
    assert!(c.anonymous_allowed_on(&c.listeners[0]));
    assert!(!c.anonymous_allowed_on(&c.listeners[1]));
}

#[test]
fn per_listener_settings_after_a_security_setting_is_an_error() {
    assert_error(
        "allow_anonymous true\nper_listener_settings true\n",
        2,
        "before any security",
    );
}

#[test]
fn per_listener_password_file_before_any_listener_opens_the_default_listener() {
    let c = config("per_listener_settings true\npassword_file /p\nlistener 8883\n");
    assert_eq!(c.listeners[1].port, 1883);
    assert_eq!(
        c.listeners[1].security.password_file,
        Some(PathBuf::from("/p"))
    );
}

#[test]
fn unknown_key_warns_with_its_line_and_parsing_continues() {
    let (c, warnings) = parse("\nfoo bar\nmax_keepalive 30\n");
    let expected = ConfigWarning {
        origin: "test.conf".to_string(),
        line: 2,
        message: "unknown configuration key 'foo'".to_string(),
    };
    assert_eq!(warnings, vec![expected]);
    assert_eq!(c.max_keepalive, 30);
}

#[test]
fn unsupported_key_warns_once_and_is_ignored() {
    let (c, warnings) = parse("listener 1883\nsys_interval 5\nlistener 1884\nsys_interval 6\n");
    assert_eq!(c, config("listener 1883\nlistener 1884\n"));
    let lines: Vec<_> = warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [2]);
    assert!(
        warnings[0]
            .message
            .starts_with("'sys_interval' is not supported yet: midge publishes no $SYS topics")
    );
}

#[test]
fn keys_whose_loss_would_expose_something_are_errors() {
    // rustls has neither TLS-PSK nor OpenSSL engines.
    for key in ["psk_hint hint", "psk_file /etc/psk"] {
        let name = key.split(' ').next().unwrap_or_default();
        assert_error(
            &format!("listener 8883\n{key}\n"),
            2,
            &format!("'{name}' is not supported: rustls, midge's TLS library, has no pre-shared"),
        );
    }
    assert_error(
        "listener 8883\ntls_engine pkcs11\n",
        2,
        "'tls_engine' is not supported: rustls, midge's TLS library, has no OpenSSL engines",
    );
    assert_error("plugin /p.so\n", 1, "midge loads no plugins");
    assert_error(
        "listener 9001\nprotocol websockets\n",
        2,
        "midge would serve plain MQTT on this port",
    );
}

#[test]
fn unsupported_key_with_a_broken_value_is_an_error() {
    assert_error("persistence maybe\n", 1, "expected true or false");
    assert_error("sys_interval often\n", 1, "not a whole number");
    assert_error("persistence_location\n", 1, "missing value");
}

#[test]
fn each_bridge_warns_once_that_it_does_not_run() {
    let text =
        "connection upstream\naddress 10.0.0.1:1883\ntopic # both 0\nconnection other\naddress b\n";
    let (c, warnings) = parse(text);
    let lines: Vec<_> = warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [1, 4]);
    assert_eq!(
        warnings[0].message,
        "bridge 'upstream' does not run: bridges are not supported yet"
    );
    assert_eq!(c, Config::default());
}

#[test]
fn bridge_setting_without_connection_is_an_error() {
    assert_error("topic a/# both\n", 1, "must follow a 'connection'");
}

#[test]
fn plugin_options_are_errors() {
    assert_error("plugin_opt_db x\n", 1, "configures a plugin");
    assert_error(
        "auth_plugin_deny_special_chars true\n",
        1,
        "configures a plugin",
    );
}

#[test]
fn non_numbers_are_errors_with_their_line() {
    assert_error("\nmax_keepalive ten\n", 2, "not a whole number");
    assert_error("max_connections abc\n", 1, "not a whole number");
    assert_error("listener 1883x\n", 1, "listener port");
}

#[test]
fn out_of_range_values_are_errors() {
    assert_error("max_keepalive 0\n", 1, "must be 1 to 65535");
    assert_error("max_keepalive 65536\n", 1, "must be 1 to 65535");
    assert_error("port 0\n", 1, "must be 1 to 65535");
    assert_error("listener 65536\n", 1, "must be 0 to 65535");
    assert_error("max_packet_size 19\n", 1, "at least 20");
    assert_error("max_topic_levels 202\n", 1, "1 to 201");
    assert_error("max_client_id_length 0\n", 1, "1 to 65535");
    assert_error(
        "message_size_limit 268435456\n",
        1,
        "must be 0 to 268435455",
    );
    assert_error("max_inflight_messages 65536\n", 1, "at most 65535");
    assert_error("connect_timeout 0\n", 1, "connect_timeout");
}

#[test]
fn bad_booleans_are_errors() {
    assert_error("retain_available yes\n", 1, "expected true or false");
    assert_error("allow_anonymous True\n", 1, "expected true or false");
}

#[test]
fn missing_values_are_errors() {
    assert_error(
        "max_queued_messages\n",
        1,
        "missing value for 'max_queued_messages'",
    );
    assert_error("listener\n", 1, "missing port");
    assert_error("password_file   \n", 1, "missing value");
    assert_error("log_dest file\n", 1, "missing value");
}

#[test]
fn extra_values_are_errors() {
    assert_error("max_keepalive 60 70\n", 1, "unexpected extra value '70'");
    assert_error(
        "listener 1883 ::1 extra\n",
        1,
        "unexpected extra value 'extra'",
    );
    assert_error("log_type debug error\n", 1, "unexpected extra value");
}

#[test]
fn bad_enumerated_values_are_errors() {
    assert_error("log_type loud\n", 1, "invalid log_type value 'loud'");
    assert_error("log_dest printer\n", 1, "invalid log_dest value");
    assert_error("listener 1\nsocket_domain ipv5\n", 2, "ipv4 or ipv6");
    assert_error("listener 1\nprotocol mqttsn\n", 2, "mqtt or websockets");
}

#[test]
fn repeated_single_valued_strings_are_errors() {
    assert_error(
        "password_file a\npassword_file b\n",
        2,
        "duplicate password_file",
    );
    assert_error("acl_file a\nacl_file b\n", 2, "duplicate acl_file");
    assert_error(
        "auto_id_prefix a\nauto_id_prefix b\n",
        2,
        "duplicate auto_id_prefix",
    );
    assert_error("pid_file a\npid_file b\n", 2, "duplicate pid_file");
}

#[test]
fn include_dir_loads_conf_files_in_mosquitto_order() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    for (name, port) in [
        ("b.conf", 6),
        ("B.conf", 5),
        ("A.conf", 3),
        ("01.conf", 2),
        ("a.conf", 4),
        ("00.conf", 1),
    ] {
        std::fs::write(dir.path().join(name), format!("listener {port}\n"))?;
    }
    std::fs::write(dir.path().join("notes.txt"), "garbage\n")?;
    std::fs::write(
        dir.path().join("nested.conf"),
        format!("include_dir {}\n", dir.path().display()),
    )?;
    let c = config(&format!("include_dir {}\n", dir.path().display()));
    let ports: Vec<_> = c.listeners.iter().map(|l| l.port).collect();
    assert_eq!(
        ports,
        [1, 2, 3, 4, 5, 6],
        "nested include_dir is ignored as in mosquitto"
    );
    Ok(())
}

#[test]
fn include_dir_errors_name_the_included_file() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("x.conf");
    std::fs::write(&file, "\nmax_keepalive soon\n")?;
    let e = error(&format!("include_dir {}\n", dir.path().display()));
    assert_eq!((e.origin, e.line), (file.display().to_string(), 2));
    Ok(())
}

#[test]
fn missing_include_dir_is_an_error() {
    assert_error(
        "include_dir /nonexistent/midge\n",
        1,
        "unable to open include_dir",
    );
}

#[test]
fn from_file_reads_a_file_and_reports_unreadable_ones_at_line_0() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.conf");
    std::fs::write(&path, "listener 1885\n")?;
    let (c, _) = Config::from_file(&path).map_err(std::io::Error::other)?;
    assert_eq!(c.listeners, vec![listener(1885, None)]);
    let e = Config::from_file(&dir.path().join("missing.conf")).err();
    assert_eq!(e.map(|e| e.line), Some(0));
    Ok(())
}

#[test]
fn messages_display_in_the_documented_format() {
    let place = |line| ("m.conf".to_string(), line);
    let (origin, line) = place(3);
    let w = ConfigWarning {
        origin,
        line,
        message: "w".to_string(),
    };
    assert_eq!(w.to_string(), "Warning: m.conf:3: w");
    let (origin, line) = place(4);
    assert_eq!(
        ConfigError {
            origin,
            line,
            message: "e".to_string()
        }
        .to_string(),
        "Error: m.conf:4: e"
    );
    let (origin, line) = place(0);
    assert_eq!(
        ConfigError {
            origin,
            line,
            message: "gone".to_string()
        }
        .to_string(),
        "Error: m.conf: gone"
    );
}

#[test]
fn debian_default_config_loads_without_a_warning() {
    let text = "pid_file /run/mosquitto/mosquitto.pid\npersistence true\n\
                persistence_location /var/lib/mosquitto/\nlog_dest file /var/log/mosquitto/mosquitto.log\n";
    let (c, warnings) = parse(text);
    assert_eq!(
        c.log_dest,
        vec![LogDest::File(PathBuf::from(
            "/var/log/mosquitto/mosquitto.log"
        ))]
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(c.persistence && c.is_local_only());
}

#[test]
fn max_qos_applies_to_its_listener_and_is_bounded() {
    let (c, _) = parse("listener 1883\nmax_qos 1\nlistener 1884\n");
    assert_eq!(c.listeners[0].max_qos, 1);
    assert_eq!(c.listeners[1].max_qos, 2);
    assert_error("listener 1883\nmax_qos 3\n", 2, "");
    // mosquitto 2.0 reads maximum_qos as the same key.
    let (c, warnings) = parse("listener 1883\nmaximum_qos 0\n");
    assert_eq!((c.listeners[0].max_qos, warnings.len()), (0, 0));
    assert_error("listener 1883\nmaximum_qos -1\n", 2, "");
}

#[test]
fn use_username_as_clientid_applies_to_its_listener() {
    let (c, warnings) = parse("listener 1883\nuse_username_as_clientid true\nlistener 1884\n");
    assert!(c.listeners[0].use_username_as_clientid && !c.listeners[1].use_username_as_clientid);
    assert!(warnings.is_empty(), "{warnings:?}");
    // As any listener setting, before the first listener it opens the default one.
    let (c, _) = parse("use_username_as_clientid true\n");
    assert!(c.listeners[0].use_username_as_clientid);
    assert_error(
        "listener 1883\nuse_username_as_clientid yes\n",
        2,
        "true or false",
    );
}

#[test]
fn upgrade_outgoing_qos_and_allow_duplicate_messages_are_read_off_by_default() {
    let c = config("");
    assert!(!c.upgrade_outgoing_qos && !c.allow_duplicate_messages);
    let (c, warnings) = parse("upgrade_outgoing_qos true\nallow_duplicate_messages true\n");
    assert!(c.upgrade_outgoing_qos && c.allow_duplicate_messages);
    // mosquitto's deprecation warning, and nothing else.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("'allow_duplicate_messages' option is now deprecated")
    );
}

#[test]
fn check_retain_source_is_read_and_off_by_default_as_in_mosquittos_code() {
    assert!(!config("").check_retain_source);
    let (c, warnings) = parse("check_retain_source true\n");
    assert!(c.check_retain_source && warnings.is_empty());
    assert_error("check_retain_source maybe\n", 1, "expected true or false");
    // Like the other security settings, it must follow per_listener_settings.
    assert_error(
        "check_retain_source true\nper_listener_settings true\n",
        2,
        "must come before any security setting",
    );
}

#[test]
fn persistence_keys_are_read_as_mosquitto_reads_them() {
    let c = Config::default();
    assert!(!c.persistence);
    assert_eq!(
        (
            c.persistence_file.as_str(),
            c.autosave_interval,
            c.autosave_on_changes
        ),
        ("mosquitto.db", 1800, false)
    );
    assert_eq!(c.persistence_sync, crate::persist::Sync::Write);
    let c = config(
        "persistence true\npersistence_location /var/lib/mosquitto/\n\
         persistence_file state.db\nautosave_interval -5\nautosave_on_changes true\n\
         persistence_sync fsync\n",
    );
    assert!(c.persistence && c.autosave_on_changes);
    assert_eq!(
        c.persistence_location.as_deref(),
        Some(std::path::Path::new("/var/lib/mosquitto/"))
    );
    assert_eq!(
        (c.persistence_file.as_str(), c.autosave_interval),
        ("state.db", 0)
    );
    assert_eq!(c.persistence_sync, crate::persist::Sync::Fsync);
    assert!(config("retained_persistence true\n").persistence);
    assert_error(
        "persistence_sync sometimes\n",
        1,
        "must be none, write or fsync",
    );
}

#[test]
fn mosquittos_default_values_before_any_listener_open_no_default_listener() {
    let (c, warnings) =
        parse("max_qos 2\nrequire_certificate false\nuse_identity_as_username false\n");
    assert!(c.is_local_only() && warnings.is_empty(), "{warnings:?}");
    assert!(!config("max_qos 1\n").is_local_only());
}

#[test]
fn subscription_and_retained_bounds_have_safe_defaults_and_0_lifts_them() {
    let c = Config::default();
    assert_eq!(
        (
            c.max_subscriptions_per_client,
            c.max_filters_per_subscribe,
            c.max_retained_messages,
            c.max_retained_bytes
        ),
        (Some(10_000), Some(1_000), Some(100_000), Some(64 << 20))
    );
    let c = config(
        "max_subscriptions_per_client 5\nmax_filters_per_subscribe 6\n\
         max_retained_messages 7\nmax_retained_bytes 8\n",
    );
    assert_eq!(
        (
            c.max_subscriptions_per_client,
            c.max_filters_per_subscribe,
            c.max_retained_messages,
            c.max_retained_bytes
        ),
        (Some(5), Some(6), Some(7), Some(8))
    );
    let c = config(
        "max_subscriptions_per_client 0\nmax_filters_per_subscribe -1\n\
         max_retained_messages 0\nmax_retained_bytes 0\n",
    );
    assert_eq!(
        (
            c.max_subscriptions_per_client,
            c.max_filters_per_subscribe,
            c.max_retained_messages,
            c.max_retained_bytes
        ),
        (None, None, None, None)
    );
}
