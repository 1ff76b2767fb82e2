//! `-F %j` and `%J`: mosquitto_sub's JSON lines. Debian builds mosquitto 2.0.11 with cJSON
//! (1.7), so this parses and prints the way cJSON does: its number formatting, its string
//! escapes, its leniencies (`01`, raw control characters in strings), and its C strings,
//! which end at the first NUL byte.

use super::clock;

/// A JSON value, keys and strings as raw bytes (cJSON does not check UTF-8).
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    False,
    True,
    Number(f64),
    Str(Vec<u8>),
    Array(Vec<Json>),
    Object(Vec<(Vec<u8>, Json)>),
}

impl Json {
    pub fn str(bytes: &[u8]) -> Json {
        Json::Str(bytes.to_vec())
    }

    pub fn num(n: impl Into<f64>) -> Json {
        Json::Number(n.into())
    }

    /// cJSON_PrintUnformatted, or cJSON_Print when `pretty`.
    pub fn print(&self, pretty: bool, out: &mut Vec<u8>) {
        self.print_at(pretty, 0, out);
    }

    fn print_at(&self, pretty: bool, depth: usize, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::False => out.extend_from_slice(b"false"),
            Json::True => out.extend_from_slice(b"true"),
            Json::Number(n) => out.extend_from_slice(number(*n).as_bytes()),
            Json::Str(s) => string(s, out),
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    item.print_at(pretty, depth + 1, out);
                    if i + 1 < items.len() {
                        out.push(b',');
                        if pretty {
                            out.push(b' ');
                        }
                    }
                }
                out.push(b']');
            }
            Json::Object(members) => {
                let depth = depth + 1;
                out.push(b'{');
                if pretty {
                    out.push(b'\n');
                }
                for (i, (key, value)) in members.iter().enumerate() {
                    if pretty {
                        out.extend(std::iter::repeat_n(b'\t', depth));
                    }
                    string(key, out);
                    out.push(b':');
                    if pretty {
                        out.push(b'\t');
                    }
                    value.print_at(pretty, depth, out);
                    if i + 1 < members.len() {
                        out.push(b',');
                    }
                    if pretty {
                        out.push(b'\n');
                    }
                }
                if pretty {
                    out.extend(std::iter::repeat_n(b'\t', depth - 1));
                }
                out.push(b'}');
            }
        }
    }
}

/// cJSON's print_number: integers that fit an `int` as such, others with 15 significant
/// digits, or 17 when 15 do not read back as the same value.
fn number(n: f64) -> String {
    if !n.is_finite() {
        return "null".into();
    }
    let as_int = if n >= f64::from(i32::MAX) {
        i32::MAX
    } else if n <= f64::from(i32::MIN) {
        i32::MIN
    } else {
        n as i32
    };
    if n == f64::from(as_int) {
        return as_int.to_string();
    }
    let short = clock::format_g(n, 15);
    let same = short
        .parse::<f64>()
        .is_ok_and(|back| (back - n).abs() <= back.abs().max(n.abs()) * f64::EPSILON);
    if same { short } else { clock::format_g(n, 17) }
}

/// cJSON's print_string_ptr, on a C string: stops at NUL.
fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s.iter().take_while(|&&b| b != 0) {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// cJSON's nesting limit.
const NESTING_LIMIT: usize = 1000;

/// cJSON_ParseWithOpts(payload, &end, true) and the check that `end` is the payload's end:
/// the whole payload must be one JSON value (a NUL inside it ends cJSON's input early).
pub fn parse(payload: &[u8]) -> Option<Json> {
    let mut p = Parser { s: payload, at: 0 };
    if p.s.starts_with(b"\xef\xbb\xbf") {
        p.at = 3;
    }
    p.skip_whitespace();
    let value = p.value(0)?;
    p.skip_whitespace();
    (p.at == payload.len()).then_some(value)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied().filter(|&b| b != 0)
    }

    fn rest(&self) -> &[u8] {
        &self.s[self.at.min(self.s.len())..]
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b <= 32) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        for (word, value) in [
            (&b"null"[..], Json::Null),
            (b"false", Json::False),
            (b"true", Json::True),
        ] {
            if self.rest().starts_with(word) {
                self.at += word.len();
                return Some(value);
            }
        }
        match self.peek()? {
            b'"' => self.string().map(Json::Str),
            b'-' | b'0'..=b'9' => self.number(),
            b'[' => self.array(depth + 1),
            b'{' => self.object(depth + 1),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Json> {
        let run = self
            .rest()
            .iter()
            .take(63)
            .take_while(|b| matches!(b, b'0'..=b'9' | b'+' | b'-' | b'e' | b'E' | b'.'))
            .count();
        let (value, read) = clock::strtod(&self.rest()[..run]);
        if read == 0 {
            return None;
        }
        self.at += read;
        Some(Json::Number(value))
    }

    /// A string at `"`, with cJSON's escapes.
    fn string(&mut self) -> Option<Vec<u8>> {
        let s = self.rest();
        let mut end = 1;
        while *s.get(end).filter(|&&b| b != 0)? != b'"' {
            end += if s[end] == b'\\' { 2 } else { 1 };
        }
        let body = &s[1..end];
        let mut out = Vec::with_capacity(body.len());
        let mut i = 0;
        while i < body.len() {
            if body[i] != b'\\' {
                out.push(body[i]);
                i += 1;
                continue;
            }
            let escaped = *body.get(i + 1)?;
            match escaped {
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'"' | b'\\' | b'/' => out.push(escaped),
                b'u' => {
                    let (c, used) = utf16_escape(&body[i..])?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += used;
                    continue;
                }
                _ => return None,
            }
            i += 2;
        }
        self.at += end + 1;
        Some(out)
    }

    fn array(&mut self, depth: usize) -> Option<Json> {
        if depth > NESTING_LIMIT {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(Json::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.at += 1;
        Some(Json::Array(items))
    }

    fn object(&mut self, depth: usize) -> Option<Json> {
        if depth > NESTING_LIMIT {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            self.skip_whitespace();
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.at += 1;
        Some(Json::Object(members))
    }
}

/// A `\uXXXX` escape (two for a surrogate pair) at the start of `s`: the character and the
/// bytes it took. cJSON reads a bad hex digit as 0, which makes a NUL character.
fn utf16_escape(s: &[u8]) -> Option<(char, usize)> {
    let hex4 = |at: usize| -> Option<u32> {
        let digits = s.get(at..at + 4)?;
        Some(
            digits
                .iter()
                .try_fold(0u32, |n, &d| char::from(d).to_digit(16).map(|v| n * 16 + v))
                .unwrap_or(0),
        )
    };
    let first = hex4(2)?;
    if (0xdc00..=0xdfff).contains(&first) {
        return None;
    }
    if !(0xd800..=0xdbff).contains(&first) {
        return Some((char::from_u32(first)?, 6));
    }
    if s.get(6..8)? != b"\\u" {
        return None;
    }
    let second = hex4(8)?;
    if !(0xdc00..=0xdfff).contains(&second) {
        return None;
    }
    let code = 0x10000 + (((first & 0x3ff) << 10) | (second & 0x3ff));
    Some((char::from_u32(code)?, 12))
}
