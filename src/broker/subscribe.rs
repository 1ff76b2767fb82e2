//! SUBSCRIBE and UNSUBSCRIBE, ordinary and shared (`$share/GROUP/FILTER`).

use std::collections::HashMap;

use mio::Token;

use super::{Broker, Close};
use crate::protocol::{
    ByteStr, Packet, QoS, RetainHandling, SubAck, SubOptions, Subscribe, UnsubAck, Unsubscribe,
    Version, kind, reason,
};
use crate::router::{Subscriber, Target};
use crate::session::{SessionKey, Subscription};
use crate::shared::{self, Member};
use crate::{log_debug, log_notice, log_subscribe, log_unsubscribe};

/// 3.1.1's SUBACK return code for a refused filter.
const SUBACK_FAILURE: u8 = 0x80;

impl Broker {
    pub(super) fn handle_subscribe(
        &mut self,
        token: Token,
        key: SessionKey,
        subscribe: Subscribe,
    ) -> Result<(), Close> {
        log_debug!("Received SUBSCRIBE from {}", self.sessions[key].client_id);
        let id = subscribe
            .properties
            .subscription_identifiers
            .first()
            .copied()
            .unwrap_or(0);
        let max_qos = self.conns[token.0].rules.max_qos;
        let refused = self.refusal_code(token);
        // max_filters_per_subscribe: the filters beyond are refused unread.
        let handled = (self.config.max_filters_per_subscribe)
            .map_or(subscribe.filters.len(), |max| {
                max.min(subscribe.filters.len())
            });
        let filters = &subscribe.filters[..handled];
        let last = last_occurrences(filters);
        let mut return_codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained: Vec<ByteStr> = Vec::new();
        let mut over_quota = 0;
        for (index, (filter, options)) in filters.iter().enumerate() {
            let mut options = *options;
            options.qos = options.qos.min(max_qos);
            let shared = shared::parse(filter).map_err(|error| Close::Decode {
                packet_type: kind::SUBSCRIBE,
                error,
            })?;
            if shared.is_some() && options.no_local {
                // [MQTT-3.8.3-4]
                return Err(Close::Protocol("no local on a shared subscription"));
            }
            // A filter repeated in one SUBSCRIBE is subscribed once, with its last options,
            // as a re-subscribe would leave it; each copy still gets its code.
            let mut code = options.qos as u8;
            if last.get(filter.as_str()).is_none_or(|&i| i == index) {
                let subscription = Subscription { options, id };
                if !self.subscribe_one(token, key, filter, subscription, &mut retained) {
                    code = refused;
                    over_quota += 1;
                }
            }
            return_codes.push(code);
        }
        // A copy of a filter whose last copy was refused is refused too.
        for (index, (filter, _)) in filters.iter().enumerate() {
            if let Some(&i) = last.get(filter.as_str())
                && return_codes[i] == refused
            {
                return_codes[index] = refused;
            }
        }
        self.log_refused_filters(key, over_quota, subscribe.filters.len() - handled);
        return_codes.resize(subscribe.filters.len(), refused);
        log_debug!("Sending SUBACK to {}", self.sessions[key].client_id);
        let suback = SubAck {
            packet_id: subscribe.packet_id,
            return_codes,
            ..SubAck::default()
        };
        self.send_ack(token, &Packet::SubAck(suback));
        // After the SUBACK, as mosquitto does: the client knows the subscription exists
        // before its retained messages arrive. The first batch goes now, the rest as the
        // client reads (see `retained.rs`).
        if !retained.is_empty() {
            for filter in retained {
                self.queue_retained(key, filter);
            }
            self.run_cursor(key);
        }
        Ok(())
    }

    /// SUBACK's code for a refused filter: MQTT 5's quota exceeded, 3.1.1's failure.
    fn refusal_code(&self, token: Token) -> u8 {
        match self.conns[token.0].version {
            Version::V5 => reason::QUOTA_EXCEEDED,
            _ => SUBACK_FAILURE,
        }
    }

    /// One line per SUBSCRIBE, however many of its filters a bound refused.
    fn log_refused_filters(&self, key: SessionKey, over_quota: usize, over_packet: usize) {
        let client_id = &self.sessions[key].client_id;
        if let Some(max) = self.config.max_subscriptions_per_client
            && over_quota > 0
        {
            log_notice!(
                "Refused {over_quota} subscriptions of client {client_id}: max_subscriptions_per_client ({max}) reached."
            );
        }
        if let Some(max) = self.config.max_filters_per_subscribe
            && over_packet > 0
        {
            log_notice!(
                "Refused {over_packet} filters of a SUBSCRIBE from client {client_id}: max_filters_per_subscribe ({max}) exceeded."
            );
        }
    }

    /// Adds or replaces one subscription; its filter goes into `retained` if its retain
    /// handling asks for its retained messages. False if refused: a new subscription beyond
    /// `max_subscriptions_per_client`.
    fn subscribe_one(
        &mut self,
        token: Token,
        key: SessionKey,
        filter: &str,
        subscription: Subscription,
        retained: &mut Vec<ByteStr>,
    ) -> bool {
        let options = subscription.options;
        // A copy, as the broker holds it: the subscription outlives the SUBSCRIBE's read
        // buffer, and lives under the listener's mount point.
        let filter = self.conns[token.0].rules.mount_filter(filter);
        log_debug!("\t{filter} (QoS {})", options.qos as u8);
        let subscriptions = &self.sessions[key].subscriptions;
        if let Some(max) = self.config.max_subscriptions_per_client
            && subscriptions.len() >= max
            && subscriptions.get(&filter).is_none()
        {
            return false;
        }
        // No ACL check here: like mosquitto's acl_file, every filter is granted and each
        // message is checked when it is delivered, so a reloaded ACL can open it later.
        let is_new = self.add_subscription(key, filter.clone(), subscription);
        // Shared subscriptions never get retained messages [MQTT-4.8.2-6 note].
        let wanted = match options.retain_handling {
            RetainHandling::OnSubscribe => true,
            RetainHandling::OnNewSubscription => is_new,
            RetainHandling::Never => false,
        };
        if wanted && shared::split(&filter).is_none() {
            retained.push(filter.clone());
        }
        log_subscribe!(
            "{} {} {filter}",
            self.sessions[key].client_id,
            options.qos as u8
        );
        true
    }

    /// Adds or replaces one of a session's subscriptions, and what routes to it: its entry
    /// in the router or its membership of a shared group. Returns whether it is new.
    pub(super) fn add_subscription(
        &mut self,
        key: SessionKey,
        filter: ByteStr,
        subscription: Subscription,
    ) -> bool {
        let is_new = self.sessions[key]
            .subscriptions
            .insert(filter.clone(), subscription)
            .is_none();
        match shared::split(&filter) {
            Some((name, topic_filter)) => self.join_group(key, name, topic_filter, subscription),
            None => {
                let subscriber = Subscriber {
                    target: Target::Session(key),
                    options: subscription.options,
                    subscription_id: subscription.id,
                };
                self.router.subscribe(&filter, subscriber);
            }
        }
        self.record_subscription(key, &filter, Some(subscription));
        is_new
    }

    fn join_group(
        &mut self,
        key: SessionKey,
        name: &str,
        filter: &str,
        subscription: Subscription,
    ) {
        let member = Member {
            session: key,
            options: subscription.options,
            subscription_id: subscription.id,
        };
        let online = self.sessions[key].conn.is_some();
        let (group, is_new) = self.shared.join(name, filter, member, online);
        // `$share/g` without a filter is granted but matches nothing, as in mosquitto.
        if is_new && !filter.is_empty() {
            let subscriber = Subscriber {
                target: Target::Group(group),
                options: SubOptions::qos(QoS::ExactlyOnce),
                subscription_id: 0,
            };
            self.router.subscribe(&ByteStr::from(filter), subscriber);
        }
    }

    pub(super) fn handle_unsubscribe(
        &mut self,
        token: Token,
        key: SessionKey,
        unsubscribe: Unsubscribe,
    ) -> Result<(), Close> {
        log_debug!("Received UNSUBSCRIBE from {}", self.sessions[key].client_id);
        let mut reason_codes = Vec::with_capacity(unsubscribe.filters.len());
        for filter in &unsubscribe.filters {
            log_debug!("\t{filter}");
            shared::parse(filter).map_err(|error| Close::Decode {
                packet_type: kind::UNSUBSCRIBE,
                error,
            })?;
            // Under the mount point, as it was subscribed (mosquitto 2.0.11 forgets to mount
            // here, so its mounted clients cannot unsubscribe).
            let filter = &self.conns[token.0].rules.mount_filter(filter);
            let existed = self.unsubscribe(key, filter);
            log_unsubscribe!("{} {filter}", self.sessions[key].client_id);
            reason_codes.push(if existed {
                reason::SUCCESS
            } else {
                reason::NO_SUBSCRIPTION_EXISTED
            });
        }
        log_debug!("Sending UNSUBACK to {}", self.sessions[key].client_id);
        let unsuback = UnsubAck {
            packet_id: unsubscribe.packet_id,
            reason_codes,
            ..UnsubAck::default()
        };
        self.send_ack(token, &Packet::UnsubAck(unsuback));
        Ok(())
    }

    /// Removes one of a session's subscriptions; false if it had none on that filter.
    pub(super) fn unsubscribe(&mut self, key: SessionKey, filter: &str) -> bool {
        let session = &mut self.sessions[key];
        if session.subscriptions.remove(filter).is_none() {
            return false;
        }
        if let Some(cursor) = session.retained.as_deref_mut() {
            cursor.remove(filter);
        }
        self.drop_route(key, filter);
        self.record_subscription(key, filter, None);
        true
    }

    /// Removes what routes `filter` to a session, once the session no longer holds the
    /// subscription: its entry in the router, or its membership of the shared group (and
    /// the group's entry in the router, if it was the last member).
    pub(super) fn drop_route(&mut self, key: SessionKey, filter: &str) {
        match shared::split(filter) {
            Some((name, topic_filter)) => {
                if let Some(group) = self.shared.leave(name, topic_filter, key)
                    && !topic_filter.is_empty()
                {
                    self.router.unsubscribe(topic_filter, Target::Group(group));
                }
            }
            _ => {
                self.router.unsubscribe(filter, Target::Session(key));
            }
        }
    }
}

/// The index of each filter's last copy in a SUBSCRIBE; empty for a single filter, so the
/// common packet costs no map.
fn last_occurrences(filters: &[(ByteStr, SubOptions)]) -> HashMap<&str, usize> {
    let mut last = HashMap::new();
    if filters.len() < 2 {
        return last;
    }
    for (index, (filter, _)) in filters.iter().enumerate() {
        last.insert(filter.as_str(), index);
    }
    last
}
