//! Listening sockets, set up with socket2 so that every option is ours to choose.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{ListenerConfig, SocketDomain};
use crate::log_info;
use crate::tls::ServerTls;

/// Pending connections the kernel may hold for us (capped by net.core.somaxconn). Large, so
/// that a storm of reconnecting devices is queued rather than refused.
const BACKLOG: i32 = 4096;

pub struct Listener {
    pub socket: mio::net::TcpListener,
    /// The port actually bound (differs from the configured one for port 0).
    pub port: u16,
    pub config: ListenerConfig,
    /// Set on a TLS listener: what each of its connections starts from.
    pub tls: Option<ServerTls>,
}

/// Opens the sockets of one configured listener: one per address its bind address resolves
/// to (both IPv4 and IPv6 for "all interfaces", as mosquitto does). A TLS listener's files
/// are read first: a bad one is an error before anything listens.
pub fn open(config: &ListenerConfig) -> io::Result<Vec<Listener>> {
    let tls = match config.tls.enabled() {
        true => Some(ServerTls::load(config).map_err(io::Error::other)?),
        false => None,
    };
    if let Some(device) = &config.bind_interface
        && !interface_exists(device)
    {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("Interface {device} does not exist."),
        ));
    }
    let mut listeners = Vec::new();
    for addr in addresses(config)? {
        let socket = bind(addr, config.bind_interface.as_deref())?;
        let port = socket.local_addr()?.port();
        let family = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
        log_info!("Opening {family} listen socket on port {port}.");
        listeners.push(Listener {
            socket,
            port,
            config: config.clone(),
            tls: tls.clone(),
        });
    }
    Ok(listeners)
}

fn addresses(config: &ListenerConfig) -> io::Result<Vec<SocketAddr>> {
    let mut addrs: Vec<SocketAddr> = match &config.bind_address {
        Some(host) => (host.as_str(), config.port).to_socket_addrs()?.collect(),
        None => vec![
            SocketAddr::from(([0, 0, 0, 0], config.port)),
            SocketAddr::from(([0u16; 8], config.port)),
        ],
    };
    match config.socket_domain {
        Some(SocketDomain::Ipv4) => addrs.retain(SocketAddr::is_ipv4),
        Some(SocketDomain::Ipv6) => addrs.retain(SocketAddr::is_ipv6),
        None => {}
    }
    addrs.dedup();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no address to listen on",
        ));
    }
    Ok(addrs)
}

/// True when the system has a network interface of this name (`ip link` shows it).
fn interface_exists(device: &str) -> bool {
    let Ok(name) = std::ffi::CString::new(device) else {
        return false;
    };
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(name.as_ptr()) != 0 }
}

fn bind(addr: SocketAddr, device: Option<&str>) -> io::Result<mio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(device) = device {
        // Only connections arriving on this interface reach the socket, whatever its
        // addresses are now or become.
        socket.bind_device(Some(device.as_bytes())).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("Unable to bind to interface {device}: {e}."),
            )
        })?;
    }
    // Restarting the broker must not wait for old connections' TIME_WAIT to pass.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // IPv4 gets its own socket, as in mosquitto, so [::] must not claim it too.
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}
