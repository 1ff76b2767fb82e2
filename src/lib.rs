//! midge: an MQTT broker for the edge that mosquitto users feel at home with.
//!
//! One thread runs a mio readiness loop ([`event_loop`]) over the listening sockets
//! ([`listener`]) and every client [`connection`]. The [`broker`] owns the state: sessions
//! ([`session`]), the subscription index ([`router`]) and retained messages ([`retain`]); it
//! decodes packets with the [`protocol`] codec, reacts to each in its own handler, and queues
//! replies and deliveries ([`message`]) on each connection's [`send_queue`], flushed once
//! per loop turn. [`config`] reads mosquitto-style config files and [`log`] writes
//! mosquitto-style log lines.
//!
//! Modules:
//! - [`protocol`]: the MQTT 3.1/3.1.1/5.0 wire format, zero-copy decoding and encoding.
//! - [`event_loop`]: poll, accept, read, flush, timers, signals.
//! - [`listener`]: listening sockets, set up with socket2.
//! - [`listener_rules`]: what a listener asks of its clients: client ids, QoS, mount point.
//! - [`connection`]: one socket's read buffer, send queue and protocol state.
//! - [`send_queue`]: outgoing bytes, written with vectored writes.
//! - [`broker`]: the state and one handler per packet family.
//! - [`session`]: subscriptions and QoS 1/2 state that outlive a connection.
//! - [`message`]: a published message, shared by every queue it waits in.
//! - [`router`]: exact topics in a hash table, wildcard filters in a trie.
//! - [`retain`]: retained messages.
//! - [`persist`]: durable state: a journal written off the loop, snapshots, recovery.
//! - [`auth`]: password files, ACL files and the `midge_passwd` tool.
//! - [`config`]: the mosquitto-style config file and its defaults.
//! - [`log`]: mosquitto-style log lines, their destinations and `log_type` masks.
//! - [`localtime`]: local time formatted by the C library, as mosquitto formats it.
//! - [`privileges`]: dropping root for the `user` of the config file.
//! - [`server`]: start-up and shut-down around the loop.
//! - [`tls`]: TLS listeners with rustls: configs from mosquitto's keys, the TLS data path.
//! - [`client`]: a blocking MQTT client and the `midge_pub` / `midge_sub` tools.

pub mod auth;
pub mod broker;
pub mod client;
pub mod config;
pub mod connection;
pub mod event_loop;
pub mod ids;
pub mod listener;
pub mod listener_rules;
pub mod localtime;
pub mod log;
pub mod memory;
pub mod message;
pub mod persist;
pub mod privileges;
pub mod protocol;
pub mod retain;
pub mod router;
pub mod send_queue;
pub mod server;
pub mod session;
pub mod shared;
pub mod tls;
