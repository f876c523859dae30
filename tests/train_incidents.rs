//! Training on your own incidents, end to end: Debian's `prometheus` (started here on
//! 127.0.0.1) scrapes a simulated Cassandra cluster in which two nodes fall behind on
//! compaction from a known moment; an incidents.csv names that interval; `opsadvisor train
//! --prometheus URL --labels incidents.csv` reads the history back through `query_range`,
//! trains, and the model must recognise the fault in the held-out last quarter of the time
//! and load with `advise --models DIR`. Skips when `prometheus` is not installed (`.ci/run`
//! installs it).
//!
//! The simulator runs 120× faster than the wall clock and Prometheus scrapes every 250 ms
//! without honouring the pages' timestamps, so 250 ms of wall time is 30 simulated seconds:
//! a few wall seconds hold minutes of a developing fault.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::TempDir;
use opsadvisor::System;
use opsadvisor::classify::incidents::HELDOUT_TIME;
use opsadvisor::classify::model::{Algo, Model};
use opsadvisor::classify::store::Classifiers;
use opsadvisor::classify::{card, io};
use opsadvisor::features::catalog::Catalog;
use opsadvisor::simulate::{
    ClusterSpec, Fault, FaultSpec, HardwareProfile, SimSpec, Simulator, serve,
};
use std::process::Command;
use std::time::Duration;

const SPEED: f64 = 120.0;
/// Wall seconds after the simulator starts serving at which the fault begins.
const FAULT_AFTER_S: f64 = 5.0;
/// Wall seconds of history collected after Prometheus is ready.
const COLLECT_S: u64 = 11;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_trained_on_prometheus_history_recognises_the_labelled_fault() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("skipped: the prometheus binary is not installed (apt-get install prometheus)");
        return;
    }
    let warmup_s = 1800.0;
    let now = opsadvisor::clock::now_ms();
    let fault = |node: &str| FaultSpec {
        start_s: warmup_s + FAULT_AFTER_S * SPEED,
        ..FaultSpec::new(Fault::CompactionBacklog, Some(node))
    };
    let cluster = ClusterSpec::new("cass", System::Cassandra, 4, HardwareProfile::medium())
        .with_fault(fault("cass-2"))
        .with_fault(fault("cass-4"));
    let spec = SimSpec {
        start_ms: now - (warmup_s * 1000.0) as i64,
        warmup_s,
        clusters: vec![cluster],
        ..SimSpec::demo(5)
    };
    let served_ms = opsadvisor::clock::now_ms();
    let server = serve(Simulator::new(spec).unwrap(), SPEED).await.unwrap();
    let fault_ms = served_ms + (FAULT_AFTER_S * 1000.0) as i64;

    let dir = TempDir::new("train-incidents");
    let (_prometheus, url) = common::prometheus_scraping(
        dir.path(),
        &server.endpoints,
        "scrape_interval: 250ms, scrape_timeout: 240ms",
        "honor_timestamps: false",
        "cluster: cass, ",
    )
    .await;
    // History from the first full second of scrapes; the fault must start well inside it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let from_ms = opsadvisor::clock::now_ms();
    assert!(from_ms + 1500 < fault_ms, "prometheus took too long to start for this test");
    tokio::time::sleep(Duration::from_secs(COLLECT_S)).await;
    let to_ms = opsadvisor::clock::now_ms() - 500;

    // The two faulty nodes, from the fault's start to well after the test.
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let csv = format!(
        "cluster,node,start,end,label\ncass,cass-2,{},{},compaction_backlog\ncass,cass-4,{},{},compaction_backlog\n",
        secs(fault_ms),
        secs(fault_ms + 600_000),
        secs(fault_ms),
        secs(fault_ms + 600_000)
    );
    let labels = dir.path().join("incidents.csv");
    std::fs::write(&labels, csv).unwrap();
    let out = dir.path().join("models");
    let run = Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
        .args(["train", "--prometheus", &url, "--labels"])
        .arg(&labels)
        .args(["--selector", "job=\"cassandra\"", "--node-label", "node"])
        .args(["--from", &secs(from_ms), "--to", &secs(to_ms)])
        .args(["--step", "250ms", "--every", "250ms", "--algo", "forest", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "train failed: {stderr}");
    assert!(stderr.contains("trained cassandra forest"), "{stderr}");
    drop(server);

    // The card says how it was made and scores the held-out last quarter.
    let model_dir = out.join("cassandra").join("forest");
    let card_text = std::fs::read_to_string(model_dir.join("MODEL.md")).unwrap();
    assert!(card_text.contains("opsadvisor train --prometheus"), "{card_text}");
    assert!(card_text.contains(&format!("## Held-out split `{HELDOUT_TIME}`")), "{card_text}");

    // Recompute the held-out scores from the rows train wrote: the fault is recognised.
    let model = Model::from_json(
        &std::fs::read_to_string(model_dir.join("model.json")).unwrap(),
        "model.json",
    )
    .unwrap();
    let (d, hash) = io::read_dir(&out.join("data"), System::Cassandra).unwrap();
    assert_eq!(hash, model.data_hash);
    let train = d.split("train");
    let counts = train.class_counts();
    assert!(counts.get("compaction_backlog").copied().unwrap_or(0) >= 10, "{counts:?}");
    assert!(counts.get("healthy").copied().unwrap_or(0) >= 20, "{counts:?}");
    let evals = card::evaluate(&model, &d, Catalog::builtin()).unwrap();
    let held = evals.iter().find(|e| e.split == HELDOUT_TIME).unwrap();
    let fault = held.model.classes.iter().find(|c| c.label == "compaction_backlog").unwrap();
    assert!(fault.support >= 4, "{:?}", held.model);
    assert!(fault.recall >= 0.8, "held-out recall {:.3}: {:?}", fault.recall, held.model);
    let healthy = held.model.classes.iter().find(|c| c.label == "healthy").unwrap();
    assert!(healthy.recall >= 0.8, "{:?}", held.model);
    eprintln!(
        "train rows {counts:?}; held-out {} rows: compaction_backlog recall {:.3}, healthy recall {:.3}, macro-F1 {:.3}",
        held.model.rows, fault.recall, healthy.recall, held.model.macro_f1
    );
    // Every held-out row is later than every training row.
    let last_train = train.timestamp_ms.iter().max().unwrap();
    assert!(d.split(HELDOUT_TIME).timestamp_ms.iter().all(|t| t > last_train));

    // advise --models DIR loads it (schema matches the running catalogue).
    let loaded = Classifiers::load_dir(&out, Algo::Forest, Catalog::builtin());
    assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
    assert!(loaded.for_system(System::Cassandra).is_some());
}

#[test]
fn bad_incident_files_are_refused_with_the_line_before_any_request() {
    let dir = TempDir::new("train-incidents-bad");
    let labels = dir.path().join("incidents.csv");
    std::fs::write(&labels, "cluster,node,start,end,label\ncass,cass-1,2026-12-01T10:00:00Z,2026-12-01T09:00:00Z,gc_pressure\n").unwrap();
    // Nothing listens on port 9: the file is checked before Prometheus is asked.
    let run = Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
        .args(["train", "--prometheus", "http://127.0.0.1:9", "--labels"])
        .arg(&labels)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("incidents.csv:2: end 2026-12-01T09:00:00Z is not after start"),
        "{stderr}"
    );
}

/// Prometheus behind TLS (a private CA) and bcrypt basic auth, as its `--web.config.file`
/// sets up: `train --prometheus` reaches it with `--http.config.file` (the config's `auth:`
/// and `tls:` blocks), and says why when the CA or the password is wrong; `advise` reads it
/// through a cluster's `prometheus:` with the same `auth:` and `tls:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_and_advise_reach_a_prometheus_behind_tls_and_basic_auth() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("skipped: the prometheus binary is not installed (apt-get install prometheus)");
        return;
    }
    let dir = TempDir::new("train-incidents-tls");
    let d = dir.path();
    if !(common::make_ca(d)
        && common::make_signed_cert(d, "server", "127.0.0.1", "subjectAltName=IP:127.0.0.1"))
    {
        eprintln!("skipped: the openssl CLI is not installed");
        return;
    }
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    std::fs::write(
        d.join("web.yml"),
        format!(
            "tls_server_config: {{ cert_file: server.pem, key_file: server.key }}\nbasic_auth_users: {{ trainer: '{hash}' }}\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("password"), "correct horse\n").unwrap();
    std::fs::write(d.join("wrong-password"), "battery staple\n").unwrap();

    let warmup_s = 1800.0;
    let now = opsadvisor::clock::now_ms();
    let cluster = ClusterSpec::new("cass", System::Cassandra, 4, HardwareProfile::medium());
    let spec = SimSpec {
        start_ms: now - (warmup_s * 1000.0) as i64,
        warmup_s,
        clusters: vec![cluster],
        ..SimSpec::demo(5)
    };
    let server = serve(Simulator::new(spec).unwrap(), SPEED).await.unwrap();
    let (_prometheus, port) = common::start_prometheus(
        d,
        &server.endpoints,
        "scrape_interval: 250ms, scrape_timeout: 240ms",
        "honor_timestamps: false",
        "cluster: cass, ",
        &[format!("--web.config.file={}", d.join("web.yml").display())],
    );
    let url = format!("https://127.0.0.1:{port}");
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder().tls_certs_only([ca]).build().unwrap();
    let mut ready = false;
    for _ in 0..100 {
        let r = client.get(format!("{url}/-/ready")).basic_auth("trainer", Some("correct horse"));
        if r.send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "prometheus did not become ready over https");
    let from_ms = opsadvisor::clock::now_ms();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let to_ms = opsadvisor::clock::now_ms() - 500;

    // cass-2 "had" an incident in the second half: both classes are in the training part.
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let labels = d.join("incidents.csv");
    std::fs::write(
        &labels,
        format!(
            "cluster,node,start,end,label\ncass,cass-2,{},{},gc_pressure\n",
            secs(from_ms + 3000),
            secs(to_ms + 600_000)
        ),
    )
    .unwrap();
    let http_config = |password: &str| {
        let path = d.join(format!("http-{password}.yml"));
        std::fs::write(
            &path,
            format!("auth: {{ username: trainer, password_file: {password} }}\ntls: {{ ca_file: ca.pem }}\n"),
        )
        .unwrap();
        path
    };
    let train = |http: Option<&std::path::Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_opsadvisor"));
        c.args(["train", "--prometheus", &url, "--labels"])
            .arg(&labels)
            .args(["--selector", "job=\"cassandra\"", "--node-label", "node"])
            .args(["--from", &secs(from_ms), "--to", &secs(to_ms)])
            .args(["--step", "250ms", "--every", "250ms", "--algo", "tree", "--out"])
            .arg(d.join("models"));
        if let Some(h) = http {
            c.arg("--http.config.file").arg(h);
        }
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, stderr) = train(None);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&url) && stderr.contains("TLS certificate rejected"), "{stderr}");
    let (code, stderr) = train(Some(&http_config("wrong-password")));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(!stderr.contains("battery staple"), "a secret was printed: {stderr}");
    let (code, stderr) = train(Some(&http_config("password")));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("trained cassandra tree"), "{stderr}");
    let bad = d.join("http-bad.yml");
    std::fs::write(&bad, "auth: { username: trainer }\n").unwrap();
    let (code, stderr) = train(Some(&bad));
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("http-bad.yml") && stderr.contains("password_file"), "{stderr}");

    // advise: a cluster read through Prometheus, with the same auth: and tls: blocks.
    let config = d.join("opsadvisor.yaml");
    std::fs::write(
        &config,
        format!(
            "clusters:\n  - name: cass\n    system: cassandra\n    auth: {{ username: trainer, password_file: {} }}\n    tls: {{ ca_file: {} }}\n    prometheus: {{ url: '{url}', selector: 'job=\"cassandra\"', node_label: node, range: 5s, step: 250ms }}\n",
            d.join("password").display(),
            d.join("ca.pem").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
        .args(["advise", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets = report["targets"].as_array().unwrap();
    assert!(targets.iter().any(|t| t["up"] == true), "{targets:?}");
    drop(server);
}
