//! One client's connection: its socket (and TLS session, on a TLS listener), what has been
//! read but not yet decoded, what is waiting to be written, and where it stands in the
//! protocol.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use mio::net::TcpStream;

use crate::listener_rules::ListenerRules;
use crate::protocol::{ByteStr, Version, Will};
use crate::send_queue::SendQueue;
use crate::session::SessionKey;
use crate::tls::{Identity, TlsStream};

/// Bytes asked of the kernel per read. Large enough that a busy publisher needs few reads
/// per turn; the buffer is only held while a packet is incomplete.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;

/// rustls's limit on the records it holds for sending (its default buffer limit).
const TLS_RECORD_BUFFER_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// TCP is up, CONNECT has not arrived.
    AwaitingConnect,
    /// CONNECT accepted; the connection belongs to a session.
    Connected,
    /// Ended as far as MQTT goes, and lingering so that its last bytes reach the client (see
    /// `broker/linger.rs`): no session, no packets in or out.
    Closing(Linger),
}

/// Where a lingering close stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Linger {
    /// Everything queued (and TLS's close_notify) is in the kernel, and the write side is
    /// shut down.
    pub output_done: bool,
    /// The client's EOF has been read: nothing unread is left to make the kernel reset.
    pub input_done: bool,
    /// KiB read and thrown away since `output_done` (each read rounded up): small, as this
    /// sits in every connection's state.
    pub discarded_kib: u16,
}

pub struct Connection {
    pub socket: TcpStream,
    /// The TLS session on a TLS listener; `None` on plain TCP, whose path stays as it was:
    /// one pointer per connection and a null check per read and flush.
    pub tls: Option<Box<TlsStream>>,
    /// The client's address; `peer()` gives it back as a `SocketAddr`.
    peer: Peer,
    /// Index of the listener it came in on, and that listener's port, for limits and logs.
    pub listener: u16,
    pub local_port: u16,
    pub state: State,
    pub version: Version,
    pub session: Option<SessionKey>,
    /// Kept here as well as in the session so that log lines need no session lookup.
    pub client_id: Option<ByteStr>,
    pub read_buf: BytesMut,
    pub send: SendQueue,
    /// 1.5 times the client's keep-alive in milliseconds; 0 when the client asked for none.
    pub keep_alive_limit_ms: u32,
    /// When the last packet arrived (when the socket was accepted, before the first); once
    /// closing, when the close was decided.
    pub last_packet_at: Instant,
    /// The will to publish if the connection ends without DISCONNECT. Boxed: most clients
    /// have none, and this struct is kept for every connection, idle or not.
    pub will: Option<Box<Will>>,
    /// MQTT 5 topic aliases the client has set up, indexed by alias - 1. Boxed, from the
    /// first alias: most clients set up none.
    #[allow(clippy::box_collection)]
    pub topic_aliases: Option<Box<Vec<Option<ByteStr>>>>,
    /// What the client accepts, from its CONNECT (MQTT 5): the largest packet, the number of
    /// QoS 1/2 messages in flight towards it, and topic aliases.
    pub max_packet_out: u32,
    pub inflight_max: u16,
    pub out_aliases: OutAliases,
    /// What the listener asks of its clients (`max_qos`, `mount_point`, ...), shared with
    /// every connection of that listener.
    pub rules: Rc<ListenerRules>,
    /// Set while the connection sits in the broker's list of connections to flush, and in
    /// its list of connections to read without waiting for an event.
    pub flush_pending: bool,
    pub read_pending: bool,
    /// Unsent bytes at which the connection is full: it is not read, and QoS 0 messages to
    /// it are dropped, until its output drains (see `output_full`).
    output_bound: usize,
    /// Which connection this is, among all that ever had its token: the slab reuses keys, so
    /// a decision taken about a token earlier in the turn must check it is still the same.
    serial: u64,
    /// Set when something stopped at the bound (reading, say) and waits for the output to
    /// drain below half of it; `take_drained` says when.
    waiting_for_drain: bool,
    /// With persistence: the journal batch its output waits for, 0 for none (see
    /// `broker/durable.rs`).
    pub(crate) held_until: u32,
    /// The deadline its timer is armed for (see `broker/timers.rs`).
    pub(crate) timer_armed: u64,
}

impl Connection {
    pub fn new(
        socket: TcpStream,
        peer: SocketAddr,
        listener: u16,
        local_port: u16,
        rules: Rc<ListenerRules>,
        now: Instant,
    ) -> Connection {
        Connection {
            socket,
            tls: None,
            peer: Peer::from(peer),
            listener,
            local_port,
            state: State::AwaitingConnect,
            version: Version::V311,
            session: None,
            client_id: None,
            read_buf: BytesMut::new(),
            send: SendQueue::new(),
            keep_alive_limit_ms: 0,
            last_packet_at: now,
            will: None,
            topic_aliases: None,
            max_packet_out: u32::MAX,
            inflight_max: u16::MAX,
            out_aliases: OutAliases::default(),
            rules,
            flush_pending: false,
            read_pending: false,
            output_bound: usize::MAX,
            serial: 0,
            waiting_for_drain: false,
            held_until: 0,
            timer_armed: 0,
        }
    }

    /// Numbers the connection when the broker takes it (see `serial`).
    pub fn set_serial(&mut self, serial: u64) {
        self.serial = serial;
    }

    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Sets the unsent bytes at which the connection counts as full (the broker's
    /// `max_queued_bytes`, 4 MiB unless set).
    pub fn set_output_bound(&mut self, bytes: usize) {
        self.output_bound = bytes;
    }

    /// Bytes waiting to go out: the send queue's, and on TLS the records rustls holds,
    /// counted as its whole buffer while it holds any (rustls does not say how many bytes
    /// those are; it takes no more plaintext once they reach its limit).
    pub fn unsent_bytes(&self) -> usize {
        let records = match &self.tls {
            Some(tls) if tls.wants_write() => TLS_RECORD_BUFFER_BYTES,
            _ => 0,
        };
        self.send.len() + records
    }

    /// At or over its bound: the connection is not read (replies to what it sends would
    /// pile up), and QoS 0 messages to it are dropped. Its socket's receive buffer then
    /// pushes back on the peer.
    pub fn output_full(&self) -> bool {
        self.unsent_bytes() >= self.output_bound
    }

    /// Notes that something stopped at the bound and must hear when the output drains.
    pub fn wait_for_drain(&mut self) {
        self.waiting_for_drain = true;
    }

    /// Waiting for a drain that has not come yet: reading is held back by the output.
    pub fn held_by_output(&self) -> bool {
        self.waiting_for_drain && self.unsent_bytes() >= self.output_bound / 2
    }

    /// True once, when a connection that waited for its output to drain is below half
    /// its bound: half, so that a connection at its bound is not stopped and resumed every
    /// turn for a few bytes each time.
    pub fn take_drained(&mut self) -> bool {
        let drained = self.waiting_for_drain && !self.held_by_output();
        if drained {
            self.waiting_for_drain = false;
        }
        drained
    }

    /// The client id for log lines, or mosquitto's placeholder before CONNECT.
    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer.into()
    }

    pub fn log_id(&self) -> &str {
        self.client_id.as_deref().unwrap_or("<unknown>")
    }

    /// Reads what the socket has, up to one chunk, into the read buffer (TLS: the plaintext
    /// of what the socket had). Returns `Ok(0)` when the peer has closed its side.
    pub fn read_chunk(&mut self) -> io::Result<usize> {
        if let Some(tls) = &mut self.tls {
            return tls.read(&self.socket, &mut self.read_buf);
        }
        self.read_buf.reserve(READ_CHUNK_BYTES);
        let spare = self.read_buf.spare_capacity_mut();
        let len = READ_CHUNK_BYTES.min(spare.len());
        let spare: &mut [MaybeUninit<u8>] = &mut spare[..len];
        let n = socket2::SockRef::from(&self.socket).recv(spare)?;
        // SAFETY: recv initialised the first `n` bytes of the spare capacity.
        unsafe { self.read_buf.set_len(self.read_buf.len() + n) };
        Ok(n)
    }

    /// Writes queued bytes until done, the socket is full or `limit` bytes of the queue are
    /// written. Returns true when all is sent.
    pub fn flush(&mut self, limit: usize) -> io::Result<bool> {
        match &mut self.tls {
            None => self.send.write_to(&mut self.socket, limit),
            Some(tls) => tls.flush(&self.socket, &mut self.send, limit),
        }
    }

    /// The last write before the socket closes: what the socket takes of the queue, then
    /// for TLS the close_notify alert (or the alert of a failed handshake).
    pub fn flush_last(&mut self) {
        match &mut self.tls {
            None => drop(self.send.write_to(&mut self.socket, usize::MAX)),
            Some(tls) => tls.finish(&self.socket, &mut self.send),
        }
    }

    /// Ends the connection as far as MQTT goes, keeping the socket and what is queued on it:
    /// the start of a lingering close. What belonged to the session goes now.
    pub fn begin_closing(&mut self, now: Instant) {
        self.state = State::Closing(Linger::default());
        self.last_packet_at = now;
        self.session = None;
        self.will = None;
        self.read_buf = BytesMut::new();
        self.topic_aliases = None;
        self.out_aliases = OutAliases::default();
    }

    pub fn is_closing(&self) -> bool {
        matches!(self.state, State::Closing(_))
    }

    /// Writes what is left of a closing connection's output (on TLS, then close_notify) and,
    /// once all of it is in the kernel, shuts down the write side, so the client reads its
    /// last bytes and then EOF. Returns true when done.
    pub fn flush_closing(&mut self) -> io::Result<bool> {
        let done = match &mut self.tls {
            None => self.send.write_to(&mut self.socket, usize::MAX)?,
            Some(tls) => tls.flush_closing(&self.socket, &mut self.send)?,
        };
        if done {
            self.socket.shutdown(std::net::Shutdown::Write)?;
        }
        Ok(done)
    }

    /// Reads what a closing connection's client still sends, and throws it away (on TLS
    /// too: the records are not worth decrypting). Returns `Ok(0)` at the client's EOF.
    pub fn discard_input(&mut self) -> io::Result<usize> {
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK_BYTES];
        socket2::SockRef::from(&self.socket).recv(&mut scratch)
    }

    /// Bytes the kernel holds for this socket that the peer has not acknowledged yet (sent
    /// or not): while there are any, a reset would lose them. Unknown counts as some.
    pub fn unacknowledged_bytes(&self) -> usize {
        use std::os::fd::AsRawFd;
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one int through the pointer, which outlives the call.
        let rc = unsafe { libc::ioctl(self.socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if rc == 0 {
            usize::try_from(queued).unwrap_or(usize::MAX)
        } else {
            usize::MAX
        }
    }

    /// True when a read left TLS records to send (the handshake's, say): the connection
    /// must be flushed though nothing was queued.
    pub fn tls_wants_write(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.wants_write())
    }

    /// The user name the client's certificate gives, on a `use_identity_as_username` listener.
    pub fn identity(&self) -> Identity {
        self.tls
            .as_ref()
            .map_or(Identity::NotUsed, |tls| tls.identity())
    }

    /// Drops the read buffer's memory once nothing partial is left in it: idle connections
    /// should cost almost nothing.
    pub fn release_read_buf(&mut self) {
        if self.read_buf.is_empty() {
            self.read_buf = BytesMut::new();
        }
    }
}

/// A client's address in 24 bytes instead of a `SocketAddr`'s 32: what the logs show of it
/// (address, port, and an IPv6 scope), without the IPv6 flow label.
#[derive(Clone, Copy)]
struct Peer {
    ip: IpAddr,
    port: u16,
    scope_id: u32,
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Peer {
        let scope_id = match addr {
            SocketAddr::V4(_) => 0,
            SocketAddr::V6(v6) => v6.scope_id(),
        };
        Peer {
            ip: addr.ip(),
            port: addr.port(),
            scope_id,
        }
    }
}

impl From<Peer> for SocketAddr {
    fn from(peer: Peer) -> SocketAddr {
        match peer.ip {
            IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, peer.port)),
            IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, peer.port, 0, peer.scope_id)),
        }
    }
}

/// The topic aliases the broker assigns towards one MQTT 5 client: the first topics it sends,
/// up to the client's topic alias maximum, keep their alias for the connection's life, so a
/// repeated topic goes out as two bytes instead of its name.
#[derive(Default)]
pub struct OutAliases(Option<Box<Assigned>>);

/// The client's topic alias maximum and the aliases assigned so far.
struct Assigned {
    max: u16,
    topics: std::collections::HashMap<ByteStr, u16>,
}

/// How a PUBLISH names its topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicName {
    /// The topic string, without an alias.
    Plain,
    /// The topic string and a new alias the client is to remember.
    Assign(u16),
    /// An empty topic and an alias the client already knows.
    Alias(u16),
}

impl OutAliases {
    /// Boxed only for a client that takes aliases: eight bytes on every other connection.
    pub fn new(max: u16) -> OutAliases {
        OutAliases((max > 0).then(|| {
            Box::new(Assigned {
                max,
                topics: std::collections::HashMap::new(),
            })
        }))
    }

    /// How to name `topic`; `commit` records a new assignment once the packet is sent.
    #[inline]
    pub fn name(&self, topic: &str) -> TopicName {
        // Most clients take no aliases: no lookup, and no call, for them on the
        // per-delivery path.
        match self.0.as_deref() {
            None => TopicName::Plain,
            Some(assigned) => assigned.name(topic),
        }
    }

    pub fn commit(&mut self, topic: &ByteStr, alias: u16) {
        // A copy: the alias outlives the message that brought the topic.
        if let Some(assigned) = self.0.as_deref_mut() {
            assigned.topics.insert(ByteStr::from(topic.as_str()), alias);
        }
    }
}

impl Assigned {
    fn name(&self, topic: &str) -> TopicName {
        if let Some(&alias) = self.topics.get(topic) {
            return TopicName::Alias(alias);
        }
        match u16::try_from(self.topics.len() + 1) {
            Ok(next) if next <= self.max => TopicName::Assign(next),
            _ => TopicName::Plain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_topics_get_aliases_up_to_the_clients_maximum() {
        let mut aliases = OutAliases::new(2);
        let (a, b, c): (ByteStr, ByteStr, ByteStr) = ("a".into(), "b".into(), "c".into());
        assert_eq!(aliases.name(&a), TopicName::Assign(1));
        aliases.commit(&a, 1);
        assert_eq!(aliases.name(&a), TopicName::Alias(1));
        assert_eq!(aliases.name(&b), TopicName::Assign(2));
        aliases.commit(&b, 2);
        assert_eq!(aliases.name(&c), TopicName::Plain);
        assert_eq!(aliases.name(&b), TopicName::Alias(2));
    }

    #[test]
    fn no_aliases_without_a_maximum() {
        let aliases = OutAliases::default();
        assert_eq!(aliases.name("a"), TopicName::Plain);
    }
}
