//! `log_dest topic`: log lines on `$SYS/broker/log/<level>`, as mosquitto publishes them.
//!
//! The logger cannot publish by itself (it is called from deep inside the broker, which is
//! busy with the packet that caused the line), so lines wait in a bounded queue that the
//! event loop hands to `Broker::publish_log_lines` once per turn. Lines logged while those
//! are being published (about their delivery, say) are not queued, so the log can never
//! feed itself; and beyond [`QUEUE_MAX`] lines per turn the rest are dropped and counted.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

use super::LogTypes;

/// Lines waiting to be published; a storm of log lines beyond this within one loop turn
/// loses the newest ones.
pub const QUEUE_MAX: usize = 1000;

/// mosquitto formats a line into 1000 bytes: a published line is at most 999.
const LINE_MAX: usize = 999;

/// True while something waits in the queue, so the loop need not lock to find out.
static PENDING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// True while this thread (the broker's) publishes queued lines: what it logs meanwhile
    /// is not queued.
    static PUBLISHING: Cell<bool> = const { Cell::new(false) };
}

/// The queued lines and how many were dropped.
#[derive(Default)]
pub(super) struct Queue {
    lines: VecDeque<(&'static str, String)>,
    dropped: u64,
}

impl Queue {
    pub(super) fn push(&mut self, ty: LogTypes, line: &str) {
        let Some(topic) = topic(ty) else {
            return;
        };
        if PUBLISHING.get() {
            return;
        }
        if self.lines.len() >= QUEUE_MAX {
            self.dropped += 1;
            return;
        }
        let mut end = line.trim_end_matches('\n').len().min(LINE_MAX);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        self.lines.push_back((topic, line[..end].to_string()));
        PENDING.store(true, Ordering::Relaxed);
    }

    pub(super) fn take(&mut self) -> (Vec<(&'static str, String)>, u64) {
        PENDING.store(false, Ordering::Relaxed);
        let lines = self.lines.drain(..).collect();
        (lines, std::mem::take(&mut self.dropped))
    }
}

/// mosquitto's topic for each log type; debug lines are never published.
fn topic(ty: LogTypes) -> Option<&'static str> {
    Some(match ty {
        LogTypes::DEBUG => return None,
        LogTypes::ERROR => "$SYS/broker/log/E",
        LogTypes::WARNING => "$SYS/broker/log/W",
        LogTypes::NOTICE => "$SYS/broker/log/N",
        LogTypes::INFORMATION => "$SYS/broker/log/I",
        LogTypes::SUBSCRIBE => "$SYS/broker/log/M/subscribe",
        LogTypes::UNSUBSCRIBE => "$SYS/broker/log/M/unsubscribe",
        LogTypes::WEBSOCKETS => "$SYS/broker/log/WS",
        _ => "$SYS/broker/log/E",
    })
}

/// True when lines wait to be published.
#[inline]
pub fn pending() -> bool {
    PENDING.load(Ordering::Relaxed)
}

/// Marks the time the broker publishes queued lines; see the module comment.
pub struct Publishing(());

impl Publishing {
    pub fn start() -> Publishing {
        PUBLISHING.set(true);
        Publishing(())
    }
}

impl Drop for Publishing {
    fn drop(&mut self) {
        PUBLISHING.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_to_mosquittos_topics_and_debug_to_none() {
        let mut q = Queue::default();
        q.push(LogTypes::NOTICE, "1: a\n");
        q.push(LogTypes::DEBUG, "1: b\n");
        q.push(LogTypes::SUBSCRIBE, "1: c 0 t\n");
        let (lines, dropped) = q.take();
        let topics: Vec<_> = lines.iter().map(|(t, l)| format!("{t} {l}")).collect();
        assert_eq!(
            topics,
            [
                "$SYS/broker/log/N 1: a",
                "$SYS/broker/log/M/subscribe 1: c 0 t"
            ]
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn the_queue_is_bounded_and_lines_are_cut_at_999_bytes() {
        let mut q = Queue::default();
        for _ in 0..QUEUE_MAX + 5 {
            q.push(LogTypes::ERROR, &"é".repeat(600));
        }
        let (lines, dropped) = q.take();
        assert_eq!((lines.len(), dropped), (QUEUE_MAX, 5));
        assert_eq!(lines[0].1.len(), 998, "cut at a character boundary");
    }

    #[test]
    fn nothing_is_queued_while_queued_lines_are_published() {
        let mut q = Queue::default();
        {
            let _publishing = Publishing::start();
            q.push(LogTypes::ERROR, "about a delivery\n");
        }
        q.push(LogTypes::ERROR, "later\n");
        let (lines, _) = q.take();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].1, "later");
    }
}
