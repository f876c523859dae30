//! The Cassandra cluster model and its jmx_exporter page.
//!
//! Each node coordinates client reads and writes (a share of the cluster's traffic that follows
//! the daily cycle) and applies replica mutations and local reads. Thread pools are queues:
//! MutationStage and ReadStage back up when demand exceeds what the node's cores can serve,
//! and mutations that wait longer than the write timeout are dropped. Flushes create
//! compaction tasks that the compaction executor works off; the backlog drives live SSTables,
//! SSTables touched per read and read latency. Live data grows with writes and shrinks with
//! TTL expiry; hints accumulate on coordinators while a replica is down. The host and JVM
//! models supply disk latency and GC pauses, which feed back into request latency.
//!
//! Metric names are those of jmx_exporter's `examples/cassandra.yml` (see the checks
//! catalogue §0); `Table` metrics, `ClientRequest` latency and `TotalHintsInProgress` are
//! rendered as if their beans were whitelisted.

use super::exposition::{Kind, TextWriter};
use super::host::{GIB, Host, HostLoad, round6};
use super::jvm::{Jvm, JvmLoad};
use super::workload::{
    Ar1, SimRng, cassandra_bucket, diurnal, events, gauss, node_ip, queue_len, rng_for, uniform,
};
use super::{ClusterSpec, Fault, Faults};

/// Keyspaces of the simulated schema.
const KEYSPACES: [&str; 2] = ["shop", "telemetry"];

/// One table of the simulated schema.
struct TableDef {
    keyspace: usize,
    name: &'static str,
    read_share: f64,
    write_share: f64,
    base_sstables: f64,
    base_sstables_per_read: f64,
    max_partition_bytes: f64,
}

const TABLES: [TableDef; 4] = [
    TableDef {
        keyspace: 0,
        name: "orders",
        read_share: 0.35,
        write_share: 0.15,
        base_sstables: 8.0,
        base_sstables_per_read: 1.0,
        max_partition_bytes: 2_299_000.0,
    },
    TableDef {
        keyspace: 0,
        name: "carts",
        read_share: 0.25,
        write_share: 0.20,
        base_sstables: 10.0,
        base_sstables_per_read: 1.0,
        max_partition_bytes: 545_791.0,
    },
    TableDef {
        keyspace: 0,
        name: "users",
        read_share: 0.10,
        write_share: 0.05,
        base_sstables: 5.0,
        base_sstables_per_read: 0.0,
        max_partition_bytes: 105_778.0,
    },
    TableDef {
        keyspace: 1,
        name: "readings",
        read_share: 0.30,
        write_share: 0.60,
        base_sstables: 14.0,
        base_sstables_per_read: 1.5,
        max_partition_bytes: 35_425_000.0,
    },
];

/// The table that tombstone_heavy_reads hits (a queue-like table with many deletes).
const TOMBSTONE_TABLE: usize = 1;

/// Dropped-message scopes of Cassandra 3.x/4.0 (`cassandra_droppedmessage_dropped_count`).
const DROPPED: [&str; 11] = [
    "BATCH_REMOVE",
    "BATCH_STORE",
    "COUNTER_MUTATION",
    "HINT",
    "MUTATION",
    "PAGED_RANGE",
    "RANGE_SLICE",
    "READ",
    "READ_REPAIR",
    "REQUEST_RESPONSE",
    "_TRACE",
];
const DROPPED_MUTATION: usize = 4;
const DROPPED_READ: usize = 7;

/// Latency/histogram percentiles Cassandra exposes, with jmx_exporter's `0.$N` label.
const QUANTILES: [(&str, f64); 6] =
    [("0.50", 0.25), ("0.75", 0.4), ("0.95", 0.7), ("0.98", 0.85), ("0.99", 1.0), ("0.999", 2.2)];

/// Thread pools: (path, name, max pool size or 0 for "from hardware").
const POOLS: [(&str, &str, f64); 17] = [
    ("internal", "AntiEntropyStage", 1.0),
    ("internal", "CacheCleanupExecutor", 1.0),
    ("internal", "CompactionExecutor", 0.0),
    ("internal", "GossipStage", 1.0),
    ("internal", "HintsDispatcher", 2.0),
    ("internal", "MemtableFlushWriter", 2.0),
    ("internal", "MemtablePostFlush", 1.0),
    ("internal", "MemtableReclaimMemory", 1.0),
    ("internal", "MigrationStage", 1.0),
    ("internal", "MiscStage", 1.0),
    ("internal", "PendingRangeCalculator", 1.0),
    ("internal", "ValidationExecutor", 0.0),
    ("request", "CounterMutationStage", 32.0),
    ("request", "MutationStage", 32.0),
    ("request", "ReadStage", 32.0),
    ("request", "RequestResponseStage", 0.0),
    ("transport", "Native-Transport-Requests", 128.0),
];
const P_COMPACTION: usize = 2;
const P_GOSSIP: usize = 3;
const P_HINTS: usize = 4;
const P_FLUSH: usize = 5;
const P_MUTATION: usize = 13;
const P_READ: usize = 14;
const P_RESPONSE: usize = 15;
const P_NATIVE: usize = 16;

/// Client (coordinator) write rate per node at load 1, before replication.
const CLIENT_WRITES: f64 = 500.0;
/// Client read rate per node at load 1.
const CLIENT_READS: f64 = 700.0;
/// Mutations one core applies per second at normal cost.
const MUTATIONS_PER_CORE: f64 = 2_500.0;
/// Local reads one core serves per second at normal cost.
const READS_PER_CORE: f64 = 1_200.0;
/// Bytes a mutation adds to live data before compaction and expiry.
const BYTES_PER_MUTATION: f64 = 450.0;

#[derive(Debug, Clone, Default)]
struct Pool {
    max: f64,
    active: f64,
    pending: f64,
    completed: f64,
    blocked_now: f64,
    blocked_total: f64,
}

/// Latency counters of one request kind (a Cassandra `Timer`).
#[derive(Debug, Clone, Default)]
struct Timer {
    count: f64,
    sum_s: f64,
    p99_s: f64,
}

impl Timer {
    fn record(&mut self, n: f64, p99_s: f64) {
        self.count += n.max(0.0).round();
        // Mean latency sits well below the p99 for these long-tailed distributions.
        self.sum_s += n.max(0.0).round() * p99_s * 0.42;
        self.p99_s = p99_s;
    }
}

#[derive(Debug, Clone, Default)]
struct TableState {
    live_sstables: f64,
    sstables_per_read_p99: f64,
    tombstones_p99: f64,
    bytes_unrepaired: f64,
}

#[derive(Debug, Clone, Default)]
struct ClientRequest {
    latency: Timer,
    timeouts: f64,
    unavailables: f64,
    failures: f64,
}

#[derive(Debug)]
struct CassNode {
    name: String,
    host: Host,
    jvm: Jvm,
    rng: SimRng,
    noise: Ar1,
    up: bool,
    token_share: f64,
    data0: f64,
    data: f64,
    fill_free0: Option<f64>,
    keyspace_read: Vec<Timer>,
    keyspace_write: Vec<Timer>,
    tables: Vec<TableState>,
    pools: Vec<Pool>,
    dropped: [f64; DROPPED.len()],
    mutation_backlog: f64,
    read_backlog: f64,
    pending_compactions: f64,
    compactions_completed: f64,
    bytes_compacted: f64,
    hints: f64,
    hints_in_progress: f64,
    storage_exceptions: f64,
    client_read: ClientRequest,
    client_write: ClientRequest,
    conn_timeouts: Vec<f64>,
    native_clients: f64,
    auth_success: f64,
}

/// A simulated Cassandra cluster.
#[derive(Debug)]
pub(crate) struct CassandraCluster {
    nodes: Vec<CassNode>,
    ips: Vec<String>,
    faults: Faults,
    load: f64,
}

impl CassandraCluster {
    pub(crate) fn new(spec: &ClusterSpec, faults: Faults, seed: u64, start_ms: i64) -> Self {
        let ips: Vec<String> = (0..spec.nodes.len()).map(|i| node_ip(&spec.name, i)).collect();
        let nodes = spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut rng = rng_for(seed, &[&spec.name, &n.name]);
                let host = Host::new(
                    &n.name,
                    ips[i].clone(),
                    &n.profile,
                    "/var/lib/cassandra",
                    start_ms,
                    &mut rng,
                );
                let ram = n.profile.ram_bytes as f64;
                // cassandra-env.sh: max(min(RAM/2, 1 GiB), min(RAM/4, 8 GiB)).
                let heap = (ram / 2.0).min(GIB).max((ram / 4.0).min(8.0 * GIB));
                let uptime = 86_400.0 * uniform(&mut rng, 5.0, 40.0);
                let jvm = Jvm::new(heap, 100_000.0, start_ms, uptime, &mut rng);
                let data0 = host.data_fs_size() * uniform(&mut rng, 0.36, 0.46);
                let cores = f64::from(n.profile.cores);
                let compactors = f64::from(n.profile.disks.min(n.profile.cores)).clamp(2.0, 8.0);
                let pools = POOLS
                    .iter()
                    .map(|(_, name, max)| {
                        let max = match *name {
                            "CompactionExecutor" | "ValidationExecutor" => compactors,
                            "RequestResponseStage" => cores,
                            _ => *max,
                        };
                        let completed = if *name == "CompactionExecutor" {
                            (uptime * 0.1).floor()
                        } else {
                            (uptime * uniform(&mut rng, 0.5, 50.0)).floor()
                        };
                        Pool { max, completed, ..Pool::default() }
                    })
                    .collect();
                let tables = TABLES
                    .iter()
                    .map(|t| TableState {
                        live_sstables: t.base_sstables,
                        sstables_per_read_p99: 1.0 + t.base_sstables_per_read,
                        tombstones_p99: 0.0,
                        bytes_unrepaired: data0 * t.write_share * 0.02,
                    })
                    .collect();
                let timer = |rate: f64, p99: f64| Timer {
                    count: (uptime * rate).floor(),
                    sum_s: (uptime * rate).floor() * p99 * 0.42,
                    p99_s: p99,
                };
                CassNode {
                    name: n.name.clone(),
                    jvm,
                    rng,
                    noise: Ar1::new(0.05, 900.0),
                    up: true,
                    token_share: 1.0,
                    data0,
                    data: data0,
                    fill_free0: None,
                    keyspace_read: KEYSPACES.iter().map(|_| timer(400.0, 0.001)).collect(),
                    keyspace_write: KEYSPACES.iter().map(|_| timer(700.0, 0.0005)).collect(),
                    tables,
                    pools,
                    dropped: [0.0; DROPPED.len()],
                    mutation_backlog: 0.0,
                    read_backlog: 0.0,
                    pending_compactions: 0.0,
                    compactions_completed: (uptime * 0.1).floor(),
                    bytes_compacted: (uptime * 0.1 * 150e6).floor(),
                    hints: 0.0,
                    hints_in_progress: 0.0,
                    storage_exceptions: 0.0,
                    client_read: ClientRequest {
                        latency: timer(700.0, 0.0015),
                        ..Default::default()
                    },
                    client_write: ClientRequest {
                        latency: timer(500.0, 0.001),
                        ..Default::default()
                    },
                    conn_timeouts: vec![0.0; spec.nodes.len()],
                    native_clients: 48.0,
                    auth_success: (uptime * 0.01).floor(),
                    host,
                }
            })
            .collect::<Vec<_>>();
        let mut c = CassandraCluster { nodes, ips, faults, load: spec.load };
        // Token ownership varies a little between nodes.
        for n in &mut c.nodes {
            n.token_share = 1.0 + 0.04 * gauss(&mut n.rng);
        }
        c
    }

    pub(crate) fn node_up(&self, name: &str) -> Option<bool> {
        self.nodes.iter().find(|n| n.name == name).map(|n| n.up)
    }

    pub(crate) fn step(&mut self, t: i64, dt: f64) {
        let n = self.nodes.len();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            node.up = self.faults.severity(Fault::HintsForDownNode, i, t) == 0.0;
        }
        let down: Vec<usize> = (0..n).filter(|&i| !self.nodes[i].up).collect();
        for i in 0..n {
            if self.nodes[i].up {
                self.step_node(i, t, dt, &down);
            }
        }
    }

    fn step_node(&mut self, i: usize, t: i64, dt: f64, down: &[usize]) {
        let f = &self.faults;
        let comp = f.level(Fault::CompactionBacklog, i, t, 300.0);
        let gc = f.level(Fault::GcPressure, i, t, 300.0);
        let tomb = f.level(Fault::TombstoneHeavyReads, i, t, 300.0);
        let tomb_age_min = f.age_s(Fault::TombstoneHeavyReads, i, t) / 60.0;
        let fill = f.level(Fault::DiskFilling, i, t, 120.0);
        let drop = f.level(Fault::DroppedMutations, i, t, 180.0);
        let n = self.nodes.len() as f64;
        let n_down = down.len() as f64;
        let n_up = n - n_down;
        let rf = n.min(3.0);
        let load = self.load;
        let node = &mut self.nodes[i];
        let rng = &mut node.rng;
        let fb = node.host.feedback();
        let cores = f64::from(node.host.profile().cores);
        let ssd = matches!(node.host.profile().disk_kind, super::DiskKind::Ssd);

        let noise = node.noise.step(rng, dt);
        let scale = load * diurnal(t) * (1.0 + noise).max(0.2) * node.token_share;
        // Surviving coordinators take over the down nodes' clients.
        let coord_share = n / n_up;
        let client_w = CLIENT_WRITES * scale * coord_share * (1.0 + 0.5 * drop);
        let client_r = CLIENT_READS * scale * coord_share;
        let local_w = CLIENT_WRITES * rf * scale * (1.0 + 0.5 * drop);
        let local_r = CLIENT_READS * 1.1 * scale;

        // --- MutationStage: a queue in front of the cores; waits beyond 2 s are dropped.
        let mutation_cost = 1.0 + 14.0 * drop;
        // MutationStage threads (concurrent_writes) can take at most 3/4 of the cores; the rest
        // stays with reads, compaction and GC.
        let cap_w = MUTATIONS_PER_CORE * cores * 0.75 / mutation_cost;
        let rho_w = local_w / cap_w;
        let mut backlog =
            (node.mutation_backlog + (local_w - cap_w) * dt).max(queue_len(rho_w, 3.0));
        let timeout_cap = cap_w * 2.0;
        let mut dropped_w = 0.0;
        if backlog > timeout_cap {
            dropped_w = (backlog - timeout_cap).round();
            backlog = timeout_cap;
        }
        node.mutation_backlog = backlog;
        let served_w = local_w.min(cap_w);
        node.dropped[DROPPED_MUTATION] += dropped_w;
        let write_cores = served_w * mutation_cost / MUTATIONS_PER_CORE;

        // --- Compaction: flushes create tasks, the executor works them off.
        let compactors = node.pools[P_COMPACTION].max;
        // The backlog fault: compaction throughput throttled far below what the write load
        // needs, while anticompaction/streaming keeps adding SSTables to compact.
        let arrivals = events(
            rng,
            (0.12 * (served_w / 1500.0) * (1.0 + 0.3 * comp) + 0.02 + 0.06 * comp) * dt,
        );
        let service = (if ssd { 0.45 } else { 0.22 }) * (1.0 - 0.92 * comp);
        let done = events(rng, service * dt).min(node.pending_compactions + arrivals);
        node.pending_compactions =
            (node.pending_compactions + arrivals - done).clamp(0.0, 20_000.0);
        node.compactions_completed += done;
        let active_comp = if node.pending_compactions > 0.0 {
            node.pending_compactions.min(compactors)
        } else if done > 0.0 {
            1.0
        } else {
            0.0
        };
        // compaction_throughput is shared by the running compactions; a throttled node
        // (the backlog fault) compacts at a fraction of the normal speed.
        let comp_throttle = 1.0 - 0.8 * comp;
        let comp_bps = active_comp * 16e6 * comp_throttle;
        node.bytes_compacted += (comp_bps * dt).round();
        let blocked = if comp > 0.0 && node.pending_compactions > 32.0 {
            ((node.pending_compactions - 32.0) / 20.0).min(12.0).round().max(1.0)
        } else {
            0.0
        };
        {
            let p = &mut node.pools[P_COMPACTION];
            p.active = active_comp.round();
            p.pending = node.pending_compactions;
            p.completed += done;
            p.blocked_now = blocked;
            p.blocked_total += (blocked * dt * 0.05).round();
        }

        // --- Tables: SSTables, SSTables per read, tombstones.
        let mut spr_mean = 0.0;
        for (ti, (def, ts)) in TABLES.iter().zip(&mut node.tables).enumerate() {
            let share = node.pending_compactions * def.write_share;
            ts.live_sstables = (def.base_sstables + share * 0.7 + events(rng, 1.5)).round();
            ts.sstables_per_read_p99 = cassandra_bucket(
                1.0 + def.base_sstables_per_read + share / 12.0 + 0.3 * gauss(rng).abs(),
            )
            .min(40.0);
            spr_mean += def.read_share * ts.sstables_per_read_p99;
            ts.tombstones_p99 = if ti == TOMBSTONE_TABLE {
                let healthy = 6.0 + 4.0 * gauss(rng).abs();
                let heavy = if tomb > 0.0 { tomb * (1_200.0 + 30.0 * tomb_age_min) } else { 0.0 };
                cassandra_bucket((healthy + heavy).min(100_000.0))
            } else if ti == 0 {
                cassandra_bucket(1.0 + gauss(rng).abs())
            } else {
                0.0
            };
            ts.bytes_unrepaired += def.write_share * served_w * BYTES_PER_MUTATION * dt * 0.1;
        }
        let tomb_p99 = node.tables[TOMBSTONE_TABLE].tombstones_p99;

        // --- ReadStage.
        let read_cost = (1.0 + 0.12 * (spr_mean - 1.0).max(0.0))
            * (1.0 + TABLES[TOMBSTONE_TABLE].read_share * tomb_p99 / 400.0);
        let gc_cores = node.jvm.gc_share() * cores * 0.6;
        // Compaction's CPU follows the bytes it compacts: a throttled compaction (the backlog
        // fault) mostly sleeps in the rate limiter, so its threads are busy but not its cores.
        let comp_cores = active_comp * 0.6 * comp_throttle;
        let read_cores_avail = (cores - write_cores - comp_cores - gc_cores).max(0.5);
        let cap_r = READS_PER_CORE * read_cores_avail / read_cost;
        let rho_r = local_r / cap_r;
        let mut read_backlog =
            (node.read_backlog + (local_r - cap_r) * dt).max(queue_len(rho_r, 3.0));
        if read_backlog > cap_r * 5.0 {
            node.dropped[DROPPED_READ] += (read_backlog - cap_r * 5.0).round();
            read_backlog = cap_r * 5.0;
        }
        node.read_backlog = read_backlog;
        let served_r = local_r.min(cap_r);
        let read_cores = served_r * read_cost / READS_PER_CORE;

        // --- Latency (seconds, p99), GC pauses hit the tail once they are frequent.
        let g = node.jvm.gc_share();
        // Once pauses take a noticeable share of the wall clock, the p99 request waits for one.
        let gc_spike = 1.5 * g * (g / (g + 0.02));
        let jitter = (1.0 + 0.08 * gauss(rng)).max(0.7);
        let base_r = if ssd { 0.0009 } else { 0.009 };
        // Each extra SSTable a read touches costs a (partly cached) disk read.
        let table_read = |spr: f64, tombstones: f64| {
            ((base_r + fb.read_latency_s * spr * 0.3) * (1.0 + 0.25 * (spr - 1.0).max(0.0))
                + tombstones * 1.5e-6
                + read_backlog / served_r.max(1.0)
                + gc_spike)
                * jitter
        };
        let read_p99 = table_read(spr_mean, 0.0);
        let write_p99 =
            (0.0005 + 2.0 * fb.write_latency_s + backlog / served_w.max(1.0) + gc_spike) * jitter;
        for (k, _) in KEYSPACES.iter().enumerate() {
            let (rs, ws): (f64, f64) = TABLES
                .iter()
                .filter(|t| t.keyspace == k)
                .fold((0.0, 0.0), |a, t| (a.0 + t.read_share, a.1 + t.write_share));
            // A keyspace's p99 is set by its slowest table.
            let ks_read = TABLES
                .iter()
                .zip(&node.tables)
                .filter(|(t, _)| t.keyspace == k)
                .map(|(_, ts)| table_read(ts.sstables_per_read_p99, ts.tombstones_p99))
                .fold(0.0, f64::max);
            node.keyspace_read[k].record(served_r * rs * dt, ks_read);
            node.keyspace_write[k].record(served_w * ws * dt, write_p99);
        }
        node.client_read.latency.record(client_r * dt, read_p99 * 1.1 + 0.0004);
        node.client_write.latency.record(client_w * dt, write_p99 + 0.0005);
        node.client_write.timeouts += (dropped_w / rf).round();
        if n_down >= 2.0 && rf >= 3.0 {
            node.client_write.unavailables += events(rng, client_w * 0.3 * dt);
            node.client_read.unavailables += events(rng, client_r * 0.1 * dt);
        }

        // --- Hints for down replicas.
        let hint_rate = client_w * (rf / n) * n_down;
        node.hints += events(rng, hint_rate * dt);
        node.hints_in_progress = if n_down > 0.0 {
            (hint_rate * 0.02 * (1.0 + 0.2 * gauss(rng))).round().max(1.0)
        } else {
            0.0
        };
        for &d in down {
            node.conn_timeouts[d] += events(rng, 1.5 * dt);
        }
        node.native_clients = (48.0 * coord_share + 2.0 * gauss(rng)).round().max(1.0);
        node.auth_success += events(rng, 0.01 * dt);

        // --- Data on disk: writes add, TTL expiry removes (equilibrium at the initial size),
        // disk_filling adds GBs per hour until the disk is full.
        let nominal = CLIENT_WRITES * rf * load * node.token_share * BYTES_PER_MUTATION;
        let mut growth = served_w * BYTES_PER_MUTATION - nominal * node.data / node.data0;
        growth += hint_rate * 300.0;
        if fill > 0.0 {
            let free0 = *node.fill_free0.get_or_insert(node.host.data_fs_avail());
            growth += fill * free0 / (8.0 * 3600.0);
        }
        let overhead = 2.0 * GIB;
        let room = node.host.data_fs_size() - overhead;
        node.data = (node.data + growth * dt).clamp(0.0, room);
        if node.host.data_fs_avail() < 0.005 * node.host.data_fs_size() {
            node.storage_exceptions += events(rng, served_w * 0.01 * dt);
        }

        // --- Other pools.
        let pools = &mut node.pools;
        pools[P_MUTATION].pending =
            if backlog < 1.0 { events(rng, backlog) } else { backlog.round() };
        pools[P_MUTATION].active = (served_w * write_p99 * 0.3).min(32.0).round();
        pools[P_MUTATION].completed += (served_w * dt).round();
        pools[P_READ].pending =
            if read_backlog < 1.0 { events(rng, read_backlog) } else { read_backlog.round() };
        pools[P_READ].active = (served_r * read_p99 * 0.3).min(32.0).round();
        pools[P_READ].completed += (served_r * dt).round();
        pools[P_RESPONSE].completed += ((served_w + served_r) * 0.6 * dt).round();
        pools[P_GOSSIP].completed += dt.round();
        pools[P_FLUSH].completed += events(rng, 0.01 * (served_w / 1500.0) * dt);
        pools[P_HINTS].completed += (dt / 10.0).round();
        let native = &mut pools[P_NATIVE];
        native.completed += ((client_r + client_w) * dt).round();
        native.active = ((client_r + client_w) * write_p99.max(read_p99)).min(128.0).round();
        native.pending = if rho_w > 1.0 { (backlog / 50.0).min(1024.0).round() } else { 0.0 };
        native.blocked_now =
            if rho_w > 1.2 { (4.0 * (rho_w - 1.0)).min(16.0).round() } else { 0.0 };
        native.blocked_total += (native.blocked_now * dt).round();

        // --- JVM and host.
        let sstables: f64 = node.tables.iter().map(|t| t.live_sstables).sum();
        // Under GC pressure caches thrash and churn more garbage too.
        let alloc = (40e6 + served_w * 20e3 * (1.0 + drop) + served_r * read_cost * 40e3)
            * (1.0 + 0.5 * gc);
        node.jvm.step(
            dt,
            &JvmLoad {
                alloc_bps: alloc,
                live_target: 0.30 + 0.60 * gc + 0.05 * tomb + 0.10 * drop,
                promotion: 0.02 + 0.30 * gc + 0.03 * drop,
                young_share: 0.2 - 0.15 * gc,
                threads: 190.0 + node.native_clients * 0.5 + 2.0 * gauss(rng),
                open_fds: 250.0 + sstables * 8.0 + node.native_clients,
                cpu_cores: 0.3 + write_cores + read_cores + comp_cores + gc_cores,
            },
            rng,
        );
        let cpu = 0.3 + write_cores + read_cores + comp_cores + node.jvm.gc_share() * cores * 0.6;
        let cache_miss = 0.15;
        let host_load = HostLoad {
            cpu_user: cpu * 0.82,
            cpu_system: cpu * 0.18,
            read_iops: served_r * cache_miss * spr_mean + active_comp * 120.0,
            write_iops: served_w / 40.0 + active_comp * 80.0 + 5.0,
            read_bps: served_r * cache_miss * spr_mean * 16_384.0 + comp_bps,
            write_bps: served_w * BYTES_PER_MUTATION * 2.0 + comp_bps + hint_rate * 300.0,
            net_rx_bps: (client_w + local_w) * 700.0 + client_r * 200.0,
            net_tx_bps: client_r * 2_500.0 + local_r * 1_200.0 + local_w * 100.0,
            data_bytes: node.data + overhead * 0.5,
            rss_bytes: node.jvm.rss() + 1.5 * GIB + node.data * 0.0005,
            disk_slowdown: 1.0,
        };
        node.host.step(dt, &host_load, rng);
    }

    fn node(&self, name: &str) -> Option<&CassNode> {
        self.nodes.iter().find(|n| n.name == name && n.up)
    }

    pub(crate) fn render_node(&self, name: &str, ts: i64) -> Option<String> {
        Some(self.node(name)?.host.render(ts))
    }

    pub(crate) fn render_jmx(&self, name: &str, ts: i64) -> Option<String> {
        let n = self.node(name)?;
        let mut w = TextWriter::new(ts);
        render_cassandra(n, &self.ips, &mut w);
        n.jvm.render_agent(&mut w);
        Some(w.finish())
    }
}

fn help(bean: &str) -> String {
    format!("Attribute exposed for management ({bean})")
}

fn gauge_or_untyped(w: &mut TextWriter, name: &str, bean: &str, kind: Kind) {
    w.family(name, &help(bean), kind);
}

fn render_cassandra(n: &CassNode, ips: &[String], w: &mut TextWriter) {
    const M: &str = "org.apache.cassandra.metrics";
    let g = Kind::Gauge;
    let u = Kind::Untyped;

    gauge_or_untyped(
        w,
        "cassandra_client_authfailure_count",
        &format!("{M}<type=Client, name=AuthFailure><>Count"),
        u,
    );
    w.sample("cassandra_client_authfailure_count", &[], 0.0);
    gauge_or_untyped(
        w,
        "cassandra_client_authsuccess_count",
        &format!("{M}<type=Client, name=AuthSuccess><>Count"),
        u,
    );
    w.sample("cassandra_client_authsuccess_count", &[], n.auth_success);
    gauge_or_untyped(
        w,
        "cassandra_client_connectednativeclients",
        &format!("{M}<type=Client, name=connectedNativeClients><>Value"),
        g,
    );
    w.sample("cassandra_client_connectednativeclients", &[], n.native_clients);

    // ClientRequest (coordinator) metrics, as if whitelisted.
    let reqs = [("Read", &n.client_read), ("Write", &n.client_write)];
    gauge_or_untyped(
        w,
        "cassandra_clientrequest_latency_seconds",
        &format!("{M}<type=ClientRequest, scope=Read, name=Latency><>99thPercentile"),
        g,
    );
    for (scope, r) in reqs {
        for (q, m) in QUANTILES {
            let v = micros_bucket(r.latency.p99_s * m);
            w.sample(
                "cassandra_clientrequest_latency_seconds",
                &[("clientrequest", scope), ("quantile", q)],
                v,
            );
        }
    }
    gauge_or_untyped(
        w,
        "cassandra_clientrequest_latency_seconds_count",
        &format!("{M}<type=ClientRequest, scope=Read, name=Latency><>Count"),
        u,
    );
    for (scope, r) in reqs {
        w.sample(
            "cassandra_clientrequest_latency_seconds_count",
            &[("clientrequest", scope)],
            r.latency.count,
        );
    }
    gauge_or_untyped(
        w,
        "cassandra_clientrequest_latency_seconds_sum",
        &format!("{M}<type=ClientRequest, scope=Read, name=TotalLatency><>Count"),
        u,
    );
    for (scope, r) in reqs {
        w.sample(
            "cassandra_clientrequest_latency_seconds_sum",
            &[("clientrequest", scope)],
            round6(r.latency.sum_s),
        );
    }
    for (metric, bean, get) in [
        (
            "cassandra_clientrequest_failures_count",
            "Failures",
            (|r: &ClientRequest| r.failures) as fn(&ClientRequest) -> f64,
        ),
        ("cassandra_clientrequest_timeouts_count", "Timeouts", |r| r.timeouts),
        ("cassandra_clientrequest_unavailables_count", "Unavailables", |r| r.unavailables),
    ] {
        gauge_or_untyped(
            w,
            metric,
            &format!("{M}<type=ClientRequest, scope=Read, name={bean}><>Count"),
            u,
        );
        for (scope, r) in reqs {
            w.sample(metric, &[("clientrequest", scope)], get(r));
        }
    }

    gauge_or_untyped(
        w,
        "cassandra_columnfamily_bytesunrepaired",
        &format!(
            "{M}<type=ColumnFamily, keyspace=shop, scope=orders, name=BytesUnrepaired><>Value"
        ),
        g,
    );
    for (def, t) in TABLES.iter().zip(&n.tables) {
        w.sample(
            "cassandra_columnfamily_bytesunrepaired",
            &[("columnfamily", def.name), ("keyspace", KEYSPACES[def.keyspace])],
            t.bytes_unrepaired.floor(),
        );
    }
    gauge_or_untyped(
        w,
        "cassandra_columnfamily_livesstablecount",
        &format!(
            "{M}<type=ColumnFamily, keyspace=shop, scope=orders, name=LiveSSTableCount><>Value"
        ),
        g,
    );
    for (def, t) in TABLES.iter().zip(&n.tables) {
        w.sample(
            "cassandra_columnfamily_livesstablecount",
            &[("columnfamily", def.name), ("keyspace", KEYSPACES[def.keyspace])],
            t.live_sstables,
        );
    }

    gauge_or_untyped(
        w,
        "cassandra_compaction_bytescompacted_count",
        &format!("{M}<type=Compaction, name=BytesCompacted><>Count"),
        u,
    );
    w.sample("cassandra_compaction_bytescompacted_count", &[], n.bytes_compacted);
    gauge_or_untyped(
        w,
        "cassandra_compaction_completedtasks",
        &format!("{M}<type=Compaction, name=CompletedTasks><>Value"),
        g,
    );
    w.sample("cassandra_compaction_completedtasks", &[], n.compactions_completed);
    gauge_or_untyped(
        w,
        "cassandra_compaction_pendingtasks",
        &format!("{M}<type=Compaction, name=PendingTasks><>Value"),
        g,
    );
    w.sample("cassandra_compaction_pendingtasks", &[], n.pending_compactions);
    gauge_or_untyped(
        w,
        "cassandra_compaction_totalcompactionscompleted_count",
        &format!("{M}<type=Compaction, name=TotalCompactionsCompleted><>Count"),
        u,
    );
    w.sample("cassandra_compaction_totalcompactionscompleted_count", &[], n.compactions_completed);

    gauge_or_untyped(
        w,
        "cassandra_connection_timeouts_count",
        &format!("{M}<type=Connection, scope={}, name=Timeouts><>Count", ips[0]),
        u,
    );
    for (ip, v) in ips.iter().zip(&n.conn_timeouts) {
        if *ip != n.host.ip() {
            w.sample("cassandra_connection_timeouts_count", &[("connection", ip)], *v);
        }
    }

    gauge_or_untyped(
        w,
        "cassandra_droppedmessage_dropped_count",
        &format!("{M}<type=DroppedMessage, scope=MUTATION, name=Dropped><>Count"),
        u,
    );
    for (scope, v) in DROPPED.iter().zip(&n.dropped) {
        w.sample("cassandra_droppedmessage_dropped_count", &[("droppedmessage", scope)], *v);
    }

    let ks_pending: Vec<f64> = KEYSPACES
        .iter()
        .enumerate()
        .map(|(k, _)| {
            let share: f64 = TABLES.iter().filter(|t| t.keyspace == k).map(|t| t.write_share).sum();
            (n.pending_compactions * share).round()
        })
        .collect();
    gauge_or_untyped(
        w,
        "cassandra_keyspace_bloomfilterfalseratio",
        &format!("{M}<type=Keyspace, keyspace=shop, name=BloomFilterFalseRatio><>Value"),
        g,
    );
    for (k, ks) in KEYSPACES.iter().enumerate() {
        let ratio = 0.0021 + 0.00002 * ks_pending[k];
        w.sample("cassandra_keyspace_bloomfilterfalseratio", &[("keyspace", ks)], round6(ratio));
    }
    gauge_or_untyped(
        w,
        "cassandra_keyspace_pendingcompactions",
        &format!("{M}<type=Keyspace, keyspace=shop, name=PendingCompactions><>Value"),
        g,
    );
    for (k, ks) in KEYSPACES.iter().enumerate() {
        w.sample("cassandra_keyspace_pendingcompactions", &[("keyspace", ks)], ks_pending[k]);
    }
    for (op, timers) in [("read", &n.keyspace_read), ("write", &n.keyspace_write)] {
        let cap = if op == "read" { "Read" } else { "Write" };
        let name = format!("cassandra_keyspace_{op}latency_seconds");
        gauge_or_untyped(
            w,
            &name,
            &format!("{M}<type=Keyspace, keyspace=shop, name={cap}Latency><>99thPercentile"),
            g,
        );
        for (ks, t) in KEYSPACES.iter().zip(timers.iter()) {
            for (q, m) in QUANTILES {
                w.sample(&name, &[("keyspace", ks), ("quantile", q)], micros_bucket(t.p99_s * m));
            }
        }
        let count = format!("{name}_count");
        gauge_or_untyped(
            w,
            &count,
            &format!("{M}<type=Keyspace, keyspace=shop, name={cap}Latency><>Count"),
            u,
        );
        for (ks, t) in KEYSPACES.iter().zip(timers.iter()) {
            w.sample(&count, &[("keyspace", ks)], t.count);
        }
        let sum = format!("{name}_sum");
        gauge_or_untyped(
            w,
            &sum,
            &format!("{M}<type=Keyspace, keyspace=shop, name={cap}TotalLatency><>Count"),
            u,
        );
        for (ks, t) in KEYSPACES.iter().zip(timers.iter()) {
            w.sample(&sum, &[("keyspace", ks)], round6(t.sum_s));
        }
    }

    for (metric, bean, value) in [
        ("cassandra_storage_exceptions_count", "Exceptions", n.storage_exceptions),
        ("cassandra_storage_load_count", "Load", n.data.floor()),
        ("cassandra_storage_repairexceptions_count", "RepairExceptions", 0.0),
        ("cassandra_storage_totalhints_count", "TotalHints", n.hints),
        (
            "cassandra_storage_totalhintsinprogress_count",
            "TotalHintsInProgress",
            n.hints_in_progress,
        ),
    ] {
        gauge_or_untyped(w, metric, &format!("{M}<type=Storage, name={bean}><>Count"), u);
        w.sample(metric, &[], value);
    }

    // Table metrics, as if whitelisted.
    gauge_or_untyped(
        w,
        "cassandra_table_maxpartitionsize",
        &format!("{M}<type=Table, keyspace=shop, scope=orders, name=MaxPartitionSize><>Value"),
        g,
    );
    for def in &TABLES {
        w.sample(
            "cassandra_table_maxpartitionsize",
            &[("keyspace", KEYSPACES[def.keyspace]), ("table", def.name)],
            def.max_partition_bytes,
        );
    }
    for (metric, bean, get) in [
        (
            "cassandra_table_sstablesperreadhistogram",
            "SSTablesPerReadHistogram",
            (|t: &TableState| t.sstables_per_read_p99) as fn(&TableState) -> f64,
        ),
        ("cassandra_table_tombstonescannedhistogram", "TombstoneScannedHistogram", |t| {
            t.tombstones_p99
        }),
    ] {
        gauge_or_untyped(
            w,
            metric,
            &format!("{M}<type=Table, keyspace=shop, scope=orders, name={bean}><>99thPercentile"),
            g,
        );
        for (def, t) in TABLES.iter().zip(&n.tables) {
            for (q, m) in QUANTILES {
                let v = cassandra_bucket(get(t) * if q == "0.999" { 1.4 } else { m });
                w.sample(
                    metric,
                    &[("keyspace", KEYSPACES[def.keyspace]), ("quantile", q), ("table", def.name)],
                    v,
                );
            }
        }
    }

    type PoolField = fn(&Pool) -> f64;
    let pool_metrics: [(&str, &str, Kind, PoolField); 6] = [
        ("cassandra_threadpools_activetasks", "ActiveTasks><>Value", g, |p| p.active),
        ("cassandra_threadpools_completedtasks", "CompletedTasks><>Value", g, |p| p.completed),
        (
            "cassandra_threadpools_currentlyblockedtasks_count",
            "CurrentlyBlockedTasks><>Count",
            u,
            |p| p.blocked_now,
        ),
        ("cassandra_threadpools_maxpoolsize", "MaxPoolSize><>Value", g, |p| p.max),
        ("cassandra_threadpools_pendingtasks", "PendingTasks><>Value", g, |p| p.pending),
        ("cassandra_threadpools_totalblockedtasks_count", "TotalBlockedTasks><>Count", u, |p| {
            p.blocked_total
        }),
    ];
    for (metric, bean, kind, get) in pool_metrics {
        gauge_or_untyped(
            w,
            metric,
            &format!("{M}<type=ThreadPools, path=request, scope=MutationStage, name={bean}"),
            kind,
        );
        for ((path, pool, _), p) in POOLS.iter().zip(&n.pools) {
            w.sample(metric, &[("path", path), ("threadpools", pool)], get(p));
        }
    }
}

/// A latency in seconds as Cassandra reports it: bucketed in microseconds, converted back to
/// seconds by jmx_exporter's `valueFactor: 0.000001`.
fn micros_bucket(s: f64) -> f64 {
    cassandra_bucket(s * 1e6) / 1e6
}
