//! Raw MQTT packets built byte by byte, independent of midge's codec, so that the tests do
//! not check the codec against itself.

/// CONNACK, session present 0, return code 0 (accepted), MQTT 3.1.1.
pub const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
pub const PINGREQ: [u8; 2] = [0xc0, 0x00];
pub const PINGRESP: [u8; 2] = [0xd0, 0x00];
pub const DISCONNECT: [u8; 2] = [0xe0, 0x00];

/// Appends a variable byte integer (the remaining length encoding).
pub fn varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            break;
        }
    }
}

/// A UTF-8 string or binary field: two length bytes then the data.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// A whole packet from its first byte and its body.
pub fn packet(first_byte: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first_byte];
    varint(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// CONNECT for MQTT 3.1.1 without will, username or password.
pub fn connect_v311(client_id: &str, clean: bool, keepalive: u16) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, b"MQTT");
    body.push(4);
    body.push(if clean { 0x02 } else { 0x00 });
    body.extend_from_slice(&keepalive.to_be_bytes());
    string(&mut body, client_id.as_bytes());
    packet(0x10, &body)
}

/// SUBSCRIBE with one filter at `qos` (MQTT 3.1.1).
pub fn subscribe(packet_id: u16, filter: &str, qos: u8) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    string(&mut body, filter.as_bytes());
    body.push(qos);
    packet(0x82, &body)
}

/// SUBACK for one filter granted at `qos`.
pub fn suback(packet_id: u16, qos: u8) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    body.push(qos);
    packet(0x90, &body)
}

/// UNSUBSCRIBE from one filter (MQTT 3.1.1).
pub fn unsubscribe(packet_id: u16, filter: &str) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    string(&mut body, filter.as_bytes());
    packet(0xa2, &body)
}

pub fn unsuback(packet_id: u16) -> Vec<u8> {
    packet(0xb0, &packet_id.to_be_bytes())
}

/// PUBLISH (MQTT 3.1/3.1.1). `packet_id` is only written for QoS 1 and 2.
pub fn publish(topic: &str, payload: &[u8], qos: u8, retain: bool, packet_id: u16) -> Vec<u8> {
    publish_dup(topic, payload, qos, retain, false, packet_id)
}

pub fn publish_dup(
    topic: &str,
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    packet_id: u16,
) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&packet_id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let first = 0x30 | (u8::from(dup) << 3) | (qos << 1) | u8::from(retain);
    packet(first, &body)
}

pub fn puback(packet_id: u16) -> Vec<u8> {
    packet(0x40, &packet_id.to_be_bytes())
}

pub fn pubrec(packet_id: u16) -> Vec<u8> {
    packet(0x50, &packet_id.to_be_bytes())
}

pub fn pubrel(packet_id: u16) -> Vec<u8> {
    packet(0x62, &packet_id.to_be_bytes())
}

pub fn pubcomp(packet_id: u16) -> Vec<u8> {
    packet(0x70, &packet_id.to_be_bytes())
}

/// CONNACK for MQTT 3.1/3.1.1 with the session present flag and a return code.
pub fn connack(session_present: bool, return_code: u8) -> [u8; 4] {
    [0x20, 0x02, u8::from(session_present), return_code]
}

/// CONNACK return code 1: unacceptable protocol version.
pub const CONNACK_BAD_PROTOCOL_VERSION: [u8; 4] = [0x20, 0x02, 0x00, 0x01];
/// CONNACK return code 2: identifier rejected.
pub const CONNACK_IDENTIFIER_REJECTED: [u8; 4] = [0x20, 0x02, 0x00, 0x02];
/// CONNACK with session present 1, accepted.
pub const CONNACK_SESSION_PRESENT: [u8; 4] = [0x20, 0x02, 0x01, 0x00];

/// A CONNECT packet of any protocol version, built field by field. The flags byte is computed
/// from the fields unless `flags` overrides it, so that inconsistent flags can be sent too.
#[derive(Clone, Debug)]
pub struct Connect {
    pub protocol_name: Vec<u8>,
    pub level: u8,
    pub clean: bool,
    pub keepalive: u16,
    /// Overrides the computed connect flags byte.
    pub flags: Option<u8>,
    /// MQTT 5 properties (without their length); `None` for MQTT 3.1 and 3.1.1.
    pub properties: Option<Vec<u8>>,
    pub client_id: Vec<u8>,
    pub will: Option<Will>,
    pub username: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
pub struct Will {
    pub topic: Vec<u8>,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// MQTT 5 will properties (without their length); ignored for MQTT 3.1 and 3.1.1.
    pub properties: Vec<u8>,
}

impl Connect {
    /// MQTT 3.1.1 (`MQTT`, level 4), clean session, keep-alive 60 s.
    pub fn v311(client_id: &str) -> Connect {
        Connect {
            protocol_name: b"MQTT".to_vec(),
            level: 4,
            clean: true,
            keepalive: 60,
            flags: None,
            properties: None,
            client_id: client_id.as_bytes().to_vec(),
            will: None,
            username: None,
            password: None,
        }
    }

    /// MQTT 3.1 (`MQIsdp`, level 3), clean session, keep-alive 60 s.
    pub fn v31(client_id: &str) -> Connect {
        Connect {
            protocol_name: b"MQIsdp".to_vec(),
            level: 3,
            ..Connect::v311(client_id)
        }
    }

    /// MQTT 5 (`MQTT`, level 5), clean start, keep-alive 60 s, no properties.
    pub fn v5(client_id: &str) -> Connect {
        Connect {
            level: 5,
            properties: Some(Vec::new()),
            ..Connect::v311(client_id)
        }
    }

    pub fn protocol(mut self, name: &[u8], level: u8) -> Connect {
        self.protocol_name = name.to_vec();
        self.level = level;
        self
    }

    pub fn clean(mut self, clean: bool) -> Connect {
        self.clean = clean;
        self
    }

    pub fn keepalive(mut self, seconds: u16) -> Connect {
        self.keepalive = seconds;
        self
    }

    pub fn flags(mut self, flags: u8) -> Connect {
        self.flags = Some(flags);
        self
    }

    pub fn client_id_bytes(mut self, id: &[u8]) -> Connect {
        self.client_id = id.to_vec();
        self
    }

    pub fn will(mut self, topic: &str, payload: &[u8], qos: u8, retain: bool) -> Connect {
        self.will = Some(Will {
            topic: topic.as_bytes().to_vec(),
            payload: payload.to_vec(),
            qos,
            retain,
            properties: Vec::new(),
        });
        self
    }

    /// MQTT 5 will properties, as raw bytes without their length; call after `will`.
    pub fn will_properties(mut self, properties: &[u8]) -> Connect {
        self.will
            .as_mut()
            .expect("will_properties needs a will")
            .properties = properties.to_vec();
        self
    }

    pub fn will_topic_bytes(mut self, topic: &[u8], payload: &[u8]) -> Connect {
        self.will = Some(Will {
            topic: topic.to_vec(),
            payload: payload.to_vec(),
            qos: 0,
            retain: false,
            properties: Vec::new(),
        });
        self
    }

    /// MQTT 5 properties, as raw bytes without their length.
    pub fn properties(mut self, properties: &[u8]) -> Connect {
        self.properties = Some(properties.to_vec());
        self
    }

    pub fn username(mut self, username: &[u8]) -> Connect {
        self.username = Some(username.to_vec());
        self
    }

    pub fn password(mut self, password: &[u8]) -> Connect {
        self.password = Some(password.to_vec());
        self
    }

    /// The connect flags byte the fields imply.
    pub fn computed_flags(&self) -> u8 {
        let mut flags = 0u8;
        if self.clean {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (will.qos << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        flags
    }

    pub fn build(&self) -> Vec<u8> {
        let mut body = Vec::new();
        string(&mut body, &self.protocol_name);
        body.push(self.level);
        body.push(self.flags.unwrap_or_else(|| self.computed_flags()));
        body.extend_from_slice(&self.keepalive.to_be_bytes());
        if let Some(props) = &self.properties {
            varint(&mut body, props.len());
            body.extend_from_slice(props);
        }
        string(&mut body, &self.client_id);
        if let Some(will) = &self.will {
            if self.properties.is_some() {
                varint(&mut body, will.properties.len());
                body.extend_from_slice(&will.properties);
            }
            string(&mut body, &will.topic);
            string(&mut body, &will.payload);
        }
        if let Some(username) = &self.username {
            string(&mut body, username);
        }
        if let Some(password) = &self.password {
            string(&mut body, password);
        }
        packet(0x10, &body)
    }
}

/// CONNECT for MQTT 3.1 (`MQIsdp`, level 3) without will, username or password.
pub fn connect_v31(client_id: &str, clean: bool, keepalive: u16) -> Vec<u8> {
    Connect::v31(client_id)
        .clean(clean)
        .keepalive(keepalive)
        .build()
}

/// SUBSCRIBE with several filters, each with its requested QoS.
pub fn subscribe_many(packet_id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let raw: Vec<(&[u8], u8)> = filters.iter().map(|(f, q)| (f.as_bytes(), *q)).collect();
    subscribe_raw(0x82, packet_id, &raw)
}

/// SUBSCRIBE with any first byte and filters given as raw bytes (for malformed packets).
pub fn subscribe_raw(first_byte: u8, packet_id: u16, filters: &[(&[u8], u8)]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    for (filter, options) in filters {
        string(&mut body, filter);
        body.push(*options);
    }
    packet(first_byte, &body)
}

/// SUBACK with one return code per filter.
pub fn suback_many(packet_id: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    body.extend_from_slice(codes);
    packet(0x90, &body)
}

/// UNSUBSCRIBE from several filters.
pub fn unsubscribe_many(packet_id: u16, filters: &[&str]) -> Vec<u8> {
    let raw: Vec<&[u8]> = filters.iter().map(|f| f.as_bytes()).collect();
    unsubscribe_raw(0xa2, packet_id, &raw)
}

/// UNSUBSCRIBE with any first byte and raw filters (for malformed packets).
pub fn unsubscribe_raw(first_byte: u8, packet_id: u16, filters: &[&[u8]]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    for filter in filters {
        string(&mut body, filter);
    }
    packet(first_byte, &body)
}

/// PUBLISH with a topic given as raw bytes (for invalid UTF-8 and the like), QoS 0.
pub fn publish_raw_topic(topic: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, topic);
    body.extend_from_slice(payload);
    packet(0x30, &body)
}

// --- MQTT 5 ---

/// MQTT 5 properties, written in the order the calls are made (which is the order on the
/// wire), without their length: what `Connect::properties` and the `*5` builders take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Props(pub Vec<u8>);

impl Props {
    pub fn new() -> Props {
        Props(Vec::new())
    }

    fn byte(mut self, id: u8, value: u8) -> Props {
        self.0.extend_from_slice(&[id, value]);
        self
    }

    fn two(mut self, id: u8, value: u16) -> Props {
        self.0.push(id);
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }

    fn four(mut self, id: u8, value: u32) -> Props {
        self.0.push(id);
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }

    fn bytes_field(mut self, id: u8, value: &[u8]) -> Props {
        self.0.push(id);
        string(&mut self.0, value);
        self
    }

    /// 0x01, 0 = unspecified bytes, 1 = UTF-8.
    pub fn payload_format_indicator(self, value: u8) -> Props {
        self.byte(0x01, value)
    }

    /// 0x02, seconds.
    pub fn message_expiry_interval(self, seconds: u32) -> Props {
        self.four(0x02, seconds)
    }

    /// 0x03.
    pub fn content_type(self, value: &str) -> Props {
        self.bytes_field(0x03, value.as_bytes())
    }

    /// 0x08.
    pub fn response_topic(self, value: &str) -> Props {
        self.bytes_field(0x08, value.as_bytes())
    }

    /// 0x09.
    pub fn correlation_data(self, value: &[u8]) -> Props {
        self.bytes_field(0x09, value)
    }

    /// 0x0B, a variable byte integer.
    pub fn subscription_identifier(mut self, id: usize) -> Props {
        self.0.push(0x0b);
        varint(&mut self.0, id);
        self
    }

    /// 0x11, seconds.
    pub fn session_expiry_interval(self, seconds: u32) -> Props {
        self.four(0x11, seconds)
    }

    /// 0x12.
    pub fn assigned_client_identifier(self, value: &str) -> Props {
        self.bytes_field(0x12, value.as_bytes())
    }

    /// 0x13, seconds.
    pub fn server_keep_alive(self, seconds: u16) -> Props {
        self.two(0x13, seconds)
    }

    /// 0x15.
    pub fn authentication_method(self, value: &str) -> Props {
        self.bytes_field(0x15, value.as_bytes())
    }

    /// 0x16.
    pub fn authentication_data(self, value: &[u8]) -> Props {
        self.bytes_field(0x16, value)
    }

    /// 0x17.
    pub fn request_problem_information(self, value: u8) -> Props {
        self.byte(0x17, value)
    }

    /// 0x18, seconds.
    pub fn will_delay_interval(self, seconds: u32) -> Props {
        self.four(0x18, seconds)
    }

    /// 0x19.
    pub fn request_response_information(self, value: u8) -> Props {
        self.byte(0x19, value)
    }

    /// 0x1F.
    pub fn reason_string(self, value: &str) -> Props {
        self.bytes_field(0x1f, value.as_bytes())
    }

    /// 0x21.
    pub fn receive_maximum(self, value: u16) -> Props {
        self.two(0x21, value)
    }

    /// 0x22.
    pub fn topic_alias_maximum(self, value: u16) -> Props {
        self.two(0x22, value)
    }

    /// 0x23.
    pub fn topic_alias(self, value: u16) -> Props {
        self.two(0x23, value)
    }

    /// 0x24.
    pub fn maximum_qos(self, value: u8) -> Props {
        self.byte(0x24, value)
    }

    /// 0x25.
    pub fn retain_available(self, value: u8) -> Props {
        self.byte(0x25, value)
    }

    /// 0x26, a UTF-8 string pair.
    pub fn user_property(mut self, key: &str, value: &str) -> Props {
        self.0.push(0x26);
        string(&mut self.0, key.as_bytes());
        string(&mut self.0, value.as_bytes());
        self
    }

    /// 0x27, bytes.
    pub fn maximum_packet_size(self, value: u32) -> Props {
        self.four(0x27, value)
    }

    /// Any bytes, for properties the helpers above cannot express (duplicates, bad values).
    pub fn raw(mut self, bytes: &[u8]) -> Props {
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for Props {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Appends a property block: its length, then the properties.
pub fn properties(out: &mut Vec<u8>, props: &[u8]) {
    varint(out, props.len());
    out.extend_from_slice(props);
}

/// Subscription options (MQTT 5): OR them with the maximum QoS.
pub const NO_LOCAL: u8 = 0x04;
pub const RETAIN_AS_PUBLISHED: u8 = 0x08;
/// Retain handling 1: retained messages only when the subscription is new.
pub const RETAIN_HANDLING_IF_NEW: u8 = 0x10;
/// Retain handling 2: no retained messages at subscribe time.
pub const RETAIN_HANDLING_NEVER: u8 = 0x20;

/// CONNACK (MQTT 5) with the session present flag, a reason code and properties.
pub fn connack5(session_present: bool, reason: u8, props: &[u8]) -> Vec<u8> {
    let mut body = vec![u8::from(session_present), reason];
    properties(&mut body, props);
    packet(0x20, &body)
}

/// mosquitto 2.0's default MQTT 5 CONNACK: topic alias maximum 10, receive maximum 20.
pub fn connack5_ok(session_present: bool) -> Vec<u8> {
    connack5(
        session_present,
        0,
        &Props::new().topic_alias_maximum(10).receive_maximum(20),
    )
}

/// PUBLISH (MQTT 5), built field by field.
#[derive(Clone, Debug)]
pub struct Publish5 {
    pub topic: Vec<u8>,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: u16,
    pub properties: Vec<u8>,
}

impl Publish5 {
    /// QoS 0, no retain, no properties.
    pub fn new(topic: &str, payload: &[u8]) -> Publish5 {
        Publish5 {
            topic: topic.as_bytes().to_vec(),
            payload: payload.to_vec(),
            qos: 0,
            retain: false,
            dup: false,
            packet_id: 0,
            properties: Vec::new(),
        }
    }

    /// QoS and packet id (the id is only written for QoS 1 and 2).
    pub fn qos(mut self, qos: u8, packet_id: u16) -> Publish5 {
        self.qos = qos;
        self.packet_id = packet_id;
        self
    }

    pub fn retain(mut self) -> Publish5 {
        self.retain = true;
        self
    }

    pub fn dup(mut self) -> Publish5 {
        self.dup = true;
        self
    }

    pub fn properties(mut self, props: &[u8]) -> Publish5 {
        self.properties = props.to_vec();
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut body = Vec::new();
        string(&mut body, &self.topic);
        if self.qos > 0 {
            body.extend_from_slice(&self.packet_id.to_be_bytes());
        }
        properties(&mut body, &self.properties);
        body.extend_from_slice(&self.payload);
        let first = 0x30 | (u8::from(self.dup) << 3) | (self.qos << 1) | u8::from(self.retain);
        packet(first, &body)
    }
}

/// SUBSCRIBE (MQTT 5): properties, then each filter with its subscription options byte.
pub fn subscribe5(packet_id: u16, props: &[u8], filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    properties(&mut body, props);
    for (filter, options) in filters {
        string(&mut body, filter.as_bytes());
        body.push(*options);
    }
    packet(0x82, &body)
}

/// SUBACK (MQTT 5) with one reason code per filter.
pub fn suback5(packet_id: u16, props: &[u8], codes: &[u8]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    properties(&mut body, props);
    body.extend_from_slice(codes);
    packet(0x90, &body)
}

/// UNSUBSCRIBE (MQTT 5).
pub fn unsubscribe5(packet_id: u16, props: &[u8], filters: &[&str]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    properties(&mut body, props);
    for filter in filters {
        string(&mut body, filter.as_bytes());
    }
    packet(0xa2, &body)
}

/// UNSUBACK (MQTT 5) with one reason code per filter.
pub fn unsuback5(packet_id: u16, props: &[u8], codes: &[u8]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    properties(&mut body, props);
    body.extend_from_slice(codes);
    packet(0xb0, &body)
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP (MQTT 5) in its shortest form: the reason code is
/// left out when it is 0 and there are no properties, the property length when there are
/// no properties.
pub fn ack5(first_byte: u8, packet_id: u16, reason: u8, props: &[u8]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    if reason != 0 || !props.is_empty() {
        body.push(reason);
    }
    if !props.is_empty() {
        properties(&mut body, props);
    }
    packet(first_byte, &body)
}

pub fn puback5(packet_id: u16, reason: u8) -> Vec<u8> {
    ack5(0x40, packet_id, reason, &[])
}

pub fn pubrec5(packet_id: u16, reason: u8) -> Vec<u8> {
    ack5(0x50, packet_id, reason, &[])
}

pub fn pubrel5(packet_id: u16, reason: u8) -> Vec<u8> {
    ack5(0x62, packet_id, reason, &[])
}

pub fn pubcomp5(packet_id: u16, reason: u8) -> Vec<u8> {
    ack5(0x70, packet_id, reason, &[])
}

/// DISCONNECT (MQTT 5) in its shortest form: `e0 00` for reason 0 without properties,
/// `e0 01 RC` for any other reason without properties.
pub fn disconnect5(reason: u8, props: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if reason != 0 || !props.is_empty() {
        body.push(reason);
    }
    if !props.is_empty() {
        properties(&mut body, props);
    }
    packet(0xe0, &body)
}

/// AUTH (MQTT 5) in its shortest form, like `disconnect5`.
pub fn auth(reason: u8, props: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if reason != 0 || !props.is_empty() {
        body.push(reason);
    }
    if !props.is_empty() {
        properties(&mut body, props);
    }
    packet(0xf0, &body)
}
