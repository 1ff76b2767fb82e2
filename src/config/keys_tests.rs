//! The table of keys agrees with the parser and with README.md.

use std::collections::HashSet;

use super::super::{Config, ConfigError, ConfigWarning};
use super::{Arg, KEYS, Key, Status, find};

/// A value each key accepts, for the checks below.
fn sample(key: &Key) -> String {
    let value = match key.name {
        "listener" => "1884",
        "port" => "1885",
        "bind_address" => "127.0.0.1",
        "socket_domain" => "ipv4",
        "protocol" => "mqtt",
        "log_dest" => "stderr",
        "log_type" => "error",
        "persistent_client_expiration" => "1d",
        "tls_version" => "tlsv1.2",
        "tls_keyform" => "pem",
        "max_qos" | "maximum_qos" | "log_facility" => "1",
        "log_timestamp_format" => "%H:%M:%S",
        "user" => "nobody",
        "persistence_sync" => "fsync",
        _ => match (key.arg, key.status) {
            (Arg::Bool, Status::Implemented | Status::MidgeOnly) => "false",
            (Arg::Bool, _) => "true",
            (Arg::Int, _) => "100",
            (Arg::Text | Arg::Bridge, _) => "/x",
        },
    };
    value.to_string()
}

/// The key as it is written in a file (`auth_opt_*` becomes `auth_opt_x`).
fn written(key: &Key) -> String {
    key.name.replace('*', "x")
}

/// A file that gives `key` its sample value, with what it needs around it.
fn file_with(key: &Key, include_dir: &str) -> String {
    let name = written(key);
    let value = match key.name {
        "include_dir" => include_dir.to_string(),
        _ => sample(key),
    };
    let mut text = String::from("listener 1883\n");
    if key.arg == Arg::Bridge {
        text.push_str("connection b\n");
    }
    let tls = super::super::tls::KEYS.contains(&key.name);
    for (k, v) in [("certfile", "/c"), ("keyfile", "/k")] {
        if tls && k != key.name {
            text.push_str(&format!("{k} {v}\n"));
        }
    }
    text.push_str(&format!("{name} {value}\n"));
    text
}

fn parse(text: &str) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
    Config::parse(text, "t.conf")
}

fn line_of(text: &str, name: &str) -> usize {
    let at = text
        .lines()
        .position(|l| l.starts_with(&format!("{name} ")));
    at.map_or(0, |i| i + 1)
}

#[test]
fn every_key_is_listed_once() {
    let mut seen = HashSet::new();
    for key in KEYS {
        assert!(seen.insert(key.name), "{} is listed twice", key.name);
    }
    for key in super::super::tls::KEYS {
        let status = find(key).map(|k| k.status);
        assert_eq!(status, Some(Status::Implemented), "{key}");
    }
}

/// Keys whose values are checked as mosquitto checks them, and then refused.
const PARSED_BUT_REFUSED: &[&str] = &["mount_point"];

#[test]
fn every_implemented_key_has_a_parser_and_is_not_warned_about() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let dir = dir.path().display().to_string();
    for key in KEYS
        .iter()
        .filter(|k| matches!(k.status, Status::Implemented | Status::MidgeOnly))
    {
        let text = file_with(key, &dir);
        let line = line_of(&text, &written(key));
        match parse(&text) {
            Ok((_, warnings)) => {
                let about_it: Vec<_> = warnings
                    .iter()
                    .filter(|w| w.line == line && w.message.contains("not supported"))
                    .collect();
                assert!(about_it.is_empty(), "{}: {about_it:?}", key.name);
            }
            // Parsed with all its checks, then refused until the broker honours it.
            Err(e) if PARSED_BUT_REFUSED.contains(&key.name) => {
                assert!(e.message.contains("not implemented yet"), "{e}");
            }
            Err(e) => panic!("{}: {e}", key.name),
        }
    }
    Ok(())
}

#[test]
fn every_warned_key_warns_once_naming_itself() {
    for key in KEYS {
        let (Status::Warn(why) | Status::Later { warning: why, .. }) = key.status else {
            continue;
        };
        let name = written(key);
        let text = file_with(key, "");
        // A second line of the same key does not warn again (but a second bridge does).
        let twice = match key.name {
            "connection" => text.clone(),
            _ => format!("{text}{name} {}\n", sample(key)),
        };
        let (_, warnings) = parse(&twice).unwrap_or_else(|e| panic!("{name}: {e}"));
        let line = line_of(&text, &name);
        let expected = match (key.arg, key.name) {
            // The bridge's `connection` line says it all.
            (Arg::Bridge, _) => "bridge 'b' does not run".to_string(),
            (_, "connection") => "bridge '/x' does not run".to_string(),
            _ => format!("'{name}' {why}"),
        };
        let at = if key.arg == Arg::Bridge { 2 } else { line };
        let found: Vec<_> = warnings
            .iter()
            .filter(|w| w.message.starts_with(&expected))
            .collect();
        assert_eq!(found.len(), 1, "{name}: {warnings:?}");
        assert_eq!(found[0].line, at, "{name}");
        if key.name != "connection" {
            let more = warnings
                .iter()
                .filter(|w| w.message.contains(&name))
                .count();
            assert!(more <= 1, "{name} warned more than once: {warnings:?}");
        }
        if let Some(quiet) = key.quiet {
            let (_, warnings) = parse(&format!("{name} {quiet}\n")).unwrap_or_default();
            assert!(warnings.is_empty(), "{name} {quiet}: {warnings:?}");
        }
    }
}

#[test]
fn every_refused_key_is_an_error_naming_itself_and_why() {
    for key in KEYS {
        let Status::Refused(why) = key.status else {
            continue;
        };
        let name = written(key);
        let text = file_with(key, "");
        match parse(&text) {
            Ok(_) => panic!("{name} should be refused"),
            Err(e) => {
                assert_eq!(e.line, line_of(&text, &name), "{name}: {e}");
                assert_eq!(e.message, format!("'{name}' {why}"));
            }
        }
    }
}

#[test]
fn every_refused_key_of_a_file_is_named_at_once() {
    let text = "plugin /p.so\nlisten 1\nlistener 1883\nprotocol websockets\npsk_hint h\n";
    let e = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
    let lines: Vec<_> = e.lines().collect();
    assert_eq!(lines.len(), 3, "{e}");
    assert!(lines[0].starts_with("Error: t.conf:1: 'plugin' is not supported"));
    assert!(lines[1].starts_with("Error: t.conf:4: 'protocol websockets'"));
    assert!(lines[2].starts_with("Error: t.conf:5: 'psk_hint'"));
}

/// The rows of README's table of config keys: (first cell, status cell).
fn readme_rows() -> Vec<(String, String)> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## The config file\n")
        .nth(1)
        .and_then(|s| s.split("\n#").next())
        .unwrap_or("");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let unescaped = l.replace("\\|", "/");
            let cells: Vec<_> = unescaped.split('|').map(str::trim).collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or("").to_string();
            (cell(1), cell(2))
        })
        .collect()
}

/// `listener PORT [ADDRESS]` names `listener`.
fn row_key(cell: &str) -> &str {
    let inner = cell.trim_start_matches('`');
    let end = inner.find([' ', '`']).unwrap_or(inner.len());
    &inner[..end]
}

#[test]
fn readme_lists_every_key_with_its_status() {
    let rows = readme_rows();
    assert!(
        !rows.is_empty(),
        "README has no table under '## The config file'"
    );
    for key in KEYS {
        let row = rows.iter().find(|(cell, _)| row_key(cell) == key.name);
        let Some((_, status)) = row else {
            panic!(
                "README's table of config keys has no row for `{}`",
                key.name
            );
        };
        assert_eq!(
            status,
            &key.status.label(),
            "README's status of `{}`",
            key.name
        );
    }
    for (cell, _) in &rows {
        let name = row_key(cell);
        let listed = KEYS.iter().any(|k| k.name == name);
        assert!(
            listed,
            "README lists `{name}`, which src/config/keys.rs does not"
        );
        assert_eq!(cell.matches('`').count(), 2, "one key per row: {cell}");
    }
}
