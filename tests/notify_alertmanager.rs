//! The Alertmanager sink against Debian's real `prometheus-alertmanager`, started on
//! 127.0.0.1 by the test (skipped with a reason when the binary is absent): a firing
//! finding shows up in `GET /api/v2/alerts` with our labels and an `endsAt` four resend
//! delays ahead, a resend pushes `endsAt` forward, and a resolve ends it. A second,
//! unreachable Alertmanager URL in the same config delays nothing.

#![allow(clippy::unwrap_used, clippy::cloned_ref_to_slice_refs)]

mod common;

use opsadvisor::System;
use opsadvisor::findings::{Category, Finding, Severity, fingerprint};
use opsadvisor::sinks::notify::{NotificationsConfig, Notifier};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const BINARY: &str = "prometheus-alertmanager";

fn binary() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(BINARY))
        .find(|p| p.is_file())
}

fn finding() -> Finding {
    let id = "kafka_under_min_isr";
    Finding {
        id: id.into(),
        fingerprint: fingerprint(id, System::Kafka, "kafka-prod", Some("broker-2")),
        system: System::Kafka,
        cluster: "kafka-prod".into(),
        node: Some("broker-2".into()),
        category: Category::Availability,
        severity: Severity::Critical,
        impact: vec![],
        analyzer: "rules".into(),
        symptom: "3 partitions under min.insync.replicas on broker-2".into(),
        cause: String::new(),
        resources: vec![],
        evidence: vec![],
        action: "bring the lagging replicas back".into(),
        docs_url: "https://kafka.apache.org/documentation/#replication".into(),
        advises: Vec::new(),
    }
}

async fn alerts(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let url = format!("{base}/api/v2/alerts?filter=alertname%3D%22kafka_under_min_isr%22");
    let v: Value =
        serde_json::from_str(&client.get(url).send().await.unwrap().text().await.unwrap()).unwrap();
    v.as_array().unwrap().clone()
}

fn ends_at_ms(a: &Value) -> i64 {
    let s = a["endsAt"].as_str().unwrap();
    let secs = s.split('.').next().unwrap().trim_end_matches('Z');
    opsadvisor::config::parse_utc_timestamp(&format!("{secs}Z")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_alertmanager_shows_the_alert_while_firing_and_ends_it_on_resolve() {
    let Some(bin) = binary() else {
        println!("skipped: {BINARY} is not installed (apt-get install prometheus-alertmanager)");
        return;
    };
    let dir = common::TempDir::new("am");
    let cfg = dir.path().join("am.yml");
    std::fs::write(&cfg, "route:\n  receiver: default\nreceivers:\n  - name: default\n").unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _am = common::KillOnDrop(
        std::process::Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(common::wait_until_ok(&format!("{base}/-/ready")).await, "alertmanager not ready");

    let unreachable = common::refused_url().await.replace("/metrics", "");
    let yaml = format!(
        "alertmanager:\n  - urls: ['{base}', '{unreachable}']\n    resend_delay: 1s\n    evaluation_interval: 1s\n    external_url: http://opsadvisor.example:9646\nretry: {{ initial_backoff: 100ms, max_backoff: 1s }}"
    );
    let config: NotificationsConfig = serde_norway::from_str(&yaml).unwrap();
    let notifier = Arc::new(Notifier::open(&dir.path().join("outbox"), &config).unwrap());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let n = notifier.clone();
    let task = tokio::spawn(async move { n.run(rx).await });
    let client = opsadvisor::sources::http_client(Duration::from_secs(5)).unwrap();
    let f = finding();

    // Fire.
    let t0 = opsadvisor::clock::now_ms();
    notifier.on_cycle(t0, std::slice::from_ref(&f), &[]).unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        got = alerts(&client, &base).await;
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(got.len(), 1, "the alert never showed up");
    let a = &got[0];
    assert_eq!(a["status"]["state"], "active");
    assert_eq!(a["labels"]["cluster"], "kafka-prod");
    assert_eq!(a["labels"]["node"], "broker-2");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["system"], "kafka");
    assert_eq!(a["annotations"]["fingerprint"], f.fingerprint.as_str());
    assert_eq!(
        a["generatorURL"],
        format!("http://opsadvisor.example:9646/api/v1/findings/{}", f.fingerprint)
    );
    // endsAt = send time + 4 × max(resend_delay, evaluation_interval) = + 4 s.
    let first_end = ends_at_ms(a);
    assert!((first_end - t0 - 4_000).abs() <= 2_000, "endsAt {} vs fire {t0}", a["endsAt"]);

    // Still firing 1.5 s later: the resend pushes endsAt forward.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    notifier.on_cycle(opsadvisor::clock::now_ms(), std::slice::from_ref(&f), &[]).unwrap();
    let mut later = first_end;
    for _ in 0..50 {
        later = ends_at_ms(&alerts(&client, &base).await[0]);
        if later > first_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(later > first_end, "resend did not extend endsAt");

    // Resolve: endsAt = the resolve time, so Alertmanager no longer lists it as active.
    notifier.on_cycle(opsadvisor::clock::now_ms(), &[], std::slice::from_ref(&f)).unwrap();
    let mut ended = false;
    for _ in 0..50 {
        let now = alerts(&client, &base).await;
        if now.is_empty()
            || now[0]["status"]["state"] != "active"
            || ends_at_ms(&now[0]) <= opsadvisor::clock::now_ms()
        {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "the alert did not end after the resolve");

    // Alertmanager can show the resolve before the delivery task counts its answer.
    let mut stats = notifier.stats().unwrap();
    for _ in 0..50 {
        let live = stats.iter().find(|s| s.sink == "alertmanager[0].urls[0]").unwrap();
        if live.delivered_total >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stats = notifier.stats().unwrap();
    }
    let live = stats.iter().find(|s| s.sink == "alertmanager[0].urls[0]").unwrap();
    assert!(live.delivered_total >= 3, "{stats:?}");
    let dead = stats.iter().find(|s| s.sink == "alertmanager[0].urls[1]").unwrap();
    assert!(dead.pending >= 1 && dead.delivered_total == 0, "{stats:?}");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}
