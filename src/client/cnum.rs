//! Numbers read the way mosquitto's clients read them, with C's `atoi`, `atol` and
//! `strtol`: "abc" is 0 for the first two, "7x" is 7, and out-of-range values saturate.

/// C's `strtol(s, &end, 0)` when it must read all of `s`: None if anything is left over.
/// Saturates at the `long` limits as glibc does.
pub fn strtol_base0(s: &str) -> Option<i64> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(hex) = s.strip_prefix("0x").or(s.strip_prefix("0X")) {
        // "0x" with no hex digit after it reads as 0 and leaves the "x" over.
        (16, hex)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = digits.chars().fold(0i128, |n, c| {
        (n * i128::from(radix) + i128::from(c.to_digit(radix).unwrap_or(0))).min(1 << 64)
    });
    let value = if negative { -magnitude } else { magnitude };
    Some(i64::try_from(value).unwrap_or(if negative { i64::MIN } else { i64::MAX }))
}

/// C's `atoi` (glibc: `(int)strtol(s, NULL, 10)`), which mosquitto uses for every number.
pub fn atoi(s: &str) -> i32 {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    // The truncation is C's, from long to int.
    (if negative { -magnitude } else { magnitude }) as i32
}

/// glibc's `atol`: leading blanks, a sign, digits; saturates at the `long` limits.
pub fn atol(s: &[u8]) -> i64 {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .unwrap_or(s.len());
    let s = &s[start..];
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i128, |n, d| (n * 10 + i128::from(d - b'0')).min(1 << 64));
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).unwrap_or(if negative { i64::MIN } else { i64::MAX })
}
