//! clap's errors in mosquitto's words: scripts written for mosquitto_pub and mosquitto_sub
//! match on the texts of client_shared.c (2.0.11), so every refusal is reworded.

use std::error::Error;
use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::cli::{ArgError, BadValue};

/// mosquitto's message for a value flag given last, with no value after it.
fn missing_value_message(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "-h" | "--host" => "Error: -h argument given but no host specified.\n\n",
        "-p" | "--port" => "Error: -p argument given but no port specified.\n\n",
        "-q" | "--qos" => "Error: -q argument given but no QoS specified.\n\n",
        "-i" | "--id" => "Error: -i argument given but no id specified.\n\n",
        "-I" | "--id-prefix" => "Error: -I argument given but no id prefix specified.\n\n",
        "-u" | "--username" => "Error: -u argument given but no username specified.\n\n",
        "-P" | "--pw" => "Error: -P argument given but no password specified.\n\n",
        "-k" | "--keepalive" => "Error: -k argument given but no keepalive specified.\n\n",
        "-V" | "--protocol-version" => {
            "Error: --protocol-version argument given but no version specified.\n\n"
        }
        "--will-topic" => "Error: --will-topic argument given but no will topic specified.\n\n",
        "--will-payload" => {
            "Error: --will-payload argument given but no will payload specified.\n\n"
        }
        "--will-qos" => "Error: --will-qos argument given but no will QoS specified.\n\n",
        "-t" | "--topic" => "Error: -t argument given but no topic specified.\n\n",
        "-m" | "--message" => "Error: -m argument given but no message specified.\n\n",
        "-f" | "--file" => "Error: -f argument given but no file specified.\n\n",
        "-C" => "Error: -C argument given but no count specified.\n\n",
        "-W" => "Error: -W argument given but no timeout specified.\n\n",
        "-T" | "--filter-out" => "Error: -T argument given but no topic filter specified.\n\n",
        "-U" | "--unsubscribe" => {
            "Error: -U argument given but no unsubscribe topic specified.\n\n"
        }
        "-x" => "Error: -x argument given but no session expiry interval specified.\n\n",
        "-F" => "Error: -F argument given but no format specified.\n\n",
        "-e" => "Error: -e argument given but no response topic specified.\n\n",
        "--rh" => "Error: --rh argument given but no retain handling specified.\n\n",
        _ => return None,
    })
}

/// Rewords a clap error about `args` the way mosquitto's parser would have reported it.
pub fn from_clap(err: clap::Error, args: &[OsString]) -> ArgError {
    // The flag clap complains about, e.g. "-q" out of "-q <QOS>" or "--qos <QOS>".
    let flag = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.split([' ', '=']).next().unwrap_or("").to_string(),
        _ => String::new(),
    };
    // mosquitto reads left to right and stops at --help or --version: those win over any
    // error that comes after them.
    let position = |token: &str| args.iter().position(|a| a.as_os_str() == token);
    let failed_at = match err.get(ContextKind::InvalidValue) {
        // A refused value: clap names its flag by the long name, so find the value instead.
        Some(ContextValue::String(value)) if !value.is_empty() => position(value),
        _ => position(&flag),
    }
    .unwrap_or(args.len());
    match (position("--help"), position("--version")) {
        (Some(h), v) if h < failed_at && v.is_none_or(|v| h < v) => return ArgError::Help,
        (_, Some(v)) if v < failed_at => return ArgError::Version,
        _ => {}
    }
    if let Some(bad) = err.source().and_then(|s| s.downcast_ref::<BadValue>()) {
        return ArgError::Usage(bad.0.clone());
    }
    match err.kind() {
        ErrorKind::InvalidUtf8 => {
            let short = missing_value_message(&flag)
                .and_then(|m| m.strip_prefix("Error: "))
                .and_then(|m| m.split(' ').next())
                .unwrap_or(&flag);
            ArgError::Usage(format!("Error: Malformed UTF-8 in {short} argument.\n\n"))
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals => match missing_value_message(&flag) {
            Some(message) => ArgError::Usage(message.to_string()),
            None => ArgError::Usage(format!("Error: Unknown option '{flag}'.\n")),
        },
        _ => ArgError::Usage(format!("Error: Unknown option '{flag}'.\n")),
    }
}
