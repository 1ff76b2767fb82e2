//! One worker thread: a mio loop over its share of the clients. Each turn it polls, reads
//! every readable connection in large reads and parses every frame in them, lets each
//! publisher append what is due, and writes each connection's output with one write.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use hdrhistogram::Histogram;
use midge::protocol::{Packet, QoS, Version};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::link::{self, TlsClient};
use crate::pacing::Schedule;
use crate::plan::{Accounting, Plan};
use crate::shared::{Phase, Shared};
use crate::stats::{Arrival, Counters, SeenSet, StreamTracker, latency_us, new_histogram};
use crate::sys;
use crate::wire::{self, Frame, PublishTemplate, Stamp, kind};

/// Output a publisher may have waiting before it stops generating more.
const OUT_HIGH_WATER: usize = 1 << 20;
/// Messages one publisher appends per turn, so that one cannot starve the others.
const BATCH: u64 = 256;
/// Reads per connection per turn; the rest waits for the next turn, which does not sleep.
const READS_PER_TURN: usize = 16;
/// A closed-loop QoS 0 publisher with nothing delivered for this long gives up on what it
/// has outstanding (and says so): the broker dropped it.
const STALL_NS: u64 = 250_000_000;
const KEEP_ALIVE_S: u16 = 60;
const PING_AFTER_NS: u64 = 30_000_000_000;

/// One client this worker is to open.
#[derive(Clone, Debug)]
pub enum Client {
    Pub {
        id: u32,
        source: Option<std::net::IpAddr>,
    },
    Sub {
        id: u32,
        source: Option<std::net::IpAddr>,
    },
}

/// What a worker hands back when the run ends.
pub struct WorkerResult {
    pub counters: Counters,
    pub latency: Histogram<u64>,
    pub connect_latency: Histogram<u64>,
    /// How late scheduled messages left, in µs (`--rate` runs).
    pub send_lag: Histogram<u64>,
    pub group_seen: Vec<SeenSet>,
    /// Skipped sequence numbers that never arrived, over all streams (`Streams` accounting).
    pub missing: u64,
    pub cpu_ns: u64,
    pub cpu_wall_ns: u64,
    pub first_connect_ns: Option<u64>,
    pub last_ready_ns: Option<u64>,
    pub first_error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    AwaitConnAck,
    AwaitSubAck,
    Ready,
    Closed,
}

struct PubState {
    id: u32,
    template: PublishTemplate,
    fanout: u64,
    seq: u64,
    unacked: u32,
    /// Packet ids in use, one bit each (empty for QoS 0).
    ids: Vec<u64>,
    next_id: u16,
    schedule: Option<Schedule>,
    /// Deliveries given up on after a stall (closed loop only).
    forgiven: u64,
    last_delivered: u64,
    last_progress_ns: u64,
    /// On the list of publishers to look at next turn.
    queued: bool,
}

impl PubState {
    fn take_id(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            let id = self.next_id;
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            let (w, b) = (usize::from(id) / 64, id % 64);
            if self.ids[w] & (1 << b) == 0 {
                self.ids[w] |= 1 << b;
                return Some(id);
            }
        }
        None
    }

    /// Frees an id; false if it was not in use (an ack for nothing we sent).
    fn free_id(&mut self, id: u16) -> bool {
        let (w, b) = (usize::from(id) / 64, id % 64);
        let Some(word) = self.ids.get_mut(w) else {
            return false;
        };
        let used = *word & (1 << b) != 0;
        *word &= !(1 << b);
        used
    }
}

enum Role {
    Pub(Box<PubState>),
    Sub {
        id: u32,
        streams: Vec<StreamTracker>,
    },
}

struct Conn {
    sock: TcpStream,
    /// The TLS session, with `--cafile`/`--capath`.
    tls: Option<Box<rustls::ClientConnection>>,
    state: State,
    role: Role,
    out: Vec<u8>,
    out_pos: usize,
    /// Bytes of a frame that has not all arrived yet.
    pending: Vec<u8>,
    writable: bool,
    queued_for_flush: bool,
    started_ns: u64,
    last_send_ns: u64,
}

impl Conn {
    fn out_pending(&self) -> usize {
        self.out.len() - self.out_pos
    }
}

pub struct Worker {
    index: usize,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    poll: Poll,
    version: Version,
    qos: QoS,
    conns: Vec<Conn>,
    to_open: Vec<Client>,
    opening: usize,
    publishers: Vec<usize>,
    flush_list: Vec<usize>,
    unfinished: Vec<usize>,
    rbuf: Vec<u8>,
    max_frame: usize,
    counters: Counters,
    latency: Histogram<u64>,
    interval: Histogram<u64>,
    connect_latency: Histogram<u64>,
    send_lag: Histogram<u64>,
    group_seen: Vec<SeenSet>,
    delivered_local: Vec<u64>,
    touched: Vec<u32>,
    unacked: u64,
    ready: u64,
    failed: u64,
    first_connect_ns: Option<u64>,
    last_ready_ns: Option<u64>,
    first_error: Option<String>,
    cpu_start: Option<(u64, u64)>,
    cpu_end: Option<(u64, u64)>,
    last_live_ns: u64,
    last_tick_ns: u64,
    /// The earliest scheduled message not yet due, for the poll timeout.
    next_due: Option<u64>,
    /// Publishers whose windows may have opened (an ack, a delivery, a writable socket, a
    /// batch cut short): looked at next turn. All of them are looked at only when a scheduled
    /// message falls due and every millisecond, so that a turn costs what happened in it
    /// rather than the number of publishers.
    check: Vec<usize>,
    next_scan_ns: u64,
    /// Publisher id to connection index, for publishers on this thread.
    pub_conn: Vec<usize>,
    /// A closed-loop publisher waits for deliveries that may be counted on another thread.
    waiting_on_delivery: bool,
}

impl Worker {
    pub fn new(
        index: usize,
        plan: Arc<Plan>,
        shared: Arc<Shared>,
        poll: Poll,
        clients: Vec<Client>,
    ) -> Worker {
        let version = plan.common.version();
        let qos = plan.common.qos();
        let max_frame = (plan.payload + 70_000).max(1 << 20);
        let publishers = plan.publishers.len();
        let group = plan.accounting == Accounting::Group;
        let mut to_open = clients;
        // Opened from the back: subscribers first, so they are in place when publishing starts.
        to_open.reverse();
        Worker {
            index,
            version,
            qos,
            conns: Vec::with_capacity(to_open.len()),
            opening: 0,
            to_open,
            publishers: Vec::new(),
            flush_list: Vec::new(),
            unfinished: Vec::new(),
            rbuf: vec![0; 2 * max_frame.max(256 << 10)],
            max_frame,
            counters: Counters::default(),
            latency: new_histogram(),
            interval: new_histogram(),
            connect_latency: new_histogram(),
            send_lag: new_histogram(),
            group_seen: if group {
                vec![SeenSet::default(); publishers]
            } else {
                Vec::new()
            },
            delivered_local: vec![0; publishers],
            touched: Vec::new(),
            unacked: 0,
            ready: 0,
            failed: 0,
            first_connect_ns: None,
            last_ready_ns: None,
            first_error: None,
            cpu_start: None,
            cpu_end: None,
            last_live_ns: 0,
            last_tick_ns: 0,
            next_due: None,
            check: Vec::new(),
            next_scan_ns: 0,
            pub_conn: vec![usize::MAX; publishers],
            waiting_on_delivery: false,
            plan,
            shared,
            poll,
        }
    }

    pub fn run(mut self) -> WorkerResult {
        let mut events = Events::with_capacity(1024);
        loop {
            let phase = self.shared.phase();
            if phase == Phase::Stop {
                break;
            }
            let now = self.shared.now_ns();
            if phase == Phase::Setup {
                self.open_more(now);
            }
            let timeout = self.timeout(phase, now);
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                self.note_error(format!("poll: {e}"));
                break;
            }
            for event in events.iter() {
                let Token(ci) = event.token();
                if ci >= self.conns.len() {
                    continue; // the waker
                }
                if event.is_writable() {
                    self.on_writable(ci);
                }
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.read(ci);
                }
            }
            for ci in std::mem::take(&mut self.unfinished) {
                self.read(ci);
            }
            self.publish_deliveries();
            let now = self.shared.now_ns();
            if self.shared.phase() == Phase::Publish {
                self.generate(now);
            }
            self.flush_all(now);
            self.housekeeping(now);
        }
        self.finish()
    }

    // ---- connecting -------------------------------------------------------------------------

    fn open_more(&mut self, now: u64) {
        let per_worker =
            (self.plan.common.connect_concurrency as usize / self.shared.workers()).max(1);
        while self.opening < per_worker {
            let Some(client) = self.to_open.pop() else {
                return;
            };
            let (source, role) = match client {
                Client::Pub { id, source } => (source, self.new_publisher(id)),
                Client::Sub { id, source } => (
                    source,
                    Role::Sub {
                        id,
                        streams: Vec::new(),
                    },
                ),
            };
            self.first_connect_ns.get_or_insert(now);
            let mut sock = match sys::start_connect(self.plan.target, source) {
                Ok(sock) => sock,
                Err(e) => {
                    self.failed += 1;
                    self.counters.connects_failed += 1;
                    self.note_error(format!("connect to {}: {e}", self.plan.target));
                    continue;
                }
            };
            let token = Token(self.conns.len());
            if let Err(e) = self.poll.registry().register(
                &mut sock,
                token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                self.failed += 1;
                self.note_error(format!("register: {e}"));
                continue;
            }
            let client_id = format!(
                "mlg{:08x}-{}{}",
                self.plan.run_tag,
                if matches!(role, Role::Pub(_)) {
                    "p"
                } else {
                    "s"
                },
                match client {
                    Client::Pub { id, .. } | Client::Sub { id, .. } => id,
                }
            );
            let mut out = Vec::new();
            let persistent = self.plan.common.persistent && matches!(role, Role::Sub { .. });
            wire::encode_connect(self.version, &client_id, KEEP_ALIVE_S, persistent, &mut out);
            let tls = match self
                .plan
                .tls
                .as_ref()
                .map(TlsClient::connection)
                .transpose()
            {
                Ok(tls) => tls,
                Err(e) => {
                    self.failed += 1;
                    self.counters.connects_failed += 1;
                    self.note_error(format!("TLS: {e}"));
                    continue;
                }
            };
            self.conns.push(Conn {
                sock,
                tls,
                state: State::Connecting,
                role,
                out,
                out_pos: 0,
                pending: Vec::new(),
                writable: false,
                queued_for_flush: false,
                started_ns: now,
                last_send_ns: now,
            });
            self.opening += 1;
        }
    }

    fn new_publisher(&self, id: u32) -> Role {
        let spec = &self.plan.publishers[id as usize];
        let c = &self.plan.common;
        Role::Pub(Box::new(PubState {
            id,
            template: PublishTemplate::new(
                self.version,
                &spec.topic,
                self.qos,
                c.retain,
                self.plan.payload,
                self.plan.run_tag,
                id,
            ),
            fanout: if self.shared.swallow { 0 } else { spec.fanout },
            seq: 0,
            unacked: 0,
            ids: if self.qos == QoS::AtMostOnce {
                Vec::new()
            } else {
                vec![0; 1024]
            },
            next_id: 1,
            schedule: None,
            forgiven: 0,
            last_delivered: 0,
            last_progress_ns: 0,
            queued: false,
        }))
    }

    fn on_writable(&mut self, ci: usize) {
        let conn = &mut self.conns[ci];
        if conn.state == State::Closed {
            return;
        }
        if conn.state == State::Connecting {
            match conn.sock.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return self.fail(ci, format!("connect: {e}")),
            }
            match conn.sock.peer_addr() {
                Ok(_) => conn.state = State::AwaitConnAck,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.fail(ci, format!("connect: {e}")),
            }
        }
        conn.writable = true;
        self.queue_flush(ci);
        self.recheck(ci);
    }

    /// Puts a publisher on next turn's list.
    fn recheck(&mut self, ci: usize) {
        if let Role::Pub(p) = &mut self.conns[ci].role
            && !p.queued
        {
            p.queued = true;
            self.check.push(ci);
        }
    }

    /// A client that has not become ready failed; a ready one disconnected.
    fn fail(&mut self, ci: usize, why: String) {
        let conn = &mut self.conns[ci];
        match conn.state {
            State::Closed => return,
            State::Ready => self.counters.disconnects += 1,
            _ => {
                self.failed += 1;
                self.opening -= 1;
                self.counters.connects_failed += 1;
            }
        }
        if let Role::Pub(p) = &conn.role {
            self.unacked -= u64::from(p.unacked);
        }
        conn.state = State::Closed;
        let _ = self.poll.registry().deregister(&mut conn.sock);
        conn.out = Vec::new();
        conn.pending = Vec::new();
        self.note_error(why);
    }

    fn note_error(&mut self, why: String) {
        self.counters.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why);
        }
    }

    fn became_ready(&mut self, ci: usize, now: u64) {
        self.conns[ci].state = State::Ready;
        self.ready += 1;
        self.opening -= 1;
        self.last_ready_ns = Some(now);
        if let Role::Pub(p) = &self.conns[ci].role {
            self.pub_conn[p.id as usize] = ci;
            self.publishers.push(ci);
        }
        // Idle connections keep nothing they do not need.
        let conn = &mut self.conns[ci];
        if conn.out_pending() == 0 {
            conn.out = Vec::new();
            conn.out_pos = 0;
        }
    }

    // ---- reading ----------------------------------------------------------------------------

    fn read(&mut self, ci: usize) {
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut more = true;
        for _ in 0..READS_PER_TURN {
            let conn = &mut self.conns[ci];
            if matches!(conn.state, State::Closed | State::Connecting) {
                more = false;
                break;
            }
            let have = conn.pending.len();
            if rbuf.len() < have + (64 << 10) {
                rbuf.resize(have + (256 << 10), 0);
            }
            rbuf[..have].copy_from_slice(&conn.pending);
            conn.pending.clear();
            match link::read(&mut conn.sock, conn.tls.as_deref_mut(), &mut rbuf[have..]) {
                Ok(0) => {
                    self.fail(ci, "connection closed by the broker".into());
                    more = false;
                    break;
                }
                Ok(n) => {
                    let end = have + n;
                    let now = self.shared.now_ns();
                    let used = self.parse(ci, &rbuf[..end], now);
                    let conn = &mut self.conns[ci];
                    if conn.state == State::Closed {
                        more = false;
                        break;
                    }
                    conn.pending.extend_from_slice(&rbuf[used..end]);
                    if end < rbuf.len() {
                        // A short read drained the socket; new bytes raise a new edge.
                        more = false;
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    conn.pending.extend_from_slice(&rbuf[..have]);
                    more = false;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    conn.pending.extend_from_slice(&rbuf[..have]);
                }
                Err(e) => {
                    self.fail(ci, format!("read: {e}"));
                    more = false;
                    break;
                }
            }
        }
        // Every read filled the buffer: there is more, read next turn without waiting.
        if more && !self.unfinished.contains(&ci) {
            self.unfinished.push(ci);
        }
        // A TLS read may leave handshake messages or alerts to send.
        if link::pending(self.conns[ci].tls.as_deref()) {
            self.queue_flush(ci);
        }
        self.rbuf = rbuf;
    }

    /// Handles every whole frame in `buf`; returns the bytes used.
    fn parse(&mut self, ci: usize, buf: &[u8], now: u64) -> usize {
        let v5 = self.version == Version::V5;
        let mut at = 0;
        loop {
            match wire::next_frame(&buf[at..], v5, self.max_frame) {
                Ok(Some((frame, len))) => {
                    self.counters.bytes_received += len as u64;
                    self.on_frame(ci, frame, len, now);
                    at += len;
                    if self.conns[ci].state == State::Closed {
                        return at;
                    }
                }
                Ok(None) => return at,
                Err(e) => {
                    self.fail(ci, format!("from the broker: {e}"));
                    return at;
                }
            }
        }
    }

    fn on_frame(&mut self, ci: usize, frame: Frame<'_>, len: usize, now: u64) {
        match frame {
            Frame::Publish {
                qos,
                packet_id,
                payload,
                ..
            } => {
                self.on_publish(ci, payload, len, now);
                let out = &mut self.conns[ci].out;
                match qos {
                    1 => wire::put_ack(kind::PUBACK, packet_id, out),
                    2 => wire::put_ack(kind::PUBREC, packet_id, out),
                    _ => return,
                }
                self.queue_flush(ci);
            }
            Frame::Ack {
                kind: k,
                packet_id,
                reason,
            } => self.on_ack(ci, k, packet_id, reason),
            Frame::PingResp => {}
            Frame::Other { bytes, .. } => match wire::decode_other(bytes, self.version) {
                Ok(packet) => self.on_control(ci, packet, now),
                Err(e) => self.fail(ci, format!("from the broker: {e}")),
            },
        }
    }

    #[inline]
    fn on_publish(&mut self, ci: usize, payload: &[u8], len: usize, now: u64) {
        let publishers = self.delivered_local.len();
        let Some(stamp) = Stamp::read(payload)
            .filter(|s| s.run == self.plan.run_tag && (s.publisher as usize) < publishers)
        else {
            self.counters.foreign += 1;
            return;
        };
        let c = &mut self.counters;
        c.received += 1;
        let (measure_start, measure_end) = self.shared.window();
        if (measure_start..measure_end).contains(&now) {
            c.received_measured += 1;
            c.bytes_received_measured += len as u64;
        }
        let p = stamp.publisher as usize;
        let arrival = match (&mut self.conns[ci].role, self.plan.accounting) {
            (_, Accounting::Group) => {
                if self.group_seen[p].insert(stamp.seq) {
                    Arrival::New
                } else {
                    Arrival::Duplicate
                }
            }
            (Role::Sub { streams, .. }, Accounting::Streams) => {
                if streams.len() <= p {
                    streams.resize_with(p + 1, StreamTracker::default);
                }
                streams[p].record(stamp.seq)
            }
            // A publisher that receives: some other client's doing; not ours to count.
            (Role::Pub(_), Accounting::Streams) => {
                c.received -= 1;
                c.foreign += 1;
                return;
            }
        };
        match arrival {
            Arrival::Duplicate => c.duplicates += 1,
            Arrival::Late | Arrival::New => {
                c.unique += 1;
                if arrival == Arrival::Late {
                    c.out_of_order += 1;
                }
                if self.delivered_local[p] == 0 {
                    self.touched.push(stamp.publisher);
                }
                self.delivered_local[p] += 1;
            }
        }
        if (measure_start..measure_end).contains(&stamp.sent_ns) {
            let us = latency_us(stamp.sent_ns, now);
            self.latency.saturating_record(us);
            self.interval.saturating_record(us);
        }
    }

    fn on_ack(&mut self, ci: usize, k: u8, packet_id: u16, reason: u8) {
        if reason >= 0x80 {
            self.note_error(format!(
                "the broker refused packet {packet_id} with reason 0x{reason:02x}"
            ));
        }
        let conn = &mut self.conns[ci];
        match (&mut conn.role, k) {
            (Role::Sub { .. }, kind::PUBREL) => {
                wire::put_ack(kind::PUBCOMP, packet_id, &mut conn.out);
                self.queue_flush(ci);
            }
            (Role::Pub(_), kind::PUBREC) if reason < 0x80 => {
                wire::put_ack(kind::PUBREL, packet_id, &mut conn.out);
                self.queue_flush(ci);
            }
            // PUBACK and PUBCOMP end a flow; so does a PUBREC that refuses the message.
            (Role::Pub(p), kind::PUBACK | kind::PUBCOMP | kind::PUBREC) => {
                if p.free_id(packet_id) {
                    p.unacked -= 1;
                    self.unacked -= 1;
                    self.counters.acked += 1;
                    self.recheck(ci);
                } else {
                    self.note_error(format!(
                        "acknowledgement for packet {packet_id}, which was not in flight"
                    ));
                }
            }
            _ => self.note_error(format!("unexpected acknowledgement (type {k})")),
        }
    }

    fn on_control(&mut self, ci: usize, packet: Packet, now: u64) {
        let conn = &mut self.conns[ci];
        match (conn.state, packet) {
            (State::AwaitConnAck | State::Connecting, Packet::ConnAck(ack)) => {
                if ack.code != 0 {
                    return self.fail(
                        ci,
                        format!(
                            "the broker refused the connection (code 0x{:02x})",
                            ack.code
                        ),
                    );
                }
                self.connect_latency
                    .saturating_record(latency_us(conn.started_ns, now));
                match conn.role {
                    Role::Sub { id, .. } => {
                        conn.state = State::AwaitSubAck;
                        let filter = &self.plan.subscribers[id as usize].filter;
                        wire::encode_subscribe(self.version, filter, self.qos, &mut conn.out);
                        self.queue_flush(ci);
                    }
                    Role::Pub(_) => self.became_ready(ci, now),
                }
            }
            (State::AwaitSubAck, Packet::SubAck(ack)) => {
                if let Some(code) = ack.return_codes.iter().find(|&&c| c >= 0x80) {
                    return self.fail(
                        ci,
                        format!("the broker refused the subscription (code 0x{code:02x})"),
                    );
                }
                self.became_ready(ci, now);
            }
            (_, Packet::Disconnect(d)) => {
                self.fail(
                    ci,
                    format!("the broker disconnected us (reason 0x{:02x})", d.reason),
                );
            }
            (_, other) => self.note_error(format!("unexpected {} from the broker", other.name())),
        }
    }

    // ---- publishing -------------------------------------------------------------------------

    /// Lets every ready publisher append what it may: what the schedule has made due, or, in a
    /// closed loop, what its windows allow.
    fn generate(&mut self, now: u64) {
        let (measure_start, end) = self.shared.window();
        if now >= end {
            return;
        }
        let full = now >= self.next_scan_ns || self.next_due.is_some_and(|d| now >= d);
        let list = if full {
            self.next_scan_ns = now + 1_000_000;
            self.next_due = None;
            self.waiting_on_delivery = false;
            self.publishers.clone()
        } else {
            std::mem::take(&mut self.check)
        };
        let start = self.shared.publish_start();
        let inflight = self.plan.common.inflight;
        let rate = self.plan.common.rate;
        let stride = self.plan.publishers.len() as u64;
        let qos0 = self.qos == QoS::AtMostOnce;
        for ci in list {
            let conn = &mut self.conns[ci];
            let Role::Pub(p) = &mut conn.role else {
                continue;
            };
            p.queued = false;
            if conn.state != State::Ready {
                continue;
            }
            if p.last_progress_ns == 0 {
                p.last_progress_ns = now;
                p.schedule = rate.map(|r| Schedule::new(start, u64::from(p.id), stride, r));
            }
            let mut sent = 0;
            let mut cut_short = false;
            loop {
                if sent == BATCH || conn.out.len() - conn.out_pos >= OUT_HIGH_WATER {
                    cut_short = conn.writable;
                    break;
                }
                if !qos0 && p.unacked >= inflight {
                    break;
                }
                let intended = match p.schedule {
                    Some(s) => {
                        let due = s.due(p.seq);
                        if due > now {
                            if due < end {
                                self.next_due = Some(self.next_due.map_or(due, |d| d.min(due)));
                            }
                            break;
                        }
                        if due >= end {
                            break;
                        }
                        self.send_lag.saturating_record((now - due) / 1000);
                        due
                    }
                    None if p.fanout > 0 => {
                        let delivered = self.shared.delivered(p.id);
                        if delivered != p.last_delivered {
                            p.last_delivered = delivered;
                            p.last_progress_ns = now;
                        }
                        let outstanding = (p.seq * p.fanout).saturating_sub(delivered + p.forgiven);
                        if outstanding >= u64::from(inflight) * p.fanout {
                            if now - p.last_progress_ns > STALL_NS {
                                p.forgiven += outstanding;
                                p.last_progress_ns = now;
                                self.counters.stalls += 1;
                                continue;
                            }
                            self.waiting_on_delivery = true;
                            break;
                        }
                        now
                    }
                    None => now,
                };
                let id = if qos0 {
                    0
                } else {
                    match p.take_id() {
                        Some(id) => id,
                        None => break,
                    }
                };
                p.template.append(&mut conn.out, id, p.seq, intended);
                p.seq += 1;
                sent += 1;
                if !qos0 {
                    p.unacked += 1;
                    self.unacked += 1;
                }
                let c = &mut self.counters;
                let len = p.template.len() as u64;
                c.sent += 1;
                c.bytes_sent += len;
                if (measure_start..end).contains(&intended) {
                    c.sent_measured += 1;
                    c.bytes_sent_measured += len;
                }
                self.counters.expected += p.fanout;
            }
            if sent > 0 {
                conn.last_send_ns = now;
                self.queue_flush(ci);
            }
            if cut_short {
                self.recheck(ci);
            }
        }
    }

    /// Hands this turn's delivery counts to the publishers (on whichever thread they are).
    fn publish_deliveries(&mut self) {
        for i in 0..self.touched.len() {
            let p = self.touched[i];
            let n = std::mem::take(&mut self.delivered_local[p as usize]);
            self.shared.add_delivered(p, n);
            let ci = self.pub_conn[p as usize];
            if ci != usize::MAX {
                self.recheck(ci);
            }
        }
        self.touched.clear();
    }

    // ---- writing ----------------------------------------------------------------------------

    fn queue_flush(&mut self, ci: usize) {
        let conn = &mut self.conns[ci];
        if !conn.queued_for_flush {
            conn.queued_for_flush = true;
            self.flush_list.push(ci);
        }
    }

    /// One write per connection that has output: as much as the socket takes.
    fn flush_all(&mut self, now: u64) {
        let list = std::mem::take(&mut self.flush_list);
        for &ci in &list {
            let conn = &mut self.conns[ci];
            conn.queued_for_flush = false;
            let records_waiting = link::pending(conn.tls.as_deref());
            if !conn.writable
                || conn.state == State::Closed
                || (conn.out_pending() == 0 && !records_waiting)
            {
                continue;
            }
            let unsent = &conn.out[conn.out_pos..];
            match link::write(&mut conn.sock, conn.tls.as_deref_mut(), unsent) {
                Ok(n) => {
                    conn.out_pos += n;
                    conn.last_send_ns = now;
                    if conn.out_pos == conn.out.len() {
                        conn.out.clear();
                        conn.out_pos = 0;
                    }
                    if conn.out_pos != 0 || link::pending(conn.tls.as_deref()) {
                        // The socket is full: wait for its writable edge.
                        conn.writable = false;
                        if conn.out_pos >= 256 << 10 {
                            conn.out.drain(..conn.out_pos);
                            conn.out_pos = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.queue_flush(ci),
                Err(e) => self.fail(ci, format!("write: {e}")),
            }
        }
        let mut list = list;
        list.clear();
        if self.flush_list.is_empty() {
            self.flush_list = list;
        }
    }

    // ---- the rest of a turn -----------------------------------------------------------------

    fn timeout(&self, phase: Phase, now: u64) -> Option<Duration> {
        const IDLE: Duration = Duration::from_millis(100);
        if !self.unfinished.is_empty() || !self.check.is_empty() && phase == Phase::Publish {
            return Some(Duration::ZERO);
        }
        if phase != Phase::Publish {
            return Some(if phase == Phase::Setup {
                Duration::from_millis(10)
            } else {
                IDLE
            });
        }
        if self.waiting_on_delivery && self.shared.workers() > 1 {
            // Deliveries counted on another thread wake nobody here: look again soon.
            return Some(Duration::from_millis(1));
        }
        let Some(due) = self.next_due else {
            return Some(IDLE);
        };
        // epoll sleeps in whole milliseconds, rounded up: sleep short of the due time and
        // spin the last stretch, so that messages leave on time.
        let wait = due.saturating_sub(now);
        if wait <= 2_000_000 {
            Some(Duration::ZERO)
        } else {
            Some(Duration::from_nanos(wait - 1_000_000).min(IDLE))
        }
    }

    fn housekeeping(&mut self, now: u64) {
        let (measure_start, measure_end) = self.shared.window();
        if self.cpu_start.is_none() && now >= measure_start {
            self.cpu_start = Some((sys::thread_cpu_ns(), now));
        }
        if self.cpu_end.is_none() && now >= measure_end {
            self.cpu_end = Some((sys::thread_cpu_ns(), now));
        }
        let progress = &self.shared.progress[self.index];
        let c = &self.counters;
        progress.sent.store(c.sent, Relaxed);
        progress.received.store(c.received, Relaxed);
        progress.unique.store(c.unique, Relaxed);
        progress.expected.store(c.expected, Relaxed);
        progress.acked.store(c.acked, Relaxed);
        progress.unacked.store(self.unacked, Relaxed);
        progress.ready.store(self.ready, Relaxed);
        progress.failed.store(self.failed, Relaxed);
        progress.disconnects.store(c.disconnects, Relaxed);
        if now - self.last_live_ns >= 200_000_000 {
            self.last_live_ns = now;
            if let Ok(mut live) = progress.live.lock() {
                let _ = live.add(&self.interval);
            }
            self.interval.reset();
        }
        if now - self.last_tick_ns >= 1_000_000_000 {
            self.last_tick_ns = now;
            for ci in 0..self.conns.len() {
                let conn = &mut self.conns[ci];
                if conn.state == State::Ready && now - conn.last_send_ns > PING_AFTER_NS {
                    conn.out.extend_from_slice(&[kind::PINGREQ << 4, 0]);
                    conn.last_send_ns = now;
                    self.queue_flush(ci);
                }
            }
        }
    }

    /// Says goodbye (clearing retained messages first) and hands back what was counted.
    fn finish(mut self) -> WorkerResult {
        let now = self.shared.now_ns();
        let (_, end) = self.shared.window();
        for ci in 0..self.conns.len() {
            let conn = &mut self.conns[ci];
            if conn.state == State::Closed {
                continue;
            }
            if let Role::Pub(p) = &conn.role {
                if let Some(s) = p.schedule {
                    self.counters.behind_schedule += s.total_before(end).saturating_sub(p.seq);
                }
                if self.plan.common.retain && conn.state == State::Ready {
                    let topic = &self.plan.publishers[p.id as usize].topic;
                    let clear = midge::protocol::Publish {
                        retain: true,
                        topic: midge::protocol::ByteStr::from_utf8(
                            topic.as_bytes().to_vec().into(),
                        )
                        .unwrap_or_default(),
                        ..Default::default()
                    };
                    wire::encode(&Packet::Publish(clear), self.version, &mut conn.out);
                }
            }
            if conn.state == State::Ready {
                conn.out.extend_from_slice(&[kind::DISCONNECT << 4, 0]);
            }
            conn.writable = true;
            self.queue_flush(ci);
        }
        self.flush_all(now);
        for conn in &self.conns {
            if let Role::Sub { streams, .. } = &conn.role {
                for s in streams {
                    self.counters.gaps_forgotten += s.forgotten;
                }
            }
        }
        let missing = self
            .conns
            .iter()
            .map(|c| match &c.role {
                Role::Sub { streams, .. } => streams.iter().map(StreamTracker::missing).sum(),
                Role::Pub(_) => 0,
            })
            .sum();
        // A run that stops within a turn of the window's end has not sampled it yet.
        let cpu_end = self.cpu_end.or(Some((sys::thread_cpu_ns(), now)));
        let (cpu_ns, cpu_wall_ns) = match (self.cpu_start, cpu_end) {
            (Some((c0, w0)), Some((c1, w1))) => (c1 - c0, w1 - w0),
            _ => (0, 0),
        };
        WorkerResult {
            counters: self.counters,
            latency: self.latency,
            connect_latency: self.connect_latency,
            send_lag: self.send_lag,
            group_seen: self.group_seen,
            missing,
            cpu_ns,
            cpu_wall_ns,
            first_connect_ns: self.first_connect_ns,
            last_ready_ns: self.last_ready_ns,
            first_error: self.first_error,
        }
    }
}
