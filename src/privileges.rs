//! `user`: a broker started as root gives root up once its listeners and files are open.
//!
//! As mosquitto 2.0: the user defaults to `mosquitto`; if that user does not exist the
//! broker becomes `nobody` instead, while any other user that does not exist is an error;
//! `user root` keeps root (with a warning). A broker not started as root keeps its user.
//! Unlike mosquitto 2.0, which drops root before anything else, midge drops it after
//! opening its listeners, log file and pid file, so it can bind ports below 1024 and write
//! to root's directories (mosquitto 1.x did the same).

use std::ffi::{CStr, CString};
use std::io;

use crate::{log_error, log_info, log_warning};

/// The user midge becomes: its ids and its name.
struct Account {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

/// `getpwnam_r`: the account of this name, if it exists.
fn account(name: &str) -> io::Result<Option<Account>> {
    let Ok(c_name) = CString::new(name) else {
        return Ok(None);
    };
    // SAFETY: `passwd` is plain data that getpwnam_r fills in.
    let mut passwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and `buf` is writable for its length;
    // the strings in `passwd` point into `buf`, which outlives their use below.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut passwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    if found.is_null() {
        return Ok(None);
    }
    // SAFETY: getpwnam_r succeeded, so pw_name is a NUL-terminated string in `buf`.
    let name = unsafe { CStr::from_ptr(passwd.pw_name) };
    Ok(Some(Account {
        name: name.to_string_lossy().into_owned(),
        uid: passwd.pw_uid,
        gid: passwd.pw_gid,
    }))
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

/// Becomes `user` if running as root, and says so in the log. An error means the broker
/// must not start: it would otherwise run as root where a user was asked for.
pub fn drop_to(user: &str) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    if user != "root" {
        let account = find(user)?;
        become_user(&account)?;
        log_info!("Info: running midge as user: {}.", account.name);
    }
    // SAFETY: geteuid and getegid have no preconditions.
    if unsafe { libc::geteuid() == 0 || libc::getegid() == 0 } {
        log_warning!("Warning: midge should not be run as root/administrator.");
    }
    Ok(())
}

/// mosquitto's choice of account: `user`, or `nobody` when the default `mosquitto` is missing.
fn find(user: &str) -> Result<Account, String> {
    let lookup =
        |name: &str| account(name).map_err(|e| format!("Unable to look up user '{name}': {e}."));
    if let Some(account) = lookup(user)? {
        return Ok(account);
    }
    if user != "mosquitto" {
        return Err(format!(
            "Unable to drop privileges to '{user}' because this user does not exist."
        ));
    }
    log_error!(
        "Warning: Unable to drop privileges to '{user}' because this user does not exist. Trying 'nobody' instead."
    );
    lookup("nobody")?.ok_or_else(|| "Unable to drop privileges to 'nobody'.".to_string())
}

/// Supplementary groups, then the group, then the user: once the user is gone, the
/// groups can no longer be changed. Every step is checked.
fn become_user(account: &Account) -> Result<(), String> {
    if let Err(e) = crate::log::hand_over_files(account.uid, account.gid) {
        log_warning!(
            "Warning: Unable to give the log file to user {}: {e}.",
            account.name
        );
    }
    let name = CString::new(account.name.as_str()).map_err(|e| e.to_string())?;
    // SAFETY: `name` is NUL-terminated; initgroups copies what it needs.
    if unsafe { libc::initgroups(name.as_ptr(), account.gid) } == -1 {
        return Err(format!(
            "Error setting groups whilst dropping privileges: {}.",
            errno()
        ));
    }
    // SAFETY: setgid and setuid have no memory preconditions; their results are checked.
    if unsafe { libc::setgid(account.gid) } == -1 {
        return Err(format!(
            "Error setting gid whilst dropping privileges: {}.",
            errno()
        ));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(account.uid) } == -1 {
        return Err(format!(
            "Error setting uid whilst dropping privileges: {}.",
            errno()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_nobody_are_found_and_nonsense_is_not() {
        let root = account("root").ok().flatten().map(|a| a.uid);
        assert_eq!(root, Some(0));
        assert!(matches!(account("no-such-user-midge"), Ok(None)));
        assert!(matches!(account("nul\0in name"), Ok(None)));
    }

    #[test]
    fn a_missing_user_other_than_mosquitto_is_an_error() {
        let e = find("no-such-user-midge").err().unwrap_or_default();
        assert!(
            e.contains("'no-such-user-midge' because this user does not exist"),
            "{e}"
        );
    }
}
