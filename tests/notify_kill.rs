//! kill -9: the real `opsadvisor daemon` notifies a flaky loopback PagerDuty (15 %: 500s,
//! 429s, answers lost after the event was applied) of 1,000 events while it is SIGKILLed
//! again and again and restarted on the same `--storage.path`. After the last restart every
//! notification has arrived, and every dedup key was triggered and resolved once.
//!
//! The findings come from the daemon's own scrapes and rules, nothing is injected: 50 Kafka
//! brokers served by the test, and 10 rules `offline_partitions >= j` (j = 1..10, no `for`).
//! A broker reporting 10 offline partitions fires all 10; back to 0, all 10 resolve. Brokers
//! go bad 5 at a time (50 findings), and the batch before goes back to healthy at the same
//! moment, so each phase carries 50 triggers and 50 resolves. The next phase starts once
//! PagerDuty holds this phase's triggers and resolves: the schedule follows what was
//! delivered, not the clock, so a daemon that is down for a phase cannot skip it (a state
//! no cycle ever saw cannot be notified, and that would test the schedule, not the outbox).
//!
//! Also: SIGTERM delivers what is queued (up to `--shutdown.flush-timeout`) before exiting,
//! and SIGHUP with a changed `notifications:` section sends from then on to the new sinks.

#![allow(clippy::unwrap_used)]

mod common;
mod notify_receivers;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::routing::get;
use common::{KillOnDrop, TempDir, free_port};
use opsadvisor::System;
use opsadvisor::findings::fingerprint;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Brokers served.
const BROKERS: usize = 50;
/// Rules, hence findings per bad broker.
const RULES: usize = 10;
/// Brokers that go bad together.
const BATCH: usize = 5;

/// Starts the daemon on the test's config and storage, logging to one file across restarts.
#[derive(Clone)]
struct Spawner {
    bin: std::path::PathBuf,
    config: std::path::PathBuf,
    storage: std::path::PathBuf,
    log: std::path::PathBuf,
}

impl Spawner {
    fn spawn(&self) -> KillOnDrop {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let child = Command::new(&self.bin)
            .args(["daemon", "--log.format", "logfmt", "--classifier", "off", "--config"])
            .arg(&self.config)
            .arg("--storage.path")
            .arg(&self.storage)
            .args(["--web.listen-address", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        KillOnDrop(child)
    }
}

fn rules() -> String {
    let mut out = String::from("groups:\n  - name: kill9\n    system: kafka\n    rules:\n");
    for j in 1..=RULES {
        out.push_str(&format!(
            "      - id: kill9_offline_{j:02}\n        expr: offline_partitions >= {j}\n        \
             severity: critical\n        category: availability\n        annotations:\n          \
             symptom: \"{{{{ node }}}} has at least {j} offline partitions.\"\n          \
             action: \"Bring their replicas back.\"\n          \
             docs_url: https://kafka.apache.org/documentation/#monitoring\n"
        ));
    }
    out
}

/// Serves `/b{n}/metrics` for every broker: its offline partitions, 10 when bad.
async fn brokers(bad: Arc<Mutex<Vec<bool>>>) -> String {
    let router = Router::new()
        .route(
            "/b/{n}/metrics",
            get(
                |State(bad): State<Arc<Mutex<Vec<bool>>>>, UrlPath(n): UrlPath<usize>| async move {
                    let v = if bad.lock().unwrap().get(n).copied().unwrap_or(false) {
                        RULES
                    } else {
                        0
                    };
                    format!(
                        "# TYPE kafka_controller_kafkacontroller_offlinepartitionscount gauge\n\
                     kafka_controller_kafkacontroller_offlinepartitionscount {v}\n"
                    )
                },
            ),
        )
        .with_state(bad);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn config(dir: &Path, brokers: &str, pagerduty: &str, key: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/kill9.yaml"), rules()).unwrap();
    let mut yaml = String::from(
        "scrape: { interval: 100ms, timeout: 1s }\nrule_dirs: [rules]\nclusters:\n  \
         - name: kafka-a\n    system: kafka\n    targets:\n",
    );
    for n in 0..BROKERS {
        yaml.push_str(&format!("      - {{ node: b{n}, metrics: '{brokers}/b/{n}/metrics' }}\n"));
    }
    yaml.push_str(&format!(
        "notifications:\n  pagerduty:\n    - {{ url: '{pagerduty}', routing_key_file: '{}', min_interval: 0s }}\n  \
         retry: {{ initial_backoff: 5ms, max_backoff: 50ms }}\n  timeout: 2s\n",
        key.display()
    ));
    let path = dir.join("opsadvisor.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// PagerDuty dedup keys of one broker's findings.
fn keys(node: usize) -> Vec<String> {
    (1..=RULES)
        .map(|j| {
            let fp = fingerprint(
                &format!("kill9_offline_{j:02}"),
                System::Kafka,
                "kafka-a",
                Some(&format!("b{node}")),
            );
            format!("opsadvisor/{fp}")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_the_daemon_repeatedly_while_1000_notifications_flow_loses_none_and_applies_none_twice()
 {
    let dir = TempDir::new("kill9");
    let (rx, pd_url) = notify_receivers::pagerduty().await;
    rx.set_flaky(0.15, 7);
    rx.set_delay(Duration::from_millis(2));
    let bad = Arc::new(Mutex::new(vec![false; BROKERS]));
    let brokers_url = brokers(bad.clone()).await;
    let key = dir.path().join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    let config = config(dir.path(), &brokers_url, &pd_url, &key);
    let storage = dir.path().join("data");
    let spawner = Spawner {
        bin: common::binary().to_path_buf(),
        config,
        storage,
        log: dir.path().join("daemon.log"),
    };

    // The killer: SIGKILL at 250..=650 ms after each start, restart at once, until told to
    // stop; then one last daemon runs undisturbed.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let kills = Arc::new(AtomicU32::new(0));
    let killer = {
        let (stop, kills, spawner) = (stop.clone(), kills.clone(), spawner.clone());
        tokio::spawn(async move {
            let mut round = 0u64;
            loop {
                let mut child = spawner.spawn();
                if stop.load(Ordering::SeqCst) {
                    return child;
                }
                tokio::time::sleep(Duration::from_millis(250 + (round * 137) % 400)).await;
                if stop.load(Ordering::SeqCst) {
                    return child;
                }
                child.0.kill().unwrap(); // SIGKILL
                child.0.wait().unwrap();
                kills.fetch_add(1, Ordering::SeqCst);
                round += 1;
            }
        })
    };

    let started = Instant::now();
    let phases = BROKERS / BATCH;
    for phase in 0..=phases {
        {
            let mut b = bad.lock().unwrap();
            for (n, v) in b.iter_mut().enumerate() {
                *v = n / BATCH == phase;
            }
        }
        let on: Vec<String> =
            (phase * BATCH..((phase + 1) * BATCH).min(BROKERS)).flat_map(keys).collect();
        let off: Vec<String> = if phase == 0 {
            Vec::new()
        } else {
            ((phase - 1) * BATCH..phase * BATCH).flat_map(keys).collect()
        };
        let delivered = rx
            .wait_for(30, |s| {
                on.iter().all(|k| s.incidents.contains_key(k))
                    && off.iter().all(|k| s.resolves_applied.contains_key(k))
            })
            .await;
        assert!(delivered, "phase {phase} never completed; see {}", spawner.log.display());
        // Enough kills land mid-stream: stop killing after the 12th, or at the last phase.
        if kills.load(Ordering::SeqCst) >= 12 || phase + 1 == phases {
            stop.store(true, Ordering::SeqCst);
        }
    }
    stop.store(true, Ordering::SeqCst);
    let last = killer.await.unwrap();
    // Everything is delivered: the undisturbed daemon has nothing left to send.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(last);

    let kills = kills.load(Ordering::SeqCst);
    let st = rx.state.lock().unwrap();
    assert!(st.violations.is_empty(), "{:?}", st.violations);
    let triggers = st.applied.keys().filter(|(_, a)| a == "trigger").count();
    let resolves = st.applied.keys().filter(|(_, a)| a == "resolve").count();
    assert_eq!((triggers, resolves), (500, 500), "every notification arrived");
    assert_eq!(st.incidents.len(), 500);
    assert!(st.incidents.values().all(|n| *n == 1), "an alert was opened twice");
    assert!(st.resolves_applied.values().all(|n| *n == 1), "an alert was resolved twice");
    assert!(st.open.is_empty(), "every alert was resolved");
    // Repeats on the wire happen only where an answer never reached the daemon: a kill
    // between the event arriving and its delivery being recorded, or a lost answer.
    let repeats: u32 = st.applied.values().map(|n| n - 1).sum();
    println!(
        "kills: {kills}; requests: {}; lost answers: {}; repeated events: {repeats}; took {:?}",
        st.log.len(),
        st.lost,
        started.elapsed()
    );
    assert!(kills >= 8, "only {kills} kills landed while notifications flowed");
    assert!(repeats <= kills + st.lost, "{repeats} repeats > {kills} kills + {} lost", st.lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_delivers_what_is_queued_before_exiting() {
    let dir = TempDir::new("sigterm-flush");
    let (rx, pd_url) = notify_receivers::pagerduty().await;
    // 50 events at 60 ms each: 3 s of sending, most of it after the SIGTERM below.
    rx.set_delay(Duration::from_millis(60));
    let bad = Arc::new(Mutex::new((0..BROKERS).map(|n| n < BATCH).collect::<Vec<_>>()));
    let brokers_url = brokers(bad).await;
    let key = dir.path().join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    let spawner = Spawner {
        bin: common::binary().to_path_buf(),
        config: config(dir.path(), &brokers_url, &pd_url, &key),
        storage: dir.path().join("data"),
        log: dir.path().join("daemon.log"),
    };
    let mut child = spawner.spawn();
    assert!(rx.wait_for(15, |s| !s.incidents.is_empty()).await, "nothing was delivered");
    let term = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(term.success());
    let sent_at_term = rx.log().len();
    let end = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "the daemon did not exit within 15 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = std::fs::read_to_string(&spawner.log).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    let incidents = rx.state.lock().unwrap().incidents.len();
    assert!(
        sent_at_term < 40,
        "{sent_at_term} of 50 were sent before the SIGTERM: make the receiver slower"
    );
    assert_eq!(incidents, 50, "the queue was flushed before exiting:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_new_sink_url_sends_from_then_on_to_the_new_receiver() {
    let dir = TempDir::new("sighup-sinks");
    let (old_rx, old_url) = notify_receivers::pagerduty().await;
    let (new_rx, new_url) = notify_receivers::pagerduty().await;
    let bad = Arc::new(Mutex::new((0..BROKERS).map(|n| n < BATCH).collect::<Vec<_>>()));
    let brokers_url = brokers(bad.clone()).await;
    let key = dir.path().join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    let spawner = Spawner {
        bin: common::binary().to_path_buf(),
        config: config(dir.path(), &brokers_url, &old_url, &key),
        storage: dir.path().join("data"),
        log: dir.path().join("daemon.log"),
    };
    let child = spawner.spawn();
    assert!(
        old_rx.wait_for(15, |s| s.incidents.len() == 50).await,
        "the first batch never reached the configured receiver"
    );
    config(dir.path(), &brokers_url, &new_url, &key);
    let hup = Command::new("kill").args(["-HUP", &child.0.id().to_string()]).status().unwrap();
    assert!(hup.success());
    // The reload has been applied once the log says so; only then does the next batch go bad.
    let end = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&spawner.log).unwrap().contains("Notification sinks reloaded") {
        assert!(Instant::now() < end, "no sink reload logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let old_requests = old_rx.log().len();
    {
        let mut b = bad.lock().unwrap();
        for (n, v) in b.iter_mut().enumerate() {
            *v = n / BATCH == 1;
        }
    }
    let next: Vec<String> = (BATCH..2 * BATCH).flat_map(keys).collect();
    // The sink keeps its name, so what it was told carries over: the first batch's resolves
    // go to the new URL too (50 triggers + 50 resolves).
    let moved = new_rx
        .wait_for(15, |s| next.iter().all(|k| s.incidents.contains_key(k)) && s.log.len() >= 100)
        .await;
    let log = std::fs::read_to_string(&spawner.log).unwrap();
    assert!(
        moved,
        "the new receiver did not get the next batch and the resolves (new: {} requests, old: {} then {}):\n{log}",
        new_rx.log().len(),
        old_requests,
        old_rx.log().len()
    );
    assert_eq!(old_rx.log().len(), old_requests, "the old receiver was still sent to");
    assert!(!log.contains("0123456789abcdef0123456789abcdef"), "the routing key was logged");
    drop(child);
}
