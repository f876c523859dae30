//! Drives the notifier from a generated stream of findings, as the daemon would, so the
//! outbox can be tested by killing a real process (`tests/notify_kill.rs`).
//!
//! 500 critical findings, 10 new per cycle, each firing for 5 cycles and then resolving:
//! 1,000 PagerDuty events (500 triggers, 500 resolves). The cycle reached is kept in
//! `DIR/cycle`, written after the cycle's notifications are committed, so a restarted
//! worker replays at most the cycle it was in, which enqueues nothing twice.
//!
//! Usage: `outbox_worker DIR PAGERDUTY_URL ROUTING_KEY_FILE`. Prints `done` and exits 0
//! once every notification was delivered or dropped.

use opsadvisor::System;
use opsadvisor::findings::{Category, Finding, Severity, fingerprint};
use opsadvisor::sinks::notify::{NotificationsConfig, Notifier};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Findings in the stream.
const FINDINGS: usize = 500;
/// New findings per cycle.
const PER_CYCLE: usize = 10;
/// Cycles a finding fires before it resolves.
const LIFETIME: usize = 5;
/// Evaluation time of cycle 0; cycle k is k seconds later, the same after every restart.
const BASE_MS: i64 = 1_700_000_000_000;

fn finding(i: usize) -> Finding {
    let id = format!("stream_rule_{i:03}");
    Finding {
        fingerprint: fingerprint(&id, System::Cassandra, "stream", Some("n1")),
        id,
        system: System::Cassandra,
        cluster: "stream".into(),
        node: Some("n1".into()),
        category: Category::Availability,
        severity: Severity::Critical,
        impact: vec![],
        analyzer: "rules".into(),
        symptom: format!("generated problem {i}"),
        cause: String::new(),
        resources: vec![],
        evidence: vec![],
        action: String::new(),
        docs_url: String::new(),
        advises: Vec::new(),
    }
}

fn born(i: usize) -> usize {
    i / PER_CYCLE
}

async fn run(dir: PathBuf, url: String, key_file: String) -> Result<(), String> {
    let yaml = format!(
        "pagerduty: [{{ url: '{url}', routing_key_file: '{key_file}', min_interval: 0s }}]
retry: {{ initial_backoff: 5ms, max_backoff: 50ms }}
timeout: 2s"
    );
    let config: NotificationsConfig = serde_norway::from_str(&yaml).map_err(|e| e.to_string())?;
    let notifier =
        Arc::new(Notifier::open(&dir.join("outbox"), &config).map_err(|e| e.to_string())?);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let n = notifier.clone();
    let delivery = tokio::spawn(async move { n.run(rx).await });

    let cycle_file = dir.join("cycle");
    let start: usize =
        std::fs::read_to_string(&cycle_file).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let all: Vec<Finding> = (0..FINDINGS).map(finding).collect();
    let last = born(FINDINGS - 1) + LIFETIME;
    for k in start..=last {
        let firing: Vec<Finding> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| born(*i) <= k && k < born(*i) + LIFETIME)
            .map(|(_, f)| f.clone())
            .collect();
        let resolved: Vec<Finding> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| born(*i) + LIFETIME == k)
            .map(|(_, f)| f.clone())
            .collect();
        notifier
            .on_cycle(BASE_MS + k as i64 * 1000, &firing, &resolved)
            .map_err(|e| e.to_string())?;
        write_atomically(&dir, &cycle_file, &(k + 1).to_string())?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    loop {
        let stats = notifier.stats().map_err(|e| e.to_string())?;
        if stats.iter().all(|s| s.pending == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    delivery.await.map_err(|e| e.to_string())?;
    println!("done");
    Ok(())
}

fn write_atomically(dir: &Path, path: &Path, text: &str) -> Result<(), String> {
    let tmp = dir.join("cycle.tmp");
    std::fs::write(&tmp, text).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, url, key_file] = args.as_slice() else {
        eprintln!("usage: outbox_worker DIR PAGERDUTY_URL ROUTING_KEY_FILE");
        return ExitCode::from(2);
    };
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("outbox_worker: {e}");
                return ExitCode::FAILURE;
            }
        };
    match runtime.block_on(run(PathBuf::from(dir), url.clone(), key_file.clone())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("outbox_worker: {e}");
            ExitCode::FAILURE
        }
    }
}
