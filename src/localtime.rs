//! Local time through the C library's `localtime_r` and `strftime`, so that a format gives
//! exactly what mosquitto's tools and broker give, in the same locale and time zone.

use std::ffi::CString;
use std::sync::Once;

unsafe extern "C" {
    /// POSIX; the libc crate does not declare it.
    fn tzset();
}

/// One reading of the wall clock, broken down in local time.
pub struct Now {
    tm: libc::tm,
    /// Seconds since the epoch.
    pub secs: i64,
    /// Nanoseconds into the current second.
    pub nanos: i64,
}

impl Now {
    /// The current time; None if the C library cannot say (mosquitto then prints
    /// "Error obtaining system time.").
    pub fn get() -> Option<Now> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 {
            return None;
        }
        Now::local(ts.tv_sec, ts.tv_nsec)
    }

    /// `secs` in the local time zone.
    pub fn local(secs: i64, nanos: i64) -> Option<Now> {
        static TZSET: Once = Once::new();
        // SAFETY: tzset only reads the environment; localtime_r (unlike localtime) need not
        // read TZ itself, so it is done once up front.
        TZSET.call_once(|| unsafe { tzset() });
        Now::broken_down(secs, nanos, libc::localtime_r)
    }

    /// `secs` in UTC, for tests that must not depend on the machine's time zone.
    #[cfg(test)]
    pub fn utc(secs: i64, nanos: i64) -> Option<Now> {
        Now::broken_down(secs, nanos, libc::gmtime_r)
    }

    fn broken_down(
        secs: i64,
        nanos: i64,
        convert: unsafe extern "C" fn(*const libc::time_t, *mut libc::tm) -> *mut libc::tm,
    ) -> Option<Now> {
        let t: libc::time_t = secs;
        // SAFETY: an all-zero tm is valid (null zone name included); `convert` fills it in.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the call.
        if unsafe { convert(&t, &mut tm) }.is_null() {
            return None;
        }
        Some(Now { tm, secs, nanos })
    }

    /// `strftime` into mosquitto_sub's 100-byte buffer: empty when the result does not fit
    /// (or is empty), as there.
    pub fn strftime(&self, format: &[u8]) -> Vec<u8> {
        self.strftime_in(format, 100)
    }

    /// `strftime` into a buffer of `max` bytes: empty when the result does not fit (or is
    /// empty), or when the format holds a NUL byte.
    pub fn strftime_in(&self, format: &[u8], max: usize) -> Vec<u8> {
        let Ok(format) = CString::new(format) else {
            return Vec::new();
        };
        let mut buf = vec![0u8; max];
        // SAFETY: `buf` is writable for its length, `format` is NUL-terminated and `tm` was
        // filled in by the C library.
        let n = unsafe {
            libc::strftime(
                buf.as_mut_ptr().cast(),
                buf.len(),
                format.as_ptr(),
                &self.tm,
            )
        };
        buf[..n.min(buf.len())].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_comes_from_the_c_library() {
        let t = Now::utc(1_600_000_000, 5).unwrap();
        assert_eq!(t.strftime(b"%FT%T%z"), b"2020-09-13T12:26:40+0000");
        assert_eq!(t.strftime(b""), b"");
        assert_eq!(
            t.strftime(&[b'x'; 120]),
            b"",
            "too long for mosquitto's buffer"
        );
        assert_eq!(t.strftime_in(&[b'x'; 120], 1000).len(), 120);
    }
}
