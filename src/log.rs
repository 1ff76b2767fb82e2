//! Logging in mosquitto's format and vocabulary: `1700000000: New connection from ...`.
//!
//! Users grep their broker logs for mosquitto's lines, so we keep its wording, its log types
//! (`log_type` in the config file) and its `unix-time: message` prefix. The logger is global
//! because every part of the broker logs and the enabled mask is read on the hot path: one
//! relaxed atomic load decides whether a line is formatted at all.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A set of log types, as mosquitto's `log_type` lines build it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LogTypes(u16);

impl LogTypes {
    pub const NONE: LogTypes = LogTypes(0);
    pub const INFORMATION: LogTypes = LogTypes(0x01);
    pub const NOTICE: LogTypes = LogTypes(0x02);
    pub const WARNING: LogTypes = LogTypes(0x04);
    pub const ERROR: LogTypes = LogTypes(0x08);
    pub const DEBUG: LogTypes = LogTypes(0x10);
    pub const SUBSCRIBE: LogTypes = LogTypes(0x20);
    pub const UNSUBSCRIBE: LogTypes = LogTypes(0x40);
    pub const WEBSOCKETS: LogTypes = LogTypes(0x80);
    pub const ALL: LogTypes = LogTypes(0xff);
    /// mosquitto's default when no `log_type` line is given.
    pub const DEFAULT: LogTypes = LogTypes(0x01 | 0x02 | 0x04 | 0x08);

    /// Parses one `log_type` value (`error`, `warning`, ..., `all`, `none`).
    pub fn from_name(name: &str) -> Option<LogTypes> {
        Some(match name {
            "none" => LogTypes::NONE,
            "information" => LogTypes::INFORMATION,
            "notice" => LogTypes::NOTICE,
            "warning" => LogTypes::WARNING,
            "error" => LogTypes::ERROR,
            "debug" => LogTypes::DEBUG,
            "subscribe" => LogTypes::SUBSCRIBE,
            "unsubscribe" => LogTypes::UNSUBSCRIBE,
            "websockets" => LogTypes::WEBSOCKETS,
            "all" => LogTypes::ALL,
            _ => return None,
        })
    }

    pub fn contains(self, other: LogTypes) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for LogTypes {
    type Output = LogTypes;
    fn bitor(self, rhs: LogTypes) -> LogTypes {
        LogTypes(self.0 | rhs.0)
    }
}

/// Where log lines go (`log_dest`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LogDest {
    Stderr,
    Stdout,
    File(std::path::PathBuf),
}

static ENABLED: AtomicU16 = AtomicU16::new(LogTypes::DEFAULT.0);
/// `log_timestamp`: whether lines start with the time.
static TIMESTAMP: AtomicBool = AtomicBool::new(true);
static SINKS: Mutex<Vec<Sink>> = Mutex::new(Vec::new());

enum Sink {
    Stderr,
    Stdout,
    File(std::fs::File),
}

/// Sets what is logged and where. Called once at start-up (and again on reload).
pub fn init(types: LogTypes, dests: &[LogDest]) -> std::io::Result<()> {
    let mut sinks = Vec::with_capacity(dests.len());
    for dest in dests {
        sinks.push(match dest {
            LogDest::Stderr => Sink::Stderr,
            LogDest::Stdout => Sink::Stdout,
            LogDest::File(path) => Sink::File(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        });
    }
    *SINKS.lock().unwrap_or_else(|e| e.into_inner()) = sinks;
    ENABLED.store(types.0, Ordering::Relaxed);
    Ok(())
}

/// `log_timestamp false` leaves the time out of every line.
pub fn set_timestamp(on: bool) {
    TIMESTAMP.store(on, Ordering::Relaxed);
}

/// True when lines of this type are written; check before formatting anything costly.
#[inline]
pub fn enabled(ty: LogTypes) -> bool {
    ENABLED.load(Ordering::Relaxed) & ty.0 != 0
}

/// Writes one line if its type is enabled. Use the `log_*!` macros rather than this.
pub fn write(ty: LogTypes, args: fmt::Arguments<'_>) {
    if !enabled(ty) {
        return;
    }
    let line = if TIMESTAMP.load(Ordering::Relaxed) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("{now}: {args}\n")
    } else {
        format!("{args}\n")
    };
    // No sink (`log_dest none`, or a library user who never called `init`): nothing.
    let mut sinks = SINKS.lock().unwrap_or_else(|e| e.into_inner());
    for sink in sinks.iter_mut() {
        // A log line that cannot be written is not worth stopping the broker for.
        let _ = match sink {
            Sink::Stderr => std::io::stderr().write_all(line.as_bytes()),
            Sink::Stdout => std::io::stdout().write_all(line.as_bytes()),
            Sink::File(f) => f.write_all(line.as_bytes()),
        };
    }
}

#[macro_export]
macro_rules! log_at {
    ($ty:expr, $($arg:tt)*) => {
        if $crate::log::enabled($ty) {
            $crate::log::write($ty, format_args!($($arg)*));
        }
    };
}

#[macro_export]
macro_rules! log_error { ($($arg:tt)*) => { $crate::log_at!($crate::log::LogTypes::ERROR, $($arg)*) }; }
#[macro_export]
macro_rules! log_warning { ($($arg:tt)*) => { $crate::log_at!($crate::log::LogTypes::WARNING, $($arg)*) }; }
#[macro_export]
macro_rules! log_notice { ($($arg:tt)*) => { $crate::log_at!($crate::log::LogTypes::NOTICE, $($arg)*) }; }
#[macro_export]
macro_rules! log_info { ($($arg:tt)*) => { $crate::log_at!($crate::log::LogTypes::INFORMATION, $($arg)*) }; }
#[macro_export]
macro_rules! log_debug { ($($arg:tt)*) => { $crate::log_at!($crate::log::LogTypes::DEBUG, $($arg)*) }; }
#[macro_export]
macro_rules! log_subscribe { ($($arg:tt)*) => { $crate::log_at!($crate::log::LogTypes::SUBSCRIBE, $($arg)*) }; }
#[macro_export]
macro_rules! log_unsubscribe { ($($arg:tt)*) => { $crate::log_at!($crate::log::LogTypes::UNSUBSCRIBE, $($arg)*) }; }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_types() {
        assert_eq!(LogTypes::from_name("error"), Some(LogTypes::ERROR));
        assert_eq!(LogTypes::from_name("all"), Some(LogTypes::ALL));
        assert_eq!(LogTypes::from_name("loud"), None);
        assert!(LogTypes::ALL.contains(LogTypes::DEBUG));
        assert!(!LogTypes::DEFAULT.contains(LogTypes::DEBUG));
        assert!((LogTypes::ERROR | LogTypes::WARNING).contains(LogTypes::WARNING));
    }
}
