//! Messages meant for a client that it never got: counted per reason for the whole broker
//! (`Broker::drops`, where `$SYS` and Prometheus will read them) and per session, and logged
//! at most once per client per `DROP_LOG_INTERVAL` with the count since the line before.

use std::fmt;

use super::Broker;
use crate::log_notice;
use crate::session::SessionKey;

/// Why a message was not delivered to a client that should have had it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Its queue already held `max_queued_messages`.
    QueueFull,
    /// Its queue already held `max_queued_bytes`.
    QueueBytes,
    /// Its message expiry interval ran out while it waited in the queue.
    Expired,
    /// The client may not read its topic (at delivery, or in a resumed session's queue).
    AclDenied,
    /// Larger than the client's maximum packet size [MQTT-3.1.2-25].
    Oversize,
    /// QoS 0 while the bytes waiting to be written to the client were over their bound.
    SendQueueFull,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::QueueFull => "queue full",
            DropReason::QueueBytes => "queue over max_queued_bytes",
            DropReason::Expired => "expired",
            DropReason::AclDenied => "ACL denied",
            DropReason::Oversize => "larger than the client's maximum packet size",
            DropReason::SendQueueFull => "send queue full",
        })
    }
}

/// Messages dropped since the broker started, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    pub queue_full: u64,
    pub queue_bytes: u64,
    pub expired: u64,
    pub acl_denied: u64,
    pub oversize: u64,
    pub send_queue_full: u64,
}

impl Drops {
    fn add(&mut self, reason: DropReason, n: u64) {
        let counter = match reason {
            DropReason::QueueFull => &mut self.queue_full,
            DropReason::QueueBytes => &mut self.queue_bytes,
            DropReason::Expired => &mut self.expired,
            DropReason::AclDenied => &mut self.acl_denied,
            DropReason::Oversize => &mut self.oversize,
            DropReason::SendQueueFull => &mut self.send_queue_full,
        };
        *counter += n;
    }

    pub fn total(&self) -> u64 {
        self.queue_full
            + self.queue_bytes
            + self.expired
            + self.acl_denied
            + self.oversize
            + self.send_queue_full
    }
}

/// PUBLISH packets refused on the way in since the broker started, by reason: acknowledged
/// (as mosquitto does, so that the client does not send them again) and then dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// The client may not write the topic (ACL, `$SYS`, `$share`): 0x87.
    pub not_authorized: u64,
    /// Over `message_size_limit`: 0x95.
    pub too_large: u64,
    /// The broker is over its `memory_limit`: 0x97.
    pub memory_limit: u64,
    /// The topic under the listener's mount point is too long: 0x90.
    pub topic_invalid: u64,
}

impl Refusals {
    /// Counts one refusal with the reason code the client was sent.
    pub(super) fn add(&mut self, code: u8) {
        use crate::protocol::reason;
        let counter = match code {
            reason::NOT_AUTHORIZED => &mut self.not_authorized,
            reason::PACKET_TOO_LARGE => &mut self.too_large,
            reason::QUOTA_EXCEEDED => &mut self.memory_limit,
            _ => &mut self.topic_invalid,
        };
        *counter += 1;
    }

    pub fn total(&self) -> u64 {
        self.not_authorized + self.too_large + self.memory_limit + self.topic_invalid
    }
}

impl Broker {
    /// Messages dropped since start, by reason.
    pub fn drops(&self) -> Drops {
        self.drops
    }

    /// PUBLISH packets refused since start, by reason.
    pub fn refusals(&self) -> Refusals {
        self.refusals
    }

    /// Counts `n` messages dropped for `key`'s client and logs it when a line is due: the
    /// first time in mosquitto's words, then at most once per interval with the count since
    /// the last line. ACL drops are only counted: they are the rules at work, not an
    /// overload, and mosquitto logs nothing for them either.
    #[inline]
    pub(super) fn count_dropped(&mut self, key: SessionKey, reason: DropReason, n: u64) {
        // Loops count what they dropped, most often nothing: no call for that.
        if n > 0 {
            self.count_some_dropped(key, reason, n);
        }
    }

    fn count_some_dropped(&mut self, key: SessionKey, reason: DropReason, n: u64) {
        self.drops.add(reason, n);
        if reason == DropReason::AclDenied {
            return;
        }
        let session = &mut self.sessions[key];
        let dropped = session.dropped.get_or_insert_with(Box::default);
        let first = dropped.total() == 0;
        let Some(count) = dropped.count(n, self.now) else {
            return;
        };
        let id = &session.client_id;
        if first {
            log_notice!("Outgoing messages are being dropped for client {id}.");
        } else {
            log_notice!(
                "Outgoing messages are being dropped for client {id}: {count} since the last report, the latest {reason}."
            );
        }
    }
}
