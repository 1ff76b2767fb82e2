//! A whole broker in process, driven by a script of hostile operations: the harness shared
//! by the property tests (`tests/hostile_proptest.rs`) and the `broker_session` fuzz target
//! (`fuzz/`, which includes this file by path).
//!
//! As in `benches/fanout.rs`, there is no event loop: each connection is a real loopback TCP
//! socket whose far end the script holds, and the harness calls `Broker::on_readable`,
//! `flush` and `tick` itself, with a virtual clock, so keep-alive and CONNECT time-outs fire
//! without waiting. A script is a list of [`Op`]s: open connections, send them arbitrary or
//! well-formed bytes, close them gently or with a reset, let time pass. After every op the
//! harness checks what must hold whatever was sent ([`Rig::check`]): the broker's connections
//! are exactly the sockets it has not closed, a socket the client dropped is forgotten, its
//! read buffers never hold more than was sent, its session index is consistent. At the end
//! ([`Rig::finish`]) a client that was connected all along (the bystander) still receives a
//! message that a fresh client publishes, and every socket the broker closed sees the close.
//!
//! Everything is bounded: at most [`MAX_CLIENTS`] connections per script, each read and
//! drain loop stops after a fixed number of rounds.
#![allow(dead_code)]

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use midge::auth::Auth;
use midge::broker::{Broker, Footprint};
use midge::config::Config;
use midge::connection::Connection;
use midge::listener_rules::ListenerRules;
use mio::Token;

/// Hostile connections per script (the bystander and the fresh client come on top).
pub const MAX_CLIENTS: usize = 8;
/// Ops per script; the rest of a longer script is ignored.
pub const MAX_OPS: usize = 256;
/// Bytes kept of what a client received, for the bystander's final check.
const KEEP_RECEIVED_BYTES: usize = 64 * 1024;
/// Rounds of `on_readable` for connections whose read budget ran out.
const READ_ROUNDS_MAX: usize = 64;
/// Reads per client per drain.
const DRAIN_READS_MAX: usize = 64;
/// Flushes per turn for connections whose socket was full.
const FLUSH_ROUNDS_MAX: usize = 64;
/// Output in one turn below which no loopback socket can have filled up (a socket's
/// receive buffer starts at 128 KiB on Linux).
const FULL_SOCKET_BYTES: usize = 64 * 1024;

const BYSTANDER_ID: &[u8] = b"bystander";
const BYSTANDER_TOPIC: &[u8] = b"bystander/check";

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A new TCP connection that has sent nothing yet.
    Open,
    /// A new connection that sends a valid CONNECT: version 3, 4 or 5 (`version % 3 + 3`),
    /// client id `c0`..`c3`, keep-alive 0 to 3 s, maybe a will.
    Hello {
        version: u8,
        id: u8,
        clean: bool,
        keep_alive: u8,
        will: bool,
    },
    /// Arbitrary bytes on connection `client` (modulo the number opened).
    Write { client: u8, bytes: Vec<u8> },
    /// One of a set of well-formed packets (see [`canned`]) in the connection's version.
    Canned { client: u8, packet: u8, id: u8 },
    /// The client closes its socket: with a FIN, or with a reset (`abort`).
    Close { client: u8, abort: bool },
    /// The client shuts down its sending side and keeps reading.
    ShutdownWrite { client: u8 },
    /// Time passes (in quarters of a second, the broker's tick) and the timers run.
    Tick { quarters: u8 },
}

impl Op {
    /// Reads a script from arbitrary bytes, as the fuzz target gets them: an op byte, then
    /// that op's arguments. Every byte string is a valid script.
    pub fn parse_script(data: &[u8]) -> Vec<Op> {
        let mut r = ByteReader { data, pos: 0 };
        let mut ops = Vec::new();
        while let Some(op) = r.next() {
            if ops.len() == MAX_OPS {
                break;
            }
            ops.push(match op % 8 {
                0 => Op::Open,
                1 => {
                    let flags = r.byte();
                    Op::Hello {
                        version: flags & 0x03,
                        id: (flags >> 2) & 0x03,
                        clean: flags & 0x10 != 0,
                        keep_alive: (flags >> 5) & 0x03,
                        will: flags & 0x80 != 0,
                    }
                }
                2 | 3 => {
                    let client = r.byte();
                    let len = match r.byte() {
                        // 255: the rest of the input, for long streams and huge claims.
                        255 => usize::MAX,
                        n => usize::from(n),
                    };
                    Op::Write {
                        client,
                        bytes: r.take(len).to_vec(),
                    }
                }
                4 => Op::Canned {
                    client: r.byte(),
                    packet: r.byte(),
                    id: r.byte(),
                },
                5 => {
                    let b = r.byte();
                    Op::Close {
                        client: b >> 1,
                        abort: b & 1 != 0,
                    }
                }
                6 => Op::ShutdownWrite { client: r.byte() },
                _ => Op::Tick { quarters: r.byte() },
            });
        }
        ops
    }
}

struct ByteReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl ByteReader<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }

    fn take(&mut self, len: usize) -> &[u8] {
        let end = self.pos.saturating_add(len).min(self.data.len());
        let out = &self.data[self.pos..end];
        self.pos = end;
        out
    }
}

/// Broker configurations a script can run under: the defaults, and tight limits that make
/// the bounds themselves reachable with small inputs.
pub const CONFIGS: [&str; 5] = [
    "allow_anonymous true\n",
    "allow_anonymous true\nmax_packet_size 300\nmax_inflight_messages 2\n\
     max_queued_messages 3\nmax_queued_bytes 2000\nmessage_size_limit 100\n\
     max_qos 1\nmax_topic_alias 2\n",
    "allow_anonymous true\nretain_available false\nmax_keepalive 2\n\
     persistent_client_expiration 1m\nqueue_qos0_messages true\nconnect_timeout 1\n\
     upgrade_outgoing_qos true\nlistener 0 127.0.0.1\nmount_point m/\n",
    "allow_anonymous true\nallow_zero_length_clientid false\nmax_queued_messages 0\n\
     max_inflight_messages 65535\nmax_queued_bytes 0\n",
    "allow_anonymous true\nacl_file {ACL}\ncheck_retain_source true\n\
     allow_duplicate_messages true\n",
];

/// The ACL of the last configuration, for the canned packets' topics: `t/a` denied (its
/// publishes refused, its messages filtered at delivery), `t/r` written but never read (retained
/// messages withheld), `t/e` free, wills allowed by a pattern.
const ACL: &str = "topic readwrite bystander/#\ntopic deny t/a\ntopic readwrite t/e\n\
                   topic write t/r\ntopic read t/will\npattern write t/will\n";

/// `ACL` in a file of its own, written once per process.
fn acl_file() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("midge-inproc-{}.acl", std::process::id()));
        std::fs::write(&path, ACL).expect("write the ACL file");
        path.display().to_string()
    })
}

/// Per session: the in-flight window (`max_inflight_messages`, which also bounds inbound
/// QoS 2 awaiting PUBREL) and the queue (`max_queued_messages`) of each of `CONFIGS`.
const SESSION_LIMITS: [(usize, usize); 5] = [
    (20, 1000),
    (2, 3),
    (20, 1000),
    (65535, usize::MAX),
    (20, 1000),
];

/// A hostile client: our end of one connection, and what we know of the broker's end.
struct Client {
    stream: Option<TcpStream>,
    token: Token,
    /// The broker still has this connection (we have not seen it go).
    on_broker: bool,
    /// We closed our end: the broker must forget the connection at its next read.
    closed_by_us: bool,
    /// We saw EOF or a reset from the broker.
    eof: bool,
    /// Bytes we sent, an upper bound for what the broker may hold from us.
    sent: usize,
    /// MQTT version of the CONNECT we sent (4 when we sent arbitrary bytes).
    version: u8,
    received: Vec<u8>,
}

pub struct Rig {
    broker: Broker,
    listener: TcpListener,
    start: Instant,
    elapsed: Duration,
    bystander: Client,
    clients: Vec<Client>,
    accepted: usize,
    /// Everything scripts wrote, searched only for the bystander's id and topic.
    wrote_bystander_id: bool,
    /// `CONFIGS` index.
    variant: usize,
    /// The rules of the configuration's first listener, for every connection.
    rules: Rc<ListenerRules>,
    pub max_footprint: Footprint,
}

impl Rig {
    /// A broker with configuration `CONFIGS[variant % 5]`, a bystander connected and
    /// subscribed to its topic. `listener` is any loopback listener (the fuzz target keeps
    /// one for the whole run).
    pub fn new(variant: u8, listener: TcpListener) -> Rig {
        // The broker writes to sockets whose far end may be gone: like the midge binary,
        // the harness must not die of SIGPIPE (the fuzzer's own main does not ignore it).
        // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let text = CONFIGS[usize::from(variant) % CONFIGS.len()].replace("{ACL}", acl_file());
        let config = Config::parse(&text, "inproc").expect("valid config").0;
        let auth = Auth::load(&config, []).expect("readable security files");
        let first = config.effective_listeners().swap_remove(0);
        let rules = Rc::new(ListenerRules::new(&config, &first));
        let start = Instant::now();
        let mut rig = Rig {
            broker: Broker::new(config, auth),
            listener,
            start,
            elapsed: Duration::ZERO,
            bystander: Client::placeholder(),
            clients: Vec::new(),
            accepted: 0,
            wrote_bystander_id: false,
            variant: usize::from(variant) % CONFIGS.len(),
            rules,
            max_footprint: Footprint::default(),
        };
        let mut bystander = rig.open_client().expect("connect the bystander");
        let mut hello = connect_packet(4, BYSTANDER_ID, true, 0, false);
        hello.extend(packet(
            0x82,
            &[&[0, 1][..], &string(BYSTANDER_TOPIC), &[0]].concat(),
        ));
        send(&mut bystander, &hello);
        rig.bystander = bystander;
        rig.pump(false);
        assert_eq!(
            rig.bystander.received,
            [0x20, 2, 0, 0, 0x90, 3, 0, 1, 0],
            "the bystander's CONNACK and SUBACK"
        );
        rig.bystander.received.clear();
        rig
    }

    /// A listener for [`Rig::new`].
    pub fn listener() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener")
    }

    /// Runs a script, checking the invariants after every op, then the final checks.
    pub fn run(variant: u8, listener: TcpListener, ops: &[Op]) -> Footprint {
        let mut rig = Rig::new(variant, listener);
        for op in ops.iter().take(MAX_OPS) {
            rig.apply(op);
            rig.check();
        }
        rig.finish();
        rig.max_footprint
    }

    /// What the broker holds now.
    pub fn footprint(&self) -> Footprint {
        self.broker.footprint()
    }

    fn now(&self) -> Instant {
        self.start + self.elapsed
    }

    fn open_client(&mut self) -> Option<Client> {
        let addr = self.listener.local_addr().ok()?;
        // A refused or failed connect (out of ports, say) is the machine's limit, not the
        // broker's: the op is skipped.
        let stream = TcpStream::connect(addr).ok()?;
        let (server, peer) = self
            .listener
            .accept()
            .expect("accept a loopback connection");
        server
            .set_nonblocking(true)
            .expect("nonblocking server end");
        stream
            .set_nonblocking(true)
            .expect("nonblocking client end");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let conn = Connection::new(
            mio::net::TcpStream::from_std(server),
            peer,
            0,
            addr.port(),
            Rc::clone(&self.rules),
            self.now(),
        );
        let token = self
            .broker
            .accept(conn, None)
            .expect("no connection limit is configured");
        self.accepted += 1;
        Some(Client {
            stream: Some(stream),
            token,
            on_broker: true,
            closed_by_us: false,
            eof: false,
            sent: 0,
            version: 4,
            received: Vec::new(),
        })
    }

    /// Performs one op, then lets the broker read, flush and (for `Tick`) run its timers.
    pub fn apply(&mut self, op: &Op) {
        let mut tick = false;
        match op {
            Op::Open => {
                if self.clients.len() < MAX_CLIENTS
                    && let Some(client) = self.open_client()
                {
                    self.clients.push(client);
                }
            }
            Op::Hello {
                version,
                id,
                clean,
                keep_alive,
                will,
            } => {
                if self.clients.len() < MAX_CLIENTS
                    && let Some(mut client) = self.open_client()
                {
                    let version = version % 3 + 3;
                    let id = [b'c', b'0' + id % 4];
                    client.version = version;
                    let hello = connect_packet(version, &id, *clean, u16::from(*keep_alive), *will);
                    send(&mut client, &hello);
                    self.clients.push(client);
                }
            }
            Op::Write { client, bytes } => {
                self.note_written(bytes);
                if let Some(c) = self.client(*client) {
                    send(c, bytes);
                }
            }
            Op::Canned { client, packet, id } => {
                if let Some(c) = self.client(*client) {
                    let bytes = canned(*packet, *id, c.version);
                    send(c, &bytes);
                }
            }
            Op::Close { client, abort } => {
                if let Some(c) = self.client(*client)
                    && let Some(stream) = c.stream.take()
                {
                    if *abort {
                        // SO_LINGER 0: close() sends a reset instead of a FIN.
                        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    }
                    drop(stream);
                    c.closed_by_us = true;
                }
            }
            Op::ShutdownWrite { client } => {
                if let Some(c) = self.client(*client)
                    && let Some(stream) = &c.stream
                {
                    let _ = stream.shutdown(std::net::Shutdown::Write);
                }
            }
            Op::Tick { quarters } => {
                self.elapsed += Duration::from_millis(250) * u32::from(*quarters).max(1);
                tick = true;
            }
        }
        self.pump(tick);
    }

    fn client(&mut self, index: u8) -> Option<&mut Client> {
        let n = self.clients.len();
        if n == 0 {
            return None;
        }
        self.clients.get_mut(usize::from(index) % n)
    }

    fn note_written(&mut self, bytes: &[u8]) {
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        self.wrote_bystander_id |= contains(BYSTANDER_ID);
    }

    /// One loop turn, as `event_loop.rs` runs it: read every connection still open (the
    /// harness does not know which are readable, and reading one that is not costs only a
    /// `WouldBlock`), re-read those whose budget ran out, run the timers, flush; then drain
    /// what each client received.
    fn pump(&mut self, tick: bool) {
        self.broker.set_now(self.now());
        let tokens: Vec<Token> = std::iter::once(&self.bystander)
            .chain(&self.clients)
            .filter(|c| c.on_broker)
            .map(|c| c.token)
            .collect();
        for token in tokens {
            self.broker.on_readable(token);
        }
        for _ in 0..READ_ROUNDS_MAX {
            let unfinished = self.broker.take_unfinished_reads();
            if unfinished.is_empty() {
                break;
            }
            for token in unfinished {
                self.broker.on_readable(token);
            }
        }
        if tick {
            self.broker.tick();
        }
        self.broker.flush();
        let drained = self.drain_all();
        let left = self.broker.footprint().send_queued_bytes;
        // A flush stops only at a full socket, and loopback sockets take far more than a
        // small turn's output: bytes left then are bytes nobody flushed.
        assert!(
            left == 0 || drained >= FULL_SOCKET_BYTES,
            "{left} bytes left unsent after a turn that delivered only {drained}"
        );
        // What a full socket held back goes out when it is writable again, as the event
        // loop's writable events make it; the clients read as fast as they can.
        for _ in 0..FLUSH_ROUNDS_MAX {
            if self.broker.footprint().send_queued_bytes == 0 {
                break;
            }
            for c in std::iter::once(&self.bystander).chain(&self.clients) {
                if c.on_broker {
                    self.broker.on_writable(c.token);
                }
            }
            self.broker.flush();
            self.drain_all();
        }
    }

    /// Notes the connections the broker closed, and reads what each client was sent;
    /// returns how many bytes that was.
    fn drain_all(&mut self) -> usize {
        let mut total = 0;
        // No connection is accepted during a turn, so a vacant token is one the broker
        // closed (or forgot after our close) in this turn.
        for c in std::iter::once(&mut self.bystander).chain(&mut self.clients) {
            if c.on_broker && self.broker.socket_mut(c.token).is_none() {
                c.on_broker = false;
            }
            total += drain(c);
        }
        total
    }

    /// What must hold after every op, whatever the script sent.
    pub fn check(&mut self) {
        let f = self.broker.footprint();
        let open = std::iter::once(&self.bystander)
            .chain(&self.clients)
            .filter(|c| c.on_broker)
            .count();
        assert_eq!(
            f.connections, open,
            "the broker's connections are the sockets it has not closed"
        );
        for c in &self.clients {
            assert!(
                !(c.closed_by_us && c.on_broker),
                "a connection whose client closed its socket is still held"
            );
        }
        assert_eq!(
            f.sessions, f.session_ids,
            "every session is in the client id index and nothing else is"
        );
        assert!(
            f.sessions <= self.accepted,
            "more sessions ({}) than connections ever accepted ({})",
            f.sessions,
            self.accepted
        );
        let sent: usize = self
            .clients
            .iter()
            .filter(|c| c.on_broker)
            .map(|c| c.sent)
            .sum();
        assert!(
            f.read_buffered_bytes <= sent,
            "the broker buffers {} bytes but the open connections sent {sent}",
            f.read_buffered_bytes
        );
        assert_eq!(
            f.send_queued_bytes, 0,
            "output left unsent to clients that read everything"
        );
        let (inflight_max, queued_max) = SESSION_LIMITS[self.variant];
        assert!(
            f.inflight <= f.sessions * inflight_max && f.incoming <= f.sessions * inflight_max,
            "{} in flight out and {} in, for {} sessions of at most {inflight_max}",
            f.inflight,
            f.incoming,
            f.sessions
        );
        assert!(
            f.queued <= f.sessions.saturating_mul(queued_max),
            "{} queued for {} sessions of at most {queued_max}",
            f.queued,
            f.sessions
        );
        // A read reserves one 16 KiB chunk; growth to hold a packet at most doubles.
        let capacity_bound = 2 * f.read_buffered_bytes + 64 * 1024 * f.connections;
        assert!(
            f.read_capacity_bytes <= capacity_bound,
            "read buffers take {} bytes for {} buffered",
            f.read_capacity_bytes,
            f.read_buffered_bytes
        );
        let max = &mut self.max_footprint;
        max.connections = max.connections.max(f.connections);
        max.sessions = max.sessions.max(f.sessions);
        max.session_ids = max.session_ids.max(f.session_ids);
        max.read_buffered_bytes = max.read_buffered_bytes.max(f.read_buffered_bytes);
        max.read_capacity_bytes = max.read_capacity_bytes.max(f.read_capacity_bytes);
        max.send_queued_bytes = max.send_queued_bytes.max(f.send_queued_bytes);
        max.subscriptions = max.subscriptions.max(f.subscriptions);
        max.inflight = max.inflight.max(f.inflight);
        max.queued = max.queued.max(f.queued);
        max.incoming = max.incoming.max(f.incoming);
        max.retained = max.retained.max(f.retained);
    }

    /// The final checks: the bystander is still served (a fresh client's message reaches
    /// it), and every connection the broker closed was really closed.
    pub fn finish(&mut self) {
        self.check();
        if !self.wrote_bystander_id {
            // Only a client that took over the bystander's id could have closed it.
            assert!(
                self.bystander.on_broker,
                "the bystander was disconnected by another client's input"
            );
            self.assert_bystander_served();
        }
        for c in &mut self.clients {
            if !c.on_broker && !c.closed_by_us && !c.eof {
                wait_for_eof(c);
            }
        }
        for c in std::iter::once(&mut self.bystander).chain(&mut self.clients) {
            // A reset, not a FIN: no TIME_WAIT left behind by a fuzzer's millions of runs.
            if let Some(stream) = c.stream.take() {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
        }
    }

    fn assert_bystander_served(&mut self) {
        let Some(mut fresh) = self.open_client() else {
            return;
        };
        let marker = format!("still served {}", self.accepted);
        let mut bytes = connect_packet(4, b"fresh", true, 0, false);
        let mut body = string(BYSTANDER_TOPIC);
        body.extend_from_slice(marker.as_bytes());
        bytes.extend(packet(0x30, &body));
        bytes.extend([0xc0, 0]);
        send(&mut fresh, &bytes);
        self.clients.push(fresh);
        self.bystander.received.clear();
        self.pump(false);
        let fresh = self.clients.last().expect("the fresh client");
        assert_eq!(
            fresh.received,
            [0x20, 2, 0, 0, 0xd0, 0],
            "a fresh client gets CONNACK and PINGRESP"
        );
        // Other clients may publish to the bystander's topic too: look for the marker.
        let found = self
            .bystander
            .received
            .windows(marker.len())
            .any(|w| w == marker.as_bytes());
        assert!(
            found,
            "the bystander did not receive the fresh client's message"
        );
    }
}

impl Client {
    fn placeholder() -> Client {
        Client {
            stream: None,
            token: Token(usize::MAX),
            on_broker: false,
            closed_by_us: false,
            eof: false,
            sent: 0,
            version: 4,
            received: Vec::new(),
        }
    }
}

fn send(c: &mut Client, bytes: &[u8]) {
    let Some(stream) = &c.stream else { return };
    // MSG_NOSIGNAL: a broker that closed the connection makes this fail, not kill us.
    let sock = socket2::SockRef::from(stream);
    let mut done = 0;
    for _ in 0..1024 {
        if done == bytes.len() {
            break;
        }
        match sock.send_with_flags(&bytes[done..], libc::MSG_NOSIGNAL) {
            Ok(0) => break,
            Ok(n) => done += n,
            // The socket buffers are full: the rest is not sent (the script stays bounded).
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    c.sent += done;
}

/// Reads what the broker sent until the socket is empty, noting EOF or a reset; returns
/// the number of bytes read.
fn drain(c: &mut Client) -> usize {
    let mut total = 0;
    let Some(stream) = &mut c.stream else {
        return total;
    };
    let mut buf = [0u8; 16 * 1024];
    for _ in 0..DRAIN_READS_MAX {
        match stream.read(&mut buf) {
            Ok(0) => {
                c.eof = true;
                return total;
            }
            Ok(n) => {
                total += n;
                c.received.extend_from_slice(&buf[..n]);
                if c.received.len() > KEEP_RECEIVED_BYTES {
                    let cut = c.received.len() - KEEP_RECEIVED_BYTES;
                    c.received.drain(..cut);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                c.eof = true;
                return total;
            }
        }
    }
    total
}

/// The broker dropped this connection: its client must see the close (at once on loopback;
/// two seconds allowed before the harness calls it a leak).
fn wait_for_eof(c: &mut Client) {
    let Some(stream) = &mut c.stream else { return };
    let deadline = Instant::now() + Duration::from_secs(2);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    panic!("the broker forgot a connection but its socket was never closed");
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

fn packet(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    let mut n = body.len();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A valid CONNECT for MQTT 3.1 (`version` 3), 3.1.1 (4) or 5.0 (5).
pub fn connect_packet(version: u8, id: &[u8], clean: bool, keep_alive: u16, will: bool) -> Vec<u8> {
    let v5 = version == 5;
    let mut body = if version == 3 {
        string(b"MQIsdp")
    } else {
        string(b"MQTT")
    };
    body.push(version);
    let mut flags = if clean { 0x02 } else { 0 };
    if will {
        flags |= 0x04 | 0x08; // will, QoS 1
    }
    body.push(flags);
    body.extend_from_slice(&keep_alive.to_be_bytes());
    if v5 {
        // Session expiry 60 s when not clean, so persistent sessions outlive a close.
        if clean {
            body.push(0);
        } else {
            body.extend_from_slice(&[5, 0x11, 0, 0, 0, 60]);
        }
    }
    body.extend(string(id));
    if will {
        if v5 {
            body.extend_from_slice(&[5, 0x18, 0, 0, 0, 1]); // will delay 1 s
        }
        body.extend(string(b"t/will"));
        body.extend(string(b"gone"));
    }
    packet(0x10, &body)
}

/// Well-formed packets a connected client may send (and a few it may not), in `version`'s
/// form: enough to reach subscriptions, QoS 1/2 flows, retained messages, shared groups and
/// topic aliases from a short script. Packet ids are 1 to 4, so that they collide.
pub fn canned(which: u8, id: u8, version: u8) -> Vec<u8> {
    let v5 = version == 5;
    let pid = [0, id % 4 + 1];
    let props: &[u8] = if v5 { &[0] } else { &[] };
    let publish = |flags: u8, topic: &[u8], with_id: bool, props: &[u8]| {
        let mut body = string(topic);
        if with_id {
            body.extend_from_slice(&pid);
        }
        if v5 {
            body.extend_from_slice(props);
        }
        body.extend_from_slice(b"payload");
        packet(0x30 | flags, &body)
    };
    let subscribe = |filter: &[u8], options: u8| {
        let mut body = pid.to_vec();
        body.extend_from_slice(props);
        body.extend(string(filter));
        body.push(if v5 { options } else { options & 0x03 });
        packet(0x82, &body)
    };
    match which % 16 {
        0 => subscribe(b"t/#", 2),
        1 => subscribe(b"$share/g/t/+", 1),
        2 => subscribe(b"t/a", 0x04 | 0x08 | 0x10 | 1), // no local, RAP, retain handling 1
        3 => publish(0, b"t/a", false, &[0]),
        4 => publish(2, b"t/a", true, &[0]),
        5 => publish(4, b"t/a", true, &[0]),
        6 => publish(3, b"t/r", true, &[0]), // retained QoS 1
        7 => publish(0, b"t/e", false, &[5, 0x02, 0, 0, 0, 1]), // expires in 1 s
        8 => publish(0, b"t/a", false, &[3, 0x23, 0, 1]), // sets topic alias 1
        9 => publish(0, b"", false, &[3, 0x23, 0, 1]), // uses topic alias 1
        10 => packet(0x40, &pid),
        11 => packet(0x50, &pid),
        12 => packet(0x62, &pid),
        13 => packet(0x70, &pid),
        14 => {
            let mut body = pid.to_vec();
            body.extend_from_slice(props);
            body.extend(string(b"t/#"));
            packet(0xa2, &body)
        }
        _ => match id % 3 {
            0 => vec![0xc0, 0],
            1 => vec![0xe0, 0],
            _ if v5 => vec![0xe0, 1, 0x04], // DISCONNECT with will
            _ => vec![0xe0, 0],
        },
    }
}
