//! midge_pub's and midge_sub's command lines and output format. Expected texts are
//! mosquitto 2.0.11's.

use std::ffi::OsString;
use std::time::Duration;

use super::cli::{ArgError, atoi};
use super::format::format_message;
use super::pub_cli::{self, Source};
use super::sub_cli;
use crate::protocol::{QoS, Version};

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn pub_error(list: &[&str]) -> ArgError {
    pub_cli::parse_args(&args(list)).expect_err("refused")
}

fn sub_error(list: &[&str]) -> ArgError {
    sub_cli::parse_args(&args(list)).expect_err("refused")
}

fn usage(message: &str) -> ArgError {
    ArgError::Usage(message.to_string())
}

#[test]
fn numbers_are_read_like_c_atoi() {
    assert_eq!(atoi("12"), 12);
    assert_eq!(atoi(" -3"), -3);
    assert_eq!(atoi("7x"), 7);
    assert_eq!(atoi("abc"), 0);
    assert_eq!(atoi(""), 0);
    assert_eq!(atoi("+5"), 5);
}

#[test]
fn pub_defaults_match_mosquitto_pub() {
    let config = pub_cli::parse_args(&args(&["-t", "a", "-m", "hi"])).unwrap();
    let c = &config.client.connect;
    assert_eq!((c.host.as_str(), c.port), ("localhost", 1883));
    assert_eq!(
        (c.version, c.keep_alive, c.clean_session),
        (Version::V311, 60, true)
    );
    assert_eq!(c.client_id, "", "3.1.1 lets the broker choose the id");
    assert_eq!((config.qos, config.retain), (QoS::AtMostOnce, false));
    assert_eq!(config.source, Some(Source::Message(b"hi".to_vec())));
    assert!(!config.client.debug && !config.client.quiet);
}

#[test]
fn pub_reads_every_flag() {
    let config = pub_cli::parse_args(&args(&[
        "-h",
        "broker",
        "-p",
        "1884",
        "-t",
        "a/b",
        "-f",
        "/tmp/x",
        "-q",
        "2",
        "-r",
        "-i",
        "me",
        "-u",
        "user",
        "-P",
        "pw",
        "-k",
        "30",
        "-V",
        "mqttv5",
        "-d",
        "--quiet",
        "--will-topic",
        "w",
        "--will-payload",
        "bye",
        "--will-qos",
        "1",
        "--will-retain",
        "-c",
    ]))
    .unwrap();
    let c = &config.client.connect;
    assert_eq!(
        (c.host.as_str(), c.port, c.version),
        ("broker", 1884, Version::V5)
    );
    assert_eq!(
        (c.client_id.as_str(), c.keep_alive, c.clean_session),
        ("me", 30, false)
    );
    assert_eq!(c.username.as_deref(), Some("user"));
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
    assert_eq!(c.properties.session_expiry_interval, Some(u32::MAX));
    let will = c.will.as_ref().unwrap();
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("w", &b"bye"[..]));
    assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
    assert_eq!(config.topic.as_deref(), Some("a/b"));
    assert_eq!(config.source, Some(Source::File("/tmp/x".into())));
    assert_eq!((config.qos, config.retain), (QoS::ExactlyOnce, true));
    assert!(config.client.debug && config.client.quiet);
}

#[test]
fn pub_message_sources() {
    let source = |flag: &str| pub_cli::parse_args(&args(&[flag])).unwrap().source;
    assert_eq!(source("-l"), Some(Source::StdinLines));
    assert_eq!(source("-s"), Some(Source::Stdin));
    assert_eq!(source("-n"), Some(Source::Null));
    assert_eq!(source("--null-message"), Some(Source::Null));
    let only_one = usage("Error: Only one type of message can be sent at once.\n\n");
    assert_eq!(pub_error(&["-m", "a", "-m", "b"]), only_one);
    assert_eq!(pub_error(&["-l", "-s"]), only_one);
    assert_eq!(pub_error(&["-n", "-f", "x"]), only_one);
}

#[test]
fn protocol_versions_take_mosquittos_spellings() {
    for (given, version) in [
        ("31", Version::V31),
        ("mqttv31", Version::V31),
        ("311", Version::V311),
        ("mqttv311", Version::V311),
        ("5", Version::V5),
        ("mqttv5", Version::V5),
    ] {
        let config = pub_cli::parse_args(&args(&["-V", given])).unwrap();
        assert_eq!(config.client.connect.version, version, "{given}");
    }
    assert_eq!(
        pub_error(&["-V", "4"]),
        usage("Error: Invalid protocol version argument given.\n\n")
    );
}

#[test]
fn client_ids_follow_libmosquitto() {
    let id = |list: &[&str]| {
        pub_cli::parse_args(&args(list))
            .unwrap()
            .client
            .connect
            .client_id
    };
    let random = id(&["-V", "31"]);
    assert!(
        random.starts_with("mosq-") && random.len() == 23,
        "{random}"
    );
    assert!(random[5..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(id(&["-I", "pre-"]), format!("pre-{}", std::process::id()));
    assert_eq!(
        pub_error(&["-i", "a", "-I", "b"]),
        usage("Error: -i and -I argument cannot be used together.\n\n")
    );
}

#[test]
fn bad_values_are_refused_in_mosquittos_words() {
    let cases: &[(&[&str], &str)] = &[
        (&["-q", "3"], "Error: Invalid QoS given: 3\n"),
        (&["-q", "-1"], "Error: Invalid QoS given: -1\n"),
        (&["-p", "99999"], "Error: Invalid port given: 99999\n"),
        (&["-p", "-1"], "Error: Invalid port given: -1\n"),
        (
            &["-k", "4"],
            "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n",
        ),
        (&["--will-qos", "3"], "Error: Invalid will QoS 3.\n\n"),
        (
            &["-t", "a/#"],
            "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?\n",
        ),
        (
            &["--will-topic", "a/+"],
            "Error: Invalid will topic 'a/+', does it contain '+' or '#'?\n",
        ),
        (&["-z"], "Error: Unknown option '-z'.\n"),
        (&["-v"], "Error: Unknown option '-v'.\n"),
        (&["stray"], "Error: Unknown option 'stray'.\n"),
    ];
    for (list, message) in cases {
        assert_eq!(pub_error(list), usage(message), "{list:?}");
    }
    // atoi: not a number is 0, which is a valid QoS.
    let config = pub_cli::parse_args(&args(&["-q", "abc"])).unwrap();
    assert_eq!(config.qos, QoS::AtMostOnce);
}

#[test]
fn a_flag_without_its_value_says_what_is_missing() {
    let cases = [
        ("-h", "Error: -h argument given but no host specified.\n\n"),
        ("-p", "Error: -p argument given but no port specified.\n\n"),
        ("-q", "Error: -q argument given but no QoS specified.\n\n"),
        ("-t", "Error: -t argument given but no topic specified.\n\n"),
        (
            "-m",
            "Error: -m argument given but no message specified.\n\n",
        ),
        ("-f", "Error: -f argument given but no file specified.\n\n"),
        ("-i", "Error: -i argument given but no id specified.\n\n"),
        (
            "-I",
            "Error: -I argument given but no id prefix specified.\n\n",
        ),
        (
            "-u",
            "Error: -u argument given but no username specified.\n\n",
        ),
        (
            "-P",
            "Error: -P argument given but no password specified.\n\n",
        ),
        (
            "-k",
            "Error: -k argument given but no keepalive specified.\n\n",
        ),
        (
            "-V",
            "Error: --protocol-version argument given but no version specified.\n\n",
        ),
        (
            "--will-topic",
            "Error: --will-topic argument given but no will topic specified.\n\n",
        ),
        (
            "--will-payload",
            "Error: --will-payload argument given but no will payload specified.\n\n",
        ),
        (
            "--will-qos",
            "Error: --will-qos argument given but no will QoS specified.\n\n",
        ),
    ];
    for (flag, message) in cases {
        assert_eq!(pub_error(&["-t", "a", flag]), usage(message), "{flag}");
    }
    assert_eq!(
        sub_error(&["-t", "a", "-C"]),
        usage("Error: -C argument given but no count specified.\n\n")
    );
    assert_eq!(
        sub_error(&["-t", "a", "-U"]),
        usage("Error: -U argument given but no unsubscribe topic specified.\n\n")
    );
}

#[test]
fn a_value_may_start_with_a_dash() {
    // mosquitto takes whatever follows a value flag as its value.
    let config = pub_cli::parse_args(&args(&["-m", "-r", "-t", "-x"])).unwrap();
    assert_eq!(config.source, Some(Source::Message(b"-r".to_vec())));
    assert_eq!(config.topic.as_deref(), Some("-x"));
}

#[test]
fn will_and_session_rules() {
    assert_eq!(
        pub_error(&["--will-payload", "x"]),
        usage("Error: Will payload given, but no will topic given.\n")
    );
    assert_eq!(
        pub_error(&["--will-retain"]),
        usage("Error: Will retain given, but no will topic given.\n")
    );
    assert_eq!(
        pub_error(&["-c"]),
        usage("Error: You must provide a client id if you are using the -c option.\n")
    );
    assert_eq!(
        sub_error(&["-t", "a", "-c", "-I", "p"]),
        usage("Error: You must provide a client id if you are using the -c option.\n")
    );
    assert_eq!(
        sub_error(&["-t", "a", "-c", "-V", "5"]),
        usage(
            "Error: You must provide a client id if you are using an infinite session expiry \
             interval.\n"
        )
    );
    let config = sub_cli::parse_args(&args(&["-t", "a", "-c", "-i", "me"])).unwrap();
    assert!(!config.client.connect.clean_session);
    assert_eq!(
        config.client.connect.properties.session_expiry_interval,
        None
    );
}

#[test]
fn help_and_version() {
    assert_eq!(pub_error(&["--help"]), ArgError::Help);
    assert_eq!(sub_error(&["--help"]), ArgError::Help);
    assert_eq!(pub_error(&["--version"]), ArgError::Version);
    // Read left to right: --help before a bad flag wins, after it does not.
    assert_eq!(pub_error(&["--help", "-z"]), ArgError::Help);
    assert_eq!(
        pub_error(&["-z", "--help"]),
        usage("Error: Unknown option '-z'.\n")
    );
    assert_eq!(sub_error(&["--help", "-q", "9"]), ArgError::Help);
    assert_eq!(
        sub_error(&["-q", "9", "--help"]),
        usage("Error: Invalid QoS given: 9\n")
    );
}

#[test]
fn sub_reads_its_flags() {
    let config = sub_cli::parse_args(&args(&[
        "-t", "a/#", "-t", "b/+", "-T", "a/x", "-U", "c", "-U", "d", "-q", "1", "-v", "-C", "3",
        "-W", "10", "-N", "-R", "-E", "-V", "5",
    ]))
    .unwrap();
    assert_eq!(config.topics, ["a/#", "b/+"]);
    assert_eq!(config.filter_out, ["a/x"]);
    assert_eq!(config.unsubscribe, ["c", "d"]);
    assert_eq!(config.qos, QoS::AtLeastOnce);
    assert!(config.output.verbose && !config.output.eol);
    assert!(config.no_retain && config.exit_after_subscribe);
    assert_eq!(config.count, Some(3));
    assert_eq!(config.timeout, Some(Duration::from_secs(10)));
    // -C below 20 caps what an MQTT 5 broker may send ahead, as mosquitto_sub does.
    assert_eq!(config.client.connect.properties.receive_maximum, Some(3));
    let retained_only = sub_cli::parse_args(&args(&["-t", "a", "--retained-only"])).unwrap();
    assert!(retained_only.retained_only);
}

#[test]
fn sub_refuses_what_mosquitto_sub_refuses() {
    let cases: &[(&[&str], ArgError)] = &[
        (
            &[],
            usage("Error: You must specify a topic to subscribe to.\n"),
        ),
        (
            &["-U", "a"],
            usage("Error: You must specify a topic to subscribe to.\n"),
        ),
        (
            &["-t", "a/#/b"],
            usage(
                "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards \
                 correct?\n",
            ),
        ),
        (
            &["-t", "a", "-T", "a+"],
            usage("Error: Invalid filter topic 'a+', are all '+' and '#' wildcards correct?\n"),
        ),
        (
            &["-t", "a", "-U", "#/a"],
            usage(
                "Error: Invalid unsubscribe topic '#/a', are all '+' and '#' wildcards \
                 correct?\n",
            ),
        ),
        (
            &["-t", "a", "-C", "0"],
            usage("Error: Invalid message count \"0\".\n\n"),
        ),
        (
            &["-t", "a", "-W", "x"],
            usage("Error: Invalid timeout \"0\".\n\n"),
        ),
        (
            &["-t", "a", "-m", "x"],
            usage("Error: Unknown option '-m'.\n"),
        ),
        (&["-t", "a", "-r"], usage("Error: Unknown option '-r'.\n")),
        (
            &["-t", "a", "-R", "--retained-only"],
            ArgError::Plain(
                "\nError: Combining '-R' and '--retained-only' makes no sense.\n".into(),
            ),
        ),
    ];
    for (list, expected) in cases {
        assert_eq!(&sub_error(list), expected, "{list:?}");
    }
}

#[test]
fn messages_print_like_mosquitto_sub() {
    assert_eq!(format_message("t", b"hello", false, true), b"hello\n");
    assert_eq!(format_message("t", b"hello", true, true), b"t hello\n");
    assert_eq!(format_message("t", b"hello", true, false), b"t hello");
    assert_eq!(format_message("t", b"hello", false, false), b"hello");
    assert_eq!(format_message("t", b"", false, true), b"");
    assert_eq!(format_message("t", b"", true, true), b"t (null)\n");
    assert_eq!(format_message("t", b"", true, false), b"");
    assert_eq!(format_message("t", b"\0\xff", false, true), b"\0\xff\n");
}
