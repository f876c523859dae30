//! End to end: the simulator serves a cluster over loopback HTTP with one fault injected,
//! `advise` scrapes it, and the fault's finding appears, on the faulty node, with nothing
//! unrelated at warning or above. A healthy cluster of each system yields nothing at warning
//! or above.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use opsadvisor::System;
use opsadvisor::cli::config_for;
use opsadvisor::config::ScrapeConfig;
use opsadvisor::features::catalog::Catalog;
use opsadvisor::findings::{Finding, Severity};
use opsadvisor::pipeline;
use opsadvisor::simulate::{
    ClusterSpec, Fault, FaultSpec, HardwareProfile, SimSpec, Simulator, serve,
};
use std::collections::BTreeSet;
use std::time::Duration;

/// Simulated seconds per wall second: 200 ms between scrapes is one simulated minute.
const SPEED: f64 = 300.0;

async fn advise(cluster: ClusterSpec, seed: u64) -> Vec<Finding> {
    let mut spec = SimSpec::demo(seed);
    spec.clusters = vec![cluster];
    let mut sim = Simulator::new(spec).unwrap();
    // Let the fault develop for a while before the first scrape, as it would have before
    // anyone looked.
    sim.advance(Duration::from_secs(15 * 60));
    let server = serve(sim, SPEED).await.unwrap();
    let config = config_for(
        &server,
        ScrapeConfig {
            interval: "200ms".into(),
            timeout: "2s".into(),
            samples: 6,
            ..ScrapeConfig::default()
        },
    );
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    assert!(rules.errors.is_empty(), "{:?}", rules.errors);
    pipeline::advise(&config, &rules).await.unwrap().findings
}

fn cluster(system: System) -> ClusterSpec {
    let (name, n) = match system {
        System::Cassandra => ("cass", 4),
        System::Kafka => ("kafka", 3),
        System::Elasticsearch => ("es", 3),
    };
    ClusterSpec::new(name, system, n, HardwareProfile::medium())
}

/// The findings a fault must produce, and other findings it may also cause.
fn expectations(fault: Fault) -> (&'static [&'static str], &'static [&'static str]) {
    match fault {
        Fault::CompactionBacklog => (
            &["cassandra_compaction_backlog"],
            &[
                "cassandra_read_backlog",
                "cassandra_compaction_executor_blocked",
                "cassandra_sstables_per_read_high",
                "cassandra_latency_high",
            ],
        ),
        Fault::GcPressure => (
            &["cassandra_gc_pressure"],
            &["cassandra_read_backlog", "jvm_frequent_old_gc", "cassandra_latency_high"],
        ),
        Fault::TombstoneHeavyReads => {
            (&["cassandra_tombstone_heavy_reads"], &["cassandra_read_backlog"])
        }
        Fault::DiskFilling => (&["cassandra_disk_filling"], &["host_disk_almost_full"]),
        Fault::DroppedMutations => (
            &["cassandra_dropped_mutations"],
            &["host_cpu_saturated", "cassandra_mutation_backlog", "cassandra_latency_high"],
        ),
        Fault::HintsForDownNode => (&["cassandra_node_down", "cassandra_hints_accumulating"], &[]),
        // The leaders report the under-replication; the slow broker itself is named by
        // kafka_slow_broker, which is the finding checked for node attribution.
        Fault::UnderReplicatedSlowBroker => (
            &["kafka_slow_broker", "kafka_under_replicated_partitions"],
            &["kafka_isr_flapping", "kafka_under_min_isr_partitions", "kafka_follower_lag"],
        ),
        Fault::RequestHandlerSaturation => {
            (&["kafka_request_handler_saturated"], &["host_cpu_saturated"])
        }
        Fault::ConsumerLagGrowth => (&["kafka_consumer_lag_growing"], &[]),
        Fault::LeaderImbalance => (&["kafka_leader_imbalance"], &[]),
        Fault::KafkaDiskFilling => (&["kafka_disk_filling"], &["host_disk_almost_full"]),
        Fault::IsrFlapping => (
            &["kafka_isr_flapping"],
            &["kafka_under_replicated_partitions", "kafka_under_min_isr_partitions"],
        ),
        Fault::HeapPressure => (
            &["es_heap_pressure", "es_breaker_tripping"],
            &["jvm_frequent_old_gc", "es_parent_breaker_near_limit"],
        ),
        Fault::SearchRejections => (
            &["es_search_rejections"],
            &[
                "host_cpu_saturated",
                "es_write_rejections",
                "es_high_cpu",
                "es_hot_spot",
                "es_search_queue_backing_up",
            ],
        ),
        Fault::UnassignedShardsYellow => (&["es_cluster_yellow"], &[]),
        Fault::UnassignedShardsRed => (&["es_cluster_red"], &[]),
        Fault::DiskLowWatermark => (&["es_disk_low_watermark"], &[]),
        Fault::TooManyShards => {
            (&["es_too_many_shards"], &["es_heap_pressure", "es_shards_per_heap_high"])
        }
        // The throttled node burns CPU merging, so it also stands out from its peers.
        Fault::MergeThrottling => (&["es_indexing_throttled"], &["es_hot_spot"]),
    }
}

async fn check_fault(fault: Fault) {
    let system = fault.system();
    let base = cluster(system);
    // Per-node faults go on the second node, so "which node" is tested too.
    let node = base.nodes[1].name.clone();
    let spec = FaultSpec::new(fault, Some(&node));
    let spec = if Simulator::new(SimSpec {
        clusters: vec![base.clone().with_fault(spec.clone())],
        ..SimSpec::demo(1)
    })
    .is_ok()
    {
        spec
    } else {
        FaultSpec::new(fault, None)
    };
    let on_node = spec.node.clone();
    let findings = advise(base.with_fault(spec), 7).await;
    let (must, may) = expectations(fault);
    let ids: BTreeSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    for id in must {
        assert!(ids.contains(id), "{fault:?}: expected {id}; got {:#?}", summary(&findings));
    }
    let unexpected: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            // The classifier naming this very fault (alone or with another) is related.
            let names_it = f.analyzer == "classifier" && f.id.contains(fault.as_str());
            f.severity >= Severity::Warning
                && !must.contains(&f.id.as_str())
                && !may.contains(&f.id.as_str())
                && !names_it
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{fault:?}: unrelated findings {:#?}",
        summary(&unexpected.into_iter().cloned().collect::<Vec<_>>())
    );
    // A node fault is reported on that node (the down node itself cannot report hints).
    if let Some(node) = on_node {
        let first = findings.iter().find(|f| f.id == must[0]).unwrap();
        if first.node.is_some() {
            assert_eq!(
                first.node.as_deref(),
                Some(node.as_str()),
                "{fault:?}: {:#?}",
                summary(&findings)
            );
        }
    }
}

fn summary(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{} {:?} {}: {}", f.id, f.node, f.severity, f.symptom))
        .collect()
}

macro_rules! fault_tests {
    ($($name:ident => $fault:expr,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                check_fault($fault).await;
            }
        )*
    };
}

fault_tests! {
    cassandra_compaction_backlog_is_found => Fault::CompactionBacklog,
    cassandra_gc_pressure_is_found => Fault::GcPressure,
    cassandra_tombstone_heavy_reads_are_found => Fault::TombstoneHeavyReads,
    cassandra_disk_filling_is_found => Fault::DiskFilling,
    cassandra_dropped_mutations_are_found => Fault::DroppedMutations,
    cassandra_hints_for_down_node_are_found => Fault::HintsForDownNode,
    kafka_under_replicated_slow_broker_is_found => Fault::UnderReplicatedSlowBroker,
    kafka_request_handler_saturation_is_found => Fault::RequestHandlerSaturation,
    kafka_consumer_lag_growth_is_found => Fault::ConsumerLagGrowth,
    kafka_leader_imbalance_is_found => Fault::LeaderImbalance,
    kafka_disk_filling_is_found => Fault::KafkaDiskFilling,
    kafka_isr_flapping_is_found => Fault::IsrFlapping,
    es_heap_pressure_is_found => Fault::HeapPressure,
    es_search_rejections_are_found => Fault::SearchRejections,
    es_unassigned_shards_yellow_is_found => Fault::UnassignedShardsYellow,
    es_unassigned_shards_red_is_found => Fault::UnassignedShardsRed,
    es_disk_low_watermark_is_found => Fault::DiskLowWatermark,
    es_too_many_shards_is_found => Fault::TooManyShards,
    es_merge_throttling_is_found => Fault::MergeThrottling,
}

#[test]
fn every_fault_has_an_end_to_end_test() {
    // The macro list above must cover Fault::ALL; expectations() is exhaustive by match.
    let src = include_str!("e2e_faults.rs");
    for f in Fault::ALL {
        assert!(src.contains(&format!("=> Fault::{f:?},")), "no e2e test for {f:?}");
    }
}

async fn check_healthy(system: System) {
    let findings = advise(cluster(system), 11).await;
    let loud: Vec<Finding> =
        findings.into_iter().filter(|f| f.severity >= Severity::Warning).collect();
    assert!(loud.is_empty(), "healthy {system:?} cluster: {:#?}", summary(&loud));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_cassandra_gives_nothing_at_warning_or_above() {
    check_healthy(System::Cassandra).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_kafka_gives_nothing_at_warning_or_above() {
    check_healthy(System::Kafka).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_elasticsearch_gives_nothing_at_warning_or_above() {
    check_healthy(System::Elasticsearch).await;
}
