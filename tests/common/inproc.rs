//! A whole broker in process, driven by a script of hostile operations: the harness shared
//! by the property tests (`tests/hostile_proptest.rs`) and the `broker_session` fuzz target
//! (`fuzz/`, which includes this file by path).
//!
//! As in `benches/fanout.rs`, there is no event loop: each connection is a real loopback TCP
//! socket whose far end the script holds, and the harness calls `Broker::on_readable`,
//! `flush` and `tick` itself, with a virtual clock, so keep-alive and CONNECT time-outs fire
//! without waiting. A script is a list of [`Op`]s: open connections, send them arbitrary or
//! well-formed bytes (or one packet many times), close them gently or with a reset, stop
//! reading and read again, let time pass. A client that reads does so after every turn; one
//! that stopped does not, and since the sockets' buffers are small (a few KiB), its socket
//! fills and the broker must hold the rest. After every op the harness checks what must hold
//! whatever was sent ([`Rig::check`]): the broker's connections are exactly the sockets it has
//! not closed, a socket the client dropped is forgotten, nothing is left unsent to a client
//! that reads, its session index is consistent, and what it holds in bytes
//! (`Broker::footprint`) is within what was sent and what the configuration allows: no read
//! buffer beyond the largest packet and one read, no connection's unsent output (replies
//! included) beyond its bound and one packet whoever stopped reading, retained messages and
//! inbound QoS 2 messages within the bytes clients sent, session queues within
//! `max_queued_bytes`, windows within `max_inflight_bytes` and one message, byte counters
//! that agree with the queues (`inproc/checks.rs`). At the end ([`Rig::finish`]) a client
//! that was connected all along (the bystander) still receives a message that a fresh client
//! publishes, whoever stopped reading, and every socket the broker closed sees the close.
//! The ops and the packets they send are in `inproc/script.rs`.
//!
//! Everything is bounded: at most [`MAX_CLIENTS`] connections per script, each read, flush
//! and drain loop stops after a fixed number of rounds.
#![allow(dead_code)]

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use midge::auth::Auth;
use midge::broker::{Broker, ConnectionFootprint, Footprint, FootprintBounds};
use midge::config::Config;
use midge::connection::Connection;
use midge::listener_rules::ListenerRules;
use mio::Token;

#[path = "inproc/checks.rs"]
mod checks;
#[path = "packets.rs"]
pub mod packets;
#[path = "inproc/script.rs"]
mod script;

pub use script::{Op, canned, connect_packet};
use script::{packet, string};

/// Hostile connections per script (the bystander and the fresh client come on top).
pub const MAX_CLIENTS: usize = 8;
/// Ops per script; the rest of a longer script is ignored.
pub const MAX_OPS: usize = 256;
/// Bytes a delivered PUBLISH may have beyond the bytes of the PUBLISH it came from: the
/// mount point, a topic alias, subscription identifiers, the remaining expiry.
const PACKET_GROWTH_BYTES: usize = 64;
/// Bytes kept of what a client received, for the bystander's final check.
const KEEP_RECEIVED_BYTES: usize = 64 * 1024;
/// Loop turns per op, for connections that back-pressure stopped and their drain resumed.
const TURNS_MAX: usize = 1024;
/// Rounds of `on_readable` for connections whose read budget ran out.
const READ_ROUNDS_MAX: usize = 64;
/// Reads per client per drain.
const DRAIN_READS_MAX: usize = 64;
/// Flushes per turn for connections whose socket was full.
const FLUSH_ROUNDS_MAX: usize = 1024;
/// The socket buffers asked for on both ends of the path from broker to client (the
/// broker's send buffer, the client's receive buffer; Linux doubles and rounds them up),
/// small so that a client that stops reading makes the broker hold output after a few
/// KiB, within reach of a short script.
const SOCKET_BUFFER_BYTES: usize = 4096;
/// Times a `Flood` op sends its packet, per unit of its count.
const FLOOD_TIMES: usize = 32;
/// Packets all the floods of one script may send, so that no script costs the fuzzer more
/// than a second or so (a script of floods alone would send half a million packets).
const FLOOD_PACKETS_MAX: usize = 16 * 1024;

const BYSTANDER_ID: &[u8] = b"bystander";
const BYSTANDER_TOPIC: &[u8] = b"bystander/check";

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
    /// We read what the broker sends (`Op::StopReading` clears it).
    reading: bool,
    /// Bytes we sent, an upper bound for what the broker may hold from us.
    sent: usize,
    /// MQTT version of the CONNECT we sent (4 when we sent arbitrary bytes).
    version: u8,
    received: Vec<u8>,
    received_total: usize,
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
    /// Packets the floods of this script may still send (`FLOOD_PACKETS_MAX`).
    flood_packets_left: usize,
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
        let text = CONFIGS[usize::from(variant) % CONFIGS.len()].replace("{ACL}", acl_file());
        let mut rig = Rig::with_config(&text, listener);
        rig.variant = usize::from(variant) % CONFIGS.len();
        rig
    }

    /// A broker with the configuration `text` (and a bystander, as from `new`), for tests
    /// that script one behaviour; `check` assumes the limits of `CONFIGS[0]`.
    pub fn with_config(text: &str, listener: TcpListener) -> Rig {
        // The broker writes to sockets whose far end may be gone: like the midge binary,
        // the harness must not die of SIGPIPE (the fuzzer's own main does not ignore it).
        // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let config = Config::parse(text, "inproc").expect("valid config").0;
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
            flood_packets_left: FLOOD_PACKETS_MAX,
            variant: 0,
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

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Connections opened so far, closed ones included: the index `Op`s refer to them by.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// What the broker holds now.
    pub fn footprint(&self) -> Footprint {
        self.broker.footprint()
    }

    pub fn bounds(&self) -> FootprintBounds {
        self.broker.footprint_bounds()
    }

    /// What the broker holds for client `index` (in the order they were opened); `None`
    /// once it closed the connection.
    pub fn client_footprint(&self, index: usize) -> Option<ConnectionFootprint> {
        let c = self.clients.get(index)?;
        self.broker
            .connection_footprint(c.token)
            .filter(|_| c.on_broker)
    }

    /// Bytes client `index` has read so far.
    pub fn client_received_bytes(&self, index: usize) -> usize {
        self.clients.get(index).map_or(0, |c| c.received_total)
    }

    fn now(&self) -> Instant {
        self.start + self.elapsed
    }

    fn open_client(&mut self) -> Option<Client> {
        let addr = self.listener.local_addr().ok()?;
        // A refused or failed connect (out of ports, say) is the machine's limit, not the
        // broker's: the op is skipped.
        let stream = connect_small(addr)?;
        let (server, peer) = self
            .listener
            .accept()
            .expect("accept a loopback connection");
        server
            .set_nonblocking(true)
            .expect("nonblocking server end");
        socket2::SockRef::from(&server)
            .set_send_buffer_size(SOCKET_BUFFER_BYTES)
            .expect("SO_SNDBUF");
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
            reading: true,
            sent: 0,
            version: 4,
            received: Vec::new(),
            received_total: 0,
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
                    // The poller reports the hang-up as readable and writable: a connection
                    // that back-pressure stopped reading learns of it from its next write.
                    let token = c.token;
                    self.broker.on_writable(token);
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
            Op::StopReading { client } | Op::ResumeReading { client } => {
                let reading = matches!(op, Op::ResumeReading { .. });
                if let Some(c) = self.client(*client) {
                    c.reading = reading;
                }
            }
            Op::Flood {
                client,
                packet,
                id,
                times,
            } => {
                let count = (usize::from(*times).max(1) * FLOOD_TIMES).min(self.flood_packets_left);
                if let Some(c) = self.client(*client) {
                    let one = canned(*packet, *id, c.version);
                    send(c, &one.repeat(count));
                    self.flood_packets_left -= count;
                }
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

    /// Loop turns, as `event_loop.rs` runs them, until the broker has nothing more to read
    /// now and no session left to tear down: each reads every connection still open (the harness does not know which are
    /// readable, and reading one that is not costs only a `WouldBlock`) and those whose
    /// budget ran out, runs the timers (the first turn of a `Tick`), flushes, and lets the
    /// clients that read drain what they got. A connection that back-pressure stopped is read
    /// again once its output drained, in the next turn, so a backlog is worked off within
    /// the op as far as the clients read.
    fn pump(&mut self, tick: bool) {
        self.broker.set_now(self.now());
        let mut tokens: Vec<Token> = std::iter::once(&self.bystander)
            .chain(&self.clients)
            .filter(|c| c.on_broker)
            .map(|c| c.token)
            .collect();
        for turn in 0..TURNS_MAX {
            self.turn(&tokens, tick && turn == 0);
            tokens = self.broker.take_unfinished_reads();
            if tokens.is_empty() && !self.broker.teardown_pending() {
                break;
            }
        }
    }

    fn turn(&mut self, tokens: &[Token], tick: bool) {
        for &token in tokens {
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
        // A flush stops only at a full socket or at the turn's write budget, and a full
        // socket has bytes to read: a reading client that got nothing while the broker
        // holds bytes for it, and no budget ran out, was never flushed.
        let deferred = self.broker.flush_deferred();
        for (c, drained) in std::iter::once(&self.bystander)
            .chain(&self.clients)
            .zip(drained)
        {
            let left = self.unsent(c);
            assert!(
                !c.reading || c.stream.is_none() || drained > 0 || left == 0 || deferred,
                "{left} bytes left unsent to a client whose socket was empty"
            );
        }
        // What a full socket held back goes out when it is writable again, as the event
        // loop's writable events make it; the clients that read do so as fast as they can.
        for _ in 0..FLUSH_ROUNDS_MAX {
            if self.unsent_to_readers() == 0 {
                break;
            }
            self.flush_round();
        }
    }

    /// Every connection is told its socket is writable, as the event loop would be, then the
    /// clients that read do so. Lingering connections are included; a token that is vacant
    /// or was reused by a later connection costs only a flush.
    fn flush_round(&mut self) {
        for c in std::iter::once(&self.bystander).chain(&self.clients) {
            self.broker.on_writable(c.token);
        }
        self.broker.flush();
        self.drain_all();
    }

    /// Bytes the broker holds for this client's connection.
    fn unsent(&self, c: &Client) -> usize {
        let f = c
            .on_broker
            .then(|| self.broker.connection_footprint(c.token));
        f.flatten().map_or(0, |f| f.send_queued_bytes)
    }

    fn unsent_to_readers(&self) -> usize {
        std::iter::once(&self.bystander)
            .chain(&self.clients)
            // A closed socket holds nothing back: the broker's next write fails.
            .filter(|c| c.reading || c.stream.is_none())
            .map(|c| self.unsent(c))
            .sum()
    }

    /// Notes the connections the broker closed, and reads what each client that reads was
    /// sent; returns how many bytes that was, per client (the bystander first).
    fn drain_all(&mut self) -> Vec<usize> {
        // No connection is accepted during a turn, so a vacant token is one the broker
        // closed (or forgot after our close) in this turn.
        let mut drained = Vec::with_capacity(self.clients.len() + 1);
        for c in std::iter::once(&mut self.bystander).chain(&mut self.clients) {
            if c.on_broker && self.broker.socket_mut(c.token).is_none() {
                c.on_broker = false;
            }
            drained.push(if c.reading { drain(c) } else { 0 });
        }
        drained
    }

    /// Bytes every client ever sent, closed ones included: a bound for anything the broker
    /// keeps of theirs (retained messages, say), and so for any one packet it sends.
    fn sent_total(&self) -> usize {
        std::iter::once(&self.bystander)
            .chain(&self.clients)
            .map(|c| c.sent)
            .sum()
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
        // The clients that stopped reading read again, so that the connections the broker
        // closed can write their last bytes and their FIN.
        for c in &mut self.clients {
            c.reading = true;
        }
        for _ in 0..FLUSH_ROUNDS_MAX {
            if self
                .clients
                .iter()
                .all(|c| c.on_broker || c.closed_by_us || c.eof)
            {
                break;
            }
            self.flush_round();
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
            reading: true,
            sent: 0,
            version: 4,
            received: Vec::new(),
            received_total: 0,
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
                c.received_total += n;
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

/// A client socket whose receive buffer is `SOCKET_BUFFER_BYTES`, set before the handshake
/// so that the window it offers is small from the start.
fn connect_small(addr: std::net::SocketAddr) -> Option<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES).ok()?;
    socket.connect(&addr.into()).ok()?;
    Some(socket.into())
}
