//! A scripted fake broker for the client's unit tests: a listener on 127.0.0.1:0 and a thread
//! that plays one connection, decoding what the client sends with the codec. Every wait is
//! bounded, so a client that stays silent fails the test instead of hanging it.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::protocol::{self, ConnAck, Connect, Packet, Version};

pub const WAIT: Duration = Duration::from_secs(5);

pub struct Peer {
    stream: TcpStream,
    rx: BytesMut,
    pub version: Version,
}

/// Starts a fake broker that runs `script` on the first connection; returns its port.
pub fn spawn<F>(script: F) -> (u16, JoinHandle<()>)
where
    F: FnOnce(Peer) + Send + 'static,
{
    spawn_listener(|listener| script(listener.next()))
}

/// Accepts the client's connections one after another.
pub struct Listener(TcpListener);

impl Listener {
    /// The next connection; panics if none comes in time.
    pub fn next(&mut self) -> Peer {
        let deadline = Instant::now() + WAIT;
        let stream = loop {
            match self.0.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("no client connected: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        Peer {
            stream,
            rx: BytesMut::new(),
            version: Version::V311,
        }
    }
}

/// Starts a fake broker that may take several connections; returns its port.
pub fn spawn_listener<F>(script: F) -> (u16, JoinHandle<()>)
where
    F: FnOnce(&mut Listener) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let handle = std::thread::spawn(move || script(&mut Listener(listener)));
    (port, handle)
}

/// A port on which nothing listens.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

impl Peer {
    /// The next packet from the client; panics if none arrives in time.
    pub fn recv(&mut self) -> Packet {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(packet) =
                protocol::decode(&mut self.rx, self.version, 1 << 20).expect("valid packet")
            {
                return packet;
            }
            let n = self.stream.read(&mut buf).expect("client sends a packet");
            assert!(n > 0, "client closed the connection");
            self.rx.extend_from_slice(&buf[..n]);
        }
    }

    /// The next packet, or None once the client has closed the connection.
    pub fn try_recv(&mut self) -> Option<Packet> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(packet) =
                protocol::decode(&mut self.rx, self.version, 1 << 20).expect("valid packet")
            {
                return Some(packet);
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.rx.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("client neither sent nor closed: {e}"),
            }
        }
    }

    pub fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        packet.encode(self.version, &mut out);
        self.send_raw(&out);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to client");
    }

    /// Expects CONNECT and adopts its protocol version.
    pub fn expect_connect(&mut self) -> Connect {
        match self.recv() {
            Packet::Connect(connect) => {
                self.version = connect.version;
                *connect
            }
            other => panic!("expected CONNECT, got {other:?}"),
        }
    }

    /// Expects CONNECT and accepts it.
    pub fn accept(&mut self) -> Connect {
        let connect = self.expect_connect();
        self.send(Packet::ConnAck(ConnAck::new(false, 0)));
        connect
    }

    /// Waits until the client closes the connection.
    pub fn expect_closed(&mut self) {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                Err(e) => panic!("client did not close: {e}"),
            }
        }
    }

    pub fn close(self) {
        drop(self.stream);
    }
}
