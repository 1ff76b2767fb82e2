//! midge_pub and midge_sub: their command lines, their output, and whole runs against a
//! scripted fake broker. Expected texts are mosquitto 2.0.11's.

use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cli::{ArgError, Console, atoi};
use super::pub_cli::{self, Source};
use super::sub_cli::{self, format_message};
use super::test_peer::{self, Peer};
use crate::protocol::{
    ByteStr, ConnAck, Disconnect, Packet, Properties, PubResp, Publish, QoS, SubAck, Version,
};

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

/// A stdout or stderr that the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_pub(list: &[&str], stdin: &'static [u8]) -> Outcome {
    let (out, err) = (Captured::default(), Captured::default());
    let console = Console::new(out.clone(), err.clone());
    let mut argv = args(&["midge_pub"]);
    argv.extend(args(list));
    let code = pub_cli::run(&argv, Box::new(stdin), &console);
    Outcome {
        code,
        stdout: out.text(),
        stderr: err.text(),
    }
}

fn run_sub(list: &[&str]) -> Outcome {
    let (out, err) = (Captured::default(), Captured::default());
    let console = Console::new(out.clone(), err.clone());
    let mut argv = args(&["midge_sub"]);
    argv.extend(args(list));
    let code = sub_cli::run(&argv, &console, Arc::new(AtomicBool::new(false)));
    Outcome {
        code,
        stdout: out.text(),
        stderr: err.text(),
    }
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
    assert!(config.verbose && !config.eol && config.no_retain && config.exit_after_subscribe);
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

#[test]
fn usage_errors_point_at_help() {
    let run = run_pub(&["-q", "3"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Invalid QoS given: 3\n\nUse 'midge_pub --help' to see usage.\n"
    );
    let run = run_pub(&["--help"], b"");
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("midge_pub is a simple mqtt client"));
}

#[test]
fn pub_without_topic_prints_usage() {
    let run = run_pub(&["-m", "x"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Both topic and message must be supplied.\n"
    );
    assert!(run.stdout.contains("Usage: midge_pub"));
}

#[test]
fn pub_input_errors() {
    let run = run_pub(&["-t", "a", "-s"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Zero length input.\nError loading input from stdin.\n"
    );
    let run = run_pub(&["-t", "a", "-f", "/nonexistent/file"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Unable to open file \"/nonexistent/file\".\n\
         Error loading input file \"/nonexistent/file\".\n"
    );
    let run = run_pub(&["-t", "a", "-m", "x", "-P", "pw"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Problem setting username and/or password.\n"
    );
}

#[test]
fn pub_reports_a_closed_port_like_mosquitto_pub() {
    let port = test_peer::closed_port().to_string();
    let run = run_pub(&["-h", "127.0.0.1", "-p", &port, "-t", "a", "-m", "x"], b"");
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "Error: Connection refused\n")
    );
}

#[test]
fn pub_qos1_with_debug_output() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Publish(p) = peer.recv() else {
            panic!("expected PUBLISH")
        };
        assert_eq!(
            (p.topic.as_str(), &p.payload[..]),
            ("wony", &b"Topic wony message"[..])
        );
        peer.send(Packet::PubAck(PubResp::new(p.packet_id)));
        assert_eq!(peer.recv(), Packet::Disconnect(Disconnect::default()));
        peer.expect_closed();
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "wony",
        "-m",
        "Topic wony message",
    ];
    let run = run_pub(&[&list[..], &["-q", "1", "-d"]].concat(), b"");
    peer.join().unwrap();
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(
        run.stdout,
        "Client (null) sending CONNECT\n\
         Client (null) received CONNACK (0)\n\
         Client (null) sending PUBLISH (d0, q1, r0, m1, 'wony', ... (18 bytes))\n\
         Client (null) received PUBACK (Mid: 1, RC:0)\n\
         Client (null) sending DISCONNECT\n"
    );
}

#[test]
fn pub_lines_sends_one_message_per_line() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        for expected in [&b"a"[..], b"", b"b\r"] {
            let Packet::Publish(p) = peer.recv() else {
                panic!("expected PUBLISH")
            };
            assert_eq!(&p.payload[..], expected);
            peer.send(Packet::PubAck(PubResp::new(p.packet_id)));
        }
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let run = run_pub(
        &["-h", "127.0.0.1", "-p", &port, "-t", "l", "-l", "-q", "1"],
        b"a\n\nb\r",
    );
    peer.join().unwrap();
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn pub_refused_exits_with_the_connack_code() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.expect_connect();
        peer.send(Packet::ConnAck(ConnAck::new(false, 5)));
        peer.expect_closed();
    });
    let port = port.to_string();
    let run = run_pub(&["-h", "127.0.0.1", "-p", &port, "-t", "a", "-m", "x"], b"");
    peer.join().unwrap();
    assert_eq!(run.code, 5);
    assert_eq!(
        run.stderr,
        "Connection error: Connection Refused: not authorised.\n\
         Error: The connection was refused.\n"
    );
}

#[test]
fn pub_warns_about_a_refused_mqtt5_publish() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        peer.recv();
        let mut ack = PubResp::new(1);
        ack.reason = 0x87;
        peer.send(Packet::PubAck(ack));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "a",
        "-m",
        "x",
        "-q",
        "1",
        "-V",
        "5",
    ];
    let run = run_pub(&list, b"");
    peer.join().unwrap();
    assert_eq!(run.code, 0);
    assert_eq!(run.stderr, "Warning: Publish 1 failed: Not authorized.\n");
}

#[test]
fn sub_prints_messages_and_stops_after_count() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        assert_eq!(sub.filters[0].0, "wony");
        peer.send(Packet::SubAck(SubAck {
            packet_id: sub.packet_id,
            return_codes: vec![1],
            properties: Properties::default(),
        }));
        let retained = Publish {
            retain: true,
            topic: ByteStr::from("wony"),
            payload: "stale".into(),
            ..Publish::default()
        };
        peer.send(Packet::Publish(retained));
        for (id, payload) in [(1, "one"), (2, "two")] {
            peer.send(Packet::Publish(Publish {
                qos: QoS::AtLeastOnce,
                topic: ByteStr::from("wony"),
                packet_id: id,
                payload: payload.into(),
                ..Publish::default()
            }));
            assert_eq!(peer.recv(), Packet::PubAck(PubResp::new(id)));
        }
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let list = ["-h", "127.0.0.1", "-p", &port, "-t", "wony", "-q", "1"];
    // -W bounds the test: a failing peer would otherwise leave midge_sub reconnecting.
    let run = run_sub(&[&list[..], &["-v", "-C", "2", "-R", "-d", "-W", "5"]].concat());
    peer.join().unwrap();
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.contains(&"Subscribed (mid: 1): 1"));
    let printed: Vec<&&str> = lines.iter().filter(|l| l.starts_with("wony ")).collect();
    assert_eq!(printed, [&"wony one", &"wony two"]);
}

#[test]
fn sub_times_out_with_mosquittos_code() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        peer.send(Packet::SubAck(SubAck {
            packet_id: sub.packet_id,
            return_codes: vec![0],
            properties: Properties::default(),
        }));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let started = Instant::now();
    let run = run_sub(&["-h", "127.0.0.1", "-p", &port, "-t", "a", "-W", "1"]);
    peer.join().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!((run.code, run.stderr.as_str()), (27, "Timed out\n"));
}

#[test]
fn sub_refused_exits_with_the_reason_code() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.expect_connect();
        peer.send(Packet::ConnAck(ConnAck::new(false, 0x87)));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let run = run_sub(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "a",
        "-V",
        "5",
        "-W",
        "5",
    ]);
    peer.join().unwrap();
    assert_eq!(run.code, 0x87);
    assert_eq!(run.stderr, "Connection error: Not authorized\n");
}
