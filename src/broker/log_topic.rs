//! `log_dest topic`: the lines the logger queued go out on `$SYS/broker/log/<level>`, as
//! mosquitto sends them: QoS 2, not retained, expiring after 20 seconds, the whole line
//! (time included) as the payload.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::Broker;
use crate::log::topic::Publishing;
use crate::message::Message;
use crate::protocol::{ByteStr, QoS};

/// mosquitto's message expiry interval for log messages.
const EXPIRY: Duration = Duration::from_secs(20);

impl Broker {
    /// Publishes the log lines queued since the last turn. Lines logged meanwhile (about
    /// these deliveries) are not queued, so the log cannot feed itself.
    pub fn publish_log_lines(&mut self) {
        if !crate::log::topic::pending() {
            return;
        }
        let (lines, dropped) = crate::log::take_topic_lines();
        let _publishing = Publishing::start();
        for (topic, line) in lines {
            self.publish_message(Rc::new(log_message(topic, line, self.now)), None);
        }
        if dropped > 0 {
            let line = format!(
                "{dropped} log lines were not published: more than {} in one turn.",
                crate::log::topic::QUEUE_MAX
            );
            self.publish_message(
                Rc::new(log_message("$SYS/broker/log/W", line, self.now)),
                None,
            );
        }
    }
}

fn log_message(topic: &'static str, line: String, now: std::time::Instant) -> Message {
    Message {
        topic: ByteStr::from(topic),
        payload: Bytes::from(line),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: Bytes::new(),
        expires_at: now.checked_add(EXPIRY),
        utf8_payload: false,
        journaled: Default::default(),
    }
}
