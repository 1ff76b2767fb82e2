//! Password and ACL files for the security tests (`auth.rs`, `acl.rs`, `passwd.rs`).

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use super::clients::{Finished, run};
use super::packets::*;
use super::{Broker, Kind, REPLY_TIMEOUT, Raw, broker_kind, free_port};

/// Made by mosquitto_passwd 2.0.11 (`-c -b`, `-b`, `-I 1000 -b`): alice/alicepw,
/// bob/`b0b with spaces:and colon`, erin/erinpw (1000 iterations).
pub const PBKDF2_FILE: &str = include_str!("../fixtures/passwd-sha512-pbkdf2");
/// Made by mosquitto_passwd 2.0.11 `-H sha512`: carol/carolpw, dave/dävé-ünïcode.
pub const SHA512_FILE: &str = include_str!("../fixtures/passwd-sha512");

/// The line of `user` in one of the fixture files, with its newline.
pub fn entry(file: &str, user: &str) -> String {
    let line = file
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .unwrap_or_else(|| panic!("no {user} in the fixture"));
    format!("{line}\n")
}

/// A directory for the files one test hands its broker.
pub struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Writes (or rewrites) `name` and returns its absolute path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write file");
        path.display().to_string()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A broker with `password_file` (and `allow_anonymous false`, unless `extra` says
/// otherwise after it) over the given file contents.
pub fn broker_with_passwords(files: &Files, passwords: &str, extra: &str) -> Broker {
    let path = files.write("passwd", passwords);
    Broker::start_with(&format!(
        "allow_anonymous false\npassword_file {path}\n{extra}"
    ))
}

/// A broker with an ACL file (anonymous clients allowed), plus `extra` config lines.
pub fn broker_with_acl(files: &Files, acl: &str, extra: &str) -> Broker {
    let path = files.write("acl", acl);
    Broker::start_with(&format!("acl_file {path}\n{extra}"))
}

/// Connects with MQTT 3.1.1 as `user` and expects CONNACK 0.
pub fn connected_as(broker: &Broker, id: &str, user: &str, password: &str) -> Raw {
    let connect = Connect::v311(id)
        .username(user.as_bytes())
        .password(password.as_bytes())
        .build();
    Raw::handshake(broker, &connect, &CONNACK_OK)
}

/// Connects to another port of the broker (see `Broker::start_config`).
pub fn raw_on_port(port: u16) -> Raw {
    let stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .expect("connect to the broker's second port");
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("set read timeout");
    Raw { stream }
}

/// Runs the broker under test with `conf` (a `{port}` in it becomes a free port) and
/// expects it to refuse to start; returns what it printed.
pub fn start_fails(conf: &str) -> Finished {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broker.conf");
    let conf = conf.replace("{port}", &free_port().to_string());
    std::fs::write(&path, conf).expect("write config");
    let program = match broker_kind() {
        Kind::Midge => env!("CARGO_BIN_EXE_midge"),
        Kind::Mosquitto => "mosquitto",
    };
    let path = path.display().to_string();
    let finished = run(program, &["-c", &path], None);
    assert!(!finished.timed_out, "{}", finished.describe());
    finished
}

/// Waits for a SIGHUP to have been taken in: the broker logs "Reloading config." and, being
/// one thread, reloads before it reads anything a client sends afterwards.
pub fn reload(broker: &Broker) {
    let before = broker.log().matches("Reloading config.").count();
    broker.signal("HUP");
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    while broker.log().matches("Reloading config.").count() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload; log:\n{}",
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
