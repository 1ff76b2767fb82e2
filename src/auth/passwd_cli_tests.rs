//! midge_passwd against mosquitto_passwd 2.0.11's messages and exit codes (each expected
//! text below was printed by mosquitto_passwd for the same arguments).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::Path;

use super::*;
use crate::auth::PasswordFile;

#[derive(Default)]
struct Fake {
    out: String,
    err: String,
    typed: VecDeque<&'static str>,
}

impl Console for Fake {
    fn out(&mut self, text: &str) {
        self.out.push_str(text);
    }
    fn err(&mut self, text: &str) {
        self.err.push_str(text);
    }
    fn read_hidden_line(&mut self) -> Option<Vec<u8>> {
        self.typed.pop_front().map(|s| s.as_bytes().to_vec())
    }
}

fn passwd(args: &[&str], typed: &[&'static str]) -> (i32, Fake) {
    let mut argv: Vec<OsString> = vec!["midge_passwd".into()];
    argv.extend(args.iter().map(OsString::from));
    let mut console = Fake {
        typed: typed.iter().copied().collect(),
        ..Fake::default()
    };
    let code = run(&argv, &mut console);
    (code, console)
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn load(path: &Path) -> PasswordFile {
    PasswordFile::parse(&std::fs::read(path).unwrap()).0
}

#[test]
fn without_arguments_prints_usage_and_exits_1() {
    let (code, c) = passwd(&[], &[]);
    assert_eq!(code, 1);
    assert!(
        c.out
            .starts_with("midge_passwd is a tool for managing password files")
    );
    assert!(
        c.out
            .contains(" -U : update a plain text password file to use hashed passwords.\n")
    );
    assert_eq!(c.err, "");
}

#[test]
fn argument_errors_match_mosquitto_passwd() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-H"],
            "Error: -H argument given but not enough other arguments.\n",
        ),
        (&["-H", "md5", "f", "u"], "Error: Unknown hash type 'md5'\n"),
        (
            &["-I"],
            "Error: -I argument given but not enough other arguments.\n",
        ),
        (
            &["-I", "0", "f", "u"],
            "Error: Number of iterations must be > 0.\n",
        ),
        (
            &["-I", "x", "f", "u"],
            "Error: Number of iterations must be > 0.\n",
        ),
        (
            &["-c", "-D", "f", "u"],
            "Error: -c and -D cannot be used together.\n",
        ),
        (
            &["-c", "-U", "f"],
            "Error: -c and -U cannot be used together.\n",
        ),
        (
            &["-D", "-U", "f"],
            "Error: -D and -U cannot be used together.\n",
        ),
        (
            &["-b", "-D", "f", "u"],
            "Error: -b and -D cannot be used together.\n",
        ),
        (
            &["-c", "f"],
            "Error: -c argument given but password file or username missing.\n",
        ),
        (
            &["-c", "-b", "f", "u"],
            "Error: -c argument given but password file, username, or password missing.\n",
        ),
        (
            &["-D", "f"],
            "Error: -D argument given but password file or username missing.\n",
        ),
        (
            &["-U"],
            "Error: -U argument given but password file missing.\n",
        ),
        (
            &["-U", "f", "g"],
            "Error: -U argument given but password file missing.\n",
        ),
        (
            &["-b", "f", "a:b", "p"],
            "Error: Username must not contain the ':' character.\n",
        ),
        (
            &["-b", "f", "a\tb", "p"],
            "Error: Username must not contain control characters.\n",
        ),
    ];
    for &(args, expected) in cases {
        let (code, c) = passwd(args, &[]);
        assert_eq!((code, c.err.as_str()), (1, expected), "{args:?}");
    }
    // Wrong counts of positional arguments print the usage.
    for args in [&["f"][..], &["-b", "f", "u"], &["f", "u", "p"]] {
        let (code, c) = passwd(args, &[]);
        assert_eq!(code, 1, "{args:?}");
        assert!(c.out.contains("Usage: midge_passwd"), "{args:?}");
    }
}

#[test]
fn create_batch_writes_one_pbkdf2_entry_with_101_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "old:junk\n").unwrap();
    let (code, c) = passwd(&["-c", "-b", path_str(&file), "alice", "secret"], &[]);
    assert_eq!((code, c.out.as_str(), c.err.as_str()), (0, "", ""));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("alice:$7$101$"), "{text}");
    assert_eq!(text.lines().count(), 1);
    assert!(load(&file).check("alice", Some(b"secret")).is_some());
}

#[test]
fn sha512_and_iteration_options_choose_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = path_str(&file);
    assert_eq!(
        passwd(&["-H", "sha512", "-c", "-b", path, "a", "x"], &[]).0,
        0
    );
    assert_eq!(passwd(&["-I", "7", "-b", path, "b", "y"], &[]).0, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("a:$6$"), "{text}");
    assert!(lines[1].starts_with("b:$7$7$"), "{text}");
    let file = load(&file);
    assert!(file.check("a", Some(b"x")).is_some());
    assert!(file.check("b", Some(b"y")).is_some());
}

#[test]
fn update_replaces_the_users_line_in_place_and_appends_new_users() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = path_str(&file);
    passwd(&["-c", "-b", path, "alice", "one"], &[]);
    passwd(&["-b", path, "bob", "two"], &[]);
    let before = std::fs::read_to_string(&file).unwrap();
    assert_eq!(passwd(&["-b", path, "alice", "three"], &[]).0, 0);
    let after = std::fs::read_to_string(&file).unwrap();
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert!(a[0].starts_with("alice:") && a[0] != b[0]);
    assert_eq!(a[1], b[1], "bob's line is kept byte for byte");
    let loaded = load(&file);
    assert!(loaded.check("alice", Some(b"three")).is_some());
    assert!(loaded.check("alice", Some(b"one")).is_none());
    assert!(!dir.path().join("pw.tmp").exists(), "the backup is removed");
}

#[test]
fn comments_blank_lines_and_a_missing_last_newline_survive_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = path_str(&file);
    passwd(&["-c", "-b", path, "alice", "one"], &[]);
    let alice = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# users\n\n{}", alice.trim_end())).unwrap();
    assert_eq!(passwd(&["-b", path, "bob", "two"], &[]).0, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["# users", "", alice.trim_end()]);
    assert!(lines[3].starts_with("bob:$7$"));
}

#[test]
fn interactive_update_asks_twice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = path_str(&file);
    let (code, c) = passwd(&["-c", path, "alice"], &["pw1", "pw1"]);
    assert_eq!(code, 0);
    assert_eq!(c.out, "Password: \nReenter password: \n");
    let (code, c) = passwd(&[path, "alice"], &["pw2", "pw3"]);
    assert_eq!(
        (code, c.err.as_str()),
        (2, "Error: Passwords do not match.\n")
    );
    assert_eq!(c.out, "Password: \nReenter password: \n");
    let (code, c) = passwd(&[path, "alice"], &[""]);
    assert_eq!((code, c.err.as_str()), (1, "Error: Empty password.\n"));
    assert_eq!(c.out, "Password: ");
    let (code, c) = passwd(&[path, "alice"], &["pw4"]);
    assert_eq!((code, c.err.as_str()), (1, "Error: Empty password.\n"));
    assert!(load(&file).check("alice", Some(b"pw1")).is_some());
    assert_eq!(passwd(&[path, "bob"], &["pw5", "pw5"]).0, 0);
    assert!(load(&file).check("bob", Some(b"pw5")).is_some());
    assert!(!dir.path().join("pw.tmp").exists());
}

#[test]
fn delete_removes_the_user_or_warns() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = path_str(&file);
    passwd(&["-c", "-b", path, "alice", "one"], &[]);
    passwd(&["-b", path, "bob", "two"], &[]);
    assert_eq!(passwd(&["-D", path, "alice"], &[]).0, 0);
    let loaded = load(&file);
    assert_eq!(loaded.len(), 1);
    assert!(loaded.check("bob", Some(b"two")).is_some());
    let (code, c) = passwd(&["-D", path, "alice"], &[]);
    assert_eq!(
        (code, c.err.as_str()),
        (1, "Warning: User alice not found in password file.\n")
    );
    assert_eq!(load(&file).len(), 1, "a failed delete changes nothing");
}

#[test]
fn convert_hashes_plain_text_passwords_and_leaves_hashes_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let path = path_str(&file);
    passwd(&["-c", "-b", path, "hashed", "h"], &[]);
    let hashed = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{hashed}plain: p1 \ncolon:a:b\n")).unwrap();
    assert_eq!(passwd(&["-I", "5", "-U", path], &[]).0, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], hashed.trim_end());
    // -I does not apply to -U in mosquitto_passwd: the default count is used.
    assert!(lines[1].starts_with("plain:$7$101$"), "{text}");
    let loaded = load(&file);
    assert!(loaded.check("hashed", Some(b"h")).is_some());
    assert!(loaded.check("plain", Some(b"p1")).is_some());
    // As with strtok, the password ends at the next ':'.
    assert!(loaded.check("colon", Some(b"a")).is_some());
}

#[test]
fn corrupt_lines_stop_an_update_with_the_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "# ok\na:b\nnocolon\n").unwrap();
    let (code, c) = passwd(&["-b", path_str(&file), "x", "y"], &[]);
    assert_eq!(
        (code, c.err.as_str()),
        (1, "Error: Corrupt password file at line 3.\n")
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# ok\na:b\nnocolon\n"
    );
    assert!(!dir.path().join("pw.tmp").exists());
}

#[test]
fn a_missing_file_is_reported_with_strerror() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("missing");
    let (code, c) = passwd(&["-b", path_str(&file), "u", "p"], &[]);
    let expected = format!(
        "Error: Unable to open password file {}. No such file or directory.\n",
        file.display()
    );
    assert_eq!((code, c.err), (1, expected));
    let (code, c) = passwd(&["-c", "-b", "/nonexistent-dir/pw", "u", "p"], &[]);
    assert_eq!(
        (code, c.err.as_str()),
        (
            1,
            "Error: Unable to open file /nonexistent-dir/pw for writing. No such file or directory.\n"
        )
    );
}

#[test]
fn atoi_reads_like_c() {
    assert_eq!(atoi(b"101"), 101);
    assert_eq!(atoi(b" 12abc"), 12);
    assert_eq!(atoi(b"-3"), -3);
    assert_eq!(atoi(b"abc"), 0);
}
