//! A broker in process, driven one loop turn at a time over loopback sockets, so that a test
//! can look at what it holds between turns and at what each client got after exactly one
//! turn (`retained_delivery.rs`, `teardown.rs`). Unlike `inproc.rs` there is no script:
//! the test holds each client's socket and says when the broker turns, and when its timers
//! run on a clock moved ahead (`tick_after`).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use midge::auth::Auth;
use midge::broker::Broker;
use midge::config::Config;
use midge::connection::Connection;
use midge::listener_rules::ListenerRules;
use mio::Token;

use super::packets::{CONNACK_OK, connect_v311};

/// Turns before a test gives up waiting for something.
pub const TURNS_MAX: usize = 100_000;
/// Socket buffer sizes asked for unless a test says otherwise (the kernel doubles them).
const SOCKET_BUFFER: usize = 32 * 1024;

pub struct Peer {
    pub stream: TcpStream,
    pub received: Vec<u8>,
}

pub struct Rig {
    pub broker: Broker,
    listener: TcpListener,
    rules: Rc<ListenerRules>,
    peers: Vec<Token>,
    /// The client's receive buffer asked for, for clients connected from now on.
    pub client_receive_buffer: usize,
    /// How far the broker's clock is ahead of the real one (`tick_after`).
    clock_ahead: Duration,
}

impl Rig {
    /// A broker with the configuration `text`, and no client yet.
    pub fn with_config(text: &str) -> Rig {
        let config = Config::parse(text, "test").expect("config").0;
        let auth = Auth::load(&config, []).expect("auth");
        let first = config.effective_listeners().swap_remove(0);
        Rig {
            rules: Rc::new(ListenerRules::new(&config, &first)),
            broker: Broker::new(config, auth),
            listener: TcpListener::bind("127.0.0.1:0").expect("listener"),
            peers: Vec::new(),
            client_receive_buffer: SOCKET_BUFFER,
            clock_ahead: Duration::ZERO,
        }
    }

    /// A 3.1.1 client with a clean session that has sent CONNECT (and whatever `then`
    /// holds) and read its CONNACK.
    pub fn client(&mut self, id: &str, then: &[u8]) -> Peer {
        let hello = [connect_v311(id, true, 0), then.to_vec()].concat();
        self.connect(&hello, CONNACK_OK)
    }

    /// A client that has sent `hello` (a CONNECT and what follows it) and read `connack`.
    pub fn connect(&mut self, hello: &[u8], connack: impl AsRef<[u8]>) -> Peer {
        let addr = self.listener.local_addr().expect("addr");
        // Small socket buffers, so that what the broker holds back is not hidden in the
        // kernel's.
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .set_recv_buffer_size(self.client_receive_buffer)
            .expect("SO_RCVBUF");
        socket.connect(&addr.into()).expect("connect");
        let stream: TcpStream = socket.into();
        let (server, peer) = self.listener.accept().expect("accept");
        socket2::SockRef::from(&server)
            .set_send_buffer_size(SOCKET_BUFFER)
            .expect("SO_SNDBUF");
        server.set_nonblocking(true).expect("nonblocking");
        stream.set_nonblocking(true).expect("nonblocking");
        // No Nagle on either end, as the event loop sets it for the broker's: a side whose
        // last segment got no reply to carry its ACK would hold its next small write for the
        // delayed ACK, 40 ms, and miss the turn it was meant for.
        server.set_nodelay(true).expect("TCP_NODELAY");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let conn = Connection::new(
            mio::net::TcpStream::from_std(server),
            peer,
            0,
            addr.port(),
            Rc::clone(&self.rules),
            self.now(),
        );
        let token = self.broker.accept(conn, None).expect("accepted");
        self.peers.push(token);
        let mut peer = Peer {
            stream,
            received: Vec::new(),
        };
        self.send(&mut peer, hello);
        self.turn();
        peer.read();
        let connack = connack.as_ref();
        assert_eq!(peer.received[..connack.len()], *connack, "CONNACK");
        peer.received.drain(..connack.len());
        peer
    }

    /// Sends `bytes` from `peer`, with the broker turning while its socket is full.
    pub fn send(&mut self, peer: &mut Peer, mut bytes: &[u8]) {
        for _ in 0..TURNS_MAX {
            match peer.stream.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.turn(),
                Err(e) => panic!("send: {e}"),
            }
            if bytes.is_empty() {
                return;
            }
        }
        panic!("the broker did not read");
    }

    /// One loop turn: every connection read, and written as if the poller had said it was
    /// writable again; the timers left alone.
    pub fn turn(&mut self) {
        self.run_turn(false);
    }

    /// Moves the broker's clock `by` ahead, then one loop turn with the timers run, as the
    /// event loop runs them: after the reads, before the flush.
    pub fn tick_after(&mut self, by: Duration) {
        self.clock_ahead += by;
        self.run_turn(true);
    }

    fn run_turn(&mut self, tick: bool) {
        self.broker.set_now(self.now());
        for &token in &self.peers {
            self.broker.on_readable(token);
            self.broker.on_writable(token);
        }
        for token in self.broker.take_unfinished_reads() {
            self.broker.on_readable(token);
        }
        if tick {
            self.broker.tick();
        }
        self.broker.flush();
    }

    /// The broker's clock: the real one, `clock_ahead` ahead.
    fn now(&self) -> Instant {
        Instant::now() + self.clock_ahead
    }
}

impl Rig {
    /// A turn in which the poller reported nothing: only what the broker itself carried
    /// over from the last turn is done.
    pub fn quiet_turn(&mut self) {
        self.broker.set_now(self.now());
        for token in self.broker.take_unfinished_reads() {
            self.broker.on_readable(token);
        }
        self.broker.flush();
    }
}

impl Peer {
    /// Reads what has arrived, without waiting.
    pub fn read(&mut self) {
        assert!(!self.read_to_close(), "closed by the broker");
    }

    /// Reads what has arrived, without waiting, and says how much has arrived in all.
    pub fn read_len(&mut self) -> usize {
        self.read();
        self.received.len()
    }

    /// Reads what has arrived, without waiting; true if the broker has closed the
    /// connection.
    pub fn read_to_close(&mut self) -> bool {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Takes the complete packets received so far: (first byte, body).
    pub fn packets(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let (mut len, mut shift, mut at) = (0usize, 0, 1);
            while let Some(&b) = self.received.get(at) {
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                at += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
            if self.received.len() < 2 || self.received.len() < at + len {
                return out;
            }
            let first = self.received[0];
            let body = self.received[at..at + len].to_vec();
            self.received.drain(..at + len);
            out.push((first, body));
        }
    }
}
