//! The one thread that runs the broker: a mio readiness loop over the listeners, every
//! client socket and the signals.
//!
//! Each turn: wait for readiness (at most until the next timer tick), accept what is pending,
//! read and handle what is readable, then flush every connection that got output, once
//! (within the turn's write budget, see `Broker::flush`).
//! Sockets are registered edge-triggered for both directions when accepted and never
//! re-registered, so a write never costs an `epoll_ctl`.

use std::io;
use std::rc::Rc;
use std::time::Instant;

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::auth::Auth;
use crate::broker::Broker;
use crate::config::Config;
use crate::connection::Connection;
use crate::listener::{self, Listener};
use crate::listener_rules::ListenerRules;
use crate::tls::{ServerTls, TlsStream};
use crate::{log_error, log_info, log_notice, log_warning};

const SIGNALS: Token = Token(usize::MAX - 1);
/// The persistence writer's wake-up: acknowledgements it held may go (see `Broker::flush`).
const PERSISTENCE: Token = Token(usize::MAX);
/// Listener `i` has token `LISTENER_BASE - i`; connections count up from 0.
const LISTENER_BASE: usize = usize::MAX - 2;

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Signal(i32),
}

pub struct EventLoop {
    poll: Poll,
    listeners: Vec<Listener>,
    /// Each listener's rules for its clients, in listener order.
    rules: Vec<Rc<ListenerRules>>,
    signals: Signals,
    broker: Broker,
    /// Listeners whose last accept failed (out of file descriptors, say): the poller will
    /// not report their backlog again, so it is retried at every tick until it drains.
    accept_retry: Vec<bool>,
    /// When an accept failure was last logged, and how many failed since.
    accept_error_logged_at: Option<Instant>,
    accept_errors_unlogged: u64,
}

/// Accept failures are logged at most this often: under EMFILE every tick fails again.
const ACCEPT_ERROR_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

impl EventLoop {
    /// Opens every listener and prepares the loop; nothing is accepted until `run`.
    pub fn bind(config: Config) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        // Before any listener opens: once the log says a port is open, a SIGHUP must find
        // its handler (the default action would end the process).
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let mut listeners = Vec::new();
        for listener_config in config.effective_listeners() {
            listeners.extend(listener::open(&listener_config)?);
        }
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry().register(
                &mut listener.socket,
                Token(LISTENER_BASE - i),
                Interest::READABLE,
            )?;
        }
        let rules = listeners
            .iter()
            .map(|l| Rc::new(ListenerRules::new(&config, &l.config)))
            .collect();
        let auth = Auth::load(&config, listeners.iter().map(|l| &l.config))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        Ok(EventLoop {
            poll,
            accept_retry: vec![false; listeners.len()],
            listeners,
            rules,
            signals,
            broker: Broker::new(config, auth),
            accept_error_logged_at: None,
            accept_errors_unlogged: 0,
        })
    }

    /// The ports actually listened on, in listener order.
    pub fn ports(&self) -> Vec<u16> {
        self.listeners.iter().map(|l| l.port).collect()
    }

    /// Runs until SIGINT or SIGTERM.
    pub fn run(mut self) -> io::Result<Stop> {
        let mut events = Events::with_capacity(1024);
        let tick = self.broker.tick_interval();
        let mut next_tick = Instant::now() + tick;
        loop {
            let unfinished = self.broker.take_unfinished_reads();
            let idle = unfinished.is_empty()
                && !self.broker.retained_ready()
                && !self.broker.teardown_pending()
                && !self.broker.flush_deferred();
            let timeout = if idle {
                next_tick.saturating_duration_since(Instant::now())
            } else {
                std::time::Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            self.broker.set_now(now);
            for token in unfinished {
                self.broker.on_readable(token);
            }
            for event in events.iter() {
                match event.token() {
                    PERSISTENCE => {}
                    SIGNALS => {
                        if let Some(stop) = self.handle_signals() {
                            self.shut_down(stop);
                            return Ok(stop);
                        }
                    }
                    Token(t) if t > LISTENER_BASE - self.listeners.len() => {
                        self.accept(LISTENER_BASE - t);
                    }
                    token => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.broker.on_readable(token);
                        }
                        if event.is_writable() {
                            self.broker.on_writable(token);
                        }
                    }
                }
            }
            if now >= next_tick {
                self.retry_accepts();
                self.broker.tick();
                next_tick = now + tick;
            }
            self.broker.publish_log_lines();
            self.broker.flush();
        }
    }

    /// Accepts every pending connection on listener `index`.
    fn accept(&mut self, index: usize) {
        loop {
            let listener = &self.listeners[index];
            let (socket, peer) = match listener.socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // That one is gone; the next may be fine.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return self.accept_failed(index, &e),
            };
            // Replies are batched per loop turn already; Nagle would only add delay
            // (`set_tcp_nodelay false` asks for it all the same).
            if self.broker.config().set_tcp_nodelay
                && let Err(e) = socket.set_nodelay(true)
            {
                log_warning!("Unable to set TCP_NODELAY for {peer}: {e}.");
            }
            let now = Instant::now();
            let listener_index = u16::try_from(index).unwrap_or(u16::MAX);
            let rules = Rc::clone(&self.rules[index]);
            let mut conn = Connection::new(socket, peer, listener_index, listener.port, rules, now);
            if let Some(tls) = &listener.tls {
                // The handshake happens in the loop, as the client's bytes arrive.
                match TlsStream::new(tls) {
                    Ok(stream) => conn.tls = Some(Box::new(stream)),
                    Err(e) => {
                        log_error!("Unable to start TLS for {peer}: {e}.");
                        continue;
                    }
                }
            }
            let Some(token) = self.broker.accept(conn, listener.config.max_connections) else {
                continue;
            };
            let registered = match self.broker.socket_mut(token) {
                Some(socket) => self.poll.registry().register(
                    socket,
                    token,
                    Interest::READABLE | Interest::WRITABLE,
                ),
                None => Ok(()),
            };
            if let Err(e) = registered {
                log_error!("Unable to watch connection from {peer}: {e}.");
                self.broker.drop_connection(token);
            }
        }
    }

    /// An accept failed for want of something (file descriptors, buffers, memory): what is
    /// waiting in the backlog is tried again at the next tick, and the failure logged in
    /// mosquitto's words, at most once per `ACCEPT_ERROR_LOG_INTERVAL`.
    fn accept_failed(&mut self, index: usize, e: &io::Error) {
        self.accept_retry[index] = true;
        self.accept_errors_unlogged += 1;
        let now = Instant::now();
        if self
            .accept_error_logged_at
            .is_some_and(|at| now.duration_since(at) < ACCEPT_ERROR_LOG_INTERVAL)
        {
            return;
        }
        let failures = std::mem::take(&mut self.accept_errors_unlogged);
        self.accept_error_logged_at = Some(now);
        let again = match failures {
            1 => String::new(),
            n => format!(" ({n} failures since the last line)"),
        };
        if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
            log_warning!(
                "Unable to accept new connection, system socket count has been exceeded. Try increasing \"ulimit -n\" or equivalent.{again}"
            );
        } else {
            log_error!("Unable to accept new connection: {e}.{again}");
        }
    }

    /// Accepts again on the listeners whose last accept failed.
    fn retry_accepts(&mut self) {
        for index in 0..self.listeners.len() {
            if std::mem::take(&mut self.accept_retry[index]) {
                self.accept(index);
            }
        }
    }

    /// Returns the stop reason if a terminating signal arrived.
    fn handle_signals(&mut self) -> Option<Stop> {
        let mut stop = None;
        for signal in self.signals.pending() {
            match signal {
                // As in mosquitto: the password and ACL files are read again, and the TLS
                // listeners' files. The rest of the configuration is not (midge needs a
                // restart for that).
                SIGHUP => {
                    self.broker.reload_security();
                    self.reload_tls();
                    reopen_log_file();
                }
                SIGINT | SIGTERM => stop = Some(Stop::Signal(signal)),
                _ => {}
            }
        }
        stop
    }

    /// SIGHUP: every TLS listener reads its certificate, key, CAs and CRL again, so that a
    /// renewed certificate or a revocation holds from the next handshake on (mosquitto does
    /// this only for listeners with a CRL). Connections already up keep their session. A
    /// file that no longer loads leaves that listener as it was.
    fn reload_tls(&mut self) {
        for listener in self.listeners.iter_mut().filter(|l| l.tls.is_some()) {
            match ServerTls::load(&listener.config) {
                Ok(fresh) => {
                    listener.tls = Some(fresh);
                    log_info!(
                        "Reloaded the TLS files of the listener on port {}.",
                        listener.port
                    );
                }
                Err(e) => log_error!("{e} The listener keeps its earlier TLS files."),
            }
        }
    }

    fn shut_down(&mut self, stop: Stop) {
        let Stop::Signal(signal) = stop;
        let name = if signal == SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        log_notice!("{name} received, shutting down.");
        self.broker.close_all();
        self.broker.flush();
        self.broker.close_persistence();
    }

    /// Recovers what `persistence` kept and starts keeping it; after the broker has given
    /// up root, so that its files belong to the user it runs as.
    pub fn open_persistence(&mut self) -> io::Result<()> {
        let waker = mio::Waker::new(self.poll.registry(), PERSISTENCE)?;
        self.broker.open_persistence(std::sync::Arc::new(waker))
    }
}

/// SIGHUP: `log_dest file` is opened again at its path, for logrotate, and the new file's
/// first line says so.
fn reopen_log_file() {
    match crate::log::reopen() {
        Some((path, Ok(()))) => log_info!("Reopened log file {}.", path.display()),
        Some((path, Err(e))) => log_error!(
            "Error: Unable to reopen log file {}: {e}; still writing to the file opened before.",
            path.display()
        ),
        None => {}
    }
}
