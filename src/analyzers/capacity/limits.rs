//! The real limits each system runs into, and the per-cluster settings that choose them.
//!
//! A forecast is only useful against the number at which something actually happens:
//! Elasticsearch stops allocating shards to a node at the low disk watermark, moves them
//! away at the high one and makes indices read-only at the flood stage (the cluster's own
//! settings when it reports them); Cassandra needs free space for compaction to rewrite
//! SSTables (size-tiered up to half the disk, leveled about a tenth); a Kafka broker whose
//! log directory fills stops; a JVM whose live heap nears its maximum spends its time in GC.
//! Node counts are sized after Cruise Control's capacity thresholds (CPU 0.7, disk 0.8).

use crate::System;
use serde::{Deserialize, Serialize};

/// Capacity-planning settings of one cluster (`capacity:` in a cluster's config).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapacityConfig {
    /// Cassandra compaction strategy of the big tables, which sets the free space compaction
    /// needs: `stcs` (size-tiered, default: ~50 %), `lcs` (leveled: ~10 %), `twcs`
    /// (time-window: ~25 %, one window's worth).
    pub compaction_strategy: CompactionStrategy,
    /// Peak CPU utilization the node count keeps under (Cruise Control `cpu.capacity.threshold`).
    pub target_cpu: f64,
    /// Peak disk utilization the node count keeps under (Cruise Control `disk.capacity.threshold`).
    pub target_disk: f64,
    /// How far ahead to look, in days.
    pub horizon_days: f64,
    /// Partitions (replicas) per Kafka broker before it gets slow to restart and elect.
    pub max_partitions_per_broker: f64,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        CapacityConfig {
            compaction_strategy: CompactionStrategy::Stcs,
            target_cpu: 0.7,
            target_disk: 0.8,
            horizon_days: 90.0,
            max_partitions_per_broker: 4000.0,
        }
    }
}

impl CapacityConfig {
    /// Whether every setting is the default (the config then omits the section).
    pub fn is_default(&self) -> bool {
        *self == CapacityConfig::default()
    }

    /// Problems with the values, as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (field, v) in [("target_cpu", self.target_cpu), ("target_disk", self.target_disk)] {
            if !(v > 0.0 && v <= 1.0) {
                out.push((field, format!("must be a ratio in (0, 1], got {v}")));
            }
        }
        if !(self.horizon_days >= 1.0 && self.horizon_days <= 3650.0) {
            out.push(("horizon_days", format!("must be 1..=3650, got {}", self.horizon_days)));
        }
        if self.max_partitions_per_broker.is_nan() || self.max_partitions_per_broker < 1.0 {
            out.push((
                "max_partitions_per_broker",
                format!("must be at least 1, got {}", self.max_partitions_per_broker),
            ));
        }
        out
    }
}

/// Cassandra compaction strategies, by the free space they need to compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactionStrategy {
    /// SizeTieredCompactionStrategy: a major compaction rewrites up to all the data.
    Stcs,
    /// LeveledCompactionStrategy: compactions touch one level's slice.
    Lcs,
    /// TimeWindowCompactionStrategy: compactions rewrite one time window.
    Twcs,
}

impl CompactionStrategy {
    /// The disk used ratio above which compaction may not have room to run.
    pub fn max_used_ratio(self) -> f64 {
        match self {
            CompactionStrategy::Stcs => 0.5,
            CompactionStrategy::Lcs => 0.9,
            CompactionStrategy::Twcs => 0.75,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CompactionStrategy::Stcs => "SizeTieredCompactionStrategy",
            CompactionStrategy::Lcs => "LeveledCompactionStrategy",
            CompactionStrategy::Twcs => "TimeWindowCompactionStrategy",
        }
    }
}

/// A quantity the capacity analyzer forecasts, read from a feature column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// `data_disk_used_ratio`.
    Disk,
    /// `cpu_busy_ratio`.
    Cpu,
    /// `heap_used_ratio`.
    Heap,
    /// `es_shards` (Elasticsearch shards on the node).
    Shards,
    /// `partition_count` (Kafka partitions, leaders and followers, on the broker).
    Partitions,
    /// `bytes_in_per_second` (Kafka produce throughput).
    BytesIn,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 6] = [
        Metric::Disk,
        Metric::Cpu,
        Metric::Heap,
        Metric::Shards,
        Metric::Partitions,
        Metric::BytesIn,
    ];

    /// The feature column it is read from.
    pub fn column(self) -> &'static str {
        match self {
            Metric::Disk => "data_disk_used_ratio",
            Metric::Cpu => "cpu_busy_ratio",
            Metric::Heap => "heap_used_ratio",
            Metric::Shards => "es_shards",
            Metric::Partitions => "partition_count",
            Metric::BytesIn => "bytes_in_per_second",
        }
    }

    /// Human name.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Disk => "data disk used",
            Metric::Cpu => "CPU busy",
            Metric::Heap => "JVM heap used",
            Metric::Shards => "shards",
            Metric::Partitions => "partitions",
            Metric::BytesIn => "bytes in per second",
        }
    }

    /// Whether values are ratios (shown as percentages).
    pub fn is_ratio(self) -> bool {
        matches!(self, Metric::Disk | Metric::Cpu | Metric::Heap)
    }
}

/// One limit of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// Check id of the finding when the forecast reaches it.
    pub id: &'static str,
    /// The metric.
    pub metric: Metric,
    /// The value at which it bites.
    pub value: f64,
    /// Its name, e.g. "85% low watermark".
    pub name: String,
    /// What happens then.
    pub consequence: String,
    /// What to do before then (node-specific advice; the cluster node count comes separately).
    pub action: String,
    /// Where to read more.
    pub docs_url: &'static str,
}

/// What the latest round says about a node's limits (settings the cluster reports).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Settings {
    /// `cluster.routing.allocation.disk.watermark.low` as a used ratio, when reported.
    pub es_watermark_low: Option<f64>,
    /// `cluster.max_shards_per_node`, when reported.
    pub es_max_shards_per_node: Option<f64>,
}

fn pct(v: f64) -> String {
    format!("{}%", (v * 1000.0).round() / 10.0)
}

/// The limits of `system`, lowest first per metric.
pub fn limits(system: System, cfg: &CapacityConfig, s: Settings) -> Vec<Limit> {
    let mut out = Vec::new();
    let es_disk = "https://www.elastic.co/guide/en/elasticsearch/reference/current/modules-cluster.html#disk-based-shard-allocation";
    match system {
        System::Elasticsearch => {
            let low = s.es_watermark_low.unwrap_or(0.85);
            // Only the low watermark is exported as a ratio; high and flood stage keep their
            // defaults unless they would fall below it.
            let high = 0.90f64.max(low);
            let flood = 0.95f64.max(high);
            out.push(Limit {
                id: "capacity_es_disk_low_watermark",
                metric: Metric::Disk,
                value: low,
                name: format!("{} low watermark", pct(low)),
                consequence: "Elasticsearch stops allocating new shards (including today's indices' replicas) to it".into(),
                action: "delete or shrink old indices (ILM), or add data nodes".into(),
                docs_url: es_disk,
            });
            out.push(Limit {
                id: "capacity_es_disk_high_watermark",
                metric: Metric::Disk,
                value: high,
                name: format!("{} high watermark", pct(high)),
                consequence: "Elasticsearch relocates shards away from it, loading the other nodes"
                    .into(),
                action: "delete or shrink old indices (ILM), or add data nodes".into(),
                docs_url: es_disk,
            });
            out.push(Limit {
                id: "capacity_es_disk_flood_stage",
                metric: Metric::Disk,
                value: flood,
                name: format!("{} flood stage", pct(flood)),
                consequence: "every index with a shard on it becomes read-only (writes fail)"
                    .into(),
                action: "free disk now: delete old indices or add data nodes".into(),
                docs_url: es_disk,
            });
            out.push(Limit {
                id: "capacity_es_shards_per_node",
                metric: Metric::Shards,
                value: s.es_max_shards_per_node.unwrap_or(1000.0),
                name: format!("cluster.max_shards_per_node ({})", s.es_max_shards_per_node.unwrap_or(1000.0)),
                consequence: "new indices cannot be created (shard limit reached)".into(),
                action: "merge small daily indices (rollover by size), shrink or delete old ones, or add data nodes".into(),
                docs_url: "https://www.elastic.co/guide/en/elasticsearch/reference/current/size-your-shards.html",
            });
        }
        System::Cassandra => {
            let strategy = cfg.compaction_strategy;
            let limit = strategy.max_used_ratio();
            out.push(Limit {
                id: "capacity_cassandra_compaction_headroom",
                metric: Metric::Disk,
                value: limit,
                name: format!("{} used, the most {} leaves room to compact", pct(limit), strategy.name()),
                consequence: "compactions may fail for lack of space, SSTables pile up and reads slow down".into(),
                action: "add nodes (data rebalances onto them), add disk, or lower TTLs".into(),
                docs_url: "https://cassandra.apache.org/doc/latest/cassandra/managing/operating/compaction/index.html",
            });
        }
        System::Kafka => {
            out.push(Limit {
                id: "capacity_kafka_disk",
                metric: Metric::Disk,
                value: cfg.target_disk,
                name: format!("{} disk capacity threshold", pct(cfg.target_disk)),
                consequence: "retention no longer fits the disk; past 100% the broker stops".into(),
                action: "shorten retention.ms / retention.bytes of the biggest topics, or add brokers and reassign partitions".into(),
                docs_url: "https://kafka.apache.org/documentation/#topicconfigs_retention.ms",
            });
            out.push(Limit {
                id: "capacity_kafka_partitions_per_broker",
                metric: Metric::Partitions,
                value: cfg.max_partitions_per_broker,
                name: format!("{} partitions per broker", cfg.max_partitions_per_broker),
                consequence: "controlled shutdowns and leader elections get slow, and unclean restarts take minutes".into(),
                action: "add brokers and reassign partitions, or merge small topics".into(),
                docs_url: "https://kafka.apache.org/documentation/#basic_ops_cluster_expansion",
            });
        }
    }
    out.push(Limit {
        id: "capacity_heap",
        metric: Metric::Heap,
        value: 0.85,
        name: "85% heap".into(),
        consequence: "the JVM spends its time in GC: latency spikes and, past the limit, OutOfMemoryError".into(),
        action: "raise the heap (up to 31 GiB, half the RAM) or reduce the live set".into(),
        docs_url: "https://docs.oracle.com/en/java/javase/17/gctuning/garbage-first-g1-garbage-collector1.html",
    });
    out.push(Limit {
        id: "capacity_cpu",
        metric: Metric::Cpu,
        value: cfg.target_cpu,
        name: format!("{} CPU capacity threshold", pct(cfg.target_cpu)),
        consequence: "no headroom for a node failure or a traffic peak: latency rises".into(),
        action: "add nodes or spread the load".into(),
        docs_url: "https://github.com/linkedin/cruise-control/wiki/Configurations",
    });
    out
}

/// The per-node utilization a cluster's node count must keep peaks under, per metric.
pub fn node_count_target(system: System, cfg: &CapacityConfig, metric: Metric) -> Option<f64> {
    match metric {
        Metric::Cpu => Some(cfg.target_cpu),
        Metric::Disk => Some(match system {
            System::Cassandra => cfg.target_disk.min(cfg.compaction_strategy.max_used_ratio()),
            _ => cfg.target_disk,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn es_watermarks_follow_the_clusters_setting() {
        let l = limits(
            System::Elasticsearch,
            &CapacityConfig::default(),
            Settings { es_watermark_low: Some(0.8), es_max_shards_per_node: Some(1200.0) },
        );
        let disk: Vec<f64> =
            l.iter().filter(|l| l.metric == Metric::Disk).map(|l| l.value).collect();
        assert_eq!(disk, vec![0.8, 0.9, 0.95]);
        assert!(l.iter().any(|l| l.metric == Metric::Shards && l.value == 1200.0));
    }

    #[test]
    fn cassandra_headroom_depends_on_the_strategy() {
        let mut cfg = CapacityConfig::default();
        let disk = |cfg: &CapacityConfig| {
            limits(System::Cassandra, cfg, Settings::default())
                .into_iter()
                .find(|l| l.metric == Metric::Disk)
                .map(|l| l.value)
        };
        assert_eq!(disk(&cfg), Some(0.5));
        assert_eq!(node_count_target(System::Cassandra, &cfg, Metric::Disk), Some(0.5));
        cfg.compaction_strategy = CompactionStrategy::Lcs;
        assert_eq!(disk(&cfg), Some(0.9));
        assert_eq!(node_count_target(System::Cassandra, &cfg, Metric::Disk), Some(0.8));
    }

    #[test]
    fn bad_settings_are_named() {
        let cfg = CapacityConfig { target_cpu: 1.5, horizon_days: 0.0, ..Default::default() };
        let p: Vec<&str> = cfg.problems().into_iter().map(|p| p.0).collect();
        assert_eq!(p, vec!["target_cpu", "horizon_days"]);
    }

    #[test]
    fn config_section_parses_and_rejects_unknown_keys() {
        let c: CapacityConfig =
            serde_norway::from_str("compaction_strategy: lcs\ntarget_cpu: 0.6").unwrap();
        assert_eq!(c.compaction_strategy, CompactionStrategy::Lcs);
        assert_eq!(c.target_cpu, 0.6);
        assert_eq!(c.target_disk, 0.8);
        let e = serde_norway::from_str::<CapacityConfig>("compaction: lcs").unwrap_err();
        assert!(e.to_string().contains("unknown field `compaction`"), "{e}");
    }
}
