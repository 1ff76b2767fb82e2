//! A close decided during a turn and carried out at its end (a full queue with
//! `disconnect_on_full_queue`) must hit the connection it was decided for: if that one closed
//! meanwhile and a new connection took its slab key in the same turn, the new one stays.
//! Driven in process, so that the turn's order is the test's.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Instant;

use common::packets::*;
use midge::auth::Auth;
use midge::broker::Broker;
use midge::config::Config;
use midge::connection::Connection;
use midge::listener_rules::ListenerRules;
use mio::Token;

struct Turns {
    broker: Broker,
    listener: TcpListener,
    rules: Rc<ListenerRules>,
}

impl Turns {
    fn new(config: &str) -> Turns {
        // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let config = Config::parse(config, "test").expect("valid config").0;
        let auth = Auth::load(&config, []).expect("no security files");
        let first = config.effective_listeners().swap_remove(0);
        let rules = Rc::new(ListenerRules::new(&config, &first));
        Turns {
            broker: Broker::new(config, auth),
            listener: TcpListener::bind("127.0.0.1:0").expect("bind"),
            rules,
        }
    }

    /// A client socket and the broker's token for its server end.
    fn open(&mut self) -> (TcpStream, Token) {
        let client =
            TcpStream::connect(self.listener.local_addr().expect("addr")).expect("connect");
        let (server, peer) = self.listener.accept().expect("accept");
        server.set_nonblocking(true).expect("nonblocking");
        client.set_nonblocking(true).expect("nonblocking");
        let conn = Connection::new(
            mio::net::TcpStream::from_std(server),
            peer,
            0,
            0,
            Rc::clone(&self.rules),
            Instant::now(),
        );
        let token = self.broker.accept(conn, None).expect("no limit");
        (client, token)
    }
}

/// Everything the client has been sent so far (the broker's writes are on loopback, done).
fn received(client: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return got,
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
fn a_close_decided_for_a_connection_misses_the_new_one_on_its_slab_key() {
    let mut turns = Turns::new(
        "listener 0 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1\n\
         max_queued_messages 1\ndisconnect_on_full_queue true\n",
    );
    let (mut slow, slow_token) = turns.open();
    let mut hello = connect_v311("slow", true, 0);
    hello.extend(subscribe(1, "t", 1));
    slow.write_all(&hello).expect("send");
    let (mut publisher, publisher_token) = turns.open();
    publisher
        .write_all(&connect_v311("pub", true, 0))
        .expect("send");
    turns.broker.on_readable(slow_token);
    turns.broker.on_readable(publisher_token);
    turns.broker.flush();
    assert_eq!(
        received(&mut slow),
        [&CONNACK_OK[..], &suback(1, 1)].concat()
    );
    assert_eq!(received(&mut publisher), CONNACK_OK);

    // One turn: the third message overflows slow's queue (one in flight, one queued), which
    // decides slow's close for the end of the turn; then slow's own EOF closes it at once,
    // and a new connection takes its slab key.
    let mut burst = Vec::new();
    for id in 1..=3 {
        burst.extend(publish("t", b"m", 1, false, id));
    }
    publisher.write_all(&burst).expect("send");
    drop(slow);
    turns.broker.on_readable(publisher_token);
    turns.broker.on_readable(slow_token);
    let (mut fresh, fresh_token) = turns.open();
    assert_eq!(fresh_token, slow_token, "the slab reuses the key");
    turns.broker.flush();

    fresh
        .write_all(&connect_v311("fresh", true, 0))
        .expect("send");
    turns.broker.on_readable(fresh_token);
    turns.broker.flush();
    assert_eq!(
        received(&mut fresh),
        CONNACK_OK,
        "the new connection is served"
    );
    assert!(
        turns.broker.socket_mut(fresh_token).is_some(),
        "the new connection is still open"
    );
}
