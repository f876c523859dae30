//! Exposition parser throughput on given files, for `benches/parser_vs_python.py`, which
//! runs it and Python's `prometheus_client` on the same inputs in one run.
//!
//! `cargo bench --bench parse_throughput -- FILE...` prints, per file, the best of several
//! timed parses: `file bytes samples seconds MB/s cpu_MB/s`. `MB/s` is by the wall clock;
//! `cpu_MB/s` divides by the CPU time this thread actually ran (`/proc/thread-self/schedstat`),
//! which is what "one core" means on a shared, loaded machine where the wall clock also
//! counts time spent waiting for a core. Both are printed so the load can be judged.

use opsadvisor::sources::exposition::{Format, detect_format, parse};
use std::time::Instant;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if files.is_empty() {
        eprintln!("usage: cargo bench --bench parse_throughput -- FILE...");
        return;
    }
    for f in files {
        let body = std::fs::read(&f).expect("readable input");
        let format = detect_format(None, &body);
        let format =
            if matches!(format, Format::OpenMetrics) { Format::OpenMetrics } else { Format::Text };
        // Repeat small inputs so each timing covers at least ~50 MB.
        let reps = (50_000_000 / body.len().max(1)).clamp(1, 2000);
        let mut best = f64::MAX;
        let mut best_cpu = f64::MAX;
        let mut samples = 0;
        for _ in 0..5 {
            let (t, c) = (Instant::now(), cpu_seconds());
            for _ in 0..reps {
                samples = std::hint::black_box(parse(&body, format).expect("parses")).samples.len();
            }
            best = best.min(t.elapsed().as_secs_f64() / reps as f64);
            if let (Some(c0), Some(c1)) = (c, cpu_seconds()) {
                best_cpu = best_cpu.min((c1 - c0) / reps as f64);
            }
        }
        let mbps =
            |secs: f64| if secs < f64::MAX { body.len() as f64 / secs / 1e6 } else { f64::NAN };
        println!(
            "{f}\t{}\t{samples}\t{best:.6}\t{:.1}\t{:.1}",
            body.len(),
            mbps(best),
            mbps(best_cpu)
        );
    }
}

/// CPU time this thread has run, from the scheduler's own accounting (nanoseconds).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}
