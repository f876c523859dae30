//! The binary as a user runs it: exit codes (contracts §2.6: 0 clean, 1 runtime failure, 2
//! usage, 3 findings at or above `--fail-on`, 78 invalid config, 130/143 on SIGINT/SIGTERM),
//! messages, and `advise --dry-run` (§2.7).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::process::Command;

fn opsadvisor(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opsadvisor")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_config_lists_every_problem_and_exits_78() {
    let p = temp_file(
        "bad.yaml",
        "scrape: { timeout: soon }\nclusters:\n  - name: a\n    system: kafka\n    targets: [{ node: b1, metrics: 'not a url' }, { node: b2, metrics: 'http://x:1/m', colour: red }]\n",
    );
    let (code, _, err) = opsadvisor(&["check", "config", p.to_str().unwrap()]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("scrape.timeout: invalid duration 'soon'"), "{err}");
    // advise refuses the same file the same way.
    let (code, _, err) = opsadvisor(&["advise", "--config", p.to_str().unwrap()]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("bad.yaml") && err.contains("scrape.timeout"), "{err}");
    assert!(err.contains("clusters[0].targets[0].metrics: invalid URL"), "{err}");
    assert!(err.contains("clusters[0].targets[1]: unknown field `colour`"), "{err}");
}

#[test]
fn check_config_accepts_a_good_file() {
    let p = temp_file(
        "good.yaml",
        "clusters:\n  - name: a\n    system: kafka\n    targets: [{ node: b1, metrics: 'http://10.0.0.1:7071/metrics' }]\n",
    );
    let (code, out, err) = opsadvisor(&["check", "config", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK"));
}

#[test]
fn check_rules_passes_the_shipped_packs_and_names_file_line_for_bad_ones() {
    let (code, out, err) =
        opsadvisor(&["check", "rules", concat!(env!("CARGO_MANIFEST_DIR"), "/rules")]);
    assert_eq!(code, 0, "{out}{err}");
    let bad = temp_file(
        "bad_rules.yaml",
        "groups:\n- name: g\n  system: cassandra\n  rules:\n  - id: x\n    expr: pending_compactoins > 1\n    severity: warning\n    category: tuning\n    annotations: {symptom: s, action: a}\n",
    );
    let (code, _, err) = opsadvisor(&["check", "rules", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "promtool's code for rules that do not load");
    assert!(
        err.contains(
            "bad_rules.yaml:5: rule x: expr (cassandra): unknown column 'pending_compactoins'"
        ),
        "{err}"
    );
}

#[test]
fn advise_exits_1_when_no_target_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let p = temp_file(
        "down.yaml",
        &format!(
            "scrape: {{ interval: 10ms, timeout: 200ms, samples: 2 }}\nclusters:\n  - name: a\n    system: kafka\n    targets: [{{ node: b1, metrics: 'http://{addr}/metrics' }}]\n"
        ),
    );
    let (code, _, err) = opsadvisor(&["advise", "--config", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no target could be scraped"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, _) = opsadvisor(&["advise"]);
    assert_eq!(code, 2);
    let (code, _, _) = opsadvisor(&["advise", "--demo", "--format", "yaml"]);
    assert_eq!(code, 2);
}

#[test]
fn demo_json_report_follows_the_schema_and_finds_the_injected_faults() {
    let (code, out, err) =
        opsadvisor(&["advise", "--demo", "--format", "json", "--fail-on", "warning"]);
    // The demo injects warning-level faults, so --fail-on warning must exit 3.
    assert_eq!(code, 3, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let targets = v["targets"].as_array().unwrap();
    assert!(targets.len() >= 10);
    assert!(targets.iter().all(|t| t["up"] == true), "{targets:#?}");
    let findings = v["findings"].as_array().unwrap();
    let fields = [
        "id",
        "fingerprint",
        "system",
        "cluster",
        "node",
        "category",
        "severity",
        "impact",
        "analyzer",
        "symptom",
        "cause",
        "resources",
        "evidence",
        "action",
        "docs_url",
        "advises",
    ];
    for f in findings {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), fields.len(), "{keys:?}");
        for k in fields {
            assert!(keys.contains(&k), "finding lacks {k}: {f}");
        }
        assert_eq!(f["fingerprint"].as_str().unwrap().len(), 16);
    }
    let found = |id: &str, node: Option<&str>| {
        findings.iter().any(|f| f["id"] == id && f["node"].as_str() == node)
    };
    assert!(found("cassandra_compaction_backlog", Some("cass-prod-3")), "{out}");
    assert!(found("kafka_consumer_lag_growing", None), "{out}");
    assert!(found("es_disk_low_watermark", Some("es-logs-2")), "{out}");
    // The default --fail-on critical passes on warnings only.
    let (code, out, _) = opsadvisor(&["advise", "--demo"]);
    assert_eq!(code, 0);
    assert!(out.contains("cassandra / cass-prod") && out.contains("WARNING"), "{out}");
    assert!(!out.contains('\x1b'), "colour codes on a pipe");
}

#[test]
fn demo_markdown_report_groups_by_cluster() {
    let (code, out, err) = opsadvisor(&["advise", "--demo", "--format", "markdown"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("# opsadvisor advise"), "{out}");
    assert!(out.contains("## kafka / kafka-prod"), "{out}");
    assert!(out.contains("- **WARNING** `es_disk_low_watermark`"), "{out}");
}

#[test]
fn the_example_config_is_valid() {
    let (code, out, err) = opsadvisor(&[
        "check",
        "config",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/opsadvisor.yaml"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn check_metrics_exits_like_promtool() {
    let clean =
        temp_file("clean.prom", "# HELP up_total Ups.\n# TYPE up_total counter\nup_total 1\n");
    let lint = temp_file("lint.prom", "foo_total 1\n");
    let bad = temp_file("bad.prom", "# TYPE a gauge\na 1\na{x=\"1\" 2\n");
    let (code, _, err) = opsadvisor(&["check", "metrics", clean.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = opsadvisor(&["check", "metrics", lint.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("line 1: foo_total: no help text"), "{err}");
    let (code, _, err) = opsadvisor(&["check", "metrics", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("line 3: "), "{err}");
    // The same text is a valid text-format scrape but not valid OpenMetrics (no # EOF).
    let (code, _, err) =
        opsadvisor(&["check", "metrics", "--openmetrics", clean.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn check_metrics_reads_a_real_scrape() {
    let real = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real/prometheus-common-expfmt/expfmt/testdata/text");
    if !real.exists() {
        eprintln!("skipped: {} is absent", real.display());
        return;
    }
    // A real client_golang scrape: it parses; promtool-style lints may apply.
    let (code, _, err) = opsadvisor(&["check", "metrics", real.to_str().unwrap()]);
    assert!(code == 0 || code == 3, "{code}: {err}");
    assert!(!err.contains("line") || code == 3, "{err}");
}

#[test]
fn capture_then_advise_from_the_bundle_offline() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, _, err) =
        opsadvisor(&["capture", "--demo", "--duration", "2s", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.join("manifest.json").exists());
    let (code, out, err) =
        opsadvisor(&["advise", "--bundle", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["targets"].as_array().unwrap().iter().all(|t| t["up"] == true));
    assert!(
        v["findings"].as_array().unwrap().iter().any(|f| f["id"] == "es_disk_low_watermark"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One critical rule that fires at once on a broker with offline partitions.
const CRITICAL_RULE: &str = "groups:\n  - name: t\n    system: kafka\n    rules:\n      - id: test_offline_partitions\n        expr: offline_partitions > 0\n        severity: critical\n        category: availability\n        annotations: { symptom: 'offline', action: 'fix', docs_url: 'https://kafka.apache.org/' }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_every_sinks_request_sends_nothing_and_leaks_no_secret() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // One loopback receiver for all four sinks, counting every request it gets.
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let receiver = axum::Router::new().fallback(move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let base = common::serve(receiver).await.trim_end_matches("/metrics").to_string();
    let broker = common::serve_text(
        "# TYPE kafka_controller_kafkacontroller_offlinepartitionscount gauge\nkafka_controller_kafkacontroller_offlinepartitionscount 2\n",
    )
    .await;
    let dir = common::TempDir::new("cli-dry-run");
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/t.yaml"), CRITICAL_RULE).unwrap();
    let cfg = dir.path().join("opsadvisor.yaml");
    std::fs::write(
        &cfg,
        format!(
            "scrape: {{ interval: 10ms, timeout: 2s, samples: 2 }}\nrule_dirs: [rules]\nclusters:\n  - name: kafka-a\n    system: kafka\n    targets: [{{ node: b1, metrics: '{broker}' }}]\n\
             notifications:\n  slack: [{{ name: ops, webhook_url_env: OA_DRY_SLACK }}]\n\
             \x20 pagerduty: [{{ url: '{base}/v2/enqueue', routing_key_env: OA_DRY_PD }}]\n\
             \x20 grafana: [{{ url: '{base}', token_env: OA_DRY_GRAFANA, org_id: 3 }}]\n\
             \x20 alertmanager: [{{ urls: ['{base}'], auth: {{ username: oa, password_env: OA_DRY_AM }} }}]\n"
        ),
    )
    .unwrap();
    let secrets = [
        ("OA_DRY_SLACK", format!("{base}/services/T0AAA/B0BBB/sl4ck-s3cret-path")),
        ("OA_DRY_PD", "pd-r0uting-k3y-0123456789abcdef".to_string()),
        ("OA_DRY_GRAFANA", "gr4fana-t0ken-xyz".to_string()),
        ("OA_DRY_AM", "am-p4ssw0rd".to_string()),
    ];
    let run = |format: &'static str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsadvisor"));
        cmd.current_dir(dir.path())
            .args(["advise", "--config", cfg.to_str().unwrap(), "--classifier", "off"])
            .args(["--dry-run", "--format", format]);
        for (k, v) in &secrets {
            cmd.env(k, v);
        }
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (code, out, err) = run("json").await;
    // Exit codes as without --dry-run: a critical finding is at the default --fail-on.
    assert_eq!(code, Some(3), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let requests = v["requests"].as_array().unwrap();
    let services: Vec<&str> = requests.iter().map(|r| r["service"].as_str().unwrap()).collect();
    assert_eq!(services, ["slack", "pagerduty", "grafana", "alertmanager"], "{out}");
    let by = |s: &str| requests.iter().find(|r| r["service"] == s).unwrap();
    let port = base.rsplit(':').next().unwrap();
    assert_eq!(by("slack")["url"], format!("http://127.0.0.1:{port}/services/T…/B…/<redacted>"));
    assert_eq!(by("slack")["body"]["blocks"][0]["type"], "header");
    let pd = by("pagerduty");
    assert_eq!(pd["url"], format!("{base}/v2/enqueue"));
    assert_eq!(pd["body"]["routing_key"], "<redacted>");
    assert_eq!(pd["body"]["event_action"], "trigger");
    let grafana = by("grafana");
    assert_eq!(
        (grafana["method"].as_str(), grafana["url"].as_str()),
        (Some("POST"), Some(&*format!("{base}/api/annotations")))
    );
    assert_eq!(grafana["headers"]["x-grafana-org-id"], "3");
    assert!(grafana["headers"].get("authorization").is_none(), "{grafana}");
    let am = by("alertmanager");
    assert_eq!(am["url"], format!("{base}/api/v2/alerts"));
    assert_eq!(am["body"][0]["labels"]["alertname"], "test_offline_partitions");
    assert!(am["headers"].get("authorization").is_none(), "{am}");

    let (code, text, text_err) = run("text").await;
    assert_eq!(code, Some(3), "{text}{text_err}");
    assert!(text.contains("### ops (slack): fire of ") && text.contains("POST "), "{text}");
    // No secret, nor the basic-auth header made from one, anywhere in what was printed.
    let all = format!("{out}{err}{text}{text_err}");
    for secret in [
        "sl4ck-s3cret-path",
        "T0AAA",
        "pd-r0uting-k3y-0123456789abcdef",
        "gr4fana-t0ken-xyz",
        "am-p4ssw0rd",
        "b2E6YW0tcDRzc3cwcmQ", // base64("oa:am-p4ssw0rd")
    ] {
        assert!(!all.contains(secret), "{secret} was printed:\n{all}");
    }
    // Nothing reached the receiver, and no outbox was created.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a dry run sent a request");
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!files.iter().any(|f| f.contains("sqlite") || f == "data"), "{files:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_run_exits_130_on_sigint_and_143_on_sigterm() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A target that accepts connections and never answers: advise waits on it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    let p = temp_file(
        "hang.yaml",
        &format!(
            "scrape: {{ interval: 10ms, timeout: 60s, samples: 2 }}\nclusters:\n  - name: a\n    system: kafka\n    targets: [{{ node: b1, metrics: 'http://{addr}/metrics' }}]\n"
        ),
    );
    for (signal, expected) in [("INT", 130), ("TERM", 143)] {
        let before = accepted.load(Ordering::SeqCst);
        let mut child = common::KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
                .args(["advise", "--config", p.to_str().unwrap()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let end = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while accepted.load(Ordering::SeqCst) == before {
            assert!(std::time::Instant::now() < end, "advise never connected");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            assert!(std::time::Instant::now() < end, "advise did not stop on SIG{signal}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(status.code(), Some(expected), "SIG{signal}: {status:?}");
    }
}
