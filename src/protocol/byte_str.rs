//! `ByteStr`: an MQTT UTF-8 string that is a slice of the packet it arrived in.
//!
//! Topics and client ids are checked once, when decoded, and then shared by reference count:
//! routing a PUBLISH to a thousand subscribers never copies or re-validates its topic.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

use super::DecodeError;

/// Well-formed UTF-8 without U+0000, backed by `Bytes`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// Checks `bytes` against MQTT's rules for UTF-8 strings [MQTT-1.5.4-1, MQTT-1.5.4-2],
    /// and, as mosquitto does, refuses the control characters and non-characters that the
    /// spec says a receiver may treat as malformed [MQTT-1.5.4-3]: a topic with an invisible
    /// control character in it is far more likely an attack or a bug than a wish.
    pub fn from_utf8(bytes: Bytes) -> Result<ByteStr, DecodeError> {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| DecodeError::Malformed("string is not valid UTF-8"))?;
        let allowed = if text.is_ascii() {
            text.bytes().all(|b| b >= 0x20 && b != 0x7f)
        } else {
            text.chars().all(allowed_char)
        };
        if !allowed {
            return Err(DecodeError::Malformed(
                "string contains a control character or non-character",
            ));
        }
        Ok(ByteStr(bytes))
    }

    pub const fn from_static(s: &'static str) -> ByteStr {
        ByteStr(Bytes::from_static(s.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks or inherits UTF-8 validity.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

/// Not a control character (U+0000..U+001F, U+007F..U+009F) nor a non-character.
fn allowed_char(c: char) -> bool {
    let cp = u32::from(c);
    !(cp <= 0x1f
        || (0x7f..=0x9f).contains(&cp)
        || (0xfdd0..=0xfdef).contains(&cp)
        || cp & 0xfffe == 0xfffe)
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for ByteStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

// Hash as `str` so that maps keyed by `ByteStr` can be queried with `&str`.
impl Hash for ByteStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> ByteStr {
        ByteStr(Bytes::from(s))
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> ByteStr {
        ByteStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
