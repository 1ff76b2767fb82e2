//! Where the broker asks `auth` for a decision: CONNECT, PUBLISH, delivery, wills, retained
//! messages, resumed sessions, and the SIGHUP reload. Every per-message check is behind
//! `acl_on`, so a broker without ACL files does no work for them.

use std::rc::Rc;

use mio::Token;

use super::{Broker, Close};
use crate::auth::{self, Access, ClientAuth, Refused};
use crate::log_info;
use crate::message::{Delivery, Message};
use crate::protocol::Connect;
use crate::session::{Session, SessionKey};
use crate::tls::Identity;

/// Whether a session may receive messages on `topic`.
#[inline]
pub(super) fn may_read(session: &Session, topic: &str) -> bool {
    allowed(session, topic, Access::Read)
}

/// Whether a session's client has `access` to `topic`: always, when it has no ACL rules.
fn allowed(session: &Session, topic: &str, access: Access) -> bool {
    session
        .auth
        .as_deref()
        .is_none_or(|client| client.allows(topic, access))
}

impl Broker {
    /// The password check of CONNECT (none for a user its certificate names), and the
    /// client's rules if it passes.
    pub(super) fn login(
        &self,
        token: Token,
        connect: &Connect,
        client_id: &str,
        identity: &Identity,
    ) -> Result<Option<Box<ClientAuth>>, Refused> {
        let socket = self.conns[token.0].listener;
        if let Identity::Name(name) = identity {
            return Ok(self.auth.certified(socket, client_id, name));
        }
        let username = connect.username.as_deref();
        let password = connect.password.as_deref();
        self.auth.login(socket, client_id, username, password)
    }

    /// Whether `key`'s client may publish to `topic`: mosquitto's `$SYS`/`$share` rule,
    /// then its ACL.
    pub(super) fn may_write(&self, key: SessionKey, topic: &str) -> bool {
        if !super::publish::client_may_publish_to(topic) {
            return false;
        }
        !self.acl_on || allowed(&self.sessions[key], topic, Access::Write)
    }

    /// Whether a subscriber gets a retained message it asked for: it must be allowed to
    /// read it, and with `check_retain_source` its publisher must still be allowed to write.
    pub(super) fn may_receive_retained(&self, key: SessionKey, message: &Rc<Message>) -> bool {
        !self.acl_on
            || (may_read(&self.sessions[key], &message.topic)
                && self.auth.retain_source_allows(message))
    }

    /// Notes a retained message's publisher for `check_retain_source`.
    pub(super) fn note_retained(&mut self, message: &Rc<Message>, origin: Option<SessionKey>) {
        if !self.acl_on {
            return;
        }
        let source = origin
            .and_then(|key| self.sessions.get(key.0))
            .and_then(|s| Some((s.client_id.as_str(), s.auth.as_deref()?)));
        self.auth.note_retained(message, source);
        self.record_retain_source(message);
    }

    /// A resumed session under a (possibly) new identity keeps only the messages that
    /// identity may read, as mosquitto re-checks a reconnecting client's queues.
    pub(super) fn drop_unreadable(&mut self, key: SessionKey) {
        if !self.acl_on {
            return;
        }
        let session = &mut self.sessions[key];
        // Out of the session while its messages are sifted, and back after.
        let Some(client) = session.auth.take() else {
            return;
        };
        let readable = |d: &Delivery, _| client.allows(&d.message.topic, Access::Read);
        let journal = super::durable::journal(&mut self.durable);
        let gone = session.retain_deliveries(readable, journal);
        session.auth = Some(client);
        self.count_dropped(key, super::DropReason::AclDenied, gone as u64);
    }

    /// SIGHUP: reads the password and ACL files again. Connected clients whose password
    /// entry changed or went are disconnected, as mosquitto does; everyone else stays, under
    /// the new rules. A file with an error changes nothing.
    pub fn reload_security(&mut self) {
        log_info!("Reloading config.");
        if !self.auth.is_active() {
            return;
        }
        if let Err(e) = self.auth.reload() {
            auth::log_reload_error(&e);
            return;
        }
        let refused: Vec<Token> = self
            .conns
            .iter()
            .filter_map(|(token, conn)| {
                let client = self.sessions.get(conn.session?.0)?.auth.as_deref()?;
                (!self.auth.still_valid(client)).then_some(Token(token))
            })
            .collect();
        // mosquitto ends them as if they had sent DISCONNECT: "Client X disconnected.",
        // no DISCONNECT packet, no will.
        for token in refused {
            self.close(token, Close::Disconnected);
        }
        for (_, session) in self.sessions.iter_mut() {
            if let Some(client) = session.auth.as_deref_mut() {
                self.auth.refresh(client, &session.client_id);
            }
        }
        log_info!("Reloaded the password and ACL files.");
    }
}
