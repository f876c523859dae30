//! The `opsadvisor` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;
use opsadvisor::cli::{Cli, run};
use std::process::ExitCode;

/// mimalloc, not glibc's malloc: it hands the pages a daemon cycle frees back to the kernel
/// without a `malloc_trim` per cycle, and allocates faster (README "Soak": same RSS bound,
/// 0.66x the CPU of glibc with trimming).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (format, level) = cli.logging();
    opsadvisor::logging::init(format, &level);
    if cli.is_one_shot() {
        exit_on_signals();
    }
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("opsadvisor: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// One-shot commands exit 130 on SIGINT and 143 on SIGTERM (contracts §2.6): what a shell
/// shows for a process those signals killed, but as an exit code that CronJobs and CI can
/// read. The wait runs on a thread with its own small runtime, so a command that keeps the
/// main runtime's threads busy (training) still stops at once.
fn exit_on_signals() {
    #[cfg(unix)]
    {
        let started = std::thread::Builder::new().name("signals".into()).spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) =
                    (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
                else {
                    return;
                };
                let code = tokio::select! {
                    _ = int.recv() => 130,
                    _ = term.recv() => 143,
                };
                eprintln!("opsadvisor: interrupted");
                #[allow(clippy::disallowed_methods)] // the user asked to stop: stop now
                std::process::exit(code);
            });
        });
        if let Err(e) = started {
            eprintln!("opsadvisor: cannot watch for signals: {e}");
        }
    }
}
