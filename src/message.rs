//! An application message as the broker holds it: shared by every queue it waits in.

use std::rc::Rc;

use bytes::Bytes;

use crate::protocol::{ByteStr, Properties, Publish, QoS};

/// A published message. One `Rc<Message>` is shared by every subscriber it goes to, the
/// retained store and offline queues; nothing about it is per subscriber.
#[derive(Debug)]
pub struct Message {
    pub topic: ByteStr,
    pub payload: Bytes,
    /// The QoS it was published with; each subscriber gets at most its subscription's.
    pub qos: QoS,
    pub retain: bool,
    pub properties: Option<Box<Properties>>,
}

impl Message {
    /// Takes the message out of a received PUBLISH.
    ///
    /// A decoded topic and payload are slices of the connection's read buffer and keep all
    /// of that buffer alive. Messages that may outlive this loop turn (QoS 1/2 ones wait for
    /// acknowledgements or offline clients, retained ones wait for subscribers) get bytes of
    /// their own, so a queued 10-byte message never pins a 16 KiB read buffer.
    pub fn from_publish(publish: Publish) -> Message {
        let long_lived = publish.qos != QoS::AtMostOnce || publish.retain;
        let (topic, payload) = if long_lived {
            (
                ByteStr::from(publish.topic.as_str()),
                Bytes::copy_from_slice(&publish.payload),
            )
        } else {
            (publish.topic, publish.payload)
        };
        Message {
            topic,
            payload,
            qos: publish.qos,
            retain: publish.retain,
            properties: publish.properties,
        }
    }

    /// The PUBLISH that carries this message to one subscriber.
    pub fn to_publish(&self, qos: QoS, retain: bool, packet_id: u16, dup: bool) -> Publish {
        Publish {
            dup,
            qos,
            retain,
            topic: self.topic.clone(),
            packet_id,
            properties: self.properties.clone(),
            payload: self.payload.clone(),
        }
    }
}

/// One message on its way to one subscriber, at the QoS and retain flag it goes out with.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub message: Rc<Message>,
    pub qos: QoS,
    pub retain: bool,
}
