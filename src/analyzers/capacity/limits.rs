//! The real limits each system runs into, and the per-cluster settings that choose them.
//!
//! A forecast is only useful against the number at which something actually happens:
//! Elasticsearch stops allocating shards to a node at the low disk watermark, moves them
//! away at the high one and makes indices read-only at the flood stage (the cluster's own
//! settings when it reports them: a percentage, a ratio or a free-space floor, with ES 8's
//! `max_headroom` cap; each finding says which layer the value came from); Cassandra needs free space for compaction to rewrite
//! SSTables (size-tiered up to half the disk, leveled about a tenth); a Kafka broker whose
//! log directory fills stops (and retention set longer than its disk holds gets it there,
//! see [`super::retention`]); a JVM whose live heap nears its maximum spends its time in GC.
//! Node counts are sized after Cruise Control's capacity thresholds (CPU 0.7, disk 0.8,
//! network 0.8).

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
    /// Peak NIC utilization (the busier direction over the link speed) the node count keeps
    /// under (Cruise Control `network.inbound.capacity.threshold` / `outbound`).
    pub target_network: f64,
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
            target_network: 0.8,
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
        for (field, v) in [
            ("target_cpu", self.target_cpu),
            ("target_disk", self.target_disk),
            ("target_network", self.target_network),
        ] {
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
    /// `network_used_ratio` (the busier direction of the physical NICs over their speed).
    Network,
    /// `log_size_bytes` (Kafka partition logs on the broker).
    LogSize,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 8] = [
        Metric::Disk,
        Metric::Cpu,
        Metric::Network,
        Metric::Heap,
        Metric::Shards,
        Metric::Partitions,
        Metric::BytesIn,
        Metric::LogSize,
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
            Metric::Network => "network_used_ratio",
            Metric::LogSize => "log_size_bytes",
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
            Metric::Network => "network used (of NIC speed)",
            Metric::LogSize => "partition logs",
        }
    }

    /// Whether values are bytes (shown in GiB).
    pub fn is_bytes(self) -> bool {
        self == Metric::LogSize
    }

    /// Whether values are ratios (shown as percentages).
    pub fn is_ratio(self) -> bool {
        matches!(self, Metric::Disk | Metric::Cpu | Metric::Heap | Metric::Network)
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
    /// Where the threshold came from, when it is the cluster's own setting or a default
    /// standing in for one.
    pub basis: Option<String>,
}

/// One Elasticsearch disk watermark as the cluster reports it (all `None`: not reported).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Watermark {
    /// As a used ratio (`"85%"` or `"0.85"`).
    pub ratio: Option<f64>,
    /// As free bytes each node must keep (`"500gb"`).
    pub free_bytes: Option<f64>,
    /// ES 8 `max_headroom`: a ratio watermark asks for at most this much free space.
    pub max_headroom_bytes: Option<f64>,
    /// Where the value came from: 2 transient, 1 persistent, 0 defaults.
    pub layer: Option<f64>,
}

/// The watermark levels, in order, with their setting name and Elasticsearch's default.
pub const WATERMARK_LEVELS: [(&str, f64); 3] =
    [("low", 0.85), ("high", 0.90), ("flood_stage", 0.95)];

/// What the latest round says about a node's limits (settings the cluster reports, and the
/// node's disk).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Settings {
    /// `cluster.routing.allocation.disk.watermark.{low,high,flood_stage}`, in that order.
    pub es_watermarks: [Watermark; 3],
    /// `cluster.max_shards_per_node`, when reported.
    pub es_max_shards_per_node: Option<f64>,
    /// Size of the node's data disk, bytes (turns a free-bytes watermark into a used ratio).
    pub disk_size_bytes: Option<f64>,
    /// Kafka: the broker's retention and write rate, when server.properties was read.
    pub kafka_retention: Option<super::retention::Retention>,
}

fn gib(bytes: f64) -> String {
    format!("{:.0} GiB", bytes / 1_073_741_824.0)
}

/// A watermark as the used ratio at which it bites on this node, its name, and where the
/// threshold came from. `None` for a free-bytes watermark on a node of unknown disk size.
fn watermark(level: usize, s: &Settings) -> Option<(f64, String, String)> {
    let (key, default) = WATERMARK_LEVELS[level];
    let w = s.es_watermarks[level];
    let label = key.replace('_', " ");
    let setting = format!("cluster.routing.allocation.disk.watermark.{key}");
    let from = match w.layer.map(|l| l.round() as i64) {
        Some(2) => "the cluster's transient settings (they override persistent ones)",
        Some(1) => "the cluster's persistent settings",
        Some(_) => "the cluster's defaults (elasticsearch.yml or built in)",
        None if w.ratio.is_some() || w.free_bytes.is_some() => "the cluster's settings",
        None => "Elasticsearch's defaults: the cluster did not report its settings",
    };
    if let Some(free) = w.free_bytes {
        let size = s.disk_size_bytes.filter(|d| *d > 0.0)?;
        let ratio = (1.0 - free / size).clamp(0.0, 1.0);
        return Some((
            ratio,
            format!("{label} watermark ({} free of {}, {} used)", gib(free), gib(size), pct(ratio)),
            format!("{setting} = {} free space, from {from}", gib(free)),
        ));
    }
    let set = w.ratio.unwrap_or(default);
    let mut basis = format!("{setting} = {}, from {from}", pct(set));
    let capped = match (w.max_headroom_bytes, s.disk_size_bytes) {
        (Some(h), Some(size)) if h >= 0.0 && size > 0.0 && 1.0 - h / size > set => {
            basis.push_str(&format!(
                ", capped by {setting}.max_headroom = {} free on this {} disk",
                gib(h),
                gib(size)
            ));
            Some(1.0 - h / size)
        }
        _ => None,
    };
    let ratio = capped.unwrap_or(set);
    let name = match capped {
        Some(_) => format!(
            "{label} watermark ({} used, max_headroom {})",
            pct(ratio),
            gib(w.max_headroom_bytes.unwrap_or(0.0))
        ),
        None => format!("{} {label} watermark", pct(ratio)),
    };
    Some((ratio, name, basis))
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
            // Elasticsearch refuses low > high > flood; keep the order if a node's disk
            // size turns free-bytes watermarks into ratios that would break it.
            let mut floor = 0.0f64;
            let ids = [
                "capacity_es_disk_low_watermark",
                "capacity_es_disk_high_watermark",
                "capacity_es_disk_flood_stage",
            ];
            let consequences = [
                "Elasticsearch stops allocating new shards (including today's indices' replicas) to it",
                "Elasticsearch relocates shards away from it, loading the other nodes",
                "every index with a shard on it becomes read-only (writes fail)",
            ];
            let actions = [
                "delete or shrink old indices (ILM), or add data nodes",
                "delete or shrink old indices (ILM), or add data nodes",
                "free disk now: delete old indices or add data nodes",
            ];
            for level in 0..3 {
                let Some((ratio, name, basis)) = watermark(level, &s) else { continue };
                floor = floor.max(ratio);
                out.push(Limit {
                    id: ids[level],
                    metric: Metric::Disk,
                    value: floor,
                    name,
                    consequence: consequences[level].into(),
                    action: actions[level].into(),
                    docs_url: es_disk,
                    basis: Some(basis),
                });
            }
            out.push(Limit {
                id: "capacity_es_shards_per_node",
                metric: Metric::Shards,
                value: s.es_max_shards_per_node.unwrap_or(1000.0),
                name: format!("cluster.max_shards_per_node ({})", s.es_max_shards_per_node.unwrap_or(1000.0)),
                consequence: "new indices cannot be created (shard limit reached)".into(),
                action: "merge small daily indices (rollover by size), shrink or delete old ones, or add data nodes".into(),
                docs_url: "https://www.elastic.co/guide/en/elasticsearch/reference/current/size-your-shards.html",
                basis: None,
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
                basis: None,
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
                basis: None,
            });
            if let (Some(r), Some(disk)) = (&s.kafka_retention, s.disk_size_bytes) {
                out.extend(super::retention::limit(r, disk, cfg.target_disk));
            }
            out.push(Limit {
                id: "capacity_kafka_partitions_per_broker",
                metric: Metric::Partitions,
                value: cfg.max_partitions_per_broker,
                name: format!("{} partitions per broker", cfg.max_partitions_per_broker),
                consequence: "controlled shutdowns and leader elections get slow, and unclean restarts take minutes".into(),
                action: "add brokers and reassign partitions, or merge small topics".into(),
                docs_url: "https://kafka.apache.org/documentation/#basic_ops_cluster_expansion",
                basis: None,
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
        basis: None,
    });
    out.push(Limit {
        id: "capacity_network",
        metric: Metric::Network,
        value: cfg.target_network,
        name: format!("{} network capacity threshold", pct(cfg.target_network)),
        consequence: "the NIC saturates at peak: requests and replication queue behind each other, latency rises, and re-replicating a failed node's data has no bandwidth left".into(),
        action: "spread the traffic (rebalance leaders or shards), enable compression, or add nodes; a faster NIC if the host allows".into(),
        docs_url: "https://github.com/linkedin/cruise-control/wiki/Configurations",
        basis: None,
    });
    out.push(Limit {
        id: "capacity_cpu",
        metric: Metric::Cpu,
        value: cfg.target_cpu,
        name: format!("{} CPU capacity threshold", pct(cfg.target_cpu)),
        consequence: "no headroom for a node failure or a traffic peak: latency rises".into(),
        action: "add nodes or spread the load".into(),
        docs_url: "https://github.com/linkedin/cruise-control/wiki/Configurations",
        basis: None,
    });
    out
}

/// The per-node utilization a cluster's node count must keep peaks under, per metric.
pub fn node_count_target(system: System, cfg: &CapacityConfig, metric: Metric) -> Option<f64> {
    match metric {
        Metric::Cpu => Some(cfg.target_cpu),
        Metric::Network => Some(cfg.target_network),
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

    const GIB: f64 = 1_073_741_824.0;

    fn es(s: Settings) -> Vec<Limit> {
        limits(System::Elasticsearch, &CapacityConfig::default(), s)
            .into_iter()
            .filter(|l| l.metric == Metric::Disk)
            .collect()
    }

    fn ratio(r: f64, layer: f64) -> Watermark {
        Watermark { ratio: Some(r), layer: Some(layer), ..Default::default() }
    }

    #[test]
    fn es_watermarks_follow_the_clusters_settings_and_say_where_from() {
        let s = Settings {
            es_watermarks: [ratio(0.8, 1.0), ratio(0.88, 2.0), ratio(0.93, 0.0)],
            es_max_shards_per_node: Some(1200.0),
            ..Default::default()
        };
        let all = limits(System::Elasticsearch, &CapacityConfig::default(), s);
        assert!(all.iter().any(|l| l.metric == Metric::Shards && l.value == 1200.0));
        let disk = es(s);
        let values: Vec<f64> = disk.iter().map(|l| l.value).collect();
        assert_eq!(values, vec![0.8, 0.88, 0.93]);
        let basis: Vec<&str> = disk.iter().map(|l| l.basis.as_deref().unwrap()).collect();
        assert!(
            basis[0].contains("watermark.low = 80%, from the cluster's persistent"),
            "{}",
            basis[0]
        );
        assert!(basis[1].contains("transient settings (they override persistent"), "{}", basis[1]);
        assert!(basis[2].contains("the cluster's defaults"), "{}", basis[2]);
        assert_eq!(disk[1].name, "88% high watermark");
    }

    #[test]
    fn unreported_watermarks_are_elasticsearchs_defaults_and_say_so() {
        let disk = es(Settings::default());
        let values: Vec<f64> = disk.iter().map(|l| l.value).collect();
        assert_eq!(values, vec![0.85, 0.9, 0.95]);
        assert!(disk[0].basis.as_deref().unwrap().contains("did not report"));
    }

    #[test]
    fn free_bytes_watermarks_become_this_nodes_used_ratio() {
        let free = |gb: f64| Watermark {
            free_bytes: Some(gb * GIB),
            layer: Some(1.0),
            ..Default::default()
        };
        let mut s = Settings {
            es_watermarks: [free(200.0), free(100.0), free(50.0)],
            disk_size_bytes: Some(1000.0 * GIB),
            ..Default::default()
        };
        let disk = es(s);
        let values: Vec<f64> = disk.iter().map(|l| (l.value * 1000.0).round() / 1000.0).collect();
        assert_eq!(values, vec![0.8, 0.9, 0.95]);
        assert!(disk[0].name.contains("200 GiB free of 1000 GiB"), "{}", disk[0].name);
        assert!(disk[2].basis.as_deref().unwrap().contains("flood_stage = 50 GiB free space"));
        // A bigger disk reaches the same free-space floor later.
        s.disk_size_bytes = Some(4000.0 * GIB);
        assert_eq!(es(s)[0].value, 0.95);
        // Without the disk size a free-bytes floor cannot be placed: no guess.
        s.disk_size_bytes = None;
        assert!(es(s).is_empty());
    }

    #[test]
    fn max_headroom_caps_the_free_space_a_percentage_asks_for() {
        let capped = |r: f64, h: f64| Watermark {
            ratio: Some(r),
            max_headroom_bytes: Some(h * GIB),
            layer: Some(0.0),
            ..Default::default()
        };
        let mut s = Settings {
            es_watermarks: [capped(0.85, 200.0), capped(0.9, 150.0), capped(0.95, 100.0)],
            disk_size_bytes: Some(10_000.0 * GIB),
            ..Default::default()
        };
        // 15 % of 10 TB is 1.5 TB, far above the 200 GB cap: the cap is what bites.
        let values: Vec<f64> = es(s).iter().map(|l| (l.value * 1000.0).round() / 1000.0).collect();
        assert_eq!(values, vec![0.98, 0.985, 0.99]);
        assert!(es(s)[0].basis.as_deref().unwrap().contains("max_headroom = 200 GiB"));
        // On a small disk the percentage asks for less than the cap: the percentage stands.
        s.disk_size_bytes = Some(500.0 * GIB);
        assert_eq!(es(s)[0].value, 0.85);
        // -1 (no cap) is not reported at all; nothing changes.
        s.es_watermarks[0].max_headroom_bytes = None;
        s.disk_size_bytes = Some(10_000.0 * GIB);
        assert_eq!(es(s)[0].value, 0.85);
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
