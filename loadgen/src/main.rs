//! `midge_loadgen`: see `--help`, and the README's "Load generator" section.

use std::process::ExitCode;

use clap::Parser;
use loadgen::cli::{Cli, Command, ScenarioCmd, SinkArgs};
use loadgen::report::{RunResult, hgrm};
use loadgen::sink::Sink;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(cmd) => run_one(&cmd, false),
        Command::Sink(args) => sink(args),
        Command::Compare(args) => loadgen::compare::compare(&args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("midge_loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one scenario and reports it; Ok(false) when the run itself failed its checks.
fn run_one(cmd: &ScenarioCmd, swallow: bool) -> Result<bool, String> {
    let result = loadgen::run::run(cmd, swallow)?;
    output(cmd, &result)?;
    Ok(result.ok)
}

fn output(cmd: &ScenarioCmd, result: &RunResult) -> Result<(), String> {
    let common = cmd.common();
    if let (Some(path), Some(h)) = (&common.hgrm, &result.histogram) {
        std::fs::write(path, hgrm(h)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if common.json {
        eprint!("{}", result.summary());
        println!("{}", result.json());
    } else {
        print!("{}", result.summary());
    }
    Ok(())
}

/// The scenario against the in-process fake broker: the generator's own ceiling.
fn sink(args: SinkArgs) -> Result<bool, String> {
    let sink = Sink::start(args.swallow).map_err(|e| format!("cannot start the sink: {e}"))?;
    let mut cmd = args.scenario;
    let common = cmd.common_mut();
    common.host = "127.0.0.1".into();
    common.port = sink.port;
    common.name.get_or_insert_with(|| {
        if args.swallow {
            "sink (swallow)"
        } else {
            "sink (forward)"
        }
        .into()
    });
    let outcome = run_one(&cmd, args.swallow);
    sink.stop();
    outcome
}
