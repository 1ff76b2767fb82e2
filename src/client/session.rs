//! One blocking MQTT session over TCP or TLS: CONNECT, publish and subscribe with the full
//! QoS 1/2 acknowledgement flows, keep-alive pings, DISCONNECT.
//!
//! Everything the broker sends is read by [`Client::poll`], which acknowledges what needs
//! acknowledging and pings when the connection has been quiet for the keep-alive interval, then
//! reports what the caller needs to know as an [`Event`]. Each wait is bounded: by the caller's
//! deadline, by the keep-alive, and by a short tick when an interrupt flag is set.
//!
//! With a [`Logger`], the session describes each packet in the words libmosquitto's debug log
//! uses ("Client mosq-xyz sending CONNECT"), which is what `-d` prints.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::error::ClientError;
use super::tls::Stream;
use super::wire;
use crate::protocol::{
    self, ByteStr, Connect, Disconnect, Packet, Properties, PubResp, Publish, QoS, SubAck,
    SubOptions, Subscribe, UnsubAck, Unsubscribe, Version, Will, framing, topic,
};

/// Receives one debug line per packet, without a newline.
pub type Logger = Box<dyn FnMut(&str) + Send>;

/// How often a wait looks at the interrupt flag.
const TICK: Duration = Duration::from_millis(100);
/// The longest single read when nothing else bounds it, so no call blocks for ever.
const MAX_READ_WAIT: Duration = Duration::from_secs(1);
/// How long to wait for the TCP handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for CONNACK when there is no keep-alive to bound it.
const CONNACK_WAIT: Duration = Duration::from_secs(60);
/// How long DISCONNECT waits for the broker to close its side.
const CLOSE_WAIT: Duration = Duration::from_millis(500);
const MAX_PACKET: usize = framing::MAX_REMAINING_LENGTH + 5;

/// What to put in CONNECT.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub version: Version,
    /// Empty lets a 3.1.1 or 5.0 broker assign one.
    pub client_id: String,
    pub clean_session: bool,
    /// Seconds; 0 disables pings.
    pub keep_alive: u16,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub will: Option<Will>,
    /// MQTT 5 CONNECT properties (ignored for 3.1 and 3.1.1).
    pub properties: Properties,
    /// Speak TLS with this configuration (`--cafile` and friends).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl ConnectOptions {
    /// mosquitto's client defaults: MQTT 3.1.1, clean session, 60 s keep-alive, no id.
    pub fn new(host: impl Into<String>, port: u16) -> ConnectOptions {
        ConnectOptions {
            host: host.into(),
            port,
            version: Version::V311,
            client_id: String::new(),
            clean_session: true,
            keep_alive: 60,
            username: None,
            password: None,
            will: None,
            properties: Properties::default(),
            tls: None,
        }
    }
}

/// What [`Client::poll`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The broker accepted the connection.
    Connected {
        session_present: bool,
    },
    /// A message for one of our subscriptions; already acknowledged (QoS 2: on PUBREL).
    /// `property_order`: its property identifiers in wire order (see [`wire`]).
    Message {
        publish: Publish,
        property_order: Vec<u8>,
    },
    /// A QoS 1 or 2 publish of ours is finished: acknowledged, or refused with an MQTT 5
    /// reason code of 0x80 or more.
    Published {
        packet_id: u16,
        reason: u8,
        reason_string: Option<String>,
    },
    SubAck(SubAck),
    UnsubAck(UnsubAck),
}

pub struct Client {
    stream: Stream,
    version: Version,
    /// Empty until known; debug lines then say "(null)" as libmosquitto does.
    id: String,
    connected: bool,
    keep_alive: Duration,
    rx: BytesMut,
    next_packet_id: u16,
    last_in: Instant,
    last_out: Instant,
    ping_outstanding: bool,
    /// Our QoS 1/2 publishes not yet finished, by packet id.
    outbound: HashMap<u16, QoS>,
    /// Inbound QoS 2 messages (and their property order) held until PUBREL, so each is
    /// delivered once.
    inbound_qos2: HashMap<u16, (Publish, Vec<u8>)>,
    /// The topic alias maximum we announced in CONNECT, and the aliases the broker set.
    alias_maximum: u16,
    aliases: HashMap<u16, ByteStr>,
    events: VecDeque<Event>,
    maximum_qos: QoS,
    log: Option<Logger>,
    interrupt: Option<Arc<AtomicBool>>,
}

/// Resolves the broker's host, connects to the first address that answers, and completes
/// the TLS handshake if the options ask for TLS.
fn open_stream(opts: &ConnectOptions) -> Result<Stream, ClientError> {
    let tcp = connect_tcp(opts)?;
    Stream::start(tcp, opts.tls.as_ref(), &opts.host, CONNECT_TIMEOUT)
}

fn connect_tcp(opts: &ConnectOptions) -> Result<TcpStream, ClientError> {
    let addrs = (opts.host.as_str(), opts.port)
        .to_socket_addrs()
        .map_err(|_| ClientError::Lookup)?;
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.map_or(ClientError::Lookup, ClientError::Connect))
}

impl Client {
    /// Opens the TCP connection and sends CONNECT; CONNACK arrives through [`Client::poll`]
    /// as [`Event::Connected`] (or a [`ClientError::Refused`]).
    pub fn start(opts: &ConnectOptions, log: Option<Logger>) -> Result<Client, ClientError> {
        let now = Instant::now();
        let mut client = Client {
            stream: open_stream(opts)?,
            version: opts.version,
            id: opts.client_id.clone(),
            connected: false,
            keep_alive: Duration::from_secs(u64::from(opts.keep_alive)),
            rx: BytesMut::with_capacity(4096),
            next_packet_id: 0,
            last_in: now,
            last_out: now,
            ping_outstanding: false,
            outbound: HashMap::new(),
            inbound_qos2: HashMap::new(),
            alias_maximum: 0,
            aliases: HashMap::new(),
            events: VecDeque::new(),
            maximum_qos: QoS::ExactlyOnce,
            log,
            interrupt: None,
        };
        client.send_connect(opts)?;
        Ok(client)
    }

    /// Starts a new connection in place of this one (which is dropped without DISCONNECT),
    /// keeping the logger, the interrupt flag and the message ids running on, as libmosquitto's
    /// reconnect does. Session state from the old connection is forgotten.
    pub fn reconnect(&mut self, opts: &ConnectOptions) -> Result<(), ClientError> {
        let stream = open_stream(opts)?;
        let now = Instant::now();
        self.stream = stream;
        self.version = opts.version;
        self.id = opts.client_id.clone();
        self.connected = false;
        self.keep_alive = Duration::from_secs(u64::from(opts.keep_alive));
        self.rx.clear();
        self.last_in = now;
        self.last_out = now;
        self.ping_outstanding = false;
        self.outbound.clear();
        self.inbound_qos2.clear();
        self.aliases.clear();
        self.events.clear();
        self.maximum_qos = QoS::ExactlyOnce;
        self.send_connect(opts)
    }

    fn send_connect(&mut self, opts: &ConnectOptions) -> Result<(), ClientError> {
        // A broker that stops reading must not block us for ever either.
        self.stream
            .set_write_timeout(Some(self.keep_alive.max(Duration::from_secs(10))))
            .map_err(ClientError::Io)?;
        let v5 = opts.version == Version::V5;
        self.alias_maximum = if v5 {
            opts.properties.topic_alias_maximum.unwrap_or(0)
        } else {
            0
        };
        let connect = Connect {
            version: opts.version,
            clean_start: opts.clean_session,
            keep_alive: opts.keep_alive,
            client_id: ByteStr::from(opts.client_id.as_str()),
            will: opts.will.clone(),
            username: opts.username.as_deref().map(ByteStr::from),
            password: opts.password.clone(),
            properties: if v5 {
                opts.properties.clone()
            } else {
                Properties::default()
            },
        };
        self.log("sending CONNECT");
        self.send(&Packet::Connect(Box::new(connect)))
    }

    /// [`Client::start`], then waits for CONNACK (at most a keep-alive interval).
    pub fn connect(opts: &ConnectOptions, log: Option<Logger>) -> Result<Client, ClientError> {
        let mut client = Client::start(opts, log)?;
        loop {
            if let Some(Event::Connected { .. }) = client.poll(None)? {
                return Ok(client);
            }
        }
    }

    /// Makes waits in [`Client::poll`] return `Ok(None)` soon after `flag` becomes true.
    pub fn set_interrupt(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = Some(flag);
    }

    /// The client id: the one we sent, or the one an MQTT 5 broker assigned; may be empty.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// How many of our QoS 1/2 publishes are still waiting for their acknowledgement.
    pub fn inflight(&self) -> usize {
        self.outbound.len()
    }

    /// Reads and handles what the broker sends until there is an event to report.
    ///
    /// Returns `Ok(None)` once `until` has passed or the interrupt flag is set.
    pub fn poll(&mut self, until: Option<Instant>) -> Result<Option<Event>, ClientError> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            let order = if self.version == Version::V5 {
                wire::publish_property_order(&self.rx)
            } else {
                Vec::new()
            };
            let decoded = protocol::decode(&mut self.rx, self.version, MAX_PACKET)
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            if let Some(packet) = decoded {
                self.last_in = Instant::now();
                self.handle(packet, order)?;
                continue;
            }
            let now = Instant::now();
            let keep_alive_due = self.check_keep_alive(now)?;
            if self.interrupted() || until.is_some_and(|u| now >= u) {
                return Ok(None);
            }
            let wake = match (keep_alive_due, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut wait = wake.map_or(MAX_READ_WAIT, |w| w.saturating_duration_since(now));
            if self.interrupt.is_some() {
                wait = wait.min(TICK);
            }
            let wait = wait.clamp(Duration::from_millis(1), MAX_READ_WAIT);
            self.stream
                .set_read_timeout(Some(wait))
                .map_err(ClientError::Io)?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(ClientError::ConnectionLost),
                Ok(n) => self.rx.extend_from_slice(&buf[..n]),
                Err(e) => match e.kind() {
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted => {}
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                        return Err(ClientError::ConnectionLost);
                    }
                    _ => return Err(ClientError::Io(e)),
                },
            }
        }
    }

    /// Sends PUBLISH and returns its message id (mosquitto numbers QoS 0 messages too). A QoS
    /// 1/2 publish is finished when [`Event::Published`] reports its id.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: Bytes,
        qos: QoS,
        retain: bool,
    ) -> Result<u16, ClientError> {
        self.publish_with(topic, payload, qos, retain, &Properties::default())
    }

    /// [`Client::publish`] with MQTT 5 properties (left out for 3.x). With a topic alias the
    /// topic may be empty: the broker then knows it from an earlier publish.
    pub fn publish_with(
        &mut self,
        topic: &str,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: &Properties,
    ) -> Result<u16, ClientError> {
        let v5 = self.version == Version::V5;
        let aliased = v5 && topic.is_empty() && properties.topic_alias.is_some();
        if !aliased && (topic::validate_name(topic).is_err() || topic.len() > usize::from(u16::MAX))
        {
            return Err(ClientError::InvalidTopic);
        }
        if qos > self.maximum_qos {
            return Err(ClientError::QosNotSupported);
        }
        let mid = self.next_packet_id();
        let shown = if aliased { "(null)" } else { topic };
        self.log(&format!(
            "sending PUBLISH (d0, q{}, r{}, m{mid}, '{shown}', ... ({} bytes))",
            qos as u8,
            u8::from(retain),
            payload.len()
        ));
        let properties = (v5 && !properties.is_empty()).then(|| Box::new(properties.clone()));
        let publish = Publish {
            qos,
            retain,
            topic: ByteStr::from(topic),
            packet_id: if qos == QoS::AtMostOnce { 0 } else { mid },
            properties,
            payload,
            ..Publish::default()
        };
        if qos != QoS::AtMostOnce {
            self.outbound.insert(mid, qos);
        }
        self.send(&Packet::Publish(publish))?;
        Ok(mid)
    }

    /// Sends one SUBSCRIBE for all `filters`; [`Event::SubAck`] carries the result.
    pub fn subscribe(
        &mut self,
        filters: &[(String, SubOptions)],
        properties: Properties,
    ) -> Result<u16, ClientError> {
        let mid = self.next_packet_id();
        let v5 = self.version == Version::V5;
        for (filter, options) in filters {
            // libmosquitto logs the option bits it sends: none before MQTT 5.
            let bits = if v5 {
                u8::from(options.no_local) << 2
                    | u8::from(options.retain_as_published) << 3
                    | (options.retain_handling as u8) << 4
            } else {
                0
            };
            self.log(&format!(
                "sending SUBSCRIBE (Mid: {mid}, Topic: {filter}, QoS: {}, Options: 0x{bits:02x})",
                options.qos as u8
            ));
        }
        let subscribe = Subscribe {
            packet_id: mid,
            filters: filters
                .iter()
                .map(|(f, o)| (ByteStr::from(f.as_str()), *o))
                .collect(),
            properties,
        };
        self.send(&Packet::Subscribe(subscribe))?;
        Ok(mid)
    }

    /// Sends UNSUBSCRIBE for one filter; [`Event::UnsubAck`] carries the result.
    pub fn unsubscribe(&mut self, filter: &str) -> Result<u16, ClientError> {
        self.unsubscribe_with(filter, Properties::default())
    }

    /// [`Client::unsubscribe`] with MQTT 5 properties.
    pub fn unsubscribe_with(
        &mut self,
        filter: &str,
        properties: Properties,
    ) -> Result<u16, ClientError> {
        let mid = self.next_packet_id();
        self.log(&format!(
            "sending UNSUBSCRIBE (Mid: {mid}, Topic: {filter})"
        ));
        let unsubscribe = Unsubscribe {
            packet_id: mid,
            filters: vec![ByteStr::from(filter)],
            properties,
        };
        self.send(&Packet::Unsubscribe(unsubscribe))?;
        Ok(mid)
    }

    /// Sends DISCONNECT (`reason` is used by MQTT 5 only) and closes the connection once the
    /// broker has closed its side, or after a short wait.
    pub fn disconnect(&mut self, reason: u8) -> Result<(), ClientError> {
        self.disconnect_with(reason, Properties::default())
    }

    /// [`Client::disconnect`] with MQTT 5 properties.
    pub fn disconnect_with(
        &mut self,
        reason: u8,
        properties: Properties,
    ) -> Result<(), ClientError> {
        self.log("sending DISCONNECT");
        let disconnect = Disconnect { reason, properties };
        self.send(&Packet::Disconnect(disconnect))?;
        self.connected = false;
        // Closing with unread data would reset the connection, and the broker might then lose
        // the DISCONNECT and publish our will: read until it closes instead.
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + CLOSE_WAIT;
        let mut buf = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if self
                .stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .is_err()
            {
                break;
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = self.stream.shutdown(Shutdown::Both);
        Ok(())
    }

    fn handle(&mut self, packet: Packet, property_order: Vec<u8>) -> Result<(), ClientError> {
        if !self.connected && !matches!(packet, Packet::ConnAck(_)) {
            return Err(ClientError::Protocol(format!(
                "{} before CONNACK",
                packet.name()
            )));
        }
        match packet {
            Packet::ConnAck(ack) => {
                if self.connected {
                    return Err(ClientError::Protocol("a second CONNACK".into()));
                }
                if let Some(id) = &ack.properties.assigned_client_identifier {
                    self.id = id.to_string();
                }
                self.log(&format!("received CONNACK ({})", ack.code));
                if ack.code != 0 {
                    return Err(ClientError::Refused {
                        version: self.version,
                        code: ack.code,
                    });
                }
                self.connected = true;
                if let Some(seconds) = ack.properties.server_keep_alive {
                    self.keep_alive = Duration::from_secs(u64::from(seconds));
                }
                if let Some(qos) = ack.properties.maximum_qos.and_then(QoS::from_u8) {
                    self.maximum_qos = qos;
                }
                self.events.push_back(Event::Connected {
                    session_present: ack.session_present,
                });
            }
            Packet::Publish(publish) => self.handle_publish(publish, property_order)?,
            Packet::PubRel(rel) => {
                self.log(&format!("received PUBREL (Mid: {})", rel.packet_id));
                self.log(&format!("sending PUBCOMP (m{})", rel.packet_id));
                self.send(&Packet::PubComp(PubResp::new(rel.packet_id)))?;
                if let Some((publish, property_order)) = self.inbound_qos2.remove(&rel.packet_id) {
                    self.events.push_back(Event::Message {
                        publish,
                        property_order,
                    });
                }
            }
            Packet::PubAck(ack) => {
                self.log(&format!(
                    "received PUBACK (Mid: {}, RC:{})",
                    ack.packet_id, ack.reason
                ));
                self.finish_publish(ack, QoS::AtLeastOnce);
            }
            Packet::PubRec(rec) => {
                self.log(&format!("received PUBREC (Mid: {})", rec.packet_id));
                if rec.reason >= 0x80 {
                    // MQTT 5: the broker refused the message; there is no PUBREL to send.
                    self.finish_publish(rec, QoS::ExactlyOnce);
                } else {
                    // Answered even for an id we do not know, so the broker can finish.
                    self.log(&format!("sending PUBREL (m{})", rec.packet_id));
                    self.send(&Packet::PubRel(PubResp::new(rec.packet_id)))?;
                }
            }
            Packet::PubComp(comp) => {
                self.log(&format!(
                    "received PUBCOMP (Mid: {}, RC:{})",
                    comp.packet_id, comp.reason
                ));
                self.finish_publish(comp, QoS::ExactlyOnce);
            }
            Packet::SubAck(ack) => {
                self.log("received SUBACK");
                self.events.push_back(Event::SubAck(ack));
            }
            Packet::UnsubAck(ack) => {
                self.log("received UNSUBACK");
                self.events.push_back(Event::UnsubAck(ack));
            }
            Packet::PingResp => {
                self.log("received PINGRESP");
                self.ping_outstanding = false;
            }
            Packet::Disconnect(disconnect) => {
                // libmosquitto logs this one without the client prefix.
                if let Some(log) = &mut self.log {
                    log(&format!("Received DISCONNECT ({})", disconnect.reason));
                }
                self.connected = false;
                return Err(ClientError::ConnectionLost);
            }
            other => {
                return Err(ClientError::Protocol(format!(
                    "unexpected {} from the broker",
                    other.name()
                )));
            }
        }
        Ok(())
    }

    fn handle_publish(
        &mut self,
        mut publish: Publish,
        property_order: Vec<u8>,
    ) -> Result<(), ClientError> {
        self.resolve_alias(&mut publish)?;
        self.log(&format!(
            "received PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(publish.dup),
            publish.qos as u8,
            u8::from(publish.retain),
            publish.packet_id,
            publish.topic,
            publish.payload.len()
        ));
        let id = publish.packet_id;
        match publish.qos {
            QoS::AtMostOnce => self.events.push_back(Event::Message {
                publish,
                property_order,
            }),
            QoS::AtLeastOnce => {
                self.log(&format!("sending PUBACK (m{id}, rc0)"));
                self.send(&Packet::PubAck(PubResp::new(id)))?;
                self.events.push_back(Event::Message {
                    publish,
                    property_order,
                });
            }
            QoS::ExactlyOnce => {
                self.log(&format!("sending PUBREC (m{id}, rc0)"));
                self.send(&Packet::PubRec(PubResp::new(id)))?;
                // A retransmission (DUP) replaces the copy we hold; either way it is
                // delivered once, when PUBREL arrives.
                self.inbound_qos2.insert(id, (publish, property_order));
            }
        }
        Ok(())
    }

    /// A broker may name a topic by alias once we announced a topic alias maximum: the first
    /// publish with an alias sets it, later ones may leave the topic out.
    fn resolve_alias(&mut self, publish: &mut Publish) -> Result<(), ClientError> {
        let Some(alias) = publish.props().topic_alias else {
            if publish.topic.is_empty() {
                return Err(ClientError::Protocol("PUBLISH without a topic".into()));
            }
            return Ok(());
        };
        if alias == 0 || alias > self.alias_maximum {
            return Err(ClientError::Protocol("topic alias out of range".into()));
        }
        if publish.topic.is_empty() {
            match self.aliases.get(&alias) {
                Some(topic) => publish.topic = topic.clone(),
                None => return Err(ClientError::Protocol("unknown topic alias".into())),
            }
        } else {
            self.aliases.insert(alias, publish.topic.clone());
        }
        Ok(())
    }

    fn finish_publish(&mut self, resp: PubResp, qos: QoS) {
        if self.outbound.get(&resp.packet_id) != Some(&qos) {
            return; // Not ours, or not at this QoS: libmosquitto ignores it too.
        }
        self.outbound.remove(&resp.packet_id);
        self.events.push_back(Event::Published {
            packet_id: resp.packet_id,
            reason: resp.reason,
            reason_string: resp.properties.reason_string.map(|s| s.to_string()),
        });
    }

    /// Pings when the connection has been quiet for the keep-alive, as libmosquitto does, and
    /// fails when the broker has not answered CONNACK or PINGREQ within it. Returns when it
    /// next needs to run.
    fn check_keep_alive(&mut self, now: Instant) -> Result<Option<Instant>, ClientError> {
        let keep_alive = match (self.keep_alive.is_zero(), self.connected) {
            (true, true) => return Ok(None),
            (true, false) => CONNACK_WAIT,
            (false, _) => self.keep_alive,
        };
        let due = self.last_in.min(self.last_out) + keep_alive;
        if now < due {
            return Ok(Some(due));
        }
        if !self.connected || self.ping_outstanding {
            return Err(ClientError::Keepalive);
        }
        self.log("sending PINGREQ");
        self.send(&Packet::PingReq)?;
        self.ping_outstanding = true;
        // Give the broker a whole interval to answer.
        self.last_in = now;
        Ok(Some(now + keep_alive))
    }

    fn next_packet_id(&mut self) -> u16 {
        loop {
            self.next_packet_id = self.next_packet_id.wrapping_add(1);
            let id = self.next_packet_id;
            if id != 0 && !self.outbound.contains_key(&id) {
                return id;
            }
        }
    }

    fn send(&mut self, packet: &Packet) -> Result<(), ClientError> {
        let mut out = BytesMut::new();
        packet.encode(self.version, &mut out);
        let written = self.stream.write_all(&out);
        // TLS holds records until flushed; plain TCP's flush does nothing.
        written
            .and_then(|()| self.stream.flush())
            .map_err(|e| match e.kind() {
                ErrorKind::BrokenPipe
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted => ClientError::ConnectionLost,
                _ => ClientError::Io(e),
            })?;
        self.last_out = Instant::now();
        Ok(())
    }

    fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    fn log(&mut self, what: &str) {
        if let Some(log) = &mut self.log {
            let id = if self.id.is_empty() {
                "(null)"
            } else {
                &self.id
            };
            log(&format!("Client {id} {what}"));
        }
    }
}
