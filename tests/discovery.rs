//! Target discovery from Prometheus `file_sd` files and hashmod sharding across replicas.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::TempDir;
use opsadvisor::config::Config;
use std::collections::BTreeSet;

#[test]
fn file_sd_json_and_yaml_become_targets_by_node() {
    let dir = TempDir::new("file_sd");
    std::fs::create_dir_all(dir.path().join("sd")).unwrap();
    std::fs::write(
        dir.path().join("sd/jmx.json"),
        r#"[{"targets": ["10.0.0.1:7070", "10.0.0.2:7070"], "labels": {"job": "cassandra"}}]"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sd/hosts.json"),
        r#"[{"targets": ["10.0.0.1:9100"], "labels": {"exporter": "node_exporter"}},
            {"targets": ["10.0.0.2:8778"], "labels": {"exporter": "jolokia"}}]"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("extra.yaml"),
        "- targets: ['db3.example:8443']\n  labels: { node: cass-3, __scheme__: https, __metrics_path__: /jmx }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("opsadvisor.yaml"),
        "clusters:\n  - name: c\n    system: cassandra\n    file_sd: ['sd/*.json', extra.yaml]\n",
    )
    .unwrap();
    let config = Config::load(&dir.path().join("opsadvisor.yaml")).unwrap();
    let t = &config.clusters[0].targets;
    let by_node = |n: &str| t.iter().find(|x| x.node == n).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(by_node("10.0.0.1").metrics.as_deref(), Some("http://10.0.0.1:7070/metrics"));
    assert_eq!(by_node("10.0.0.1").node_exporter.as_deref(), Some("http://10.0.0.1:9100/metrics"));
    assert_eq!(by_node("10.0.0.2").node_exporter, None);
    assert_eq!(by_node("10.0.0.2").jolokia.as_deref(), Some("http://10.0.0.2:8778/jolokia/"));
    assert_eq!(by_node("cass-3").metrics.as_deref(), Some("https://db3.example:8443/jmx"));
}

#[test]
fn file_sd_problems_are_reported_with_their_path() {
    let dir = TempDir::new("file_sd_bad");
    std::fs::write(
        dir.path().join("bad.json"),
        r#"[{"targets": ["a:1"], "labels": {"exporter": "graphite"}}]"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), "[{").unwrap();
    std::fs::write(
        dir.path().join("opsadvisor.yaml"),
        "clusters:\n  - name: c\n    system: kafka\n    file_sd: [missing.json, bad.json, broken.json]\n",
    )
    .unwrap();
    let err = Config::load(&dir.path().join("opsadvisor.yaml")).unwrap_err();
    let text: Vec<String> = err.issues.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("clusters[0].file_sd[0]: ") && t.contains("missing.json")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("clusters[0].file_sd[1]: group 0") && t.contains("graphite")),
        "{text:#?}"
    );
    assert!(text.iter().any(|t| t.starts_with("clusters[0].file_sd[2]: ")), "{text:#?}");
}

#[test]
fn shards_split_the_fleet_without_overlap() {
    let clusters: Vec<String> = (0..12).map(|i| format!("cluster-{i}")).collect();
    let mut yaml = String::from("clusters:\n");
    for c in &clusters {
        yaml.push_str(&format!("  - {{ name: {c}, system: kafka, targets: [{{ node: b, metrics: 'http://b:1/m' }}] }}\n"));
    }
    let mut seen = BTreeSet::new();
    for i in 0..3 {
        let config =
            Config::from_yaml(&format!("shard: \"{i}/3\"\n{yaml}"), std::path::Path::new("/"))
                .unwrap();
        for c in config.clusters {
            assert!(seen.insert(c.name.clone()), "{} in two shards", c.name);
        }
    }
    assert_eq!(seen.len(), clusters.len(), "every cluster in some shard");
    let err = Config::from_yaml(&format!("shard: \"3/3\"\n{yaml}"), std::path::Path::new("/"))
        .unwrap_err();
    assert!(err[0].to_string().starts_with("shard: invalid shard '3/3'"), "{err:?}");
}
