//! `midge_rr`: MQTT 5 request/response from the command line, as mosquitto_rr does it
//! (client/rr_client.c of 2.0.11). It subscribes to the response topic (`-e`), publishes the
//! request on `-t` with that topic as its Response Topic property, prints the first message
//! that arrives on the response topic and exits. Correlation data and other properties come
//! from `-D publish ...`, as with mosquitto_rr.
//!
//! Like mosquitto_rr it leaves without DISCONNECT once the response is printed (so a will is
//! published), accepts `-R` and `--retain-as-published` without acting on them, and with
//! `-V 311` sends a plain request and prints whatever arrives on the response topic. Unlike
//! 2.0.11, whose `-f` and `-s` send an empty request, it sends the file or stdin.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{ArgAction, Parser};

use super::cli::{self, ArgError, BadValue, ClientConfig, CommonArgs, Console, Tool};
use super::error::{ClientError, mosq_err, reason_string};
use super::format::Output;
use super::props::{self, Value};
use super::pub_cli::{Source, pub_topic};
use super::session::{Client, Event};
use super::sub_cli::{OutputArgs, timeout};
use super::usage::rr_usage;
use crate::protocol::{ByteStr, Properties, QoS, SubOptions, Version};

/// MQTT 5 reason code for DISCONNECT on timeout: mosquitto_rr asks for its will.
const DISCONNECT_WITH_WILL: u8 = 0x04;

#[derive(Parser, Debug)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct RrArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(short = 't', long = "topic", allow_hyphen_values = true, value_parser = pub_topic)]
    pub topic: Option<String>,
    #[arg(short = 'e', allow_hyphen_values = true, value_parser = response_topic)]
    pub response_topic: Option<String>,
    #[arg(short = 'm', long = "message", allow_hyphen_values = true, action = ArgAction::Append,
          value_parser = clap::value_parser!(OsString))]
    pub message: Vec<OsString>,
    #[arg(short = 'f', long = "file", allow_hyphen_values = true, action = ArgAction::Append,
          value_parser = clap::value_parser!(PathBuf))]
    pub file: Vec<PathBuf>,
    #[arg(short = 's', long = "stdin-file", action = ArgAction::Count)]
    pub stdin_file: u8,
    #[arg(short = 'n', long = "null-message", action = ArgAction::Count)]
    pub null_message: u8,
    #[arg(short = 'W', allow_hyphen_values = true, value_parser = timeout)]
    pub timeout: Option<u32>,
    /// Accepted as mosquitto_rr accepts them, and as there, without effect.
    #[arg(short = 'R')]
    pub no_retain: bool,
    #[arg(long = "retain-as-published")]
    pub retain_as_published: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn response_topic(s: &str) -> Result<String, BadValue> {
    if cli::is_valid_pub_topic(s) {
        Ok(s.to_string())
    } else {
        Err(BadValue(format!(
            "Error: Invalid response topic '{s}', does it contain '+' or '#'?\n"
        )))
    }
}

#[derive(Clone, Debug)]
pub struct RrConfig {
    pub client: ClientConfig,
    pub topic: Option<String>,
    pub response_topic: Option<String>,
    pub source: Option<Source>,
    pub qos: QoS,
    pub timeout: Option<Duration>,
    pub output: Output,
}

/// Reads a command line (without the program name) as mosquitto_rr would.
pub fn parse_args(args: &[OsString]) -> Result<RrConfig, ArgError> {
    let (args, properties, forces_v5) =
        cli::parse_command_line::<RrArgs>(args, |a| a.common.help_or_version())?;
    if let Some(stop) = args.common.help_or_version() {
        return Err(stop);
    }
    let source = Source::chosen(
        args.message,
        args.file,
        0,
        args.stdin_file,
        args.null_message,
    )?;
    let qos = args.common.qos.unwrap_or_default();
    let client = args.common.finish(Tool::Rr, properties, forces_v5)?;
    client.properties.check(client.quiet)?;
    Ok(RrConfig {
        client,
        topic: args.topic,
        response_topic: args.response_topic,
        source,
        qos,
        timeout: args.timeout.map(|s| Duration::from_secs(u64::from(s))),
        output: args.output.output(),
    })
}

/// The `midge_rr` binary.
pub fn main() -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let code = run(&argv, Box::new(std::io::stdin()), &Console::stdio());
    std::process::exit(code)
}

/// Runs midge_rr with `argv` (program name first); returns the exit code.
pub fn run(argv: &[OsString], stdin: Box<dyn Read + Send>, console: &Console) -> i32 {
    let program = cli::program_name(argv, "midge_rr");
    let usage = rr_usage(&program);
    let mut config = match parse_args(argv.get(1..).unwrap_or_default()) {
        Ok(config) => config,
        Err(e) => return console.arg_error(&e, &program, &usage),
    };
    let quiet = config.client.quiet;
    let report = |text: &str| {
        if !quiet {
            console.err(text);
        }
    };
    let (Some(topic), Some(response), Some(source)) = (
        config.topic.clone(),
        config.response_topic.clone(),
        config.source.clone(),
    ) else {
        let e = ArgError::Usage(
            "Error: All of topic, message, and response topic must be supplied.\n".into(),
        );
        return console.arg_error(&e, &program, &usage);
    };
    // The request carries the response topic; one from -D as well is one too many.
    let publish = &mut config.client.properties.publish;
    if publish.contains(props::RESPONSE_TOPIC) {
        report("Error in PUBLISH properties: Duplicate response topic.\n");
        return 1;
    }
    let response_property = Value::Text(ByteStr::from(response.as_str()));
    publish.push(props::RESPONSE_TOPIC, response_property);
    let checks = config
        .client
        .check_id("Error: Invalid id and/or clean_session.\n");
    if let Err(e) = checks.and_then(|()| config.client.check_credentials()) {
        return console.arg_error(&e, &program, &usage);
    }
    if let Some(text) = config.client.unsupported_connect_properties() {
        console.err(&text);
        return 1;
    }
    let mut stdin = Some(stdin);
    let Some(payload) = Source::load(Some(&source), &mut stdin, &report) else {
        return 1;
    };
    if config.client.connect.port == 0 {
        // See midge_pub: mosquitto would look for a unix socket here.
        report("Error: No such file or directory\n");
        return 1;
    }
    let log = config.client.debug.then(|| console.logger());
    let mut client = match Client::start(&config.client.connect, log) {
        Ok(client) => client,
        Err(e) => {
            report(&format!("{e}\n"));
            return 1;
        }
    };
    let request = Request {
        config: &config,
        topic: &topic,
        response: &response,
        payload,
    };
    request.run(&mut client, console, &report)
}

struct Request<'a> {
    config: &'a RrConfig,
    topic: &'a str,
    response: &'a str,
    payload: Bytes,
}

impl Request<'_> {
    /// Subscribes, publishes once subscribed, prints the response; returns the exit code.
    fn run(&self, client: &mut Client, console: &Console, report: &dyn Fn(&str)) -> i32 {
        let props = &self.config.client.properties;
        let v5 = self.config.client.connect.version == Version::V5;
        let deadline = self.config.timeout.map(|t| Instant::now() + t);
        let mut connected = false;
        loop {
            let event = match client.poll(deadline) {
                Ok(Some(event)) => event,
                Ok(None) => {
                    if connected {
                        let reason = if v5 { DISCONNECT_WITH_WILL } else { 0 };
                        let _ = client.disconnect_with(reason, props.disconnect.to_properties());
                    }
                    report("Timed out\n");
                    return mosq_err::TIMEOUT;
                }
                Err(e) => return self.failed(client, &e, report),
            };
            let sent = match event {
                Event::Connected { .. } => {
                    connected = true;
                    // libmosquitto refuses MQTT 5 properties on an MQTT 3 SUBSCRIBE, and
                    // mosquitto_rr then waits for nothing.
                    if v5 || props.subscribe.is_empty() {
                        let filter =
                            [(self.response.to_string(), SubOptions::qos(self.config.qos))];
                        client.subscribe(&filter, props.subscribe.to_properties())
                    } else {
                        Ok(0)
                    }
                }
                Event::SubAck(ack) => match ack.return_codes.first() {
                    Some(&code) if code >= 0x80 => {
                        report(&format!("{}\n", reason_string(code)));
                        let _ = client.disconnect_with(0, props.disconnect.to_properties());
                        return 0;
                    }
                    _ => self.publish(client, v5),
                },
                Event::Message {
                    publish,
                    property_order,
                } => {
                    let printed = self.config.output.print(&publish, &property_order);
                    report(&printed.stderr);
                    let _ = console.out(&printed.stdout);
                    // Done: mosquitto_rr closes the connection without DISCONNECT.
                    return 0;
                }
                Event::Published { .. } | Event::UnsubAck(_) => Ok(0),
            };
            if let Err(e) = sent {
                return self.failed(client, &e, report);
            }
        }
    }

    /// The request; MQTT 3 has no properties, so none go with it there.
    fn publish(&self, client: &mut Client, v5: bool) -> Result<u16, ClientError> {
        let properties = if v5 {
            self.config.client.properties.publish.to_properties()
        } else {
            Properties::default()
        };
        let (qos, payload) = (self.config.qos, self.payload.clone());
        client.publish_with(self.topic, payload, qos, false, &properties)
    }

    /// Reports what ended the session; returns mosquitto_rr's exit code for it.
    fn failed(&self, client: &mut Client, e: &ClientError, report: &dyn Fn(&str)) -> i32 {
        match e {
            ClientError::Refused { code, .. } => {
                // mosquitto_rr words refusals itself, with the MQTT 5 reason text even for a
                // 3.1.1 return code.
                let why = reason_string(*code);
                if *code == 0x84 {
                    report(&format!(
                        "Connection error: {why}. mosquitto_rr only supports connecting to an \
                         MQTT v5 broker\n"
                    ));
                } else {
                    report(&format!("Connection error: {why}\n"));
                }
                let _ = client.disconnect(0);
                i32::from(*code)
            }
            other => {
                report(&format!("Error: {}\n", other.strerror()));
                other.code()
            }
        }
    }
}
