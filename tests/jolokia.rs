//! Jolokia: real agent responses flatten as the protocol says; the simulator read through
//! Jolokia and through its JMX exporter gives the same features; a failed read request
//! inside an HTTP 200 costs only its own metrics and is named in the target's health;
//! basic auth and `text/plain` bodies work; bundles record and replay Jolokia fetches.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use common::{TempDir, serve_text};
use opsadvisor::System;
use opsadvisor::cli::config_for;
use opsadvisor::config::{Config, ScrapeConfig};
use opsadvisor::features::{self, catalog::Catalog};
use opsadvisor::pipeline;
use opsadvisor::simulate::{
    ClusterSpec, Fault, FaultSpec, HardwareProfile, SimSpec, Simulator, serve,
};
use opsadvisor::sources::jolokia::{self, Mapping, ReadRequest, Reading, readings};
use opsadvisor::sources::{self, TargetKind, bundle};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixtures() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: ../shared/fixtures/real is absent");
        None
    }
}

fn entries(path: &Path) -> Vec<Value> {
    match serde_json::from_slice::<Value>(&std::fs::read(path).unwrap()).unwrap() {
        Value::Array(a) => a,
        v => vec![v],
    }
}

fn flat(r: &[Reading]) -> Vec<(String, String, String, f64)> {
    let mut v: Vec<_> = r
        .iter()
        .map(|r| (r.mbean.clone(), r.attribute.clone(), r.path.join("/"), r.value))
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

#[test]
fn telegraf_jolokia2_testdata_flattens_as_the_protocol_says() {
    let Some(f) = fixtures() else { return };
    let es = entries(&f.join("telegraf/plugins/inputs/jolokia2_agent/testdata/response.json"));
    assert_eq!(es.len(), 7);
    let mut all = Vec::new();
    for e in &es {
        assert_eq!(e["status"], 200);
        let req = ReadRequest::from_echo(e).unwrap();
        all.extend(readings(&req, &e["value"]));
    }
    let s = |a: &str| a.to_string();
    let want = vec![
        (s("object_with_attribute"), s("biz"), s("faz"), 456.0),
        (s("object_with_attribute"), s("biz"), s("fiz"), 123.0),
        (s("object_with_attribute_and_path"), s("biz"), s("baz/bang"), 456.0),
        (s("object_with_attribute_and_path"), s("biz"), s("baz/bing"), 123.0),
        (s("object_with_branching_paths"), s("foo"), s("faz/bang"), 456.0),
        (s("object_with_branching_paths"), s("foo"), s("fiz/bing"), 123.0),
        (s("object_with_key_pattern:test=bar"), s("biz"), s(""), 456.0),
        (s("object_with_key_pattern:test=foo"), s("fiz"), s(""), 123.0),
        (s("object_without_attribute"), s("baz"), s(""), 456.0),
        (s("object_without_attribute"), s("biz"), s(""), 123.0),
    ];
    // The Cassandra histogram (an array of bucket counts) has no single value: skipped.
    assert_eq!(flat(&all), want);
    // Whole-body parsing of the same file: none of its MBeans are ours, so no sample,
    // and the parser says so instead of reporting an empty success.
    let body =
        std::fs::read(f.join("telegraf/plugins/inputs/jolokia2_agent/testdata/response.json"))
            .unwrap();
    let e = jolokia::parse(&body, Mapping::builtin(), System::Cassandra).unwrap_err();
    assert!(e.contains("no read request succeeded"), "{e}");
}

#[test]
fn jolokia_agent_responses_are_understood() {
    let Some(f) = fixtures() else { return };
    let dir = f.join("jolokia/client/kubernetes/src/test/resources/__files");
    // A single-attribute read of a boolean: 0/1, like jmx_exporter.
    let e = &entries(&dir.join("jolokia-attribute.json"))[0];
    let r = readings(&ReadRequest::from_echo(e).unwrap(), &e["value"]);
    assert_eq!(flat(&r), vec![("java.lang:type=Memory".into(), "Verbose".into(), "".into(), 0.0)]);
    assert_eq!(e["timestamp"], 1_658_563_869);
    // An exec (value null): nothing to read, no panic.
    let e = &entries(&dir.join("jolokia-exec.json"))[0];
    assert!(readings(&ReadRequest::from_echo(e).unwrap(), &e["value"]).is_empty());
    // version and list requests name no MBean to read.
    for file in ["jolokia-version.json", "memory-list.json"] {
        let e = &entries(&dir.join(file))[0];
        assert!(ReadRequest::from_echo(e).is_none(), "{file}");
    }
    // Every fixture goes through the whole-body parser without a panic.
    for file in std::fs::read_dir(&dir).unwrap() {
        let body = std::fs::read(file.unwrap().path()).unwrap();
        for system in [System::Cassandra, System::Kafka] {
            let _ = jolokia::parse(&body, Mapping::builtin(), system);
        }
    }
}

async fn last_frame(config: &Config) -> (features::FeatureFrame, Vec<sources::TargetHealth>) {
    let client = sources::http_client(Duration::from_secs(5)).unwrap();
    let (snapshot, health) = sources::collect(config, &client).await;
    let frame = tokio::task::spawn_blocking(move || {
        features::extract(&snapshot, Catalog::builtin(), 600_000)
            .unwrap()
            .pop()
            .unwrap()
            .pop()
            .unwrap()
    })
    .await
    .unwrap();
    (frame, health)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jolokia_and_the_jmx_exporter_give_the_same_features() {
    for (system, fault, must) in [
        (
            System::Cassandra,
            Fault::CompactionBacklog,
            &[
                "heap_used_ratio",
                "fd_used_ratio",
                "jvm_threads",
                "pending_compactions",
                "mutation_pending",
                "read_pending",
                "compaction_blocked_tasks",
                "storage_load_bytes",
                "read_latency_p99_seconds",
                "write_latency_p99_seconds",
                "tombstones_scanned_p99",
                "sstables_per_read_p99",
                "hints_in_progress",
            ][..],
        ),
        (
            System::Kafka,
            Fault::UnderReplicatedSlowBroker,
            &[
                "heap_used_ratio",
                "fd_used_ratio",
                "under_replicated_partitions",
                "under_min_isr_partitions",
                "offline_partitions",
                "active_controller",
                "leader_count",
                "partition_count",
                "preferred_replica_imbalance",
                "request_queue_size",
                "produce_p99_ms",
                "follower_fetch_p99_ms",
                "log_flush_p99_ms",
                "replica_fetcher_max_lag",
                "log_size_bytes",
            ][..],
        ),
    ] {
        let mut cluster = ClusterSpec::new("c", system, 3, HardwareProfile::medium())
            .with_fault(FaultSpec::new(fault, Some("c-2")));
        cluster.jolokia = true;
        let spec = SimSpec { clusters: vec![cluster], ..SimSpec::demo(3) };
        // A frozen clock: both reads see the same state.
        let server = serve(Simulator::new(spec).unwrap(), 1e-6).await.unwrap();
        let scrape = ScrapeConfig {
            interval: "50ms".into(),
            timeout: "5s".into(),
            samples: 2,
            ..ScrapeConfig::default()
        };
        let both = config_for(&server, scrape);
        let (mut via_jmx, mut via_jolokia) = (both.clone(), both.clone());
        for t in &mut via_jmx.clusters[0].targets {
            t.jolokia = None;
        }
        for t in &mut via_jolokia.clusters[0].targets {
            assert!(t.jolokia.is_some(), "the simulator serves Jolokia");
            t.metrics = None;
        }
        samples_agree(&both, system).await;
        let (jmx, _) = last_frame(&via_jmx).await;
        let (jol, health) = last_frame(&via_jolokia).await;
        for h in health.iter().filter(|h| h.kind == TargetKind::Jolokia) {
            assert!(h.up && h.partial.is_empty(), "{h:#?}");
        }
        assert_eq!(jmx.str_column("node"), jol.str_column("node"));
        let mut compared = Vec::new();
        for column in Catalog::builtin().columns(system) {
            let (a, b) = (jmx.f64_column(column).unwrap(), jol.f64_column(column).unwrap());
            for (row, (x, y)) in a.iter().zip(&b).enumerate() {
                if let (Some(x), Some(y)) = (x, y) {
                    assert!(
                        (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                        "{system:?} {column} row {row}: JMX exporter {x} vs Jolokia {y}"
                    );
                }
            }
            if a.iter().zip(&b).any(|(x, y)| x.is_some() && y.is_some()) {
                compared.push(column);
            }
        }
        for m in must {
            assert!(
                compared.contains(m),
                "{system:?}: {m} not on both paths; compared {compared:?}"
            );
        }
        eprintln!(
            "{system:?}: {} feature columns equal on both paths: {compared:?}",
            compared.len()
        );
        drop(server);
    }
}

/// Every sample read through Jolokia is, at the same instant, a sample of the node's JMX
/// exporter with the same name, labels and value (counters included, which the frozen
/// feature comparison cannot rate); and every metric the mapping names for the system is
/// produced, except the Cassandra 2.x `ColumnFamily` names the simulator does not emit.
async fn samples_agree(config: &Config, system: System) {
    let client = sources::http_client(Duration::from_secs(5)).unwrap();
    let (snapshot, _) = sources::collect(config, &client).await;
    let mut produced = std::collections::BTreeSet::new();
    for node in &snapshot.clusters[0].nodes {
        let last = |path: &str| {
            node.sources
                .iter()
                .find(|s| s.source.ends_with(path))
                .and_then(|s| s.points.last().cloned().flatten())
                .unwrap()
                .samples
        };
        let (jmx, jol) = (last("/metrics"), last("/jolokia/"));
        assert!(jol.len() > 40, "{}: {} Jolokia samples", node.name, jol.len());
        for s in &jol {
            produced.insert(s.name.clone());
            let twin = jmx.iter().find(|j| j.name == s.name && j.labels == s.labels);
            let twin = twin.unwrap_or_else(|| panic!("{}: {s:?} not on the JMX page", node.name));
            assert!(
                (twin.value - s.value).abs() <= 1e-9 * s.value.abs().max(1.0),
                "{}: {s:?} vs JMX {}",
                node.name,
                twin.value
            );
        }
    }
    for bean in Mapping::builtin().beans(system) {
        for rule in bean.read.values() {
            assert!(
                produced.contains(rule.metric.as_str())
                    || rule.metric.starts_with("cassandra_columnfamily_"),
                "{system:?}: {} ({}) never produced",
                rule.metric,
                bean.mbean
            );
        }
    }
}

/// A Jolokia agent behind basic auth that answers `text/plain`, with one failed request.
async fn agent_with_one_failure() -> String {
    let handler = |headers: HeaderMap, body: String| async move {
        // "monitor:pw" in base64.
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
            != Some("Basic bW9uaXRvcjpwdw==")
        {
            return (StatusCode::UNAUTHORIZED, "auth").into_response();
        }
        let requests: Vec<Value> = serde_json::from_str(&body).unwrap();
        let answers: Vec<Value> = requests
            .iter()
            .map(|r| match r["mbean"].as_str().unwrap() {
                "java.lang:type=Memory" => {
                    serde_json::json!({"request": r, "status": 200, "timestamp": 1,
                    "value": {"HeapMemoryUsage": {"used": 300, "max": 1000, "committed": 500}}})
                }
                "org.apache.cassandra.metrics:type=Compaction,name=PendingTasks" => {
                    serde_json::json!({
                    "request": r, "status": 200, "timestamp": 1, "value": 250})
                }
                _ => serde_json::json!({"request": r, "status": 403,
                    "error_type": "java.lang.SecurityException",
                    "error": format!("Reading attribute {} is forbidden", r["attribute"])}),
            })
            .collect();
        ([(header::CONTENT_TYPE, "text/plain;charset=utf-8")], Value::Array(answers).to_string())
            .into_response()
    };
    common::serve(Router::new().route("/jolokia/", post(handler)))
        .await
        .replace("/metrics", "/jolokia/")
}

#[tokio::test]
async fn a_failed_read_costs_only_its_metrics_and_is_named() {
    let agent = agent_with_one_failure().await;
    let other = serve_text("cassandra_compaction_pendingtasks 7\n").await;
    let dir = TempDir::new("jolokia-pw");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw\n").unwrap();
    let yaml = format!(
        "scrape: {{ interval: 50ms, timeout: 2s, samples: 2 }}\nclusters:\n  - name: c\n    system: cassandra\n    auth: {{ username: monitor, password_file: '{}' }}\n    targets:\n      - {{ node: a, jolokia: '{agent}' }}\n      - {{ node: b, metrics: '{other}' }}\n",
        pw.display()
    );
    let config = Config::from_yaml(&yaml, Path::new("/")).unwrap();
    let (frame, health) = last_frame(&config).await;
    let a = &health[0];
    assert_eq!(a.kind, TargetKind::Jolokia);
    assert!(a.up, "{a:#?}");
    assert!(
        a.partial.iter().any(|p| p.starts_with(
            "org.apache.cassandra.metrics:type=ThreadPools,path=*,scope=*,name=PendingTasks: 403 java.lang.SecurityException"
        )),
        "{:#?}",
        a.partial
    );
    assert!(health[1].up && health[1].partial.is_empty(), "{health:#?}");
    let pending = frame.f64_column("pending_compactions").unwrap();
    let heap = frame.f64_column("heap_used_ratio").unwrap();
    assert_eq!(pending, vec![Some(250.0), Some(7.0)]);
    assert_eq!(heap[0], Some(0.3));
    assert_eq!(frame.f64_column("mutation_pending").unwrap()[0], None, "its read failed");
    // The JSON report carries the reason, and so does the text report.
    let json = serde_json::to_string(&health).unwrap();
    assert!(json.contains("\"partial\":[") && !json.contains("pw\""), "{json}");
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    let report = pipeline::advise(&config, &rules).await.unwrap();
    let text = report.render(opsadvisor::sinks::report::ReportFormat::Text, false);
    assert!(
        text.contains("Targets with partial data:")
            && text.contains("c a Jolokia")
            && text.contains("403 java.lang.SecurityException"),
        "{text}"
    );
}

#[tokio::test]
async fn wrong_credentials_fail_the_target_only() {
    let agent = agent_with_one_failure().await;
    let dir = TempDir::new("jolokia-bad-pw");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "nope").unwrap();
    let yaml = format!(
        "scrape: {{ interval: 50ms, timeout: 2s, samples: 2 }}\nclusters:\n  - name: c\n    system: kafka\n    auth: {{ username: monitor, password_file: '{}' }}\n    targets:\n      - {{ node: a, jolokia: '{agent}' }}\n",
        pw.display()
    );
    let config = Config::from_yaml(&yaml, Path::new("/")).unwrap();
    let client = sources::http_client(Duration::from_secs(2)).unwrap();
    let (_, health) = sources::collect(&config, &client).await;
    assert_eq!(health[0].error.as_deref(), Some("HTTP 401"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_record_and_replay_jolokia_fetches() {
    let mut cluster = ClusterSpec::new("k", System::Kafka, 3, HardwareProfile::medium())
        .with_fault(FaultSpec::new(Fault::UnderReplicatedSlowBroker, Some("k-2")));
    cluster.jolokia = true;
    cluster.kafka_exporter = false;
    let spec = SimSpec { clusters: vec![cluster], ..SimSpec::demo(4) };
    let server = serve(Simulator::new(spec).unwrap(), 120.0).await.unwrap();
    let mut config = config_for(
        &server,
        ScrapeConfig {
            interval: "300ms".into(),
            timeout: "2s".into(),
            samples: 4,
            ..ScrapeConfig::default()
        },
    );
    for t in &mut config.clusters[0].targets {
        t.metrics = None; // Jolokia only
    }
    let client = sources::http_client(Duration::from_secs(2)).unwrap();
    let rounds = sources::fetch_rounds(&config, &client).await;
    drop(server);
    let jolokia_rounds: Vec<_> = rounds
        .targets
        .iter()
        .zip(&rounds.raws)
        .filter(|(t, _)| t.kind == TargetKind::Jolokia)
        .collect();
    assert_eq!(jolokia_rounds.len(), 3);
    for (_, rs) in &jolokia_rounds {
        let raw = rs[0].as_ref().unwrap();
        assert!(raw.bodies.contains_key("jolokia") && raw.bodies.contains_key("request"));
    }
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    let live = pipeline::advise_rounds(&config, &rules, &rounds).await.unwrap();
    let dir = TempDir::new("bundle-jolokia");
    bundle::write(dir.path(), &config, &rounds, 0).unwrap();
    let (replayed_config, replayed_rounds) = bundle::read(dir.path()).unwrap();
    assert_eq!(replayed_rounds.raws, rounds.raws);
    assert!(replayed_config.clusters[0].targets.iter().all(|t| t.jolokia.is_some()));
    let replayed =
        pipeline::advise_rounds(&replayed_config, &rules, &replayed_rounds).await.unwrap();
    assert_eq!(replayed.findings, live.findings);
    assert!(
        live.findings.iter().any(|f| f.id == "kafka_under_replicated_partitions"),
        "the fault is seen through Jolokia: {:#?}",
        live.findings.iter().map(|f| &f.id).collect::<Vec<_>>()
    );
}
