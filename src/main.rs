//! The `opsadvisor` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;
use opsadvisor::cli::{Cli, run};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (format, level) = cli.logging();
    opsadvisor::logging::init(format, &level);
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("opsadvisor: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
