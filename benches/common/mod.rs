//! What the benchmarks that drive a whole broker in process share.

use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use midge::broker::Broker;
use midge::connection::Connection;
use mio::Token;

/// A loopback connection the broker has accepted: its token, and the client's end.
pub fn accept(broker: &mut Broker, listener: &TcpListener) -> (Token, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, peer) = listener.accept().expect("accept");
    server.set_nonblocking(true).expect("nonblocking");
    server.set_nodelay(true).expect("nodelay");
    let conn = Connection::new(
        mio::net::TcpStream::from_std(server),
        peer,
        0,
        0,
        std::rc::Rc::default(),
        Instant::now(),
    );
    let token = broker.accept(conn, None).expect("room for the connection");
    (token, client)
}
