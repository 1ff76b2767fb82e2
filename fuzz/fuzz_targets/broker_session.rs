//! The broker's per-connection state machine on arbitrary scripts: a whole broker in
//! process, a bystander client connected and subscribed, and up to eight hostile
//! connections fed arbitrary bytes, well-formed packets, floods, closes, resets, clients
//! that stop reading and read again, and the passing of time (see
//! `tests/common/inproc.rs`, shared with the property tests).
//!
//! Input: a configuration byte, then a script (`Op::parse_script`). Checked after every op:
//! no panic; the broker holds exactly the connections it has not closed; a connection whose
//! client went away is forgotten; nothing is left unsent to a client that reads; what the
//! broker holds in bytes stays within what was sent and the configured bounds; the session
//! index is consistent. At the end: the bystander still receives a fresh client's message,
//! and every connection the broker dropped was closed on the wire.
#![no_main]

use std::net::TcpListener;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/inproc.rs"]
mod inproc;

use inproc::{Op, Rig};

static LISTENER: OnceLock<TcpListener> = OnceLock::new();

fuzz_target!(
    init: {
        midge::log::init(
            midge::log::LogTypes::ALL,
            &[midge::log::LogDest::File("/dev/null".into())],
        )
        .expect("log to /dev/null");
    },
    |data: &[u8]| {
        let Some((&variant, script)) = data.split_first() else {
            return;
        };
        let listener = LISTENER.get_or_init(Rig::listener);
        let listener = listener.try_clone().expect("clone the listener");
        Rig::run(variant, listener, &Op::parse_script(script));
    }
);
