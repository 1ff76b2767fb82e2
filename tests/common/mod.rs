//! Shared harness for the end-to-end tests: start a real broker on an ephemeral loopback port
//! and talk to it in raw bytes.
//!
//! The tests run against midge by default. With `MIDGE_TEST_BROKER=mosquitto` the same tests
//! run against Debian's mosquitto 2.0, which is how we check that an expectation written here
//! is mosquitto's behaviour and not just ours. Tests for behaviour where midge deliberately
//! differs call `midge_only()` first.
#![allow(dead_code)]

pub mod clients;
pub mod mqtt5;
pub mod packets;
pub mod security;
pub mod turns;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a test waits for a reply before failing. Generous: CI machines are shared.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Midge,
    Mosquitto,
}

pub fn broker_kind() -> Kind {
    match std::env::var("MIDGE_TEST_BROKER").as_deref() {
        Ok("mosquitto") => Kind::Mosquitto,
        _ => Kind::Midge,
    }
}

/// Returns true (and the caller should return) when the test only makes sense against midge.
pub fn midge_only() -> bool {
    if broker_kind() == Kind::Mosquitto {
        eprintln!("skipped: midge-only behaviour");
        return true;
    }
    false
}

/// A broker process that lives as long as this value.
pub struct Broker {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// A broker with anonymous access on 127.0.0.1 and default settings.
    pub fn start() -> Broker {
        Broker::start_with("")
    }

    /// A broker whose config file is the default test config plus `extra` lines.
    /// The broker, midge with `setting` lifting one of its default bounds that mosquitto
    /// 2.0.11 does not have (`max_packet_size`, `max_topic_length`), so both take the same
    /// input.
    pub fn without_midges_bound(setting: &str) -> Broker {
        match midge_only() {
            true => Broker::start(),
            false => Broker::start_with(setting),
        }
    }

    pub fn start_with(extra: &str) -> Broker {
        Broker::start_kind(broker_kind(), extra)
    }

    /// A broker of the given kind, whatever `MIDGE_TEST_BROKER` says: for tests that need
    /// one broker in particular (our clients against mosquitto, say).
    pub fn start_kind(kind: Kind, extra: &str) -> Broker {
        match kind {
            Kind::Midge => Broker::spawn_midge(extra, None, None),
            Kind::Mosquitto => {
                // mosquitto cannot report a port it chose itself, so we pick one that was
                // free a moment ago. With tests in parallel another socket can take it in the
                // meantime; mosquitto then fails to bind and we must not talk to whatever
                // listens there, so wait for mosquitto to say it runs, and retry otherwise.
                for attempt in 1.. {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let port = free_port();
                    let conf =
                        format!("listener {port} 127.0.0.1\nallow_anonymous true\n{extra}\n");
                    let mut broker = Broker::spawn("mosquitto", &conf, dir, Some(port), None, None);
                    if broker.mosquitto_started() {
                        broker.wait_until_listening();
                        return broker;
                    }
                    eprintln!("mosquitto failed to start on port {port}, retrying");
                    assert!(
                        attempt < 5,
                        "mosquitto did not start; log:\n{}",
                        broker.log()
                    );
                }
                unreachable!("the loop returns or panics")
            }
        }
    }

    /// A broker whose whole config file is `conf(port_a, port_b)`, for configurations the
    /// default test lines would spoil (`per_listener_settings` must come first). The ports
    /// were free a moment ago; if one was taken meanwhile, it tries again with others.
    /// `port` is `port_a`; the second port is returned beside the broker.
    pub fn start_config(kind: Kind, conf: impl Fn(u16, u16) -> String) -> (Broker, u16) {
        let program = match kind {
            Kind::Midge => env!("CARGO_BIN_EXE_midge"),
            Kind::Mosquitto => "mosquitto",
        };
        for attempt in 1.. {
            let dir = tempfile::tempdir().expect("tempdir");
            let (a, b) = (free_port(), free_port());
            let mut broker = Broker::spawn(program, &conf(a, b), dir, Some(a), None, None);
            if broker.mosquitto_started() {
                broker.wait_until_listening();
                return (broker, b);
            }
            assert!(
                attempt < 5,
                "{program} did not start; log:\n{}",
                broker.log()
            );
        }
        unreachable!("the loop returns or panics")
    }

    /// A midge with the default test config plus `extra`, allowed `open_files` file
    /// descriptors (RLIMIT_NOFILE), for what happens when accept runs out of them.
    pub fn start_with_open_files(extra: &str, open_files: u64) -> Broker {
        Broker::spawn_midge(extra, Some(open_files), None)
    }

    /// midge with the default test config plus `extra`, as `spawn` starts it.
    fn spawn_midge(extra: &str, open_files: Option<u64>, gate: Option<&std::path::Path>) -> Broker {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = format!("listener 0 127.0.0.1\nallow_anonymous true\n{extra}\n");
        Broker::spawn(
            env!("CARGO_BIN_EXE_midge"),
            &conf,
            dir,
            None,
            open_files,
            gate,
        )
    }

    /// A midge with the default test config plus `extra`, whose persistence writer writes
    /// nothing while the file `gate` exists (a debug build's test hook, see
    /// `persist/writer.rs`): a disk as slow as the test wants.
    pub fn start_with_writer_gate(extra: &str, gate: &std::path::Path) -> Broker {
        Broker::spawn_midge(extra, None, Some(gate))
    }

    /// Waits for mosquitto's "running" line; false if it failed (port taken, say) instead.
    fn mosquitto_started(&mut self) -> bool {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let log = self.log();
            if log.contains(" running\n") {
                return true;
            }
            if log.contains("Error:") || !self.is_running() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto neither started nor failed; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn spawn(
        program: &str,
        conf: &str,
        dir: tempfile::TempDir,
        port: Option<u16>,
        open_files: Option<u64>,
        writer_gate: Option<&std::path::Path>,
    ) -> Broker {
        let path = dir.path().join("broker.conf");
        std::fs::write(&path, conf).expect("write config");
        let mut command = Command::new(program);
        if let Some(gate) = writer_gate {
            command.env("MIDGE_TEST_WRITER_GATE", gate);
        }
        if let Some(n) = open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe, and the closure touches nothing else.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                        0 => Ok(()),
                        _ => Err(std::io::Error::last_os_error()),
                    }
                });
            }
        }
        let mut child = command
            .arg("-c")
            .arg(&path)
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        for out in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let log = Arc::clone(&log);
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(p) = listen_port_in(&line) {
                        let _ = port_tx.send(p);
                    }
                    let mut log = log.lock().expect("log lock");
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let (port, known_port) = match port {
            Some(p) => (p, true),
            None => (wait_for_port(program, &mut child, &port_rx, &log), false),
        };
        let broker = Broker {
            child,
            port,
            log,
            _dir: dir,
        };
        // With a port chosen for it, the caller first checks the broker is the one listening.
        if !known_port {
            broker.wait_until_listening();
        }
        broker
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while TcpStream::connect(self.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "broker never listened on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The broker's process id, for /proc and signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the broker logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until the log contains `needle`, failing the test after the reply timeout.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "log never showed {needle:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The broker's resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("broker status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Sends a signal (`"TERM"`, `"INT"`, `"HUP"`) to the broker process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the broker to exit by itself; None if it is still running after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// True while the broker process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the broker to log its listening port, failing at once (with its log) if the
/// process exits first, as a broker that cannot start does.
fn wait_for_port(
    program: &str,
    child: &mut Child,
    port_rx: &mpsc::Receiver<u16>,
    log: &Mutex<String>,
) -> u16 {
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        match port_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(port) => return port,
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Let the reader threads catch the last lines.
            std::thread::sleep(Duration::from_millis(50));
            panic!(
                "{program} exited ({status}) before listening; log:\n{}",
                log.lock().expect("log lock")
            );
        }
        assert!(
            Instant::now() < deadline,
            "{program} never said which port it listens on; log:\n{}",
            log.lock().expect("log lock")
        );
    }
}

/// Parses mosquitto's "Opening ipv4 listen socket on port 1883." log line.
fn listen_port_in(line: &str) -> Option<u16> {
    let rest = line.split("Opening ipv4 listen socket on port ").nth(1)?;
    rest.trim_end_matches('.').parse().ok()
}

/// A port that was free a moment ago (only for brokers that cannot bind port 0 and report it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A TCP connection that speaks raw bytes, for exact expectations on the wire.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(broker: &Broker) -> Raw {
        let stream =
            TcpStream::connect(broker.addr()).expect("connect to the broker (has it crashed?)");
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("set read timeout");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        Raw { stream }
    }

    /// Connects, sends `connect` and expects exactly `reply` (normally a CONNACK).
    pub fn handshake(broker: &Broker, connect: &[u8], reply: &[u8]) -> Raw {
        let mut raw = Raw::connect(broker);
        raw.send(connect);
        raw.expect(reply);
        raw
    }

    /// Connects with MQTT 3.1.1 and clean session 0, expecting CONNACK with the given
    /// session present flag.
    pub fn connected_persistent(broker: &Broker, client_id: &str, session_present: bool) -> Raw {
        Raw::handshake(
            broker,
            &packets::connect_v311(client_id, false, 60),
            &packets::connack(session_present, 0),
        )
    }

    /// A persistent session subscribed to `filter` (packet id 1) whose client has gone:
    /// messages for it now wait in its queue.
    pub fn offline_subscriber(broker: &Broker, client_id: &str, filter: &str, qos: u8) {
        let mut sub = Raw::connected_persistent(broker, client_id, false);
        sub.send(&packets::subscribe(1, filter, qos));
        sub.expect(&packets::suback(1, qos));
        sub.send(&packets::DISCONNECT);
        sub.expect_closed();
    }

    /// Connects with a clean session and subscribes to `filter` (packet id 1).
    pub fn subscribed(broker: &Broker, client_id: &str, filter: &str, qos: u8) -> Raw {
        let mut sub = Raw::connected(broker, client_id);
        sub.send(&packets::subscribe(1, filter, qos));
        sub.expect(&packets::suback(1, qos));
        sub
    }

    /// Connects and completes an MQTT 3.1.1 CONNECT with a clean session.
    pub fn connected(broker: &Broker, client_id: &str) -> Raw {
        let mut raw = Raw::connect(broker);
        raw.send(&packets::connect_v311(client_id, true, 60));
        raw.expect(&packets::CONNACK_OK);
        raw
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads exactly `expected.len()` bytes and asserts they are `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        let mut got = vec![0u8; expected.len()];
        if let Err(e) = self.stream.read_exact(&mut got) {
            panic!("expected {} but the read failed: {e}", hex(expected));
        }
        assert_eq!(hex(&got), hex(expected), "unexpected bytes from the broker");
    }

    /// Reads one whole MQTT packet (fixed header and remaining length) and returns its bytes.
    pub fn recv_packet(&mut self) -> Vec<u8> {
        let mut packet = vec![0u8; 1];
        self.stream
            .read_exact(&mut packet)
            .expect("read packet type");
        let mut remaining = 0usize;
        for shift in (0..28).step_by(7) {
            let mut b = [0u8; 1];
            self.stream
                .read_exact(&mut b)
                .expect("read remaining length");
            packet.push(b[0]);
            remaining |= ((b[0] & 0x7f) as usize) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        let start = packet.len();
        packet.resize(start + remaining, 0);
        self.stream
            .read_exact(&mut packet[start..])
            .expect("read packet body");
        packet
    }

    /// One read, retried when a signal interrupts it: a read with a timeout fails with EINTR
    /// whenever another test thread's child process exits.
    fn read_uninterrupted(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.stream.read(buf) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                result => return result,
            }
        }
    }

    /// Asserts the broker closes the connection (EOF or reset) without sending anything more.
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 256];
        match self.read_uninterrupted(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("expected close, got {}", hex(&buf[..n])),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected close, got error {e}"),
        }
    }

    /// Asserts the broker closes the connection within `limit` without sending anything more,
    /// and returns how long that took.
    pub fn expect_closed_within(&mut self, limit: Duration) -> Duration {
        let start = Instant::now();
        self.stream
            .set_read_timeout(Some(limit))
            .expect("set read timeout");
        let mut buf = [0u8; 256];
        let result = self.read_uninterrupted(&mut buf);
        let elapsed = start.elapsed();
        match result {
            Ok(0) => {}
            Ok(n) => panic!("expected close, got {}", hex(&buf[..n])),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the broker did not close the connection within {limit:?}")
            }
            Err(e) => panic!("expected close, got error {e}"),
        }
        self.stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("set read timeout");
        elapsed
    }

    /// Reads `expected.len()` packets and asserts they are `expected` in any order (for
    /// deliveries whose order the protocol does not fix, such as retained messages from
    /// several topics).
    pub fn expect_unordered(&mut self, expected: &[Vec<u8>]) {
        let mut got: Vec<String> = (0..expected.len())
            .map(|_| hex(&self.recv_packet()))
            .collect();
        let mut want: Vec<String> = expected.iter().map(|p| hex(p)).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "unexpected packets from the broker");
    }

    /// Asserts nothing arrives for `ms` milliseconds.
    pub fn expect_silence(&mut self, ms: u64) {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .expect("set read timeout");
        let mut buf = [0u8; 256];
        match self.read_uninterrupted(&mut buf) {
            Ok(0) => panic!("expected silence, the broker closed the connection"),
            Ok(n) => panic!("expected silence, got {}", hex(&buf[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("expected silence, got error {e}"),
        }
        self.stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("set read timeout");
    }
}

/// A client connected before a misbehaving one, to check afterwards that the broker still
/// serves everybody else: the misbehaving connection must be the only one closed.
pub struct Bystander {
    subscriber: Raw,
    checks: u16,
}

pub const BYSTANDER_TOPIC: &str = "bystander/check";

impl Bystander {
    /// Connects as `bystander-sub` and subscribes to [`BYSTANDER_TOPIC`] at QoS 0.
    pub fn new(broker: &Broker) -> Bystander {
        let mut subscriber = Raw::connected(broker, "bystander-sub");
        subscriber.send(&packets::subscribe(1, BYSTANDER_TOPIC, 0));
        subscriber.expect(&packets::suback(1, 0));
        Bystander {
            subscriber,
            checks: 0,
        }
    }

    /// A new client publishes at QoS 1 (and gets its PUBACK) and the subscriber that was
    /// connected all along receives the message, then a PINGRESP (which also keeps it
    /// alive through a long test).
    pub fn assert_still_served(&mut self, broker: &Broker) {
        self.checks += 1;
        let payload = format!("still here {}", self.checks);
        let mut publisher = Raw::connected(broker, "bystander-pub");
        publisher.send(&packets::publish(
            BYSTANDER_TOPIC,
            payload.as_bytes(),
            1,
            false,
            self.checks,
        ));
        publisher.expect(&packets::puback(self.checks));
        self.subscriber.expect(&packets::publish(
            BYSTANDER_TOPIC,
            payload.as_bytes(),
            0,
            false,
            0,
        ));
        self.subscriber.send(&packets::PINGREQ);
        self.subscriber.expect(&packets::PINGRESP);
        publisher.send(&packets::DISCONNECT);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
