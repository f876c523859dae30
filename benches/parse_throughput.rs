//! Exposition parser throughput on given files, for `benches/parser_vs_python.py`, which
//! runs it and Python's `prometheus_client` on the same inputs in one run.
//!
//! `cargo bench --bench parse_throughput -- FILE...` prints, per file, the best of several
//! timed parses: `file bytes samples seconds MB/s`.

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
        let mut samples = 0;
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..reps {
                samples = std::hint::black_box(parse(&body, format).expect("parses")).samples.len();
            }
            best = best.min(t.elapsed().as_secs_f64() / reps as f64);
        }
        println!(
            "{f}\t{}\t{samples}\t{best:.6}\t{:.1}",
            body.len(),
            body.len() as f64 / best / 1e6
        );
    }
}
