//! The Prometheus HTTP API source against a real Prometheus (Debian's `prometheus`, started
//! here on 127.0.0.1): Prometheus scrapes the simulator, and advise through its API finds
//! what advise finds by scraping the same cluster directly, and so does the daemon. Skips when `prometheus` is not
//! installed (`.ci/run` installs it).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::TempDir;
use opsadvisor::System;
use opsadvisor::cli::config_for;
use opsadvisor::config::{Config, ScrapeConfig};
use opsadvisor::features::catalog::Catalog;
use opsadvisor::findings::Severity;
use opsadvisor::pipeline;
use opsadvisor::simulate::{
    ClusterSpec, Fault, FaultSpec, HardwareProfile, SimSpec, Simulator, serve,
};
use opsadvisor::sources::prometheus::PrometheusConfig;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advise_through_prometheus_matches_scraping_directly() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("skipped: the prometheus binary is not installed (apt-get install prometheus)");
        return;
    }
    // A simulated cluster running in real time, its clock at "now", so Prometheus accepts
    // the samples' timestamps.
    let warmup_s = 1800.0;
    let now = opsadvisor::clock::now_ms();
    let cluster = ClusterSpec::new("cass", System::Cassandra, 3, HardwareProfile::medium())
        .with_fault(FaultSpec::new(Fault::CompactionBacklog, Some("cass-2")));
    let spec = SimSpec {
        start_ms: now - (warmup_s * 1000.0) as i64,
        warmup_s,
        clusters: vec![cluster],
        ..SimSpec::demo(3)
    };
    let server = serve(Simulator::new(spec).unwrap(), 1.0).await.unwrap();

    // Prometheus scrapes every endpoint each second, labelling series with the node name.
    let dir = TempDir::new("prometheus");
    let (_prometheus, url) = common::prometheus_scraping(
        dir.path(),
        &server.endpoints,
        "scrape_interval: 1s, scrape_timeout: 900ms",
        "",
        "",
    )
    .await;
    // Let it collect some history.
    tokio::time::sleep(Duration::from_secs(8)).await;

    // The same rules for both paths, without `for`, since only seconds of history exist.
    let rules_dir = TempDir::new("prometheus-rules");
    for pack in ["cassandra", "host"] {
        let text =
            std::fs::read_to_string(format!("{}/rules/{pack}.yaml", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let text = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("for:"))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(rules_dir.path().join(format!("{pack}.yaml")), text).unwrap();
    }

    let mut direct = config_for(
        &server,
        ScrapeConfig {
            interval: "1s".into(),
            timeout: "1s".into(),
            samples: 4,
            ..ScrapeConfig::default()
        },
    );
    direct.rule_dirs = vec![rules_dir.path().to_path_buf()];
    let rules = pipeline::load_rules(&direct, Catalog::builtin());
    assert!(rules.errors.is_empty(), "{:?}", rules.errors);
    let scraped = pipeline::advise(&direct, &rules).await.unwrap();

    let mut via = Config { rule_dirs: direct.rule_dirs.clone(), ..direct.clone() };
    via.clusters[0].targets.clear();
    via.clusters[0].prometheus = Some(PrometheusConfig {
        url: url.clone(),
        selector: "job=\"cassandra\"".into(),
        node_label: "node".into(),
        range: "6s".into(),
        step: "1s".into(),
    });
    assert!(via.validate().is_empty(), "{:?}", via.validate());
    let history = pipeline::advise(&via, &rules).await.unwrap();

    let prom = history.targets.iter().find(|t| t.url.starts_with(&url)).unwrap();
    assert!(prom.up, "{prom:?}");
    let loud = |r: &opsadvisor::sinks::report::Report| -> BTreeSet<(String, Option<String>)> {
        r.findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| (f.id.clone(), f.node.clone()))
            .collect()
    };
    assert!(
        loud(&history)
            .contains(&("cassandra_compaction_backlog".to_string(), Some("cass-2".to_string()))),
        "{:#?}",
        history.findings
    );
    assert_eq!(loud(&history), loud(&scraped));

    // The daemon, given the same cluster through Prometheus, fires what advise reported:
    // one query per step, the same judgement of the last step.
    let storage = TempDir::new("prometheus-daemon");
    let options = opsadvisor::daemon::DaemonOptions {
        listen_address: "127.0.0.1:0".into(),
        storage_path: storage.path().to_path_buf(),
        bearer_token: None,
        models: opsadvisor::daemon::models::ModelSource::default(),
        web: Default::default(),
    };
    let mut daemon = opsadvisor::daemon::Daemon::new(
        opsadvisor::daemon::ConfigSource::Fixed(Box::new(via.clone())),
        options,
    )
    .unwrap();
    let mut fired = BTreeSet::new();
    for _ in 0..20 {
        if let Some(o) = daemon.cycle().await {
            fired = o
                .firing
                .iter()
                .filter(|f| f.severity >= Severity::Warning)
                .map(|f| (f.id.clone(), f.node.clone()))
                .collect();
            if fired == loud(&history) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(fired, loud(&history), "the daemon fires what advise reports");
    drop(server);
}

#[tokio::test]
async fn an_unreachable_prometheus_is_a_target_error_not_a_crash() {
    let yaml = format!(
        "scrape: {{ timeout: 500ms }}\nclusters:\n  - name: k\n    system: kafka\n    prometheus: {{ url: '{}', selector: 'job=\"kafka\"' }}\n",
        common::refused_url().await.trim_end_matches("/metrics")
    );
    let config = Config::from_yaml(&yaml, std::path::Path::new("/")).unwrap();
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    let err = pipeline::advise(&config, &rules).await.unwrap_err();
    // No target answered: a runtime failure (contracts §2.6).
    assert_eq!(err.exit_code(), 1);
    let bad = Config::from_yaml(
        "clusters:\n  - name: k\n    system: kafka\n    prometheus: { url: 'http://p:9090', selector: '{job=\"kafka\"}', step: 0s }\n",
        std::path::Path::new("/"),
    )
    .unwrap_err();
    let text: Vec<String> = bad.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|t| t.starts_with("clusters[0].prometheus.step: must be positive")),
        "{text:?}"
    );
    assert!(text.iter().any(|t| t.starts_with("clusters[0].prometheus.selector")), "{text:?}");
}
