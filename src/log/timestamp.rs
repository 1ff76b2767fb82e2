//! The time at the start of each log line: Unix seconds, or `log_timestamp_format` through
//! the C library's `strftime` in local time, exactly as mosquitto formats it.

use crate::localtime::Now;

/// mosquitto formats a whole line into 1000 bytes; the time gets no more.
const MAX_LEN: usize = 1000;

/// How lines are stamped. The last stamp is cached: a busy broker logs many lines a
/// second, and they all share one `strftime`.
#[derive(Debug, Default)]
pub(super) struct Stamp {
    format: Option<String>,
    cached: Option<(u64, String)>,
}

impl Stamp {
    /// `None` stamps Unix seconds.
    pub(super) fn new(format: Option<&str>) -> Stamp {
        Stamp {
            format: format.map(str::to_string),
            cached: None,
        }
    }

    /// The stamp for `secs` since the epoch, without the `": "` that follows it.
    pub(super) fn at(&mut self, secs: u64) -> &str {
        let cached = self.cached.take().filter(|(s, _)| *s == secs);
        let (_, stamp) = self.cached.insert(cached.unwrap_or_else(|| {
            let stamp = match &self.format {
                None => secs.to_string(),
                Some(format) => strftime(format, secs),
            };
            (secs, stamp)
        }));
        stamp
    }
}

/// `strftime(format, localtime(secs))`; "Time error" when the result is empty or does not
/// fit, as mosquitto writes.
fn strftime(format: &str, secs: u64) -> String {
    let stamp = i64::try_from(secs)
        .ok()
        .and_then(|secs| Now::local(secs, 0))
        .map(|now| now.strftime_in(format.as_bytes(), MAX_LEN))
        .unwrap_or_default();
    match stamp.is_empty() {
        true => "Time error".to_string(),
        false => String::from_utf8_lossy(&stamp).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_format_the_stamp_is_unix_seconds() {
        let mut stamp = Stamp::new(None);
        assert_eq!(stamp.at(1_700_000_000), "1700000000");
        assert_eq!(stamp.at(1_700_000_001), "1700000001");
    }

    #[test]
    fn a_format_goes_through_strftime_in_local_time() {
        let mut stamp = Stamp::new(Some("%Y|%%|%s"));
        // 2023 in every time zone: 2023-11-14T22:13:20Z.
        assert_eq!(stamp.at(1_700_000_000), "2023|%|1700000000");
    }

    #[test]
    fn an_empty_result_is_mosquittos_time_error() {
        assert_eq!(Stamp::new(Some("")).at(5), "Time error");
    }
}
