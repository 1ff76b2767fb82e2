//! `midge_sub`: subscribe and print what arrives, as mosquitto_sub does: same flags, same
//! output, same errors and exit codes, and the same reconnection after a lost connection.

use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{ArgAction, Parser};

use super::cli::{self, ArgError, BadValue, ClientConfig, CommonArgs, Console, Tool};
use super::error::{ClientError, mosq_err};
use super::format::{self, Output};
use super::session::{Client, ConnectOptions, Event};
use super::usage::sub_usage;
use crate::protocol::{Publish, QoS, RetainHandling, SubOptions, Version, topic};

/// libmosquitto's pause before reconnecting.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// MQTT 5 reason code for DISCONNECT on a signal: mosquitto_sub asks for its will.
const DISCONNECT_WITH_WILL: u8 = 0x04;
/// mosquitto_sub dies with exit(-1) on a signal or timeout that comes before CONNACK.
const EXIT_BEFORE_CONNACK: i32 = 255;

#[derive(Parser, Debug)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct SubArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(short = 't', long = "topic", allow_hyphen_values = true, action = ArgAction::Append,
          value_parser = sub_topic)]
    pub topics: Vec<String>,
    #[arg(short = 'T', long = "filter-out", allow_hyphen_values = true,
          action = ArgAction::Append, value_parser = filter_out)]
    pub filter_out: Vec<String>,
    #[arg(short = 'U', long = "unsubscribe", allow_hyphen_values = true,
          action = ArgAction::Append, value_parser = unsubscribe_topic)]
    pub unsubscribe: Vec<String>,
    #[arg(short = 'C', allow_hyphen_values = true, value_parser = message_count)]
    pub count: Option<u32>,
    #[arg(short = 'W', allow_hyphen_values = true, value_parser = timeout)]
    pub timeout: Option<u32>,
    #[arg(short = 'R')]
    pub no_retain: bool,
    #[arg(short = 'E')]
    pub exit_after_subscribe: bool,
    #[arg(long = "retained-only")]
    pub retained_only: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    /// mosquitto_sub 2.0.11's one subscription option flag; `--rap` is midge's short form.
    #[arg(long = "retain-as-published", visible_alias = "rap")]
    pub retain_as_published: bool,
    /// No local (MQTT 5): midge's; mosquitto_sub 2.0.11 has no flag for it.
    #[arg(long = "nl")]
    pub no_local: bool,
    /// Retain handling 0, 1 or 2 (MQTT 5): midge's; mosquitto_sub 2.0.11 has only -R (2).
    #[arg(long = "rh", allow_hyphen_values = true, value_parser = retain_handling)]
    pub retain_handling: Option<RetainHandling>,
}

/// How messages are printed; midge_rr takes these too.
#[derive(clap::Args, Debug, Default)]
pub struct OutputArgs {
    #[arg(short = 'F', allow_hyphen_values = true, value_parser = output_format)]
    pub format: Option<String>,
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    #[arg(short = 'N')]
    pub no_eol: bool,
    #[arg(long = "pretty")]
    pub pretty: bool,
}

impl OutputArgs {
    pub fn output(&self) -> Output {
        Output {
            format: self.format.clone(),
            verbose: self.verbose,
            eol: !self.no_eol,
            pretty: self.pretty,
        }
    }
}

fn output_format(s: &str) -> Result<String, BadValue> {
    format::check(s).map_err(BadValue)?;
    Ok(s.to_string())
}

fn retain_handling(s: &str) -> Result<RetainHandling, BadValue> {
    match cli::atoi(s) {
        0 => Ok(RetainHandling::OnSubscribe),
        1 => Ok(RetainHandling::OnNewSubscription),
        2 => Ok(RetainHandling::Never),
        n => Err(BadValue(format!(
            "Error: Invalid retain handling \"{n}\".\n\n"
        ))),
    }
}

fn checked_filter(s: &str, what: &str) -> Result<String, BadValue> {
    if cli::is_valid_sub_topic(s) {
        Ok(s.to_string())
    } else {
        Err(BadValue(format!(
            "Error: Invalid {what} '{s}', are all '+' and '#' wildcards correct?\n"
        )))
    }
}

fn sub_topic(s: &str) -> Result<String, BadValue> {
    checked_filter(s, "subscription topic")
}

fn filter_out(s: &str) -> Result<String, BadValue> {
    checked_filter(s, "filter topic")
}

fn unsubscribe_topic(s: &str) -> Result<String, BadValue> {
    checked_filter(s, "unsubscribe topic")
}

fn message_count(s: &str) -> Result<u32, BadValue> {
    let count = cli::atoi(s);
    u32::try_from(count)
        .ok()
        .filter(|&c| c >= 1)
        .ok_or_else(|| BadValue(format!("Error: Invalid message count \"{count}\".\n\n")))
}

pub(crate) fn timeout(s: &str) -> Result<u32, BadValue> {
    let seconds = cli::atoi(s);
    u32::try_from(seconds)
        .ok()
        .filter(|&t| t >= 1)
        .ok_or_else(|| BadValue(format!("Error: Invalid timeout \"{seconds}\".\n\n")))
}

#[derive(Clone, Debug)]
pub struct SubConfig {
    pub client: ClientConfig,
    pub topics: Vec<String>,
    pub filter_out: Vec<String>,
    pub unsubscribe: Vec<String>,
    pub qos: QoS,
    pub output: Output,
    /// The options each subscription is made with (QoS included).
    pub options: SubOptions,
    pub count: Option<u32>,
    pub timeout: Option<Duration>,
    pub no_retain: bool,
    pub retained_only: bool,
    pub exit_after_subscribe: bool,
}

/// Reads a command line (without the program name) as mosquitto_sub would.
pub fn parse_args(args: &[OsString]) -> Result<SubConfig, ArgError> {
    let (args, properties, forces_v5) =
        cli::parse_command_line::<SubArgs>(args, |a| a.common.help_or_version())?;
    if let Some(stop) = args.common.help_or_version() {
        return Err(stop);
    }
    let qos = args.common.qos.unwrap_or_default();
    let mut client = args.common.finish(Tool::Sub, properties, forces_v5)?;
    if args.topics.is_empty() {
        // mosquitto 2.0.11 wants a -t even when -U is given.
        return Err(ArgError::Usage(
            "Error: You must specify a topic to subscribe to.\n".into(),
        ));
    }
    client.properties.check(client.quiet)?;
    if args.no_retain && args.retained_only {
        return Err(ArgError::Plain(
            "\nError: Combining '-R' and '--retained-only' makes no sense.\n".into(),
        ));
    }
    if client.connect.version == Version::V5 {
        // Receive no more than we will print (libmosquitto's default Receive Maximum is 20).
        // A receive maximum given with -D stands.
        let receive_maximum = &mut client.connect.properties.receive_maximum;
        if let (None, Some(count @ 1..20)) = (*receive_maximum, args.count) {
            *receive_maximum = u16::try_from(count).ok();
        }
    }
    // -R asks the broker for no retained messages at all; --rh says exactly what to ask.
    let retain_handling = args.retain_handling.unwrap_or(if args.no_retain {
        RetainHandling::Never
    } else {
        RetainHandling::OnSubscribe
    });
    let options = SubOptions {
        qos,
        no_local: args.no_local,
        retain_as_published: args.retain_as_published,
        retain_handling,
    };
    Ok(SubConfig {
        client,
        topics: args.topics,
        filter_out: args.filter_out,
        unsubscribe: args.unsubscribe,
        qos,
        output: args.output.output(),
        options,
        count: args.count,
        timeout: args.timeout.map(|s| Duration::from_secs(u64::from(s))),
        no_retain: args.no_retain,
        retained_only: args.retained_only,
        exit_after_subscribe: args.exit_after_subscribe,
    })
}

/// The `midge_sub` binary: Ctrl-C and SIGTERM end it cleanly.
pub fn main() -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("sigaction: {e}");
            std::process::exit(1);
        }
    }
    let code = run(&argv, &Console::stdio(), stop);
    std::process::exit(code)
}

/// Why a session ended.
enum End {
    /// Finished (-C, -E, --retained-only, denied subscriptions, stdout closed).
    Done,
    /// -W ran out.
    TimedOut,
    /// A signal.
    Interrupted,
}

/// Runs midge_sub with `argv` (program name first) until it is done, `stop` is set, or the
/// broker fails it; returns the exit code.
pub fn run(argv: &[OsString], console: &Console, stop: Arc<AtomicBool>) -> i32 {
    let program = cli::program_name(argv, "midge_sub");
    let usage = sub_usage(&program);
    let config = match parse_args(argv.get(1..).unwrap_or_default()) {
        Ok(config) => config,
        Err(e) => return console.arg_error(&e, &program, &usage),
    };
    let checks = config
        .client
        .check_id("Error: Invalid id and/or clean_session.\n");
    if let Err(e) = checks.and_then(|()| config.client.check_credentials()) {
        return console.arg_error(&e, &program, &usage);
    }
    let report = |text: &str| {
        if !config.client.quiet {
            console.err(text);
        }
    };
    if let Some(text) = config.client.unsupported_connect_properties() {
        console.err(&text);
        return 1;
    }
    if config.client.connect.port == 0 {
        // See midge_pub: mosquitto would look for a unix socket here.
        report("Error: No such file or directory\n");
        return 1;
    }
    let mut session = Session {
        config: &config,
        console,
        stop,
        deadline: None,
        connack_received: false,
        received: 0,
    };
    session.run(&report)
}

struct Session<'a> {
    config: &'a SubConfig,
    console: &'a Console,
    stop: Arc<AtomicBool>,
    /// When -W runs out; counted from the first TCP connection, as mosquitto's alarm() is.
    deadline: Option<Instant>,
    connack_received: bool,
    received: u32,
}

impl Session<'_> {
    fn run(&mut self, report: &dyn Fn(&str)) -> i32 {
        let mut options = self.config.client.connect.clone();
        let mut client = match self.start(&options) {
            Ok(client) => client,
            Err(e) => {
                report(&format!("{e}\n"));
                return 1;
            }
        };
        self.deadline = self.config.timeout.map(|t| Instant::now() + t);
        loop {
            let result = self.serve(&mut client);
            // A reconnection resumes under the id the broker assigned, as libmosquitto's does.
            if !client.id().is_empty() {
                options.client_id = client.id().to_string();
            }
            let error = match result {
                Ok(end) => return self.exit(end, report),
                Err(e) => e,
            };
            match error {
                ClientError::Refused { code, .. } => {
                    report(&format!("{error}\n"));
                    let _ = client.disconnect(0);
                    return i32::from(code);
                }
                // What libmosquitto's loop_forever gives up on; it retries everything else.
                ClientError::Protocol(_) | ClientError::Lookup => {
                    report(&format!("Error: {}\n", error.strerror()));
                    return error.code();
                }
                _ => {}
            }
            loop {
                if let Some(end) = self.pause(RECONNECT_DELAY) {
                    return self.exit(end, report);
                }
                if client.reconnect(&options).is_ok() {
                    break;
                }
            }
        }
    }

    fn start(&self, options: &ConnectOptions) -> Result<Client, ClientError> {
        let log = self.config.client.debug.then(|| self.console.logger());
        let mut client = Client::start(options, log)?;
        client.set_interrupt(Arc::clone(&self.stop));
        Ok(client)
    }

    /// Handles one connection until the session ends or the connection fails.
    fn serve(&mut self, client: &mut Client) -> Result<End, ClientError> {
        let config = self.config;
        loop {
            let Some(event) = client.poll(self.deadline)? else {
                let end = self.interruption();
                if self.connack_received {
                    let reason = if client.version() == Version::V5 {
                        DISCONNECT_WITH_WILL
                    } else {
                        0
                    };
                    self.goodbye(client, reason);
                }
                return Ok(end);
            };
            match event {
                Event::Connected { .. } => {
                    self.connack_received = true;
                    let props = &config.client.properties;
                    // libmosquitto refuses properties on an MQTT 3 packet, and mosquitto_sub
                    // goes on without that packet.
                    let v5 = client.version() == Version::V5;
                    if v5 || props.subscribe.is_empty() {
                        let filters: Vec<_> = config
                            .topics
                            .iter()
                            .map(|t| (t.clone(), config.options))
                            .collect();
                        client.subscribe(&filters, props.subscribe.to_properties())?;
                    }
                    if v5 || props.unsubscribe.is_empty() {
                        for filter in &config.unsubscribe {
                            client.unsubscribe_with(filter, props.unsubscribe.to_properties())?;
                        }
                    }
                }
                Event::SubAck(ack) => {
                    if config.client.debug && !config.client.quiet {
                        let codes: Vec<String> =
                            ack.return_codes.iter().map(u8::to_string).collect();
                        let line = format!(
                            "Subscribed (mid: {}): {}\n",
                            ack.packet_id,
                            codes.join(", ")
                        );
                        let _ = self.console.out(line.as_bytes());
                    }
                    if ack.return_codes.iter().all(|&code| code >= 0x80) {
                        self.goodbye(client, 0);
                        if !config.client.quiet {
                            self.console.err("All subscription requests were denied.\n");
                        }
                        return Ok(End::Done);
                    }
                    if config.exit_after_subscribe {
                        self.goodbye(client, 0);
                        return Ok(End::Done);
                    }
                }
                Event::Message {
                    publish,
                    property_order,
                } => {
                    if self.on_message(&publish, &property_order) {
                        self.goodbye(client, 0);
                        return Ok(End::Done);
                    }
                }
                Event::UnsubAck(_) | Event::Published { .. } => {}
            }
        }
    }

    /// DISCONNECT with the `-D disconnect` properties.
    fn goodbye(&self, client: &mut Client, reason: u8) {
        let properties = self.config.client.properties.disconnect.to_properties();
        // The session ends either way; nothing to do if the broker is gone already.
        let _ = client.disconnect_with(reason, properties);
    }

    /// Filters and prints one message; returns true when the session is done.
    fn on_message(&mut self, message: &Publish, property_order: &[u8]) -> bool {
        let config = self.config;
        if config.retained_only && !message.retain {
            return true;
        }
        if message.retain && config.no_retain {
            return false;
        }
        if config
            .filter_out
            .iter()
            .any(|filter| topic::matches(filter, &message.topic))
        {
            return false;
        }
        let printed = config.output.print(message, property_order);
        if !printed.stderr.is_empty() && !config.client.quiet {
            self.console.err(&printed.stderr);
        }
        if !printed.stdout.is_empty() && self.console.out(&printed.stdout).is_err() {
            return true; // Nobody is reading any more.
        }
        self.received += 1;
        config.count.is_some_and(|count| self.received >= count)
    }

    /// Sleeps between reconnection attempts; returns early if the session must end.
    fn pause(&self, delay: Duration) -> Option<End> {
        let until = Instant::now() + delay;
        loop {
            if self.stop.load(Ordering::Relaxed) || self.deadline_passed() {
                return Some(self.interruption());
            }
            let now = Instant::now();
            if now >= until {
                return None;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(100)));
        }
    }

    fn deadline_passed(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn interruption(&self) -> End {
        if self.deadline_passed() {
            End::TimedOut
        } else {
            End::Interrupted
        }
    }

    fn exit(&self, end: End, report: &dyn Fn(&str)) -> i32 {
        match end {
            _ if !self.connack_received && !matches!(end, End::Done) => EXIT_BEFORE_CONNACK,
            End::TimedOut => {
                report("Timed out\n");
                mosq_err::TIMEOUT
            }
            End::Done | End::Interrupted => 0,
        }
    }
}
