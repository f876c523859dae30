//! Exposition parser throughput on given files, for `benches/parser_vs_python.py`, which
//! runs it and Python's `prometheus_client` on the same inputs in one run.
//!
//! `cargo bench --bench parse_throughput -- FILE...` prints, per file, the best of several
//! timed runs of two parses, each followed by dropping its result as a caller does:
//! `file bytes samples seconds MB/s cpu_MB/s kept keep_seconds keep_MB/s keep_cpu_MB/s`.
//! The first figures are [`parse`] (every sample built, what `check metrics` and `advise`
//! do); the `keep_` ones are [`parse_keeping`] with the daemon's filter, the series the
//! built-in feature catalogue reads ([`Window::keeps`]), which is the production path of the
//! daemon. `MB/s` is by the wall clock; `cpu_MB/s` divides by the CPU time this thread
//! actually ran (`/proc/thread-self/schedstat`), which is what "one core" means on a shared,
//! loaded machine where the wall clock also counts time spent waiting for a core. Both are
//! printed so the load can be judged.
//!
//! `-- --count N [--catalog] FILE...` parses each file N times without timing, for counting
//! instructions, which a loaded machine does not disturb:
//! `valgrind --tool=callgrind --toggle-collect='*exposition::parse_keeping*' BENCH_BINARY --count 3 FILE`
//! (divide the total by 3 and by the file's size for instructions per byte).

use opsadvisor::daemon::window::{Window, catalog_selectors};
use opsadvisor::features::catalog::Catalog;
use opsadvisor::sources::exposition::{Format, detect_format, parse, parse_keeping};
use std::time::Instant;

fn main() {
    let (mut count, mut catalog_only, mut files) = (None, false, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().and_then(|n| n.parse::<usize>().ok()),
            "--catalog" => catalog_only = true,
            _ if a.starts_with("--") => {} // `cargo bench` passes `--bench`
            _ => files.push(a),
        }
    }
    if files.is_empty() {
        eprintln!("usage: cargo bench --bench parse_throughput -- [--count N [--catalog]] FILE...");
        return;
    }
    let window = Window::new(2, 600_000, catalog_selectors(Catalog::builtin()));
    let keep = |name: &str| window.keeps(name);
    for f in &files {
        let body = std::fs::read(f).expect("readable input");
        let format = detect_format(None, &body);
        let format =
            if matches!(format, Format::OpenMetrics) { Format::OpenMetrics } else { Format::Text };
        if let Some(n) = count {
            let mut samples = 0;
            for _ in 0..n {
                let parsed = if catalog_only {
                    parse_keeping(&body, format, &keep)
                } else {
                    parse(&body, format)
                };
                samples += std::hint::black_box(parsed.expect("parses")).samples.len();
            }
            println!("{f}\t{}\t{samples}", body.len());
            continue;
        }
        let (samples, best, best_cpu) =
            time(&body, || parse(&body, format).expect("parses").samples.len());
        let (kept, keep_best, keep_best_cpu) =
            time(&body, || parse_keeping(&body, format, &keep).expect("parses").samples.len());
        let mbps =
            |secs: f64| if secs < f64::MAX { body.len() as f64 / secs / 1e6 } else { f64::NAN };
        println!(
            "{f}\t{}\t{samples}\t{best:.6}\t{:.1}\t{:.1}\t{kept}\t{keep_best:.6}\t{:.1}\t{:.1}",
            body.len(),
            mbps(best),
            mbps(best_cpu),
            mbps(keep_best),
            mbps(keep_best_cpu),
        );
    }
}

/// Best of five timed runs of `run` (repeated so that each run covers at least ~50 MB):
/// what `run` returned, seconds per call by the wall clock and by this thread's CPU time.
fn time(body: &[u8], run: impl Fn() -> usize) -> (usize, f64, f64) {
    let reps = (50_000_000 / body.len().max(1)).clamp(1, 2000);
    let (mut out, mut best, mut best_cpu) = (0, f64::MAX, f64::MAX);
    for _ in 0..5 {
        let (t, c) = (Instant::now(), cpu_seconds());
        for _ in 0..reps {
            out = std::hint::black_box(run());
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
        if let (Some(c0), Some(c1)) = (c, cpu_seconds()) {
            best_cpu = best_cpu.min((c1 - c0) / reps as f64);
        }
    }
    (out, best, best_cpu)
}

/// CPU time this thread has run, from the scheduler's own accounting (nanoseconds).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}
