//! The daemon as users run it: the real binary, loopback exporters, short intervals.
//!
//! Covers: a firing finding survives a restart with its active-since (no second `for`
//! wait); the API's filters, envelope, history and targets; `/metrics` parses cleanly with
//! our own parser; the bearer token guards the API but not the probes; a bad reload keeps
//! the running config (HTTP and SIGHUP); file_sd changes are picked up without a restart;
//! SIGTERM drains and exits 0; a bad config at start exits 78; secrets never reach the logs;
//! a refused model on reload keeps the running one; systemd hears READY, RELOADING, STOPPING.

#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::routing::get;
use common::{KillOnDrop, TempDir, free_port};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A Kafka broker exposition with `offline` leaderless partitions.
fn broker(offline: u32) -> String {
    format!(
        "# TYPE kafka_controller_kafkacontroller_offlinepartitionscount gauge\n\
         kafka_controller_kafkacontroller_offlinepartitionscount {offline}\n"
    )
}

/// One rule: offline partitions for 1 s is critical.
const RULES: &str = r#"
groups:
  - name: test
    system: kafka
    rules:
      - id: test_offline_partitions
        expr: offline_partitions > 0
        for: 1s
        severity: critical
        category: availability
        annotations:
          symptom: "{{ offline_partitions | int }} partitions have no leader."
          action: "Bring their replicas back."
          docs_url: https://kafka.apache.org/documentation/#monitoring
"#;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// A config of one Kafka cluster `kafka-a` whose broker `b1` is at `url`, scraped every 200 ms.
fn config(dir: &Path, url: &str, extra: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    write(&dir.join("rules/test.yaml"), RULES);
    let path = dir.join("opsadvisor.yaml");
    write(
        &path,
        &format!(
            "scrape: {{ interval: 200ms, timeout: 1s }}\nrule_dirs: [rules]\nclusters:\n  \
             - name: kafka-a\n    system: kafka\n    targets: [{{ node: b1, metrics: '{url}' }}]\n{extra}"
        ),
    );
    path
}

struct Daemon {
    child: KillOnDrop,
    log: std::path::PathBuf,
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

fn spawn(config: &Path, storage: &Path, envs: &[(&str, &str)], token: Option<&str>) -> Daemon {
    spawn_with(config, storage, envs, token, &[])
}

fn spawn_with(
    config: &Path,
    storage: &Path,
    envs: &[(&str, &str)],
    token: Option<&str>,
    args: &[&str],
) -> Daemon {
    let port = free_port();
    // Logs go to a file: a pipe nobody drains would block a chatty daemon.
    let log = storage.with_extension(format!("log.{port}"));
    let file = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(common::binary());
    cmd.args(["daemon", "--config"])
        .arg(config)
        .arg("--storage.path")
        .arg(storage)
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    if let Some(t) = token {
        cmd.env("OPSADVISOR_WEB_TOKEN", t);
    }
    Daemon {
        child: KillOnDrop(cmd.spawn().unwrap()),
        log,
        base: format!("http://127.0.0.1:{port}"),
        token: token.map(str::to_string),
        client: opsadvisor::sources::http_client(Duration::from_secs(5)).unwrap(),
    }
}

impl Daemon {
    async fn get(&self, path: &str) -> (u16, String) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{body}");
        v["data"].clone()
    }

    async fn post(&self, path: &str) -> (u16, String) {
        let mut req = self.client.post(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Polls `probe` every 100 ms for up to `secs`; the first `Some`.
    async fn wait_for<T>(&self, secs: u64, mut probe: impl AsyncFnMut(&Daemon) -> Option<T>) -> T {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = probe(self).await {
                return v;
            }
            assert!(Instant::now() < end, "timed out waiting on {}", self.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn ready(&self) {
        self.wait_for(15, async |d| (d.get("/-/ready").await.0 == 200).then_some(())).await;
    }

    async fn healthy(&self) {
        self.wait_for(15, async |d| (d.get("/-/healthy").await.0 == 200).then_some(())).await;
    }

    async fn firing(&self) -> Value {
        self.healthy().await;
        self.wait_for(15, async |d| {
            let v = d.json("/api/v1/findings?state=firing").await;
            v.as_array().and_then(|a| a.first().cloned())
        })
        .await
    }

    async fn metric(&self, line_prefix: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find(|l| l.starts_with(line_prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Sends SIGTERM; the exit code and everything the daemon printed.
    async fn terminate(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let end = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = self.child.0.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < end, "daemon did not stop within 15 s of SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        (status.code(), std::fs::read_to_string(&self.log).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_finding_survives_a_restart_with_its_active_since() {
    let url = common::serve_text(Box::leak(broker(3).into_boxed_str())).await;
    let dir = TempDir::new("daemon-restart");
    let cfg = config(dir.path(), &url, "");
    let storage = dir.path().join("data");

    let d = spawn(&cfg, &storage, &[], None);
    let first = d.firing().await;
    assert_eq!(first["id"], "test_offline_partitions");
    assert_eq!(first["severity"], "critical");
    assert_eq!(first["symptom"], "3 partitions have no leader.");
    let since = first["active_since_ms"].as_i64().unwrap();
    let fired = first["fired_at_ms"].as_i64().unwrap();
    assert!(fired - since >= 1000, "fired only after `for` (1s): {first}");
    let (code, logs) = d.terminate().await;
    assert_eq!(code, Some(0), "SIGTERM drains and exits 0:\n{logs}");
    assert!(logs.contains("Shutting down"), "{logs}");

    // Restarted: firing at once (restored), same active-since, and not re-pending later.
    let d = spawn(&cfg, &storage, &[], None);
    let fp = first["fingerprint"].as_str().unwrap();
    d.healthy().await;
    let restored = d.json(&format!("/api/v1/findings/{fp}")).await;
    assert_eq!(restored["state"], "firing", "{restored}");
    assert_eq!(restored["active_since_ms"].as_i64(), Some(since));
    d.ready().await;
    let cycles = d.metric("opsadvisor_cycles_total").await.unwrap();
    d.wait_for(10, async |d| {
        (d.metric("opsadvisor_cycles_total").await.unwrap() >= cycles + 5.0).then_some(())
    })
    .await;
    let after = d.json(&format!("/api/v1/findings/{fp}")).await;
    assert_eq!(after["state"], "firing", "{after}");
    assert_eq!(after["active_since_ms"].as_i64(), Some(since));
    assert_eq!(after["fired_at_ms"].as_i64(), Some(fired));
    let history: Vec<(String, String)> = after["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from"].as_str().unwrap().into(), h["to"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        history,
        [("inactive".into(), "pending".into()), ("pending".into(), "firing".into())],
        "one pending → firing, none after the restart"
    );
    let (code, _) = d.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_finding_still_waits_keep_firing_for_before_resolving() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let offline = Arc::new(AtomicU32::new(3));
    let shown = offline.clone();
    let url = common::serve(Router::new().route(
        "/metrics",
        get(move || {
            let n = shown.load(Ordering::SeqCst);
            async move { broker(n) }
        }),
    ))
    .await;
    let dir = TempDir::new("daemon-keep-firing");
    let cfg = config(dir.path(), &url, "");
    write(
        &dir.path().join("rules/test.yaml"),
        &RULES.replace("for: 1s", "for: 0s\n        keep_firing_for: 4s"),
    );
    let storage = dir.path().join("data");

    let d = spawn(&cfg, &storage, &[], None);
    let fp = d.firing().await["fingerprint"].as_str().unwrap().to_string();
    // The condition clears and the daemon stops while the finding is held.
    offline.store(0, Ordering::SeqCst);
    let (code, logs) = d.terminate().await;
    assert_eq!(code, Some(0), "{logs}");

    let d = spawn(&cfg, &storage, &[], None);
    d.healthy().await;
    let restored = d.json(&format!("/api/v1/findings/{fp}")).await;
    assert_eq!(restored["state"], "firing", "{restored}");
    let last_active = restored["last_active_ms"].as_i64().unwrap();
    let resolved = d
        .wait_for(20, async |d| {
            let v = d.json(&format!("/api/v1/findings/{fp}")).await;
            (v["state"] == "inactive").then_some(v)
        })
        .await;
    let history = resolved["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!((last["from"].as_str(), last["to"].as_str()), (Some("firing"), Some("inactive")));
    let held = last["at_ms"].as_i64().unwrap() - last_active;
    assert!(held >= 4000, "resolved {held} ms after it was last active, before keep_firing_for 4s");
    let (code, _) = d.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_filters_guards_and_reports_targets_and_metrics() {
    let url = common::serve_text(Box::leak(broker(1).into_boxed_str())).await;
    let down = common::refused_url().await;
    let dir = TempDir::new("daemon-api");
    let cfg = config(
        dir.path(),
        &url,
        &format!(
            "  - name: kafka-b\n    system: kafka\n    targets: [{{ node: b9, metrics: '{down}' }}]\n"
        ),
    );
    let d = spawn(&cfg, &dir.path().join("data"), &[], Some("api-t0ken"));
    d.ready().await;
    let f = d.firing().await;
    assert_eq!(f["cluster"], "kafka-a");

    // Filters; a bad value is a 400 with Prometheus's error envelope.
    assert_eq!(
        d.json("/api/v1/findings?cluster=kafka-a&severity=critical&system=kafka")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(d.json("/api/v1/findings?cluster=kafka-b").await.as_array().unwrap().is_empty());
    assert!(d.json("/api/v1/findings?state=pending").await.as_array().unwrap().is_empty());
    let (status, body) = d.get("/api/v1/findings?severity=page").await;
    assert_eq!(status, 400);
    assert!(body.contains("\"errorType\":\"bad_data\""), "{body}");
    let (status, _) = d.get("/api/v1/findings/0123456789abcdef").await;
    assert_eq!(status, 404);

    // Targets: the refused one is down with its reason.
    let targets = d.json("/api/v1/targets").await;
    let b9 = targets.as_array().unwrap().iter().find(|t| t["node"] == "b9").unwrap();
    assert_eq!(b9["up"], false);
    assert!(b9["error"].as_str().unwrap().contains("connection"), "{b9}");

    // /metrics parses with our own parser, without lint warnings, and says who is down.
    let (_, text) = d.get("/metrics").await;
    let parsed = opsadvisor::sources::exposition::parse(
        text.as_bytes(),
        opsadvisor::sources::exposition::Format::Text,
    )
    .unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let value = |name: &str, label: (&str, &str)| {
        parsed
            .samples
            .iter()
            .find(|s| s.name == name && s.label(label.0) == Some(label.1))
            .map(|s| s.value)
    };
    assert_eq!(value("opsadvisor_target_up", ("node", "b9")), Some(0.0));
    assert_eq!(value("opsadvisor_target_up", ("node", "b1")), Some(1.0));
    assert!(value("opsadvisor_scrape_errors_total", ("reason", "connection")).unwrap() >= 1.0);
    assert_eq!(value("opsadvisor_findings", ("state", "firing")), Some(1.0));
    assert!(parsed.samples.iter().any(|s| s.name == "opsadvisor_evaluation_duration_seconds"));
    assert!(parsed.samples.iter().any(|s| s.name == "opsadvisor_build_info"));

    // The token guards the API and the page, not the probes.
    let anon = opsadvisor::sources::http_client(Duration::from_secs(5)).unwrap();
    for path in ["/api/v1/findings", "/metrics", "/", "/api/v1/targets"] {
        let r = anon.get(format!("{}{path}", d.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    let wrong =
        anon.get(format!("{}/metrics", d.base)).bearer_auth("api-t0keN").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    for path in ["/-/healthy", "/-/ready"] {
        let r = anon.get(format!("{}{path}", d.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    let (code, logs) = d.terminate().await;
    assert_eq!(code, Some(0));
    assert!(!logs.contains("api-t0ken"), "the API token must never be logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_reload_keeps_the_running_config_and_a_valid_one_applies() {
    let url = common::serve_text(Box::leak(broker(1).into_boxed_str())).await;
    let url2 = common::serve_text(Box::leak(broker(0).into_boxed_str())).await;
    let dir = TempDir::new("daemon-reload");
    let cfg = config(dir.path(), &url, "");
    let d = spawn(&cfg, &dir.path().join("data"), &[], None);
    d.ready().await;
    d.firing().await;
    let good = std::fs::read_to_string(&cfg).unwrap();

    // Invalid YAML: 500 with the reason, the gauge drops to 0, everything keeps running.
    write(&cfg, &format!("{good}  - name: broken\n    system: mongodb\n"));
    let (status, body) = d.post("/-/reload").await;
    assert_eq!(status, 500);
    assert!(body.contains("mongodb") || body.contains("clusters[1]"), "{body}");
    assert_eq!(d.metric("opsadvisor_config_last_reload_successful").await, Some(0.0));
    // An invalid rule file is refused the same way.
    write(&cfg, &good);
    write(
        &dir.path().join("rules/bad.yaml"),
        "groups:\n  - name: x\n    system: kafka\n    rules:\n      - id: bad\n        expr: no_such_feature > 1\n        severity: info\n        category: tuning\n        annotations: { symptom: s, action: a, docs_url: 'http://x' }\n",
    );
    let (status, body) = d.post("/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("no_such_feature"), "{body}");
    let cycles = d.metric("opsadvisor_cycles_total").await.unwrap();
    d.wait_for(10, async |d| {
        (d.metric("opsadvisor_cycles_total").await.unwrap() >= cycles + 3.0).then_some(())
    })
    .await;
    assert_eq!(d.json("/api/v1/findings?state=firing").await.as_array().unwrap().len(), 1);

    // A valid config through SIGHUP: a second cluster appears.
    std::fs::remove_file(dir.path().join("rules/bad.yaml")).unwrap();
    write(
        &cfg,
        &format!(
            "{good}  - name: kafka-c\n    system: kafka\n    targets: [{{ node: c1, metrics: '{url2}' }}]\n"
        ),
    );
    d.signal("HUP");
    d.wait_for(10, async |d| {
        let t = d.json("/api/v1/targets").await;
        t.as_array().unwrap().iter().any(|t| t["cluster"] == "kafka-c").then_some(())
    })
    .await;
    assert_eq!(d.metric("opsadvisor_config_last_reload_successful").await, Some(1.0));
    let (status, _) = d.post("/-/reload").await;
    assert_eq!(status, 200);
    let (code, _) = d.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sd_targets_come_and_go_without_a_restart() {
    let a = common::serve_text(Box::leak(broker(0).into_boxed_str())).await;
    let b = common::serve_text(Box::leak(broker(2).into_boxed_str())).await;
    let addr = |u: &str| u.trim_start_matches("http://").trim_end_matches("/metrics").to_string();
    let dir = TempDir::new("daemon-filesd");
    std::fs::create_dir_all(dir.path().join("sd")).unwrap();
    write(
        &dir.path().join("sd/one.json"),
        &format!("[{{\"targets\": [\"{}\"], \"labels\": {{\"node\": \"b1\"}}}}]", addr(&a)),
    );
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    write(&dir.path().join("rules/test.yaml"), RULES);
    let cfg = dir.path().join("opsadvisor.yaml");
    write(
        &cfg,
        "scrape: { interval: 200ms, timeout: 1s }\nrule_dirs: [rules]\nclusters:\n  - name: kafka-sd\n    system: kafka\n    file_sd: ['sd/*.json']\n",
    );
    let d = spawn(&cfg, &dir.path().join("data"), &[], None);
    d.ready().await;
    let nodes = async |d: &Daemon| -> Vec<String> {
        let t = d.json("/api/v1/targets").await;
        let mut n: Vec<String> =
            t.as_array().unwrap().iter().map(|t| t["node"].as_str().unwrap().to_string()).collect();
        n.sort();
        n
    };
    assert_eq!(nodes(&d).await, ["b1"]);
    // A new file appears: its broker is scraped, and its finding fires.
    write(
        &dir.path().join("sd/two.json"),
        &format!("[{{\"targets\": [\"{}\"], \"labels\": {{\"node\": \"b2\"}}}}]", addr(&b)),
    );
    d.wait_for(10, async |d| (nodes(d).await == ["b1", "b2"]).then_some(())).await;
    assert_eq!(d.firing().await["node"], "b2");
    // It goes away again.
    std::fs::remove_file(dir.path().join("sd/two.json")).unwrap();
    d.wait_for(10, async |d| (nodes(d).await == ["b1"]).then_some(())).await;
    let (code, _) = d.terminate().await;
    assert_eq!(code, Some(0));
}

#[test]
fn an_invalid_config_at_start_exits_78_naming_the_problem() {
    let dir = TempDir::new("daemon-bad");
    let cfg = dir.path().join("bad.yaml");
    write(&cfg, "clusters:\n  - name: x\n    system: mongodb\n");
    let out = Command::new(common::binary())
        .args(["daemon", "--config"])
        .arg(&cfg)
        .arg("--storage.path")
        .arg(dir.path().join("data"))
        .args(["--web.listen-address", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("clusters[0]"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_stdout_or_stderr() {
    // A target behind basic auth whose password comes from the environment.
    let guarded = Router::new().route(
        "/metrics",
        get(|headers: axum::http::HeaderMap| async move {
            let ok = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                // base64("op:pa55-w0rd-xyz")
                .is_some_and(|v| v == "Basic b3A6cGE1NS13MHJkLXh5eg==");
            if ok {
                (axum::http::StatusCode::OK, broker(1))
            } else {
                (axum::http::StatusCode::UNAUTHORIZED, String::new())
            }
        }),
    );
    let url = common::serve(guarded).await;
    let dir = TempDir::new("daemon-secrets");
    let cfg = config(dir.path(), &url, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "    system: kafka\n",
        "    system: kafka\n    auth: { username: op, password_env: OPSADVISOR_TEST_PW }\n",
    );
    write(&cfg, &text);
    let d = spawn(
        &cfg,
        &dir.path().join("data"),
        &[("OPSADVISOR_TEST_PW", "pa55-w0rd-xyz"), ("RUST_LOG", "debug")],
        Some("w3b-t0ken-abc"),
    );
    d.ready().await;
    // Authenticated scrapes work (the finding fires), a wrong token is refused.
    d.firing().await;
    let anon = opsadvisor::sources::http_client(Duration::from_secs(5)).unwrap();
    let r =
        anon.get(format!("{}/api/v1/findings", d.base)).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    for path in ["/metrics", "/api/v1/targets", "/api/v1/findings", "/"] {
        let (_, body) = d.get(path).await;
        assert!(!body.contains("pa55-w0rd-xyz") && !body.contains("w3b-t0ken-abc"), "{path}");
    }
    let (code, logs) = d.terminate().await;
    assert_eq!(code, Some(0));
    assert!(logs.lines().count() > 10, "debug logging was on:\n{logs}");
    for secret in ["pa55-w0rd-xyz", "w3b-t0ken-abc", "b3A6cGE1NS13MHJkLXh5eg"] {
        assert!(!logs.contains(secret), "secret {secret} leaked into the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_renders_current_findings_in_headless_chromium() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(chromium) = chromium else {
        eprintln!("skipped: no chromium at /usr/bin/chromium (apt install chromium)");
        return;
    };
    let url = common::serve_text(Box::leak(broker(4).into_boxed_str())).await;
    let dir = TempDir::new("daemon-page");
    let cfg = config(dir.path(), &url, "");
    let d = spawn(&cfg, &dir.path().join("data"), &[], None);
    let f = d.firing().await;
    let profile = dir.path().join("chromium-profile");
    let mut child = KillOnDrop(
        Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            // No first-run work and no calls home: on a closed network those are refused
            // connections that slow the start, which a loaded CI machine cannot afford.
            .args([
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .args(["--disable-sync", "--disable-quic"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--dump-dom", &format!("{}/", d.base)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let dom = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::task::spawn_blocking(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut { stdout }, &mut s).unwrap();
            s
        }),
    )
    .await
    .expect("chromium did not finish within 90 s")
    .unwrap();
    // The DOM as the browser built it: the findings table with our finding's row.
    assert!(dom.contains("<table id=\"findings\">"), "{dom}");
    let fp = f["fingerprint"].as_str().unwrap();
    let row = dom
        .split("<tr")
        .find(|r| r.contains(&format!("data-fingerprint=\"{fp}\"")))
        .unwrap_or_else(|| panic!("no row for {fp}:\n{dom}"));
    for cell in [
        "firing",
        "critical",
        "test_offline_partitions",
        "kafka-a",
        "b1",
        "4 partitions have no leader.",
    ] {
        assert!(row.contains(&format!(">{cell}<")), "cell {cell} missing in {row}");
    }
    assert!(dom.contains("1 firing, 0 pending; 1 targets, 0 down"), "{dom}");
    let (code, _) = d.terminate().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_flat_object_per_line() {
    let url = common::serve_text(Box::leak(broker(2).into_boxed_str())).await;
    let dir = TempDir::new("daemon-json");
    let cfg = config(dir.path(), &url, "");
    let d = spawn_with(&cfg, &dir.path().join("data"), &[], None, &["--log.format", "json"]);
    d.firing().await;
    let (code, logs) = d.terminate().await;
    assert_eq!(code, Some(0));
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let fired = lines
        .iter()
        .find(|l| l["message"] == "Finding changed state." && l["to"] == "firing")
        .unwrap_or_else(|| panic!("no firing transition logged:\n{logs}"));
    assert_eq!(fired["level"], "INFO");
    assert_eq!(fired["check"], "test_offline_partitions");
    assert_eq!(fired["cluster"], "kafka-a");
}

/// Reads one `sd_notify` datagram (15 s at most).
#[cfg(unix)]
fn notified(socket: &std::os::unix::net::UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("no sd_notify message within 15 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_model_at_start_or_on_reload_never_stops_the_daemon_and_systemd_hears_each_step()
{
    let url = common::serve_text(Box::leak(broker(0).into_boxed_str())).await;
    let dir = TempDir::new("daemon-models");
    let cfg = config(dir.path(), &url, "");
    let models = dir.path().join("models");
    let model = models.join("kafka/tree/model.json");
    std::fs::create_dir_all(model.parent().unwrap()).unwrap();
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/kafka/tree/model.json"
    ))
    .unwrap();
    // At start, a model trained on another feature schema: refused with a clear log line,
    // and the daemon runs on the rules.
    let mut other: Value = serde_json::from_str(&good).unwrap();
    other["schema"]["hash"] = "0123456789abcdef".into();
    write(&model, &other.to_string());
    let sock_path = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let d = spawn_with(
        &cfg,
        &dir.path().join("data"),
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())],
        None,
        &["--classifier", "tree", "--models", models.to_str().unwrap()],
    );
    let first = notified(&socket);
    assert!(first.starts_with("READY=1"), "{first}");
    d.ready().await;
    let in_use = "opsadvisor_classifier_model{system=\"kafka\",algo=\"tree\"}";
    assert_eq!(d.metric(in_use).await, None);
    let log = std::fs::read_to_string(&d.log).unwrap();
    assert!(
        log.contains("Classifier model refused")
            && log.contains("feature schema hash 0123456789abcdef differs")
            && log.contains("kafka is advised by rules alone"),
        "{log}"
    );

    // A valid model and a reload: it is in use.
    write(&model, &good);
    assert_eq!(d.post("/-/reload").await.0, 200);
    assert_eq!((notified(&socket), notified(&socket)), ("RELOADING=1".into(), "READY=1".into()));
    assert_eq!(d.metric(in_use).await, Some(1.0));

    // A model file cut short: the reload is refused for it, the running model stays.
    write(&model, &good[..good.len() / 2]);
    let (status, body) = d.post("/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("kafka/tree/model.json"), "{body}");
    assert!(body.contains("keeping the running model for kafka"), "{body}");
    assert_eq!((notified(&socket), notified(&socket)), ("RELOADING=1".into(), "READY=1".into()));
    assert_eq!(d.metric(in_use).await, Some(1.0));
    assert_eq!(d.metric("opsadvisor_config_last_reload_successful").await, Some(0.0));

    // Fixed, and SIGHUP: the reload succeeds.
    write(&model, &good);
    d.signal("HUP");
    assert_eq!((notified(&socket), notified(&socket)), ("RELOADING=1".into(), "READY=1".into()));
    d.wait_for(10, async |d| {
        (d.metric("opsadvisor_config_last_reload_successful").await == Some(1.0)).then_some(())
    })
    .await;
    assert_eq!(d.metric(in_use).await, Some(1.0));
    let (code, logs) = d.terminate().await;
    assert_eq!(code, Some(0), "{logs}");
    assert_eq!(notified(&socket), "STOPPING=1");
}

#[test]
fn a_listen_address_in_use_exits_1_and_one_that_does_not_parse_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = TempDir::new("daemon-bind");
    let cfg = config(dir.path(), "http://127.0.0.1:9/metrics", "");
    let run = |address: &str| {
        Command::new(common::binary())
            .args(["daemon", "--config"])
            .arg(&cfg)
            .arg("--storage.path")
            .arg(dir.path().join("data"))
            .args(["--web.listen-address", address])
            .output()
            .unwrap()
    };
    let out = run(&taken.local_addr().unwrap().to_string());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--web.listen-address 127.0.0.1:"), "{stderr}");
    let out = run("no-port-here");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
