//! One TLS connection on the broker's data path, driven by the event loop without ever
//! blocking it.
//!
//! Reads: the socket's bytes go to rustls (`read_tls`), `process_new_packets` decrypts them,
//! and the plaintext is appended to the connection's read buffer, where the MQTT decoder finds
//! it as on plain TCP. Writes: the send queue's bytes are encrypted (`writer()`), then
//! `write_tls` sends records until the socket is full. Handshake messages take the same way
//! out: a read after which rustls has something to say marks the connection for the
//! end-of-turn flush, so a client that stalls its handshake holds nobody else up.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};

use bytes::BytesMut;
use mio::net::TcpStream;
use rustls::ServerConnection;

use super::{ServerTls, UsernameFrom, username};
use crate::send_queue::SendQueue;

pub struct TlsStream {
    conn: ServerConnection,
    username_from: UsernameFrom,
    /// Set when the peer's first bytes were not TLS at all (a plain MQTT client, say): it
    /// gets no alert, which it would read as MQTT, but a plain close, as from mosquitto.
    not_tls: bool,
    /// Set once a closing connection's close_notify is queued.
    close_notify_sent: bool,
}

/// The user name a client certificate gives (`use_identity_as_username`,
/// `use_subject_as_username`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The listener takes user names from CONNECT.
    NotUsed,
    /// The listener wants one, and there is no certificate, or no CN in it.
    Missing,
    Name(String),
}

/// A TLS protocol failure, carried inside an `io::Error` so that it takes the socket
/// errors' path out of the read loop and is logged as what it is.
#[derive(Debug)]
pub struct TlsFailure {
    pub during_handshake: bool,
    pub error: rustls::Error,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for TlsFailure {}

impl TlsStream {
    pub fn new(tls: &ServerTls) -> Result<TlsStream, rustls::Error> {
        Ok(TlsStream {
            conn: ServerConnection::new(tls.config.clone())?,
            username_from: tls.username_from,
            not_tls: false,
            close_notify_sent: false,
        })
    }

    /// Reads what the socket has into rustls and appends the plaintext it yields to
    /// `read_buf`. Returns the bytes read from the socket (0: the peer has closed), which
    /// may carry no plaintext at all during the handshake.
    pub fn read(&mut self, socket: &TcpStream, read_buf: &mut BytesMut) -> io::Result<usize> {
        let mut socket = socket;
        let n = self.conn.read_tls(&mut socket)?;
        if n == 0 {
            return Ok(0);
        }
        let during_handshake = self.conn.is_handshaking();
        let state = self.conn.process_new_packets().map_err(|error| {
            self.not_tls = during_handshake && matches!(error, rustls::Error::InvalidMessage(_));
            let failure = TlsFailure {
                during_handshake,
                error,
            };
            io::Error::new(io::ErrorKind::InvalidData, failure)
        })?;
        let len = state.plaintext_bytes_to_read();
        if len > 0 {
            let start = read_buf.len();
            read_buf.resize(start + len, 0);
            self.conn.reader().read_exact(&mut read_buf[start..])?;
        }
        Ok(n)
    }

    /// True when rustls has records to send (handshake messages, alerts, tickets).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Encrypts the queue and writes the records until both are empty (`Ok(true)`) or the
    /// socket is full (`Ok(false)`). Records rustls already holds go first: they are older.
    /// At most `limit` bytes of the queue are taken.
    pub fn flush(
        &mut self,
        socket: &TcpStream,
        queue: &mut SendQueue,
        limit: usize,
    ) -> io::Result<bool> {
        let mut left = limit;
        loop {
            if !self.send_records(socket)? {
                return Ok(false);
            }
            // Nothing is queued before CONNECT, which needs a finished handshake; checked
            // anyway so that no plaintext waits inside rustls unbounded.
            if queue.is_empty() || self.conn.is_handshaking() || left == 0 {
                return Ok(queue.is_empty());
            }
            let before = queue.len();
            queue.write_to(&mut Plaintext(&mut self.conn), left)?;
            left -= before - queue.len();
        }
    }

    /// Sends what fits of the queue, then close_notify (or, after a failed handshake, the
    /// alert rustls prepared), as far as the socket takes it: the connection is closing.
    pub fn finish(&mut self, socket: &TcpStream, queue: &mut SendQueue) {
        if self.not_tls {
            return;
        }
        if !self.conn.is_handshaking() {
            let _ = queue.write_to(&mut Plaintext(&mut self.conn), usize::MAX);
            self.conn.send_close_notify();
        }
        let _ = self.send_records(socket);
    }

    /// The closing connection's counterpart of `flush`, called until it returns true: the
    /// queue, then close_notify, as the socket takes them (after a failed handshake, the
    /// alert rustls prepared; to a peer that never spoke TLS, nothing).
    pub fn flush_closing(&mut self, socket: &TcpStream, queue: &mut SendQueue) -> io::Result<bool> {
        if self.not_tls {
            return Ok(true);
        }
        if self.conn.is_handshaking() {
            return self.send_records(socket);
        }
        loop {
            if !self.flush(socket, queue, usize::MAX)? {
                return Ok(false);
            }
            if self.close_notify_sent {
                return Ok(true);
            }
            self.conn.send_close_notify();
            self.close_notify_sent = true;
        }
    }

    /// Writes the records rustls holds: `Ok(true)` once none is left, `Ok(false)` when the
    /// socket is full.
    fn send_records(&mut self, mut socket: &TcpStream) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The user name from the client's certificate, if the listener takes it from there.
    pub fn identity(&self) -> Identity {
        if self.username_from == UsernameFrom::Connect {
            return Identity::NotUsed;
        }
        let leaf = self
            .conn
            .peer_certificates()
            .and_then(|chain| chain.first());
        match leaf.and_then(|cert| username(cert, self.username_from)) {
            Some(name) => Identity::Name(name),
            None => Identity::Missing,
        }
    }
}

/// rustls's plaintext side as a `Write` the send queue can drain into. rustls takes less, or
/// nothing, once its buffer of records is full; that is "would block" here, not an error.
struct Plaintext<'a>(&'a mut ServerConnection);

impl Write for Plaintext<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.0.writer().write_vectored(bufs)? {
            0 if bufs.iter().any(|b| !b.is_empty()) => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
