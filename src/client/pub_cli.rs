//! `midge_pub`: publish one message (or one per line of stdin) and exit, as mosquitto_pub
//! does: same flags, same output, same errors and exit codes.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::mpsc::{self, TryRecvError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{ArgAction, Parser};

use super::cli::{self, ArgError, BadValue, ClientConfig, CommonArgs, Console, Tool};
use super::error::{ClientError, reason_string};
use super::session::{Client, Event};
use super::usage::pub_usage;
use crate::protocol::{Properties, QoS, Version};

/// libmosquitto's default limit on QoS 1/2 messages awaiting acknowledgement (`-M`).
const MAX_INFLIGHT: usize = 20;
/// How often `-l` looks for new lines while the connection is otherwise idle.
const STDIN_TICK: Duration = Duration::from_millis(50);

#[derive(Parser, Debug)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct PubArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(short = 't', long = "topic", allow_hyphen_values = true, value_parser = pub_topic)]
    pub topic: Option<String>,
    #[arg(short = 'm', long = "message", allow_hyphen_values = true, action = ArgAction::Append,
          value_parser = clap::value_parser!(OsString))]
    pub message: Vec<OsString>,
    #[arg(short = 'f', long = "file", allow_hyphen_values = true, action = ArgAction::Append,
          value_parser = clap::value_parser!(PathBuf))]
    pub file: Vec<PathBuf>,
    #[arg(short = 'l', long = "stdin-line", action = ArgAction::Count)]
    pub stdin_line: u8,
    #[arg(short = 's', long = "stdin-file", action = ArgAction::Count)]
    pub stdin_file: u8,
    #[arg(short = 'n', long = "null-message", action = ArgAction::Count)]
    pub null_message: u8,
    #[arg(short = 'r', long = "retain")]
    pub retain: bool,
}

pub(crate) fn pub_topic(s: &str) -> Result<String, BadValue> {
    if cli::is_valid_pub_topic(s) {
        Ok(s.to_string())
    } else {
        Err(BadValue(format!(
            "Error: Invalid publish topic '{s}', does it contain '+' or '#'?\n"
        )))
    }
}

/// Where the message comes from: exactly one of -m, -f, -l, -s, -n.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Message(Vec<u8>),
    File(PathBuf),
    StdinLines,
    Stdin,
    Null,
}

impl Source {
    /// The one source the flags name (None: no flag), or mosquitto's complaint about several.
    pub(crate) fn chosen(
        message: Vec<OsString>,
        file: Vec<PathBuf>,
        stdin_line: u8,
        stdin_file: u8,
        null_message: u8,
    ) -> Result<Option<Source>, ArgError> {
        let count = message.len()
            + file.len()
            + usize::from(stdin_line)
            + usize::from(stdin_file)
            + usize::from(null_message);
        if count > 1 {
            return Err(ArgError::Usage(
                "Error: Only one type of message can be sent at once.\n\n".into(),
            ));
        }
        Ok(if let Some(message) = message.into_iter().next() {
            Some(Source::Message(message.into_vec()))
        } else if let Some(file) = file.into_iter().next() {
            Some(Source::File(file))
        } else if stdin_line > 0 {
            Some(Source::StdinLines)
        } else if stdin_file > 0 {
            Some(Source::Stdin)
        } else if null_message > 0 {
            Some(Source::Null)
        } else {
            None
        })
    }

    /// The payload to send (empty for -l, whose lines come later); None after reporting why
    /// it cannot be read. Takes stdin for -s.
    pub(crate) fn load(
        source: Option<&Source>,
        stdin: &mut Option<Box<dyn Read + Send>>,
        report: &dyn Fn(&str),
    ) -> Option<Bytes> {
        match source {
            Some(Source::Message(m)) => Some(Bytes::from(m.clone())),
            Some(Source::Null) | Some(Source::StdinLines) | None => Some(Bytes::new()),
            Some(Source::Stdin) => {
                let mut all = Vec::new();
                let read = stdin.take().map(|mut s| s.read_to_end(&mut all));
                if !matches!(read, Some(Ok(n)) if n > 0) {
                    report("Error: Zero length input.\n");
                    report("Error loading input from stdin.\n");
                    return None;
                }
                Some(Bytes::from(all))
            }
            Some(Source::File(path)) => match std::fs::read(path) {
                Ok(contents) => Some(Bytes::from(contents)),
                Err(_) => {
                    let name = path.display();
                    report(&format!("Error: Unable to open file \"{name}\".\n"));
                    report(&format!("Error loading input file \"{name}\".\n"));
                    None
                }
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct PubConfig {
    pub client: ClientConfig,
    /// Missing topic or source is reported only after the input is read, as mosquitto does.
    pub topic: Option<String>,
    pub source: Option<Source>,
    pub qos: QoS,
    pub retain: bool,
    /// `-D publish ...`.
    pub publish_properties: Properties,
}

/// Reads a command line (without the program name) as mosquitto_pub would.
pub fn parse_args(args: &[OsString]) -> Result<PubConfig, ArgError> {
    let (args, properties, forces_v5) =
        cli::parse_command_line::<PubArgs>(args, |a| a.common.help_or_version())?;
    if let Some(stop) = args.common.help_or_version() {
        return Err(stop);
    }
    let source = Source::chosen(
        args.message,
        args.file,
        args.stdin_line,
        args.stdin_file,
        args.null_message,
    )?;
    let qos = args.common.qos.unwrap_or_default();
    let client = args.common.finish(Tool::Pub, properties, forces_v5)?;
    client.properties.check(client.quiet)?;
    Ok(PubConfig {
        publish_properties: client.properties.publish.to_properties(),
        client,
        topic: args.topic,
        source,
        qos,
        retain: args.retain,
    })
}

/// The `midge_pub` binary.
pub fn main() -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let code = run(&argv, Box::new(std::io::stdin()), &Console::stdio());
    std::process::exit(code)
}

/// Runs midge_pub with `argv` (program name first); returns the exit code.
pub fn run(argv: &[OsString], stdin: Box<dyn Read + Send>, console: &Console) -> i32 {
    let program = cli::program_name(argv, "midge_pub");
    let usage = pub_usage(&program);
    let config = match parse_args(argv.get(1..).unwrap_or_default()) {
        Ok(config) => config,
        Err(e) => return console.arg_error(&e, &program, &usage),
    };
    let report = |text: &str| {
        if !config.client.quiet {
            console.err(text);
        }
    };
    let mut stdin = Some(stdin);
    let Some(payload) = Source::load(config.source.as_ref(), &mut stdin, &report) else {
        return 1;
    };
    let (Some(topic), Some(source)) = (&config.topic, &config.source) else {
        let e = ArgError::WithHelp("Error: Both topic and message must be supplied.\n".into());
        return console.arg_error(&e, &program, &usage);
    };
    let checks = config.client.check_id("Error: Invalid id.\n");
    if let Err(e) = checks.and_then(|()| config.client.check_credentials()) {
        return console.arg_error(&e, &program, &usage);
    }
    if let Some(text) = config.client.unsupported_connect_properties() {
        console.err(&text);
        return 1;
    }
    if config.client.connect.port == 0 {
        // mosquitto takes port 0 to mean a unix socket named after the host, which midge's
        // tools do not support; this is what mosquitto says when there is none.
        report("Error: No such file or directory\n");
        return 1;
    }
    let log = config.client.debug.then(|| console.logger());
    let mut client = match Client::connect(&config.client.connect, log) {
        Ok(client) => client,
        Err(e) => return failure(&e, &report),
    };
    let lines = matches!(source, Source::StdinLines);
    let result = match stdin {
        Some(stdin) if lines => publish_lines(&mut client, &config, topic, stdin, &report),
        _ => publish_one(&mut client, &config, topic, payload, &report),
    };
    // The work is done (or refused locally); a failure to say goodbye changes nothing.
    let goodbye = |client: &mut Client| {
        let properties = config.client.properties.disconnect.to_properties();
        let _ = client.disconnect_with(0, properties);
    };
    match result {
        Ok(()) => {
            goodbye(&mut client);
            0
        }
        Err(e @ (ClientError::InvalidTopic | ClientError::QosNotSupported)) if !lines => {
            // mosquitto_pub reports these, disconnects cleanly, and still exits 0...
            report(&format!("{e}\n"));
            goodbye(&mut client);
            0
        }
        Err(e @ (ClientError::InvalidTopic | ClientError::QosNotSupported)) => {
            // ...except with -l, which gives up with the bare libmosquitto error.
            report(&format!("Error: {}\n", e.strerror()));
            e.code()
        }
        Err(e) => failure(&e, &report),
    }
}

/// Reports an error that ended the session; returns mosquitto_pub's exit code for it.
fn failure(e: &ClientError, report: &dyn Fn(&str)) -> i32 {
    report(&format!("{e}\n"));
    match e {
        // Failures to connect leave mosquitto_pub through its generic cleanup path.
        ClientError::Lookup | ClientError::Connect(_) | ClientError::Tls(_) => 1,
        ClientError::Refused { code, .. } => {
            report(&format!("Error: {}\n", e.strerror()));
            i32::from(*code)
        }
        other => other.code(),
    }
}

fn publish_one(
    client: &mut Client,
    config: &PubConfig,
    topic: &str,
    payload: Bytes,
    report: &dyn Fn(&str),
) -> Result<(), ClientError> {
    send(client, config, topic, payload, &mut true)?;
    while client.inflight() > 0 {
        if let Some(event) = client.poll(None)? {
            warn_if_refused(&event, report);
        }
    }
    Ok(())
}

/// `-l`: one message per line of stdin, read on a thread so that the connection is served
/// (acknowledgements, pings) while stdin is quiet.
fn publish_lines(
    client: &mut Client,
    config: &PubConfig,
    topic: &str,
    stdin: Box<dyn Read + Send>,
    report: &dyn Fn(&str),
) -> Result<(), ClientError> {
    let (tx, lines) = mpsc::sync_channel::<Vec<u8>>(MAX_INFLIGHT);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdin);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut end_of_input = false;
    let mut first = true;
    loop {
        while !end_of_input && client.inflight() < MAX_INFLIGHT {
            match lines.try_recv() {
                Ok(line) => send(client, config, topic, Bytes::from(line), &mut first)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => end_of_input = true,
            }
        }
        if end_of_input && client.inflight() == 0 {
            return Ok(());
        }
        let waiting_for_input = !end_of_input && client.inflight() < MAX_INFLIGHT;
        let until = waiting_for_input.then(|| Instant::now() + STDIN_TICK);
        if let Some(event) = client.poll(until)? {
            warn_if_refused(&event, report);
        }
    }
}

/// Publishes as mosquitto_pub's my_publish does: with the `-D publish` properties, and by
/// topic alias alone once the first message has set the alias up.
fn send(
    client: &mut Client,
    config: &PubConfig,
    topic: &str,
    payload: Bytes,
    first: &mut bool,
) -> Result<(), ClientError> {
    let properties = &config.publish_properties;
    if client.version() != Version::V5 && !properties.is_empty() {
        // `-D` then `-V 311`: libmosquitto refuses, and mosquitto_pub says nothing.
        return Ok(());
    }
    let topic = if properties.topic_alias.is_some() && !*first {
        ""
    } else {
        topic
    };
    *first = false;
    client.publish_with(topic, payload, config.qos, config.retain, properties)?;
    Ok(())
}

/// MQTT 5 brokers can refuse a publish in PUBACK or PUBREC; mosquitto_pub warns and goes on.
fn warn_if_refused(event: &Event, report: &dyn Fn(&str)) {
    if let Event::Published {
        packet_id,
        reason: reason @ 0x80..,
        reason_string: text,
    } = event
    {
        let why = reason_string(*reason);
        report(&format!("Warning: Publish {packet_id} failed: {why}.\n"));
        if let Some(text) = text {
            report(&format!("{text}\n"));
        }
    }
}
