//! From a scenario on the command line to the clients a run opens: who publishes where, who
//! subscribes to what, how many subscribers each message should reach, and which worker
//! thread and source address each connection gets.

use crate::link::TlsClient;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use midge::protocol::topic;

use crate::cli::{Common, ScenarioCmd};
use crate::wire::STAMP_LEN;

/// How a subscriber's receipts are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accounting {
    /// Each subscriber sees each matching publisher's whole stream, in order.
    Streams,
    /// A share group sees each message once, on any member; order is not defined.
    Group,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubSpec {
    pub id: u32,
    pub topic: String,
    /// Deliveries each message should make: matching subscribers (a share group counts once).
    pub fanout: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubSpec {
    pub id: u32,
    pub filter: String,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub scenario: &'static str,
    pub common: Common,
    pub publishers: Vec<PubSpec>,
    pub subscribers: Vec<SubSpec>,
    pub accounting: Accounting,
    pub target: SocketAddr,
    /// Tags this run's stamps, so leftovers from another run are recognised.
    pub run_tag: u32,
    pub payload: usize,
    /// With `--cafile` or `--capath`: every connection speaks TLS.
    pub tls: Option<TlsClient>,
}

impl Plan {
    pub fn new(cmd: &ScenarioCmd, run_tag: u32) -> Result<Plan, String> {
        let common = cmd.common().clone();
        common.validate()?;
        let (scenario, pubs, subs) = match cmd {
            ScenarioCmd::Fanout { pubs, subs, .. } => ("fanout", *pubs, *subs),
            ScenarioCmd::Fanin { pubs, .. } => ("fanin", *pubs, 1),
            ScenarioCmd::Pairs { pairs, .. } => ("pairs", *pairs, *pairs),
            ScenarioCmd::Shared { pubs, subs, .. } => ("shared", *pubs, *subs),
            ScenarioCmd::Conns { conns, .. } => ("conns", 0, *conns),
        };
        if scenario != "conns" && (pubs == 0 || subs == 0) {
            return Err("a scenario needs at least one publisher and one subscriber".into());
        }
        if subs == 0 {
            return Err("--conns must be above 0".into());
        }
        let default_topic = match scenario {
            "fanout" => "bench/fanout",
            "fanin" => "bench/in/%i",
            "pairs" => "bench/pair/%i",
            "shared" => "bench/shared",
            _ => "bench/conn/%i",
        };
        let template = common.topic.as_deref().unwrap_or(default_topic);
        let topic_of = |i: u32| template.replace("%i", &i.to_string());
        let publishers: Vec<String> = (0..pubs).map(topic_of).collect();
        let subscribers: Vec<SubSpec> = (0..subs)
            .map(|i| SubSpec {
                id: i,
                filter: match cmd {
                    ScenarioCmd::Fanin { .. } => template.replace("%i", "+"),
                    ScenarioCmd::Shared { group, .. } => format!("$share/{group}/{}", topic_of(0)),
                    _ => topic_of(i),
                },
            })
            .collect();
        for name in &publishers {
            topic::validate_name(name).map_err(|e| format!("topic {name:?}: {e}"))?;
        }
        for s in &subscribers {
            topic::validate_filter(&s.filter).map_err(|e| format!("filter {:?}: {e}", s.filter))?;
        }
        let accounting = if scenario == "shared" {
            Accounting::Group
        } else {
            Accounting::Streams
        };
        let fanouts = fanouts(&publishers, &subscribers, accounting);
        let publishers = publishers
            .into_iter()
            .zip(fanouts)
            .enumerate()
            .map(|(i, (topic, fanout))| PubSpec {
                id: i as u32,
                topic,
                fanout,
            })
            .collect();
        let target = resolve(&common.host, common.port, common.allow_remote)?;
        let tls = match common
            .tls
            .client_config()
            .map_err(|e| e.trim_end().to_string())?
        {
            Some(config) => Some(TlsClient::new(config, &common.host)?),
            None => None,
        };
        Ok(Plan {
            tls,
            scenario,
            payload: common.payload.max(STAMP_LEN),
            common,
            publishers,
            subscribers,
            accounting,
            target,
            run_tag,
        })
    }

    pub fn connections(&self) -> usize {
        self.publishers.len() + self.subscribers.len()
    }

    /// Deliveries expected for each message of publisher `id`.
    pub fn fanout_of(&self, id: u32) -> u64 {
        self.publishers.get(id as usize).map_or(0, |p| p.fanout)
    }

    /// The source address for the `n`th connection: the system's choice while one address has
    /// ports enough, then 127.0.0.1, 127.0.0.2, ... for an IPv4 loopback target.
    pub fn source_for(&self, n: usize) -> Option<IpAddr> {
        let per_ip = self.common.conns_per_ip as usize;
        if self.connections() <= per_ip || !matches!(self.target.ip(), IpAddr::V4(_)) {
            return None;
        }
        let host = 1 + n / per_ip;
        let [b, c] = [(host >> 8) as u8, host as u8];
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, b, c)))
    }
}

/// For each publisher's topic, how many subscribers should get each message: exact filters
/// are looked up, wildcard ones matched one by one, and a share group counts once.
fn fanouts(topics: &[String], subs: &[SubSpec], accounting: Accounting) -> Vec<u64> {
    let mut exact: HashMap<&str, u64> = HashMap::new();
    let mut wildcard: HashMap<&str, u64> = HashMap::new();
    for s in subs {
        let filter = strip_share(&s.filter);
        let map = if topic::has_wildcard(filter) {
            &mut wildcard
        } else {
            &mut exact
        };
        *map.entry(filter).or_default() += 1;
    }
    topics
        .iter()
        .map(|t| {
            let n = exact.get(t.as_str()).copied().unwrap_or(0)
                + wildcard
                    .iter()
                    .filter(|(f, _)| topic::matches(f, t))
                    .map(|(_, n)| n)
                    .sum::<u64>();
            match accounting {
                Accounting::Group => n.min(1),
                Accounting::Streams => n,
            }
        })
        .collect()
}

fn strip_share(filter: &str) -> &str {
    filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(filter, |(_, f)| f)
}

/// The broker's address. Load goes to this machine unless `allow_remote` says otherwise: a
/// benchmark that floods someone else's network by a typo is not one to run by default.
pub fn resolve(host: &str, port: u16, allow_remote: bool) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{host} has no address"))?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "{host} ({}) is not a loopback address: give --allow-remote to load a broker on another machine",
            addr.ip()
        ));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn plan(args: &[&str]) -> Plan {
        let cli = Cli::try_parse_from(std::iter::once("midge_loadgen").chain(args.iter().copied()))
            .unwrap();
        let Command::Run(cmd) = cli.command else {
            panic!()
        };
        Plan::new(&cmd, 1).unwrap()
    }

    #[test]
    fn fanout_sends_everything_to_everyone() {
        let p = plan(&["fanout", "--pubs", "2", "--subs", "5"]);
        assert_eq!(p.publishers.len(), 2);
        assert!(
            p.publishers
                .iter()
                .all(|p| p.fanout == 5 && p.topic == "bench/fanout")
        );
        assert_eq!(p.connections(), 7);
    }

    #[test]
    fn fanin_subscribes_once_with_a_wildcard() {
        let p = plan(&["fanin", "--pubs", "3", "-t", "x/%i/y"]);
        assert_eq!(
            p.subscribers,
            vec![SubSpec {
                id: 0,
                filter: "x/+/y".into()
            }]
        );
        assert_eq!(p.publishers[2].topic, "x/2/y");
        assert!(p.publishers.iter().all(|p| p.fanout == 1));
    }

    #[test]
    fn pairs_match_one_to_one_unless_the_template_says_otherwise() {
        let p = plan(&["pairs", "-n", "4"]);
        assert!(p.publishers.iter().all(|p| p.fanout == 1));
        assert_eq!(p.subscribers[3].filter, "bench/pair/3");
        // Without %i every pair shares one topic: every subscriber gets every message.
        let p = plan(&["pairs", "-n", "4", "-t", "same"]);
        assert!(p.publishers.iter().all(|p| p.fanout == 4));
    }

    #[test]
    fn a_share_group_counts_once() {
        let p = plan(&["shared", "--subs", "8", "--group", "g"]);
        assert_eq!(p.subscribers[0].filter, "$share/g/bench/shared");
        assert_eq!(p.publishers[0].fanout, 1);
        assert_eq!(p.accounting, Accounting::Group);
    }

    #[test]
    fn source_addresses_spread_only_past_the_per_address_limit() {
        let p = plan(&["conns", "-c", "10", "--conns-per-ip", "4"]);
        assert_eq!(p.source_for(0), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p.source_for(4), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(p.source_for(9), Some("127.0.0.3".parse().unwrap()));
        let p = plan(&["conns", "-c", "10"]);
        assert_eq!(p.source_for(9), None);
    }

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(resolve("127.0.0.1", 1, false).is_ok());
        assert!(resolve("::1", 1, false).is_ok());
        assert!(resolve("192.0.2.1", 1, false).is_err());
        assert!(resolve("192.0.2.1", 1, true).is_ok());
    }
}
