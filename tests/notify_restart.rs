//! Restart: the notifier is dropped while notifications are on the wire, reopened on the
//! same directory, and every notification still arrives, each applied once per dedup key.

#![allow(clippy::unwrap_used, clippy::cloned_ref_to_slice_refs)]

mod common;
mod notify_receivers;

use opsadvisor::System;
use opsadvisor::findings::{Category, Finding, Severity, fingerprint};
use opsadvisor::sinks::notify::{NotificationsConfig, Notifier};
use std::sync::Arc;
use std::time::Duration;

fn finding(i: usize) -> Finding {
    let id = format!("rule_{i}");
    Finding {
        fingerprint: fingerprint(&id, System::Kafka, "prod", Some("b1")),
        id,
        system: System::Kafka,
        cluster: "prod".into(),
        node: Some("b1".into()),
        category: Category::Availability,
        severity: Severity::Critical,
        impact: vec![],
        analyzer: "rules".into(),
        symptom: format!("problem {i}"),
        cause: String::new(),
        resources: vec![],
        evidence: vec![],
        action: String::new(),
        docs_url: String::new(),
        advises: Vec::new(),
    }
}

fn start(n: &Arc<Notifier>) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let n = n.clone();
    (stop, tokio::spawn(async move { n.run(rx).await }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_notifier_mid_flight_loses_nothing_and_applies_nothing_twice() {
    let dir = common::TempDir::new("restart");
    let (rx, url) = notify_receivers::pagerduty().await;
    // Each answer takes 30 ms after the event was recorded: a drop lands mid-flight.
    rx.set_delay(Duration::from_millis(30));
    let key = dir.path().join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    let yaml = format!(
        "pagerduty: [{{ url: '{url}', routing_key_file: '{}', min_interval: 0s }}]",
        key.display()
    );
    let config: NotificationsConfig = serde_norway::from_str(&yaml).unwrap();
    let outbox = dir.path().join("outbox");
    let all: Vec<Finding> = (0..60).map(finding).collect();
    let t0 = 1_700_000_000_000;

    let first = Arc::new(Notifier::open(&outbox, &config).unwrap());
    first.on_cycle(t0, &all, &[]).unwrap();
    let (_stop, task) = start(&first);
    assert!(rx.wait_for(10, |s| s.log.len() >= 20).await);
    // A crash, as far as the notifier can tell: the task is gone between a request being
    // received and its answer being recorded.
    task.abort();
    let _ = task.await;
    drop(first);
    let sent_before = rx.log().len();
    assert!(sent_before < 60, "everything was sent before the drop; make the receiver slower");

    let second = Arc::new(Notifier::open(&outbox, &config).unwrap());
    // Half resolve in the first cycle after the restart; the restart itself re-fires nothing.
    second.on_cycle(t0 + 60_000, &all[30..], &all[..30]).unwrap();
    let (stop, task) = start(&second);
    let keys: Vec<String> = all.iter().map(|f| format!("opsadvisor/{}", f.fingerprint)).collect();
    let done = rx
        .wait_for(20, |s| {
            keys.iter().all(|k| s.incidents.get(k) == Some(&1))
                && keys[..30].iter().all(|k| s.resolves_applied.get(k) == Some(&1))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    {
        let st = rx.state.lock().unwrap();
        assert!(
            done,
            "not everything arrived: {} incidents, {:?}",
            st.incidents.len(),
            st.resolves_applied.len()
        );
        assert!(st.violations.is_empty(), "{:?}", st.violations);
        // Nothing was opened twice, nothing still open that resolved, and the only repeats on
        // the wire are the one event that was in flight at the drop.
        assert!(st.incidents.values().all(|n| *n == 1));
        assert_eq!(st.open.len(), 30);
        let repeats: u32 = st.applied.values().map(|n| n - 1).sum();
        println!("sent before the drop: {sent_before}; repeated on the wire: {repeats}");
        assert!(repeats <= 1, "{repeats} events repeated");
        assert_eq!(st.applied.len(), 90, "60 triggers and 30 resolves");
    }
    let stats = second.stats().unwrap();
    assert_eq!(stats[0].pending, 0);
    stop.send(true).unwrap();
    task.await.unwrap();
}
