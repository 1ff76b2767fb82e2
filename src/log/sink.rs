//! Where log lines go: the console, a file (reopened on SIGHUP, for logrotate), syslog.

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::LogTypes;

/// One `log_dest`, opened.
pub(super) enum Sink {
    Stderr,
    Stdout,
    File(LogFile),
    Syslog,
}

/// `log_dest file PATH`. Each line is one `write` of the whole line, so lines of a file
/// that another process also appends to never interleave.
pub(super) struct LogFile {
    path: PathBuf,
    file: File,
    /// True when midge made the file, so it may hand it to the user it drops to.
    created: bool,
}

impl LogFile {
    pub(super) fn open(path: &Path) -> io::Result<LogFile> {
        let created = !path.exists();
        // Readable by the broker's user only, as mosquitto creates it: log lines name
        // clients and users.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            created,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// SIGHUP: opens the path again, so that lines go to a new file once logrotate has
    /// moved the old one. If it cannot be opened, lines keep going to the old file.
    pub(super) fn reopen(&mut self) -> io::Result<()> {
        let fresh = LogFile::open(&self.path)?;
        *self = fresh;
        Ok(())
    }

    /// Gives a file midge created to the user it is about to become, so that this user can
    /// reopen it on SIGHUP, as it could had it created the file itself.
    pub(super) fn hand_over(&self, uid: u32, gid: u32) -> io::Result<()> {
        if self.created {
            std::os::unix::fs::fchown(&self.file, Some(uid), Some(gid))?;
        }
        Ok(())
    }
}

impl Sink {
    /// Writes one line (with its newline). A line that cannot be written is not worth
    /// stopping the broker for.
    pub(super) fn write(&mut self, ty: LogTypes, line: &str) {
        let _ = match self {
            Sink::Stderr => io::stderr().write_all(line.as_bytes()),
            Sink::Stdout => io::stdout().write_all(line.as_bytes()),
            Sink::File(f) => f.file.write_all(line.as_bytes()),
            Sink::Syslog => {
                syslog(ty, line.trim_end_matches('\n'));
                Ok(())
            }
        };
    }
}

/// The ident syslog lines carry: `midge[PID]: ...`.
const IDENT: &CStr = c"midge";

/// `openlog` with mosquitto's options, to `facility` (LOG_DAEMON unless `log_facility`).
pub(super) fn open_syslog(facility: i32) {
    // SAFETY: IDENT is a 'static NUL-terminated string, as openlog requires.
    unsafe { libc::openlog(IDENT.as_ptr(), libc::LOG_PID | libc::LOG_CONS, facility) };
}

pub(super) fn close_syslog() {
    // SAFETY: closelog has no preconditions.
    unsafe { libc::closelog() };
}

/// mosquitto's syslog priority for each log type.
fn priority(ty: LogTypes) -> i32 {
    match ty {
        LogTypes::DEBUG | LogTypes::WEBSOCKETS => libc::LOG_DEBUG,
        LogTypes::WARNING => libc::LOG_WARNING,
        LogTypes::NOTICE | LogTypes::SUBSCRIBE | LogTypes::UNSUBSCRIBE => libc::LOG_NOTICE,
        LogTypes::INFORMATION => libc::LOG_INFO,
        _ => libc::LOG_ERR,
    }
}

fn syslog(ty: LogTypes, line: &str) {
    // A line with a NUL byte in it (from a client id, say) loses what follows the NUL.
    let text = line.split('\0').next().unwrap_or("");
    let Ok(text) = std::ffi::CString::new(text) else {
        return;
    };
    // SAFETY: the format and its one argument are NUL-terminated strings; "%s" keeps a
    // `%` in the line from being read as a conversion.
    unsafe { libc::syslog(priority(ty), c"%s".as_ptr(), text.as_ptr()) };
}

/// `log_facility N`: local0 to local7.
pub fn local_facility(n: u8) -> Option<i32> {
    Some(match n {
        0 => libc::LOG_LOCAL0,
        1 => libc::LOG_LOCAL1,
        2 => libc::LOG_LOCAL2,
        3 => libc::LOG_LOCAL3,
        4 => libc::LOG_LOCAL4,
        5 => libc::LOG_LOCAL5,
        6 => libc::LOG_LOCAL6,
        7 => libc::LOG_LOCAL7,
        _ => return None,
    })
}

/// syslog's default facility, as mosquitto's.
pub const DAEMON_FACILITY: i32 = libc::LOG_DAEMON;
