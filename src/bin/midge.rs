//! `midge`: the broker. Arguments as mosquitto takes them; everything else is the library's.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use midge::config::Config;
use midge::log::LogTypes;

/// midge is an MQTT v5.0/v3.1.1/v3.1 broker.
#[derive(Parser)]
#[command(name = "midge", version)]
struct Args {
    /// Read the configuration from this file (mosquitto.conf format).
    #[arg(short = 'c', long = "config-file", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Listen on this port (repeatable). Like mosquitto, ignored when the config file
    /// defines listeners; otherwise the broker listens on this machine only.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    ports: Vec<u16>,
    /// Verbose mode: enable all log types, overriding log_type in the config file.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Put the broker into the background (not supported: use a service manager).
    #[arg(short = 'd', long)]
    daemon: bool,
    /// Check the configuration file and exit.
    #[arg(long)]
    test_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (mut config, warnings) = match &args.config_file {
        Some(path) => match Config::from_file(path) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => (Config::default(), Vec::new()),
    };
    for warning in &warnings {
        eprintln!("{warning}");
    }
    for &port in &args.ports {
        config.add_cli_port(port);
    }
    if args.verbose {
        config.log_types = LogTypes::ALL;
    }
    if args.test_config {
        // The TLS, password and ACL files too: one that will not load is as fatal as a
        // bad line.
        let files = midge::tls::check(&config).and_then(|()| {
            midge::auth::Auth::load(&config, &config.effective_listeners())
                .map(drop)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = files {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
        let origin = args.config_file.as_deref().map(|p| p.display().to_string());
        eprintln!(
            "{}: configuration is valid.",
            origin.as_deref().unwrap_or("default config")
        );
        return ExitCode::SUCCESS;
    }
    if args.daemon {
        eprintln!("Error: -d (daemon mode) is not supported; run midge under a service manager.");
        return ExitCode::FAILURE;
    }
    match midge::server::run(config, args.config_file.as_deref()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
