//! How a received message is printed: mosquitto_sub's payload-only and `-v` output, and its
//! `-F FORMAT` output (client/sub_client_output.c of 2.0.11), byte for byte, quirks included:
//! `%10x` prints five bytes of hex padded to ten, `%-p` without a width pads with as many
//! blanks as the payload is long, `%E` prints intervals above 2^31 as negative numbers.

use super::clock::Now;
use super::json::{self, Json};
use crate::protocol::{Properties, Publish};

/// What decides the output for each message (shared by midge_sub and midge_rr).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// `-F`: checked by [`check`].
    pub format: Option<String>,
    pub verbose: bool,
    /// No `-N`.
    pub eol: bool,
    /// `--pretty`: indented JSON for `%j` and `%J`.
    pub pretty: bool,
}

/// A message rendered: what goes to stdout, and error lines for stderr.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Printed {
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// `property_order`: the message's property identifiers in wire order (for `%j`).
    pub fn print(&self, message: &Publish, property_order: &[u8]) -> Printed {
        let now = self.format.as_ref().and_then(|_| Now::get());
        self.print_at(message, property_order, now)
    }

    /// [`Output::print`] with the time `%I`, `%j`, `@...` show.
    pub(crate) fn print_at(
        &self,
        message: &Publish,
        property_order: &[u8],
        now: Option<Now>,
    ) -> Printed {
        match &self.format {
            Some(format) => {
                let mut printed = Printed::default();
                let Some(now) = now else {
                    printed.stderr = "Error obtaining system time.\n".into();
                    return printed;
                };
                let m = Message {
                    publish: message,
                    order: property_order,
                    now: &now,
                };
                m.formatted(format.as_bytes(), self.pretty, &mut printed);
                if self.eol {
                    printed.stdout.push(b'\n');
                }
                printed
            }
            None => Printed {
                stdout: format_message(&message.topic, &message.payload, self.verbose, self.eol),
                stderr: String::new(),
            },
        }
    }
}

/// How mosquitto_sub prints a message without `-F`: the payload, or "topic payload" with -v;
/// an empty payload prints nothing, or "topic (null)" with -v. Payloads are written as is.
pub fn format_message(topic: &str, payload: &[u8], verbose: bool, eol: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(topic.len() + payload.len() + 8);
    if verbose {
        if payload.is_empty() {
            if eol {
                out.extend_from_slice(format!("{topic} (null)\n").as_bytes());
            }
            return out;
        }
        out.extend_from_slice(topic.as_bytes());
        out.push(b' ');
    }
    if !payload.is_empty() {
        out.extend_from_slice(payload);
        if eol {
            out.push(b'\n');
        }
    }
    out
}

/// mosquitto's check_format, run when `-F` is read: the error line, if any.
pub fn check(format: &str) -> Result<(), String> {
    let s = format.as_bytes();
    let incomplete = || Err("Error: Incomplete format specifier.\n".to_string());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                if i + 1 == s.len() {
                    return incomplete();
                }
                if matches!(s[i + 1], b'0' | b'-') {
                    i += 1;
                    if i + 1 == s.len() {
                        return incomplete();
                    }
                }
                while s.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                    if i + 1 == s.len() {
                        return incomplete();
                    }
                }
                if s.get(i + 1) == Some(&b'.') {
                    i += 1;
                    if i + 1 == s.len() {
                        return incomplete();
                    }
                    while s.get(i + 1).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                        if i + 1 == s.len() {
                            return incomplete();
                        }
                    }
                }
                let spec = s.get(i + 1).copied().unwrap_or(0);
                if !b"%ACDEFIlmPpqRSrtjJUxX".contains(&spec) {
                    let spec = char_at(format, i + 1);
                    return Err(format!("Error: Invalid format specifier '{spec}'.\n"));
                }
                i += 1;
            }
            b'@' => {
                if i + 1 == s.len() {
                    return incomplete();
                }
                i += 1;
            }
            b'\\' => {
                if i + 1 == s.len() {
                    return Err("Error: Incomplete escape specifier.\n".into());
                }
                if !b"\\0aenrtv".contains(&s[i + 1]) {
                    let spec = char_at(format, i + 1);
                    return Err(format!("Error: Invalid escape specifier '{spec}'.\n"));
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The byte at `at` as C's `%c` prints it (the first byte of a multi-byte character).
fn char_at(s: &str, at: usize) -> String {
    let byte = s.as_bytes().get(at).copied().unwrap_or(0);
    String::from_utf8_lossy(&[byte]).into_owned()
}

/// Flags, width and precision of one `%` field.
#[derive(Clone, Copy)]
struct Field {
    left: bool,
    pad: u8,
    width: usize,
    precision: Option<usize>,
}

/// C's `printf` widths are ints; a silly one is cut down rather than allocated.
const MAX_WIDTH: usize = 1 << 20;

struct Message<'a> {
    publish: &'a Publish,
    order: &'a [u8],
    now: &'a Now,
}

impl Message<'_> {
    fn formatted(&self, f: &[u8], pretty: bool, printed: &mut Printed) {
        let out = &mut printed.stdout;
        let len = f.len();
        let mut i = 0;
        while i < len {
            match f[i] {
                b'%' if i + 1 < len => {
                    i += 1;
                    let mut field = Field {
                        left: false,
                        pad: b' ',
                        width: 0,
                        precision: None,
                    };
                    if f[i] == b'-' {
                        field.left = true;
                        i = (i + 1).min(len - 1);
                    }
                    if f[i] == b'0' {
                        field.pad = b'0';
                        i = (i + 1).min(len - 1);
                    }
                    while i + 1 < len && f[i].is_ascii_digit() {
                        field.width = (field.width * 10 + usize::from(f[i] - b'0')).min(MAX_WIDTH);
                        i += 1;
                    }
                    if f[i] == b'.' && i + 1 < len {
                        i += 1;
                        let mut precision = 0usize;
                        while i + 1 < len && f[i].is_ascii_digit() {
                            precision = (precision * 10 + usize::from(f[i] - b'0')).min(MAX_WIDTH);
                            i += 1;
                        }
                        field.precision = Some(precision);
                    }
                    self.percent(f[i], field, pretty, out, &mut printed.stderr);
                }
                b'@' if i + 1 < len => {
                    i += 1;
                    match f[i] {
                        b'@' => out.push(b'@'),
                        b'N' => out.extend_from_slice(format!("{:09}", self.now.nanos).as_bytes()),
                        c => out.extend_from_slice(&self.now.strftime(&[b'%', c])),
                    }
                }
                b'\\' if i + 1 < len => {
                    i += 1;
                    let escaped = match f[i] {
                        b'\\' => Some(b'\\'),
                        b'0' => Some(0),
                        b'a' => Some(0x07),
                        b'e' => Some(0x1b),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'v' => Some(0x0b),
                        _ => None,
                    };
                    out.extend(escaped);
                }
                b'%' | b'@' | b'\\' => {}
                c => out.push(c),
            }
            i += 1;
        }
    }

    fn percent(&self, spec: u8, field: Field, pretty: bool, out: &mut Vec<u8>, err: &mut String) {
        let m = self.publish;
        let p = m.props();
        match spec {
            b'%' => out.push(b'%'),
            b'A' => int_or_blank(p.topic_alias.map(i64::from), field, out),
            b'C' => match &p.content_type {
                Some(s) => text(s.as_bytes(), field, out),
                None => blank(b' ', field.width, out),
            },
            b'D' => out.extend(p.correlation_data.iter().flatten()),
            // Printed through a C int: values above 2^31 come out negative.
            b'E' => int_or_blank(
                p.message_expiry_interval.map(|v| i64::from(v as i32)),
                field,
                out,
            ),
            b'F' => int_or_blank(p.payload_format_indicator.map(i64::from), field, out),
            b'I' => match self.now.strftime(b"%FT%T%z") {
                s if s.is_empty() => blank(b' ', field.width, out),
                s => text(&s, field, out),
            },
            b'j' | b'J' => match self.json(spec == b'j') {
                Some(value) => value.print(pretty, out),
                None => err.push_str(&format!(
                    "Error: Message payload is not valid JSON on topic {}.\n",
                    m.topic
                )),
            },
            b'l' => int(m.payload.len() as i64, field, out),
            b'm' => int(i64::from(m.packet_id), field, out),
            b'P' => {
                let pairs: Vec<String> = p
                    .user_properties
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect();
                out.extend_from_slice(pairs.join(" ").as_bytes());
            }
            b'p' => payload(&m.payload, Hex::No, field, out),
            b'q' => out.push(b'0' + m.qos as u8),
            b'R' => {
                if let Some(s) = &p.response_topic {
                    text(s.as_bytes(), field, out);
                }
            }
            b'r' => out.push(if m.retain { b'1' } else { b'0' }),
            b'S' => {
                let id = p.subscription_identifiers.first();
                int_or_blank(id.map(|&v| i64::from(v as i32)), field, out)
            }
            b't' => text(m.topic.as_bytes(), field, out),
            b'U' => {
                out.extend_from_slice(format!("{}.{:09}", self.now.secs, self.now.nanos).as_bytes())
            }
            b'x' => payload(&m.payload, Hex::Lower, field, out),
            b'X' => payload(&m.payload, Hex::Upper, field, out),
            _ => {}
        }
    }

    /// The `%j` (`escaped`) or `%J` object; None when `%J`'s payload is not JSON.
    fn json(&self, escaped: bool) -> Option<Json> {
        let m = self.publish;
        let mut tst = self.now.strftime(b"%Y-%m-%dT%H:%M:%S.000000Z%z");
        // mosquitto writes the microseconds over the zeros.
        if tst.len() >= 26 {
            let micros = format!("{:06}", self.now.nanos / 1000);
            tst[20..26].copy_from_slice(&micros.as_bytes()[..6]);
        }
        let mut root = vec![
            (b"tst".to_vec(), Json::Str(tst)),
            (b"topic".to_vec(), Json::str(m.topic.as_bytes())),
            (b"qos".to_vec(), Json::num(m.qos as u8)),
            (b"retain".to_vec(), Json::num(u8::from(m.retain))),
            (b"payloadlen".to_vec(), Json::num(m.payload.len() as f64)),
        ];
        if m.qos as u8 > 0 {
            root.push((b"mid".to_vec(), Json::num(m.packet_id)));
        }
        if let Some(props) = m.properties.as_deref().filter(|p| !p.is_empty()) {
            root.push((b"properties".to_vec(), properties_json(props, self.order)));
        }
        let payload = match (m.payload.is_empty(), escaped) {
            (true, _) => Json::Null,
            (false, true) => Json::str(&m.payload),
            (false, false) => json::parse(&m.payload)?,
        };
        root.push((b"payload".to_vec(), payload));
        Some(Json::Object(root))
    }
}

/// The "properties" object of `%j`, in wire order, as json_print_properties builds it.
fn properties_json(p: &Properties, order: &[u8]) -> Json {
    let fallback;
    let order = if order.is_empty() {
        fallback = codec_order(p);
        &fallback
    } else {
        order
    };
    let mut members: Vec<(Vec<u8>, Json)> = Vec::new();
    let mut users: Option<usize> = None;
    let (mut nth_user, mut nth_sub) = (0, 0);
    // mosquitto reads the topic alias with the wrong identifier and prints whatever its
    // 16-bit scratch variable last held: 0, or the length of the correlation data.
    let mut scratch16 = 0usize;
    for &id in order {
        let (name, value): (&[u8], Json) = match id {
            0x01 => (
                b"payload-format-indicator",
                opt_num(p.payload_format_indicator),
            ),
            0x02 => (
                b"message-expiry-interval",
                opt_num(p.message_expiry_interval),
            ),
            0x03 => (b"content-type", opt_str(&p.content_type)),
            0x08 => (b"response-topic", opt_str(&p.response_topic)),
            0x09 => {
                let data = p.correlation_data.as_deref().unwrap_or_default();
                scratch16 = data.len();
                (b"correlation-data", Json::str(data))
            }
            0x0b => {
                let id = p.subscription_identifiers.get(nth_sub).copied();
                nth_sub += 1;
                (b"subscription-identifier", opt_num(id))
            }
            0x23 => (b"topic-alias", Json::num(scratch16 as f64)),
            0x26 => {
                let Some((k, v)) = p.user_properties.get(nth_user) else {
                    continue;
                };
                nth_user += 1;
                let at = *users.get_or_insert_with(|| {
                    members.push((b"user-properties".to_vec(), Json::Object(Vec::new())));
                    members.len() - 1
                });
                if let Json::Object(pairs) = &mut members[at].1 {
                    pairs.push((k.as_bytes().to_vec(), Json::str(v.as_bytes())));
                }
                continue;
            }
            _ => continue,
        };
        members.push((name.to_vec(), value));
    }
    Json::Object(members)
}

/// The order our codec writes a PUBLISH's properties in, for messages whose wire order is
/// not known.
fn codec_order(p: &Properties) -> Vec<u8> {
    let mut order = Vec::new();
    let mut add = |present: bool, id: u8| {
        if present {
            order.push(id);
        }
    };
    add(p.payload_format_indicator.is_some(), 0x01);
    add(p.message_expiry_interval.is_some(), 0x02);
    add(p.content_type.is_some(), 0x03);
    add(p.response_topic.is_some(), 0x08);
    add(p.correlation_data.is_some(), 0x09);
    order.extend(p.subscription_identifiers.iter().map(|_| 0x0b));
    if p.topic_alias.is_some() {
        order.push(0x23);
    }
    order.extend(p.user_properties.iter().map(|_| 0x26));
    order
}

fn opt_num<T: Into<f64>>(v: Option<T>) -> Json {
    v.map_or(Json::num(0), Json::num)
}

fn opt_str(s: &Option<crate::protocol::ByteStr>) -> Json {
    Json::str(s.as_deref().unwrap_or_default().as_bytes())
}

fn blank(pad: u8, width: usize, out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(pad, width));
}

/// formatted_print_int: `%d`, `%-*d`, `%0*d` or `%*d`.
fn int(value: i64, f: Field, out: &mut Vec<u8>) {
    let w = f.width;
    let text = match (w, f.left, f.pad) {
        (0, _, _) => value.to_string(),
        (_, true, _) => format!("{value:<w$}"),
        (_, false, b'0') => format!("{value:0w$}"),
        _ => format!("{value:>w$}"),
    };
    out.extend_from_slice(text.as_bytes());
}

fn int_or_blank(value: Option<i64>, f: Field, out: &mut Vec<u8>) {
    match value {
        Some(v) => int(v, f, out),
        None => blank(f.pad, f.width, out),
    }
}

/// formatted_print_str: `%-*.*s` and friends, counting bytes as C does.
fn text(s: &[u8], f: Field, out: &mut Vec<u8>) {
    let s = &s[..f.precision.map_or(s.len(), |p| p.min(s.len()))];
    let pad = f.width.saturating_sub(s.len());
    if !f.left {
        blank(b' ', pad, out);
    }
    out.extend_from_slice(s);
    if f.left {
        blank(b' ', pad, out);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hex {
    No,
    Lower,
    Upper,
}

/// write_payload, faithfully: a width cuts the payload to that many bytes (half as many in
/// hex), and left alignment pads by the magnitude of `width - length` even with no width.
fn payload(payload: &[u8], hex: Hex, f: Field, out: &mut Vec<u8>) {
    let width = f.width as i64;
    let mut len = payload.len() as i64;
    let padlen = if width > 0 {
        len = len.min(width);
        if hex == Hex::No {
            width - len
        } else {
            len /= 2;
            width - len * 2
        }
    } else {
        width - len
    };
    if !f.left {
        blank(f.pad, usize::try_from(padlen).unwrap_or(0), out);
    }
    let shown = &payload[..usize::try_from(len).unwrap_or(0)];
    match hex {
        Hex::No => out.extend_from_slice(shown),
        Hex::Lower => shown
            .iter()
            .for_each(|b| out.extend_from_slice(format!("{b:02x}").as_bytes())),
        Hex::Upper => shown
            .iter()
            .for_each(|b| out.extend_from_slice(format!("{b:02X}").as_bytes())),
    }
    if f.left {
        blank(b' ', padlen.unsigned_abs() as usize, out);
    }
}
