//! `midge --test-config` on Debian's own mosquitto configs (copies in tests/fixtures/debian):
//! one line per key a user must know about, nothing else.

mod common;

use std::path::{Path, PathBuf};

use common::clients::run;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debian")
}

/// `midge --test-config -c FILE`: (exit code, stderr lines with FILE shown as `FILE`).
fn test_config(file: &Path) -> (Option<i32>, Vec<String>) {
    let path = file.display().to_string();
    let done = run(
        env!("CARGO_BIN_EXE_midge"),
        &["--test-config", "-c", &path],
        None,
    );
    let lines = done
        .stderr
        .lines()
        .map(|l| l.replace(&path, "FILE"))
        .collect();
    (done.code, lines)
}

#[test]
fn debians_stock_config_with_persistence_is_valid_without_a_word() {
    // The stock file includes /etc/mosquitto/conf.d; here its copy beside it.
    let dir = tempfile::tempdir().expect("tempdir");
    let stock = std::fs::read_to_string(fixtures().join("mosquitto.conf")).expect("fixture");
    let conf_d = fixtures().join("conf.d").display().to_string();
    let file = dir.path().join("mosquitto.conf");
    std::fs::write(&file, stock.replace("/etc/mosquitto/conf.d", &conf_d)).expect("write");
    let (code, lines) = test_config(&file);
    assert_eq!(lines, ["FILE: configuration is valid."]);
    assert_eq!(code, Some(0));
}

#[test]
fn the_annotated_example_config_with_every_key_commented_out_is_valid_without_a_word() {
    let (code, lines) = test_config(&fixtures().join("mosquitto.conf.example"));
    assert_eq!(lines, ["FILE: configuration is valid."]);
    assert_eq!(code, Some(0));
}

/// The example with each `#key value` line uncommented, up to the bridge section (whose
/// lines need a real `connection` line and address to mean anything). Lines without a
/// value (`#listener`, `#certfile`) stay comments: they have nothing to uncomment.
fn uncommented_example() -> String {
    let text = std::fs::read_to_string(fixtures().join("mosquitto.conf.example")).expect("fixture");
    let mut in_bridges = false;
    let mut out = String::new();
    for line in text.lines() {
        in_bridges |= line.starts_with("#connection <name>");
        let key_and_value = line
            .strip_prefix('#')
            .and_then(|l| l.split_once(' '))
            .filter(|(k, v)| {
                !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !v.trim().is_empty()
                    && !v.contains('<')
            });
        match key_and_value {
            Some(_) if !in_bridges => out.push_str(&line[1..]),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_annotated_example_config_uncommented_says_what_midge_does_differently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("example.conf");
    std::fs::write(&file, uncommented_example()).expect("write");
    let (code, lines) = test_config(&file);
    // Everything else it sets is mosquitto's default, which midge honours: not a word.
    assert_eq!(
        lines,
        [
            "Warning: FILE:173: 'sys_interval' is not supported yet: midge publishes no $SYS topics",
            "Warning: FILE:512: allow_anonymous false has no effect without a 'listener' line: \
             mosquitto 2.0 then allows anonymous clients",
            "FILE: configuration is valid.",
        ]
    );
    assert_eq!(code, Some(0));
}
