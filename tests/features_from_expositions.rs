//! Feature extraction from fixed expositions, as the exporters write them: the same MBean
//! under different exporter dialects becomes the same feature, counters become rates, and
//! gauges become slopes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use opsadvisor::System;
use opsadvisor::features::{self, catalog::Catalog};
use opsadvisor::snapshot::{ClusterSnapshot, NodeSnapshot, Point, Snapshot, SourceSeries};
use opsadvisor::sources::exposition::{Format, parse};

fn point(t_ms: i64, text: &str) -> Option<Point> {
    Some(Point {
        timestamp_ms: t_ms,
        samples: parse(text.as_bytes(), Format::Text).unwrap().samples,
    })
}

fn frame(system: System, nodes: Vec<(&str, Vec<Option<Point>>)>) -> features::FeatureFrame {
    let rounds = nodes[0].1.len();
    let snapshot = Snapshot {
        rounds,
        clusters: vec![ClusterSnapshot {
            name: "c".into(),
            system,
            nodes: nodes
                .into_iter()
                .map(|(name, points)| NodeSnapshot {
                    name: name.into(),
                    sources: vec![SourceSeries { source: name.into(), points }],
                })
                .collect(),
            cluster_sources: vec![],
        }],
    };
    features::extract(&snapshot, Catalog::builtin(), 600_000).unwrap().pop().unwrap().pop().unwrap()
}

/// jmx_exporter 1.x agent names on one node, 0.x names on the other: same features.
#[test]
fn jvm_dialects_map_to_one_feature() {
    let new = |gc: f64| {
        format!(
            "# TYPE jvm_memory_used_bytes gauge\njvm_memory_used_bytes{{area=\"heap\"}} 6.0E9\njvm_memory_used_bytes{{area=\"nonheap\"}} 1.0E8\n\
             jvm_memory_max_bytes{{area=\"heap\"}} 8.0E9\n\
             # TYPE jvm_gc_collection_seconds summary\njvm_gc_collection_seconds_count{{gc=\"G1 Young Generation\"}} 10\n\
             jvm_gc_collection_seconds_sum{{gc=\"G1 Young Generation\"}} {gc}\n"
        )
    };
    let old = |gc: f64| {
        format!(
            "jvm_memory_bytes_used{{area=\"heap\",}} 6.0E9\njvm_memory_bytes_max{{area=\"heap\",}} 8.0E9\n\
             jvm_gc_collection_seconds_sum{{gc=\"ParNew\",}} {gc}\n"
        )
    };
    let f = frame(
        System::Cassandra,
        vec![
            ("new", vec![point(0, &new(1.0)), point(60_000, &new(7.0))]),
            ("old", vec![point(0, &old(1.0)), point(60_000, &old(7.0))]),
        ],
    );
    assert_eq!(f.f64_column("heap_used_ratio").unwrap(), vec![Some(0.75), Some(0.75)]);
    // 6 s of GC in 60 s of wall clock.
    assert_eq!(f.f64_column("gc_seconds_per_second").unwrap(), vec![Some(0.1), Some(0.1)]);
}

/// Cassandra 3.x and 4.x dropped-message scopes both count as dropped mutations.
#[test]
fn cassandra_3_and_4_dropped_message_scopes_are_one_feature() {
    let v3 = |n: u32| {
        format!(
            "cassandra_droppedmessage_dropped_count{{droppedmessage=\"MUTATION\"}} {n}\ncassandra_droppedmessage_dropped_count{{droppedmessage=\"READ\"}} 0\n"
        )
    };
    let v4 = |n: u32| {
        format!(
            "cassandra_droppedmessage_dropped_count{{droppedmessage=\"MUTATION_REQ\"}} {n}\ncassandra_droppedmessage_dropped_count{{droppedmessage=\"MUTATION_RSP\"}} {n}\n"
        )
    };
    let f = frame(
        System::Cassandra,
        vec![
            ("v3", vec![point(0, &v3(0)), point(10_000, &v3(50))]),
            ("v4", vec![point(0, &v4(0)), point(10_000, &v4(25))]),
        ],
    );
    assert_eq!(f.f64_column("dropped_mutations_per_second").unwrap(), vec![Some(5.0), Some(5.0)]);
    assert_eq!(f.f64_column("dropped_reads_per_second").unwrap(), vec![Some(0.0), None]);
}

/// node_exporter: CPU cores from the idle series, busy ratio from rates, the data disk chosen
/// over tmpfs and the root filesystem, and a fill slope.
#[test]
fn host_features_come_from_node_exporter() {
    let host = |idle: f64, avail: f64| {
        let mut s = String::from("# TYPE node_cpu_seconds_total counter\n");
        for cpu in 0..4 {
            s += &format!(
                "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"idle\"}} {idle}\nnode_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"user\"}} 5\n"
            );
        }
        s += "node_filesystem_avail_bytes{device=\"tmpfs\",fstype=\"tmpfs\",mountpoint=\"/run\"} 1e9\n";
        s += "node_filesystem_avail_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"} 5e10\n";
        s += &format!(
            "node_filesystem_avail_bytes{{device=\"/dev/md0\",fstype=\"xfs\",mountpoint=\"/var/lib/kafka\"}} {avail}\n"
        );
        s += "node_filesystem_size_bytes{device=\"/dev/md0\",fstype=\"xfs\",mountpoint=\"/var/lib/kafka\"} 1e12\n";
        s += "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"} 1e11\n";
        s
    };
    let f = frame(
        System::Kafka,
        vec![(
            "b1",
            vec![
                point(0, &host(100.0, 4e11)),
                point(100_000, &host(130.0, 3.9e11)),
                point(200_000, &host(160.0, 3.8e11)),
            ],
        )],
    );
    assert_eq!(f.f64_column("cpu_cores").unwrap(), vec![Some(4.0)]);
    // Each core idles 0.3 s per second: 70% busy.
    let busy = f.f64_column("cpu_busy_ratio").unwrap()[0].unwrap();
    assert!((busy - 0.7).abs() < 1e-9, "{busy}");
    assert_eq!(f.f64_column("data_disk_used_ratio").unwrap(), vec![Some(0.62)]);
    // 10 GB per 100 s: 3.8e11 bytes left lasts 3800 s.
    let hours = f.f64_column("hours_until_disk_full").unwrap()[0].unwrap();
    assert!((hours - 3800.0 / 3600.0).abs() < 1e-9, "{hours}");
}

/// The Kafka request-handler meter counts idle nanoseconds: its rate over 1e9 is the idle
/// share; and the old `kafka_server_replicamanager_value{name=...}` dialect still maps.
#[test]
fn kafka_idle_ratio_and_old_dialect() {
    let new = |idle_ns: f64| {
        format!(
            "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count {idle_ns:e}\nkafka_server_replicamanager_leadercount 31\n"
        )
    };
    let old =
        |_: f64| "kafka_server_replicamanager_value{name=\"LeaderCount\",} 29.0\n".to_string();
    let f = frame(
        System::Kafka,
        vec![
            ("b1", vec![point(0, &new(0.0)), point(60_000, &new(12e9))]),
            ("b2", vec![point(0, &old(0.0)), point(60_000, &old(0.0))]),
        ],
    );
    assert_eq!(f.f64_column("request_handler_idle_ratio").unwrap(), vec![Some(0.2), None]);
    assert_eq!(f.f64_column("leader_count").unwrap(), vec![Some(31.0), Some(29.0)]);
    assert_eq!(
        f.f64_column("leader_share_of_mean").unwrap(),
        vec![Some(31.0 / 30.0), Some(29.0 / 30.0)]
    );
}
