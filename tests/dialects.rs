//! One feature schema across exporter dialects, checked on every real Cassandra and Kafka
//! scrape in ../shared/fixtures/real (skipped when ../shared is absent): netdata's jmx
//! config with Cassandra 4.x scopes, an old jmx_exporter 0.6 Kafka config, and the
//! jmx_exporter/Java agent names the simulator serves.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use opsadvisor::System;
use opsadvisor::features::{self, catalog::Catalog};
use opsadvisor::snapshot::{ClusterSnapshot, NodeSnapshot, Point, Snapshot, SourceSeries};
use opsadvisor::sources::exposition::{Format, parse};
use std::path::PathBuf;

fn real(path: &str) -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real").join(path);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("skipped: {} is absent", p.display());
            None
        }
    }
}

/// Features of one node that exposed `body` twice, a minute apart.
fn features_of(system: System, body: &[u8]) -> features::FeatureFrame {
    let samples = parse(body, Format::Text).unwrap().samples;
    let point = |t| Some(Point { timestamp_ms: t, samples: samples.clone() });
    let snapshot = Snapshot {
        rounds: 2,
        clusters: vec![ClusterSnapshot {
            name: "c".into(),
            system,
            nodes: vec![NodeSnapshot {
                name: "n".into(),
                sources: vec![SourceSeries {
                    source: "real".into(),
                    points: vec![point(0), point(60_000)],
                }],
            }],
            cluster_sources: vec![],
        }],
    };
    features::extract(&snapshot, Catalog::builtin(), 600_000).unwrap().pop().unwrap().pop().unwrap()
}

fn value(f: &features::FeatureFrame, column: &str) -> Option<f64> {
    f.f64_column(column).unwrap()[0]
}

#[test]
fn netdata_cassandra_scrape_maps_onto_the_schema() {
    let Some(body) = real("netdata-go.d/modules/cassandra/testdata/metrics.txt") else { return };
    let f = features_of(System::Cassandra, &body);
    // The JVM agent 0.x names (jvm_memory_bytes_*) and netdata's MBean-path names. (This
    // scrape has no TotalHints, so hints stay absent, not zero.)
    for column in [
        "heap_used_bytes",
        "heap_max_bytes",
        "heap_used_ratio",
        "gc_seconds_per_second",
        "pending_compactions",
        "mutation_pending",
        "read_pending",
        "dropped_mutations_per_second",
        "dropped_reads_per_second",
        "storage_load_bytes",
        "storage_exceptions_per_second",
        "read_latency_p99_seconds",
        "write_latency_p99_seconds",
    ] {
        assert!(value(&f, column).is_some(), "{column} missing from the netdata scrape");
    }
    assert_eq!(value(&f, "storage_load_bytes"), Some(8.58272986e8));
    // 219.342 µs, converted to seconds for this dialect only.
    assert!((value(&f, "read_latency_p99_seconds").unwrap() - 219.342e-6).abs() < 1e-12);
}

#[test]
fn old_kafka_jmx_exporter_scrape_maps_onto_the_schema() {
    let Some(body) = real(
        "tangfeixiong-go-to-kubernetes/kafka-broker-jmx_prometheus_httpserver-0.6.metrics.txt",
    ) else {
        return;
    };
    let f = features_of(System::Kafka, &body);
    assert_eq!(value(&f, "leader_count"), Some(18.0));
    assert_eq!(value(&f, "partition_count"), Some(51.0));
    assert_eq!(value(&f, "under_replicated_partitions"), Some(0.0));
    assert_eq!(value(&f, "active_controller"), Some(1.0));
    assert_eq!(value(&f, "offline_partitions"), Some(0.0));
    assert_eq!(value(&f, "preferred_replica_imbalance"), Some(0.0));
    let idle = value(&f, "request_handler_idle_ratio").unwrap();
    assert!((idle - 0.9996590142663573).abs() < 1e-12, "{idle}");
    assert!(value(&f, "isr_shrinks_per_second").unwrap() < 1e-10);
}

#[test]
fn the_simulators_jmx_exporter_names_map_onto_the_schema() {
    use opsadvisor::simulate::{SimSpec, Simulator};
    let sim = Simulator::new(SimSpec::demo(1)).unwrap();
    for (system, cluster, node, columns) in [
        (
            System::Cassandra,
            "cass-prod",
            "cass-prod-1",
            &[
                "pending_compactions",
                "mutation_pending",
                "read_latency_p99_seconds",
                "heap_used_ratio",
                "tombstones_scanned_p99",
            ][..],
        ),
        (
            System::Kafka,
            "kafka-prod",
            "kafka-prod-1",
            &[
                "leader_count",
                "under_replicated_partitions",
                "log_flush_p99_ms",
                "produce_p99_ms",
                "heap_used_ratio",
            ][..],
        ),
    ] {
        let body = sim.jmx_metrics(cluster, node).unwrap();
        let f = features_of(system, body.as_bytes());
        for c in columns {
            assert!(value(&f, c).is_some(), "{system:?}: {c} missing");
        }
    }
}
