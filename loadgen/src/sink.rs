//! A fake broker in the generator's own process, to measure the generator's ceiling: it does
//! the least a broker can. It accepts every CONNECT and SUBSCRIBE, acknowledges every
//! PUBLISH, and forwards each one's bytes unchanged to every matching subscriber (one member
//! of a share group, in turn) — or, with `swallow`, to no one.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use midge::protocol::{ConnAck, Packet, SubAck, Version, topic};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::wire::{self, Frame, kind};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

pub struct Sink {
    pub port: u16,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Starts the sink on an ephemeral loopback port.
    pub fn start(swallow: bool) -> io::Result<Sink> {
        let mut listener = TcpListener::bind("127.0.0.1:0".parse().map_err(io::Error::other)?)?;
        let port = listener.local_addr()?.port();
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = Arc::new(AtomicBool::new(false));
        let mut state = SinkLoop {
            poll,
            listener,
            swallow,
            stop: stop.clone(),
            conns: Vec::new(),
            groups: HashMap::new(),
            routes: HashMap::new(),
            dirty: Vec::new(),
            rbuf: vec![0; 1 << 20],
        };
        let thread = std::thread::Builder::new()
            .name("sink".into())
            .spawn(move || state.run())?;
        Ok(Sink {
            port,
            stop,
            waker,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct SinkConn {
    sock: TcpStream,
    version: Version,
    pending: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    writable: bool,
    dirty: bool,
    open: bool,
}

#[derive(Clone, Copy)]
enum Target {
    Conn(usize),
    Group(usize),
}

struct SinkLoop {
    poll: Poll,
    listener: TcpListener,
    swallow: bool,
    stop: Arc<AtomicBool>,
    conns: Vec<SinkConn>,
    /// Subscriptions: (filter, share group or "") to members.
    groups: HashMap<(String, String), (Vec<usize>, usize)>,
    /// Topic to targets, rebuilt after each SUBSCRIBE.
    routes: HashMap<Vec<u8>, Vec<Target>>,
    dirty: Vec<usize>,
    rbuf: Vec<u8>,
}

impl SinkLoop {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        while !self.stop.load(Ordering::Acquire) {
            if self
                .poll
                .poll(&mut events, Some(std::time::Duration::from_millis(100)))
                .is_err()
            {
                continue;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(ci) => {
                        if event.is_writable() {
                            if let Some(c) = self.conns.get_mut(ci) {
                                c.writable = true;
                            }
                            self.mark(ci);
                        }
                        if event.is_readable() || event.is_read_closed() {
                            self.read(ci);
                        }
                    }
                }
            }
            self.flush();
        }
    }

    fn accept(&mut self) {
        while let Ok((mut sock, _)) = self.listener.accept() {
            let _ = sock.set_nodelay(true);
            let token = Token(self.conns.len());
            if self
                .poll
                .registry()
                .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                continue;
            }
            self.conns.push(SinkConn {
                sock,
                version: Version::V311,
                pending: Vec::new(),
                out: Vec::new(),
                out_pos: 0,
                writable: true,
                dirty: false,
                open: true,
            });
        }
    }

    fn mark(&mut self, ci: usize) {
        let c = &mut self.conns[ci];
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(ci);
        }
    }

    fn read(&mut self, ci: usize) {
        let mut rbuf = std::mem::take(&mut self.rbuf);
        for _ in 0..16 {
            let c = &mut self.conns[ci];
            if !c.open {
                break;
            }
            let have = c.pending.len();
            if rbuf.len() < have + (64 << 10) {
                rbuf.resize(have + (1 << 20), 0);
            }
            rbuf[..have].copy_from_slice(&c.pending);
            c.pending.clear();
            match c.sock.read(&mut rbuf[have..]) {
                Ok(0) => {
                    c.open = false;
                    break;
                }
                Ok(n) => {
                    let end = have + n;
                    let used = self.handle(ci, &rbuf[..end]);
                    let c = &mut self.conns[ci];
                    c.pending.extend_from_slice(&rbuf[used..end]);
                    if end < rbuf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.pending.extend_from_slice(&rbuf[..have]);
                    break;
                }
                Err(_) => {
                    c.open = false;
                    break;
                }
            }
        }
        if !self.conns[ci].open {
            let _ = self.poll.registry().deregister(&mut self.conns[ci].sock);
            self.unsubscribe_all(ci);
        }
        self.rbuf = rbuf;
    }

    fn handle(&mut self, ci: usize, buf: &[u8]) -> usize {
        let mut at = 0;
        loop {
            let v5 = self.conns[ci].version == Version::V5;
            let (frame, len) = match wire::next_frame(&buf[at..], v5, usize::MAX) {
                Ok(Some(f)) => f,
                Ok(None) => return at,
                Err(_) => {
                    self.conns[ci].open = false;
                    return at;
                }
            };
            let bytes = &buf[at..at + len];
            at += len;
            match frame {
                Frame::Publish {
                    qos,
                    packet_id,
                    topic,
                    ..
                } => {
                    match qos {
                        1 => wire::put_ack(kind::PUBACK, packet_id, &mut self.conns[ci].out),
                        2 => wire::put_ack(kind::PUBREC, packet_id, &mut self.conns[ci].out),
                        _ => {}
                    }
                    if qos > 0 {
                        self.mark(ci);
                    }
                    if !self.swallow {
                        self.forward(topic, bytes);
                    }
                }
                Frame::Ack {
                    kind: k, packet_id, ..
                } => {
                    let reply = match k {
                        kind::PUBREL => kind::PUBCOMP,
                        kind::PUBREC => kind::PUBREL,
                        _ => continue,
                    };
                    wire::put_ack(reply, packet_id, &mut self.conns[ci].out);
                    self.mark(ci);
                }
                Frame::PingResp => {}
                Frame::Other { kind: k, bytes } => self.control(ci, k, bytes),
            }
            if !self.conns[ci].open {
                return at;
            }
        }
    }

    fn control(&mut self, ci: usize, k: u8, bytes: &[u8]) {
        let version = self.conns[ci].version;
        let mut reply = Vec::new();
        match wire::decode_other(bytes, version) {
            Ok(Packet::Connect(c)) => {
                self.conns[ci].version = c.version;
                wire::encode(
                    &Packet::ConnAck(ConnAck::new(false, 0)),
                    c.version,
                    &mut reply,
                );
            }
            Ok(Packet::Subscribe(s)) => {
                let mut codes = Vec::new();
                for (filter, options) in &s.filters {
                    let (group, filter) = match filter.strip_prefix("$share/") {
                        Some(rest) => rest.split_once('/').unwrap_or((rest, "")),
                        None => ("", &filter[..]),
                    };
                    let members = &mut self
                        .groups
                        .entry((filter.to_string(), group.to_string()))
                        .or_default()
                        .0;
                    if !members.contains(&ci) {
                        members.push(ci);
                    }
                    codes.push(options.qos as u8);
                }
                self.routes.clear();
                let ack = SubAck {
                    packet_id: s.packet_id,
                    return_codes: codes,
                    ..SubAck::default()
                };
                wire::encode(&Packet::SubAck(ack), version, &mut reply);
            }
            _ if k == kind::PINGREQ => reply.extend_from_slice(&[kind::PINGRESP << 4, 0]),
            _ => {
                // DISCONNECT, or anything the sink does not play along with.
                self.conns[ci].open = false;
                return;
            }
        }
        self.conns[ci].out.extend_from_slice(&reply);
        self.mark(ci);
    }

    fn unsubscribe_all(&mut self, ci: usize) {
        for (members, _) in self.groups.values_mut() {
            members.retain(|&m| m != ci);
        }
        self.routes.clear();
    }

    fn forward(&mut self, topic_name: &[u8], frame: &[u8]) {
        if !self.routes.contains_key(topic_name) {
            let name = String::from_utf8_lossy(topic_name);
            let mut targets = Vec::new();
            for (i, ((filter, group), (members, _))) in self.groups.iter().enumerate() {
                if topic::matches(filter, &name) {
                    if group.is_empty() {
                        targets.extend(members.iter().map(|&m| Target::Conn(m)));
                    } else {
                        targets.push(Target::Group(i));
                    }
                }
            }
            self.routes.insert(topic_name.to_vec(), targets);
        }
        let Some(targets) = self.routes.get(topic_name) else {
            return;
        };
        for &t in targets {
            let ci = match t {
                Target::Conn(ci) => ci,
                Target::Group(i) => {
                    let Some((members, next)) = self.groups.values_mut().nth(i) else {
                        continue;
                    };
                    if members.is_empty() {
                        continue;
                    }
                    *next = (*next + 1) % members.len();
                    members[*next]
                }
            };
            let c = &mut self.conns[ci];
            c.out.extend_from_slice(frame);
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(ci);
            }
        }
    }

    fn flush(&mut self) {
        for ci in std::mem::take(&mut self.dirty) {
            let c = &mut self.conns[ci];
            c.dirty = false;
            if !c.open || !c.writable || c.out_pos == c.out.len() {
                continue;
            }
            match c.sock.write(&c.out[c.out_pos..]) {
                Ok(n) => {
                    c.out_pos += n;
                    if c.out_pos == c.out.len() {
                        c.out.clear();
                        c.out_pos = 0;
                    } else {
                        c.writable = false;
                        if c.out_pos >= 1 << 20 {
                            c.out.drain(..c.out_pos);
                            c.out_pos = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.writable = false,
                Err(_) => c.open = false,
            }
        }
    }
}
