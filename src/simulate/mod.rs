//! Simulated Cassandra, Kafka and Elasticsearch clusters for `advise --demo`, end-to-end tests
//! and labelled training data.
//!
//! A [`SimSpec`] describes clusters, their nodes' hardware and the faults to inject. A
//! [`Simulator`] integrates a small model of each node on a clock the caller controls: a daily
//! load cycle with noise drives requests per second, which drive CPU, disk I/O and space, heap
//! and GC, thread-pool queues and replication. Metrics are rendered from that state in the
//! formats the real exporters produce (jmx_exporter with the example Cassandra and Kafka
//! configs, node_exporter, danielqsj/kafka_exporter, and the Elasticsearch REST API), each
//! sample stamped with the simulated time. [`serve`] puts every endpoint on a loopback port.
//!
//! The simulation is deterministic: the same spec and seed give byte-identical output,
//! regardless of how time is advanced (the model integrates in fixed 5 s steps).
//!
//! ```ignore
//! let mut sim = Simulator::new(SimSpec::demo(42))?;
//! sim.advance(Duration::from_secs(1800)); // half an hour of history: faults are visible
//! let page = sim.jmx_metrics("cass-prod", "cass-prod-3");
//! let server = serve(sim, 1.0).await?; // every endpoint on 127.0.0.1, clock at wall speed
//! ```
//!
//! Faults ramp up over one to five simulated minutes after their `start_s`; most are clearly
//! past warning thresholds 10–15 minutes later. `tests.rs` holds one test per fault against a
//! healthy twin; `SIM_FAULT_TABLE=<file> cargo test fault_value_table` writes the table of
//! healthy and faulty values, and `SIM_DUMP_DIR=<dir> cargo test dump_demo_pages` writes every
//! page of the demo.

mod cassandra;
mod elasticsearch;
mod exposition;
mod fault;
mod host;
mod jolokia;
mod jvm;
mod kafka;
pub mod record;
mod server;
mod workload;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::System;

pub use fault::{Fault, FaultSpec, UnknownFault};
pub use server::{Endpoint, EndpointKind, SimServer, serve};

use fault::Scope;
/// Where a fault applies (per node, one node, the cluster), for dataset labelling.
pub(crate) use fault::Scope as FaultScope;
pub(crate) use workload::rng_for;

/// Simulated milliseconds per integration step.
const STEP_MS: i64 = 5_000;

/// 2026-01-01T00:00:00Z, the default simulated start.
const DEFAULT_START_MS: i64 = 1_767_225_600_000;

/// History the demo integrates before serving: long enough for its faults to be past their
/// warning thresholds (pending compactions ~250, analytics lag ~1.1 M).
const DEMO_WARMUP_S: f64 = 1_800.0;

/// Longest accepted warm-up (30 simulated days).
const MAX_WARMUP_S: f64 = 30.0 * 86_400.0;

/// Everything needed to build a [`Simulator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSpec {
    /// Seed of every random stream. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated start time, Unix milliseconds. Default 2026-01-01T00:00:00Z.
    #[serde(default = "default_start_ms")]
    pub start_ms: i64,
    /// Simulated seconds of history [`Simulator::new`] integrates before handing over the
    /// clock (so `now_ms()` starts at `start_ms + warmup_s` and faults are already developed).
    /// Default 0; the demo uses 1800.
    #[serde(default)]
    pub warmup_s: f64,
    /// The clusters to simulate.
    #[serde(default)]
    pub clusters: Vec<ClusterSpec>,
}

fn default_seed() -> u64 {
    1
}

fn default_start_ms() -> i64 {
    DEFAULT_START_MS
}

fn default_load() -> f64 {
    1.0
}

fn default_true() -> bool {
    true
}

/// One simulated cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Cluster name (unique within the spec).
    pub name: String,
    /// Which system the cluster runs.
    pub system: System,
    /// The nodes, each with a hardware profile. Leave empty and set `count` instead to get
    /// `count` nodes named `<cluster>-1`, `<cluster>-2`, … with `profile`.
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// Number of nodes to generate when `nodes` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Hardware of generated nodes (a preset name or a full profile). Default `medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<HardwareProfile>,
    /// Faults to inject.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Multiplier on the cluster's request rates. Default 1.
    #[serde(default = "default_load")]
    pub load: f64,
    /// Kafka only: serve a kafka_exporter for the cluster. Default true.
    #[serde(default = "default_true")]
    pub kafka_exporter: bool,
    /// Cassandra and Kafka: also serve a Jolokia agent per node, with the same state as
    /// its JMX exporter. Default false.
    #[serde(default)]
    pub jolokia: bool,
    /// Elasticsearch only: cluster settings an operator set, and how old the settings API
    /// is. Default: none set, `include_defaults` understood.
    #[serde(default, skip_serializing_if = "EsSettingsSpec::is_default")]
    pub es_settings: EsSettingsSpec,
}

/// Cluster settings a simulated Elasticsearch cluster reports besides its defaults, as
/// flat keys (`cluster.routing.allocation.disk.watermark.high: "88%"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsSettingsSpec {
    /// Persistent settings.
    #[serde(default)]
    pub persistent: BTreeMap<String, String>,
    /// Transient settings (they override persistent ones, as in Elasticsearch).
    #[serde(default)]
    pub transient: BTreeMap<String, String>,
    /// Answer `include_defaults` with HTTP 400, as Elasticsearch before 6.4 does.
    #[serde(default)]
    pub reject_include_defaults: bool,
}

impl EsSettingsSpec {
    fn is_default(&self) -> bool {
        *self == EsSettingsSpec::default()
    }
}

impl ClusterSpec {
    /// A cluster of `count` nodes with the `profile` hardware and no faults.
    pub fn new(name: &str, system: System, count: u32, profile: HardwareProfile) -> ClusterSpec {
        ClusterSpec {
            name: name.to_owned(),
            system,
            nodes: (1..=count)
                .map(|i| NodeSpec { name: format!("{name}-{i}"), profile: profile.clone() })
                .collect(),
            count: None,
            profile: None,
            faults: Vec::new(),
            load: 1.0,
            kafka_exporter: true,
            jolokia: false,
            es_settings: EsSettingsSpec::default(),
        }
    }

    /// Adds a fault (builder style).
    pub fn with_fault(mut self, fault: FaultSpec) -> ClusterSpec {
        self.faults.push(fault);
        self
    }
}

/// One node of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Node name (unique within the cluster); used as host name and in labels.
    pub name: String,
    /// Hardware (a preset name or a full profile). Default `medium`.
    #[serde(default)]
    pub profile: HardwareProfile,
}

/// Kind of data disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskKind {
    /// Solid-state (NVMe) disks.
    Ssd,
    /// Spinning disks.
    Hdd,
}

/// The hardware of a node. In a spec, either a preset name (`small`, `medium`, `large`,
/// `medium_hdd`) or a full mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ProfileRepr")]
pub struct HardwareProfile {
    /// Preset or custom name.
    pub name: String,
    /// CPU cores.
    pub cores: u32,
    /// RAM in bytes.
    pub ram_bytes: u64,
    /// Number of data disks.
    pub disks: u32,
    /// Size of each data disk in bytes.
    pub disk_bytes: u64,
    /// Disk technology.
    pub disk_kind: DiskKind,
    /// Swap configured, bytes (0 = none, the recommended setting for all three systems).
    #[serde(default)]
    pub swap_bytes: u64,
}

const GIB: u64 = 1 << 30;

impl HardwareProfile {
    /// Names of the presets.
    pub const PRESETS: [&'static str; 4] = ["small", "medium", "large", "medium_hdd"];

    /// A preset by name: `small` (4 cores, 16 GiB, 1 × 500 GiB SSD), `medium` (8 cores,
    /// 32 GiB, 2 × 1 TiB SSD), `large` (16 cores, 64 GiB, 4 × 2 TiB SSD) or `medium_hdd`
    /// (8 cores, 32 GiB, 4 × 4 TiB HDD).
    pub fn preset(name: &str) -> Option<HardwareProfile> {
        let (cores, ram, disks, disk, kind) = match name {
            "small" => (4, 16 * GIB, 1, 500 * GIB, DiskKind::Ssd),
            "medium" => (8, 32 * GIB, 2, 1024 * GIB, DiskKind::Ssd),
            "large" => (16, 64 * GIB, 4, 2048 * GIB, DiskKind::Ssd),
            "medium_hdd" => (8, 32 * GIB, 4, 4096 * GIB, DiskKind::Hdd),
            _ => return None,
        };
        Some(HardwareProfile {
            name: name.to_owned(),
            cores,
            ram_bytes: ram,
            disks,
            disk_bytes: disk,
            disk_kind: kind,
            swap_bytes: 0,
        })
    }

    /// The `small` preset.
    pub fn small() -> HardwareProfile {
        HardwareProfile::preset("small").expect("small is a preset")
    }

    /// The `medium` preset.
    pub fn medium() -> HardwareProfile {
        HardwareProfile::preset("medium").expect("medium is a preset")
    }

    /// The `large` preset.
    pub fn large() -> HardwareProfile {
        HardwareProfile::preset("large").expect("large is a preset")
    }

    fn check(&self) -> Result<(), String> {
        if self.cores == 0 || self.cores > 512 {
            return Err(format!("cores must be 1..=512, got {}", self.cores));
        }
        if self.ram_bytes < 2 * GIB {
            return Err(format!("ram_bytes must be at least 2 GiB, got {}", self.ram_bytes));
        }
        if self.disks == 0 || self.disks > 24 {
            return Err(format!("disks must be 1..=24, got {}", self.disks));
        }
        if self.disk_bytes < 10 * GIB {
            return Err(format!("disk_bytes must be at least 10 GiB, got {}", self.disk_bytes));
        }
        Ok(())
    }
}

impl Default for HardwareProfile {
    fn default() -> HardwareProfile {
        HardwareProfile::medium()
    }
}

/// How a profile may be written in a spec.
#[derive(Deserialize)]
#[serde(untagged)]
enum ProfileRepr {
    Preset(String),
    Full {
        #[serde(default)]
        name: Option<String>,
        cores: u32,
        ram_bytes: u64,
        disks: u32,
        disk_bytes: u64,
        disk_kind: DiskKind,
        #[serde(default)]
        swap_bytes: u64,
    },
}

impl TryFrom<ProfileRepr> for HardwareProfile {
    type Error = String;

    fn try_from(r: ProfileRepr) -> Result<HardwareProfile, String> {
        match r {
            ProfileRepr::Preset(name) => HardwareProfile::preset(&name).ok_or_else(|| {
                format!(
                    "unknown hardware preset `{name}` (known: {})",
                    HardwareProfile::PRESETS.join(", ")
                )
            }),
            ProfileRepr::Full {
                name,
                cores,
                ram_bytes,
                disks,
                disk_bytes,
                disk_kind,
                swap_bytes,
            } => Ok(HardwareProfile {
                name: name.unwrap_or_else(|| "custom".to_owned()),
                cores,
                ram_bytes,
                disks,
                disk_bytes,
                disk_kind,
                swap_bytes,
            }),
        }
    }
}

impl SimSpec {
    /// The demo: a 4-node Cassandra cluster with a compaction backlog on `cass-prod-3`, a
    /// 3-broker Kafka cluster (plus kafka_exporter) whose `analytics` consumer group falls
    /// behind, and a 3-node Elasticsearch cluster with `es-logs-2` past the low disk watermark.
    /// It starts with 30 simulated minutes of history, so every fault is visible at once.
    pub fn demo(seed: u64) -> SimSpec {
        let cassandra =
            ClusterSpec::new("cass-prod", System::Cassandra, 4, HardwareProfile::medium())
                .with_fault(FaultSpec::new(Fault::CompactionBacklog, Some("cass-prod-3")));
        let kafka = ClusterSpec::new("kafka-prod", System::Kafka, 3, HardwareProfile::medium())
            .with_fault(FaultSpec::new(Fault::ConsumerLagGrowth, None));
        let es = ClusterSpec::new("es-logs", System::Elasticsearch, 3, HardwareProfile::medium())
            .with_fault(FaultSpec::new(Fault::DiskLowWatermark, Some("es-logs-2")));
        SimSpec {
            seed,
            start_ms: DEFAULT_START_MS,
            warmup_s: DEMO_WARMUP_S,
            clusters: vec![cassandra, kafka, es],
        }
    }
}

impl Default for SimSpec {
    /// No clusters (add some), seed 1, starting 2026-01-01T00:00:00Z, no warm-up.
    fn default() -> SimSpec {
        SimSpec { seed: 1, start_ms: DEFAULT_START_MS, warmup_s: 0.0, clusters: Vec::new() }
    }
}

/// Why a spec was rejected, or serving failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The spec has no clusters.
    #[error("the spec has no clusters")]
    NoClusters,
    /// A cluster has an empty name.
    #[error("cluster #{0} has an empty name")]
    EmptyClusterName(usize),
    /// Two clusters share a name.
    #[error("cluster name `{0}` is used twice")]
    DuplicateCluster(String),
    /// A cluster has no nodes.
    #[error("cluster `{0}` has zero nodes (give `nodes` or a `count` above 0)")]
    NoNodes(String),
    /// Both `nodes` and `count` were given.
    #[error("cluster `{0}` gives both `nodes` and `count`; use one")]
    NodesAndCount(String),
    /// A node has an empty name, or two nodes share one.
    #[error("cluster `{cluster}`: node name `{node}` is empty or used twice")]
    BadNodeName {
        /// The cluster.
        cluster: String,
        /// The offending name.
        node: String,
    },
    /// A hardware profile is implausible.
    #[error("cluster `{cluster}`, node `{node}`: bad hardware profile: {reason}")]
    BadProfile {
        /// The cluster.
        cluster: String,
        /// The node.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// A cluster's load multiplier is not a positive finite number.
    #[error("cluster `{cluster}`: load must be a positive finite number, got {load}")]
    BadLoad {
        /// The cluster.
        cluster: String,
        /// The value given.
        load: f64,
    },
    /// `es_settings` on a cluster that is not Elasticsearch.
    #[error("cluster `{0}`: `es_settings` is for Elasticsearch clusters only")]
    EsSettingsOnOtherSystem(String),
    /// A fault belongs to another system.
    #[error(
        "cluster `{cluster}` runs {cluster_system} but fault `{fault}` is a {fault_system} fault"
    )]
    WrongSystem {
        /// The cluster.
        cluster: String,
        /// The fault.
        fault: Fault,
        /// The fault's system.
        fault_system: &'static str,
        /// The cluster's system.
        cluster_system: &'static str,
    },
    /// A fault names a node the cluster does not have.
    #[error("cluster `{cluster}`: fault `{fault}` names unknown node `{node}` (nodes: {known})")]
    UnknownNode {
        /// The cluster.
        cluster: String,
        /// The fault.
        fault: Fault,
        /// The unknown node.
        node: String,
        /// The cluster's nodes.
        known: String,
    },
    /// A cluster-wide fault names a node.
    #[error("cluster `{cluster}`: fault `{fault}` is cluster-wide; remove `node: {node}`")]
    NodeNotAllowed {
        /// The cluster.
        cluster: String,
        /// The fault.
        fault: Fault,
        /// The node given.
        node: String,
    },
    /// A fault's severity or start is out of range.
    #[error("cluster `{cluster}`: fault `{fault}`: {reason}")]
    BadFault {
        /// The cluster.
        cluster: String,
        /// The fault.
        fault: Fault,
        /// What is wrong.
        reason: String,
    },
    /// The warm-up is negative, not finite, or longer than 30 days.
    #[error("warmup_s must be between 0 and 30 days in seconds, got {0}")]
    BadWarmup(f64),
    /// `serve` was given a negative or non-finite speed.
    #[error("speed must be a finite number >= 0, got {0}")]
    BadSpeed(f64),
    /// Binding a loopback port failed.
    #[error("cannot bind a loopback port")]
    Bind(#[source] std::io::Error),
}

/// A fault resolved against its cluster: node index instead of name, start in ms.
#[derive(Debug, Clone)]
pub(crate) struct ActiveFault {
    pub(crate) fault: Fault,
    /// `None`: every node (per-node faults) or the cluster itself (cluster faults).
    pub(crate) node: Option<usize>,
    pub(crate) severity: f64,
    pub(crate) start_ms: i64,
}

/// The faults of one cluster with helpers to ask how developed each one is.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(pub(crate) Vec<ActiveFault>);

impl Faults {
    /// How developed `fault` is on node `node` at `now_ms` (0 = absent), ramping up to its
    /// severity over `ramp_s` seconds after it starts.
    pub(crate) fn level(&self, fault: Fault, node: usize, now_ms: i64, ramp_s: f64) -> f64 {
        self.0
            .iter()
            .filter(|f| f.fault == fault && f.node.is_none_or(|n| n == node))
            .map(|f| workload::ramp(now_ms, f.start_ms, ramp_s, f.severity))
            .fold(0.0, f64::max)
    }

    /// Like [`Faults::level`] for a cluster-wide fault.
    pub(crate) fn cluster_level(&self, fault: Fault, now_ms: i64, ramp_s: f64) -> f64 {
        self.0
            .iter()
            .filter(|f| f.fault == fault)
            .map(|f| workload::ramp(now_ms, f.start_ms, ramp_s, f.severity))
            .fold(0.0, f64::max)
    }

    /// Seconds since `fault` started on `node` (0 if absent or not yet started).
    pub(crate) fn age_s(&self, fault: Fault, node: usize, now_ms: i64) -> f64 {
        self.0
            .iter()
            .filter(|f| f.fault == fault && f.node.is_none_or(|n| n == node))
            .map(|f| workload::since_s(now_ms, f.start_ms))
            .fold(0.0, f64::max)
    }

    /// The configured severity of `fault` on `node` once started (0 otherwise), without a
    /// ramp: for faults that are either there or not (a node down, a shard unassigned).
    pub(crate) fn severity(&self, fault: Fault, node: usize, now_ms: i64) -> f64 {
        self.0
            .iter()
            .filter(|f| {
                f.fault == fault && f.node.is_none_or(|n| n == node) && f.start_ms <= now_ms
            })
            .map(|f| f.severity)
            .fold(0.0, f64::max)
    }

    /// Like [`Faults::severity`] for a cluster-wide fault.
    pub(crate) fn cluster_severity(&self, fault: Fault, now_ms: i64) -> f64 {
        self.0
            .iter()
            .filter(|f| f.fault == fault && f.start_ms <= now_ms)
            .map(|f| f.severity)
            .fold(0.0, f64::max)
    }
}

/// One cluster's model.
#[derive(Debug)]
enum Model {
    Cassandra(cassandra::CassandraCluster),
    Kafka(kafka::KafkaCluster),
    Elasticsearch(elasticsearch::EsCluster),
}

impl Model {
    fn step(&mut self, t_ms: i64, dt_s: f64) {
        match self {
            Model::Cassandra(c) => c.step(t_ms, dt_s),
            Model::Kafka(c) => c.step(t_ms, dt_s),
            Model::Elasticsearch(c) => c.step(t_ms, dt_s),
        }
    }
}

/// A set of simulated clusters on a caller-controlled clock.
#[derive(Debug)]
pub struct Simulator {
    clusters: Vec<ClusterSpec>,
    models: Vec<Model>,
    now_ms: i64,
    model_ms: i64,
}

impl Simulator {
    /// Validates `spec`, builds the initial state of every cluster and integrates the spec's
    /// warm-up.
    pub fn new(spec: SimSpec) -> Result<Simulator, SimError> {
        if !(spec.warmup_s.is_finite() && (0.0..=MAX_WARMUP_S).contains(&spec.warmup_s)) {
            return Err(SimError::BadWarmup(spec.warmup_s));
        }
        let clusters = normalize(spec.clusters)?;
        let mut models = Vec::with_capacity(clusters.len());
        for c in &clusters {
            let faults = resolve_faults(c, spec.start_ms)?;
            let model = match c.system {
                System::Cassandra => Model::Cassandra(cassandra::CassandraCluster::new(
                    c,
                    faults,
                    spec.seed,
                    spec.start_ms,
                )),
                System::Kafka => {
                    Model::Kafka(kafka::KafkaCluster::new(c, faults, spec.seed, spec.start_ms))
                }
                System::Elasticsearch => Model::Elasticsearch(elasticsearch::EsCluster::new(
                    c,
                    faults,
                    spec.seed,
                    spec.start_ms,
                )),
            };
            models.push(model);
        }
        let mut sim =
            Simulator { clusters, models, now_ms: spec.start_ms, model_ms: spec.start_ms };
        // One step "before" the start fills the rate-derived gauges without moving the clock.
        for m in &mut sim.models {
            m.step(spec.start_ms, STEP_MS as f64 / 1000.0);
        }
        sim.advance_to(spec.start_ms + (spec.warmup_s * 1000.0).round() as i64);
        Ok(sim)
    }

    /// Current simulated time, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Time of the model state that the endpoints show (the last whole integration step).
    pub fn sample_ms(&self) -> i64 {
        self.model_ms
    }

    /// Moves the clock forward by `dt`, integrating the model in fixed 5 s steps.
    pub fn advance(&mut self, dt: Duration) {
        let ms = i64::try_from(dt.as_millis()).unwrap_or(i64::MAX / 4);
        self.advance_to(self.now_ms.saturating_add(ms));
    }

    /// Moves the clock forward to `t_ms` (no-op if `t_ms` is not in the future).
    pub fn advance_to(&mut self, t_ms: i64) {
        if t_ms <= self.now_ms {
            return;
        }
        while self.model_ms + STEP_MS <= t_ms {
            self.model_ms += STEP_MS;
            for m in &mut self.models {
                m.step(self.model_ms, STEP_MS as f64 / 1000.0);
            }
        }
        self.now_ms = t_ms;
    }

    /// Moves the clock forward to `t_ms` integrating in steps of `step_ms` instead of 5 s:
    /// for fast-forwarding days of history, where disk, load cycle and heap matter and
    /// second-scale dynamics (queues, GC pauses) do not need to be exact.
    pub fn fast_forward_to(&mut self, t_ms: i64, step_ms: i64) {
        let step_ms = step_ms.max(STEP_MS);
        while self.model_ms + step_ms <= t_ms {
            self.model_ms += step_ms;
            for m in &mut self.models {
                m.step(self.model_ms, step_ms as f64 / 1000.0);
            }
        }
        self.advance_to(t_ms);
    }

    /// The clusters, with `count`-style node lists expanded and fault names normalised.
    pub fn clusters(&self) -> &[ClusterSpec] {
        &self.clusters
    }

    fn model(&self, cluster: &str) -> Option<&Model> {
        let i = self.clusters.iter().position(|c| c.name == cluster)?;
        self.models.get(i)
    }

    /// The jmx_exporter page of a Cassandra or Kafka node; `None` for unknown nodes, other
    /// systems, or a node that is down.
    pub fn jmx_metrics(&self, cluster: &str, node: &str) -> Option<String> {
        match self.model(cluster)? {
            Model::Cassandra(c) => c.render_jmx(node, self.model_ms),
            Model::Kafka(c) => c.render_jmx(node, self.model_ms),
            Model::Elasticsearch(_) => None,
        }
    }

    /// The node_exporter page of any node; `None` for unknown or down nodes.
    pub fn node_exporter_metrics(&self, cluster: &str, node: &str) -> Option<String> {
        match self.model(cluster)? {
            Model::Cassandra(c) => c.render_node(node, self.model_ms),
            Model::Kafka(c) => c.render_node(node, self.model_ms),
            Model::Elasticsearch(c) => c.render_node(node, self.model_ms),
        }
    }

    /// The kafka_exporter page of a Kafka cluster (`None` for other systems or when the
    /// cluster has `kafka_exporter: false`).
    pub fn kafka_exporter_metrics(&self, cluster: &str) -> Option<String> {
        match self.model(cluster)? {
            Model::Kafka(c) if c.has_exporter() => Some(c.render_kafka_exporter(self.model_ms)),
            _ => None,
        }
    }

    /// An Elasticsearch REST response (status, JSON body) for `path_and_query` such as
    /// `/_cluster/health` or `/_cat/shards?format=json`; `None` for other systems.
    pub fn es_api(&self, cluster: &str, path_and_query: &str) -> Option<(u16, String)> {
        match self.model(cluster)? {
            Model::Elasticsearch(c) => Some(c.api(path_and_query, self.model_ms)),
            _ => None,
        }
    }

    /// Whether a node is up (down nodes refuse connections when served).
    pub fn node_up(&self, cluster: &str, node: &str) -> Option<bool> {
        match self.model(cluster)? {
            Model::Cassandra(c) => c.node_up(node),
            Model::Kafka(c) => c.node_index(node).map(|_| true),
            Model::Elasticsearch(c) => c.node_index(node).map(|_| true),
        }
    }
}

/// Expands `count`/`profile`, normalises fault names and validates names and profiles.
fn normalize(clusters: Vec<ClusterSpec>) -> Result<Vec<ClusterSpec>, SimError> {
    if clusters.is_empty() {
        return Err(SimError::NoClusters);
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::with_capacity(clusters.len());
    for (i, mut c) in clusters.into_iter().enumerate() {
        if c.name.trim().is_empty() {
            return Err(SimError::EmptyClusterName(i));
        }
        if !names.insert(c.name.clone()) {
            return Err(SimError::DuplicateCluster(c.name));
        }
        if !c.load.is_finite() || c.load <= 0.0 {
            return Err(SimError::BadLoad { cluster: c.name, load: c.load });
        }
        if c.system != System::Elasticsearch && !c.es_settings.is_default() {
            return Err(SimError::EsSettingsOnOtherSystem(c.name));
        }
        match (c.nodes.is_empty(), c.count) {
            (false, Some(_)) => return Err(SimError::NodesAndCount(c.name)),
            (true, Some(n)) if n > 0 => {
                let profile = c.profile.take().unwrap_or_default();
                c.nodes = (1..=n)
                    .map(|i| NodeSpec { name: format!("{}-{i}", c.name), profile: profile.clone() })
                    .collect();
                c.count = None;
            }
            (true, _) => return Err(SimError::NoNodes(c.name)),
            (false, None) => {}
        }
        let mut node_names = BTreeSet::new();
        for n in &c.nodes {
            if n.name.trim().is_empty() || !node_names.insert(n.name.clone()) {
                return Err(SimError::BadNodeName {
                    cluster: c.name.clone(),
                    node: n.name.clone(),
                });
            }
            n.profile.check().map_err(|reason| SimError::BadProfile {
                cluster: c.name.clone(),
                node: n.name.clone(),
                reason,
            })?;
        }
        for f in &mut c.faults {
            f.fault = f.fault.for_system(c.system);
        }
        out.push(c);
    }
    Ok(out)
}

/// Checks a cluster's faults and resolves node names to indices.
fn resolve_faults(c: &ClusterSpec, start_ms: i64) -> Result<Faults, SimError> {
    let mut out = Vec::with_capacity(c.faults.len());
    let bad = |fault: Fault, reason: String| SimError::BadFault {
        cluster: c.name.clone(),
        fault,
        reason,
    };
    for f in &c.faults {
        if f.fault.system() != c.system {
            return Err(SimError::WrongSystem {
                cluster: c.name.clone(),
                fault: f.fault,
                fault_system: f.fault.system().as_str(),
                cluster_system: c.system.as_str(),
            });
        }
        if !(f.severity.is_finite() && f.severity > 0.0 && f.severity <= 1.0) {
            return Err(bad(f.fault, format!("severity must be in (0, 1], got {}", f.severity)));
        }
        if !(f.start_s.is_finite() && f.start_s >= 0.0) {
            return Err(bad(f.fault, format!("start_s must be >= 0, got {}", f.start_s)));
        }
        let node = match (&f.node, f.fault.scope()) {
            (Some(n), Scope::Cluster) => {
                return Err(SimError::NodeNotAllowed {
                    cluster: c.name.clone(),
                    fault: f.fault,
                    node: n.clone(),
                });
            }
            (Some(n), _) => Some(c.nodes.iter().position(|x| &x.name == n).ok_or_else(|| {
                SimError::UnknownNode {
                    cluster: c.name.clone(),
                    fault: f.fault,
                    node: n.clone(),
                    known: c.nodes.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", "),
                }
            })?),
            (None, Scope::OneNode) => Some(c.nodes.len() - 1),
            (None, _) => None,
        };
        let needs_two = matches!(
            f.fault,
            Fault::HintsForDownNode
                | Fault::UnderReplicatedSlowBroker
                | Fault::LeaderImbalance
                | Fault::IsrFlapping
        );
        if needs_two && c.nodes.len() < 2 {
            return Err(bad(f.fault, "needs a cluster of at least 2 nodes".to_owned()));
        }
        out.push(ActiveFault {
            fault: f.fault,
            node,
            severity: f.severity,
            start_ms: start_ms + (f.start_s * 1000.0).round() as i64,
        });
    }
    let down: BTreeSet<usize> =
        out.iter().filter(|f| f.fault == Fault::HintsForDownNode).filter_map(|f| f.node).collect();
    if down.len() >= c.nodes.len() {
        return Err(bad(Fault::HintsForDownNode, "would take every node down".to_owned()));
    }
    Ok(Faults(out))
}
