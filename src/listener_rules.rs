//! What a listener's configuration asks of the clients that come in by it: the client
//! identifier rules of CONNECT, the highest QoS, topic aliases, and the mount point that
//! puts all of its clients' topics under a prefix.
//!
//! Built once per listener and shared by reference with each of its connections, so a
//! connection costs one pointer for all of it.

use crate::config::{Config, ListenerConfig};
use crate::protocol::{ByteStr, QoS};
use crate::shared;

/// One listener's rules for its clients, resolved from mosquitto's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerRules {
    /// `max_qos` (or `maximum_qos`): the highest QoS a client may publish or subscribe with.
    pub max_qos: QoS,
    /// `max_topic_alias`: aliases an MQTT 5 client may set up.
    pub max_topic_alias: u16,
    /// `allow_zero_length_clientid` and `auto_id_prefix`, the listener's own with
    /// `per_listener_settings true`, the global ones otherwise (as in mosquitto).
    pub allow_zero_length_clientid: bool,
    pub auto_id_prefix: Box<str>,
    /// `use_username_as_clientid`: the username replaces the client id (always per listener).
    pub use_username_as_clientid: bool,
    /// `mount_point`: prefixed to every topic and filter the client sends, removed from every
    /// topic it is sent.
    pub mount_point: Option<Box<str>>,
}

impl ListenerRules {
    pub fn new(config: &Config, listener: &ListenerConfig) -> ListenerRules {
        let own = &listener.security;
        let (allow_zero_length_clientid, auto_id_prefix) = if config.per_listener_settings {
            (
                own.allow_zero_length_clientid.unwrap_or(true),
                own.auto_id_prefix.as_deref().unwrap_or("auto-"),
            )
        } else {
            (
                config.allow_zero_length_clientid,
                config.auto_id_prefix.as_str(),
            )
        };
        ListenerRules {
            max_qos: QoS::from_u8(listener.max_qos).unwrap_or(QoS::ExactlyOnce),
            max_topic_alias: listener.max_topic_alias,
            allow_zero_length_clientid,
            auto_id_prefix: auto_id_prefix.into(),
            use_username_as_clientid: listener.use_username_as_clientid,
            mount_point: listener.mount_point.as_deref().map(Box::from),
        }
    }

    /// A topic name as the broker holds it, in bytes of its own: under the mount point, if
    /// there is one. An error when the mounted name would not fit in an MQTT string, so
    /// could not be sent on to anyone.
    pub fn mount_topic(&self, topic: &str) -> Result<ByteStr, MountTooLong> {
        let mounted = [self.mount_point.as_deref().unwrap_or(""), topic].concat();
        match mounted.len() <= usize::from(u16::MAX) {
            true => Ok(ByteStr::from(mounted)),
            false => Err(MountTooLong),
        }
    }

    /// A topic filter as the broker holds it, in bytes of its own: under the mount point, if
    /// there is one. A shared subscription's filter is mounted inside it
    /// (`$share/g/mount/x`), so that it stays a shared subscription.
    pub fn mount_filter(&self, filter: &str) -> ByteStr {
        let Some(mount) = self.mount_point.as_deref() else {
            return ByteStr::from(filter);
        };
        match shared::split(filter) {
            None => ByteStr::from([mount, filter].concat()),
            // `$share/g` names no filter and matches nothing, mounted or not.
            Some((_, "")) => ByteStr::from(filter),
            Some((name, topic_filter)) => {
                ByteStr::from(format!("{}{name}/{mount}{topic_filter}", shared::PREFIX))
            }
        }
    }

    /// The name a client of this listener is sent for `topic`: without the mount point.
    /// `None` when `topic` is not under it, or is the mount point and nothing more, so has
    /// no name for this client (a persistent session that subscribed through another
    /// listener, say); mosquitto swallows those too.
    #[inline]
    pub fn unmount<'a>(&self, topic: &'a str) -> Option<&'a str> {
        match self.mount_point.as_deref() {
            None => Some(topic),
            Some(mount) => topic.strip_prefix(mount).filter(|rest| !rest.is_empty()),
        }
    }
}

/// A topic that is longer than 65,535 bytes once under the mount point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountTooLong;

impl Default for ListenerRules {
    /// mosquitto's defaults, for a listener that sets none of these keys.
    fn default() -> ListenerRules {
        ListenerRules::new(&Config::default(), &ListenerConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<ListenerRules> {
        let (config, _) = Config::parse(text, "test").unwrap();
        let listeners = config.effective_listeners();
        listeners
            .iter()
            .map(|l| ListenerRules::new(&config, l))
            .collect()
    }

    #[test]
    fn client_id_rules_are_per_listener_only_with_per_listener_settings() {
        let text = "listener 1883\nallow_zero_length_clientid false\nauto_id_prefix a-\n\
                    listener 1884\n";
        let global = rules(text);
        assert!(global.iter().all(|r| !r.allow_zero_length_clientid));
        assert!(global.iter().all(|r| &*r.auto_id_prefix == "a-"));
        let own = rules(&format!("per_listener_settings true\n{text}"));
        assert!(!own[0].allow_zero_length_clientid && &*own[0].auto_id_prefix == "a-");
        assert!(own[1].allow_zero_length_clientid && &*own[1].auto_id_prefix == "auto-");
    }

    #[test]
    fn listener_keys_stay_with_their_listener() {
        let r = rules(
            "listener 1883\nmaximum_qos 1\nmount_point m/\nuse_username_as_clientid true\n\
             max_topic_alias 3\nlistener 1884\n",
        );
        assert_eq!(r[0].max_qos, QoS::AtLeastOnce);
        assert_eq!(r[0].max_topic_alias, 3);
        assert_eq!(r[0].mount_point.as_deref(), Some("m/"));
        assert!(r[0].use_username_as_clientid);
        assert_eq!(r[1], ListenerRules::default());
    }

    #[test]
    fn mounting_prefixes_and_refuses_what_would_not_fit() {
        let r = rules("listener 1883\nmount_point site/\n");
        assert_eq!(r[0].mount_topic("a/b").as_deref().ok(), Some("site/a/b"));
        assert!(r[0].mount_topic(&"x".repeat(65530)).is_ok());
        assert_eq!(r[0].mount_topic(&"x".repeat(65531)), Err(MountTooLong));
        let plain = ListenerRules::default().mount_topic("a");
        assert_eq!(plain.as_deref().ok(), Some("a"));
    }

    #[test]
    fn topics_leave_without_the_mount_point_or_not_at_all() {
        let r = &rules("listener 1883\nmount_point site/\n")[0];
        assert_eq!(r.unmount("site/a/b"), Some("a/b"));
        assert_eq!(r.unmount("site/"), None);
        assert_eq!(r.unmount("site"), None);
        assert_eq!(r.unmount("other/a"), None);
        assert_eq!(r.unmount("sité/a"), None);
        assert_eq!(ListenerRules::default().unmount("a"), Some("a"));
    }

    #[test]
    fn filters_are_mounted_inside_shared_subscriptions() {
        let r = &rules("listener 1883\nmount_point site/\n")[0];
        assert_eq!(&*r.mount_filter("a/#"), "site/a/#");
        assert_eq!(&*r.mount_filter("$share/g/a/+"), "$share/g/site/a/+");
        assert_eq!(&*r.mount_filter("$share//a"), "$share//site/a");
        assert_eq!(&*r.mount_filter("$share/g"), "$share/g");
        assert_eq!(&*r.mount_filter("$SYS/#"), "site/$SYS/#");
        assert_eq!(
            &*ListenerRules::default().mount_filter("$share/g/a"),
            "$share/g/a"
        );
    }
}
