//! kill -9: a worker process (`examples/outbox_worker.rs`) drives the notifier through
//! 1,000 notifications to a flaky loopback PagerDuty (15%: 500s, 429s, answers lost after the
//! event was applied) and is killed with SIGKILL again and again. After the last restart
//! every notification has arrived, and every dedup key was triggered and resolved once.
//!
//! The daemon binary will replace the worker here once `opsadvisor daemon` drives the
//! notifier; the outbox and the guarantees under test are the same.

#![allow(clippy::unwrap_used, clippy::cloned_ref_to_slice_refs)]

mod common;
mod notify_receivers;

use std::time::{Duration, Instant};

fn worker() -> Option<std::path::PathBuf> {
    // target/<profile>/deps/notify_kill-<hash> → target/<profile>/examples/outbox_worker
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join("outbox_worker");
    p.is_file().then_some(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_repeatedly_while_1000_notifications_flow_loses_none_and_applies_none_twice() {
    let Some(bin) = worker() else {
        println!("skipped: examples/outbox_worker is not built (plain `cargo test` builds it)");
        return;
    };
    let dir = common::TempDir::new("kill9");
    let (rx, url) = notify_receivers::pagerduty().await;
    rx.set_flaky(0.15, 7);
    rx.set_delay(Duration::from_millis(2));
    let key = dir.path().join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    let spawn = || {
        std::process::Command::new(&bin)
            .arg(dir.path())
            .arg(&url)
            .arg(&key)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    let mut kills = 0;
    // Kill at varying points: 100..=400 ms after each start.
    for round in 0..12u64 {
        let mut child = spawn();
        tokio::time::sleep(Duration::from_millis(100 + (round * 137) % 300)).await;
        if child.try_wait().unwrap().is_some() {
            break; // finished before we could kill it
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    let before_last = rx.log().len();
    let last = spawn();
    let out = tokio::task::spawn_blocking(move || last.wait_with_output()).await.unwrap().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"));

    let st = rx.state.lock().unwrap();
    assert!(st.violations.is_empty(), "{:?}", st.violations);
    let triggers = st.applied.keys().filter(|(_, a)| a == "trigger").count();
    let resolves = st.applied.keys().filter(|(_, a)| a == "resolve").count();
    assert_eq!((triggers, resolves), (500, 500), "every notification arrived");
    assert_eq!(st.incidents.len(), 500);
    assert!(st.incidents.values().all(|n| *n == 1), "an alert was opened twice");
    assert!(st.resolves_applied.values().all(|n| *n == 1));
    assert!(st.open.is_empty(), "every alert was resolved");
    // Repeats on the wire happen only where an answer never reached the worker: a kill
    // between the event arriving and its delivery being recorded, or a lost answer.
    let repeats: u32 = st.applied.values().map(|n| n - 1).sum();
    let requests = st.log.len();
    println!(
        "kills: {kills}; requests: {requests} ({before_last} before the last start); lost answers: {}; \
         repeated events: {repeats}; took {:?}",
        st.lost,
        started.elapsed()
    );
    assert!(kills >= 3, "the worker finished too early to be killed mid-stream");
    assert!(repeats <= kills + st.lost, "{repeats} repeats > {kills} kills + {} lost", st.lost);
}
