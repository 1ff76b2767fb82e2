//! Logging in mosquitto's format and vocabulary: `1700000000: New connection from ...`.
//!
//! Users grep their broker logs for mosquitto's lines, so we keep its wording, its log types
//! (`log_type` in the config file) and its `unix-time: message` prefix. The logger is global
//! because every part of the broker logs and the enabled mask is read on the hot path: one
//! relaxed atomic load decides whether a line is formatted at all.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

mod sink;
mod timestamp;
pub mod topic;

pub use sink::{DAEMON_FACILITY, local_facility};
use sink::{LogFile, Sink};
use timestamp::Stamp;

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
    Syslog,
    /// `$SYS/broker/log/<level>`, published by the broker (see [`topic`]).
    Topic,
}

/// How lines are stamped and where syslog files them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `log_timestamp`: lines start with the time.
    pub timestamp: bool,
    /// `log_timestamp_format`: a `strftime` format for that time; Unix seconds without.
    pub timestamp_format: Option<String>,
    /// `log_facility`: the syslog facility (LOG_DAEMON unless set).
    pub facility: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timestamp: true,
            timestamp_format: None,
            facility: DAEMON_FACILITY,
        }
    }
}

static ENABLED: AtomicU16 = AtomicU16::new(LogTypes::DEFAULT.0);
static LOGGER: Mutex<Logger> = Mutex::new(Logger::new());

/// Everything behind the enabled mask: the opened destinations and how lines look.
struct Logger {
    sinks: Vec<Sink>,
    /// None with `log_timestamp false`.
    stamp: Option<Stamp>,
    /// Some with `log_dest topic`.
    topic: Option<topic::Queue>,
    syslog: bool,
}

impl Logger {
    const fn new() -> Logger {
        Logger {
            sinks: Vec::new(),
            stamp: None,
            topic: None,
            syslog: false,
        }
    }
}

fn logger() -> std::sync::MutexGuard<'static, Logger> {
    LOGGER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets what is logged and where, with mosquitto's default stamp (Unix seconds).
pub fn init(types: LogTypes, dests: &[LogDest]) -> std::io::Result<()> {
    init_with(types, dests, &Options::default())
}

/// Sets what is logged, where and how. Called once at start-up. A file that cannot be
/// opened is an error and changes nothing.
pub fn init_with(types: LogTypes, dests: &[LogDest], options: &Options) -> std::io::Result<()> {
    let mut sinks = Vec::with_capacity(dests.len());
    let mut topic = None;
    for dest in dests {
        match dest {
            LogDest::Stderr => sinks.push(Sink::Stderr),
            LogDest::Stdout => sinks.push(Sink::Stdout),
            LogDest::File(path) => sinks.push(Sink::File(LogFile::open(path)?)),
            LogDest::Syslog => sinks.push(Sink::Syslog),
            LogDest::Topic => topic = Some(topic::Queue::default()),
        }
    }
    let syslog = sinks.iter().any(|s| matches!(s, Sink::Syslog));
    let mut logger = logger();
    if logger.syslog {
        sink::close_syslog();
    }
    if syslog {
        sink::open_syslog(options.facility);
    }
    *logger = Logger {
        sinks,
        stamp: options
            .timestamp
            .then(|| Stamp::new(options.timestamp_format.as_deref())),
        topic,
        syslog,
    };
    ENABLED.store(types.0, Ordering::Relaxed);
    Ok(())
}

/// SIGHUP: reopens `log_dest file`, so that after logrotate moved it lines go to a new
/// file at the path. Returns the path reopened, if any; on an error lines keep going to the
/// file opened before.
pub fn reopen() -> Option<(std::path::PathBuf, std::io::Result<()>)> {
    let mut logger = logger();
    logger.sinks.iter_mut().find_map(|sink| match sink {
        Sink::File(file) => Some((file.path().to_path_buf(), file.reopen())),
        _ => None,
    })
}

/// Before the broker drops its privileges: a log file it created goes to the new user.
pub fn hand_over_files(uid: u32, gid: u32) -> std::io::Result<()> {
    let logger = logger();
    for sink in &logger.sinks {
        if let Sink::File(file) = sink {
            file.hand_over(uid, gid)?;
        }
    }
    Ok(())
}

/// The lines waiting for `$SYS/broker/log/...`, and how many were dropped since the last
/// call because the queue was full.
pub fn take_topic_lines() -> (Vec<(&'static str, String)>, u64) {
    if !topic::pending() {
        return (Vec::new(), 0);
    }
    logger()
        .topic
        .as_mut()
        .map(topic::Queue::take)
        .unwrap_or_default()
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
    let mut logger = logger();
    let Logger {
        sinks,
        stamp,
        topic,
        ..
    } = &mut *logger;
    let line = match stamp {
        Some(stamp) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("{}: {args}\n", stamp.at(now))
        }
        None => format!("{args}\n"),
    };
    // No sink (`log_dest none`, or a library user who never called `init`): nothing.
    for sink in sinks.iter_mut() {
        sink.write(ty, &line);
    }
    if let Some(queue) = topic {
        queue.push(ty, &line);
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
