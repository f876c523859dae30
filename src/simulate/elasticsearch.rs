//! The Elasticsearch cluster model and its REST API (`/`, `/_cluster/health`, `/_nodes/stats`,
//! `/_cluster/settings`, `/_cat/shards`).
//!
//! The cluster holds daily `logs-YYYY.MM.DD` indices (rolled over at midnight and deleted after
//! a retention that keeps disks under half full), a `products` index and system indices. Shards
//! are allocated round-robin with no two copies of a shard on one node; a copy that cannot be
//! placed stays UNASSIGNED, and health follows from that (red if a primary is unassigned,
//! yellow if a replica is). Each node indexes its share of today's shards and answers its share
//! of shard-level searches through thread pools that queue and reject; merges follow indexing
//! and throttle it when they fall behind; the JVM model gives heap and GC, and the circuit
//! breakers follow the heap. Field shapes follow real 7.x/8.x responses.

use serde_json::{Map, Value, json};

use super::host::{GIB, Host, HostLoad};
use super::jvm::{Jvm, JvmLoad};
use super::workload::{
    Ar1, DAY_MS, SimRng, civil_date, diurnal, events, gauss, human_bytes, node_ip, queue_len,
    rng_for, uniform,
};
use super::{ClusterSpec, Fault, Faults};

/// How fast the `disk_low_watermark` archive grows, as a share of the disk per day.
const ARCHIVE_GROWTH_PER_DAY: f64 = 0.001;

/// Documents indexed per second into today's index, cluster-wide, at load 1.
const INDEX_RATE: f64 = 1_500.0;
/// Stored bytes per document.
const DOC_BYTES: f64 = 1_000.0;
/// Searches per second at load 1; each touches `SHARDS_PER_SEARCH` shards.
const SEARCH_RATE: f64 = 60.0;
const SHARDS_PER_SEARCH: f64 = 11.0;
/// Shard-level query cost in milliseconds of a search thread.
const QUERY_MS: f64 = 4.0;
/// Search and write queue capacities (ES defaults).
const SEARCH_QUEUE: f64 = 1_000.0;
const WRITE_QUEUE: f64 = 10_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IndexKind {
    Daily,
    Products,
    System,
    Archive,
    Tiny,
    OverReplicated,
    Broken,
}

#[derive(Debug, Clone)]
struct Index {
    name: String,
    kind: IndexKind,
    primaries: u32,
    replicas: u32,
    /// Per primary shard.
    docs: Vec<f64>,
    bytes: Vec<f64>,
    /// Node every copy must live on (the archive index), instead of round-robin.
    pinned: Option<usize>,
    offset: usize,
}

#[derive(Debug, Clone)]
struct Shard {
    index: usize,
    shard: u32,
    primary: bool,
    node: Option<usize>,
    /// Replica store differs slightly from the primary's.
    store_factor: f64,
}

#[derive(Debug, Clone, Default)]
struct Pool {
    name: &'static str,
    threads: f64,
    queue: f64,
    active: f64,
    rejected: f64,
    largest: f64,
    completed: f64,
}

#[derive(Debug, Clone)]
struct Breaker {
    name: &'static str,
    limit: f64,
    estimated: f64,
    overhead: f64,
    tripped: f64,
}

#[derive(Debug)]
struct EsNode {
    id: String,
    name: String,
    host: Host,
    jvm: Jvm,
    rng: SimRng,
    noise: Ar1,
    uptime_ms: f64,
    index_total: f64,
    index_time_ms: f64,
    index_current: f64,
    throttle_time_ms: f64,
    is_throttled: bool,
    query_total: f64,
    query_time_ms: f64,
    query_current: f64,
    fetch_total: f64,
    fetch_time_ms: f64,
    merges_current: f64,
    merge_backlog: f64,
    merges_total: f64,
    merges_time_ms: f64,
    merges_docs: f64,
    merges_bytes: f64,
    merges_throttled_ms: f64,
    refresh_total: f64,
    refresh_ms: f64,
    flush_total: f64,
    flush_ms: f64,
    pools: Vec<Pool>,
    breakers: Vec<Breaker>,
    fielddata_bytes: f64,
    query_cache_hits: f64,
    query_cache_misses: f64,
    http_opened: f64,
    transport_rx: f64,
    transport_tx: f64,
    docs: f64,
    store: f64,
    shards: f64,
    segments: f64,
    process_cpu_ms: f64,
    cpu_percent: f64,
}

/// A simulated Elasticsearch cluster.
#[derive(Debug)]
pub(crate) struct EsCluster {
    name: String,
    uuid: String,
    nodes: Vec<EsNode>,
    indices: Vec<Index>,
    shards: Vec<Shard>,
    faults: Faults,
    load: f64,
    retention_days: i64,
    day: i64,
    rng: SimRng,
    pending_tasks: f64,
    max_waiting_ms: f64,
    applied: Applied,
    /// `cluster.max_shards_per_node` when a fault raised it.
    max_shards_per_node: Option<u32>,
    /// Settings the spec set (`es_settings`).
    settings: super::EsSettingsSpec,
}

/// Cluster-level faults already applied to the index set.
#[derive(Debug, Default)]
struct Applied {
    yellow: bool,
    red: bool,
    many_shards: bool,
    archive: bool,
}

const POOL_NAMES: [&str; 16] = [
    "analyze",
    "fetch_shard_started",
    "fetch_shard_store",
    "flush",
    "force_merge",
    "generic",
    "get",
    "management",
    "refresh",
    "search",
    "search_throttled",
    "snapshot",
    "system_read",
    "system_write",
    "warmer",
    "write",
];
const P_FLUSH: usize = 3;
const P_GENERIC: usize = 5;
const P_MANAGEMENT: usize = 7;
const P_REFRESH: usize = 8;
const P_SEARCH: usize = 9;
const P_WRITE: usize = 15;

fn random_id(rng: &mut SimRng, len: usize) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len).map(|_| ALPHA[(uniform(rng, 0.0, 64.0) as usize).min(63)] as char).collect()
}

fn daily_name(day: i64) -> String {
    let (y, m, d) = civil_date(day * DAY_MS);
    format!("logs-{y:04}.{m:02}.{d:02}")
}

impl EsCluster {
    pub(crate) fn new(spec: &ClusterSpec, faults: Faults, seed: u64, start_ms: i64) -> Self {
        let mut rng = rng_for(seed, &[&spec.name]);
        let uuid = random_id(&mut rng, 22);
        let n = spec.nodes.len();
        let nodes: Vec<EsNode> = spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let mut rng = rng_for(seed, &[&spec.name, &node.name]);
                let host = Host::new(
                    &node.name,
                    node_ip(&spec.name, i),
                    &node.profile,
                    "/var/lib/elasticsearch",
                    start_ms,
                    &mut rng,
                );
                let heap = (node.profile.ram_bytes as f64 / 2.0).min(31.0 * GIB);
                let uptime_s = 86_400.0 * uniform(&mut rng, 5.0, 40.0);
                let jvm = Jvm::new(heap, 65_535.0, start_ms, uptime_s, &mut rng);
                let cores = f64::from(node.profile.cores);
                let search_threads = (cores * 3.0 / 2.0).floor() + 1.0;
                let pools = POOL_NAMES
                    .iter()
                    .map(|name| {
                        let threads = match *name {
                            "search" | "get" => search_threads,
                            "write" => cores,
                            "generic" => 4.0 + cores,
                            "management" => 5.0,
                            "refresh" | "flush" | "warmer" => (cores / 2.0).clamp(1.0, 10.0),
                            "snapshot" | "system_read" | "system_write" => {
                                (cores / 2.0).clamp(1.0, 5.0)
                            }
                            _ => 1.0,
                        };
                        Pool {
                            name,
                            threads,
                            largest: threads,
                            completed: (uptime_s * uniform(&mut rng, 0.1, 30.0)).floor(),
                            ..Pool::default()
                        }
                    })
                    .collect();
                let breakers = vec![
                    Breaker {
                        name: "accounting",
                        limit: heap,
                        estimated: 0.0,
                        overhead: 1.0,
                        tripped: 0.0,
                    },
                    Breaker {
                        name: "fielddata",
                        limit: 0.4 * heap,
                        estimated: 0.0,
                        overhead: 1.03,
                        tripped: 0.0,
                    },
                    Breaker {
                        name: "in_flight_requests",
                        limit: heap,
                        estimated: 0.0,
                        overhead: 2.0,
                        tripped: 0.0,
                    },
                    Breaker {
                        name: "model_inference",
                        limit: 0.5 * heap,
                        estimated: 0.0,
                        overhead: 1.0,
                        tripped: 0.0,
                    },
                    Breaker {
                        name: "parent",
                        limit: 0.95 * heap,
                        estimated: 0.0,
                        overhead: 1.0,
                        tripped: 0.0,
                    },
                    Breaker {
                        name: "request",
                        limit: 0.6 * heap,
                        estimated: 0.0,
                        overhead: 1.0,
                        tripped: 0.0,
                    },
                ];
                let docs_hist = uptime_s * INDEX_RATE * 2.0 / n as f64;
                EsNode {
                    id: random_id(&mut rng, 22),
                    name: node.name.clone(),
                    host,
                    jvm,
                    noise: Ar1::new(0.05, 900.0),
                    uptime_ms: uptime_s * 1000.0,
                    index_total: docs_hist.floor(),
                    index_time_ms: (docs_hist * 0.08).floor(),
                    index_current: 0.0,
                    throttle_time_ms: 0.0,
                    is_throttled: false,
                    query_total: (uptime_s * 200.0).floor(),
                    query_time_ms: (uptime_s * 200.0 * 3.0).floor(),
                    query_current: 0.0,
                    fetch_total: (uptime_s * 20.0).floor(),
                    fetch_time_ms: (uptime_s * 20.0 * 1.5).floor(),
                    merges_current: 0.0,
                    merge_backlog: 0.0,
                    merges_total: (docs_hist / 20_000.0).floor(),
                    merges_time_ms: (docs_hist / 20_000.0 * 1_500.0).floor(),
                    merges_docs: (docs_hist * 1.5).floor(),
                    merges_bytes: (docs_hist * 1.5 * DOC_BYTES).floor(),
                    merges_throttled_ms: (uptime_s * 20.0).floor(),
                    refresh_total: (uptime_s * 2.0).floor(),
                    refresh_ms: (uptime_s * 2.0 * 6.0).floor(),
                    flush_total: (uptime_s / 300.0).floor(),
                    flush_ms: (uptime_s / 300.0 * 200.0).floor(),
                    pools,
                    breakers,
                    fielddata_bytes: 0.01 * heap,
                    query_cache_hits: (uptime_s * 50.0).floor(),
                    query_cache_misses: (uptime_s * 150.0).floor(),
                    http_opened: (uptime_s / 60.0).floor(),
                    transport_rx: (uptime_s * 400.0).floor(),
                    transport_tx: (uptime_s * 400.0).floor(),
                    docs: 0.0,
                    store: 0.0,
                    shards: 0.0,
                    segments: 0.0,
                    process_cpu_ms: uptime_s * 1000.0 * 0.8,
                    cpu_percent: 0.0,
                    rng,
                }
            })
            .collect();

        // Retention: keep disks a little under half full.
        let min_fs = nodes.iter().map(|n| n.host.data_fs_size()).fold(f64::INFINITY, f64::min);
        let replicas = if n > 1 { 1.0 } else { 0.0 };
        let per_node_daily =
            INDEX_RATE * spec.load * 86_400.0 * DOC_BYTES * (1.0 + replicas) / n as f64;
        let retention_days = ((0.45 * min_fs / per_node_daily).round() as i64).clamp(3, 30);
        let day = start_ms.div_euclid(DAY_MS);
        let mut c = EsCluster {
            name: spec.name.clone(),
            uuid,
            nodes,
            indices: Vec::new(),
            shards: Vec::new(),
            faults,
            load: spec.load,
            retention_days,
            day,
            rng,
            pending_tasks: 0.0,
            max_waiting_ms: 0.0,
            applied: Applied::default(),
            max_shards_per_node: None,
            settings: spec.es_settings.clone(),
        };
        let r = u32::from(n > 1);
        let full_day = INDEX_RATE * spec.load * 86_400.0;
        for k in (1..retention_days).rev() {
            let docs = full_day * uniform(&mut c.rng, 0.95, 1.05);
            c.add_index(&daily_name(day - k), IndexKind::Daily, 3, r, docs);
        }
        // Today's index holds what was indexed since midnight.
        let since_midnight = start_ms.rem_euclid(DAY_MS) as f64 / 1000.0;
        c.add_index(
            &daily_name(day),
            IndexKind::Daily,
            3,
            r,
            INDEX_RATE * spec.load * since_midnight,
        );
        c.add_index("products", IndexKind::Products, 5, r, 2_000_000.0);
        c.add_index(".kibana_1", IndexKind::System, 1, r, 1_200.0);
        c.add_index(".security-7", IndexKind::System, 1, r, 80.0);
        c.allocate();
        c
    }

    pub(crate) fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn add_index(&mut self, name: &str, kind: IndexKind, primaries: u32, replicas: u32, docs: f64) {
        let p = f64::from(primaries.max(1));
        let docs: Vec<f64> = (0..primaries)
            .map(|_| (docs / p * (1.0 + 0.02 * gauss(&mut self.rng))).max(0.0).floor())
            .collect();
        let bytes = docs.iter().map(|d| d * DOC_BYTES + 8_192.0).collect();
        let offset = (self.indices.len() * 7) % self.nodes.len().max(1);
        self.indices.push(Index {
            name: name.to_owned(),
            kind,
            primaries,
            replicas,
            docs,
            bytes,
            pinned: None,
            offset,
        });
    }

    /// Places every shard copy: round-robin, never two copies of one shard on a node.
    fn allocate(&mut self) {
        let n = self.nodes.len();
        self.shards.clear();
        for (k, idx) in self.indices.iter().enumerate() {
            for s in 0..idx.primaries {
                for copy in 0..=idx.replicas {
                    let node = match (idx.pinned, idx.kind) {
                        (_, IndexKind::Broken) if s == 0 => None,
                        (Some(pin), _) => (copy == 0).then_some(pin),
                        _ => ((copy as usize) < n)
                            .then(|| (s as usize + idx.offset + copy as usize) % n),
                    };
                    let h = (k as u32).wrapping_mul(31).wrapping_add(s * 7 + copy);
                    self.shards.push(Shard {
                        index: k,
                        shard: s,
                        primary: copy == 0,
                        node,
                        store_factor: if copy == 0 { 1.0 } else { 0.98 + f64::from(h % 5) * 0.01 },
                    });
                }
            }
        }
    }

    fn roll_over(&mut self, t: i64) {
        let day = t.div_euclid(DAY_MS);
        if day == self.day {
            return;
        }
        self.day = day;
        let r = u32::from(self.nodes.len() > 1);
        self.add_index(&daily_name(day), IndexKind::Daily, 3, r, 0.0);
        let oldest = daily_name(day - self.retention_days);
        self.indices.retain(|i| !(i.kind == IndexKind::Daily && i.name <= oldest));
        self.allocate();
    }

    fn apply_cluster_faults(&mut self, t: i64) {
        let n = self.nodes.len();
        let r = u32::from(n > 1);
        let mut changed = false;
        let yellow = self.faults.cluster_severity(Fault::UnassignedShardsYellow, t);
        if yellow > 0.0 && !self.applied.yellow {
            // More replicas than nodes can hold: one copy of every shard stays unassigned.
            let p = (3.0 * yellow).round().max(1.0) as u32;
            self.add_index("orders-replay", IndexKind::OverReplicated, p, n as u32, 400_000.0);
            self.applied.yellow = true;
            changed = true;
        }
        let red = self.faults.cluster_severity(Fault::UnassignedShardsRed, t);
        if red > 0.0 && !self.applied.red {
            // A restored index whose shard 0 lost every copy (no valid shard copy).
            let p = 1 + (red * 2.0).round() as u32;
            self.add_index("metrics-restored", IndexKind::Broken, p, r, 3_000_000.0);
            self.applied.red = true;
            changed = true;
        }
        let many = self.faults.cluster_severity(Fault::TooManyShards, t);
        if many > 0.0 && !self.applied.many_shards {
            let per_node = 1_050.0 + 250.0 * many;
            // Operators raise cluster.max_shards_per_node just enough to create them.
            self.max_shards_per_node = Some(((per_node * 1.05 / 100.0).ceil() * 100.0) as u32);
            let copies = f64::from(1 + r);
            let want =
                ((per_node * n as f64 - self.shards.len() as f64) / copies).max(0.0) as usize;
            for k in 0..want {
                let docs = uniform(&mut self.rng, 50.0, 2_000.0);
                self.add_index(&format!("tenant-{:05}", k + 1), IndexKind::Tiny, 1, r, docs);
            }
            self.applied.many_shards = true;
            changed = true;
        }
        let archive_node = self
            .faults
            .0
            .iter()
            .find(|f| f.fault == Fault::DiskLowWatermark && f.start_ms <= t)
            .map(|f| f.node.unwrap_or(0));
        if let Some(node) = archive_node
            && !self.applied.archive
        {
            // A big archive index pinned to the node fills its disk past the low watermark.
            self.add_index("archive-2025.12", IndexKind::Archive, 1, 0, 0.0);
            if let Some(last) = self.indices.last_mut() {
                last.pinned = Some(node);
            }
            self.applied.archive = true;
            changed = true;
        }
        if changed {
            self.allocate();
        }
    }

    pub(crate) fn step(&mut self, t: i64, dt: f64) {
        self.roll_over(t);
        self.apply_cluster_faults(t);
        let n = self.nodes.len();
        let d = diurnal(t);
        let today = daily_name(self.day);
        let many = self.faults.cluster_level(Fault::TooManyShards, t, 60.0);

        // Indexing into today's index (primaries; replicas mirror them).
        let cluster_noise = 1.0 + 0.04 * gauss(&mut self.rng);
        let rate = INDEX_RATE * self.load * d * cluster_noise.max(0.5);
        let mut today_idx = None;
        if let Some((k, idx)) = self.indices.iter_mut().enumerate().find(|(_, i)| i.name == today) {
            let p = f64::from(idx.primaries);
            for s in 0..idx.docs.len() {
                let add = (rate / p * dt).round();
                idx.docs[s] += add;
                idx.bytes[s] += add * DOC_BYTES;
            }
            today_idx = Some(k);
        }

        // Keep the archive index sized so its node sits at the target disk use.
        if let Some(f) =
            self.faults.0.iter().find(|f| f.fault == Fault::DiskLowWatermark && f.start_ms <= t)
        {
            let node = f.node.unwrap_or(0);
            // The archive keeps growing slowly (nobody rolls it over): a tenth of a point a
            // day, so capacity forecasts have a date to find.
            let days = (t - f.start_ms).max(0) as f64 / DAY_MS as f64;
            let target = 0.855
                + 0.025 * f.severity
                + ARCHIVE_GROWTH_PER_DAY * days
                + 0.002 * gauss(&mut self.rng);
            let others: f64 = self
                .shards
                .iter()
                .filter(|s| {
                    s.node == Some(node) && self.indices[s.index].kind != IndexKind::Archive
                })
                .map(|s| self.indices[s.index].bytes[s.shard as usize] * s.store_factor)
                .sum();
            let fs = self.nodes[node].host.data_fs_size();
            let want = (target * fs - others - GIB).max(0.0);
            if let Some(idx) = self.indices.iter_mut().find(|i| i.kind == IndexKind::Archive) {
                idx.bytes[0] = want.floor();
                idx.docs[0] = (want / 2_000.0).floor();
            }
        }

        // Per-node aggregates from the shard table.
        let mut docs = vec![0.0; n];
        let mut store = vec![0.0; n];
        let mut shards = vec![0.0; n];
        let mut today_shards = vec![0.0; n];
        for s in &self.shards {
            let Some(node) = s.node else { continue };
            let idx = &self.indices[s.index];
            docs[node] += idx.docs[s.shard as usize];
            store[node] += idx.bytes[s.shard as usize] * s.store_factor;
            shards[node] += 1.0;
            if Some(s.index) == today_idx {
                today_shards[node] += 1.0;
            }
        }
        let today_primaries = today_idx.map_or(1.0, |k| f64::from(self.indices[k].primaries));

        let mut pending = 0.0;
        for i in 0..n {
            let f = &self.faults;
            let heap_p = f.level(Fault::HeapPressure, i, t, 300.0);
            let search_f = f.level(Fault::SearchRejections, i, t, 120.0);
            let merge_f = f.level(Fault::MergeThrottling, i, t, 300.0);
            let node = &mut self.nodes[i];
            let rng = &mut node.rng;
            let cores = f64::from(node.host.profile().cores);
            let noise = node.noise.step(rng, dt);
            node.uptime_ms += dt * 1000.0;
            node.docs = docs[i];
            node.store = store[i];
            node.shards = shards[i];

            // Indexing: this node's copies of today's shards, bulk-loaded harder when merges
            // are the bottleneck (the fault's trigger).
            let index_rate = rate / today_primaries * today_shards[i] * (1.0 + 1.5 * merge_f);
            let indexed = (index_rate * dt).round();
            node.index_total += indexed;
            let write_pool_threads = node.pools[P_WRITE].threads;
            let bulk_tasks = index_rate / 200.0;
            let rho_w = bulk_tasks * 0.012 / write_pool_threads;

            // Merges follow indexing; a node that cannot merge fast enough throttles indexing.
            let merge_need = index_rate / 15_000.0;
            let merge_cap = 0.25 * (1.0 - 0.9 * merge_f) + 0.02;
            let arrivals = events(rng, merge_need * dt);
            let done = events(rng, merge_cap * dt).min(node.merge_backlog + arrivals);
            node.merge_backlog = (node.merge_backlog + arrivals - done).clamp(0.0, 50.0);
            node.merges_current = node.merge_backlog.min(4.0 + (cores / 2.0).min(4.0)).round();
            node.merges_total += done;
            node.merges_docs += done * 40_000.0;
            node.merges_bytes += done * 40_000.0 * DOC_BYTES;
            node.merges_time_ms += (node.merges_current * dt * 1000.0).round();
            // Auto-throttled merge I/O: a trickle normally, most of the merge time when behind.
            let throttled_share = if node.merge_backlog > 6.0 { 0.7 } else { 0.01 };
            node.merges_throttled_ms +=
                (node.merges_current * dt * 1000.0 * throttled_share).round();
            node.is_throttled = node.merge_backlog > 6.0;
            let throttle_share = if node.is_throttled { 0.35 + 0.3 * merge_f } else { 0.0 };
            node.throttle_time_ms += (throttle_share * dt * 1000.0).round();
            node.index_time_ms += (indexed * 0.08 * (1.0 + 2.0 * throttle_share)).round();
            node.index_current = events(rng, index_rate * 0.0002);
            node.refresh_total += dt;
            node.refresh_ms += (dt * 6.0 * (1.0 + noise)).round().max(0.0);
            node.flush_total += events(rng, dt / 300.0);
            node.flush_ms = node.flush_total * 200.0;

            // Search: shard-level queries through the search pool.
            let demand = SEARCH_RATE * self.load * d * (1.0 + noise).max(0.3) * SHARDS_PER_SEARCH
                / n as f64
                * (1.0 + 9.0 * search_f);
            let cost_ms = QUERY_MS * (1.0 + 1.5 * search_f) * (1.0 + node.jvm.gc_share() * 5.0);
            let threads = node.pools[P_SEARCH].threads;
            let capacity = threads * 1000.0 / cost_ms;
            let rho_s = demand / capacity;
            let served = demand.min(capacity);
            let (queue, rejected) = if rho_s >= 1.0 {
                (SEARCH_QUEUE, (demand - capacity) * dt)
            } else {
                let q = queue_len(rho_s, 2.0);
                (if q < 1.0 { events(rng, q) } else { q.round() }, 0.0)
            };
            let wait_ms = queue / served.max(1.0) * 1000.0;
            node.query_total += (served * dt).round();
            node.query_time_ms += (served * dt * (cost_ms + wait_ms)).round();
            node.query_current = (served * (cost_ms + wait_ms) / 1000.0).round();
            node.fetch_total += (served / SHARDS_PER_SEARCH * dt).round();
            node.fetch_time_ms += (served / SHARDS_PER_SEARCH * dt * 1.5).round();
            node.query_cache_hits += (served * 0.25 * dt).round();
            node.query_cache_misses += (served * 0.75 * dt).round();
            {
                let p = &mut node.pools[P_SEARCH];
                p.queue = queue;
                p.rejected += rejected.round();
                p.active = (served * cost_ms / 1000.0).min(threads).round();
                p.completed += (served * dt).round();
            }
            {
                let p = &mut node.pools[P_WRITE];
                let q = queue_len(rho_w, 2.0);
                p.queue = if q < 1.0 { events(rng, q) } else { q.round().min(WRITE_QUEUE) };
                p.active = (bulk_tasks * 0.012).min(p.threads).round();
                p.completed += (bulk_tasks * dt).round();
            }
            node.pools[P_REFRESH].completed += (shards[i] * dt).round();
            node.pools[P_FLUSH].completed += events(rng, dt / 300.0);
            node.pools[P_MANAGEMENT].completed += (dt * 2.0).round();
            node.pools[P_GENERIC].completed += (dt * 5.0).round();
            node.pools[P_MANAGEMENT].active = events(rng, 0.5);

            // JVM: shards and fielddata hold heap; heap_pressure fills it.
            let shard_heap = 0.00015 * shards[i];
            node.jvm.step(
                dt,
                &JvmLoad {
                    alloc_bps: 80e6 + index_rate * 6e3 + served * 60e3,
                    live_target: 0.30 + shard_heap + 0.58 * heap_p,
                    promotion: 0.02 + 0.2 * heap_p,
                    young_share: 0.2 - 0.16 * heap_p,
                    threads: 90.0 + cores * 4.0 + gauss(rng),
                    open_fds: 600.0 + shards[i] * 25.0,
                    cpu_cores: 0.0,
                },
                rng,
            );
            let heap = node.jvm.heap_max();
            let used = node.jvm.heap_used();
            node.fielddata_bytes =
                heap * (0.01 + 0.37 * heap_p) * (1.0 + 0.02 * gauss(rng)).max(0.9);
            for b in &mut node.breakers {
                b.estimated = match b.name {
                    "parent" => used,
                    "fielddata" => node.fielddata_bytes.min(b.limit),
                    "request" => (served * 50e3 * (1.0 + 3.0 * heap_p)).min(b.limit),
                    "in_flight_requests" => index_rate * 400.0,
                    "accounting" => shards[i] * 2e6,
                    _ => 0.0,
                }
                .floor();
                let trips = match b.name {
                    "parent" => heap_p * (0.2 + 0.3 * gauss(rng).abs()),
                    "fielddata" => heap_p * 0.05,
                    _ => 0.0,
                };
                b.tripped += events(rng, trips * dt);
            }
            node.segments = (shards[i] * 12.0 + node.merge_backlog * 30.0).round();

            let search_cores = served * cost_ms / 1000.0;
            let cpu = 0.3
                + index_rate * 0.1 / 1000.0
                + search_cores
                + node.merges_current * 0.5
                + node.jvm.gc_share() * cores * 0.6
                + many * 0.5;
            node.process_cpu_ms += cpu.min(cores) * dt * 1000.0;
            node.transport_rx += (index_rate * 0.5 * dt).round();
            node.transport_tx += (index_rate * 0.5 * dt).round();
            node.http_opened += events(rng, 0.02 * dt);
            let merge_io = node.merges_current * 20e6;
            node.host.step(
                dt,
                &HostLoad {
                    cpu_user: cpu * 0.85,
                    cpu_system: cpu * 0.15,
                    read_iops: served * 0.3 + merge_io / 262_144.0 + 10.0,
                    write_iops: index_rate / 100.0 + merge_io / 262_144.0 + 10.0,
                    read_bps: served * 0.3 * 16_384.0 + merge_io,
                    write_bps: index_rate * DOC_BYTES * 1.5 + merge_io,
                    net_rx_bps: index_rate * DOC_BYTES * 1.2 + served * 500.0,
                    net_tx_bps: served * 2_000.0 + index_rate * 300.0,
                    data_bytes: store[i] + GIB,
                    rss_bytes: node.jvm.rss(),
                    disk_slowdown: 1.0,
                },
                rng,
            );
            node.cpu_percent = (node.host.feedback().cpu_busy * 100.0).round();
            pending += many * (3.0 + 4.0 * gauss(rng).abs());
        }
        self.pending_tasks = pending.round();
        self.max_waiting_ms =
            if self.pending_tasks > 0.0 { (self.pending_tasks * 350.0).round() } else { 0.0 };
    }

    /// Answers a REST request.
    pub(crate) fn api(&self, path_and_query: &str, ts: i64) -> (u16, String) {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let params: Vec<(&str, &str)> = query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "true")))
            .collect();
        let param = |k: &str| params.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let path = path.trim_end_matches('/');
        let body = match path {
            "" => self.info(),
            "/_cluster/health" => self.health(),
            "/_cluster/settings"
                if self.settings.reject_include_defaults && param("include_defaults").is_some() =>
            {
                let reason =
                    format!("request [{path}] contains unrecognized parameter: [include_defaults]");
                let err = json!({
                    "error": {
                        "root_cause": [{"type": "illegal_argument_exception", "reason": reason}],
                        "type": "illegal_argument_exception",
                        "reason": reason,
                    },
                    "status": 400,
                });
                return (400, err.to_string());
            }
            "/_cluster/settings" => self.settings(
                param("include_defaults") == Some("true"),
                param("flat_settings") == Some("true"),
            ),
            "/_cat/shards" => {
                let bytes = param("bytes") == Some("b");
                if param("format") == Some("json") {
                    self.cat_shards_json(bytes)
                } else {
                    return (200, self.cat_shards_text(bytes));
                }
            }
            p if p == "/_nodes/stats"
                || p.starts_with("/_nodes/stats/")
                || (p.starts_with("/_nodes/") && p.contains("/stats")) =>
            {
                self.nodes_stats(ts)
            }
            _ => {
                let reason =
                    format!("no handler found for uri [{path_and_query}] and method [GET]");
                let err = json!({
                    "error": {
                        "root_cause": [{"type": "resource_not_found_exception", "reason": reason}],
                        "type": "resource_not_found_exception",
                        "reason": reason,
                    },
                    "status": 404,
                });
                return (404, err.to_string());
            }
        };
        (200, body.to_string())
    }

    fn info(&self) -> Value {
        let node = self.nodes.first().map_or("", |n| n.name.as_str());
        json!({
            "name": node,
            "cluster_name": self.name,
            "cluster_uuid": self.uuid,
            "version": {
                "number": "8.13.4",
                "build_flavor": "default",
                "build_type": "deb",
                "build_hash": "da95df118650b55a500dcc181889ac35c6d8da7c",
                "build_date": "2024-05-06T22:04:45.107454559Z",
                "build_snapshot": false,
                "lucene_version": "9.10.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        })
    }

    fn health(&self) -> Value {
        let total = self.shards.len() as f64;
        let active = self.shards.iter().filter(|s| s.node.is_some()).count() as f64;
        let active_primary = self.shards.iter().filter(|s| s.primary && s.node.is_some()).count();
        let unassigned_primary =
            self.shards.iter().filter(|s| s.primary && s.node.is_none()).count();
        let unassigned = total - active;
        let status = if unassigned_primary > 0 {
            "red"
        } else if unassigned > 0.0 {
            "yellow"
        } else {
            "green"
        };
        let pct = if total > 0.0 { active / total * 100.0 } else { 100.0 };
        json!({
            "cluster_name": self.name,
            "status": status,
            "timed_out": false,
            "number_of_nodes": self.nodes.len(),
            "number_of_data_nodes": self.nodes.len(),
            "active_primary_shards": active_primary,
            "active_shards": active as u64,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": unassigned as u64,
            "unassigned_primary_shards": unassigned_primary,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": self.pending_tasks as u64,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": self.max_waiting_ms as u64,
            "active_shards_percent_as_number": pct,
        })
    }

    fn settings(&self, include_defaults: bool, flat: bool) -> Value {
        let mut persistent: Vec<(&str, &str)> = Vec::new();
        if self.faults.0.iter().any(|f| f.fault == Fault::DiskLowWatermark) {
            persistent.push(("cluster.routing.allocation.disk.watermark.low", "85%"));
            persistent.push(("cluster.routing.allocation.disk.watermark.high", "90%"));
            persistent.push(("cluster.routing.allocation.disk.watermark.flood_stage", "95%"));
        }
        let limit = self.max_shards_per_node.map(|l| l.to_string());
        if let Some(limit) = &limit {
            // Creating this many shards needed the limit raised above the default 1000.
            persistent.push(("cluster.max_shards_per_node", limit.as_str()));
        }
        for (k, v) in &self.settings.persistent {
            persistent.retain(|(p, _)| p != k);
            persistent.push((k.as_str(), v.as_str()));
        }
        let transient: Vec<(&str, &str)> =
            self.settings.transient.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let set = |k: &str| persistent.iter().chain(&transient).any(|(p, _)| *p == k);
        let mut out = Map::new();
        out.insert("persistent".to_owned(), settings_object(&persistent, flat));
        out.insert("transient".to_owned(), settings_object(&transient, flat));
        if include_defaults {
            let mut defaults = vec![
                ("cluster.max_shards_per_node", "1000"),
                ("cluster.routing.allocation.disk.threshold_enabled", "true"),
                ("cluster.routing.allocation.disk.watermark.flood_stage", "95%"),
                ("cluster.routing.allocation.disk.watermark.high", "90%"),
                ("cluster.routing.allocation.disk.watermark.low", "85%"),
                ("cluster.routing.allocation.enable", "all"),
                ("action.destructive_requires_name", "true"),
                ("search.allow_expensive_queries", "true"),
            ];
            if flat {
                // ES 8: a percentage watermark asks for at most this much free space,
                // unless the watermark was set explicitly (then the default is -1, no cap).
                // Nested output would need one key to be a value and an object at once.
                for (level, cap) in [("low", "200gb"), ("high", "150gb"), ("flood_stage", "100gb")]
                {
                    let explicit =
                        set(&format!("cluster.routing.allocation.disk.watermark.{level}"));
                    let key = match level {
                        "low" => "cluster.routing.allocation.disk.watermark.low.max_headroom",
                        "high" => "cluster.routing.allocation.disk.watermark.high.max_headroom",
                        _ => "cluster.routing.allocation.disk.watermark.flood_stage.max_headroom",
                    };
                    defaults.push((key, if explicit { "-1" } else { cap }));
                }
            }
            let defaults: Vec<(&str, &str)> =
                defaults.into_iter().filter(|(k, _)| !set(k)).collect();
            out.insert("defaults".to_owned(), settings_object(&defaults, flat));
        }
        Value::Object(out)
    }

    fn shard_rows(&self, bytes: bool) -> Vec<[Option<String>; 8]> {
        let mut rows: Vec<(&str, u32, bool, [Option<String>; 8])> = self
            .shards
            .iter()
            .map(|s| {
                let idx = &self.indices[s.index];
                let row = match s.node {
                    Some(node) => {
                        let b = idx.bytes[s.shard as usize] * s.store_factor;
                        [
                            Some(idx.name.clone()),
                            Some(s.shard.to_string()),
                            Some(if s.primary { "p" } else { "r" }.to_owned()),
                            Some("STARTED".to_owned()),
                            Some(format!("{}", idx.docs[s.shard as usize] as u64)),
                            Some(if bytes { format!("{}", b as u64) } else { human_bytes(b) }),
                            Some(self.nodes[node].host.ip().to_owned()),
                            Some(self.nodes[node].name.clone()),
                        ]
                    }
                    None => [
                        Some(idx.name.clone()),
                        Some(s.shard.to_string()),
                        Some(if s.primary { "p" } else { "r" }.to_owned()),
                        Some("UNASSIGNED".to_owned()),
                        None,
                        None,
                        None,
                        None,
                    ],
                };
                (idx.name.as_str(), s.shard, !s.primary, row)
            })
            .collect();
        rows.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        rows.into_iter().map(|r| r.3).collect()
    }

    fn cat_shards_json(&self, bytes: bool) -> Value {
        const COLS: [&str; 8] =
            ["index", "shard", "prirep", "state", "docs", "store", "ip", "node"];
        Value::Array(
            self.shard_rows(bytes)
                .into_iter()
                .map(|row| {
                    let mut m = Map::new();
                    for (k, v) in COLS.iter().zip(row) {
                        m.insert((*k).to_owned(), v.map_or(Value::Null, Value::String));
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    }

    fn cat_shards_text(&self, bytes: bool) -> String {
        let rows = self.shard_rows(bytes);
        let mut widths = [0usize; 8];
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.as_deref().map_or(0, str::len));
            }
        }
        let mut out = String::new();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{:<w$}", c.as_deref().unwrap_or("")))
                .collect();
            out.push_str(cells.join(" ").trim_end());
            out.push('\n');
        }
        out
    }

    fn nodes_stats(&self, ts: i64) -> Value {
        let mut nodes = Map::new();
        for node in &self.nodes {
            nodes.insert(node.id.clone(), node_stats(node, ts));
        }
        json!({
            "_nodes": {"total": self.nodes.len(), "successful": self.nodes.len(), "failed": 0},
            "cluster_name": self.name,
            "nodes": Value::Object(nodes),
        })
    }

    pub(crate) fn render_node(&self, name: &str, ts: i64) -> Option<String> {
        let i = self.node_index(name)?;
        Some(self.nodes[i].host.render(ts))
    }
}

/// Nests dotted setting keys (`a.b.c`) into objects, or keeps them flat.
fn settings_object(pairs: &[(&str, &str)], flat: bool) -> Value {
    let mut root = Map::new();
    for (key, value) in pairs {
        if flat {
            root.insert((*key).to_owned(), Value::String((*value).to_owned()));
        } else {
            let parts: Vec<&str> = key.split('.').collect();
            insert_nested(&mut root, &parts, value);
        }
    }
    Value::Object(root)
}

fn insert_nested(map: &mut Map<String, Value>, parts: &[&str], value: &str) {
    match parts {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), Value::String(value.to_owned()));
        }
        [first, rest @ ..] => {
            let entry = map.entry((*first).to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(next) = entry {
                insert_nested(next, rest, value);
            }
        }
    }
}

fn node_stats(n: &EsNode, ts: i64) -> Value {
    let ip = n.host.ip();
    let (total_mem, free_mem, _) = n.host.memory();
    let used_mem = total_mem - free_mem;
    let heap_max = n.jvm.heap_max().floor();
    let heap_used = n.jvm.heap_used().floor();
    let (yc, yt, oc, ot) = n.jvm.gc_totals();
    let (threads, peak) = n.jvm.threads();
    let (open_fds, max_fds) = n.jvm.fds();
    let fs_total = n.host.data_fs_size().floor();
    let fs_avail = n.host.data_fs_avail().floor();
    let (mount, device) = n.host.data_mount();
    let load = n.host.load_averages();
    let mut pools = Map::new();
    for p in &n.pools {
        pools.insert(
            p.name.to_owned(),
            json!({
                "threads": p.threads as u64,
                "queue": p.queue as u64,
                "active": p.active as u64,
                "rejected": p.rejected as u64,
                "largest": p.largest as u64,
                "completed": p.completed as u64,
            }),
        );
    }
    let mut breakers = Map::new();
    for b in &n.breakers {
        breakers.insert(
            b.name.to_owned(),
            json!({
                "limit_size_in_bytes": b.limit.floor() as u64,
                "limit_size": human_bytes(b.limit),
                "estimated_size_in_bytes": b.estimated as u64,
                "estimated_size": human_bytes(b.estimated),
                "overhead": b.overhead,
                "tripped": b.tripped as u64,
            }),
        );
    }
    let u = |v: f64| v.max(0.0).floor() as u64;
    json!({
        "timestamp": ts,
        "name": n.name,
        "transport_address": format!("{ip}:9300"),
        "host": ip,
        "ip": format!("{ip}:9300"),
        "roles": [
            "data",
            "data_cold",
            "data_content",
            "data_frozen",
            "data_hot",
            "data_warm",
            "ingest",
            "master",
            "ml",
            "remote_cluster_client",
            "transform",
        ],
        "attributes": {
            "xpack.installed": "true",
            "ml.machine_memory": format!("{}", total_mem as u64),
            "ml.max_jvm_size": format!("{}", heap_max as u64),
        },
        "indices": {
            "docs": {"count": u(n.docs), "deleted": u(n.docs * 0.001)},
            "shard_stats": {"total_count": u(n.shards)},
            "store": {
                "size_in_bytes": u(n.store),
                "total_data_set_size_in_bytes": u(n.store),
                "reserved_in_bytes": 0,
            },
            "indexing": {
                "index_total": u(n.index_total),
                "index_time_in_millis": u(n.index_time_ms),
                "index_current": u(n.index_current),
                "index_failed": 0,
                "delete_total": 0,
                "delete_time_in_millis": 0,
                "delete_current": 0,
                "noop_update_total": 0,
                "is_throttled": n.is_throttled,
                "throttle_time_in_millis": u(n.throttle_time_ms),
            },
            "get": {
                "total": 0,
                "time_in_millis": 0,
                "exists_total": 0,
                "exists_time_in_millis": 0,
                "missing_total": 0,
                "missing_time_in_millis": 0,
                "current": 0,
            },
            "search": {
                "open_contexts": u(n.query_current),
                "query_total": u(n.query_total),
                "query_time_in_millis": u(n.query_time_ms),
                "query_current": u(n.query_current),
                "fetch_total": u(n.fetch_total),
                "fetch_time_in_millis": u(n.fetch_time_ms),
                "fetch_current": 0,
                "scroll_total": 0,
                "scroll_time_in_millis": 0,
                "scroll_current": 0,
                "suggest_total": 0,
                "suggest_time_in_millis": 0,
                "suggest_current": 0,
            },
            "merges": {
                "current": u(n.merges_current),
                "current_docs": u(n.merges_current * 40_000.0),
                "current_size_in_bytes": u(n.merges_current * 40_000.0 * DOC_BYTES),
                "total": u(n.merges_total),
                "total_time_in_millis": u(n.merges_time_ms),
                "total_docs": u(n.merges_docs),
                "total_size_in_bytes": u(n.merges_bytes),
                "total_stopped_time_in_millis": 0,
                "total_throttled_time_in_millis": u(n.merges_throttled_ms),
                "total_auto_throttle_in_bytes": 125_829_120u64,
            },
            "refresh": {
                "total": u(n.refresh_total),
                "total_time_in_millis": u(n.refresh_ms),
                "external_total": u(n.refresh_total),
                "external_total_time_in_millis": u(n.refresh_ms),
                "listeners": 0,
            },
            "flush": {
                "total": u(n.flush_total),
                "periodic": u(n.flush_total),
                "total_time_in_millis": u(n.flush_ms),
            },
            "warmer": {
                "current": 0,
                "total": u(n.refresh_total),
                "total_time_in_millis": u(n.refresh_total * 0.1),
            },
            "query_cache": {
                "memory_size_in_bytes": u(n.jvm.heap_max() * 0.02),
                "total_count": u(n.query_cache_hits + n.query_cache_misses),
                "hit_count": u(n.query_cache_hits),
                "miss_count": u(n.query_cache_misses),
                "cache_size": 1_200,
                "cache_count": 4_000,
                "evictions": 0,
            },
            "fielddata": {"memory_size_in_bytes": u(n.fielddata_bytes), "evictions": 0},
            "completion": {"size_in_bytes": 0},
            "segments": {
                "count": u(n.segments),
                "memory_in_bytes": 0,
                "index_writer_memory_in_bytes": u(n.index_current * 1e6),
                "version_map_memory_in_bytes": 0,
                "fixed_bit_set_memory_in_bytes": 0,
                "max_unsafe_auto_id_timestamp": -1,
            },
            "translog": {
                "operations": u(n.index_current * 100.0),
                "size_in_bytes": u(n.index_current * 1e5 + 55.0),
                "uncommitted_operations": 0,
                "uncommitted_size_in_bytes": 55,
                "earliest_last_modified_age": 0,
            },
            "request_cache": {
                "memory_size_in_bytes": 0,
                "evictions": 0,
                "hit_count": 0,
                "miss_count": 0,
            },
            "recovery": {
                "current_as_source": 0,
                "current_as_target": 0,
                "throttle_time_in_millis": 0,
            },
        },
        "os": {
            "timestamp": ts,
            "cpu": {
                "percent": n.cpu_percent as u64,
                "load_average": {
                    "1m": round2(load[0]),
                    "5m": round2(load[1]),
                    "15m": round2(load[2]),
                },
            },
            "mem": {
                "total_in_bytes": u(total_mem),
                "free_in_bytes": u(free_mem),
                "used_in_bytes": u(used_mem),
                "free_percent": (free_mem / total_mem * 100.0).round() as u64,
                "used_percent": (used_mem / total_mem * 100.0).round() as u64,
            },
            "swap": {
                "total_in_bytes": n.host.profile().swap_bytes,
                "free_in_bytes": n.host.profile().swap_bytes,
                "used_in_bytes": 0,
            },
        },
        "process": {
            "timestamp": ts,
            "open_file_descriptors": open_fds as u64,
            "max_file_descriptors": max_fds as u64,
            "cpu": {"percent": n.cpu_percent as u64, "total_in_millis": u(n.process_cpu_ms)},
            "mem": {"total_virtual_in_bytes": u(n.jvm.rss() * 1.6)},
        },
        "jvm": {
            "timestamp": ts,
            "uptime_in_millis": u(n.uptime_ms),
            "mem": {
                "heap_used_in_bytes": heap_used as u64,
                "heap_used_percent": (heap_used / heap_max * 100.0).floor() as u64,
                "heap_committed_in_bytes": heap_max as u64,
                "heap_max_in_bytes": heap_max as u64,
                "non_heap_used_in_bytes": u(n.jvm.nonheap()),
                "non_heap_committed_in_bytes": u(n.jvm.nonheap() * 1.05),
                "pools": {
                    "young": {
                        "used_in_bytes": u(n.jvm.eden_used()),
                        "max_in_bytes": 0,
                        "peak_used_in_bytes": u(heap_max * 0.25),
                        "peak_max_in_bytes": 0,
                    },
                    "old": {
                        "used_in_bytes": u(n.jvm.old_used()),
                        "max_in_bytes": heap_max as u64,
                        "peak_used_in_bytes": u(n.jvm.old_used().max(heap_max * 0.5)),
                        "peak_max_in_bytes": heap_max as u64,
                    },
                    "survivor": {
                        "used_in_bytes": u(heap_max * 0.01),
                        "max_in_bytes": 0,
                        "peak_used_in_bytes": u(heap_max * 0.02),
                        "peak_max_in_bytes": 0,
                    },
                },
            },
            "threads": {"count": threads as u64, "peak_count": peak as u64},
            "gc": {"collectors": {
                "young": {
                    "collection_count": yc as u64,
                    "collection_time_in_millis": u(yt * 1000.0),
                },
                "old": {"collection_count": oc as u64, "collection_time_in_millis": u(ot * 1000.0)},
            }},
            "buffer_pools": {
                "mapped": {
                    "count": u(n.segments * 3.0),
                    "used_in_bytes": u(n.store * 0.05),
                    "total_capacity_in_bytes": u(n.store * 0.05),
                },
                "direct": {
                    "count": 64,
                    "used_in_bytes": 67_108_864u64,
                    "total_capacity_in_bytes": 67_108_864u64,
                },
            },
            "classes": {
                "current_loaded_count": 28_431,
                "total_loaded_count": 28_850,
                "total_unloaded_count": 419,
            },
        },
        "thread_pool": Value::Object(pools),
        "fs": {
            "timestamp": ts,
            "total": {
                "total_in_bytes": fs_total as u64,
                "free_in_bytes": fs_avail as u64,
                "available_in_bytes": fs_avail as u64,
            },
            "data": [{
                "path": mount,
                "mount": format!("{mount} ({device})"),
                "type": "xfs",
                "total_in_bytes": fs_total as u64,
                "free_in_bytes": fs_avail as u64,
                "available_in_bytes": fs_avail as u64,
            }],
            "io_stats": {},
        },
        "transport": {
            "server_open": 12,
            "total_outbound_connections": 12,
            "rx_count": u(n.transport_rx),
            "rx_size_in_bytes": u(n.transport_rx * 900.0),
            "tx_count": u(n.transport_tx),
            "tx_size_in_bytes": u(n.transport_tx * 900.0),
        },
        "http": {"current_open": 4, "total_opened": u(n.http_opened)},
        "breakers": Value::Object(breakers),
        "indexing_pressure": {"memory": {
            "current": {
                "combined_coordinating_and_primary_in_bytes": 0,
                "coordinating_in_bytes": 0,
                "primary_in_bytes": 0,
                "replica_in_bytes": 0,
                "all_in_bytes": u(n.index_current * 4e5),
            },
            "total": {
                "combined_coordinating_and_primary_in_bytes": u(n.index_total * 900.0),
                "coordinating_in_bytes": u(n.index_total * 450.0),
                "primary_in_bytes": u(n.index_total * 450.0),
                "replica_in_bytes": u(n.index_total * 450.0),
                "all_in_bytes": u(n.index_total * 1350.0),
                "coordinating_rejections": 0,
                "primary_rejections": 0,
                "replica_rejections": 0,
            },
            "limit_in_bytes": u(heap_max * 0.1),
        }},
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
