//! Notification sinks against loopback fakes that check the documented wire contracts:
//! Slack (Block Kit, `200 ok`), PagerDuty (Events v2 trigger/resolve by dedup_key),
//! Grafana (annotation POST then PATCH timeEnd). Retry policy: 429 waits Retry-After,
//! 5xx retries with backoff, other 4xx drops; secrets never reach the logs.

#![allow(clippy::unwrap_used, clippy::cloned_ref_to_slice_refs)]

mod common;
mod notify_receivers;

use notify_receivers::{Scripted, pagerduty, slack};
use opsadvisor::System;
use opsadvisor::findings::{Category, Evidence, Finding, Severity, fingerprint};
use opsadvisor::sinks::notify::{NotificationsConfig, Notifier};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) fn finding(id: &str, severity: Severity, node: Option<&str>) -> Finding {
    Finding {
        id: id.into(),
        fingerprint: fingerprint(id, System::Cassandra, "prod", node),
        system: System::Cassandra,
        cluster: "prod".into(),
        node: node.map(str::to_string),
        category: Category::Tuning,
        severity,
        impact: vec![],
        analyzer: "rules".into(),
        symptom: format!("<{id}> & {} pending compactions", "9".repeat(4000)),
        cause: "compaction throughput is capped".into(),
        resources: vec![],
        evidence: vec![Evidence {
            feature: "pending_compactions".into(),
            value: Some(271.0),
            op: ">".into(),
            threshold: Some(100.0),
        }],
        action: "set concurrent_compactors to 4".into(),
        docs_url: "https://cassandra.apache.org/doc/latest/".into(),
        advises: Vec::new(),
    }
}

/// A notifier running its delivery loop on the test's runtime.
struct Running {
    notifier: Arc<Notifier>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    dir: common::TempDir,
}

impl Running {
    async fn start(tag: &str, yaml: &str) -> Running {
        let dir = common::TempDir::new(tag);
        let config: NotificationsConfig = serde_norway::from_str(yaml).unwrap();
        let notifier = Arc::new(Notifier::open(dir.path(), &config).unwrap());
        let (stop, rx) = tokio::sync::watch::channel(false);
        let n = notifier.clone();
        let task = tokio::spawn(async move { n.run(rx).await });
        Running { notifier, stop, task, dir }
    }

    async fn shutdown(self) -> common::TempDir {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task).await.unwrap().unwrap();
        self.dir
    }
}

/// Writes a secret into a file in `dir` and returns its path.
fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{value}\n")).unwrap();
    p.display().to_string()
}

/// Captures this thread's log output (the tests run on a current-thread runtime).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let w = self.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_default(sub)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn slack_messages_follow_the_webhook_contract_for_fire_and_resolve() {
    let secret_dir = common::TempDir::new("slack-secret");
    let (rx, url) = slack("XXSECRETXX").await;
    let file = secret_file(secret_dir.path(), "hook", &url);
    let yaml = format!(
        "slack: [{{ webhook_url_file: '{file}', min_interval: 0s }}]\nretry: {{ initial_backoff: 50ms }}"
    );
    let r = Running::start("slack-contract", &yaml).await;
    let a = finding("cassandra_compaction_backlog", Severity::Warning, Some("cass-1"));
    let t0 = opsadvisor::clock::now_ms();
    r.notifier.on_cycle(t0, std::slice::from_ref(&a), &[]).unwrap();
    r.notifier.on_cycle(t0 + 1000, &[], std::slice::from_ref(&a)).unwrap();
    assert!(rx.wait_for(10, |s| s.log.len() >= 2).await, "{:?}", rx.violations());
    assert_eq!(rx.violations(), Vec::<String>::new());
    let log = rx.accepted();
    let fire = log[0].body["text"].as_str().unwrap();
    assert!(
        fire.starts_with("FIRING [WARNING] cassandra_compaction_backlog on prod/cass-1"),
        "{fire}"
    );
    assert!(log[1].body["text"].as_str().unwrap().starts_with("RESOLVED"));
    let header = log[0].body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(header.starts_with(":large_orange_circle:"), "{header}");
    // mrkdwn escaping of the symptom's `<` `>` `&`.
    let symptom = log[0].body["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(symptom.contains("&lt;cassandra_compaction_backlog&gt; &amp;"), "{symptom}");
    let stats = r.notifier.stats().unwrap();
    assert_eq!((stats[0].delivered_total, stats[0].pending), (2, 0));
    r.shutdown().await;
}

#[tokio::test]
async fn slack_retries_429_after_retry_after_and_5xx_drops_400_and_never_logs_the_url() {
    let logs = Logs::default();
    let _guard = logs.install();
    let secret_dir = common::TempDir::new("slack-secret");
    let (rx, url) = slack("XXSECRETXX").await;
    let file = secret_file(secret_dir.path(), "hook", &url);
    rx.push(Scripted::rate_limited("1"));
    rx.push(Scripted::fail(500, "rollup_error"));
    let yaml = format!(
        "slack: [{{ webhook_url_file: '{file}', min_interval: 0s, send_resolved: false }}]\nretry: {{ initial_backoff: 50ms }}"
    );
    let r = Running::start("slack-retry", &yaml).await;
    let now = opsadvisor::clock::now_ms();
    let (a, b, c, d) = (
        finding("a", Severity::Warning, None),
        finding("b", Severity::Warning, None),
        finding("c", Severity::Warning, None),
        finding("d", Severity::Warning, None),
    );
    let statuses = || rx.log().iter().map(|x| x.status).collect::<Vec<u16>>();
    r.notifier.on_cycle(now, &[a.clone()], &[]).unwrap();
    assert!(rx.wait_for(10, |s| s.log.len() == 3).await, "{:?}", statuses());
    rx.push(Scripted::fail(200, "not ok")); // 200 with another body: not posted, permanent
    rx.push(Scripted::fail(404, "channel_not_found"));
    r.notifier.on_cycle(now + 1, &[a.clone(), b, c, d], &[]).unwrap();
    assert!(rx.wait_for(10, |s| s.log.len() >= 6).await, "{:?}", statuses());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = rx.log();
    // a: 429, 500, ok; b: 200 "not ok" → dropped; c: 404 → dropped; d: ok. Nothing more.
    assert_eq!(statuses(), [429, 500, 200, 200, 404, 200]);
    let waited = log[1].at - log[0].at;
    assert!(waited >= Duration::from_secs(1), "Retry-After: 1 not honoured: {waited:?}");
    assert_eq!(rx.violations(), Vec::<String>::new());
    let s = &r.notifier.stats().unwrap()[0];
    assert_eq!((s.delivered_total, s.dropped_total, s.retries_total, s.pending), (2, 2, 2, 0));
    r.shutdown().await;
    let text = logs.text();
    assert!(text.contains("channel_not_found") && text.contains("HTTP 429"), "{text}");
    assert!(!text.contains("XXSECRETXX") && !text.contains("/services/"), "{text}");
}

#[tokio::test]
async fn pagerduty_triggers_and_resolves_one_alert_per_dedup_key_and_pages_only_critical() {
    let secret_dir = common::TempDir::new("pd-secret");
    let (rx, url) = pagerduty().await;
    let key = "0123456789abcdef0123456789abcdef";
    let file = secret_file(secret_dir.path(), "key", key);
    rx.push(Scripted::rate_limited("1"));
    let yaml = format!(
        "pagerduty: [{{ url: '{url}', routing_key_file: '{file}', min_interval: 0s }}]\nretry: {{ initial_backoff: 50ms }}"
    );
    let r = Running::start("pd", &yaml).await;
    let crit = finding("kafka_offline_partitions", Severity::Critical, None);
    let warn = finding("cassandra_compaction_backlog", Severity::Warning, Some("cass-1"));
    let t0 = opsadvisor::clock::now_ms();
    r.notifier.on_cycle(t0, &[crit.clone(), warn.clone()], &[]).unwrap();
    r.notifier.on_cycle(t0 + 1000, &[crit.clone(), warn.clone()], &[]).unwrap();
    r.notifier.on_cycle(t0 + 2000, &[warn.clone()], &[crit.clone()]).unwrap();
    let dedup = format!("opsadvisor/{}", crit.fingerprint);
    assert!(
        rx.wait_for(10, |s| s.resolves_applied.get(&dedup) == Some(&1)).await,
        "{:?}",
        rx.log()
    );
    assert_eq!(rx.violations(), Vec::<String>::new());
    {
        let st = rx.state.lock().unwrap();
        assert_eq!(st.incidents.len(), 1, "the warning must not page: {:?}", st.incidents);
        assert_eq!(st.incidents[&dedup], 1);
        let statuses: Vec<u16> = st.log.iter().map(|x| x.status).collect();
        assert_eq!(statuses, [429, 202, 202]);
        assert!(st.log[1].at - st.log[0].at >= Duration::from_secs(1));
        let trigger = &st.log[1].body;
        assert_eq!(trigger["payload"]["severity"], "critical");
        assert_eq!(trigger["payload"]["group"], "prod");
        assert_eq!(trigger["payload"]["class"], "kafka_offline_partitions");
        assert!(trigger["payload"]["summary"].as_str().unwrap().chars().count() <= 1024);
    }
    r.shutdown().await;
}

#[tokio::test]
async fn pagerduty_drops_a_400_and_goes_on() {
    let secret_dir = common::TempDir::new("pd-secret");
    let (rx, url) = pagerduty().await;
    // A routing key of the wrong length: the fake answers 400 as PagerDuty does.
    let file = secret_file(secret_dir.path(), "key", "short");
    let yaml = format!(
        "pagerduty: [{{ url: '{url}', routing_key_file: '{file}', min_interval: 0s }}]\nretry: {{ initial_backoff: 50ms }}"
    );
    let r = Running::start("pd400", &yaml).await;
    let crit = finding("x", Severity::Critical, None);
    r.notifier.on_cycle(opsadvisor::clock::now_ms(), &[crit], &[]).unwrap();
    assert!(rx.wait_for(10, |s| !s.log.is_empty()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.log().len(), 1, "a 400 is never retried");
    let s = &r.notifier.stats().unwrap()[0];
    assert_eq!((s.dropped_total, s.pending), (1, 0));
    r.shutdown().await;
}

#[tokio::test]
async fn grafana_annotation_is_created_on_fire_and_ended_by_patch_on_resolve() {
    let secret_dir = common::TempDir::new("grafana-secret");
    let rx = notify_receivers::grafana("glsa_token").await;
    let file = secret_file(secret_dir.path(), "token", "glsa_token");
    let yaml = format!(
        "grafana: [{{ url: '{}', token_file: '{file}', org_id: 3 }}]\nretry: {{ initial_backoff: 50ms }}",
        rx.base
    );
    let r = Running::start("grafana", &yaml).await;
    let a = finding("cassandra_compaction_backlog", Severity::Warning, Some("cass-1"));
    let t0 = opsadvisor::clock::now_ms();
    r.notifier.on_cycle(t0, &[a.clone()], &[]).unwrap();
    r.notifier.on_cycle(t0 + 60_000, &[], &[a.clone()]).unwrap();
    assert!(
        rx.wait_for(10, |s| s.annotations.get(&1).is_some_and(|x| x.get("timeEnd").is_some()))
            .await,
        "{:?}",
        rx.log()
    );
    assert_eq!(rx.violations(), Vec::<String>::new());
    {
        let st = rx.state.lock().unwrap();
        assert_eq!(st.annotations.len(), 1);
        let ann = &st.annotations[&1];
        assert_eq!(ann["time"], t0);
        assert_eq!(ann["timeEnd"], t0 + 60_000);
        let tags: Vec<&str> =
            ann["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        for t in
            ["opsadvisor", "system:cassandra", "cluster:prod", "severity:warning", "node:cass-1"]
        {
            assert!(tags.contains(&t), "{tags:?}");
        }
        assert!(tags.contains(&"rule:cassandra_compaction_backlog"));
        let methods: Vec<(&str, &str)> =
            st.log.iter().map(|x| (x.method.as_str(), x.path.as_str())).collect();
        assert_eq!(methods, [("POST", "/api/annotations"), ("PATCH", "/api/annotations/1")]);
    }
    r.shutdown().await;
}

#[tokio::test]
async fn grafana_never_creates_a_second_annotation_when_an_answer_was_lost() {
    let secret_dir = common::TempDir::new("grafana-secret");
    let rx = notify_receivers::grafana("glsa_token").await;
    let file = secret_file(secret_dir.path(), "token", "glsa_token");
    // The first POST is stored by Grafana but its answer is lost (502 from a proxy).
    rx.push(Scripted { status: 502, body: "bad gateway", retry_after: None, apply: true });
    let yaml = format!(
        "grafana: [{{ url: '{}', token_file: '{file}' }}]\nretry: {{ initial_backoff: 50ms }}",
        rx.base
    );
    let r = Running::start("grafana-lost", &yaml).await;
    let a = finding("x", Severity::Critical, None);
    let t0 = opsadvisor::clock::now_ms();
    r.notifier.on_cycle(t0, &[a.clone()], &[]).unwrap();
    r.notifier.on_cycle(t0 + 5_000, &[], &[a.clone()]).unwrap();
    assert!(
        rx.wait_for(10, |s| s.annotations.get(&1).is_some_and(|x| x.get("timeEnd").is_some()))
            .await,
        "{:?}",
        rx.log()
    );
    {
        let st = rx.state.lock().unwrap();
        assert_eq!(st.annotations.len(), 1, "{:?}", st.log);
        let methods: Vec<&str> = st.log.iter().map(|x| x.method.as_str()).collect();
        assert_eq!(methods, ["POST", "GET", "PATCH"]);
    }
    r.shutdown().await;
}

#[tokio::test]
async fn grafana_rejects_a_wrong_token_and_the_notification_is_dropped() {
    let secret_dir = common::TempDir::new("grafana-secret");
    let rx = notify_receivers::grafana("right").await;
    let file = secret_file(secret_dir.path(), "token", "wrong");
    let yaml = format!("grafana: [{{ url: '{}', token_file: '{file}' }}]", rx.base);
    let r = Running::start("grafana-401", &yaml).await;
    r.notifier.on_cycle(1_700_000_000_000, &[finding("x", Severity::Info, None)], &[]).unwrap();
    assert!(rx.wait_for(10, |s| !s.log.is_empty()).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.log().iter().map(|x| x.status).collect::<Vec<_>>(), [401]);
    assert_eq!(r.notifier.stats().unwrap()[0].dropped_total, 1);
    r.shutdown().await;
}

#[tokio::test]
async fn a_sink_that_is_down_does_not_delay_another() {
    let secret_dir = common::TempDir::new("iso-secret");
    let (slack_rx, slack_url) = slack("s").await;
    for _ in 0..50 {
        slack_rx.push(Scripted::fail(503, "down"));
    }
    let (pd_rx, pd_url) = pagerduty().await;
    let hook = secret_file(secret_dir.path(), "hook", &slack_url);
    let key = secret_file(secret_dir.path(), "key", "0123456789abcdef0123456789abcdef");
    let yaml = format!(
        "slack: [{{ webhook_url_file: '{hook}', min_interval: 0s }}]
pagerduty: [{{ url: '{pd_url}', routing_key_file: '{key}', min_interval: 0s }}]
retry: {{ initial_backoff: 200ms, max_backoff: 1s }}"
    );
    let r = Running::start("isolation", &yaml).await;
    let start = Instant::now();
    let fs: Vec<Finding> =
        (0..5).map(|i| finding(&format!("f{i}"), Severity::Critical, None)).collect();
    r.notifier.on_cycle(opsadvisor::clock::now_ms(), &fs, &[]).unwrap();
    assert!(pd_rx.wait_for(5, |s| s.incidents.len() == 5).await);
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    let stats = r.notifier.stats().unwrap();
    let slack_stats = stats.iter().find(|s| s.sink == "slack[0]").unwrap();
    assert_eq!(slack_stats.pending, 5, "Slack's notifications wait in the outbox");
    assert!(slack_stats.retries_total >= 1);
    r.shutdown().await;
}
