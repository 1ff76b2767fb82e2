//! `-F` output against what mosquitto_sub 2.0.11 printed for the same message and format
//! (captured with `od -c` from the real program; the time is fixed here, in UTC).

use bytes::Bytes;

use super::clock::Now;
use super::format::{Output, check};
use super::json;
use crate::protocol::{ByteStr, Properties, Publish, QoS};

fn message(payload: &[u8], props: Option<Properties>) -> Publish {
    Publish {
        qos: QoS::AtLeastOnce,
        packet_id: 1,
        topic: ByteStr::from("fmt/topic"),
        properties: props.map(Box::new),
        payload: Bytes::copy_from_slice(payload),
        ..Publish::default()
    }
}

fn properties() -> Properties {
    Properties {
        content_type: Some(ByteStr::from("ct")),
        correlation_data: Some(Bytes::from_static(b"cd")),
        payload_format_indicator: Some(1),
        response_topic: Some(ByteStr::from("rt")),
        user_properties: vec![
            (ByteStr::from("a"), ByteStr::from("b")),
            (ByteStr::from("c"), ByteStr::from("d")),
            (ByteStr::from("a"), ByteStr::from("e")),
        ],
        message_expiry_interval: Some(100),
        ..Properties::default()
    }
}

/// The order mosquitto (the broker) forwards these in: as published, expiry last.
const ORDER: &[u8] = &[0x03, 0x09, 0x01, 0x08, 0x26, 0x26, 0x26, 0x02];

fn print(format: &str, m: &Publish, pretty: bool) -> (String, String) {
    assert_eq!(check(format), Ok(()), "{format}");
    let output = Output {
        format: Some(format.to_string()),
        verbose: false,
        eol: true,
        pretty,
    };
    let printed = output.print_at(m, ORDER, Now::utc(1_600_000_000, 123_456_789));
    (
        String::from_utf8_lossy(&printed.stdout).into_owned(),
        printed.stderr,
    )
}

fn out(format: &str, m: &Publish) -> String {
    print(format, m, false).0
}

#[test]
fn fields_widths_and_padding() {
    let m = message(b"hello", None);
    assert_eq!(
        out("[%10t][%-10t][%.3t][%5.2t][%-5.2t][%010t]", &m),
        "[ fmt/topic][fmt/topic ][fmt][   fm][fm   ][ fmt/topic]\n"
    );
    assert_eq!(
        out("[%10p][%-10p][%.3p][%5.2p][%05p][%3p][%-3p][%-05p]", &m),
        "[     hello][hello     ][hello][hello][hello][hel][hel][hello]\n"
    );
    assert_eq!(
        out("[%10x][%-10x][%5x][%3x][%010X][%x][%X]", &m),
        "[      6865][6865      ][ 6865][ 68][0000006865][68656c6c6f][68656C6C6F]\n"
    );
    assert_eq!(
        out("[%-p][%-x][%5l][%-5l][%05l][%3q][%3r][%5m][%05m]", &m),
        "[hello     ][68656c6c6f     ][    5][5    ][00005][1][0][    1][00001]\n"
    );
}

#[test]
fn properties_and_their_absence() {
    let bare = message(b"hello", None);
    assert_eq!(
        out(
            "[%5A][%05A][%5C][%5D][%5E][%05E][%5F][%5R][%5S][%5P]",
            &bare
        ),
        "[     ][00000][     ][][     ][00000][     ][][     ][]\n"
    );
    let full = message(b"hello", Some(properties()));
    assert_eq!(
        out("[%5C][%-5C][%.1C][%5D][%5E][%5F][%5R][%P]", &full),
        "[   ct][ct   ][c][cd][  100][    1][   rt][a:b c:d a:e]\n"
    );
    let huge = Properties {
        message_expiry_interval: Some(u32::MAX),
        subscription_identifiers: vec![7, 9],
        ..Properties::default()
    };
    assert_eq!(out("%E %S", &message(b"", Some(huge))), "-1 7\n");
}

#[test]
fn escapes_literals_and_dates() {
    let m = message(b"x", None);
    assert_eq!(
        out("%%\\n\\t\\\\\\e\\a\\r\\v\\0|%5%|@@", &m),
        "%\n\t\\\x1b\x07\r\x0b\0|%|@\n"
    );
    assert_eq!(
        out("@Y-@m-@d @H:@M:@S @N", &m),
        "2020-09-13 12:26:40 123456789\n"
    );
    assert_eq!(
        out("%I|%.4I|%U", &m),
        "2020-09-13T12:26:40+0000|2020|1600000000.123456789\n"
    );
}

#[test]
fn json_lines_as_cjson_prints_them() {
    let tst = "\"tst\":\"2020-09-13T12:26:40.123456Z+0000\"";
    assert_eq!(
        out("%j", &message(b"hel\"lo\\\t\x01\xc3\xa9", None)),
        format!(
            "{{{tst},\"topic\":\"fmt/topic\",\"qos\":1,\"retain\":0,\"payloadlen\":11,\
             \"mid\":1,\"payload\":\"hel\\\"lo\\\\\\t\\u0001é\"}}\n"
        )
    );
    assert_eq!(
        out("%j", &message(b"hello", Some(properties()))),
        format!(
            "{{{tst},\"topic\":\"fmt/topic\",\"qos\":1,\"retain\":0,\"payloadlen\":5,\"mid\":1,\
             \"properties\":{{\"content-type\":\"ct\",\"correlation-data\":\"cd\",\
             \"payload-format-indicator\":1,\"response-topic\":\"rt\",\"user-properties\":\
             {{\"a\":\"b\",\"c\":\"d\",\"a\":\"e\"}},\"message-expiry-interval\":100}},\
             \"payload\":\"hello\"}}\n"
        )
    );
    let payload =
        br#"{"a": [1, 2.5, -0.1, 1e300, 01, true, null, "x\u00e9\ud83d\ude00\n"], "b": {}}"#;
    let (text, _) = print("%J", &message(payload, None), false);
    assert!(
        text.ends_with(
            "\"payload\":{\"a\":[1,2.5,-0.1,1e+300,1,true,null,\"xé😀\\n\"],\"b\":{}}}\n"
        ),
        "{text}"
    );
    let (text, err) = print("[%J]", &message(b"not json", None), false);
    assert_eq!(text, "[]\n");
    assert_eq!(
        err,
        "Error: Message payload is not valid JSON on topic fmt/topic.\n"
    );
    let (pretty, _) = print("%J", &message(br#"{"a":[1,{"b":{}}]}"#, None), true);
    assert!(
        pretty.ends_with(
            "\t\"payload\":\t{\n\t\t\"a\":\t[1, {\n\t\t\t\t\"b\":\t{\n\t\t\t\t}\n\t\t\t}]\n\t}\n}\n"
        ),
        "{pretty:?}"
    );
}

#[test]
fn cjson_parsing_leniencies_and_limits() {
    let reprint = |s: &[u8]| {
        json::parse(s).map(|v| {
            let mut out = Vec::new();
            v.print(false, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    assert_eq!(reprint(b" [1,2] ").as_deref(), Some("[1,2]"));
    assert_eq!(reprint(b"0.30000000000000004").as_deref(), Some("0.3"));
    assert_eq!(reprint(b"123456789012").as_deref(), Some("123456789012"));
    assert_eq!(reprint(b"1.").as_deref(), Some("1"));
    assert_eq!(reprint(br#""\u0000abc""#).as_deref(), Some("\"\""));
    assert_eq!(reprint(b"\xef\xbb\xbftrue").as_deref(), Some("true"));
    for bad in [
        &b"-"[..],
        b"[1,]",
        b"nullx",
        b"{\"a\":1} x",
        b"1\x002",
        b"\"\\q\"",
    ] {
        assert_eq!(reprint(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn bad_formats_are_refused_as_mosquitto_does() {
    let cases = [
        ("%", "Error: Incomplete format specifier.\n"),
        ("%-", "Error: Incomplete format specifier.\n"),
        ("%10.5", "Error: Incomplete format specifier.\n"),
        ("@", "Error: Incomplete format specifier.\n"),
        ("%z", "Error: Invalid format specifier 'z'.\n"),
        ("%0-10t", "Error: Invalid format specifier '-'.\n"),
        ("a\\", "Error: Incomplete escape specifier.\n"),
        ("\\q", "Error: Invalid escape specifier 'q'.\n"),
    ];
    for (format, expected) in cases {
        assert_eq!(check(format), Err(expected.to_string()), "{format}");
    }
    for good in ["%-010t", "%.t", "%-%", "%5%", "@@", "%U %j %J"] {
        assert_eq!(check(good), Ok(()), "{good}");
    }
}
