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
