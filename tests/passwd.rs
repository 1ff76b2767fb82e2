//! midge_passwd end to end: the real binary with mosquitto_passwd 2.0.11's flags (`-c` with
//! the password typed twice on standard input, `-b`, `-D`, `-U`, `-H sha512`), its exit
//! codes and messages side by side with mosquitto_passwd's, the `$7$101$` hashes it writes,
//! and files going both ways between the two tools and the two brokers. The brokers that
//! check the files are midge by default; with
//!
//!     MIDGE_TEST_BROKER=mosquitto cargo test --test passwd
//!
//! they are mosquitto 2.0.11, except in the interop tests, which pick the broker they need.
//! The command-line parsing and each message on its own are unit-tested in
//! `src/auth/passwd_cli_tests.rs`; here the binary, a terminal-less stdin and the brokers
//! are what is checked.

mod common;

use common::clients::{Finished, on_path, run, tool_available};
use common::packets::*;
use common::security::*;
use common::{Broker, Kind, Raw, broker_kind};

const MIDGE_PASSWD: &str = env!("CARGO_BIN_EXE_midge_passwd");

/// What mosquitto_passwd and midge_passwd print around a password typed twice.
const PROMPTS: &str = "Password: \nReenter password: \n";

fn midge_passwd(args: &[&str], stdin: Option<&[u8]>) -> Finished {
    run(MIDGE_PASSWD, args, stdin)
}

/// Runs a tool that must succeed silently (batch mode prints nothing).
fn quietly(program: &str, args: &[&str]) {
    let done = run(program, args, None);
    done.assert_success();
    assert_eq!((done.stdout.as_str(), done.stderr.as_str()), ("", ""));
}

/// True when mosquitto_passwd and mosquitto are installed (or the test is skipped).
fn mosquitto_tools() -> bool {
    ["mosquitto_passwd", "mosquitto"]
        .iter()
        .all(|tool| tool_available(on_path(tool), tool, "apt-get install mosquitto"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).expect("read the password file")
}

/// A broker of `kind` that checks `password_file` and lets nobody in without it.
fn broker_using(kind: Kind, password_file: &str) -> Broker {
    Broker::start_kind(
        kind,
        &format!("allow_anonymous false\npassword_file {password_file}\n"),
    )
}

/// Asserts the broker lets `user` in with `password`.
fn accepts(broker: &Broker, user: &str, password: &str) {
    connected_as(broker, "c", user, password);
}

/// Asserts the broker refuses `user` with `password` (CONNACK 5, then the close).
fn refuses(broker: &Broker, user: &str, password: &str) {
    let connect = Connect::v311("c")
        .username(user.as_bytes())
        .password(password.as_bytes())
        .build();
    let mut c = Raw::handshake(broker, &connect, &connack(false, 5));
    c.expect_closed();
}

// --- Each mode, checked by a broker ---

#[test]
fn create_asks_twice_on_stdin_and_the_broker_accepts_that_password() {
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    let done = midge_passwd(&["-c", &path, "alice"], Some(b"s3cret\ns3cret\n"));
    done.assert_success();
    assert_eq!((done.stdout.as_str(), done.stderr.as_str()), (PROMPTS, ""));
    let broker = broker_using(broker_kind(), &path);
    accepts(&broker, "alice", "s3cret");
    refuses(&broker, "alice", "s3cret\n");
}

#[test]
fn create_with_mismatched_or_missing_passwords_fails_and_writes_no_file() {
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    let cases: &[(Option<&[u8]>, i32, &str, &str)] = &[
        (
            Some(b"one\ntwo\n"),
            2,
            PROMPTS,
            "Error: Passwords do not match.\n",
        ),
        (None, 1, "Password: ", "Error: Empty password.\n"),
        (Some(b"\n"), 1, "Password: ", "Error: Empty password.\n"),
        (
            Some(b"one\n"),
            1,
            "Password: \nReenter password: ",
            "Error: Empty password.\n",
        ),
    ];
    for &(stdin, code, stdout, stderr) in cases {
        let done = midge_passwd(&["-c", &path, "alice"], stdin);
        done.assert_code(code);
        assert_eq!(
            (done.stdout.as_str(), done.stderr.as_str()),
            (stdout, stderr)
        );
        assert!(!files.path("pw").exists(), "{}", done.describe());
    }
}

#[test]
fn batch_mode_adds_users_and_changes_passwords_for_the_broker() {
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    quietly(MIDGE_PASSWD, &["-c", "-b", &path, "alice", "a1"]);
    quietly(
        MIDGE_PASSWD,
        &["-b", &path, "bob", "b0b with spaces:and colon"],
    );
    quietly(MIDGE_PASSWD, &["-b", &path, "alice", "a2"]);
    assert_eq!(read(&path).lines().count(), 2, "{}", read(&path));
    let broker = broker_using(broker_kind(), &path);
    accepts(&broker, "alice", "a2");
    accepts(&broker, "bob", "b0b with spaces:and colon");
    refuses(&broker, "alice", "a1");
}

#[test]
fn an_interactive_update_adds_a_user_to_an_existing_file() {
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    quietly(MIDGE_PASSWD, &["-c", "-b", &path, "alice", "a1"]);
    let done = midge_passwd(&[&path, "carol"], Some("dävé\ndävé\n".as_bytes()));
    done.assert_success();
    assert_eq!(done.stdout, PROMPTS);
    let broker = broker_using(broker_kind(), &path);
    accepts(&broker, "carol", "dävé");
    accepts(&broker, "alice", "a1");
}

#[test]
fn delete_removes_the_user_and_the_broker_refuses_them() {
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    quietly(MIDGE_PASSWD, &["-c", "-b", &path, "alice", "a1"]);
    quietly(MIDGE_PASSWD, &["-b", &path, "bob", "b1"]);
    quietly(MIDGE_PASSWD, &["-D", &path, "alice"]);
    let broker = broker_using(broker_kind(), &path);
    refuses(&broker, "alice", "a1");
    accepts(&broker, "bob", "b1");
}

#[test]
fn deleting_an_unknown_user_warns_exits_1_and_leaves_the_file_alone() {
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    quietly(MIDGE_PASSWD, &["-c", "-b", &path, "alice", "a1"]);
    let before = read(&path);
    let done = midge_passwd(&["-D", &path, "nobody"], None);
    done.assert_code(1);
    assert_eq!(
        done.stderr,
        "Warning: User nobody not found in password file.\n"
    );
    assert_eq!(read(&path), before);
    assert!(!files.path("pw.tmp").exists(), "the backup is removed");
}

#[test]
fn convert_hashes_a_plain_text_file_for_the_broker() {
    let files = Files::new();
    let path = files.write("pw", "u1:p1\n# a comment\nu2:p 2\n");
    quietly(MIDGE_PASSWD, &["-U", &path]);
    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("u1:$7$101$"), "{text}");
    assert_eq!(lines[1], "# a comment");
    assert!(lines[2].starts_with("u2:$7$101$"), "{text}");
    let broker = broker_using(broker_kind(), &path);
    accepts(&broker, "u1", "p1");
    accepts(&broker, "u2", "p 2");
    refuses(&broker, "u1", "u1:p1");
}

#[test]
fn a_missing_file_is_an_error_for_every_mode_but_create() {
    let files = Files::new();
    let path = files.path("missing").display().to_string();
    let expected =
        format!("Error: Unable to open password file {path}. No such file or directory.\n");
    let modes: [&[&str]; 4] = [
        &["-b", &path, "u", "p"],
        &[&path, "u"],
        &["-D", &path, "u"],
        &["-U", &path],
    ];
    for args in modes {
        let done = midge_passwd(args, Some(b"p\np\n"));
        done.assert_code(1);
        assert_eq!(done.stderr, expected, "{args:?}");
        assert!(!files.path("missing").exists(), "{args:?} created the file");
    }
}

// --- The hashes ---

/// The salt and hash of a `$7$101$SALT$HASH` entry for `user`, checked for mosquitto 2.0's
/// sizes: a 12-byte salt and a 64-byte SHA-512 output, both in standard base64.
fn pbkdf2_parts(line: &str, user: &str) -> (String, String) {
    let rest = line
        .strip_prefix(&format!("{user}:$7$101$"))
        .unwrap_or_else(|| panic!("not a $7$101$ entry for {user}: {line}"));
    let (salt, hash) = rest.split_once('$').expect("salt$hash");
    let base64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    assert!(salt.len() == 16 && base64(salt), "12-byte salt: {line}");
    let digits = hash.strip_suffix("==").unwrap_or("");
    assert!(digits.len() == 86 && base64(digits), "64-byte hash: {line}");
    (salt.to_string(), hash.to_string())
}

#[test]
fn entries_are_pbkdf2_sha512_with_101_iterations_and_a_fresh_salt_each_time() {
    let files = Files::new();
    let entries: Vec<(String, String)> = ["one", "two"]
        .iter()
        .map(|name| {
            let path = files.path(name).display().to_string();
            quietly(MIDGE_PASSWD, &["-c", "-b", &path, "alice", "same"]);
            let text = read(&path);
            assert_eq!(text.lines().count(), 1, "{text}");
            assert!(text.ends_with('\n'), "{text:?}");
            pbkdf2_parts(text.trim_end(), "alice")
        })
        .collect();
    assert_ne!(entries[0].0, entries[1].0, "the same salt twice");
    assert_ne!(entries[0].1, entries[1].1, "the same hash twice");
}

// --- Interop with mosquitto_passwd and mosquitto ---

#[test]
fn a_file_made_by_midge_passwd_is_accepted_by_mosquitto() {
    if !mosquitto_tools() {
        return;
    }
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    quietly(MIDGE_PASSWD, &["-c", "-b", &path, "alice", "alicepw"]);
    quietly(
        MIDGE_PASSWD,
        &["-H", "sha512", "-b", &path, "carol", "dävé-ünïcode"],
    );
    quietly(
        MIDGE_PASSWD,
        &["-I", "1000", "-b", &path, "erin", "erin pw"],
    );
    let broker = broker_using(Kind::Mosquitto, &path);
    accepts(&broker, "alice", "alicepw");
    accepts(&broker, "carol", "dävé-ünïcode");
    accepts(&broker, "erin", "erin pw");
    refuses(&broker, "alice", "carolpw");
}

#[test]
fn a_file_made_by_mosquitto_passwd_is_accepted_by_midge() {
    if !mosquitto_tools() {
        return;
    }
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    quietly("mosquitto_passwd", &["-c", "-b", &path, "alice", "alicepw"]);
    quietly(
        "mosquitto_passwd",
        &["-H", "sha512", "-b", &path, "carol", "dävé"],
    );
    let broker = broker_using(Kind::Midge, &path);
    accepts(&broker, "alice", "alicepw");
    accepts(&broker, "carol", "dävé");
    refuses(&broker, "carol", "alicepw");
}

#[test]
fn each_tool_edits_the_others_files() {
    if !mosquitto_tools() {
        return;
    }
    let files = Files::new();
    let path = files.path("pw").display().to_string();
    quietly("mosquitto_passwd", &["-c", "-b", &path, "alice", "a1"]);
    quietly("mosquitto_passwd", &["-b", &path, "bob", "b1"]);
    let alice_line = read(&path).lines().next().expect("alice").to_string();
    quietly(MIDGE_PASSWD, &["-b", &path, "bob", "b2"]);
    quietly(MIDGE_PASSWD, &["-b", &path, "carol", "c1"]);
    assert_eq!(read(&path).lines().next(), Some(alice_line.as_str()));
    quietly("mosquitto_passwd", &["-D", &path, "alice"]);
    quietly("mosquitto_passwd", &["-b", &path, "dave", "d1"]);
    for kind in [Kind::Midge, Kind::Mosquitto] {
        let broker = broker_using(kind, &path);
        refuses(&broker, "alice", "a1");
        refuses(&broker, "bob", "b1");
        accepts(&broker, "bob", "b2");
        accepts(&broker, "carol", "c1");
        accepts(&broker, "dave", "d1");
    }
}

/// One run of a tool: `{file}` in `args` stands for a file in a fresh directory, which
/// holds `existing` beforehand if given.
struct Case {
    existing: Option<&'static str>,
    args: &'static [&'static str],
    stdin: Option<&'static [u8]>,
}

fn case(
    existing: Option<&'static str>,
    args: &'static [&'static str],
    stdin: Option<&'static [u8]>,
) -> Case {
    Case {
        existing,
        args,
        stdin,
    }
}

impl Case {
    /// The exit code, the output (the directory shown as `DIR/`) and what became of the
    /// file, under `program`.
    fn outcome(&self, program: &str) -> String {
        let files = Files::new();
        if let Some(text) = self.existing {
            files.write("pw", text);
        }
        let file = files.path("pw").display().to_string();
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| a.replace("{file}", &file))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let done = run(program, &args, self.stdin);
        let dir = files.path("").display().to_string();
        let file = match (std::fs::read_to_string(&file).ok(), self.existing) {
            (None, _) => "absent",
            (Some(now), Some(before)) if now == before => "unchanged",
            (Some(_), _) => "written",
        };
        format!(
            "code {:?}\nstdout {:?}\nstderr {:?}\nfile {file}",
            done.code,
            done.stdout.replace(&dir, "DIR/"),
            done.stderr.replace(&dir, "DIR/"),
        )
    }
}

// Not compared: a corrupt line. mosquitto_passwd 2.0.11 prints "Corrupt password file at
// line N", then drops that line, writes the rest and exits 0 (and calls a `#` comment
// corrupt); midge_passwd exits 1 and leaves the file as it was (passwd_cli_tests.rs).
#[test]
fn failures_give_the_same_exit_codes_and_messages_as_mosquitto_passwd() {
    if !mosquitto_tools() {
        return;
    }
    const PLAIN: Option<&str> = Some("alice:alicepw\n");
    let cases = [
        case(None, &["-c", "{file}", "alice"], Some(b"one\ntwo\n")),
        case(None, &["-c", "{file}", "alice"], None),
        case(None, &["-b", "{file}", "alice", "pw"], None),
        case(None, &["-D", "{file}", "alice"], None),
        case(None, &["-U", "{file}"], None),
        case(PLAIN, &["-D", "{file}", "bob"], None),
        case(PLAIN, &["-c", "-D", "{file}", "alice"], None),
        case(PLAIN, &["-b", "{file}", "a:b", "pw"], None),
        case(PLAIN, &["-H", "md5", "-b", "{file}", "bob", "pw"], None),
    ];
    for case in &cases {
        assert_eq!(
            case.outcome(MIDGE_PASSWD),
            case.outcome("mosquitto_passwd"),
            "midge_passwd (left) and mosquitto_passwd (right) differ for {:?}",
            case.args
        );
    }
}
