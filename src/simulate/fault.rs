//! The faults the simulator can inject, and how a fault is attached to a cluster.
//!
//! Each fault names a real failure mode that opsadvisor's checks and classifiers should
//! recognise. A fault changes the *model* (a slower disk, a bigger live set, a stuck retention
//! thread, a replica that cannot be placed…) and the metrics follow from it, so the symptoms
//! move together the way they do on a real cluster. Fault names are stable snake_case ids; they
//! double as labels for generated training data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::System;

/// A failure mode of one system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Cassandra: compactions fall behind (pending tasks climb into the hundreds, the compaction
    /// executor blocks, more SSTables per read, slower reads).
    CompactionBacklog,
    /// Cassandra: the live set fills the heap (heap > 90 %, GC > 10 % of wall clock, frequent
    /// old-generation collections, latency spikes).
    GcPressure,
    /// Cassandra: reads scan thousands of tombstones (p99 > 1000 and rising, slower reads).
    TombstoneHeavyReads,
    /// Cassandra: data grows by GBs per hour until the data disk is full.
    DiskFilling,
    /// Cassandra: the node is overloaded by mutations (MutationStage backs up, MUTATION
    /// messages are dropped, write latency rises).
    DroppedMutations,
    /// Cassandra: one node is down (its endpoints refuse connections) and the others store
    /// hints for it.
    HintsForDownNode,
    /// Kafka: one broker's disk is slow; its followers drop out of the ISR, so the leaders
    /// report under-replicated partitions.
    UnderReplicatedSlowBroker,
    /// Kafka: request-handler (I/O) threads are saturated by a flood of small produce requests.
    RequestHandlerSaturation,
    /// Kafka: a consumer group consumes slower than its topic is produced (lag grows steadily).
    ConsumerLagGrowth,
    /// Kafka: one broker leads most partitions (leaders are off their preferred replicas).
    LeaderImbalance,
    /// Kafka: log retention stopped on a broker, so its log directories fill up.
    /// Written `disk_filling` in a Kafka cluster's spec is accepted as this fault.
    KafkaDiskFilling,
    /// Kafka: the followers of partitions this broker leads repeatedly stall and catch up, so
    /// its ISRs shrink and expand at a sustained rate (counted on this broker, the leader).
    IsrFlapping,
    /// Elasticsearch: heap used 85–95 %, circuit breakers near their limits and tripping,
    /// frequent old GC.
    HeapPressure,
    /// Elasticsearch: search demand exceeds the search pool (queue full, rejections rising).
    SearchRejections,
    /// Elasticsearch: replicas cannot be allocated (health yellow).
    UnassignedShardsYellow,
    /// Elasticsearch: a primary shard is unassigned (health red).
    UnassignedShardsRed,
    /// Elasticsearch: a data node's disk is past the low watermark (85–90 % used), and an
    /// archive index on it grows by a tenth of a point a day.
    DiskLowWatermark,
    /// Elasticsearch: more than 1000 shards per data node.
    TooManyShards,
    /// Elasticsearch: merges cannot keep up, so indexing is throttled.
    MergeThrottling,
}

/// Where a fault applies when its spec names no node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Affects each node it is given; without a node it affects every node.
    PerNode,
    /// Affects exactly one node; without a node the last node of the cluster is chosen.
    OneNode,
    /// A property of the whole cluster; naming a node is an error.
    Cluster,
}

impl Fault {
    /// Every fault, grouped by system.
    pub const ALL: [Fault; 19] = [
        Fault::CompactionBacklog,
        Fault::GcPressure,
        Fault::TombstoneHeavyReads,
        Fault::DiskFilling,
        Fault::DroppedMutations,
        Fault::HintsForDownNode,
        Fault::UnderReplicatedSlowBroker,
        Fault::RequestHandlerSaturation,
        Fault::ConsumerLagGrowth,
        Fault::LeaderImbalance,
        Fault::KafkaDiskFilling,
        Fault::IsrFlapping,
        Fault::HeapPressure,
        Fault::SearchRejections,
        Fault::UnassignedShardsYellow,
        Fault::UnassignedShardsRed,
        Fault::DiskLowWatermark,
        Fault::TooManyShards,
        Fault::MergeThrottling,
    ];

    /// The snake_case id used in specs, reports and training labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::CompactionBacklog => "compaction_backlog",
            Fault::GcPressure => "gc_pressure",
            Fault::TombstoneHeavyReads => "tombstone_heavy_reads",
            Fault::DiskFilling => "disk_filling",
            Fault::DroppedMutations => "dropped_mutations",
            Fault::HintsForDownNode => "hints_for_down_node",
            Fault::UnderReplicatedSlowBroker => "under_replicated_slow_broker",
            Fault::RequestHandlerSaturation => "request_handler_saturation",
            Fault::ConsumerLagGrowth => "consumer_lag_growth",
            Fault::LeaderImbalance => "leader_imbalance",
            Fault::KafkaDiskFilling => "kafka_disk_filling",
            Fault::IsrFlapping => "isr_flapping",
            Fault::HeapPressure => "heap_pressure",
            Fault::SearchRejections => "search_rejections",
            Fault::UnassignedShardsYellow => "unassigned_shards_yellow",
            Fault::UnassignedShardsRed => "unassigned_shards_red",
            Fault::DiskLowWatermark => "disk_low_watermark",
            Fault::TooManyShards => "too_many_shards",
            Fault::MergeThrottling => "merge_throttling",
        }
    }

    /// The system this fault belongs to.
    pub fn system(self) -> System {
        match self {
            Fault::CompactionBacklog
            | Fault::GcPressure
            | Fault::TombstoneHeavyReads
            | Fault::DiskFilling
            | Fault::DroppedMutations
            | Fault::HintsForDownNode => System::Cassandra,
            Fault::UnderReplicatedSlowBroker
            | Fault::RequestHandlerSaturation
            | Fault::ConsumerLagGrowth
            | Fault::LeaderImbalance
            | Fault::KafkaDiskFilling
            | Fault::IsrFlapping => System::Kafka,
            Fault::HeapPressure
            | Fault::SearchRejections
            | Fault::UnassignedShardsYellow
            | Fault::UnassignedShardsRed
            | Fault::DiskLowWatermark
            | Fault::TooManyShards
            | Fault::MergeThrottling => System::Elasticsearch,
        }
    }

    /// How the fault's `node` field is interpreted.
    pub(crate) fn scope(self) -> Scope {
        match self {
            Fault::HintsForDownNode | Fault::UnderReplicatedSlowBroker | Fault::LeaderImbalance => {
                Scope::OneNode
            }
            Fault::ConsumerLagGrowth
            | Fault::UnassignedShardsYellow
            | Fault::UnassignedShardsRed
            | Fault::TooManyShards => Scope::Cluster,
            _ => Scope::PerNode,
        }
    }

    /// The fault with this id in a cluster of `system`: `disk_filling` in a Kafka cluster
    /// means [`Fault::KafkaDiskFilling`].
    pub(crate) fn for_system(self, system: System) -> Fault {
        match (self, system) {
            (Fault::DiskFilling, System::Kafka) => Fault::KafkaDiskFilling,
            (f, _) => f,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when parsing an unknown fault id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault `{0}` (known: {known})", known = known_faults())]
pub struct UnknownFault(pub String);

fn known_faults() -> String {
    Fault::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Fault, UnknownFault> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFault(s.to_owned()))
    }
}

/// A fault injected into one cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Which failure mode.
    pub fault: Fault,
    /// The affected node; `None` means cluster-wide (every node for per-node faults, the last
    /// node for faults that need exactly one node, the cluster itself for cluster faults).
    #[serde(default)]
    pub node: Option<String>,
    /// How strongly the fault develops, in `(0, 1]`. Default 1.
    #[serde(default = "default_severity")]
    pub severity: f64,
    /// Simulated seconds after the start at which the fault begins. Default 0.
    #[serde(default)]
    pub start_s: f64,
}

fn default_severity() -> f64 {
    1.0
}

impl FaultSpec {
    /// A full-severity fault on `node` (or cluster-wide) from the start.
    pub fn new(fault: Fault, node: Option<&str>) -> FaultSpec {
        FaultSpec { fault, node: node.map(str::to_owned), severity: 1.0, start_s: 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_from_str_and_serde() {
        for f in Fault::ALL {
            assert_eq!(f.as_str().parse::<Fault>(), Ok(f));
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
        }
        let err = "nope".parse::<Fault>().unwrap_err();
        assert!(err.to_string().contains("unknown fault `nope`"));
    }

    #[test]
    fn every_system_has_faults() {
        for s in System::ALL {
            assert!(Fault::ALL.iter().any(|f| f.system() == s));
        }
    }
}
