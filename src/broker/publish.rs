//! PUBLISH from a client, and the acknowledgements of both directions' QoS 1/2 flows.

use std::rc::Rc;

use mio::Token;

use super::{Broker, Close};
use crate::listener_rules::MountTooLong;
use crate::message::Message;
use crate::protocol::{ByteStr, Packet, PubResp, Publish, QoS, Version, reason};
use crate::session::{OutState, SessionKey};
use crate::{log_debug, log_notice};

impl Broker {
    pub(super) fn handle_publish(
        &mut self,
        token: Token,
        key: SessionKey,
        mut publish: Publish,
    ) -> Result<(), Close> {
        if self.conns[token.0].version == Version::V5 {
            self.resolve_topic_alias(token, &mut publish)?;
        }
        // mount_point: from here on the topic is the mounted one, for the ACL too, as in
        // mosquitto. Aliases stay the client's own, unmounted names.
        let mut too_long = false;
        let rules = &self.conns[token.0].rules;
        if rules.mount_point.is_some() {
            match rules.mount_topic(&publish.topic) {
                Ok(mounted) => publish.topic = mounted,
                Err(MountTooLong) => too_long = true,
            }
        }
        let id = &self.sessions[key].client_id;
        log_debug!(
            "Received PUBLISH from {id} (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(publish.dup),
            publish.qos as u8,
            u8::from(publish.retain),
            publish.packet_id,
            publish.topic,
            publish.payload.len()
        );
        if publish.qos > self.conns[token.0].rules.max_qos {
            return Err(Close::QosNotSupported);
        }
        if publish.retain && !self.config.retain_available {
            return Err(Close::RetainNotSupported);
        }
        let (qos, packet_id) = (publish.qos, publish.packet_id);
        let refusal = match too_long {
            true => Some(reason::TOPIC_NAME_INVALID),
            false => self.refusal(key, &publish),
        };
        if let Some(refusal) = refusal {
            self.refusals.add(refusal);
            let id = &self.sessions[key].client_id;
            let (dup, retain) = (u8::from(publish.dup), u8::from(publish.retain));
            let (topic, len) = (&publish.topic, publish.payload.len());
            if refusal == reason::NOT_AUTHORIZED {
                // mosquitto's words, for `$SYS`, `$share` and the ACL alike.
                log_debug!(
                    "Denied PUBLISH from {id} (d{dup}, q{}, r{retain}, m{packet_id}, '{topic}', ... ({len} bytes))",
                    qos as u8
                );
            } else {
                log_notice!(
                    "Dropped PUBLISH from {id} (d{dup}, q{}, r{retain}, m{packet_id}, '{topic}', ... ({len} bytes)): reason {refusal:#04x}",
                    qos as u8
                );
            }
            // Acknowledged all the same, as mosquitto does, so the client does not resend it.
            self.acknowledge(token, qos, packet_id, refusal);
            return Ok(());
        }
        let upgraded = self.config.upgrade_outgoing_qos;
        let message = Rc::new(Message::from_publish(publish, self.now, upgraded));
        match qos {
            QoS::AtMostOnce => {
                self.publish_message(message, Some(key));
            }
            QoS::AtLeastOnce => {
                let code = if self.publish_message(message, Some(key)) {
                    reason::SUCCESS
                } else {
                    reason::NO_MATCHING_SUBSCRIBERS
                };
                self.acknowledge(token, qos, packet_id, code);
            }
            QoS::ExactlyOnce => {
                // Held until PUBREL; a re-sent PUBLISH with the same id is the same message.
                let version = self.conns[token.0].version;
                let session = &mut self.sessions[key];
                if !session.is_incoming(packet_id) {
                    // MQTT 5's receive maximum; older clients are held back instead (see
                    // `may_take_input`).
                    if version == Version::V5
                        && session.incoming().len() >= self.limits.inflight_max
                    {
                        return Err(Close::ReceiveMaximumExceeded);
                    }
                    let journal = super::durable::journal(&mut self.durable);
                    session.hold_incoming(packet_id, message, journal);
                }
                self.acknowledge(token, qos, packet_id, reason::SUCCESS);
            }
        }
        Ok(())
    }

    /// Why a well-formed PUBLISH is dropped rather than delivered, if it is.
    fn refusal(&mut self, key: SessionKey, publish: &Publish) -> Option<u8> {
        if self.memory_exhausted() {
            return Some(reason::QUOTA_EXCEEDED);
        }
        if self
            .limits
            .payload_bytes_max
            .is_some_and(|max| publish.payload.len() > max)
        {
            return Some(reason::PACKET_TOO_LARGE);
        }
        if !self.may_write(key, &publish.topic) {
            return Some(reason::NOT_AUTHORIZED);
        }
        None
    }

    /// MQTT 5 topic aliases: a PUBLISH with a topic and an alias sets the alias, one with an
    /// alias and no topic uses it. Aliases belong to the connection, so the alias itself is
    /// removed before the message goes anywhere else; so are stray subscription identifiers.
    fn resolve_topic_alias(&mut self, token: Token, publish: &mut Publish) -> Result<(), Close> {
        let Some(properties) = publish.properties.as_deref_mut() else {
            return Ok(());
        };
        // A client may not send subscription identifiers [MQTT-3.3.4-6]; like mosquitto we
        // drop them rather than the connection, since they only concern the broker's copies.
        properties.subscription_identifiers.clear();
        let alias = properties.topic_alias.take();
        if properties.is_empty() {
            publish.properties = None;
        }
        let Some(alias) = alias else {
            return Ok(());
        };
        let conn = &mut self.conns[token.0];
        if alias == 0 || alias > conn.rules.max_topic_alias {
            return Err(Close::TopicAliasInvalid);
        }
        let slot = usize::from(alias - 1);
        if publish.topic.is_empty() {
            let known = conn.topic_aliases.as_deref().and_then(|a| a.get(slot));
            match known.cloned().flatten() {
                Some(topic) => publish.topic = topic,
                None => return Err(Close::Protocol("unknown topic alias")),
            }
        } else {
            let aliases = conn.topic_aliases.get_or_insert_with(Box::default);
            if aliases.len() <= slot {
                aliases.resize(slot + 1, None);
            }
            // A copy: the alias outlives this packet's read buffer.
            aliases[slot] = Some(ByteStr::from(publish.topic.as_str()));
        }
        Ok(())
    }

    /// PUBACK for QoS 1, PUBREC for QoS 2, nothing for QoS 0.
    fn acknowledge(&mut self, token: Token, qos: QoS, packet_id: u16, code: u8) {
        let id = self.conns[token.0].log_id();
        let reply = match qos {
            QoS::AtMostOnce => return,
            QoS::AtLeastOnce => {
                log_debug!("Sending PUBACK to {id} (m{packet_id}, rc{code})");
                Packet::PubAck(self.pub_resp(token, packet_id, code))
            }
            QoS::ExactlyOnce => {
                log_debug!("Sending PUBREC to {id} (m{packet_id}, rc{code})");
                Packet::PubRec(self.pub_resp(token, packet_id, code))
            }
        };
        self.send_ack(token, &reply);
    }

    /// An acknowledgement; the reason code only exists on the wire in MQTT 5.
    fn pub_resp(&self, token: Token, packet_id: u16, code: u8) -> PubResp {
        let mut resp = PubResp::new(packet_id);
        if self.conns[token.0].version == Version::V5 {
            resp.reason = code;
        }
        resp
    }

    /// PUBREL: the publisher releases a QoS 2 message, which now goes to subscribers.
    pub(super) fn handle_pubrel(
        &mut self,
        token: Token,
        key: SessionKey,
        rel: PubResp,
    ) -> Result<(), Close> {
        let id = rel.packet_id;
        log_debug!(
            "Received PUBREL from {} (Mid: {id})",
            self.sessions[key].client_id
        );
        // An unknown id gets a plain PUBCOMP too, as from mosquitto: the spec's 0x92 is a
        // "may", and the client wants to finish the flow either way.
        let journal = super::durable::journal(&mut self.durable);
        if let Some(message) = self.sessions[key].release_incoming(id, journal) {
            self.publish_message(message, Some(key));
        }
        log_debug!(
            "Sending PUBCOMP to {} (m{id})",
            self.sessions[key].client_id
        );
        self.send_ack(token, &Packet::PubComp(PubResp::new(id)));
        Ok(())
    }

    /// PUBACK: a QoS 1 delivery is done; its slot in the window goes to the next message.
    /// For a QoS 2 message it is the wrong acknowledgement, which mosquitto closes the
    /// connection for; an unknown id is ignored.
    pub(super) fn handle_puback(&mut self, key: SessionKey, ack: PubResp) -> Result<(), Close> {
        log_debug!(
            "Received PUBACK from {} (Mid: {}, RC:{})",
            self.sessions[key].client_id,
            ack.packet_id,
            ack.reason
        );
        match self.inflight_state(key, ack.packet_id) {
            Some(OutState::AwaitPubAck) => {
                self.complete_inflight(key, ack.packet_id, OutState::AwaitPubAck);
            }
            Some(_) => return Err(Close::Unexpected("PUBACK for a QoS 2 message")),
            None => {}
        }
        Ok(())
    }

    /// Where the outgoing message with this packet id stands, if one is in flight.
    fn inflight_state(&mut self, key: SessionKey, packet_id: u16) -> Option<OutState> {
        self.sessions[key].inflight_state(packet_id)
    }

    /// Ends an outgoing flow that is waiting in `state` (as the caller found with
    /// `inflight_state`), and refills the window.
    fn complete_inflight(&mut self, key: SessionKey, packet_id: u16, state: OutState) {
        let session = &mut self.sessions[key];
        debug_assert_eq!(session.inflight_state(packet_id), Some(state));
        if session.complete(packet_id, super::durable::journal(&mut self.durable)) {
            self.fill_window(key);
        }
    }

    /// PUBREC: the subscriber has a QoS 2 message; release it with PUBREL. As in mosquitto,
    /// an unknown id, or a repeat after we moved on, is released all the same (a client that
    /// lost our PUBREL is not left waiting), while a PUBREC for a QoS 1 message, or an MQTT 5
    /// refusal after the message was accepted, closes the connection.
    pub(super) fn handle_pubrec(
        &mut self,
        token: Token,
        key: SessionKey,
        rec: PubResp,
    ) -> Result<(), Close> {
        let id = rec.packet_id;
        log_debug!(
            "Received PUBREC from {} (Mid: {id})",
            self.sessions[key].client_id
        );
        let state = self.inflight_state(key, id);
        if rec.reason >= 0x80 {
            // MQTT 5: the subscriber refused the message; the flow ends here.
            return match state {
                Some(OutState::AwaitPubRec) => {
                    self.complete_inflight(key, id, OutState::AwaitPubRec);
                    Ok(())
                }
                Some(OutState::AwaitPubAck) => Err(Close::Unexpected("PUBREC for a QoS 1 message")),
                Some(OutState::AwaitPubComp) => {
                    Err(Close::Unexpected("PUBREC refusing a released message"))
                }
                None => Ok(()),
            };
        }
        match state {
            Some(OutState::AwaitPubAck) => {
                return Err(Close::Unexpected("PUBREC for a QoS 1 message"));
            }
            Some(OutState::AwaitPubRec) => {
                let journal = super::durable::journal(&mut self.durable);
                self.sessions[key].release(id, journal);
            }
            Some(OutState::AwaitPubComp) | None => {}
        }
        log_debug!("Sending PUBREL to {} (m{id})", self.sessions[key].client_id);
        self.send(token, &Packet::PubRel(PubResp::new(id)));
        Ok(())
    }

    /// PUBCOMP: a QoS 2 delivery is done. For a QoS 1 message, or one not yet released, it
    /// is the wrong acknowledgement, which mosquitto closes the connection for; an unknown
    /// id is ignored.
    pub(super) fn handle_pubcomp(&mut self, key: SessionKey, comp: PubResp) -> Result<(), Close> {
        log_debug!(
            "Received PUBCOMP from {} (Mid: {}, RC:{})",
            self.sessions[key].client_id,
            comp.packet_id,
            comp.reason
        );
        match self.inflight_state(key, comp.packet_id) {
            Some(OutState::AwaitPubComp) => {
                self.complete_inflight(key, comp.packet_id, OutState::AwaitPubComp);
            }
            Some(OutState::AwaitPubAck) => {
                return Err(Close::Unexpected("PUBCOMP for a QoS 1 message"));
            }
            Some(OutState::AwaitPubRec) => return Err(Close::Unexpected("PUBCOMP before PUBREC")),
            None => {}
        }
        Ok(())
    }
}

/// mosquitto's rule for `$` topics: clients may not publish into `$SYS` (bar the bridge
/// status topics) nor to `$share`, which only names shared subscriptions.
pub(super) fn client_may_publish_to(topic: &str) -> bool {
    if topic.starts_with("$SYS") {
        return crate::protocol::topic::matches("$SYS/broker/connection/+/state", topic);
    }
    !topic.starts_with("$share")
}
