//! `midge_loadgen`: see `--help`, and the README's "Load generator" section.

use std::process::ExitCode;

use clap::Parser;
use loadgen::cli::{Cli, Command, ScenarioCmd};
use loadgen::report::{RunResult, hgrm};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(cmd) => run_one(&cmd, false),
        Command::Sink(_) | Command::Compare(_) => Err("not yet".into()),
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
