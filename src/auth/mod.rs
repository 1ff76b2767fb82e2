//! Authentication and authorisation, mosquitto's way: `password_file`, `acl_file`,
//! `allow_anonymous`, `per_listener_settings` and `check_retain_source`.
//!
//! [`Auth`] holds the loaded files, once for the whole broker or, with
//! `per_listener_settings true`, once per distinct set of listener settings (a *domain*).
//! A client that passes CONNECT gets a [`ClientAuth`]: its username, the password entry it
//! proved, and its ACL rules with `%c`/`%u` already filled in. The session keeps it, so that
//! every later check is a walk over a few rules and nothing is looked up per message. A
//! broker without password or ACL files gives clients none and checks nothing.
//!
//! On SIGHUP the files are read again (all or nothing: a bad file keeps the old rules);
//! connected clients whose password entry changed or went are disconnected, as mosquitto
//! does, and everyone's rules are rebuilt.

pub mod acl;
pub mod passwd_cli;
pub mod password;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};

use crate::config::{Config, ListenerConfig};
use crate::message::Message;
use crate::protocol::ByteStr;
use crate::{log_error, log_notice, log_warning};

pub use acl::{Access, AclFile, ClientAcl};
pub use password::{HashError, PasswordFile, PasswordHash, Skipped};

/// A password or ACL file that cannot be used: unreadable, or a bad line (`line` > 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub kind: &'static str,
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, path) = (self.kind, self.path.display());
        match self.line {
            0 => write!(f, "{kind} {path}: {}", self.message),
            line => write!(f, "{kind} {path}:{line}: {}", self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// The security settings a group of listeners shares, and their loaded files.
#[derive(Debug)]
struct Domain {
    allow_anonymous: bool,
    password_path: Option<PathBuf>,
    acl_path: Option<PathBuf>,
    passwords: Option<PasswordFile>,
    acl: Option<Rc<AclFile>>,
}

impl Domain {
    fn same_settings(&self, other: &Domain) -> bool {
        self.allow_anonymous == other.allow_anonymous
            && self.password_path == other.password_path
            && self.acl_path == other.acl_path
    }
}

/// Who published a retained message, for `check_retain_source`.
#[derive(Debug)]
struct RetainSource {
    message: Weak<Message>,
    client_id: ByteStr,
    username: Option<Box<str>>,
    domain: usize,
}

/// The broker's authentication and authorisation state.
#[derive(Debug, Default)]
pub struct Auth {
    /// Domain 0 holds the global settings; with `per_listener_settings`, the others are
    /// one per distinct listener setting.
    domains: Vec<Domain>,
    /// The domain of each listening socket, in the event loop's order, and its port.
    socket_domains: Vec<usize>,
    socket_ports: Vec<u16>,
    check_retain_source: bool,
    /// The publisher of each retained message whose domain has ACLs, by topic.
    retain_sources: HashMap<ByteStr, RetainSource>,
}

/// What a client proved at CONNECT, kept in its session.
#[derive(Debug)]
pub struct ClientAuth {
    domain: usize,
    username: Option<Box<str>>,
    /// The password entry the client matched, to tell after a reload whether it still would.
    credential: Option<Rc<PasswordHash>>,
    /// `None` when the client's listeners have no ACL file: everything is allowed.
    acl: Option<ClientAcl>,
}

impl ClientAuth {
    /// Whether the ACL lets this client have `access` to `topic`.
    #[inline]
    pub fn allows(&self, topic: &str, access: Access) -> bool {
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.allows(topic, access))
    }

    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }
}

/// CONNECT refused: mosquitto answers "not authorised" (5, or 0x87 in MQTT 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl Auth {
    /// Loads the files the configuration names. `sockets` are the listening sockets' listener
    /// configurations, in the event loop's order (a listener on all interfaces has two).
    pub fn load<'a>(
        config: &Config,
        sockets: impl IntoIterator<Item = &'a ListenerConfig>,
    ) -> Result<Auth, FileError> {
        let mut auth = Auth {
            check_retain_source: config.check_retain_source,
            ..Auth::default()
        };
        auth.domains.push(Domain {
            allow_anonymous: config.anonymous_allowed(),
            password_path: config.password_file.clone(),
            acl_path: config.acl_file.clone(),
            passwords: None,
            acl: None,
        });
        for listener in sockets {
            let domain = if config.per_listener_settings {
                let security = &listener.security;
                auth.domain_for(Domain {
                    allow_anonymous: config.anonymous_allowed_on(listener),
                    password_path: security.password_file.clone(),
                    acl_path: security.acl_file.clone(),
                    passwords: None,
                    acl: None,
                })
            } else {
                0
            };
            auth.socket_domains.push(domain);
            auth.socket_ports.push(listener.port);
        }
        let files = auth.read_files()?;
        auth.install(files);
        Ok(auth)
    }

    fn domain_for(&mut self, new: Domain) -> usize {
        // Domain 0 is only for sockets we were not told about; never share it here.
        match self
            .domains
            .iter()
            .skip(1)
            .position(|d| d.same_settings(&new))
        {
            Some(i) => i + 1,
            None => {
                self.domains.push(new);
                self.domains.len() - 1
            }
        }
    }

    /// Reads every domain's files, or fails without changing anything.
    #[allow(clippy::type_complexity)]
    fn read_files(&self) -> Result<Vec<(Option<PasswordFile>, Option<Rc<AclFile>>)>, FileError> {
        let mut files = Vec::with_capacity(self.domains.len());
        for domain in &self.domains {
            let passwords = match &domain.password_path {
                Some(path) => Some(read_password_file(path)?),
                None => None,
            };
            let acl = match &domain.acl_path {
                Some(path) => Some(Rc::new(read_acl_file(path)?)),
                None => None,
            };
            files.push((passwords, acl));
        }
        Ok(files)
    }

    fn install(&mut self, files: Vec<(Option<PasswordFile>, Option<Rc<AclFile>>)>) {
        for (domain, (passwords, acl)) in self.domains.iter_mut().zip(files) {
            domain.passwords = passwords;
            domain.acl = acl;
        }
    }

    /// Reads the password and ACL files again. On error the old ones stay in force.
    pub fn reload(&mut self) -> Result<(), FileError> {
        let files = self.read_files()?;
        self.install(files);
        Ok(())
    }

    /// True when clients need a [`ClientAuth`] at all: some listener has a password or ACL
    /// file. Otherwise nothing is kept per client and nothing is checked per message.
    pub fn is_active(&self) -> bool {
        self.domains
            .iter()
            .any(|d| d.password_path.is_some() || d.acl_path.is_some())
    }

    /// True when some listener has an ACL file, so messages must be checked.
    pub fn has_acl(&self) -> bool {
        self.domains.iter().any(|d| d.acl_path.is_some())
    }

    fn domain_of(&self, socket: u16) -> usize {
        self.socket_domains
            .get(usize::from(socket))
            .copied()
            .unwrap_or(0)
    }

    /// mosquitto's `mosquitto_unpwd_check` with its default password file check: with a
    /// password file a username must be in it with that password and a client without one
    /// needs `allow_anonymous`; without a password file `allow_anonymous` alone decides.
    pub fn login(
        &self,
        socket: u16,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> Result<Option<Box<ClientAuth>>, Refused> {
        let index = self.domain_of(socket);
        let domain = &self.domains[index];
        let credential = match (&domain.passwords, username) {
            (Some(file), Some(name)) => Some(Rc::clone(file.check(name, password).ok_or(Refused)?)),
            _ if domain.allow_anonymous => None,
            _ => return Err(Refused),
        };
        Ok(self.admit(index, client_id, username, credential))
    }

    /// A client whose username its TLS certificate gives (`use_identity_as_username`): as
    /// in mosquitto, no password is asked, but the username's ACL rules apply.
    pub fn certified(
        &self,
        socket: u16,
        client_id: &str,
        username: &str,
    ) -> Option<Box<ClientAuth>> {
        self.admit(self.domain_of(socket), client_id, Some(username), None)
    }

    /// The rules of an admitted client; none to keep when its domain has no files.
    fn admit(
        &self,
        index: usize,
        client_id: &str,
        username: Option<&str>,
        credential: Option<Rc<PasswordHash>>,
    ) -> Option<Box<ClientAuth>> {
        let domain = &self.domains[index];
        if domain.password_path.is_none() && domain.acl_path.is_none() {
            return None;
        }
        Some(Box::new(ClientAuth {
            domain: index,
            username: username.map(Box::from),
            credential,
            acl: domain
                .acl
                .as_ref()
                .map(|acl| acl.for_client(client_id, username)),
        }))
    }

    /// After a reload: whether a connected client would still get in. Only a client that
    /// proved a password can have lost the right (`allow_anonymous` is not reloaded).
    pub fn still_valid(&self, client: &ClientAuth) -> bool {
        let (Some(entry), Some(name)) = (&client.credential, &client.username) else {
            return true;
        };
        self.domains[client.domain]
            .passwords
            .as_ref()
            .is_some_and(|file| file.unchanged(name, entry))
    }

    /// After a reload: the client's rules from the new ACL file.
    pub fn refresh(&self, client: &mut ClientAuth, client_id: &str) {
        let domain = &self.domains[client.domain];
        client.acl = domain
            .acl
            .as_ref()
            .map(|acl| acl.for_client(client_id, client.username.as_deref()));
    }

    /// Remembers who published a retained message (client id and rules), if
    /// `check_retain_source` will ask. A publisher without ACL rules may publish anywhere,
    /// so there is nothing to remember.
    pub fn note_retained(&mut self, message: &Rc<Message>, source: Option<(&str, &ClientAuth)>) {
        if !self.check_retain_source {
            return;
        }
        let source = source.filter(|(_, client)| client.acl.is_some());
        let Some((client_id, client)) = source.filter(|_| !message.payload.is_empty()) else {
            self.retain_sources.remove(message.topic.as_str());
            return;
        };
        let source = RetainSource {
            message: Rc::downgrade(message),
            client_id: ByteStr::from(client_id),
            username: client.username.clone(),
            domain: client.domain,
        };
        self.retain_sources
            .insert(ByteStr::from(message.topic.as_str()), source);
    }

    /// `check_retain_source`: whether the publisher of a retained message may still publish
    /// to its topic under today's rules, as mosquitto checks before handing it out.
    pub fn retain_source_allows(&self, message: &Rc<Message>) -> bool {
        if !self.check_retain_source {
            return true;
        }
        let Some(source) = self.retain_sources.get(message.topic.as_str()) else {
            return true;
        };
        if !std::ptr::eq(source.message.as_ptr(), Rc::as_ptr(message)) {
            return true; // replaced by a message from a publisher without rules
        }
        let Some(acl) = &self.domains[source.domain].acl else {
            return true;
        };
        acl.for_client(&source.client_id, source.username.as_deref())
            .allows(&message.topic, Access::Write)
    }

    /// Who published `message`, when `check_retain_source` keeps its publisher: client id,
    /// username, and the port of a listener of its security domain, as mosquitto's
    /// database names the publisher's listener.
    pub fn retain_source_of(&self, message: &Rc<Message>) -> Option<(&ByteStr, Option<&str>, u16)> {
        let source = self.retain_sources.get(message.topic.as_str())?;
        if !std::ptr::eq(source.message.as_ptr(), Rc::as_ptr(message)) {
            return None;
        }
        let socket = self.socket_domains.iter().position(|&d| d == source.domain);
        let port = socket.map_or(0, |s| self.socket_ports[s]);
        Some((&source.client_id, source.username.as_deref(), port))
    }

    /// Gives a retained message read back from disk the publisher `retain_source_of` told:
    /// its domain is that of the first listener on `port` today (the global one if none is).
    pub fn restore_retain_source(
        &mut self,
        message: &Rc<Message>,
        client_id: ByteStr,
        username: Option<Box<str>>,
        port: u16,
    ) {
        if !self.check_retain_source {
            return;
        }
        let socket = self.socket_ports.iter().position(|&p| p == port);
        let source = RetainSource {
            message: Rc::downgrade(message),
            client_id,
            username,
            domain: socket.map_or(0, |s| self.socket_domains[s]),
        };
        self.retain_sources
            .insert(ByteStr::from(message.topic.as_str()), source);
    }

    /// Forgets the publishers of retained messages that are gone.
    pub fn sweep(&mut self) {
        self.retain_sources
            .retain(|_, source| source.message.strong_count() > 0);
    }
}

fn read(kind: &'static str, path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|e| FileError {
        kind,
        path: path.to_path_buf(),
        line: 0,
        message: format!("unable to open: {e}"),
    })
}

/// Reads a password file. Lines without a usable entry are logged and skipped, as mosquitto
/// 2.0.11 does: their users cannot log in, and the broker starts all the same.
fn read_password_file(path: &Path) -> Result<PasswordFile, FileError> {
    let text = read("password file", path)?;
    let (passwords, skipped) = PasswordFile::parse(&text);
    for skip in skipped {
        match skip {
            Skipped::Line { line } => log_warning!(
                "Warning: Invalid line {line} in password file '{}', ignoring.",
                path.display()
            ),
            Skipped::Entry { username, why } => {
                log_error!("Error: {why} for user {username}, removing entry.")
            }
        }
    }
    Ok(passwords)
}

fn read_acl_file(path: &Path) -> Result<AclFile, FileError> {
    const KIND: &str = "ACL file";
    let error = |line, message| FileError {
        kind: KIND,
        path: path.to_path_buf(),
        line,
        message,
    };
    let bytes = read(KIND, path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        error(line + 1, "line is not valid UTF-8".to_string())
    })?;
    let (acl, warnings) = AclFile::parse(&text).map_err(|(line, message)| error(line, message))?;
    for (_, warning) in warnings {
        log_warning!("Warning: {warning}");
    }
    Ok(acl)
}

/// Logs why a reload failed and that nothing changed.
pub fn log_reload_error(e: &FileError) {
    log_error!("Error: {e}");
    log_notice!("Keeping the password and ACL rules loaded before.");
}

#[cfg(test)]
mod tests;
