//! The broker's state and its reaction to each packet.
//!
//! `Broker` owns every connection (a slab indexed by mio token), every session, the router
//! and the retained store. The event loop hands it readable and writable sockets; it decodes
//! packets, dispatches each to its handler (one file per packet family, as mosquitto has
//! `handle_connect.c`, `handle_publish.c`, ...), queues replies on the connections concerned
//! and flushes every touched connection once at the end of the loop turn.

mod backpressure;
mod close;
mod connect;
mod deliver;
mod drops;
mod durable;
mod footprint;
mod linger;
mod log_topic;
mod presence;
mod publish;
mod retained;
mod security;
mod subscribe;
mod teardown;
mod timers;

pub use close::Close;
pub use drops::{DropReason, Drops, Refusals};
pub use footprint::{ConnectionFootprint, Footprint, FootprintBounds};
pub use teardown::FILTERS_PER_TURN as TEARDOWN_FILTERS_PER_TURN;

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use mio::Token;
use slab::Slab;

use crate::auth::Auth;
use crate::config::Config;
use crate::connection::{Connection, State};
use crate::protocol::{
    self, ByteStr, ConnAck, Disconnect, Packet, framing::MAX_REMAINING_LENGTH, reason,
};
use crate::retain::RetainStore;
use crate::router::{Router, Subscriber};
use crate::session::{Expiry, Session, SessionKey};
use crate::shared::{GroupKey, SharedGroups};
use crate::{log_debug, log_notice, log_warning};

const CONNECT_FIRST_BYTE: u8 = 0x10;

/// Reads per readable event before other connections get a turn; the rest is read on the
/// next turn, so one fast publisher cannot starve everyone else.
pub(super) const READS_PER_TURN: usize = 16;

/// Packets handled per connection per turn, at most. Reads are counted in bytes, but a
/// packet's cost is mostly per packet: 16 reads of 16 KiB can hold 131,072 PINGREQs, which
/// alone would make a turn of tens of milliseconds. 4,096 is more than a busy publisher of
/// small messages fills 16 reads with (about 3,300 PUBLISHes of 64 bytes), so throughput is not
/// bounded by it, and keeps one connection's share of a turn near a millisecond.
const PACKETS_PER_TURN: usize = 4096;

/// Bytes written per turn to connections that are behind, all together; what is left goes
/// out next turn, which then starts at once, in turn order, so that each gets its share.
/// Copying into the kernel is a turn's largest cost when many clients are behind: 100
/// subscribers that stopped reading took up to 4 MiB each into their socket buffers, 50 MiB
/// in one turn (80-200 ms under strace), and a client that only sent PINGREQ waited up to
/// 343 ms for its PINGRESP.
pub const FLUSH_BYTES_PER_TURN: usize = 4 * 1024 * 1024;

/// A connection with no more than this to write is written in full whatever the budget
/// says: one write, and the replies to a client that keeps up never wait behind those that
/// do not.
pub const FLUSH_IN_FULL_BYTES: usize = 64 * 1024;

/// Bytes a connection may have waiting to be written before QoS 0 messages to it are
/// dropped and it is no longer read, unless `max_queued_bytes` says otherwise (0: no bound,
/// as in mosquitto). A subscriber that cannot keep up loses QoS 0 messages instead of
/// growing the broker's memory without bound; one that keeps up on average must not lose
/// any to a brief stall. Measured with `midge_loadgen fanin --pubs 100 --qos 0` (README,
/// "Choosing the send bound"): 1 MiB lost 7.7 % of the messages, 4 MiB none.
const SEND_QUEUE_BYTES_DEFAULT: usize = 4 * 1024 * 1024;

/// With `memory_limit` and no `max_queued_bytes`, one connection may have at most this
/// fraction of the limit waiting: 64 stalled clients then reach it, and the broker refuses
/// publishes beyond it anyway.
const SEND_QUEUE_MEMORY_SHARE: usize = 64;

/// The smallest default bound `memory_limit` leads to: a few packets of a busy turn.
const SEND_QUEUE_BYTES_MIN: usize = 64 * 1024;

/// The default `max_packet_size`, mosquitto 2.1's: without a bound below the protocol's
/// 256 MiB, one connection could make the broker buffer that much of an incomplete packet.
/// Not announced in CONNACK, so that MQTT 5 clients see mosquitto 2.0.11's CONNACK.
const PACKET_BYTES_DEFAULT: usize = 2_000_000;

/// With `memory_limit`, resident memory is also sampled every this many publishes, so that a
/// flood cannot run far past the limit between two ticks.
const MEMORY_SAMPLE_PUBLISHES: u32 = 4096;

/// Expired retained messages nobody asked for are swept this often (in ticks of 250 ms).
const RETAINED_SWEEP_TICKS: u64 = 240;

/// Limits derived once from the configuration, in the units the hot path uses.
struct Limits {
    packet_bytes_max: usize,
    client_id_bytes_max: usize,
    topics: protocol::topic::TopicLimits,
    inflight_max: usize,
    queued_max: usize,
    queued_bytes_max: usize,
    inflight_bytes_max: usize,
    send_queue_bytes_max: usize,
    /// QoS 2 messages an MQTT 3.1/3.1.1 client may leave awaiting PUBREL before it is no
    /// longer read: as many as mosquitto keeps (in flight plus queued).
    incoming_v3_max: usize,
    payload_bytes_max: Option<usize>,
}

impl Limits {
    fn from_config(config: &Config) -> Limits {
        Limits {
            packet_bytes_max: match config.max_packet_size {
                None => PACKET_BYTES_DEFAULT,
                Some(0) => MAX_REMAINING_LENGTH + 5,
                Some(n) => n as usize,
            },
            client_id_bytes_max: config.max_client_id_length,
            topics: protocol::topic::TopicLimits {
                bytes_max: config.max_topic_length,
                levels_max: config.max_topic_levels,
            },
            // Unlimited still stops at the packet identifier space.
            inflight_max: config
                .max_inflight_messages
                .map_or(usize::from(u16::MAX) - 1, usize::from),
            queued_max: config.max_queued_messages.unwrap_or(usize::MAX),
            // mosquitto's meaning: QoS 1/2 messages beyond the in-flight window; none by
            // default (the count bounds them), 0 for none explicitly.
            queued_bytes_max: config
                .max_queued_bytes
                .filter(|&n| n > 0)
                .unwrap_or(usize::MAX),
            inflight_bytes_max: config.max_inflight_bytes.unwrap_or(usize::MAX),
            send_queue_bytes_max: match config.max_queued_bytes {
                None => send_queue_bytes_default(config.memory_limit),
                Some(0) => usize::MAX,
                Some(n) => n,
            },
            incoming_v3_max: incoming_v3_max(config),
            payload_bytes_max: config.message_size_limit.map(|n| n as usize),
        }
    }
}

/// The send bound without `max_queued_bytes`: `SEND_QUEUE_BYTES_DEFAULT`, or less under a
/// small `memory_limit`.
fn send_queue_bytes_default(memory_limit: Option<usize>) -> usize {
    match memory_limit {
        Some(limit) => {
            (limit / SEND_QUEUE_MEMORY_SHARE).clamp(SEND_QUEUE_BYTES_MIN, SEND_QUEUE_BYTES_DEFAULT)
        }
        None => SEND_QUEUE_BYTES_DEFAULT,
    }
}

/// mosquitto takes an incoming QoS 2 message while the client's in-flight window or its queue
/// has room (`db__ready_for_flight`, `db__ready_for_queue`): 20 + 1,000 by default.
fn incoming_v3_max(config: &Config) -> usize {
    let inflight = config.max_inflight_messages.map_or(usize::MAX, usize::from);
    let queued = config.max_queued_messages.unwrap_or(usize::MAX);
    inflight.saturating_add(queued)
}

pub struct Broker {
    config: Config,
    limits: Limits,
    /// Password and ACL files; `acl_on` says whether messages need checking at all.
    auth: Auth,
    acl_on: bool,
    conns: Slab<Connection>,
    sessions: Slab<Session>,
    session_ids: HashMap<ByteStr, SessionKey>,
    router: Router,
    retained: RetainStore,
    /// Sessions with retained messages still to send (see `retained.rs`).
    retained_pending: Vec<SessionKey>,
    /// The time of the current loop turn; one clock read per turn is precise enough.
    now: Instant,
    /// Connections with output queued this turn.
    to_flush: Vec<Token>,
    /// Connections to read next turn without waiting for an event (edge-triggered, it
    /// would not come): their budget ran out with input left, or their output drained.
    to_read: Vec<Token>,
    /// Connections to close at the end of the turn: decided where closing at once would pull
    /// a session out from under a loop over subscribers.
    to_close: Vec<(Token, u64, Close)>,
    /// The serial of the last connection accepted (see `Connection::serial`).
    last_serial: u64,
    /// Open connections per listener, for its `max_connections`.
    listener_conns: Vec<usize>,
    /// Connections in `conns` that are lingering before their socket closes (see
    /// `linger.rs`): they count for no limit but their own.
    lingering: usize,
    /// Scratch space for routing, reused so a publish does not allocate.
    route_matches: Vec<Subscriber>,
    route_targets: Vec<deliver::RouteTarget>,
    route_groups: Vec<GroupKey>,
    route_mark: u64,
    publish_cache: deliver::PublishCache,
    shared: SharedGroups,
    /// Every time limit of every connection and session, by deadline.
    deadlines: timers::Deadlines,
    /// Ticks since start, to run rare chores every so many ticks.
    ticks: u64,
    /// `max_connection_rate`: connections that may still be accepted now (a token bucket
    /// refilled at the rate, holding at most one second's worth), and when it was refilled.
    accept_tokens: f64,
    accept_refilled: Instant,
    /// Set while resident memory is above `memory_limit`: new connections and messages are
    /// refused until it falls back. Sampled at each tick and every `MEMORY_SAMPLE_PUBLISHES`.
    over_memory_limit: bool,
    publishes_since_memory_sample: u32,
    /// Messages dropped since start, by reason (see `drops.rs`).
    drops: Drops,
    /// PUBLISH packets refused on the way in, by reason.
    refusals: Refusals,
    /// Sessions that outlive their connection (any expiry but `AtDisconnect`), online or
    /// not, for `max_persistent_sessions`; kept by `insert_session`, `set_expiry` and
    /// `remove_session`.
    persistent_sessions: usize,
    /// Sessions that have ended but are still being taken out of the router, a slice per
    /// turn (see `teardown.rs`).
    going: teardown::GoingSessions,
    /// Sessions whose shared groups are still being told their client came or went, a
    /// slice per turn (see `presence.rs`).
    presence: presence::Moves,
    /// The journal and the acknowledgements waiting for it, with `persistence true`.
    durable: Option<Box<durable::Durable>>,
}

impl Broker {
    /// A broker with the given configuration and its loaded security files
    /// (`Auth::load`).
    pub fn new(config: Config, auth: Auth) -> Broker {
        let accept_tokens = f64::from(config.max_connection_rate.unwrap_or(0));
        let retained = RetainStore::new(
            config.max_retained_messages.unwrap_or(usize::MAX),
            config.max_retained_bytes.unwrap_or(usize::MAX),
        );
        Broker {
            limits: Limits::from_config(&config),
            config,
            acl_on: auth.has_acl(),
            auth,
            conns: Slab::new(),
            sessions: Slab::new(),
            session_ids: HashMap::new(),
            router: Router::new(),
            retained,
            retained_pending: Vec::new(),
            now: Instant::now(),
            to_flush: Vec::new(),
            to_read: Vec::new(),
            to_close: Vec::new(),
            last_serial: 0,
            listener_conns: Vec::new(),
            lingering: 0,
            route_matches: Vec::new(),
            route_targets: Vec::new(),
            route_groups: Vec::new(),
            route_mark: 0,
            publish_cache: deliver::PublishCache::default(),
            shared: SharedGroups::default(),
            deadlines: timers::Deadlines::new(Instant::now()),
            ticks: 0,
            accept_tokens,
            accept_refilled: Instant::now(),
            over_memory_limit: false,
            publishes_since_memory_sample: 0,
            drops: Drops::default(),
            refusals: Refusals::default(),
            persistent_sessions: 0,
            going: teardown::GoingSessions::default(),
            presence: presence::Moves::default(),
            durable: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Connections open as far as MQTT goes (lingering ones not counted).
    pub fn connection_count(&self) -> usize {
        self.conns.len() - self.lingering
    }

    /// Starts a loop turn.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.journal_now();
    }

    /// Takes a newly accepted socket, unless its listener or the broker is at its
    /// connection limit. The caller registers the socket under the returned token.
    pub fn accept(&mut self, conn: Connection, listener_max: Option<usize>) -> Option<Token> {
        let listener = usize::from(conn.listener);
        if self.listener_conns.len() <= listener {
            self.listener_conns.resize(listener + 1, 0);
        }
        let count = self.listener_conns[listener];
        let over = |max: Option<usize>, n: usize| max.is_some_and(|max| n >= max);
        let refusal = if over(listener_max, count)
            || over(self.config.max_connections, self.connection_count())
        {
            Some("max_connections exceeded")
        } else if self.over_memory_limit {
            Some("memory_limit exceeded")
        } else if !self.take_accept_token() {
            Some("max_connection_rate exceeded")
        } else {
            None
        };
        if let Some(why) = refusal {
            log_notice!("Client connection from {} denied: {why}.", conn.peer().ip());
            return None;
        }
        self.listener_conns[listener] += 1;
        let mut conn = conn;
        conn.set_output_bound(self.limits.send_queue_bytes_max);
        self.last_serial += 1;
        conn.set_serial(self.last_serial);
        if self.config.connection_messages {
            log_notice!(
                "New connection from {}:{} on port {}.",
                conn.peer().ip(),
                conn.peer().port(),
                conn.local_port
            );
        }
        let token = Token(self.conns.insert(conn));
        self.arm_conn_timer(token);
        Some(token)
    }

    /// Forgets a connection that could not be set up (registration with the poller failed).
    pub fn drop_connection(&mut self, token: Token) {
        self.close(token, Close::SocketError(io::ErrorKind::Other.into()));
    }

    /// Gives back what a storm of connections left behind: slab and table capacity far above
    /// what is in use, and the allocator's free memory. Checked every tick, which costs a
    /// few comparisons; the work happens only when a table is down to a quarter of its room.
    fn reclaim_memory(&mut self) {
        fn sparse(len: usize, capacity: usize) -> bool {
            capacity > 1024 && len * 4 < capacity
        }
        let mut shrunk = false;
        if sparse(self.conns.len(), self.conns.capacity()) {
            self.conns.shrink_to_fit();
            shrunk = true;
        }
        if sparse(self.sessions.len(), self.sessions.capacity()) {
            self.sessions.shrink_to_fit();
            shrunk = true;
        }
        if sparse(self.session_ids.len(), self.session_ids.capacity()) {
            self.session_ids.shrink_to_fit();
            shrunk = true;
        }
        shrunk |= self.router.shrink_if_sparse();
        shrunk |= self.deadlines.shrink_if_sparse();
        if shrunk {
            crate::memory::return_free_memory();
        }
    }

    /// `max_connection_rate`'s token bucket: true if one more connection may come in now.
    fn take_accept_token(&mut self) -> bool {
        let Some(rate) = self.config.max_connection_rate else {
            return true;
        };
        let rate = f64::from(rate);
        let now = self.now.max(self.accept_refilled);
        let elapsed = now.duration_since(self.accept_refilled).as_secs_f64();
        self.accept_tokens = (self.accept_tokens + elapsed * rate).min(rate);
        self.accept_refilled = now;
        if self.accept_tokens < 1.0 {
            return false;
        }
        self.accept_tokens -= 1.0;
        true
    }

    /// Samples resident memory against `memory_limit`, logging when the state changes.
    fn sample_memory(&mut self) {
        let Some(limit) = self.config.memory_limit else {
            return;
        };
        self.publishes_since_memory_sample = 0;
        let Some(resident) = crate::memory::resident_bytes() else {
            return;
        };
        let over = resident > limit;
        if over && !self.over_memory_limit {
            log_warning!(
                "Memory limit of {limit} bytes reached ({resident} resident): refusing new connections and messages."
            );
        } else if !over && self.over_memory_limit {
            log_notice!("Memory back under the limit ({resident} of {limit} bytes).");
        }
        self.over_memory_limit = over;
    }

    /// Counts a publish towards the next memory sample; true if the broker is over its
    /// memory limit and the message should be refused.
    pub(super) fn memory_exhausted(&mut self) -> bool {
        if self.config.memory_limit.is_none() {
            return false;
        }
        self.publishes_since_memory_sample += 1;
        if self.publishes_since_memory_sample >= MEMORY_SAMPLE_PUBLISHES {
            self.sample_memory();
        }
        self.over_memory_limit
    }

    /// A connection's socket, to register it with the poller.
    /// `None` once the connection is gone, lingering included.
    pub fn socket_mut(&mut self, token: Token) -> Option<&mut mio::net::TcpStream> {
        self.conns
            .get_mut(token.0)
            .filter(|c| !c.is_closing())
            .map(|c| &mut c.socket)
    }

    /// Reads and handles what a readable connection has sent: first what an earlier turn
    /// read but did not decode (see `backpressure.rs`), then the socket, while its output
    /// has room and its budget for the turn lasts.
    pub fn on_readable(&mut self, token: Token) {
        if self.conns.get(token.0).is_some_and(|c| c.is_closing()) {
            return self.on_readable_closing(token);
        }
        let mut budget = PACKETS_PER_TURN;
        if self
            .conns
            .get(token.0)
            .is_some_and(|c| !c.read_buf.is_empty())
            && let Err(reason) = self.handle_input(token, &mut budget)
        {
            return self.close(token, reason);
        }
        for _ in 0..READS_PER_TURN {
            if budget == 0 {
                break;
            }
            if !self.may_take_input(token) {
                return;
            }
            let Some(conn) = self.conns.get_mut(token.0) else {
                return;
            };
            match conn.read_chunk() {
                Ok(0) => return self.close(token, Close::ConnectionLost),
                Ok(_) => {
                    if conn.tls_wants_write() {
                        self.mark_flush(token);
                    }
                    if let Err(reason) = self.handle_input(token, &mut budget) {
                        return self.close(token, reason);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(conn) = self.conns.get_mut(token.0) {
                        conn.release_read_buf();
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.close(token, Close::from_io(e)),
            }
        }
        self.mark_read(token);
    }

    /// Puts a connection on the list to read next turn without waiting for an event, once.
    pub(super) fn mark_read(&mut self, token: Token) {
        if let Some(conn) = self.conns.get_mut(token.0)
            && !conn.read_pending
        {
            conn.read_pending = true;
            self.to_read.push(token);
        }
    }

    /// Connections whose read budget ran out last turn; the event loop reads them again
    /// without waiting, because an edge-triggered poller will not report them twice.
    pub fn take_unfinished_reads(&mut self) -> Vec<Token> {
        let tokens = std::mem::take(&mut self.to_read);
        for token in &tokens {
            if let Some(conn) = self.conns.get_mut(token.0) {
                conn.read_pending = false;
            }
        }
        tokens
    }

    /// The socket has room again: send what is waiting.
    pub fn on_writable(&mut self, token: Token) {
        self.mark_flush(token);
    }

    /// Decodes and handles the complete packets in the read buffer, as many as `budget`
    /// allows and the connection may take (see `may_take_input`); the rest stays buffered.
    fn handle_input(&mut self, token: Token, budget: &mut usize) -> Result<(), Close> {
        loop {
            if *budget == 0 || !self.may_take_input(token) {
                return Ok(());
            }
            let conn = &mut self.conns[token.0];
            // Like mosquitto, judge a stranger by its first byte: an HTTP request or a stray
            // PUBLISH is turned away before its claimed length is waited for.
            if conn.state == State::AwaitingConnect
                && conn
                    .read_buf
                    .first()
                    .is_some_and(|&b| b != CONNECT_FIRST_BYTE)
            {
                return Err(Close::Protocol("first packet is not CONNECT"));
            }
            // What the client is told of a bad packet depends on its type (see close.rs).
            let packet_type = conn.read_buf.first().map_or(0, |b| b >> 4);
            let packet = match protocol::decode(
                &mut conn.read_buf,
                conn.version,
                self.limits.packet_bytes_max,
            ) {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(()),
                Err(error @ protocol::DecodeError::UnsupportedVersion(_))
                    if conn.state == State::AwaitingConnect =>
                {
                    // 3.1.1's "unacceptable protocol version", whatever the client speaks.
                    log_debug!("Sending CONNACK to {} (0, 1)", conn.peer().ip());
                    let connack = ConnAck::new(false, reason::v3::UNACCEPTABLE_PROTOCOL_VERSION);
                    connack.encode(protocol::Version::V311, conn.send.tail());
                    return Err(Close::Decode { packet_type, error });
                }
                Err(error) => return Err(Close::Decode { packet_type, error }),
            };
            conn.last_packet_at = self.now;
            *budget -= 1;
            self.handle_packet(token, packet, packet_type)?;
        }
    }

    fn handle_packet(
        &mut self,
        token: Token,
        packet: Packet,
        packet_type: u8,
    ) -> Result<(), Close> {
        // max_topic_length and max_topic_levels, answered as the decoder answers a topic
        // over its own bounds. Checked here, on the packet where it lies: checked in
        // `handle_input`, the 440-byte packet was copied once more on its way here.
        if let Err(error) = self.limits.topics.check(&packet) {
            return Err(Close::Decode { packet_type, error });
        }
        let conn = &self.conns[token.0];
        let session = match (conn.state, conn.session) {
            (State::Connected, Some(session)) => session,
            _ => {
                return match packet {
                    Packet::Connect(connect) => self.handle_connect(token, *connect),
                    _ => Err(Close::Protocol("first packet is not CONNECT")),
                };
            }
        };
        match packet {
            Packet::Publish(publish) => self.handle_publish(token, session, publish),
            Packet::PubAck(ack) => self.handle_puback(session, ack),
            Packet::PubRec(rec) => self.handle_pubrec(token, session, rec),
            Packet::PubRel(rel) => self.handle_pubrel(token, session, rel),
            Packet::PubComp(comp) => self.handle_pubcomp(session, comp),
            Packet::Subscribe(subscribe) => self.handle_subscribe(token, session, subscribe),
            Packet::Unsubscribe(unsub) => self.handle_unsubscribe(token, session, unsub),
            Packet::PingReq => {
                log_debug!("Received PINGREQ from {}", conn.log_id());
                log_debug!("Sending PINGRESP to {}", conn.log_id());
                self.send(token, &Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(disconnect) => {
                log_debug!("Received DISCONNECT from {}", conn.log_id());
                self.handle_disconnect(session, &disconnect)
            }
            Packet::Connect(_) => {
                log_notice!(
                    "Bad client {} sending multiple CONNECT messages.",
                    conn.log_id()
                );
                Err(Close::Unexpected("second CONNECT"))
            }
            // mosquitto closes for a CONNACK and, with no authentication method, an AUTH;
            // it lets SUBACK, UNSUBACK and PINGRESP pass, which only a server may send.
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                Err(Close::Unexpected("packet a client may not send"))
            }
            Packet::Auth(_) => Err(Close::Unexpected("AUTH without enhanced authentication")),
        }
    }

    /// DISCONNECT always ends the connection; in MQTT 5 it may also change the session's
    /// expiry and keep the will alive.
    fn handle_disconnect(&mut self, key: SessionKey, disconnect: &Disconnect) -> Result<(), Close> {
        if let Some(interval) = disconnect.properties.session_expiry_interval {
            let session = &mut self.sessions[key];
            // [MQTT-3.14.2-2]: a session that was to end with the connection cannot be revived.
            if session.expiry == Expiry::AtDisconnect && interval != 0 {
                return Err(Close::Protocol(
                    "session expiry set by DISCONNECT after 0 in CONNECT",
                ));
            }
            self.set_expiry(key, Expiry::from_interval(interval));
        }
        // Only a normal disconnection (0x00) discards the will [MQTT-3.14.4-3]: 0x04 asks
        // for it, and an error the client reports is an abnormal end.
        if disconnect.reason == reason::SUCCESS {
            return Err(Close::Disconnected);
        }
        Err(Close::DisconnectedWithWill)
    }

    /// Queues a packet on a connection, to be flushed at the end of the turn.
    fn send(&mut self, token: Token, packet: &Packet) {
        let conn = &mut self.conns[token.0];
        packet.encode(conn.version, conn.send.tail());
        self.mark_flush(token);
    }

    fn mark_flush(&mut self, token: Token) {
        if let Some(conn) = self.conns.get_mut(token.0)
            && !conn.flush_pending
        {
            conn.flush_pending = true;
            self.to_flush.push(token);
        }
    }

    /// Writes out what was queued this turn: one vectored write per connection, however many
    /// packets it received, and `FLUSH_BYTES_PER_TURN` in all. Connections the budget did not
    /// reach go first next turn; the one it ran out on goes after them, so that every
    /// connection gets its share.
    pub fn flush(&mut self) {
        for (token, serial, reason) in std::mem::take(&mut self.to_close) {
            // The connection may have closed meanwhile and its token gone to a new one.
            if self
                .conns
                .get(token.0)
                .is_some_and(|c| c.serial() == serial)
            {
                self.close(token, reason);
            }
        }
        // Closes can end sessions: the turn's slice of their filters goes now.
        self.run_teardown();
        self.run_presence();
        // Where retained deliveries resume once a client's output has drained.
        self.run_retained();
        // The turn's records go to the writer before the writes, which then overlap; output
        // that earlier records held back goes out with them.
        self.hand_off_journal();
        self.release_held();
        let mut budget = FLUSH_BYTES_PER_TURN;
        let mut deferred = Vec::new();
        let mut cut_short = None;
        while !self.to_flush.is_empty() {
            let mut batch = std::mem::take(&mut self.to_flush);
            for token in batch.drain(..) {
                let Some(conn) = self.conns.get_mut(token.0) else {
                    continue;
                };
                let unsent = conn.send.len();
                if conn.held_until != 0 {
                    // Waits for the journal; `release_held` flushes it.
                    conn.flush_pending = false;
                    continue;
                }
                if conn.is_closing() {
                    conn.flush_pending = false;
                    self.flush_closing(token);
                    // Gone: what it had was written, or never will be.
                    let left = self.conns.get(token.0).map_or(0, |c| c.send.len());
                    budget -= unsent.saturating_sub(left).min(budget);
                    continue;
                }
                let limit = if unsent <= FLUSH_IN_FULL_BYTES {
                    usize::MAX
                } else {
                    budget
                };
                if limit == 0 {
                    deferred.push(token);
                    continue;
                }
                let flushed = conn.flush(limit);
                let written = unsent - conn.send.len();
                match flushed {
                    Err(e) => {
                        conn.flush_pending = false;
                        self.close(token, Close::SocketError(e));
                    }
                    // Its share is spent, not its socket: no writable event will come.
                    Ok(false) if written == limit => cut_short = Some(token),
                    Ok(_) => {
                        conn.flush_pending = false;
                        self.after_write(token);
                    }
                }
                budget -= written.min(budget);
            }
            // Closing can publish wills that queue more output; keep the allocation.
            if self.to_flush.is_empty() {
                self.to_flush = batch;
            }
        }
        // They keep `flush_pending`: next turn they go first, the one cut short last.
        self.to_flush.extend(deferred.into_iter().chain(cut_short));
    }

    /// Output the last turn's write budget did not reach: the event loop must not wait
    /// for events before the next flush.
    pub fn flush_deferred(&self) -> bool {
        !self.to_flush.is_empty()
    }

    /// Enforces time limits (keep-alive, the CONNECT timeout, lingering closes, will delays,
    /// expiry of offline sessions: only those due, see `timers.rs`) and runs the chores.
    pub fn tick(&mut self) {
        self.run_due_timers();
        self.ticks += 1;
        if self.ticks.is_multiple_of(RETAINED_SWEEP_TICKS) {
            self.retained.sweep_expired(self.now);
            self.auth.sweep();
        }
        self.reclaim_memory();
        self.sample_memory();
    }

    /// How long the event loop may sleep before `tick` has work to do.
    pub fn tick_interval(&self) -> Duration {
        Duration::from_millis(250)
    }

    /// Closes every connection, for shutdown.
    pub fn close_all(&mut self) {
        let tokens: Vec<Token> = self.conns.iter().map(|(key, _)| Token(key)).collect();
        for token in tokens {
            self.close(token, Close::Shutdown);
        }
    }

    /// Creates a session, counting it if it is persistent.
    fn insert_session(&mut self, session: Session) -> SessionKey {
        let persistent = session.expiry != Expiry::AtDisconnect;
        self.persistent_sessions += usize::from(persistent);
        let client_id = session.client_id.clone();
        let key = SessionKey(self.sessions.insert(session));
        self.session_ids.insert(client_id, key);
        if persistent {
            self.record_session(key);
        }
        key
    }

    /// Changes a session's expiry, keeping the count of persistent sessions.
    fn set_expiry(&mut self, key: SessionKey, expiry: Expiry) {
        let session = &mut self.sessions[key];
        let was = usize::from(session.expiry != Expiry::AtDisconnect);
        session.expiry = expiry;
        let is = usize::from(expiry != Expiry::AtDisconnect);
        self.persistent_sessions = self.persistent_sessions + is - was;
        if is + was > 0 {
            self.record_session(key);
        }
    }

    /// Sessions that outlive their connection, online or not.
    pub fn persistent_sessions(&self) -> usize {
        self.persistent_sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_send_bound_shrinks_with_a_small_memory_limit() {
        assert_eq!(send_queue_bytes_default(None), SEND_QUEUE_BYTES_DEFAULT);
        assert_eq!(
            send_queue_bytes_default(Some(1 << 30)),
            SEND_QUEUE_BYTES_DEFAULT
        );
        assert_eq!(send_queue_bytes_default(Some(64 << 20)), 1 << 20);
        assert_eq!(
            send_queue_bytes_default(Some(1 << 20)),
            SEND_QUEUE_BYTES_MIN
        );
    }
}
