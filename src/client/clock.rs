//! The time as mosquitto_sub prints it: local time through the C library's `localtime_r` and
//! `strftime`, so that `-F '@X'` and `%I` give exactly what mosquitto_sub gives, in the same
//! locale and time zone.

use std::ffi::CString;

pub use crate::localtime::Now;

/// C's `snprintf(buf, n, "%1.Ng", value)`, which cJSON prints numbers with.
pub fn format_g(value: f64, precision: i32) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the format takes one int and one double, as given; `buf` is writable for its
    // length and snprintf never writes past it.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%1.*g".as_ptr(),
            precision as libc::c_int,
            value,
        )
    };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// C's `strtod` on `text`: the value and how many bytes it read (0: none).
pub fn strtod(text: &[u8]) -> (f64, usize) {
    let Ok(c) = CString::new(text) else {
        return (0.0, 0);
    };
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `c` is NUL-terminated; strtod sets `end` to a position within it.
    let value = unsafe { libc::strtod(c.as_ptr(), &mut end) };
    // SAFETY: both pointers are into the same allocation, `end` not before its start.
    let read = unsafe { end.offset_from(c.as_ptr()) };
    (value, usize::try_from(read).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_from_the_c_library() {
        assert_eq!(format_g(0.1, 15), "0.1");
        assert_eq!(format_g(1e20, 15), "1e+20");
        assert_eq!(strtod(b"1.5e"), (1.5, 3));
        assert_eq!(strtod(b"-"), (0.0, 0));
    }
}
