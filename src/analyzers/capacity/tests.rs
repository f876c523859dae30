#![allow(clippy::unwrap_used)]

use super::*;
use crate::features::{self, catalog::Catalog};
use crate::sample::Sample;
use crate::snapshot::{ClusterSnapshot, NodeSnapshot, Point, Snapshot, SourceSeries};

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const GIB: f64 = 1_073_741_824.0;

/// node_exporter samples of a 1000 GiB data disk `used` full.
fn disk(used: f64) -> Vec<Sample> {
    let mp = || crate::sample::labels([("mountpoint", "/var/lib/data")]);
    vec![
        Sample::new("node_filesystem_size_bytes", mp(), 1000.0 * GIB),
        Sample::new("node_filesystem_avail_bytes", mp(), (1.0 - used) * 1000.0 * GIB),
    ]
}

/// A cluster of nodes, each with `hours` hourly points whose disk use is `used(node, hour)`.
fn snapshot(
    system: System,
    nodes: usize,
    hours: usize,
    used: impl Fn(usize, usize) -> f64,
    cluster_samples: Vec<Sample>,
) -> Snapshot {
    let nodes = (0..nodes)
        .map(|n| NodeSnapshot {
            name: format!("n{}", n + 1),
            sources: vec![SourceSeries {
                source: "node_exporter".into(),
                points: (0..hours)
                    .map(|h| {
                        Some(Point {
                            timestamp_ms: T0 + h as i64 * HOUR,
                            samples: disk(used(n, h)),
                        })
                    })
                    .collect(),
            }],
        })
        .collect();
    let cluster_sources = if cluster_samples.is_empty() {
        vec![]
    } else {
        vec![SourceSeries {
            source: "es".into(),
            points: (0..hours)
                .map(|h| {
                    Some(Point {
                        timestamp_ms: T0 + h as i64 * HOUR,
                        samples: cluster_samples.clone(),
                    })
                })
                .collect(),
        }]
    };
    Snapshot {
        rounds: hours,
        clusters: vec![ClusterSnapshot { name: "c".into(), system, nodes, cluster_sources }],
    }
}

fn run(s: &Snapshot, config: &BTreeMap<String, CapacityConfig>) -> Capacity {
    let rounds = features::extract(s, Catalog::builtin(), 600_000).unwrap();
    analyze(&rounds, config)
}

/// A small daily wiggle so the series look like real ones.
fn wiggle(h: usize) -> f64 {
    0.004 * (h as f64 / 24.0 * std::f64::consts::TAU).sin()
}

#[test]
fn a_growing_es_node_gets_the_date_it_reaches_the_low_watermark() {
    // n2: 80% now-ish, +0.5 points/day → 85% about 10 days after the last point.
    let hours = 7 * 24;
    let s = snapshot(
        System::Elasticsearch,
        3,
        hours,
        |n, h| {
            if n == 1 { 0.765 + 0.005 * h as f64 / 24.0 + wiggle(h) } else { 0.45 + wiggle(h) }
        },
        vec![],
    );
    let c = run(&s, &BTreeMap::new());
    assert_eq!(c.findings.len(), 1, "{:#?}", c.findings);
    let f = &c.findings[0];
    assert_eq!(f.id, "capacity_es_disk_low_watermark");
    assert_eq!(f.node.as_deref(), Some("n2"));
    assert_eq!(f.analyzer, "capacity");
    assert_eq!(f.category, Category::Capacity);
    let days = f.evidence[1].value.unwrap();
    assert!((8.0..=12.0).contains(&days), "{days} days: {}", f.symptom);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.symptom.contains("85% low watermark"), "{}", f.symptom);
    assert!(f.symptom.contains("stops allocating"), "{}", f.symptom);
    // The other two nodes hold the load: rebalancing is the advice, not more nodes.
    assert!(f.action.contains("no node needs adding"), "{}", f.action);
    // Every node has a disk chart; n2's marks the day it crosses.
    assert_eq!(c.charts.iter().filter(|ch| ch.metric == Metric::Disk).count(), 3);
    let chart = c.charts.iter().find(|ch| ch.node == "n2").unwrap();
    assert_eq!(chart.findings, vec![f.fingerprint.clone()]);
    let crossings: Vec<i64> = chart.thresholds.iter().map(|t| t.crossing_ms.unwrap()).collect();
    assert!(crossings.windows(2).all(|w| w[0] < w[1]), "low, high, flood in order: {crossings:?}");
}

#[test]
fn the_clusters_own_watermark_is_used() {
    let s = snapshot(
        System::Elasticsearch,
        1,
        4 * 24,
        |_, h| 0.70 + 0.005 * h as f64 / 24.0 + wiggle(h),
        vec![Sample::new(
            "elasticsearch_clustersettings_allocation_watermark_low_ratio",
            vec![],
            0.75,
        )],
    );
    let c = run(&s, &BTreeMap::new());
    let f = c.findings.iter().find(|f| f.id == "capacity_es_disk_low_watermark").unwrap();
    assert!(f.symptom.contains("75% low watermark"), "{}", f.symptom);
    assert_eq!(f.evidence[0].threshold, Some(0.75));
}

#[test]
fn cassandra_stcs_headroom_and_node_count() {
    // Four nodes at 40% growing 1 point/day: STCS's 50% is 5 to 10 days away on each, and
    // keeping the peak over the horizon (10 × 5 days of history) under 50% needs more nodes.
    let s = snapshot(
        System::Cassandra,
        4,
        5 * 24,
        |_, h| 0.35 + 0.01 * h as f64 / 24.0 + wiggle(h),
        vec![],
    );
    let c = run(&s, &BTreeMap::new());
    let headroom: Vec<&Finding> =
        c.findings.iter().filter(|f| f.id == "capacity_cassandra_compaction_headroom").collect();
    assert_eq!(headroom.len(), 4);
    let nodes = c.findings.iter().find(|f| f.id == "capacity_nodes_needed").unwrap();
    assert_eq!(nodes.node, None);
    // Peak ≈ 4 × (0.40 + 0.5) = 3.6 node-disks at 50% → 8 nodes: add 4.
    assert!(nodes.action.starts_with("Add "), "{}", nodes.action);
    let add: usize = nodes.action.split(' ').nth(1).unwrap().parse().unwrap();
    assert!((3..=5).contains(&add), "{}", nodes.action);
    // LCS needs far less headroom: no headroom finding within 10 days.
    let lcs = CapacityConfig {
        compaction_strategy: limits::CompactionStrategy::Lcs,
        ..Default::default()
    };
    let c = run(&s, &BTreeMap::from([("c".to_string(), lcs)]));
    assert!(c.findings.iter().all(|f| f.id != "capacity_cassandra_compaction_headroom"
        || f.evidence[0].threshold == Some(0.9)));
}

#[test]
fn no_forecast_from_less_than_a_day() {
    let s = snapshot(System::Elasticsearch, 1, 12, |_, h| 0.5 + 0.02 * h as f64, vec![]);
    let c = run(&s, &BTreeMap::new());
    assert!(c.findings.is_empty() && c.charts.is_empty());
}

#[test]
fn dates_are_utc_calendar_days() {
    assert_eq!(date(T0), "2026-01-01");
    assert_eq!(date(T0 - 1), "2025-12-31");
    assert_eq!(date(1_709_164_800_000), "2024-02-29");
}

#[test]
fn every_limit_id_is_a_known_check() {
    for system in System::ALL {
        for l in limits::limits(system, &CapacityConfig::default(), Settings::default()) {
            assert!(CHECK_IDS.contains(&l.id), "{} missing from CHECK_IDS", l.id);
        }
    }
}

#[test]
fn heap_is_forecast_from_its_floor() {
    let pts: Vec<(i64, f64)> =
        (0..10).map(|i| (i * HOUR, [0.5, 0.7, 0.4, 0.8, 0.6][i as usize % 5])).collect();
    let floor: Vec<f64> = trailing_min(pts, 3 * HOUR).into_iter().map(|p| p.1).collect();
    assert_eq!(floor, vec![0.5, 0.5, 0.4, 0.4, 0.4, 0.5, 0.5, 0.4, 0.4, 0.4]);
}

/// node_exporter network samples at hour `h` of a 10 GbE host whose eth0 carried
/// `rx(h')` of its speed on receive each hour before; a container veth (which reports a
/// 10 Gb/s speed too) and loopback carry heavy traffic that is not the NIC's.
fn network(h: usize, rx: &dyn Fn(usize) -> f64) -> Vec<Sample> {
    const SPEED: f64 = 1.25e9;
    let received: f64 = (0..h).map(|k| rx(k) * SPEED * 3600.0).sum();
    let dev = |d: &str| crate::sample::labels([("device", d)]);
    let busy = h as f64 * 0.9 * SPEED * 3600.0;
    vec![
        Sample::new("node_network_speed_bytes", dev("eth0"), SPEED),
        Sample::new("node_network_speed_bytes", dev("veth1a2b3c"), SPEED),
        Sample::new("node_network_receive_bytes_total", dev("eth0"), received),
        Sample::new("node_network_transmit_bytes_total", dev("eth0"), received * 0.4),
        Sample::new("node_network_receive_bytes_total", dev("veth1a2b3c"), busy),
        Sample::new("node_network_transmit_bytes_total", dev("veth1a2b3c"), busy),
        Sample::new("node_network_receive_bytes_total", dev("lo"), busy * 3.0),
        Sample::new("node_network_transmit_bytes_total", dev("lo"), busy * 3.0),
    ]
}

/// A Kafka cluster of `nodes` brokers whose NICs carry `rx(node, hour)`, with `hours` points.
fn network_snapshot(nodes: usize, hours: usize, rx: impl Fn(usize, usize) -> f64) -> Snapshot {
    let mut s = snapshot(System::Kafka, nodes, hours, |_, _| 0.3, vec![]);
    for (n, node) in s.clusters[0].nodes.iter_mut().enumerate() {
        for (h, p) in node.sources[0].points.iter_mut().enumerate() {
            p.as_mut().unwrap().samples.extend(network(h, &|k| rx(n, k)));
        }
    }
    s
}

fn run_hourly(s: &Snapshot) -> Capacity {
    // Hourly points: rates are read over the gap back to the previous point.
    let rounds = features::extract(s, Catalog::builtin(), 2 * HOUR).unwrap();
    analyze(&rounds, &BTreeMap::new())
}

#[test]
fn nic_utilisation_counts_physical_nics_only_and_gets_a_date_and_a_node_count() {
    // Three brokers at 50–60 % of a 10 GbE link, growing 2 points a day: 80 % in 10–15 days.
    let s = network_snapshot(3, 6 * 24, |n, h| {
        0.48 + 0.04 * n as f64 + 0.02 * h as f64 / 24.0 + wiggle(h) * 5.0
    });
    let c = run_hourly(&s);
    let chart = c.charts.iter().find(|ch| ch.metric == Metric::Network && ch.node == "n1").unwrap();
    // The veth and loopback traffic (90 % and 270 % of a link) is not counted.
    let (_, last) = *chart.history.last().unwrap();
    assert!((0.55..0.65).contains(&last), "{last}");
    let net: Vec<&Finding> = c.findings.iter().filter(|f| f.id == "capacity_network").collect();
    assert_eq!(net.len(), 3, "{:#?}", c.findings);
    let n3 = net.iter().find(|f| f.node.as_deref() == Some("n3")).unwrap();
    assert!(n3.symptom.contains("80% network capacity threshold"), "{}", n3.symptom);
    let days = n3.evidence[1].value.unwrap();
    assert!((5.0..=12.0).contains(&days), "{days}: {}", n3.symptom);
    assert_eq!(n3.impact, vec![Impact::Performance]);
    // Cruise Control's 0.8 network threshold sizes the cluster.
    let nodes = c
        .findings
        .iter()
        .find(|f| {
            f.id == "capacity_nodes_needed" && f.evidence[0].feature == "sum(network_used_ratio)"
        })
        .unwrap_or_else(|| panic!("{:#?}", c.findings));
    assert!(
        nodes.symptom.contains("keep peak network used (of NIC speed) under 80.0%"),
        "{}",
        nodes.symptom
    );
    assert!(nodes.action.starts_with("Add "), "{}", nodes.action);
}

#[test]
fn steady_network_use_well_under_the_threshold_is_quiet() {
    let s = network_snapshot(3, 6 * 24, |_, h| 0.3 + wiggle(h) * 5.0);
    let c = run_hourly(&s);
    assert!(c.charts.iter().any(|ch| ch.metric == Metric::Network));
    assert!(
        c.findings.iter().all(|f| f.id != "capacity_network" && f.id != "capacity_nodes_needed"),
        "{:#?}",
        c.findings
    );
}

/// A Kafka cluster of 3 brokers on 1000 GiB disks, each producing `bytes_in` bytes/s to its
/// leaders (100 of its 300 partition replicas), whose logs hold `log(hour)` bytes; with
/// server.properties facts `facts`.
fn kafka_snapshot(
    hours: usize,
    bytes_in: f64,
    log: impl Fn(usize) -> f64,
    facts: &[(&str, f64)],
) -> Snapshot {
    let mut s = snapshot(System::Kafka, 3, hours, |_, h| log(h) / (1000.0 * GIB) + 0.01, vec![]);
    for node in &mut s.clusters[0].nodes {
        for (h, p) in node.sources[0].points.iter_mut().enumerate() {
            let samples = &mut p.as_mut().unwrap().samples;
            samples.push(Sample::new("kafka_log_log_size", vec![], log(h)));
            samples.push(Sample::new(
                "kafka_server_brokertopicmetrics_bytesin_total",
                vec![],
                bytes_in * 3600.0 * h as f64,
            ));
            samples.push(Sample::new("kafka_server_replicamanager_partitioncount", vec![], 300.0));
            samples.push(Sample::new("kafka_server_replicamanager_leadercount", vec![], 100.0));
            for (name, v) in facts {
                samples.push(Sample::new(format!("opsadvisor_{name}"), vec![], *v));
            }
        }
    }
    s
}

const MIB: f64 = 1_048_576.0;

#[test]
fn kafka_retention_longer_than_the_disk_holds_gets_a_date_and_the_retention_that_fits() {
    // 0.5 MiB/s produced × 3 replicas = 1.5 MiB/s written: Kafka's default week is 886 GiB
    // of logs, over 80% of the 1000 GiB disk. The logs grow 126.6 GiB/day from 100 GiB.
    let grow = |h: usize| 100.0 * GIB + 1.5 * MIB * 3600.0 * h as f64;
    let s = kafka_snapshot(4 * 24, 0.5 * MIB, grow, &[("cfg_server_properties_read", 1.0)]);
    let c = run_hourly(&s);
    let f: Vec<&Finding> =
        c.findings.iter().filter(|f| f.id == "capacity_kafka_retention").collect();
    assert_eq!(f.len(), 3, "{:#?}", c.findings);
    let f = f[0];
    // 606 GiB now, 800 GiB in about 1.5 days.
    let days = f.evidence[1].value.unwrap();
    assert!((0.8..=2.5).contains(&days), "{days}: {}", f.symptom);
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.symptom.contains("partition logs reaches the 80% of the 1000 GiB log disk (800 GiB)"),
        "{}",
        f.symptom
    );
    assert!(f.symptom.contains("886 GiB of logs once retention starts deleting"), "{}", f.symptom);
    assert!(f.cause.contains("log.retention.hours = 168 h (Kafka's default)"), "{}", f.cause);
    assert!(f.cause.contains("1.50 MiB/s (bytes in × 3.0 replicas"), "{}", f.cause);
    assert!(f.action.contains("lower log.retention.hours to 151 "), "{}", f.action);
    assert!(f.action.contains("add 1 broker and reassign"), "{}", f.action);
    assert!(f.action.contains("grow the log disk to at least 1107 GiB"), "{}", f.action);
    // The disk-threshold forecast of the same brokers says the same thing less well: one finding.
    assert!(c.findings.iter().all(|f| f.id != "capacity_kafka_disk"), "{:#?}", c.findings);
    assert!(c.charts.iter().any(|ch| ch.metric == Metric::LogSize
        && ch.thresholds.iter().any(|t| t.label.contains("log disk"))));
}

#[test]
fn kafka_retention_that_fits_or_a_log_at_its_steady_state_is_quiet() {
    let grow = |h: usize| 100.0 * GIB + 1.5 * MIB * 3600.0 * h as f64;
    // Three days of retention: 380 GiB at steady state.
    let s = kafka_snapshot(
        4 * 24,
        0.5 * MIB,
        grow,
        &[("cfg_server_properties_read", 1.0), ("cfg_log_retention_seconds", 72.0 * 3600.0)],
    );
    let c = run_hourly(&s);
    assert!(c.findings.iter().all(|f| f.id != "capacity_kafka_retention"), "{:#?}", c.findings);
    // 1 GiB per partition × 300: 300 GiB, whatever the time.
    let s = kafka_snapshot(
        4 * 24,
        0.5 * MIB,
        grow,
        &[("cfg_server_properties_read", 1.0), ("cfg_log_retention_bytes", GIB)],
    );
    assert!(run_hourly(&s).findings.iter().all(|f| f.id != "capacity_kafka_retention"));
    // Flat at 400 GiB: topic overrides keep it there, whatever the broker default says.
    let s = kafka_snapshot(
        4 * 24,
        0.5 * MIB,
        |h| 400.0 * GIB + wiggle(h) * GIB,
        &[("cfg_server_properties_read", 1.0)],
    );
    let c = run_hourly(&s);
    assert!(c.findings.iter().all(|f| f.id != "capacity_kafka_retention"), "{:#?}", c.findings);
    // server.properties not read: retention unknown, nothing said.
    let s = kafka_snapshot(4 * 24, 0.5 * MIB, grow, &[]);
    let c = run_hourly(&s);
    assert!(c.findings.iter().all(|f| f.id != "capacity_kafka_retention"), "{:#?}", c.findings);
}
