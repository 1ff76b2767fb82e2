//! PUBLISH from a client, and the acknowledgements of both directions' QoS 1/2 flows.

use std::rc::Rc;

use mio::Token;

use super::{Broker, Close};
use crate::message::Message;
use crate::protocol::{Packet, PubResp, Publish, QoS, Version, reason, topic};
use crate::session::{OutState, SessionKey};
use crate::{log_debug, log_notice};

impl Broker {
    pub(super) fn handle_publish(
        &mut self,
        token: Token,
        key: SessionKey,
        publish: Publish,
    ) -> Result<(), Close> {
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
        if topic::level_count(&publish.topic) > topic::MAX_LEVELS {
            return Err(Close::Protocol("topic deeper than 200 levels"));
        }
        if publish.retain && !self.config.retain_available {
            return Err(Close::RetainNotSupported);
        }
        let (qos, packet_id) = (publish.qos, publish.packet_id);
        if self
            .limits
            .payload_bytes_max
            .is_some_and(|max| publish.payload.len() > max)
        {
            // mosquitto drops it but still acknowledges, so the client does not resend it.
            log_notice!(
                "Dropped too large PUBLISH from {id} (d{}, q{}, r{}, m{packet_id}, '{}', ... ({} bytes))",
                u8::from(publish.dup),
                qos as u8,
                u8::from(publish.retain),
                publish.topic,
                publish.payload.len()
            );
            self.acknowledge(token, qos, packet_id, reason::PACKET_TOO_LARGE);
            return Ok(());
        }
        match qos {
            QoS::AtMostOnce => self.publish_message(Rc::new(Message::from_publish(publish))),
            QoS::AtLeastOnce => {
                self.publish_message(Rc::new(Message::from_publish(publish)));
                self.acknowledge(token, qos, packet_id, reason::SUCCESS);
            }
            QoS::ExactlyOnce => {
                // Held until PUBREL; a re-sent PUBLISH with the same id is the same message.
                let incoming = &mut self.sessions[key].incoming;
                if !incoming.contains_key(&packet_id) {
                    if incoming.len() >= self.limits.inflight_max {
                        return Err(Close::Protocol("too many QoS 2 messages awaiting PUBREL"));
                    }
                    incoming.insert(packet_id, Rc::new(Message::from_publish(publish)));
                }
                self.acknowledge(token, qos, packet_id, reason::SUCCESS);
            }
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
        self.send(token, &reply);
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
        let found = self.sessions[key].incoming.remove(&id);
        let code = if found.is_some() {
            reason::SUCCESS
        } else {
            reason::PACKET_IDENTIFIER_NOT_FOUND
        };
        if let Some(message) = found {
            self.publish_message(message);
        }
        log_debug!(
            "Sending PUBCOMP to {} (m{id})",
            self.sessions[key].client_id
        );
        let comp = self.pub_resp(token, id, code);
        self.send(token, &Packet::PubComp(comp));
        Ok(())
    }

    /// PUBACK: a QoS 1 delivery is done; its slot in the window goes to the next message.
    pub(super) fn handle_puback(
        &mut self,
        _token: Token,
        key: SessionKey,
        ack: PubResp,
    ) -> Result<(), Close> {
        let session = &mut self.sessions[key];
        log_debug!(
            "Received PUBACK from {} (Mid: {}, RC:{})",
            session.client_id,
            ack.packet_id,
            ack.reason
        );
        if let Some(i) = session.inflight_position(ack.packet_id, OutState::AwaitPubAck) {
            session.inflight.remove(i);
            self.fill_window(key);
        }
        Ok(())
    }

    /// PUBREC: the subscriber has a QoS 2 message; release it with PUBREL.
    pub(super) fn handle_pubrec(
        &mut self,
        token: Token,
        key: SessionKey,
        rec: PubResp,
    ) -> Result<(), Close> {
        let id = rec.packet_id;
        let session = &mut self.sessions[key];
        log_debug!("Received PUBREC from {} (Mid: {id})", session.client_id);
        let Some(i) = session.inflight_position(id, OutState::AwaitPubRec) else {
            // Not ours (or a repeat after we moved on): answer as mosquitto 2.0 does.
            return Ok(());
        };
        if rec.reason >= 0x80 {
            // MQTT 5: the subscriber refused the message; the flow ends here.
            session.inflight.remove(i);
            self.fill_window(key);
            return Ok(());
        }
        session.inflight[i].state = OutState::AwaitPubComp;
        log_debug!("Sending PUBREL to {} (m{id})", session.client_id);
        self.send(token, &Packet::PubRel(PubResp::new(id)));
        Ok(())
    }

    /// PUBCOMP: a QoS 2 delivery is done.
    pub(super) fn handle_pubcomp(
        &mut self,
        _token: Token,
        key: SessionKey,
        comp: PubResp,
    ) -> Result<(), Close> {
        let session = &mut self.sessions[key];
        log_debug!(
            "Received PUBCOMP from {} (Mid: {}, RC:{})",
            session.client_id,
            comp.packet_id,
            comp.reason
        );
        if let Some(i) = session.inflight_position(comp.packet_id, OutState::AwaitPubComp) {
            session.inflight.remove(i);
            self.fill_window(key);
        }
        Ok(())
    }
}
