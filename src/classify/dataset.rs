//! Labelled datasets from the simulator: one row per node and window, the feature frame
//! advise computes, and the label of the fault active on that node.
//!
//! The simulator runs in-process and fast-forwarded: every minute of simulated time each
//! target's page is rendered and goes through exactly the parsing and feature extraction
//! of a live `advise` run (`sources::assemble_rounds` → `features::extract_last`), over a
//! five-minute window like the e2e tests' six scrapes. No port is opened.
//!
//! A *scenario* is one cluster with zero, one or two faults. A fault starts between 10 and
//! 40 simulated minutes in, at a random severity in [0.6, 1]; windows before it are
//! `healthy`, windows more than [`SETTLE_MS`] after it carry its label, and windows in
//! between are dropped (the fault is still developing, so neither label is true). Which
//! rows a fault labels follows where its symptoms show: a per-node fault labels its node;
//! a cluster fault, or a fault of one node that the whole cluster reports (a node down, a
//! slow broker, leader imbalance), labels every node. Two faults on a row give the label
//! `a+b` (ids sorted).
//!
//! Splits: `train` uses the training seeds and hardware profiles; `heldout_seeds` other
//! seeds on the same profiles; `heldout_hardware` node sizes training never saw.

use std::collections::{BTreeMap, VecDeque};

use rand::Rng;

use crate::System;
use crate::config::{ClusterConfig, Config, ScrapeConfig, TargetConfig};
use crate::features::{self, FeatureFrame, catalog::Catalog};
use crate::simulate::{
    ClusterSpec, DiskKind, Fault, FaultSpec, HardwareProfile, SimSpec, Simulator, rng_for,
};
use crate::sources::{self, Raw, RawBody, Rounds, TargetKind, elasticsearch};

use super::ClassifyError;

/// Simulated time between two scrapes.
pub const SCRAPE_MS: i64 = 60_000;
/// Scrapes in one window (five minutes of rates and slopes, as in the e2e tests).
pub const WINDOW_SCRAPES: usize = 6;
/// Simulated time between two rows of the same node.
pub const ROW_EVERY_MS: i64 = 5 * 60_000;
/// How long after its start a fault's windows are labelled with it.
pub const SETTLE_MS: i64 = 15 * 60_000;
/// The label of a window with no fault.
pub const HEALTHY: &str = "healthy";
/// Columns of a dataset before the features, in file order.
pub const META_COLUMNS: [&str; 7] =
    ["split", "seed", "profile", "cluster", "node", "timestamp_ms", "label"];

/// Training seeds per profile by default (see [`DatasetSpec::train_seeds`]).
pub const TRAIN_SEEDS: u64 = 8;

/// The three splits, in file order.
pub const SPLITS: [&str; 3] = ["train", "heldout_seeds", "heldout_hardware"];

/// Pairs of faults simulated together: combinations seen in practice (a heap-starved node
/// that also falls behind on compaction, a full disk that blocks replica allocation…).
pub fn compound_pairs(system: System) -> &'static [(Fault, Fault)] {
    match system {
        System::Cassandra => &[
            (Fault::CompactionBacklog, Fault::GcPressure),
            (Fault::CompactionBacklog, Fault::DiskFilling),
            (Fault::GcPressure, Fault::TombstoneHeavyReads),
        ],
        System::Kafka => &[
            (Fault::ConsumerLagGrowth, Fault::RequestHandlerSaturation),
            (Fault::IsrFlapping, Fault::KafkaDiskFilling),
            (Fault::ConsumerLagGrowth, Fault::LeaderImbalance),
        ],
        System::Elasticsearch => &[
            (Fault::HeapPressure, Fault::SearchRejections),
            (Fault::DiskLowWatermark, Fault::MergeThrottling),
            (Fault::DiskLowWatermark, Fault::UnassignedShardsYellow),
        ],
    }
}

/// Whether a fault's label goes on every node of its cluster (see the module docs).
pub fn labels_whole_cluster(fault: Fault) -> bool {
    !matches!(fault.scope(), crate::simulate::FaultScope::PerNode)
}

/// Hardware profiles of the held-out hardware split: one between the presets (6 cores,
/// 24 GiB, one 750 GiB SSD) and one beyond the largest (32 cores, 128 GiB, 6 × 4 TiB SSD).
pub fn heldout_profiles() -> Vec<HardwareProfile> {
    const GIB: u64 = 1 << 30;
    vec![
        HardwareProfile {
            name: "compact".into(),
            cores: 6,
            ram_bytes: 24 * GIB,
            disks: 1,
            disk_bytes: 750 * GIB,
            disk_kind: DiskKind::Ssd,
            swap_bytes: 0,
        },
        HardwareProfile {
            name: "xlarge".into(),
            cores: 32,
            ram_bytes: 128 * GIB,
            disks: 6,
            disk_bytes: 4096 * GIB,
            disk_kind: DiskKind::Ssd,
            swap_bytes: 0,
        },
    ]
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    /// Systems to generate, one dataset each.
    pub systems: Vec<System>,
    /// Simulated hours per scenario.
    pub hours: f64,
    /// Base seed: training uses `seed` to `seed + train_seeds - 1`, held-out seeds
    /// `seed + 100`, held-out hardware `seed + 200`.
    pub seed: u64,
    /// Training seeds per profile. Each seed draws every fault once (its node, start and
    /// severity), so this is how many instances of a class training sees per profile: with
    /// two, a tree found splits that told the few training instances apart and missed
    /// held-out ones; with four, every training instance of ISR flapping had under-replicated
    /// partitions, and the models missed the held-out ones without (see `models/README.md`).
    pub train_seeds: u64,
    /// Training (and held-out seed) hardware profiles.
    pub profiles: Vec<HardwareProfile>,
    /// Held-out hardware profiles.
    pub heldout_profiles: Vec<HardwareProfile>,
    /// Whether to include the compound (two-fault) scenarios.
    pub compound: bool,
    /// Only these faults (all when empty): for quick, small datasets in tests.
    pub only: Vec<Fault>,
}

impl DatasetSpec {
    /// The default spec: all systems, small/medium/large for training, [`heldout_profiles`].
    pub fn new(hours: f64, seed: u64) -> DatasetSpec {
        DatasetSpec {
            systems: System::ALL.to_vec(),
            hours,
            seed,
            train_seeds: TRAIN_SEEDS,
            profiles: ["small", "medium", "large"]
                .iter()
                .filter_map(|p| HardwareProfile::preset(p))
                .collect(),
            heldout_profiles: heldout_profiles(),
            compound: true,
            only: Vec::new(),
        }
    }

    /// (split, seed, profile) of every simulation run.
    fn runs(&self) -> Vec<(&'static str, u64, HardwareProfile)> {
        let mut out = Vec::new();
        for s in self.seed..self.seed + self.train_seeds.max(1) {
            for p in &self.profiles {
                out.push((SPLITS[0], s, p.clone()));
            }
        }
        for p in &self.profiles {
            out.push((SPLITS[1], self.seed + 100, p.clone()));
        }
        for p in &self.heldout_profiles {
            out.push((SPLITS[2], self.seed + 200, p.clone()));
        }
        out
    }
}

/// A labelled dataset of one system: metadata columns, feature columns (NaN = missing), labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// The system.
    pub system: Option<System>,
    /// Feature names, in column order (the frame's columns after `cluster`, `node`,
    /// `timestamp_ms`).
    pub features: Vec<String>,
    /// One vector per feature, one value per row; NaN where the feature was missing.
    pub columns: Vec<Vec<f64>>,
    /// Split of each row.
    pub split: Vec<String>,
    /// Simulation seed of each row.
    pub seed: Vec<u64>,
    /// Hardware profile name of each row.
    pub profile: Vec<String>,
    /// Cluster (scenario) of each row.
    pub cluster: Vec<String>,
    /// Node of each row.
    pub node: Vec<String>,
    /// Data time of each row.
    pub timestamp_ms: Vec<i64>,
    /// Label of each row: `healthy`, a fault id, or two fault ids joined by `+`.
    pub labels: Vec<String>,
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row counts per label.
    pub fn class_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for l in &self.labels {
            *m.entry(l.clone()).or_insert(0) += 1;
        }
        m
    }

    /// The rows of one split.
    pub fn split(&self, name: &str) -> Dataset {
        self.select(|i| self.split[i] == name)
    }

    /// The rows for which `keep(row)` holds.
    pub fn select(&self, keep: impl Fn(usize) -> bool) -> Dataset {
        let idx: Vec<usize> = (0..self.len()).filter(|&i| keep(i)).collect();
        let pick = |v: &Vec<String>| idx.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
        Dataset {
            system: self.system,
            features: self.features.clone(),
            columns: self.columns.iter().map(|c| idx.iter().map(|&i| c[i]).collect()).collect(),
            split: pick(&self.split),
            seed: idx.iter().map(|&i| self.seed[i]).collect(),
            profile: pick(&self.profile),
            cluster: pick(&self.cluster),
            node: pick(&self.node),
            timestamp_ms: idx.iter().map(|&i| self.timestamp_ms[i]).collect(),
            labels: pick(&self.labels),
        }
    }

    /// Appends the rows of `other` (same features).
    ///
    /// # Errors
    /// When the feature lists differ.
    pub fn append(&mut self, other: Dataset) -> Result<(), ClassifyError> {
        if self.features.is_empty() && self.is_empty() {
            *self = other;
            return Ok(());
        }
        if other.features != self.features {
            return Err(ClassifyError::Data(
                "cannot append datasets with different features".into(),
            ));
        }
        for (c, o) in self.columns.iter_mut().zip(other.columns) {
            c.extend(o);
        }
        self.split.extend(other.split);
        self.seed.extend(other.seed);
        self.profile.extend(other.profile);
        self.cluster.extend(other.cluster);
        self.node.extend(other.node);
        self.timestamp_ms.extend(other.timestamp_ms);
        self.labels.extend(other.labels);
        Ok(())
    }

    /// Adds the rows of a frame. `labels[i]` is the label of row `i`, `None` to drop it.
    pub(crate) fn push_frame(
        &mut self,
        frame: &FeatureFrame,
        labels: &[Option<String>],
        split: &str,
        seed: u64,
        profile: &str,
    ) -> Result<(), ClassifyError> {
        let names: Vec<String> = frame
            .df
            .get_column_names()
            .into_iter()
            .map(|n| n.to_string())
            .filter(|n| !matches!(n.as_str(), "cluster" | "node" | "timestamp_ms"))
            .collect();
        if self.features.is_empty() {
            self.features = names.clone();
            self.columns = vec![Vec::new(); names.len()];
            self.system = Some(frame.system);
        } else if names != self.features {
            return Err(ClassifyError::Data(format!(
                "{} frame columns changed between windows",
                frame.system.as_str()
            )));
        }
        let cluster = frame.str_column("cluster").unwrap_or_default();
        let node = frame.str_column("node").unwrap_or_default();
        let ts = frame.f64_column("timestamp_ms").unwrap_or_default();
        let values: Vec<Vec<Option<f64>>> =
            names.iter().map(|n| frame.f64_column(n).unwrap_or_default()).collect();
        for (i, label) in labels.iter().enumerate() {
            let Some(label) = label else { continue };
            for (col, v) in self.columns.iter_mut().zip(&values) {
                col.push(v.get(i).copied().flatten().unwrap_or(f64::NAN));
            }
            self.split.push(split.to_owned());
            self.seed.push(seed);
            self.profile.push(profile.to_owned());
            self.cluster.push(cluster.get(i).cloned().unwrap_or_default());
            self.node.push(node.get(i).cloned().unwrap_or_default());
            self.timestamp_ms.push(ts.get(i).copied().flatten().unwrap_or(0.0) as i64);
            self.labels.push(label.clone());
        }
        Ok(())
    }
}

/// The frames of one labelled window: `snapshot` holds the window's [`WINDOW_SCRAPES`]
/// rounds, `step_ms` apart, and rates and slopes look back over the whole window. Simulated
/// datasets and training on a Prometheus history (`classify::incidents`) both go through
/// here, so a model sees the same numbers whichever way its rows were made.
///
/// # Errors
/// A polars error (a catalogue bug).
pub fn window_frames(
    snapshot: &crate::snapshot::Snapshot,
    catalog: &Catalog,
    step_ms: i64,
) -> Result<Vec<FeatureFrame>, ClassifyError> {
    Ok(features::extract_last(snapshot, catalog, step_ms * WINDOW_SCRAPES as i64)?)
}

/// A scenario to run: its system, split and seed.
type Job = (System, &'static str, u64, Scenario);

/// One simulated cluster with its faults.
#[derive(Debug, Clone)]
struct Scenario {
    cluster: ClusterSpec,
    /// Simulated start: a random hour of the day, so the daily load cycle (and the trends
    /// it drives) is spread over every class instead of telling them apart.
    start_ms: i64,
}

/// The scenarios of one (system, seed, profile): healthy, each fault alone, each pair.
fn scenarios(
    system: System,
    seed: u64,
    profile: &HardwareProfile,
    compound: bool,
) -> Vec<Scenario> {
    // Cluster sizes vary, so features that compare a node with its peers are learned over
    // clusters of several sizes, not one.
    let sizes = if system == System::Cassandra { 3..=6 } else { 3..=5 };
    let prefix = match system {
        System::Cassandra => "cass",
        System::Kafka => "kafka",
        System::Elasticsearch => "es",
    };
    // Each profile draws its own nodes, starts and severities: drawn once per seed and
    // shared by every profile, four training seeds gave four independent instances, not twelve.
    let mut rng = rng_for(seed, &["scenarios", prefix, &profile.name]);
    let mut sets: Vec<Vec<Fault>> = vec![Vec::new()];
    sets.extend(Fault::ALL.iter().filter(|f| f.system() == system).map(|&f| vec![f]));
    if compound {
        sets.extend(compound_pairs(system).iter().map(|&(a, b)| vec![a, b]));
    }
    sets.into_iter()
        .map(|faults| {
            let tag = if faults.is_empty() {
                HEALTHY.to_owned()
            } else {
                faults.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("+")
            };
            let name = format!("{prefix}-s{seed}-{}-{tag}", profile.name);
            let nodes: u32 = rng.random_range(sizes.clone());
            let mut c = ClusterSpec::new(&name, system, nodes, profile.clone());
            // One node carries the per-node faults of the scenario; which one is random.
            let node = c.nodes[rng.random_range(0..nodes as usize)].name.clone();
            let start_s = rng.random_range(600.0..2400.0_f64).round();
            for f in faults {
                let on = match f.scope() {
                    crate::simulate::FaultScope::Cluster => None,
                    _ => Some(node.as_str()),
                };
                let mut spec = FaultSpec::new(f, on);
                spec.severity = (rng.random_range(0.6..=1.0_f64) * 100.0).round() / 100.0;
                spec.start_s = start_s;
                c = c.with_fault(spec);
            }
            let start_ms = 1_767_225_600_000 + rng.random_range(0..24 * 60) * 60_000;
            Scenario { cluster: c, start_ms }
        })
        .collect()
}

/// The opsadvisor config of a simulator's endpoints, with placeholder URLs: nothing is
/// served, the pages are fetched in-process by [`scrape`].
fn inprocess_config(sim: &Simulator) -> Config {
    let clusters = sim
        .clusters()
        .iter()
        .map(|c| {
            let url = |what: &str| Some(format!("http://sim.invalid/{}/{what}", c.name));
            ClusterConfig {
                name: c.name.clone(),
                system: c.system,
                elasticsearch: (c.system == System::Elasticsearch).then(|| url("es")).flatten(),
                elasticsearch_exporter: None,
                kafka_exporter: (c.system == System::Kafka && c.kafka_exporter)
                    .then(|| url("kafka_exporter"))
                    .flatten(),
                auth: None,
                prometheus: None,
                targets: c
                    .nodes
                    .iter()
                    .map(|n| TargetConfig {
                        node: n.name.clone(),
                        metrics: (c.system != System::Elasticsearch)
                            .then(|| url(&format!("{}/jmx", n.name)))
                            .flatten(),
                        node_exporter: url(&format!("{}/node", n.name)),
                        jolokia: None,
                        config_files: None,
                    })
                    .collect(),
                file_sd: Vec::new(),
                disabled_checks: Vec::new(),
                thresholds: Default::default(),
                tls: None,
                capacity: Default::default(),
                config_files: None,
            }
        })
        .collect();
    Config {
        scrape: ScrapeConfig::default(),
        rule_dirs: Vec::new(),
        clusters,
        checks: Default::default(),
        shard: None,
        notifications: Default::default(),
    }
}

/// What every target of `targets` would answer now: the raw bodies a live fetch would get.
fn scrape(sim: &Simulator, targets: &[sources::Target]) -> Vec<Result<Raw, String>> {
    let at = sim.sample_ms();
    let metrics = |body: Option<String>| -> Result<Raw, String> {
        let body = body.ok_or_else(|| "connection failed: node down".to_owned())?;
        let mut bodies = BTreeMap::new();
        bodies.insert("metrics".to_owned(), RawBody { content_type: None, body: body.into() });
        Ok(Raw { fetched_ms: at, bodies, errors: Vec::new() })
    };
    targets
        .iter()
        .map(|t| {
            let node = t.node.as_deref().unwrap_or("");
            match t.kind {
                TargetKind::Metrics => metrics(sim.jmx_metrics(&t.cluster, node)),
                TargetKind::NodeExporter => metrics(sim.node_exporter_metrics(&t.cluster, node)),
                TargetKind::KafkaExporter => metrics(sim.kafka_exporter_metrics(&t.cluster)),
                TargetKind::Elasticsearch => {
                    let mut bodies = BTreeMap::new();
                    for (key, path) in elasticsearch::ENDPOINTS {
                        if let Some((200, body)) = sim.es_api(&t.cluster, path) {
                            bodies.insert(
                                (*key).to_owned(),
                                RawBody { content_type: None, body: body.into() },
                            );
                        }
                    }
                    Ok(Raw { fetched_ms: at, bodies, errors: Vec::new() })
                }
                TargetKind::Prometheus
                | TargetKind::ElasticsearchExporter
                | TargetKind::Jolokia
                | TargetKind::ConfigFiles => Err("not simulated in-process".to_owned()),
            }
        })
        .collect()
}

/// The label of each node of `cluster` at `t_ms`: `None` while a fault is developing.
fn labels_at(cluster: &ClusterSpec, start_ms: i64, t_ms: i64) -> Vec<Option<String>> {
    cluster
        .nodes
        .iter()
        .map(|n| {
            let mut active: Vec<&str> = Vec::new();
            for f in &cluster.faults {
                let applies =
                    labels_whole_cluster(f.fault) || f.node.as_deref().is_none_or(|x| x == n.name);
                if !applies {
                    continue;
                }
                let began = start_ms + (f.start_s * 1000.0) as i64;
                if t_ms < began {
                    continue;
                }
                if t_ms < began + SETTLE_MS {
                    return None;
                }
                active.push(f.fault.as_str());
            }
            active.sort_unstable();
            active.dedup();
            Some(if active.is_empty() { HEALTHY.to_owned() } else { active.join("+") })
        })
        .collect()
}

/// Simulates one scenario and returns its rows.
fn run_scenario(
    scenario: &Scenario,
    split: &str,
    seed: u64,
    hours: f64,
    catalog: &Catalog,
) -> Result<Dataset, ClassifyError> {
    let start_ms = scenario.start_ms;
    let spec = SimSpec { seed, start_ms, warmup_s: 0.0, clusters: vec![scenario.cluster.clone()] };
    let mut sim = Simulator::new(spec)?;
    let config = inprocess_config(&sim);
    let targets = sources::targets(&config);
    let end_ms = start_ms + (hours * 3_600_000.0) as i64;
    let mut window: VecDeque<Vec<Result<Raw, String>>> = VecDeque::new();
    let mut out = Dataset::default();
    let mut t = start_ms;
    let stride = (ROW_EVERY_MS / SCRAPE_MS) as usize;
    let mut since_row = stride;
    while t <= end_ms {
        sim.advance_to(t);
        window.push_back(scrape(&sim, &targets));
        if window.len() > WINDOW_SCRAPES {
            window.pop_front();
        }
        since_row += 1;
        if window.len() == WINDOW_SCRAPES && since_row >= stride {
            since_row = 0;
            let labels = labels_at(&scenario.cluster, start_ms, sim.sample_ms());
            if labels.iter().any(Option::is_some) {
                let rounds = Rounds {
                    targets: targets.clone(),
                    raws: (0..targets.len())
                        .map(|i| window.iter().map(|r| r[i].clone()).collect())
                        .collect(),
                };
                let (snapshot, _) = sources::assemble_rounds(&config, &rounds);
                let frames = window_frames(&snapshot, catalog, SCRAPE_MS)?;
                for frame in &frames {
                    out.push_frame(frame, &labels, split, seed, &scenario_profile(scenario))?;
                }
            }
        }
        t += SCRAPE_MS;
    }
    Ok(out)
}

fn scenario_profile(s: &Scenario) -> String {
    s.cluster.nodes.first().map(|n| n.profile.name.clone()).unwrap_or_default()
}

/// Generates the dataset of every system in `spec`, calling `progress(done, total)` after
/// each scenario. Scenarios run on two threads.
///
/// # Errors
/// A simulator or feature error (a bug), or frames whose columns differ.
pub fn generate(
    spec: &DatasetSpec,
    catalog: &Catalog,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Dataset>, ClassifyError> {
    if !(spec.hours.is_finite() && spec.hours > 0.0 && spec.hours <= 24.0 * 30.0) {
        return Err(ClassifyError::Data(format!(
            "--hours must be between 0 and 720, got {}",
            spec.hours
        )));
    }
    let mut jobs: Vec<Job> = Vec::new();
    for &system in &spec.systems {
        for (split, seed, profile) in spec.runs() {
            for s in scenarios(system, seed, &profile, spec.compound) {
                let wanted = spec.only.is_empty()
                    || s.cluster.faults.iter().all(|f| spec.only.contains(&f.fault));
                if wanted {
                    jobs.push((system, split, seed, s));
                }
            }
        }
    }
    let total = jobs.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 2);
    let chunks: Vec<Vec<(usize, &Job)>> = (0..threads)
        .map(|k| jobs.iter().enumerate().filter(|(i, _)| i % threads == k).collect())
        .collect();
    let results: Vec<Result<Vec<(usize, Dataset)>, ClassifyError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let done = &done;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for (i, (_, split, seed, s)) in chunk {
                        out.push((*i, run_scenario(s, split, *seed, spec.hours, catalog)?));
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        progress(n, total);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ClassifyError::Data("a dataset worker panicked".into()))
                })
            })
            .collect()
    });
    let mut parts: Vec<(usize, Dataset)> = Vec::new();
    for r in results {
        parts.extend(r?);
    }
    parts.sort_by_key(|(i, _)| *i);
    let mut by_system: BTreeMap<System, Dataset> = BTreeMap::new();
    for (i, d) in parts {
        let system = jobs[i].0;
        by_system.entry(system).or_default().append(d)?;
    }
    Ok(spec.systems.iter().filter_map(|s| by_system.remove(s)).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn labels_follow_the_fault_after_it_settles() {
        let c = ClusterSpec::new("c", System::Cassandra, 3, HardwareProfile::small()).with_fault(
            FaultSpec { start_s: 600.0, ..FaultSpec::new(Fault::GcPressure, Some("c-2")) },
        );
        let at = |min: i64| labels_at(&c, 0, min * 60_000);
        assert_eq!(at(5), vec![Some("healthy".into()); 3]);
        // Developing: the faulty node's row is dropped, the others stay healthy.
        assert_eq!(at(12), vec![Some("healthy".into()), None, Some("healthy".into())]);
        assert_eq!(at(26)[1].as_deref(), Some("gc_pressure"));
        assert_eq!(at(26)[0].as_deref(), Some("healthy"));
    }

    #[test]
    fn cluster_faults_label_every_node_and_pairs_join_sorted() {
        let c = ClusterSpec::new("k", System::Kafka, 3, HardwareProfile::small())
            .with_fault(FaultSpec::new(Fault::RequestHandlerSaturation, Some("k-1")))
            .with_fault(FaultSpec::new(Fault::ConsumerLagGrowth, None));
        let l = labels_at(&c, 0, SETTLE_MS + 1);
        assert_eq!(l[0].as_deref(), Some("consumer_lag_growth+request_handler_saturation"));
        assert_eq!(l[2].as_deref(), Some("consumer_lag_growth"));
    }

    #[test]
    fn every_scenario_is_a_valid_simulation_and_compounds_are_pairs_of_the_system() {
        for system in System::ALL {
            for &(a, b) in compound_pairs(system) {
                assert!(a.system() == system && b.system() == system && a != b, "{a} {b}");
            }
            for s in scenarios(system, 3, &HardwareProfile::small(), true) {
                let spec = SimSpec { clusters: vec![s.cluster.clone()], ..SimSpec::default() };
                Simulator::new(spec).unwrap();
            }
        }
    }
}
