//! midge: an MQTT broker for the edge that mosquitto users feel at home with.
//!
//! Modules:
//! - [`log`]: mosquitto-style log lines and `log_type` masks.
//! - [`config`]: the mosquitto-style config file and its defaults.
//! - [`client`]: a blocking MQTT client and the `midge_pub` / `midge_sub` tools.

pub mod client;
pub mod config;
pub mod log;
pub mod protocol;
