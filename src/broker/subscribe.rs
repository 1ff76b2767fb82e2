//! SUBSCRIBE and UNSUBSCRIBE.

use std::rc::Rc;

use mio::Token;

use super::{Broker, Close};
use crate::message::{Delivery, Message};
use crate::protocol::{Packet, QoS, SubAck, Subscribe, UnsubAck, Unsubscribe, reason, topic};
use crate::router::Subscriber;
use crate::session::SessionKey;
use crate::{log_debug, log_subscribe, log_unsubscribe};

impl Broker {
    pub(super) fn handle_subscribe(
        &mut self,
        token: Token,
        key: SessionKey,
        subscribe: Subscribe,
    ) -> Result<(), Close> {
        let session = &mut self.sessions[key];
        log_debug!("Received SUBSCRIBE from {}", session.client_id);
        let mut return_codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained: Vec<(Rc<Message>, QoS)> = Vec::new();
        let mut found = Vec::new();
        for (filter, options) in subscribe.filters {
            log_debug!("\t{filter} (QoS {})", options.qos as u8);
            if topic::level_count(&filter) > topic::MAX_LEVELS {
                return_codes.push(reason::UNSPECIFIED_ERROR);
                continue;
            }
            // A copy: the subscription outlives the SUBSCRIBE's read buffer.
            let filter = crate::protocol::ByteStr::from(filter.as_str());
            session.subscriptions.insert(filter.clone(), options);
            self.router.subscribe(
                &filter,
                Subscriber {
                    session: key,
                    options,
                },
            );
            log_subscribe!("{} {} {filter}", session.client_id, options.qos as u8);

            found.clear();
            self.retained.matching(&filter, &mut found);
            retained.extend(found.drain(..).map(|m| (m, options.qos)));
            return_codes.push(options.qos as u8);
        }
        log_debug!("Sending SUBACK to {}", session.client_id);
        let suback = SubAck {
            packet_id: subscribe.packet_id,
            return_codes,
            ..SubAck::default()
        };
        self.send(token, &Packet::SubAck(suback));
        // After the SUBACK, as mosquitto does: the client knows the subscription exists
        // before its retained messages arrive.
        for (message, granted) in retained {
            let qos = granted.min(message.qos);
            self.deliver(
                key,
                Delivery {
                    message,
                    qos,
                    retain: true,
                },
            );
        }
        Ok(())
    }

    pub(super) fn handle_unsubscribe(
        &mut self,
        token: Token,
        key: SessionKey,
        unsubscribe: Unsubscribe,
    ) -> Result<(), Close> {
        let session = &mut self.sessions[key];
        log_debug!("Received UNSUBSCRIBE from {}", session.client_id);
        let mut reason_codes = Vec::with_capacity(unsubscribe.filters.len());
        for filter in &unsubscribe.filters {
            log_debug!("\t{filter}");
            let existed = session.subscriptions.remove(filter.as_str()).is_some();
            self.router.unsubscribe(filter, key);
            log_unsubscribe!("{} {filter}", session.client_id);
            reason_codes.push(if existed {
                reason::SUCCESS
            } else {
                reason::NO_SUBSCRIPTION_EXISTED
            });
        }
        log_debug!("Sending UNSUBACK to {}", session.client_id);
        let unsuback = UnsubAck {
            packet_id: unsubscribe.packet_id,
            reason_codes,
            ..UnsubAck::default()
        };
        self.send(token, &Packet::UnsubAck(unsuback));
        Ok(())
    }
}
