//! Start-up and shut-down around the event loop: the banner, the pid file, the listeners.

use std::path::Path;

use crate::config::Config;
use crate::event_loop::{EventLoop, Stop};
use crate::{log_error, log_info, log_warning};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the broker until SIGINT or SIGTERM. Errors (a port already in use, say) are logged
/// and returned, so the binary can exit non-zero.
pub fn run(config: Config, config_file: Option<&Path>) -> std::io::Result<Stop> {
    let options = crate::log::Options {
        timestamp: config.log_timestamp,
        timestamp_format: config.log_timestamp_format.clone(),
        facility: config.log_facility,
    };
    if let Err(e) = crate::log::init_with(config.log_types, &config.log_dest, &options) {
        eprintln!("Error: unable to open log file: {e}");
        return Err(e);
    }
    log_info!("midge version {VERSION} starting");
    match config_file {
        Some(path) => log_info!("Config loaded from {}.", path.display()),
        None => log_info!("Using default config."),
    }
    if config.is_local_only() {
        log_warning!(
            "Starting in local only mode. Connections will only be possible from clients running on this machine."
        );
        log_warning!(
            "Create a configuration file which defines a listener to allow remote access."
        );
        log_warning!(
            "For more details see https://mosquitto.org/documentation/authentication-methods/"
        );
    }
    let mut event_loop = match EventLoop::bind(config.clone()) {
        Ok(event_loop) => event_loop,
        Err(e) => {
            log_error!("Error: {e}");
            return Err(e);
        }
    };
    if let Some(pid_file) = &config.pid_file
        && let Err(e) = std::fs::write(pid_file, format!("{}\n", std::process::id()))
    {
        log_error!(
            "Error: unable to write pid file {}: {e}",
            pid_file.display()
        );
        return Err(e);
    }
    // Listeners, log file and pid file are open: root is no longer needed.
    if let Err(e) = crate::privileges::drop_to(&config.user) {
        log_error!("Error: {e}");
        if let Some(pid_file) = &config.pid_file {
            let _ = std::fs::remove_file(pid_file);
        }
        return Err(std::io::Error::other(e));
    }
    if let Err(e) = event_loop.open_persistence() {
        log_error!("Error: Unable to open persistence files: {e}.");
        if let Some(pid_file) = &config.pid_file {
            let _ = std::fs::remove_file(pid_file);
        }
        return Err(e);
    }
    log_info!("midge version {VERSION} running");
    notify_systemd_ready();
    let stopped = event_loop.run();
    if let Some(pid_file) = &config.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    match &stopped {
        Ok(_) => log_info!("midge version {VERSION} terminating"),
        Err(e) => log_error!("Error: event loop failed: {e}"),
    }
    stopped
}

/// Debian's mosquitto.service is `Type=notify`: systemd waits for READY=1 on the socket
/// named by NOTIFY_SOCKET (mosquitto's `sd_notify(0, "READY=1")`), and without it would
/// kill the broker as failed to start. Nothing happens outside systemd.
fn notify_systemd_ready() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name),
        None => SocketAddr::from_pathname(&path),
    };
    let sent = addr.and_then(|addr| {
        let socket = UnixDatagram::unbound()?;
        socket.send_to_addr(b"READY=1", &addr)
    });
    if let Err(e) = sent {
        log_warning!("Warning: Unable to tell systemd the broker is ready: {e}.");
    }
}
