//! CONNECT: client identifier rules, authentication, session takeover and resumption.

use bytes::Bytes;
use mio::Token;

use super::{Broker, Close};
use crate::connection::{OutAliases, State};
use crate::listener_rules::MountTooLong;
use crate::protocol::{ByteStr, ConnAck, Connect, Packet, Properties, QoS, Version, Will, reason};
use crate::session::{Expiry, OutState, Session, SessionKey};
use crate::tls::Identity;
use crate::{log_debug, log_notice};

impl Broker {
    pub(super) fn handle_connect(
        &mut self,
        token: Token,
        mut connect: Connect,
    ) -> Result<(), Close> {
        let version = connect.version;
        let conn = &mut self.conns[token.0];
        conn.version = version;
        // What the client accepts, from the start: a refusing CONNACK must fit too.
        conn.max_packet_out = connect.properties.maximum_packet_size.unwrap_or(u32::MAX);
        // mosquitto reads a zero-length username or password as none at all, so an empty
        // password never logs in, not even against the hash of an empty one.
        connect.username = connect.username.take().filter(|u| !u.is_empty());
        connect.password = connect.password.take().filter(|p| !p.is_empty());

        let (client_id, assigned) = match self.client_id_for(token, &connect) {
            Some(id) => id,
            None => {
                // mosquitto answers an MQTT 5 client with "unspecified error" here.
                let code = refusal(
                    version,
                    reason::v3::IDENTIFIER_REJECTED,
                    reason::UNSPECIFIED_ERROR,
                );
                self.refuse(token, ConnAck::new(false, code));
                return Err(Close::Refused);
            }
        };
        // mount_point: the will goes out on the mounted topic, and is checked there.
        let rules = &self.conns[token.0].rules;
        if rules.mount_point.is_some()
            && let Some(will) = connect.will.as_mut()
        {
            will.topic = rules
                .mount_topic(&will.topic)
                .map_err(|MountTooLong| Close::Protocol("will topic too long once mounted"))?;
        }
        // use_identity_as_username: the certificate names the user, whatever CONNECT says.
        let identity = self.conns[token.0].identity();
        if let Identity::Name(name) = &identity {
            connect.username = Some(ByteStr::from(name.as_str()));
            connect.password = None;
        }
        if let Some(connack) = self.refuse_because(&connect, &client_id, token, &identity) {
            let not_authorised = matches!(
                connack.code,
                reason::v3::NOT_AUTHORIZED
                    | reason::NOT_AUTHORIZED
                    | reason::v3::BAD_USERNAME_OR_PASSWORD
                    | reason::BAD_USER_NAME_OR_PASSWORD
            );
            self.refuse(token, connack);
            return Err(if not_authorised {
                Close::NotAuthorized
            } else {
                Close::Refused
            });
        }
        // use_username_as_clientid: the username is the id from here on, ACL patterns included.
        let renamed = match self.conns[token.0].rules.use_username_as_clientid {
            true => connect.username.as_deref().map(ByteStr::from),
            false => Some(client_id.clone()),
        };
        // Last, as in mosquitto: the password file and allow_anonymous, then the username the
        // id is to come from.
        let id_for_rules = renamed.as_ref().unwrap_or(&client_id);
        let Ok(client_auth) = self.login(token, &connect, id_for_rules, &identity) else {
            return Err(self.refuse_not_authorised(token));
        };
        let Some(client_id) = renamed else {
            // mosquitto names the client in its log line here, by the id it sent.
            self.conns[token.0].client_id = Some(client_id);
            return Err(self.refuse_not_authorised(token));
        };
        if let Some(connack) = self.id_too_long(version, &client_id) {
            self.refuse(token, connack);
            return Err(Close::Refused);
        }

        let keep_alive = self.keep_alive_for(&connect);
        let mut connack = ConnAck::new(false, reason::SUCCESS);
        if version == Version::V5 {
            self.connack_properties(&mut connack.properties, token);
            let p = &mut connack.properties;
            p.assigned_client_identifier = assigned.then(|| client_id.clone());
            p.server_keep_alive = (keep_alive != connect.keep_alive).then_some(keep_alive);
        }
        if let Some(&key) = self.session_ids.get(client_id.as_str())
            && let Some(old) = self.sessions[key].conn
        {
            if self.config.connection_messages {
                log_notice!("Client {client_id} already connected, closing old connection.");
            }
            self.take_over(old, key, connect.clean_start);
        }
        let expiry = Expiry::requested(
            version,
            connect.clean_start,
            connect.properties.session_expiry_interval,
        );
        let (key, session_present) =
            self.open_session(&client_id, version, connect.clean_start, expiry);
        self.sessions[key].conn = Some(token);
        self.set_shared_online(key, true);
        self.sessions[key].auth = client_auth;
        if session_present {
            self.drop_unreadable(key);
        }

        let inflight_max = self.limits.inflight_max;
        let conn = &mut self.conns[token.0];
        conn.state = State::Connected;
        conn.session = Some(key);
        conn.client_id = Some(client_id.clone());
        conn.keep_alive_limit_ms = u32::from(keep_alive) * 1500;
        // Kept for the connection's lifetime, so it must not pin the read buffer it came in.
        conn.will = connect.will.as_ref().map(|w| Box::new(detach_will(w)));
        // What the client accepts from us (MQTT 5; absent means the protocol's maximum).
        let theirs = &connect.properties;
        let ours = u16::try_from(inflight_max).unwrap_or(u16::MAX);
        conn.inflight_max = theirs.receive_maximum.map_or(ours, |n| ours.min(n));
        conn.out_aliases = OutAliases::new(theirs.topic_alias_maximum.unwrap_or(0));
        if self.config.connection_messages {
            log_connected(conn, &connect, &client_id);
        }

        // The keep-alive may end sooner than the CONNECT timeout the timer was armed for.
        self.arm_conn_timer(token);
        connack.session_present = session_present;
        // [MQTT-3.1.2-24]: a CONNACK the client cannot take is not sent. As in mosquitto, the
        // connection then ends as if lost: the session stays, the will goes out.
        if !self.fits(token, connack.packet_len(version)) {
            return Err(Close::ConnAckTooLarge);
        }
        log_debug!(
            "Sending CONNACK to {client_id} ({}, 0)",
            u8::from(session_present)
        );
        self.send(token, &Packet::ConnAck(connack));
        if session_present {
            self.resend_inflight(key);
        }
        Ok(())
    }

    /// What an MQTT 5 client is told of our limits, where they differ from the protocol's.
    fn connack_properties(&self, p: &mut Properties, token: Token) {
        let conn = &self.conns[token.0];
        p.topic_alias_maximum = Some(conn.rules.max_topic_alias).filter(|&n| n > 0);
        p.receive_maximum = self.config.max_inflight_messages.filter(|&n| n < u16::MAX);
        p.maximum_qos = (conn.rules.max_qos < QoS::ExactlyOnce).then_some(conn.rules.max_qos as u8);
        p.retain_available = (!self.config.retain_available).then_some(0);
        // Only a configured bound: mosquitto 2.0.11 announces none by default.
        p.maximum_packet_size = self.config.max_packet_size.filter(|&n| n > 0);
    }

    /// The CONNACK refusing this CONNECT before its credentials are checked, if it is
    /// refused: a client id without the required prefix, a will the listener cannot honour,
    /// an enhanced authentication method we do not have, or no certificate to name the user.
    /// `max_client_id_length`, for the id the client sent and for the one its username
    /// gives it (`use_username_as_clientid`; a username may be 65,535 bytes).
    fn id_too_long(&self, version: Version, client_id: &str) -> Option<ConnAck> {
        if client_id.len() <= self.limits.client_id_bytes_max {
            return None;
        }
        log_notice!(
            "Client id of {} bytes refused: more than max_client_id_length.",
            client_id.len()
        );
        let code = match version {
            Version::V5 => reason::CLIENT_IDENTIFIER_NOT_VALID,
            _ => reason::v3::IDENTIFIER_REJECTED,
        };
        Some(ConnAck::new(false, code))
    }

    /// The checks run in mosquitto's order.
    fn refuse_because(
        &self,
        connect: &Connect,
        client_id: &str,
        token: Token,
        identity: &Identity,
    ) -> Option<ConnAck> {
        let v5 = connect.version == Version::V5;
        let refuse = |v3_code: u8, v5_code: u8| {
            Some(ConnAck::new(false, if v5 { v5_code } else { v3_code }))
        };
        if let Some(refused) = self.id_too_long(connect.version, client_id) {
            return Some(refused);
        }
        let not_authorised = refuse(reason::v3::NOT_AUTHORIZED, reason::NOT_AUTHORIZED);
        if let Some(prefix) = &self.config.clientid_prefixes
            && !client_id.starts_with(prefix.as_str())
        {
            return not_authorised;
        }
        if let Some(will) = &connect.will {
            let max_qos = self.conns[token.0].rules.max_qos;
            if will.qos > max_qos {
                let mut connack = refuse(reason::v3::NOT_AUTHORIZED, reason::QOS_NOT_SUPPORTED)?;
                if v5 {
                    connack.properties.maximum_qos = Some(max_qos as u8);
                }
                return Some(connack);
            }
            if will.retain && !self.config.retain_available {
                return refuse(reason::v3::NOT_AUTHORIZED, reason::RETAIN_NOT_SUPPORTED);
            }
            // message_size_limit holds for wills too: mosquitto refuses the CONNECT.
            let too_large = |max: usize| will.payload.len() > max;
            if self.limits.payload_bytes_max.is_some_and(too_large) {
                log_debug!("Client {client_id} connected with too large Will payload");
                return refuse(reason::v3::NOT_AUTHORIZED, reason::PACKET_TOO_LARGE);
            }
        }
        if *identity == Identity::Missing {
            // No client certificate, or no CN in it: mosquitto's answer.
            return refuse(
                reason::v3::BAD_USERNAME_OR_PASSWORD,
                reason::BAD_USER_NAME_OR_PASSWORD,
            );
        }
        if let Some(method) = &connect.properties.authentication_method {
            // No enhanced authentication method is implemented yet [MQTT-4.12.0-1].
            log_notice!("Unsupported authentication method '{method}'.");
            return refuse(
                reason::v3::NOT_AUTHORIZED,
                reason::BAD_AUTHENTICATION_METHOD,
            );
        }
        if self.adds_persistent_session(connect, client_id)
            && self.persistent_sessions >= self.config.max_persistent_sessions
        {
            log_notice!(
                "Client {client_id} refused: max_persistent_sessions ({}) reached.",
                self.config.max_persistent_sessions
            );
            return refuse(reason::v3::SERVER_UNAVAILABLE, reason::QUOTA_EXCEEDED);
        }
        None
    }

    /// Whether accepting `connect` makes one more persistent session: it asks for one, and
    /// `client_id` has no persistent session that it resumes or replaces.
    fn adds_persistent_session(&self, connect: &Connect, client_id: &str) -> bool {
        let properties = &connect.properties;
        let interval = properties.session_expiry_interval;
        let wanted = Expiry::requested(connect.version, connect.clean_start, interval);
        let persistent = |key: &SessionKey| self.sessions[*key].expiry != Expiry::AtDisconnect;
        wanted != Expiry::AtDisconnect && !self.session_ids.get(client_id).is_some_and(persistent)
    }

    /// The keep-alive the connection gets. MQTT 5 clients asking for none, or for more than
    /// `max_keepalive`, are told `max_keepalive` instead (mosquitto's rule); 3.1.1 has no way
    /// to say so, and mosquitto 2.0 lets those clients keep theirs.
    fn keep_alive_for(&self, connect: &Connect) -> u16 {
        let max = self.config.max_keepalive;
        if connect.version == Version::V5 && (connect.keep_alive == 0 || connect.keep_alive > max) {
            max
        } else {
            connect.keep_alive
        }
    }

    /// The client identifier to use, and whether the broker assigned it; `None` to refuse.
    /// The listener decides whether an empty one may be assigned, and with what prefix.
    fn client_id_for(&self, token: Token, connect: &Connect) -> Option<(ByteStr, bool)> {
        if !connect.client_id.is_empty() {
            // A copy: the session keeps it long after the CONNECT's read buffer is gone.
            return Some((ByteStr::from(connect.client_id.as_str()), false));
        }
        let may_assign = match connect.version {
            Version::V31 => false,
            Version::V311 => connect.clean_start,
            Version::V5 => true,
        };
        let rules = &self.conns[token.0].rules;
        if !may_assign || !rules.allow_zero_length_clientid {
            return None;
        }
        // mosquitto's form: the prefix and an upper-case UUID.
        let mut buf = uuid::Uuid::encode_buffer();
        let uuid = uuid::Uuid::new_v4().hyphenated().encode_upper(&mut buf);
        let id = format!("{}{uuid}", rules.auto_id_prefix);
        Some((ByteStr::from(id), true))
    }

    /// CONNACK 5 (MQTT 5: 0x87), mosquitto's answer to every failed login.
    fn refuse_not_authorised(&mut self, token: Token) -> Close {
        let version = self.conns[token.0].version;
        let code = refusal(version, reason::v3::NOT_AUTHORIZED, reason::NOT_AUTHORIZED);
        self.refuse(token, ConnAck::new(false, code));
        Close::NotAuthorized
    }

    /// Queues a refusing CONNACK, unless it is larger than the client accepts.
    fn refuse(&mut self, token: Token, connack: ConnAck) {
        let conn = &self.conns[token.0];
        if !self.fits(token, connack.packet_len(conn.version)) {
            return;
        }
        log_debug!(
            "Sending CONNACK to {} (0, {})",
            conn.peer().ip(),
            connack.code
        );
        self.send(token, &Packet::ConnAck(connack));
    }

    /// Whether a packet of `len` bytes is within the client's maximum packet size.
    fn fits(&self, token: Token, len: usize) -> bool {
        u32::try_from(len).is_ok_and(|len| len <= self.conns[token.0].max_packet_out)
    }

    /// Closes the connection that holds `key` today. Its will goes out only if the session
    /// ends with it, as in mosquitto: a persistent session carried over keeps its will quiet,
    /// and so does a will delay, since the new connection comes within it [MQTT-3.1.2-8].
    /// The will is checked against the ACL before the close, which may end the session.
    fn take_over(&mut self, old: Token, key: SessionKey, new_clean_start: bool) {
        let session_ends = self.sessions[key].expiry == Expiry::AtDisconnect || new_clean_start;
        let will = self.conns.get_mut(old.0).and_then(|c| c.will.take());
        let delayed = |w: &Will| w.properties.will_delay_interval.is_some_and(|d| d > 0);
        let will = will.filter(|w| session_ends && !delayed(w) && self.will_allowed(w, Some(key)));
        self.close(old, Close::TakenOver);
        if let Some(will) = will {
            self.publish_allowed_will(*will, Some(key));
        }
    }

    /// Finds or creates the session for `client_id`. Returns its key and whether an earlier
    /// session was resumed ("session present").
    fn open_session(
        &mut self,
        client_id: &ByteStr,
        version: Version,
        clean_start: bool,
        expiry: Expiry,
    ) -> (SessionKey, bool) {
        if let Some(&key) = self.session_ids.get(client_id.as_str()) {
            // Back within the will delay: the will is not sent [MQTT-3.1.2-8], also when
            // clean start ends the session here, as in mosquitto.
            let journal = super::durable::journal(&mut self.durable);
            self.sessions[key].take_delayed_will(journal);
            if clean_start || self.sessions[key].expiry == Expiry::AtDisconnect {
                self.remove_session(key);
            } else {
                self.sessions[key].version = version;
                self.set_expiry(key, expiry);
                self.sessions[key].expires_at = None;
                // MQTT 3.1 has no session-present flag.
                return (key, version != Version::V31);
            }
        }
        let key = self.insert_session(Session::new(client_id.clone(), version, expiry));
        (key, false)
    }

    /// On reconnect, re-sends what the client never acknowledged (with DUP set), then what
    /// waited in the queue.
    fn resend_inflight(&mut self, key: SessionKey) {
        let now = self.now;
        let session = &self.sessions[key];
        let Some(token) = session.conn else {
            return;
        };
        let conn = &mut self.conns[token.0];
        let cache = &mut self.publish_cache;
        for inflight in session.inflight().iter() {
            match inflight.state {
                OutState::AwaitPubAck | OutState::AwaitPubRec => {
                    // One that the client's new maximum packet size refuses stays in
                    // flight, unsent, as before.
                    let _unsent = super::deliver::write_publish(
                        conn,
                        &inflight.delivery,
                        inflight.packet_id,
                        true,
                        now,
                        cache,
                    );
                }
                OutState::AwaitPubComp => {
                    let pubrel = Packet::PubRel(crate::protocol::PubResp::new(inflight.packet_id));
                    pubrel.encode(conn.version, conn.send.tail());
                }
            }
        }
        self.mark_flush(token);
        self.fill_window(key);
    }
}

fn refusal(version: Version, v3: u8, v5: u8) -> u8 {
    if version == Version::V5 { v5 } else { v3 }
}

/// A copy of the will that owns its bytes.
fn detach_will(will: &Will) -> Will {
    Will {
        topic: ByteStr::from(will.topic.as_str()),
        payload: Bytes::copy_from_slice(&will.payload),
        qos: will.qos,
        retain: will.retain,
        properties: will.properties.detached(),
        raw_properties: Bytes::copy_from_slice(&will.raw_properties),
    }
}

/// mosquitto's connect lines: `New client connected from 127.0.0.1:40312 as cli-1 (p2, c1, k60).`
fn log_connected(conn: &crate::connection::Connection, connect: &Connect, client_id: &ByteStr) {
    let user = connect
        .username
        .as_ref()
        .map(|u| format!(", u'{u}'"))
        .unwrap_or_default();
    log_notice!(
        "New client connected from {}:{} as {client_id} ({}, c{}, k{}{user}).",
        conn.peer().ip(),
        conn.peer().port(),
        connect.version.log_name(),
        u8::from(connect.clean_start),
        connect.keep_alive,
    );
    match conn.will.as_deref() {
        None => log_debug!("No will message specified."),
        Some(will) => {
            log_debug!(
                "Will message specified ({} bytes) (r{}, q{}).",
                will.payload.len(),
                u8::from(will.retain),
                will.qos as u8
            );
            log_debug!("\t{}", will.topic);
        }
    }
}
