//! `-D` and `-x` on the command line: what they build, and mosquitto 2.0.11's complaints
//! (each expected text was taken from mosquitto_pub or mosquitto_sub 2.0.11).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::cli::{ArgError, strtol_base0};
use super::cnum::atol;
use super::{pub_cli, rr_cli, sub_cli};
use crate::protocol::{ByteStr, Version};

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn pub_with(extra: &[&str]) -> Result<pub_cli::PubConfig, ArgError> {
    let mut list = vec!["-t", "a", "-m", "x"];
    list.extend_from_slice(extra);
    pub_cli::parse_args(&args(&list))
}

fn usage(message: &str) -> ArgError {
    ArgError::Usage(message.to_string())
}

#[test]
fn properties_go_to_their_packets() {
    let config = pub_with(&[
        "-D",
        "connect",
        "user-property",
        "k",
        "v",
        "-D",
        "CONNECT",
        "receive-maximum",
        "10",
        "-D",
        "publish",
        "Content-Type",
        "text/plain",
        "-D",
        "publish",
        "correlation-data",
        "c1",
        "-D",
        "publish",
        "message-expiry-interval",
        " 30x",
        "-D",
        "publish",
        "user-property",
        "a",
        "1",
        "-D",
        "publish",
        "user-property",
        "a",
        "2",
        "-D",
        "will",
        "will-delay-interval",
        "5",
        "--will-topic",
        "w",
        "-D",
        "disconnect",
        "session-expiry-interval",
        "0",
    ])
    .unwrap();
    let c = &config.client.connect;
    assert_eq!(c.version, Version::V5, "-D makes the client MQTT 5");
    assert_eq!(c.properties.receive_maximum, Some(10));
    assert_eq!(
        c.properties.user_properties,
        [(ByteStr::from("k"), ByteStr::from("v"))]
    );
    let p = &config.publish_properties;
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"c1"[..]));
    assert_eq!(p.message_expiry_interval, Some(30), "read with atol");
    assert_eq!(p.user_properties.len(), 2, "user properties may repeat");
    let will = c.will.as_ref().unwrap();
    assert_eq!(will.properties.will_delay_interval, Some(5));
    let disconnect = config.client.properties.disconnect.to_properties();
    assert_eq!(disconnect.session_expiry_interval, Some(0));
}

#[test]
fn the_last_of_d_and_v_decides_the_version() {
    let v = |extra: &[&str]| pub_with(extra).unwrap().client.connect.version;
    assert_eq!(
        v(&["-V", "311", "-D", "publish", "content-type", "x"]),
        Version::V5
    );
    assert_eq!(
        v(&["-D", "publish", "content-type", "x", "-V", "311"]),
        Version::V311
    );
    // A value that reads "-D" is a value, not a property.
    let config = pub_cli::parse_args(&args(&["-m", "-D", "-t", "a"])).unwrap();
    assert_eq!(config.client.connect.version, Version::V311);
}

#[test]
fn bad_properties_are_refused_in_mosquittos_words() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-D"],
            "Error: --property argument given but not enough arguments specified.\n\n",
        ),
        (
            &["-D", "publish", "user-property", "k"],
            "Error: --property argument given but not enough arguments specified.\n\n",
        ),
        (
            &["-D", "suback", "x", "y"],
            "Error: Invalid command given in --property argument.\n\n",
        ),
        (
            &["-D", "publish", "colour", "1"],
            "Error: Invalid property name given in --property argument.\n\n",
        ),
        (
            &["-D", "connect", "content-type", "x"],
            "Error: content-type property not allowed for connect in --property argument.\n\n",
        ),
        (
            &["-D", "publish", "subscription-identifier", "1"],
            "Error: subscription-identifier property not supported for publish in --property \
             argument.\n\n",
        ),
        (
            &["-D", "auth", "authentication-method", "x"],
            "Error: authentication-method property not supported for auth in --property \
             argument.\n\n",
        ),
        (&["-D", "connack", "reason-string", "x"], ""),
        (
            &["-D", "publish", "message-expiry-interval", "-1"],
            "Error: Property value (-1) out of range for property message-expiry-interval.\n\n",
        ),
        (
            &[
                "-D",
                "publish",
                "message-expiry-interval",
                "99999999999999999999",
            ],
            "Error: Property value (9223372036854775807) out of range for property \
             message-expiry-interval.\n\n",
        ),
        (
            &["-D", "publish", "payload-format-indicator", "256"],
            "Error: Property value (256) out of range for property payload-format-indicator.\n\n",
        ),
        (
            &["-D", "publish", "content-type", "a\tb"],
            "Error adding property content-type 6\n",
        ),
        (
            &["-D", "publish", "user-property", "\u{7f}", "v"],
            "Error adding property user-property 7\n",
        ),
        (
            &["-D", "publish", "topic-alias", "0x10"],
            "Error in PUBLISH properties: A network protocol error occurred when communicating \
             with the broker.\n",
        ),
        (
            &["-D", "connect", "session-expiry-interval", "1", "-x", "2"],
            "Error in CONNECT properties: Duplicate property in property list\n",
        ),
        (
            &[
                "-D",
                "will",
                "content-type",
                "a",
                "-D",
                "will",
                "content-type",
                "b",
            ],
            "Error in Will properties: Duplicate property in property list\n",
        ),
    ];
    for (extra, expected) in cases {
        assert_eq!(pub_with(extra).unwrap_err(), usage(expected), "{extra:?}");
    }
    let long = OsString::from_vec(vec![b'c'; 70_000]);
    let mut list = args(&["-t", "a", "-m", "x", "-D", "publish", "correlation-data"]);
    list.push(long);
    assert_eq!(
        pub_cli::parse_args(&list).unwrap_err(),
        usage("Error: Property value too long for property correlation-data.\n\n")
    );
    let sub = sub_cli::parse_args(&args(&[
        "-t",
        "a",
        "-D",
        "subscribe",
        "subscription-identifier",
        "268435456",
    ]));
    assert_eq!(
        sub.unwrap_err(),
        usage("Error adding property subscription-identifier 4\n")
    );
}

#[test]
fn errors_are_reported_in_command_line_order() {
    assert_eq!(
        pub_with(&["-q", "5", "-D", "publish", "colour", "1"]).unwrap_err(),
        usage("Error: Invalid QoS given: 5\n")
    );
    assert_eq!(
        pub_with(&["-D", "publish", "colour", "1", "-q", "5"]).unwrap_err(),
        usage("Error: Invalid property name given in --property argument.\n\n")
    );
    assert_eq!(
        pub_with(&["--help", "-D", "x"]).unwrap_err(),
        ArgError::Help
    );
    // --quiet drops the message but still points at --help.
    let quiet = pub_with(&["--quiet", "-D", "connect", "receive-maximum", "0"]);
    assert_eq!(quiet.unwrap_err(), usage(""));
}

#[test]
fn session_expiry_follows_client_config_load() {
    let expiry = |extra: &[&str]| {
        let config = pub_with(extra).unwrap();
        config.client.connect.properties.session_expiry_interval
    };
    assert_eq!(expiry(&["-V", "5", "-x", "30"]), Some(30));
    assert_eq!(
        expiry(&["-V", "5", "-x", "0x10"]),
        Some(16),
        "strtol, any base"
    );
    assert_eq!(expiry(&["-V", "5", "-x", "010"]), Some(8));
    assert_eq!(expiry(&["-V", "5", "-x", "0"]), None);
    assert_eq!(expiry(&["-V", "5", "-c", "-i", "me"]), Some(u32::MAX));
    assert_eq!(expiry(&["-V", "5", "-c", "-i", "me", "-x", "60"]), Some(60));
    assert_eq!(expiry(&["-V", "5", "-i", "me", "-x", "∞"]), Some(u32::MAX));
    assert_eq!(expiry(&["-x", "30"]), None, "MQTT 3 has no session expiry");
    let infinite = "Error: You must provide a client id if you are using an infinite session \
                    expiry interval.\n";
    for bad in [&["-V", "5", "-x", "-1"][..], &["-V", "5", "-c", "-I", "p"]] {
        assert_eq!(pub_with(bad).unwrap_err(), usage(infinite), "{bad:?}");
    }
    let cases: &[(&str, &str)] = &[
        ("abc", "Error: session-expiry-interval not a number.\n\n"),
        ("12abc", "Error: session-expiry-interval not a number.\n\n"),
        ("", "Error: session-expiry-interval not a number.\n\n"),
        ("-2", "Error: session-expiry-interval out of range.\n\n"),
        (
            "4294967296",
            "Error: session-expiry-interval out of range.\n\n",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(
            pub_with(&["-V", "5", "-x", value]).unwrap_err(),
            usage(expected)
        );
    }
    assert_eq!(
        pub_with(&["-x"]).unwrap_err(),
        usage("Error: -x argument given but no session expiry interval specified.\n\n")
    );
    // -c with a session that expires needs an id only libmosquitto asks for, later.
    let config = pub_with(&["-V", "5", "-c", "-x", "10"]).unwrap();
    assert_eq!(
        config.client.check_id("Error: Invalid id.\n"),
        Err(ArgError::Plain("Error: Invalid id.\n".into()))
    );
}

#[test]
fn c_number_parsing() {
    assert_eq!(atol(b" 12abc"), 12);
    assert_eq!(atol(b"-0"), 0);
    assert_eq!(atol(b"99999999999999999999"), i64::MAX);
    assert_eq!(atol(b"-99999999999999999999"), i64::MIN);
    assert_eq!(strtol_base0(" 5"), Some(5));
    assert_eq!(strtol_base0("0x"), None);
    assert_eq!(strtol_base0("5 "), None);
    assert_eq!(strtol_base0("-0x10"), Some(-16));
}

#[test]
fn rr_adds_nothing_until_run_and_defaults_to_mqtt5() {
    let config = rr_cli::parse_args(&args(&["-t", "req", "-e", "resp", "-m", "x"])).unwrap();
    assert_eq!(config.client.connect.version, Version::V5);
    assert_eq!(config.response_topic.as_deref(), Some("resp"));
    let v311 = rr_cli::parse_args(&args(&["-t", "req", "-e", "r", "-m", "x", "-V", "311"]));
    assert_eq!(v311.unwrap().client.connect.version, Version::V311);
    let refused: &[(&[&str], &str)] = &[
        (
            &["-e", "r/#"],
            "Error: Invalid response topic 'r/#', does it contain '+' or '#'?\n",
        ),
        (
            &["-e"],
            "Error: -e argument given but no response topic specified.\n\n",
        ),
        (&["-l"], "Error: Unknown option '-l'.\n"),
        (&["-C", "1"], "Error: Unknown option '-C'.\n"),
        (
            &["-m", "a", "-n"],
            "Error: Only one type of message can be sent at once.\n\n",
        ),
    ];
    for (list, expected) in refused {
        assert_eq!(
            rr_cli::parse_args(&args(list)).unwrap_err(),
            usage(expected),
            "{list:?}"
        );
    }
}
