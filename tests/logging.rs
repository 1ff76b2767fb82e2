//! The log keys, end to end: `log_timestamp`, `log_timestamp_format`, `connection_messages`,
//! `log_dest topic`, `log_dest syslog` with `log_facility`, and `log_dest file` reopened on
//! SIGHUP. Checked against mosquitto 2.0.11:
//!
//!     MIDGE_TEST_BROKER=mosquitto cargo test --test logging

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::packets::*;
use common::{Broker, Kind, REPLY_TIMEOUT, Raw, broker_kind};

/// A directory the broker may still write to once it has dropped root.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

fn wait_for_file(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never showed {needle:?}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn log_timestamp_false_leaves_the_time_out_of_every_line() {
    let broker = Broker::start_with("log_timestamp false");
    broker.wait_for_log(" running");
    let log = broker.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("Opening ipv4 listen socket on port")),
        "{log}"
    );
    assert!(log.lines().all(|l| !l.starts_with("17")), "{log}");
}

/// `2026-12-02T00:03:13: ` at the start of a line.
fn iso_stamped(line: &str) -> bool {
    let b = line.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() > 21
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && &b[19..21] == b": "
}

#[test]
fn log_timestamp_format_stamps_lines_through_strftime() {
    let broker = Broker::start_with("log_timestamp_format %Y-%m-%dT%H:%M:%S");
    broker.wait_for_log(" running");
    let log = broker.log();
    let lines: Vec<_> = log.lines().filter(|l| !l.starts_with("Warning")).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| iso_stamped(l)), "{log}");
}

#[test]
fn connection_messages_false_hides_the_lines_about_connecting_and_disconnecting() {
    let broker = Broker::start_with("connection_messages false");
    let mut c = Raw::connected(&broker, "quiet-client");
    c.send(&subscribe(1, "a", 0));
    c.expect(&suback(1, 0));
    c.send(&[0xe0, 0x00]);
    c.expect_closed();
    broker.wait_for_log("Received DISCONNECT from quiet-client");
    let log = broker.log();
    for hidden in [
        "New connection from",
        "New client connected",
        "quiet-client disconnected",
    ] {
        assert!(!log.contains(hidden), "{hidden:?} in:\n{log}");
    }
    assert!(
        log.contains("Received SUBSCRIBE from quiet-client"),
        "{log}"
    );
}

/// One PUBLISH of MQTT 3.1.1: (first byte, topic, payload, packet id).
fn parse_publish(packet: &[u8]) -> (u8, String, String, u16) {
    let mut i = 1;
    while packet[i] & 0x80 != 0 {
        i += 1;
    }
    i += 1;
    let len = usize::from(u16::from_be_bytes([packet[i], packet[i + 1]]));
    let topic = String::from_utf8_lossy(&packet[i + 2..i + 2 + len]).into_owned();
    let mut at = i + 2 + len;
    let mut id = 0;
    if packet[0] & 0x06 != 0 {
        id = u16::from_be_bytes([packet[at], packet[at + 1]]);
        at += 2;
    }
    let payload = String::from_utf8_lossy(&packet[at..]).into_owned();
    (packet[0], topic, payload, id)
}

/// Takes part in QoS 2 flows: a PUBLISH is answered with PUBREC (and returned), a PUBREL
/// with PUBCOMP.
fn answer(c: &mut Raw, packet: &[u8]) -> Option<(u8, String, String, u16)> {
    match packet[0] >> 4 {
        3 => {
            let publish = parse_publish(packet);
            if publish.0 & 0x06 == 0x04 {
                c.send(&pubrec(publish.3));
            }
            Some(publish)
        }
        6 => {
            c.send(&pubcomp(u16::from_be_bytes([packet[2], packet[3]])));
            None
        }
        _ => None,
    }
}

/// Reads until a PUBLISH whose payload contains `needle`; returns every PUBLISH seen.
fn publishes_until(c: &mut Raw, needle: &str) -> Vec<(u8, String, String, u16)> {
    let mut seen = Vec::new();
    loop {
        let packet = c.recv_packet();
        if let Some(publish) = answer(c, &packet) {
            let done = publish.2.contains(needle);
            seen.push(publish);
            if done {
                return seen;
            }
        }
    }
}

/// PINGREQ until PINGRESP: how many PUBLISH came in between.
fn publishes_during_a_ping(c: &mut Raw) -> usize {
    c.send(&[0xc0, 0x00]);
    let mut count = 0;
    loop {
        let packet = c.recv_packet();
        if packet[0] >> 4 == 13 {
            return count;
        }
        count += usize::from(answer(c, &packet).is_some());
    }
}

#[test]
fn log_dest_topic_publishes_each_line_on_sys_broker_log_at_qos_2_without_retain() {
    let broker = Broker::start_with("log_dest topic\nlog_dest stderr");
    let mut sub = Raw::connected(&broker, "log-reader");
    sub.send(&subscribe(1, "$SYS/broker/log/#", 2));
    let _marker = Raw::connected(&broker, "log-marker");
    let seen = publishes_until(&mut sub, "as log-marker");
    let (first, topic, line, _) = seen.last().cloned().unwrap_or_default();
    assert_eq!(
        (first, topic.as_str()),
        (0x34, "$SYS/broker/log/N"),
        "{seen:?}"
    );
    let stamp = line.split(": ").next().unwrap_or("");
    assert!(
        stamp.parse::<u64>().is_ok(),
        "the line, time included: {line}"
    );
    assert!(
        line.contains(": New client connected from 127.0.0.1:"),
        "{line}"
    );
    let subscribed = seen.iter().find(|p| p.1 == "$SYS/broker/log/M/subscribe");
    let subscribed = subscribed.map(|p| p.2.as_str()).unwrap_or_default();
    assert!(
        subscribed.ends_with(": log-reader 2 $SYS/broker/log/#"),
        "{seen:?}"
    );
    // Debug lines (the broker runs with -v) are never published, so delivering log lines
    // cannot make more of them: the log does not feed itself.
    assert!(seen.iter().all(|p| !p.2.contains("Received ")), "{seen:?}");
    publishes_during_a_ping(&mut sub);
    assert_eq!(publishes_during_a_ping(&mut sub), 0);
}

#[test]
fn sighup_reopens_the_log_file_so_that_logrotate_can_move_it() {
    let dir = shared_dir();
    let path = dir.path().join("broker.log");
    let broker = Broker::start_with(&format!(
        "log_dest file {}\nlog_dest stderr",
        path.display()
    ));
    wait_for_file(&path, " running");
    let moved = dir.path().join("broker.log.1");
    std::fs::rename(&path, &moved).expect("rotate");
    broker.signal("HUP");
    broker.wait_for_log("Reloading config.");
    Raw::connected(&broker, "after-rotation");
    let fresh = wait_for_file(&path, "as after-rotation");
    if broker_kind() == Kind::Midge {
        assert!(
            fresh.contains("Reopened log file"),
            "the log says so:\n{fresh}"
        );
    }
    let old = std::fs::read_to_string(&moved).expect("moved file");
    assert!(
        old.contains(" running") && !old.contains("after-rotation"),
        "{old}"
    );
    let mode = std::fs::metadata(&path)
        .expect("log file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "readable by the broker's user only");
}

/// Runs the broker with `conf` in a mount namespace whose /dev is `dir` (where the test
/// listens as /dev/log); returns the first syslog datagram containing `needle`.
fn syslog_line(dir: &Path, conf: &str, needle: &str) -> Option<String> {
    let socket = UnixDatagram::bind(dir.join("log")).expect("bind /dev/log");
    std::fs::set_permissions(dir.join("log"), std::fs::Permissions::from_mode(0o666))
        .expect("chmod");
    socket
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("timeout");
    let conf_path = dir.join("broker.conf");
    std::fs::write(&conf_path, conf).expect("write config");
    let program = match broker_kind() {
        Kind::Midge => env!("CARGO_BIN_EXE_midge").to_string(),
        Kind::Mosquitto => "mosquitto".to_string(),
    };
    let script = format!(
        "mount --bind '{}' /dev && exec '{program}' -c '{}'",
        dir.display(),
        conf_path.display()
    );
    let mut child = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut buf = [0u8; 2048];
    let mut found = None;
    while let Ok(n) = socket.recv(&mut buf) {
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains(needle) {
            found = Some(line);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    found
}

#[test]
fn log_dest_syslog_sends_each_line_with_mosquittos_priority_to_log_facility() {
    let can_unshare = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !can_unshare {
        eprintln!("skipped: needs unshare -m (root) to give the broker its own /dev/log");
        return;
    }
    let dir = shared_dir();
    let port = common::free_port();
    let conf =
        format!("listener {port} 127.0.0.1\nlog_dest syslog\nlog_facility 3\nlog_type all\n");
    let line = syslog_line(dir.path(), &conf, " running");
    let line = line.expect("a syslog line saying the broker runs");
    // local3 (19) * 8 + LOG_INFO (6); the ident is the program's name.
    assert!(line.starts_with("<158>"), "{line}");
    let name = match broker_kind() {
        Kind::Midge => "midge",
        Kind::Mosquitto => "mosquitto",
    };
    assert!(line.contains(&format!(" {name}[")), "{line}");
    let text = line.split("]: ").nth(1).unwrap_or("");
    let stamp = text.split(": ").next().unwrap_or("");
    assert!(
        stamp.parse::<u64>().is_ok(),
        "the line, time included: {line}"
    );
}
