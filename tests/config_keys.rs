//! mosquitto.conf keys, end to end: `bind_interface`, `user`, and the keys midge refuses
//! rather than ignore. Checked against mosquitto 2.0.11 where mosquitto has the behaviour:
//!
//!     MIDGE_TEST_BROKER=mosquitto cargo test --test config_keys

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;

use common::clients::run;
use common::packets::*;
use common::{Broker, Kind, REPLY_TIMEOUT, Raw, broker_kind, midge_only};

fn program() -> &'static str {
    match broker_kind() {
        Kind::Midge => env!("CARGO_BIN_EXE_midge"),
        Kind::Mosquitto => "mosquitto",
    }
}

/// Runs the broker on `conf`, which must stop it at start-up: (exit code, what it said).
fn refused_to_start(conf: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broker.conf");
    std::fs::write(&path, conf).expect("write config");
    let done = run(program(), &["-c", &path.display().to_string()], None);
    (done.code, format!("{}{}", done.stdout, done.stderr))
}

/// CONNECT and CONNACK over a fresh connection to `addr`; false if nothing listens there.
fn connects(addr: SocketAddr, client_id: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT) else {
        return false;
    };
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("timeout");
    stream
        .write_all(&connect_v311(client_id, true, 60))
        .expect("send CONNECT");
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).expect("CONNACK");
    reply == connack(false, 0)
}

/// An interface other than `lo` with an IPv4 address, from `ip -4 -o addr`.
fn other_interface() -> Option<(String, IpAddr)> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let words: Vec<_> = line.split_whitespace().collect();
            let (name, addr) = (*words.get(1)?, *words.get(3)?);
            let ip = addr.split('/').next()?.parse().ok()?;
            (name != "lo").then(|| (name.to_string(), ip))
        })
}

#[test]
fn bind_interface_accepts_only_connections_arriving_on_that_interface() {
    let Some((interface, ip)) = other_interface() else {
        eprintln!("skipped: no network interface besides lo");
        return;
    };
    // The first listener is the harness's, which it reaches on 127.0.0.1.
    let (broker, port) = Broker::start_config(broker_kind(), |a, b| {
        format!(
            "listener {a} 127.0.0.1\nlistener {b}\nbind_interface {interface}\nallow_anonymous true\n"
        )
    });
    assert!(
        connects(SocketAddr::new(ip, port), "on-the-interface"),
        "{}",
        broker.log()
    );
    let loopback = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        !connects(loopback, "on-loopback"),
        "127.0.0.1 is not on {interface}"
    );
}

#[test]
fn bind_interface_lo_serves_loopback_clients() {
    let (broker, _) = Broker::start_config(broker_kind(), |port, _| {
        format!("listener {port}\nbind_interface lo\nallow_anonymous true\n")
    });
    Raw::connected(&broker, "via-lo");
}

#[test]
fn bind_interface_that_does_not_exist_stops_the_broker_naming_it() {
    let port = common::free_port();
    let (code, said) = refused_to_start(&format!(
        "listener {port} 127.0.0.1\nbind_interface nosuch0\n"
    ));
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("Interface nosuch0 does not"), "{said}");
}

/// The user's (uid, gid) from `id`, if the user exists.
fn ids(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// The process's real and effective (uid, gid), from /proc.
fn process_ids(pid: u32) -> ((u32, u32), (u32, u32)) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| -> (u32, u32) {
        let line = status.lines().find(|l| l.starts_with(name)).expect(name);
        let ids: Vec<u32> = line[name.len()..]
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        (ids[0], ids[1])
    };
    (field("Uid:"), field("Gid:"))
}

fn running_as_root() -> bool {
    let root = ids("root").is_some() && process_ids(std::process::id()).0.1 == 0;
    if !root {
        eprintln!("skipped: dropping privileges needs a broker started as root");
    }
    root
}

#[test]
fn started_as_root_the_broker_becomes_user_and_still_serves() {
    if !running_as_root() {
        return;
    }
    let (uid, gid) = ids("nobody").expect("nobody exists");
    let broker = Broker::start_with("user nobody");
    broker.wait_for_log(" running");
    let ((real, effective), (real_gid, effective_gid)) = process_ids(broker.pid());
    assert_eq!(
        (real, effective, real_gid, effective_gid),
        (uid, uid, gid, gid)
    );
    Raw::connected(&broker, "served-by-nobody");
}

#[test]
fn started_as_root_without_user_the_broker_becomes_mosquitto_or_nobody() {
    if !running_as_root() {
        return;
    }
    let (uid, _) = ids("mosquitto")
        .or_else(|| ids("nobody"))
        .expect("mosquitto or nobody exists");
    let broker = Broker::start();
    broker.wait_for_log(" running");
    assert_eq!(process_ids(broker.pid()).0, (uid, uid));
    Raw::connected(&broker, "served-unprivileged");
}

#[test]
fn the_log_says_which_user_the_broker_became() {
    if midge_only() || !running_as_root() {
        return; // mosquitto 2.0.11 drops privileges without a word
    }
    let broker = Broker::start_with("user nobody");
    broker.wait_for_log("Info: running midge as user: nobody.");
}

#[test]
fn a_user_that_does_not_exist_stops_the_broker() {
    if !running_as_root() {
        return;
    }
    let port = common::free_port();
    let (code, said) = refused_to_start(&format!(
        "listener {port} 127.0.0.1\nuser no-such-user-here\n"
    ));
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains(
            "Error: Unable to drop privileges to 'no-such-user-here' because this user does not exist."
        ),
        "{said}"
    );
}

#[test]
fn keys_whose_loss_would_let_someone_in_stop_the_broker_naming_each() {
    if midge_only() {
        return; // mosquitto loads plugins and serves websockets
    }
    let port = common::free_port();
    let (code, said) = refused_to_start(&format!(
        "listener {port} 127.0.0.1\nplugin /usr/lib/mosquitto_dynamic_security.so\n\
         plugin_opt_config_file /var/lib/mosquitto/dynamic-security.json\n\
         listener 0 127.0.0.1\nprotocol websockets\n"
    ));
    assert_eq!(code, Some(1), "{said}");
    let errors: Vec<_> = said.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(errors.len(), 3, "{said}");
    assert!(errors[0].ends_with(":2: 'plugin' is not supported: midge loads no plugins, and without this one the clients it should check would get in unchecked"), "{said}");
    assert!(
        errors[1].ends_with(
            ":3: 'plugin_opt_config_file' configures a plugin, and midge loads no plugins"
        ),
        "{said}"
    );
    assert!(errors[2].ends_with(":5: 'protocol websockets' is not supported yet: midge would serve plain MQTT on this port"), "{said}");
    assert!(!said.contains("running"), "{said}");
}
