//! Deployment files stay true to the daemon: every metric the Grafana dashboard queries is
//! one the daemon exports, the systemd unit keeps its hardening and reload wiring, and the
//! Kubernetes manifest's probes and flags exist.

#![allow(clippy::unwrap_used)]

use opsadvisor::daemon::metrics::{SelfMetrics, TargetSample};
use opsadvisor::sources::TargetKind;
use std::collections::BTreeSet;

fn read(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn the_dashboard_queries_only_metrics_the_daemon_exports() {
    let dash: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/opsadvisor-dashboard.json")).unwrap();
    let mut m = SelfMetrics::default();
    m.targets.push(TargetSample {
        cluster: "c".into(),
        node: "n".into(),
        kind: TargetKind::Metrics,
        up: false,
        duration_s: 1.0,
    });
    m.scrape_errors.insert(("c".into(), "n".into(), "timeout"), 1);
    m.findings.insert(("firing", "critical", "kafka"), 1);
    let exported: BTreeSet<String> = opsadvisor::sources::exposition::parse(
        m.render().as_bytes(),
        opsadvisor::sources::exposition::Format::Text,
    )
    .unwrap()
    .samples
    .into_iter()
    .map(|s| s.name.to_string())
    .collect();
    let re = regex::Regex::new(r"\b(opsadvisor_[a-z_]+|process_[a-z_]+)").unwrap();
    let mut queried = BTreeSet::new();
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            for c in re.captures_iter(t["expr"].as_str().unwrap()) {
                queried.insert(c[1].to_string());
            }
        }
    }
    assert!(queried.len() >= 8, "{queried:?}");
    let missing: Vec<_> = queried.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "dashboard queries metrics the daemon does not export: {missing:?}"
    );
}

#[test]
fn the_systemd_unit_reloads_with_sighup_and_keeps_its_hardening() {
    let unit = read("deploy/systemd/opsadvisor.service");
    for line in [
        "ExecReload=/bin/kill -HUP $MAINPID",
        "RestartPreventExitStatus=78",
        "NoNewPrivileges=true",
        "ProtectSystem=full",
        "ProtectHome=true",
        "PrivateTmp=true",
        "PrivateDevices=true",
        "ProtectKernelTunables=true",
        "RestrictNamespaces=true",
        "MemoryDenyWriteExecute=true",
        "SystemCallArchitectures=native",
        "User=opsadvisor",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "missing {line}");
    }
}

#[test]
fn the_kubernetes_manifest_parses_and_uses_real_flags_and_probes() {
    let text = read("deploy/kubernetes/opsadvisor-sidecar.yaml");
    let docs: Vec<serde_norway::Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 4);
    // The embedded opsadvisor config is valid.
    let config = docs[0]["data"]["opsadvisor.yaml"].as_str().unwrap();
    opsadvisor::config::Config::from_yaml(config, std::path::Path::new(".")).unwrap();
    let sidecar = &docs[3]["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(sidecar["restartPolicy"].as_str(), Some("Always"));
    assert_eq!(sidecar["livenessProbe"]["httpGet"]["path"].as_str(), Some("/-/healthy"));
    assert_eq!(sidecar["readinessProbe"]["httpGet"]["path"].as_str(), Some("/-/ready"));
    // Every flag is one `opsadvisor daemon` accepts.
    let args: Vec<String> = sidecar["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let mut argv = vec!["opsadvisor".to_string()];
    argv.extend(args);
    <opsadvisor::cli::Cli as clap::Parser>::try_parse_from(argv).unwrap();
}
