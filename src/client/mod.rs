//! The client side: a small blocking MQTT client, and the `midge_pub` / `midge_sub` /
//! `midge_rr` command-line tools built on it, which behave like mosquitto_pub,
//! mosquitto_sub and mosquitto_rr.
//!
//! - [`session`]: one MQTT session over TCP or TLS ([`Client`], [`ConnectOptions`],
//!   [`Event`]); [`tls`]: the TLS flags and stream.
//! - [`error`]: [`ClientError`] and libmosquitto's texts for it.
//! - [`pub_cli`], [`sub_cli`], [`rr_cli`]: the tools; their `main` is all the binaries call.
//! - [`cli`]: what the tools share: connection flags, argument errors, the console.
//! - [`props`]: `-D` MQTT 5 properties; [`format`]: how messages are printed (`-F`).

mod clap_words;
pub mod cli;
mod clock;
mod cnum;
pub mod error;
pub mod format;
mod json;
pub mod props;
pub mod pub_cli;
pub mod rr_cli;
pub mod session;
pub mod sub_cli;
pub mod tls;
mod usage;
mod wire;

pub use error::ClientError;
pub use session::{Client, ConnectOptions, Event, Logger};

#[cfg(test)]
mod cli_tests;
#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod props_tests;
#[cfg(test)]
mod rr_tests;
#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod test_peer;
