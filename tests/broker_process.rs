//! The broker as a process: command line, config file errors and warnings, signals.

mod common;

use std::time::Duration;

use common::clients::run;
use common::packets::*;
use common::{Broker, Raw, free_port};

fn midge() -> &'static str {
    env!("CARGO_BIN_EXE_midge")
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("midge.conf");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

#[test]
fn a_bad_value_is_an_error_naming_the_line_and_the_broker_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_config(
        &dir,
        "# comment\n\nlistener 0 127.0.0.1\nmax_inflight_messages lots\n",
    );
    let done = run(midge(), &["-c", &conf], None);
    assert_eq!(done.code, Some(1), "{}", done.describe());
    assert!(
        done.stderr.contains(&format!("Error: {conf}:4:")),
        "{}",
        done.describe()
    );
}

#[test]
fn an_unknown_key_is_a_warning_naming_the_line_and_the_broker_starts() {
    if common::midge_only() {
        return; // mosquitto refuses unknown keys
    }
    let broker = Broker::start_with("no_such_key 1");
    broker.wait_for_log(":3: unknown configuration key 'no_such_key'");
    Raw::connected(&broker, "still-works");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let done = run(midge(), &["-c", "/nonexistent/midge.conf"], None);
    assert_eq!(done.code, Some(1), "{}", done.describe());
    assert!(done.stderr.contains("/nonexistent/midge.conf"));
}

#[test]
fn test_config_checks_the_file_and_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write_config(&dir, "listener 1883\nallow_anonymous true\n");
    run(midge(), &["--test-config", "-c", &good], None).assert_success();
    let bad = write_config(&dir, "listener 1883\nallow_anonymous maybe\n");
    let done = run(midge(), &["--test-config", "-c", &bad], None);
    assert_eq!(done.code, Some(1), "{}", done.describe());
    assert!(done.stderr.contains(":2:"), "{}", done.describe());
}

#[test]
fn tls_settings_refuse_to_start_rather_than_serve_plain_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    // mosquitto 2.0.11 serves this listener in plain text; midge will not.
    let conf = write_config(&dir, "listener 0 127.0.0.1\ncertfile /etc/ssl/cert.pem\n");
    let done = run(midge(), &["-c", &conf], None);
    assert_eq!(done.code, Some(1), "{}", done.describe());
    assert!(
        done.stderr
            .contains(":2: listener 0: certfile and keyfile must both be given"),
        "{}",
        done.describe()
    );
}

#[test]
fn a_port_in_use_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = write_config(&dir, &format!("listener {port} 127.0.0.1\n"));
    let done = run(midge(), &["-c", &conf], None);
    assert_eq!(done.code, Some(1), "{}", done.describe());
    assert!(
        done.stderr.contains("Address already in use"),
        "{}",
        done.describe()
    );
}

/// `midge -p PORT` without a config file: local only mode on that port, anonymous allowed.
#[test]
fn dash_p_listens_on_loopback_in_local_only_mode() {
    let port = free_port();
    let proc = common::clients::Proc::spawn(midge(), &["-p", &port.to_string(), "-v"], None);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut stream = loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "midge -p never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::io::{Read, Write};
    stream
        .write_all(&connect_v311("local", true, 60))
        .expect("send");
    let mut connack = [0u8; 4];
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.read_exact(&mut connack).expect("CONNACK");
    assert_eq!(connack, CONNACK_OK);
    let done = proc.kill();
    assert!(
        done.stderr.contains("Starting in local only mode"),
        "{}",
        done.describe()
    );
}

#[test]
fn sigterm_stops_the_broker_cleanly_and_says_why() {
    if common::midge_only() {
        return; // the log wording is ours
    }
    let mut broker = Broker::start();
    let mut v5 = Raw::handshake(
        &broker,
        &Connect::v5("v5").build(),
        &[
            0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x14,
        ],
    );
    let mut v3 = Raw::connected(&broker, "v3");
    broker.signal("TERM");
    // As from mosquitto, MQTT 5 clients too are closed without a DISCONNECT.
    v5.expect_closed();
    v3.expect_closed();
    let status = broker
        .wait_exit(Duration::from_secs(5))
        .expect("the broker exits");
    assert!(status.success(), "exit status {status}");
    broker.wait_for_log("SIGTERM received, shutting down.");
    broker.wait_for_log("terminating");
}

#[test]
fn sigint_stops_the_broker_cleanly() {
    let mut broker = Broker::start();
    Raw::connected(&broker, "c");
    broker.signal("INT");
    let status = broker
        .wait_exit(Duration::from_secs(5))
        .expect("the broker exits");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn sighup_does_not_stop_the_broker() {
    let mut broker = Broker::start();
    broker.signal("HUP");
    std::thread::sleep(Duration::from_millis(200));
    assert!(broker.is_running());
    Raw::connected(&broker, "after-hup");
}

/// Debian's mosquitto.service is `Type=notify`: systemd starts the broker with NOTIFY_SOCKET
/// and waits for READY=1 before it counts it as started.
#[test]
fn under_systemd_the_broker_says_ready_once_it_runs() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    // Reachable by the user the broker drops to, as systemd's socket is.
    let open = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    open(dir.path(), 0o777);
    let socket_path = dir.path().join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind");
    open(&socket_path, 0o666);
    socket
        .set_read_timeout(Some(common::REPLY_TIMEOUT))
        .expect("timeout");
    let port = free_port();
    let conf = write_config(&dir, &format!("listener {port} 127.0.0.1\n"));
    let program = match common::broker_kind() {
        common::Kind::Midge => midge(),
        common::Kind::Mosquitto => "mosquitto",
    };
    let mut child = std::process::Command::new(program)
        .args(["-c", &conf])
        .env("NOTIFY_SOCKET", &socket_path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the broker");
    let mut buf = [0u8; 64];
    let got = socket.recv(&mut buf).map(|n| buf[..n].to_vec());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.expect("a notification"), b"READY=1");
}

/// Out of file descriptors, accept fails and the connection waits in the listener's backlog;
/// the poller will not report it again, so the broker retries at its next tick and takes it
/// once a descriptor is free, without another connection arriving. The failure is logged
/// once, not at every retry.
#[test]
fn a_connection_refused_for_want_of_descriptors_is_taken_once_one_is_free() {
    if common::midge_only() {
        return; // a limit set on the midge binary
    }
    const ACCEPT_FAILED: &str = "Unable to accept new connection, system socket count";
    let broker = Broker::start_with_open_files("", 24);
    let mut served = Vec::new();
    let stranded = loop {
        assert!(served.len() < 24, "the descriptor limit never bit");
        let mut raw = Raw::connect(&broker);
        raw.send(&connect_v311(&format!("c{}", served.len()), true, 60));
        if answered_unless_refused(&broker, &mut raw, ACCEPT_FAILED) {
            served.push(raw);
        } else {
            break raw;
        }
    };
    let mut stranded = stranded;
    let mut freed = served.pop().expect("some clients were served");
    freed.send(&DISCONNECT);
    stranded.expect(&CONNACK_OK);
    assert_eq!(
        broker.log().matches(ACCEPT_FAILED).count(),
        1,
        "{}",
        broker.log()
    );
}

/// Waits for `raw`'s CONNACK, or for the broker to log `refusal`: true if answered.
fn answered_unless_refused(broker: &Broker, raw: &mut Raw, refusal: &str) -> bool {
    raw.stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let answered = wait_for_connack_or_log(broker, raw, refusal);
    raw.stream
        .set_read_timeout(Some(common::REPLY_TIMEOUT))
        .expect("timeout");
    answered
}

fn wait_for_connack_or_log(broker: &Broker, raw: &mut Raw, refusal: &str) -> bool {
    let deadline = std::time::Instant::now() + common::REPLY_TIMEOUT;
    let mut got = Vec::new();
    while std::time::Instant::now() < deadline {
        let mut buf = [0u8; 4];
        match std::io::Read::read(&mut raw.stream, &mut buf[..4 - got.len()]) {
            Ok(0) => panic!("closed instead of answered"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) if broker.log().contains(refusal) => return false,
            Err(_) => {}
        }
        if got.len() == 4 {
            assert_eq!(got, CONNACK_OK);
            return true;
        }
    }
    panic!("neither answered nor refused; log:\n{}", broker.log());
}
