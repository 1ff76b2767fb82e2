//! A connection's bytes in and out, in clear or through rustls, for the engine's
//! non-blocking, edge-triggered loop.
//!
//! With TLS, a read must go on until the socket says `WouldBlock` (plaintext in hand says
//! nothing of what the socket still holds), and a write may leave encrypted records behind
//! when the socket fills: [`pending`] says so, and the engine waits for the writable edge.

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

/// What every TLS connection of a run starts from.
#[derive(Clone, Debug)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub name: ServerName<'static>,
}

impl TlsClient {
    /// The broker's name to check its certificate against: the host as given (a name or an
    /// address).
    pub fn new(config: Arc<ClientConfig>, host: &str) -> Result<TlsClient, String> {
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(host.to_string())
                .map_err(|e| format!("{host} is not a host name TLS can check: {e}"))?,
        };
        Ok(TlsClient { config, name })
    }

    pub fn connection(&self) -> io::Result<Box<ClientConnection>> {
        ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map(Box::new)
            .map_err(io::Error::other)
    }
}

/// Reads what there is into `buf`: `Ok(0)` at the end of the stream, `WouldBlock` when
/// nothing is there. A TLS read returns less than `buf.len()` only once the socket is empty.
pub fn read(
    sock: &mut TcpStream,
    tls: Option<&mut ClientConnection>,
    buf: &mut [u8],
) -> io::Result<usize> {
    let Some(tls) = tls else {
        return sock.read(buf);
    };
    let mut filled = 0;
    loop {
        match tls.reader().read(&mut buf[filled..]) {
            Ok(0) => return Ok(filled), // close_notify
            Ok(n) => {
                filled += n;
                if filled == buf.len() {
                    return Ok(filled);
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        match tls.read_tls(sock) {
            Ok(0) => return Ok(filled),
            Ok(_) => {
                tls.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
            Err(e) => return Err(e),
        }
    }
}

/// Writes from `data` as much as the connection takes; TLS takes it into rustls and sends
/// what records the socket will have (see [`pending`] for the rest).
pub fn write(
    sock: &mut TcpStream,
    tls: Option<&mut ClientConnection>,
    data: &[u8],
) -> io::Result<usize> {
    let Some(tls) = tls else {
        return sock.write(data);
    };
    let mut taken = 0;
    loop {
        while tls.wants_write() {
            match tls.write_tls(sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(taken),
                Err(e) => return Err(e),
            }
        }
        // rustls takes a bounded amount of plaintext at a time: go on while the socket does.
        if taken == data.len() {
            return Ok(taken);
        }
        match tls.writer().write(&data[taken..])? {
            0 => return Ok(taken),
            n => taken += n,
        }
    }
}

/// Encrypted records (or handshake messages) are waiting for the socket.
pub fn pending(tls: Option<&ClientConnection>) -> bool {
    tls.is_some_and(|tls| tls.wants_write())
}
