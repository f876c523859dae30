//! The binary as a user runs it: exit codes and messages.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

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
    let dir = std::env::temp_dir().join(format!("opsadvisor-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_config_lists_every_problem_and_exits_2() {
    let p = temp_file(
        "bad.yaml",
        "scrape: { timeout: soon }\nclusters:\n  - name: a\n    system: kafka\n    targets: [{ node: b1, metrics: 'not a url' }, { node: b2, metrics: 'http://x:1/m', colour: red }]\n",
    );
    let (code, _, err) = opsadvisor(&["check", "config", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("scrape.timeout: invalid duration 'soon'"), "{err}");
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
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "bad_rules.yaml:5: rule x: expr (cassandra): unknown column 'pending_compactoins'"
        ),
        "{err}"
    );
}

#[test]
fn advise_exits_3_when_no_target_answers() {
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
    assert_eq!(code, 3, "{err}");
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
    // The demo injects warning-level faults, so --fail-on warning must exit 1.
    assert_eq!(code, 1, "{err}");
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
    let dir = std::env::temp_dir().join(format!("opsadvisor-cli-bundle-{}", std::process::id()));
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
