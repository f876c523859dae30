//! The Kafka cluster model, its brokers' jmx_exporter pages and the cluster's kafka_exporter
//! page.
//!
//! Topics have partitions with replicas spread over the brokers; the first replica is the
//! preferred leader. Each step, producers append to the leaders (rates follow the daily
//! cycle), followers fetch and either keep up or fall behind, and a follower that has not
//! caught up for `replica.lag.time.max.ms` (30 s) leaves the ISR (counted as an ISR shrink on
//! the leader) until it catches up again (an expand). Retention deletes whole segments, so log
//! sizes saw-tooth around their retention. Consumer groups commit offsets behind the log end.
//! The request-handler pool is a queue: its utilisation gives the idle-time meter, the request
//! queue and the produce latency. Slow disks show up in log-flush time, produce local time and
//! the host's disk latency.
//!
//! Broker metric names follow jmx_exporter's `examples/kafka-2_0_0.yml` (checks catalogue §0);
//! kafka_exporter names follow danielqsj/kafka_exporter.

use super::exposition::{Kind, TextWriter};
use super::host::{GIB, Host, HostLoad, round3};
use super::jvm::{Jvm, JvmLoad};
use super::workload::{Ar1, SimRng, diurnal, events, gauss, node_ip, queue_len, rng_for, uniform};
use super::{ClusterSpec, Fault, Faults};

struct TopicDef {
    name: &'static str,
    partitions: u32,
    /// Messages per second produced to the whole topic at load 1.
    rate: f64,
    /// Average message size on disk, bytes.
    msg_bytes: f64,
    /// Relative retention (share of the disk budget per unit of byte rate).
    retention_weight: f64,
}

const TOPICS: [TopicDef; 4] = [
    TopicDef {
        name: "__consumer_offsets",
        partitions: 50,
        rate: 40.0,
        msg_bytes: 120.0,
        retention_weight: 0.02,
    },
    TopicDef {
        name: "clickstream",
        partitions: 24,
        rate: 2_000.0,
        msg_bytes: 350.0,
        retention_weight: 1.0,
    },
    TopicDef {
        name: "orders",
        partitions: 12,
        rate: 600.0,
        msg_bytes: 700.0,
        retention_weight: 2.0,
    },
    TopicDef {
        name: "payments",
        partitions: 6,
        rate: 150.0,
        msg_bytes: 450.0,
        retention_weight: 3.0,
    },
];

/// Consumer groups: (name, topic index, members).
pub(crate) const GROUPS: [(&str, usize, f64); 4] = [
    ("analytics", 1, 6.0),
    ("billing", 2, 3.0),
    ("fraud-detector", 3, 2.0),
    ("order-service", 2, 4.0),
];
/// The group that falls behind under consumer_lag_growth.
const LAG_GROUP: usize = 0;

/// Request types tracked by `kafka.network:type=RequestMetrics`: (name, API version,
/// I/O-thread milliseconds per request).
const REQUESTS: [(&str, &str, f64); 5] = [
    ("FetchConsumer", "13", 0.4),
    ("FetchFollower", "13", 2.0),
    ("Metadata", "12", 0.5),
    ("OffsetCommit", "8", 0.5),
    ("Produce", "9", 1.5),
];
const R_FETCH_CONSUMER: usize = 0;
const R_FETCH_FOLLOWER: usize = 1;
const R_PRODUCE: usize = 4;

/// Histogram percentiles as jmx_exporter labels them, with their ratio to the p99.
const QUANTILES: [(&str, f64); 6] =
    [("0.50", 0.3), ("0.75", 0.5), ("0.95", 0.8), ("0.98", 0.9), ("0.99", 1.0), ("0.999", 1.8)];

/// I/O threads (`num.io.threads`).
const IO_THREADS: f64 = 8.0;
/// `queued.max.requests`.
const MAX_QUEUED: f64 = 500.0;
/// Produce requests per second the request_handler_saturation flood sends to a broker.
const FLOOD_REQS: f64 = 3_000.0;
/// `min.insync.replicas`.
const MIN_ISR: usize = 2;

#[derive(Debug, Clone)]
struct Partition {
    topic: usize,
    id: u32,
    replicas: Vec<usize>,
    leader: usize,
    in_isr: Vec<bool>,
    lag: Vec<f64>,
    behind_s: Vec<f64>,
    leo: f64,
    start: Vec<f64>,
    extra_bytes: Vec<f64>,
    rate: f64,
    skew: f64,
    retention_msgs: f64,
    segment_msgs: f64,
    flap_phase_s: f64,
    bucket: u32,
}

impl Partition {
    fn position(&self, broker: usize) -> Option<usize> {
        self.replicas.iter().position(|&b| b == broker)
    }

    fn size_on(&self, j: usize, msg_bytes: f64) -> f64 {
        ((self.leo - self.lag[j] - self.start[j]).max(0.0) * msg_bytes + self.extra_bytes[j])
            .floor()
    }

    fn isr_count(&self) -> usize {
        self.in_isr.iter().filter(|&&b| b).count()
    }
}

#[derive(Debug, Clone)]
struct Group {
    consumed: Vec<f64>,
    committed: Vec<f64>,
    lag_noise: Ar1,
}

#[derive(Debug, Clone, Default)]
struct Request {
    count: f64,
    total_p99_ms: f64,
    local_p99_ms: f64,
    remote_p99_ms: f64,
    queue_p99_ms: f64,
}

#[derive(Debug)]
struct Broker {
    id: u32,
    name: String,
    host: Host,
    jvm: Jvm,
    rng: SimRng,
    noise: Ar1,
    uptime_s: f64,
    bytes_in: Vec<f64>,
    bytes_out: Vec<f64>,
    msgs_in: Vec<f64>,
    produce_reqs: Vec<f64>,
    fetch_reqs: Vec<f64>,
    repl_bytes_in: f64,
    repl_bytes_out: f64,
    isr_shrinks: f64,
    isr_expands: f64,
    idle_ns: f64,
    requests: Vec<Request>,
    request_queue: f64,
    network_idle: f64,
    flush_count: f64,
    flush_p99_ms: f64,
    max_lag: f64,
    purgatory_produce: f64,
    purgatory_fetch: f64,
    leader_elections: f64,
    election_p99_ms: f64,
    fill_free0: Option<f64>,
}

/// A simulated Kafka cluster.
#[derive(Debug)]
pub(crate) struct KafkaCluster {
    brokers: Vec<Broker>,
    partitions: Vec<Partition>,
    groups: Vec<Group>,
    faults: Faults,
    load: f64,
    exporter: bool,
    controller: usize,
    rng: SimRng,
}

impl KafkaCluster {
    pub(crate) fn new(spec: &ClusterSpec, faults: Faults, seed: u64, start_ms: i64) -> Self {
        let n = spec.nodes.len();
        let rf = n.min(3);
        let mut rng = rng_for(seed, &[&spec.name]);
        let brokers: Vec<Broker> = spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let mut rng = rng_for(seed, &[&spec.name, &node.name]);
                let host = Host::new(
                    &node.name,
                    node_ip(&spec.name, i),
                    &node.profile,
                    "/var/lib/kafka",
                    start_ms,
                    &mut rng,
                );
                let heap = (node.profile.ram_bytes as f64 / 4.0).min(6.0 * GIB);
                let uptime_s = 86_400.0 * uniform(&mut rng, 5.0, 40.0);
                let jvm = Jvm::new(heap, 100_000.0, start_ms, uptime_s, &mut rng);
                let per_topic = |scale: f64| {
                    TOPICS.iter().map(|t| (uptime_s * t.rate * scale / n as f64).floor()).collect()
                };
                Broker {
                    id: i as u32 + 1,
                    name: node.name.clone(),
                    host,
                    jvm,
                    noise: Ar1::new(0.04, 600.0),
                    bytes_in: per_topic(400.0),
                    bytes_out: per_topic(700.0),
                    msgs_in: per_topic(1.0),
                    produce_reqs: per_topic(0.12),
                    fetch_reqs: per_topic(0.05),
                    repl_bytes_in: (uptime_s * 8e5).floor(),
                    repl_bytes_out: (uptime_s * 8e5).floor(),
                    isr_shrinks: (uniform(&mut rng, 0.0, 6.0)).floor(),
                    isr_expands: 0.0,
                    idle_ns: uptime_s * 0.95e9,
                    requests: REQUESTS
                        .iter()
                        .map(|_| Request { count: (uptime_s * 20.0).floor(), ..Request::default() })
                        .collect(),
                    request_queue: 0.0,
                    network_idle: 0.9,
                    flush_count: (uptime_s * 0.05).floor(),
                    flush_p99_ms: 3.0,
                    max_lag: 0.0,
                    purgatory_produce: 0.0,
                    purgatory_fetch: 0.0,
                    leader_elections: 120.0,
                    election_p99_ms: 12.0,
                    fill_free0: None,
                    uptime_s,
                    rng,
                }
            })
            .collect();
        let mut brokers = brokers;
        for b in &mut brokers {
            b.isr_expands = b.isr_shrinks;
        }

        // Retention budget: ~40 % of the smallest data disk, split by byte rate × weight.
        let min_fs = brokers.iter().map(|b| b.host.data_fs_size()).fold(f64::INFINITY, f64::min);
        let weights: Vec<f64> =
            TOPICS.iter().map(|t| t.rate * t.msg_bytes * t.retention_weight).collect();
        let total_w: f64 = weights.iter().sum();
        let budget = 0.40 * min_fs * n as f64 / rf as f64;
        let mut partitions = Vec::new();
        let mut bucket = 0u32;
        for (ti, t) in TOPICS.iter().enumerate() {
            let per_partition_bytes = budget * weights[ti] / total_w / f64::from(t.partitions);
            for p in 0..t.partitions {
                let replicas: Vec<usize> = (0..rf).map(|j| (p as usize + ti + j) % n).collect();
                let retention_msgs = per_partition_bytes / t.msg_bytes;
                let segment_msgs = (retention_msgs / 20.0).max(1.0);
                let leo = (uniform(&mut rng, 2.0, 6.0) * retention_msgs).floor();
                // Each partition is somewhere in its retention saw-tooth, so deletions are
                // spread out and a healthy broker's disk use stays level.
                let start0 = leo - retention_msgs - segment_msgs * uniform(&mut rng, 0.0, 1.0);
                partitions.push(Partition {
                    topic: ti,
                    id: p,
                    leader: replicas[0],
                    in_isr: vec![true; rf],
                    lag: vec![0.0; rf],
                    behind_s: vec![0.0; rf],
                    leo,
                    start: vec![start0.floor(); rf],
                    extra_bytes: vec![0.0; rf],
                    rate: 0.0,
                    skew: 1.0 + 0.15 * gauss(&mut rng),
                    retention_msgs,
                    segment_msgs,
                    flap_phase_s: uniform(&mut rng, 0.0, 150.0),
                    bucket,
                    replicas,
                });
                bucket = (bucket + 37) % 100;
            }
        }
        let groups = GROUPS
            .iter()
            .map(|(_, ti, _)| {
                let offs: Vec<f64> =
                    partitions.iter().filter(|p| p.topic == *ti).map(|p| p.leo).collect();
                Group { consumed: offs.clone(), committed: offs, lag_noise: Ar1::new(0.3, 60.0) }
            })
            .collect();
        KafkaCluster {
            brokers,
            partitions,
            groups,
            faults,
            load: spec.load,
            exporter: spec.kafka_exporter,
            controller: 0,
            rng,
        }
    }

    pub(crate) fn has_exporter(&self) -> bool {
        self.exporter
    }

    pub(crate) fn node_index(&self, name: &str) -> Option<usize> {
        self.brokers.iter().position(|b| b.name == name)
    }

    pub(crate) fn step(&mut self, t: i64, dt: f64) {
        let d = diurnal(t);
        let n = self.brokers.len();
        let f = &self.faults;
        let slow: Vec<f64> =
            (0..n).map(|i| f.level(Fault::UnderReplicatedSlowBroker, i, t, 120.0)).collect();
        let flap: Vec<f64> = (0..n).map(|i| f.level(Fault::IsrFlapping, i, t, 60.0)).collect();
        let sat: Vec<f64> =
            (0..n).map(|i| f.level(Fault::RequestHandlerSaturation, i, t, 180.0)).collect();
        let fill: Vec<f64> =
            (0..n).map(|i| f.level(Fault::KafkaDiskFilling, i, t, 120.0)).collect();
        let imbalance: Option<(usize, f64)> = (0..n)
            .map(|i| (i, f.level(Fault::LeaderImbalance, i, t, 60.0)))
            .find(|&(_, l)| l > 0.0);
        let lag_level = f.cluster_level(Fault::ConsumerLagGrowth, t, 300.0);
        let t_s = t as f64 / 1000.0;

        let broker_noise: Vec<f64> =
            self.brokers.iter_mut().map(|b| b.noise.step(&mut b.rng, dt)).collect();
        let topic_scale: Vec<f64> = TOPICS
            .iter()
            .map(|_| self.load * d * (1.0 + 0.05 * gauss(&mut self.rng)).max(0.5))
            .collect();

        // --- Leadership: preferred replica when it is in the ISR (auto leader rebalance), or
        // the imbalanced broker for most partitions it replicates.
        let mut elections = 0.0;
        for p in &mut self.partitions {
            let mut want = p.replicas[0];
            if let Some((x, level)) = imbalance
                && p.replicas.contains(&x)
                && f64::from(p.bucket) < 90.0 * level
            {
                want = x;
            }
            let want_pos = p.position(want).unwrap_or(0);
            if !p.in_isr[want_pos] {
                want = p.leader;
            }
            if want != p.leader {
                // The new leader starts from its own log end; lags are re-based on it.
                p.leader = want;
                for j in 0..p.replicas.len() {
                    p.lag[j] = 0.0;
                    p.behind_s[j] = 0.0;
                    p.in_isr[j] = true;
                }
                elections += 1.0;
            }
        }
        let controller = self.controller;
        self.brokers[controller].leader_elections += elections;

        // --- Produce, replicate, retain.
        let mut shrinks = vec![0.0; n];
        let mut expands = vec![0.0; n];
        let mut lagging_in_isr = vec![0.0; n];
        let mut max_lag = vec![0.0f64; n];
        for p in &mut self.partitions {
            let topic = &TOPICS[p.topic];
            let ti = p.topic;
            let li = p.leader;
            let leader_pos = p.position(li).unwrap_or(0);
            // request_handler_saturation: a client fleet sends one tiny message per produce
            // request (linger.ms=0) to the clickstream partitions this broker leads.
            let extra = if ti == 1 {
                FLOOD_REQS * sat[li] / f64::from(topic.partitions) * n as f64
            } else {
                0.0
            };
            p.rate = (topic.rate / f64::from(topic.partitions)
                * p.skew.max(0.2)
                * topic_scale[ti]
                * (1.0 + broker_noise[li]))
                .max(0.0)
                + extra;
            let appended = (p.rate * dt).round();
            p.leo += appended;
            let b = &mut self.brokers[li];
            b.msgs_in[ti] += appended;
            b.bytes_in[ti] += (appended * topic.msg_bytes).round();
            b.produce_reqs[ti] += (appended / 8.0).ceil();

            for j in 0..p.replicas.len() {
                if j == leader_pos {
                    p.lag[j] = 0.0;
                    p.behind_s[j] = 0.0;
                    continue;
                }
                let fb = p.replicas[j];
                let mut cap = 3.0;
                if slow[fb] > 0.0 {
                    let r = &mut self.brokers[fb].rng;
                    cap = (1.0 - 0.45 * slow[fb] + 0.1 * gauss(r)).max(0.0);
                }
                // isr_flapping on a broker: the followers of partitions it leads keep stalling
                // (a flaky link or long pauses on the leader) and catching up again.
                if flap[li] > 0.0 && f64::from(p.bucket) < 40.0 * flap[li] {
                    let phase = (t_s + p.flap_phase_s).rem_euclid(150.0);
                    if phase < 45.0 {
                        cap = 0.0;
                    }
                }
                let before = p.lag[j];
                p.lag[j] = (p.lag[j] + p.rate * (1.0 - cap) * dt).max(0.0);
                let fetched = (before + appended - p.lag[j]).max(0.0);
                self.brokers[fb].repl_bytes_in += (fetched * topic.msg_bytes).round();
                self.brokers[li].repl_bytes_out += (fetched * topic.msg_bytes).round();
                let caught_up = p.lag[j] <= p.rate * 0.5 + 1.0;
                if caught_up {
                    p.behind_s[j] = 0.0;
                } else {
                    p.behind_s[j] += dt;
                }
                if p.in_isr[j] && p.behind_s[j] > 30.0 {
                    p.in_isr[j] = false;
                    shrinks[li] += 1.0;
                } else if !p.in_isr[j] && p.lag[j] <= p.rate * 0.2 + 1.0 {
                    p.in_isr[j] = true;
                    expands[li] += 1.0;
                }
                if p.in_isr[j] && p.behind_s[j] > 1.0 {
                    lagging_in_isr[li] += 1.0;
                }
                max_lag[fb] = max_lag[fb].max(p.lag[j]);
            }

            for j in 0..p.replicas.len() {
                let b = p.replicas[j];
                if fill[b] > 0.0 {
                    // Retention is stuck on this broker: nothing is deleted, and the log grows.
                    continue;
                }
                let excess = (p.leo - p.lag[j] - p.start[j]) - p.retention_msgs;
                if excess > p.segment_msgs {
                    // Retention deletes whole segments.
                    p.start[j] += (excess / p.segment_msgs).floor() * p.segment_msgs.round();
                }
            }
        }

        // --- Consumers.
        for (gi, g) in self.groups.iter_mut().enumerate() {
            let (_, ti, members) = GROUPS[gi];
            let speed = if gi == LAG_GROUP { 1.0 - 0.5 * lag_level } else { 1.0 };
            let noise = g.lag_noise.step(&mut self.rng, dt);
            let parts = self.partitions.iter().filter(|p| p.topic == ti);
            for (k, p) in parts.enumerate() {
                let cap = if speed < 1.0 { p.rate * (speed + 0.03 * noise) } else { f64::INFINITY };
                let target = p.leo;
                let consumed = (g.consumed[k] + cap * dt).min(target).max(g.consumed[k]);
                g.consumed[k] = consumed;
                // Offsets are committed a fraction of a second behind what was consumed.
                let trail = (p.rate
                    * (0.35 + 0.1 * g.lag_noise.value()).clamp(0.05, 1.0)
                    * uniform(&mut self.rng, 0.9, 1.1))
                .round();
                g.committed[k] = (consumed - trail).max(g.committed[k]).min(target);
                let b = &mut self.brokers[p.leader];
                let bytes = ((cap.min(p.rate) * dt).max(0.0) * TOPICS[ti].msg_bytes).round();
                b.bytes_out[ti] += bytes;
                b.fetch_reqs[ti] += (members.min(f64::from(TOPICS[ti].partitions)) * 2.0 * dt
                    / f64::from(TOPICS[ti].partitions))
                .round()
                .max(1.0);
            }
        }

        // --- Per-broker request handling, disks, JVM, host.
        for (i, b) in self.brokers.iter_mut().enumerate() {
            b.uptime_s += dt;
            b.isr_shrinks += shrinks[i];
            b.isr_expands += expands[i];
            b.max_lag = max_lag[i];
            let rng = &mut b.rng;
            let fbk = b.host.feedback();
            let led: Vec<&Partition> = self.partitions.iter().filter(|p| p.leader == i).collect();
            let followed =
                self.partitions.iter().filter(|p| p.leader != i && p.replicas.contains(&i)).count()
                    as f64;
            let msgs_led: f64 = led.iter().map(|p| p.rate).sum();
            let bytes_led: f64 = led.iter().map(|p| p.rate * TOPICS[p.topic].msg_bytes).sum();
            let flood = FLOOD_REQS * sat[i];
            let produce_rate = (msgs_led - flood).max(0.0) / 8.0 + flood + 2.0;
            let follower_brokers = (n as f64 - 1.0).max(0.0);
            let rates = [
                led.len() as f64 * 2.0 * 0.75,
                follower_brokers * 5.0,
                5.0,
                GROUPS.iter().map(|g| g.2).sum::<f64>() / n as f64,
                produce_rate,
            ];
            let slow_i = slow[i];
            let produce_ms = REQUESTS[R_PRODUCE].2 * (1.0 + 0.5 * sat[i]) * (1.0 + 4.0 * slow_i);
            let busy_s: f64 = rates
                .iter()
                .zip(REQUESTS.iter())
                .enumerate()
                .map(|(k, (r, req))| r * if k == R_PRODUCE { produce_ms } else { req.2 } / 1000.0)
                .sum();
            let rho = (busy_s / IO_THREADS * (1.0 + 0.015 * gauss(rng))).clamp(0.0, 0.995);
            b.idle_ns += ((1.0 - rho) * dt * 1e9).round();
            let q = (queue_len(rho, 8.0) * (1.0 + 0.15 * gauss(rng))).max(0.0);
            b.request_queue = (if q < 1.0 { events(rng, q) } else { q.round() }).min(MAX_QUEUED);
            let total_rate: f64 = rates.iter().sum();
            let queue_p99 = 4.0 * b.request_queue / total_rate.max(1.0) * 1000.0 + 0.2;
            // A flush writes out many dirty pages: its time scales with the device latency.
            b.flush_p99_ms = 2.0 + fbk.write_latency_s * 1e3 * 150.0;
            b.flush_count += events(rng, (bytes_led / 1e9 + 0.02) * dt);
            let lag_frac = if led.is_empty() { 0.0 } else { lagging_in_isr[i] / led.len() as f64 };
            for (k, req) in b.requests.iter_mut().enumerate() {
                req.count += (rates[k] * dt).round();
                let j = (1.0 + 0.08 * gauss(rng)).max(0.7);
                let (local, remote) = match k {
                    R_PRODUCE => (
                        produce_ms * 3.0 + b.flush_p99_ms * 0.3 * slow_i,
                        3.0 + 800.0 * lag_frac.min(1.0),
                    ),
                    R_FETCH_CONSUMER | R_FETCH_FOLLOWER => (REQUESTS[k].2 * 2.0, 480.0),
                    _ => (REQUESTS[k].2 * 2.0, 0.0),
                };
                req.local_p99_ms = local * j;
                req.remote_p99_ms = remote * j;
                req.queue_p99_ms = queue_p99 * j;
                req.total_p99_ms = req.local_p99_ms + req.remote_p99_ms + req.queue_p99_ms + 0.3;
            }
            b.purgatory_produce = (produce_rate * 0.004 * (1.0 + 200.0 * lag_frac)).round();
            b.purgatory_fetch = (rates[R_FETCH_CONSUMER] + rates[R_FETCH_FOLLOWER]).round();
            let bytes_out_rate = bytes_led * 2.0;
            b.network_idle =
                (0.97 - (bytes_led + bytes_out_rate) / 300e6 - 0.2 * rho).clamp(0.05, 0.99);
            b.election_p99_ms = 12.0 + 3.0 * gauss(rng).abs();

            // Data on disk: every replica this broker hosts.
            let mut data = 1.0 * GIB;
            let mut bytes_hosted = 0.0;
            for p in &self.partitions {
                if let Some(j) = p.position(i) {
                    data += p.size_on(j, TOPICS[p.topic].msg_bytes);
                    bytes_hosted += p.rate * TOPICS[p.topic].msg_bytes;
                }
            }
            let fill_rate = if fill[i] > 0.0 {
                let free0 = *b.fill_free0.get_or_insert(b.host.data_fs_avail());
                fill[i] * free0 / (8.0 * 3600.0)
            } else {
                0.0
            };
            let cpu =
                0.15 + (bytes_led * 3.0) / 60e6 + rho * IO_THREADS * 0.6 + b.jvm.gc_share() * 2.0;
            b.jvm.step(
                dt,
                &JvmLoad {
                    alloc_bps: 20e6 + bytes_led * 1.5 + total_rate * 20e3,
                    live_target: 0.28,
                    promotion: 0.02,
                    young_share: 0.25,
                    threads: 90.0 + followed.min(100.0) * 0.1 + 4.0 * n as f64 + gauss(rng),
                    open_fds: 400.0
                        + (self.partitions.iter().filter(|p| p.replicas.contains(&i)).count()
                            as f64)
                            * 6.0,
                    cpu_cores: cpu,
                },
                rng,
            );
            let write_bps = bytes_hosted + fill_rate;
            b.host.step(
                dt,
                &HostLoad {
                    cpu_user: cpu * 0.75,
                    cpu_system: cpu * 0.25,
                    read_iops: 20.0 + bytes_out_rate * 0.02 / 65_536.0,
                    write_iops: write_bps / 65_536.0 + 50.0,
                    read_bps: bytes_out_rate * 0.02,
                    write_bps,
                    net_rx_bps: bytes_hosted + total_rate * 200.0,
                    net_tx_bps: bytes_out_rate + bytes_led * 2.0,
                    data_bytes: data,
                    rss_bytes: b.jvm.rss(),
                    disk_slowdown: 1.0 + 79.0 * slow_i,
                },
                rng,
            );
        }

        // disk filling: attribute the extra bytes to this broker's replicas, by traffic.
        for (i, &level) in fill.iter().enumerate() {
            if level <= 0.0 {
                continue;
            }
            let Some(free0) = self.brokers[i].fill_free0 else {
                continue;
            };
            let rate = level * free0 / (8.0 * 3600.0);
            let hosted: f64 =
                self.partitions.iter().filter(|p| p.replicas.contains(&i)).map(|p| p.rate).sum();
            if hosted <= 0.0 {
                continue;
            }
            let room = self.brokers[i].host.data_fs_avail();
            let add_total = (rate * dt).min(room);
            for p in &mut self.partitions {
                if let Some(j) = p.position(i) {
                    p.extra_bytes[j] += (add_total * p.rate / hosted).floor();
                }
            }
        }
    }

    fn broker(&self, name: &str) -> Option<(usize, &Broker)> {
        self.brokers.iter().enumerate().find(|(_, b)| b.name == name)
    }

    pub(crate) fn render_node(&self, name: &str, ts: i64) -> Option<String> {
        Some(self.broker(name)?.1.host.render(ts))
    }

    pub(crate) fn render_jmx(&self, name: &str, ts: i64) -> Option<String> {
        let (i, b) = self.broker(name)?;
        let mut w = TextWriter::new(ts);
        self.render_broker(i, b, &mut w);
        b.jvm.render_agent(&mut w);
        Some(w.finish())
    }

    fn render_broker(&self, i: usize, b: &Broker, w: &mut TextWriter) {
        let is_controller = i == self.controller;
        let ctl = |v: f64| if is_controller { v } else { 0.0 };
        let led: Vec<&Partition> = self.partitions.iter().filter(|p| p.leader == i).collect();
        let hosted: Vec<(&Partition, usize)> =
            self.partitions.iter().filter_map(|p| p.position(i).map(|j| (p, j))).collect();
        let urp = led.iter().filter(|p| p.isr_count() < p.replicas.len()).count() as f64;
        let under_min =
            led.iter().filter(|p| p.isr_count() < MIN_ISR.min(p.replicas.len())).count() as f64;
        let at_min =
            led.iter().filter(|p| p.replicas.len() > MIN_ISR && p.isr_count() == MIN_ISR).count()
                as f64;
        let imbalance = self.partitions.iter().filter(|p| p.leader != p.replicas[0]).count() as f64;
        let g = Kind::Gauge;
        let c = Kind::Counter;

        // Controller.
        for (metric, bean, v) in [
            (
                "kafka_controller_kafkacontroller_activebrokercount",
                "ActiveBrokerCount",
                ctl(self.brokers.len() as f64),
            ),
            (
                "kafka_controller_kafkacontroller_activecontrollercount",
                "ActiveControllerCount",
                ctl(1.0),
            ),
            (
                "kafka_controller_kafkacontroller_globalpartitioncount",
                "GlobalPartitionCount",
                ctl(self.partitions.len() as f64),
            ),
            (
                "kafka_controller_kafkacontroller_globaltopiccount",
                "GlobalTopicCount",
                ctl(TOPICS.len() as f64),
            ),
            (
                "kafka_controller_kafkacontroller_offlinepartitionscount",
                "OfflinePartitionsCount",
                0.0,
            ),
            (
                "kafka_controller_kafkacontroller_preferredreplicaimbalancecount",
                "PreferredReplicaImbalanceCount",
                ctl(imbalance),
            ),
        ] {
            w.single(metric, &help("kafka.controller", "KafkaController", bean, "Value"), g, v);
        }
        let name = "kafka_controller_controllerstats_leaderelectionrateandtimems";
        w.family(
            name,
            &help(
                "kafka.controller",
                "ControllerStats",
                "LeaderElectionRateAndTimeMs",
                "99thPercentile",
            ),
            g,
        );
        for (q, m) in QUANTILES {
            w.sample(name, &[("quantile", q)], round3(b.election_p99_ms * m));
        }
        w.single(
            "kafka_controller_controllerstats_leaderelectionrateandtimems_count",
            &help("kafka.controller", "ControllerStats", "LeaderElectionRateAndTimeMs", "Count"),
            c,
            b.leader_elections,
        );
        w.single(
            "kafka_controller_controllerstats_uncleanleaderelections_total",
            &help("kafka.controller", "ControllerStats", "UncleanLeaderElectionsPerSec", "Count"),
            c,
            0.0,
        );

        // Log.
        let log_metrics: [(&str, &str); 4] = [
            ("kafka_log_log_logendoffset", "LogEndOffset"),
            ("kafka_log_log_logstartoffset", "LogStartOffset"),
            ("kafka_log_log_numlogsegments", "NumLogSegments"),
            ("kafka_log_log_size", "Size"),
        ];
        for (metric, bean) in log_metrics {
            w.family(
                metric,
                &help_keys("kafka.log", "Log", bean, ", topic=orders, partition=0", "Value"),
                g,
            );
            for (p, j) in &hosted {
                let mb = TOPICS[p.topic].msg_bytes;
                let v = match bean {
                    "LogEndOffset" => (p.leo - p.lag[*j]).floor(),
                    "LogStartOffset" => p.start[*j].floor(),
                    "NumLogSegments" => {
                        ((p.leo - p.lag[*j] - p.start[*j]) / p.segment_msgs).ceil().max(1.0)
                            + (p.extra_bytes[*j] / (p.segment_msgs * mb)).floor()
                    }
                    _ => p.size_on(*j, mb),
                };
                let part = p.id.to_string();
                w.sample(metric, &[("partition", &part), ("topic", TOPICS[p.topic].name)], v);
            }
        }
        let name = "kafka_log_logflushstats_logflushrateandtimems";
        w.family(
            name,
            &help("kafka.log", "LogFlushStats", "LogFlushRateAndTimeMs", "99thPercentile"),
            g,
        );
        for (q, m) in QUANTILES {
            w.sample(name, &[("quantile", q)], round3(b.flush_p99_ms * m));
        }
        w.single(
            "kafka_log_logflushstats_logflushrateandtimems_count",
            &help("kafka.log", "LogFlushStats", "LogFlushRateAndTimeMs", "Count"),
            c,
            b.flush_count,
        );
        w.single(
            "kafka_log_logmanager_offlinelogdirectorycount",
            &help("kafka.log", "LogManager", "OfflineLogDirectoryCount", "Value"),
            g,
            0.0,
        );

        // Network.
        w.single(
            "kafka_network_requestchannel_requestqueuesize",
            &help("kafka.network", "RequestChannel", "RequestQueueSize", "Value"),
            g,
            b.request_queue,
        );
        w.single(
            "kafka_network_requestchannel_responsequeuesize",
            &help("kafka.network", "RequestChannel", "ResponseQueueSize", "Value"),
            g,
            0.0,
        );
        type ReqField = fn(&Request) -> f64;
        let times: [(&str, &str, ReqField); 6] = [
            ("localtimems", "LocalTimeMs", |r| r.local_p99_ms),
            ("remotetimems", "RemoteTimeMs", |r| r.remote_p99_ms),
            ("requestqueuetimems", "RequestQueueTimeMs", |r| r.queue_p99_ms),
            ("responsequeuetimems", "ResponseQueueTimeMs", |_| 0.05),
            ("responsesendtimems", "ResponseSendTimeMs", |_| 0.25),
            ("totaltimems", "TotalTimeMs", |r| r.total_p99_ms),
        ];
        for (suffix, bean, get) in times {
            let metric = format!("kafka_network_requestmetrics_{suffix}");
            w.family(
                &metric,
                &help_keys(
                    "kafka.network",
                    "RequestMetrics",
                    bean,
                    ", request=Produce",
                    "99thPercentile",
                ),
                g,
            );
            for ((req, _, _), r) in REQUESTS.iter().zip(&b.requests) {
                for (q, m) in QUANTILES {
                    w.sample(&metric, &[("quantile", q), ("request", req)], round3(get(r) * m));
                }
            }
            let count = format!("{metric}_count");
            w.family(
                &count,
                &help_keys("kafka.network", "RequestMetrics", bean, ", request=Produce", "Count"),
                c,
            );
            for ((req, _, _), r) in REQUESTS.iter().zip(&b.requests) {
                w.sample(&count, &[("request", req)], r.count);
            }
        }
        let metric = "kafka_network_requestmetrics_requests_total";
        w.family(
            metric,
            &help_keys(
                "kafka.network",
                "RequestMetrics",
                "RequestsPerSec",
                ", request=Produce, version=9",
                "Count",
            ),
            c,
        );
        for ((req, version, _), r) in REQUESTS.iter().zip(&b.requests) {
            w.sample(metric, &[("request", req), ("version", version)], r.count);
        }
        w.single(
            "kafka_network_socketserver_networkprocessoravgidlepercent",
            &help("kafka.network", "SocketServer", "NetworkProcessorAvgIdlePercent", "Value"),
            g,
            round3(b.network_idle),
        );

        // Server.
        let sum = |v: &[f64]| v.iter().sum::<f64>();
        let topic_metrics: [(&str, &str, &[f64]); 6] = [
            ("bytesin", "BytesInPerSec", &b.bytes_in),
            ("bytesout", "BytesOutPerSec", &b.bytes_out),
            ("failedfetchrequests", "FailedFetchRequestsPerSec", &[]),
            ("failedproducerequests", "FailedProduceRequestsPerSec", &[]),
            ("messagesin", "MessagesInPerSec", &b.msgs_in),
            ("totalproducerequests", "TotalProduceRequestsPerSec", &b.produce_reqs),
        ];
        for (short, bean, values) in topic_metrics {
            let metric = format!("kafka_server_brokertopicmetrics_{short}_total");
            w.family(&metric, &help("kafka.server", "BrokerTopicMetrics", bean, "Count"), c);
            w.sample(&metric, &[], sum(values));
            for (t, topic) in TOPICS.iter().enumerate() {
                w.sample(&metric, &[("topic", topic.name)], values.get(t).copied().unwrap_or(0.0));
            }
        }
        for (short, bean, v) in [
            ("reassignmentbytesin", "ReassignmentBytesInPerSec", 0.0),
            ("replicationbytesin", "ReplicationBytesInPerSec", b.repl_bytes_in),
            ("replicationbytesout", "ReplicationBytesOutPerSec", b.repl_bytes_out),
            ("totalfetchrequests", "TotalFetchRequestsPerSec", sum(&b.fetch_reqs)),
        ] {
            let metric = format!("kafka_server_brokertopicmetrics_{short}_total");
            w.single(&metric, &help("kafka.server", "BrokerTopicMetrics", bean, "Count"), c, v);
        }
        let name = "kafka_server_delayedoperationpurgatory_purgatorysize";
        w.family(
            name,
            &help_keys(
                "kafka.server",
                "DelayedOperationPurgatory",
                "PurgatorySize",
                ", delayedOperation=Produce",
                "Value",
            ),
            g,
        );
        w.sample(name, &[("delayedOperation", "Fetch")], b.purgatory_fetch);
        w.sample(name, &[("delayedOperation", "Produce")], b.purgatory_produce);
        w.single(
            "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
            &help(
                "kafka.server",
                "KafkaRequestHandlerPool",
                "RequestHandlerAvgIdlePercent",
                "MeanRate",
            ),
            g,
            round3(b.idle_ns / 1e9 / b.uptime_s.max(1.0)),
        );
        w.single(
            "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count",
            &help(
                "kafka.server",
                "KafkaRequestHandlerPool",
                "RequestHandlerAvgIdlePercent",
                "Count",
            ),
            c,
            b.idle_ns,
        );
        w.single(
            "kafka_server_kafkaserver_brokerstate",
            &help("kafka.server", "KafkaServer", "BrokerState", "Value"),
            g,
            3.0,
        );
        let name = "kafka_server_replicafetchermanager_maxlag";
        w.family(
            name,
            &help_keys(
                "kafka.server",
                "ReplicaFetcherManager",
                "MaxLag",
                ", clientId=Replica",
                "Value",
            ),
            g,
        );
        w.sample(name, &[("clientId", "Replica")], b.max_lag.floor());
        for (metric, bean, v) in [
            (
                "kafka_server_replicamanager_atminisrpartitioncount",
                "AtMinIsrPartitionCount",
                at_min,
            ),
            ("kafka_server_replicamanager_leadercount", "LeaderCount", led.len() as f64),
            ("kafka_server_replicamanager_offlinereplicacount", "OfflineReplicaCount", 0.0),
            ("kafka_server_replicamanager_partitioncount", "PartitionCount", hosted.len() as f64),
            ("kafka_server_replicamanager_reassigningpartitions", "ReassigningPartitions", 0.0),
            (
                "kafka_server_replicamanager_underminisrpartitioncount",
                "UnderMinIsrPartitionCount",
                under_min,
            ),
            (
                "kafka_server_replicamanager_underreplicatedpartitions",
                "UnderReplicatedPartitions",
                urp,
            ),
        ] {
            w.single(metric, &help("kafka.server", "ReplicaManager", bean, "Value"), g, v);
        }
        for (metric, bean, v) in [
            ("kafka_server_replicamanager_failedisrupdates_total", "FailedIsrUpdatesPerSec", 0.0),
            ("kafka_server_replicamanager_isrexpands_total", "IsrExpandsPerSec", b.isr_expands),
            ("kafka_server_replicamanager_isrshrinks_total", "IsrShrinksPerSec", b.isr_shrinks),
        ] {
            w.single(metric, &help("kafka.server", "ReplicaManager", bean, "Count"), c, v);
        }
        w.single(
            "kafka_server_sessionexpirelistener_zookeeperexpires_total",
            &help("kafka.server", "SessionExpireListener", "ZooKeeperExpiresPerSec", "Count"),
            c,
            0.0,
        );
    }

    pub(crate) fn render_kafka_exporter(&self, ts: i64) -> String {
        let mut w = TextWriter::new(ts);
        let g = Kind::Gauge;
        w.single(
            "kafka_brokers",
            "Number of Brokers in the Kafka Cluster.",
            g,
            self.brokers.len() as f64,
        );
        w.family("kafka_broker_info", "Information about the Kafka Broker.", g);
        for b in &self.brokers {
            let id = b.id.to_string();
            let addr = format!("{}:9092", b.name);
            w.sample("kafka_broker_info", &[("address", &addr), ("id", &id)], f64::from(b.id));
        }
        w.family("kafka_topic_partitions", "Number of partitions for this Topic", g);
        for t in &TOPICS {
            w.sample("kafka_topic_partitions", &[("topic", t.name)], f64::from(t.partitions));
        }
        type PartField = fn(&KafkaCluster, &Partition) -> f64;
        let part_metrics: [(&str, &str, PartField); 7] = [
            (
                "kafka_topic_partition_current_offset",
                "Current Offset of a Broker at Topic/Partition",
                |_, p| p.leo.floor(),
            ),
            (
                "kafka_topic_partition_in_sync_replica",
                "Number of In-Sync Replicas for this Topic/Partition",
                |_, p| p.isr_count() as f64,
            ),
            ("kafka_topic_partition_leader", "Leader Broker ID of this Topic/Partition", |c, p| {
                f64::from(c.brokers[p.leader].id)
            }),
            (
                "kafka_topic_partition_leader_is_preferred",
                "1 if Topic/Partition is using the Preferred Broker",
                |_, p| f64::from(u8::from(p.leader == p.replicas[0])),
            ),
            (
                "kafka_topic_partition_oldest_offset",
                "Oldest Offset of a Broker at Topic/Partition",
                |_, p| p.start[p.position(p.leader).unwrap_or(0)].floor(),
            ),
            (
                "kafka_topic_partition_replicas",
                "Number of Replicas for this Topic/Partition",
                |_, p| p.replicas.len() as f64,
            ),
            (
                "kafka_topic_partition_under_replicated_partition",
                "1 if Topic/Partition is under Replicated",
                |_, p| f64::from(u8::from(p.isr_count() < p.replicas.len())),
            ),
        ];
        for (metric, text, get) in part_metrics {
            w.family(metric, text, g);
            for p in &self.partitions {
                let part = p.id.to_string();
                w.sample(
                    metric,
                    &[("partition", &part), ("topic", TOPICS[p.topic].name)],
                    get(self, p),
                );
            }
        }
        let per_group = |gi: usize| -> Vec<(&Partition, f64, f64)> {
            let ti = GROUPS[gi].1;
            self.partitions
                .iter()
                .filter(|p| p.topic == ti)
                .zip(self.groups[gi].committed.iter())
                .map(|(p, &c)| (p, c.floor(), (p.leo.floor() - c.floor()).max(0.0)))
                .collect()
        };
        w.family(
            "kafka_consumergroup_current_offset",
            "Current Offset of a ConsumerGroup at Topic/Partition",
            g,
        );
        for (gi, (group, ti, _)) in GROUPS.iter().enumerate() {
            for (p, c, _) in per_group(gi) {
                let part = p.id.to_string();
                w.sample(
                    "kafka_consumergroup_current_offset",
                    &[("consumergroup", group), ("partition", &part), ("topic", TOPICS[*ti].name)],
                    c,
                );
            }
        }
        w.family(
            "kafka_consumergroup_current_offset_sum",
            "Current Offset of a ConsumerGroup at Topic for all partitions",
            g,
        );
        for (gi, (group, ti, _)) in GROUPS.iter().enumerate() {
            let s: f64 = per_group(gi).iter().map(|x| x.1).sum();
            w.sample(
                "kafka_consumergroup_current_offset_sum",
                &[("consumergroup", group), ("topic", TOPICS[*ti].name)],
                s,
            );
        }
        w.family(
            "kafka_consumergroup_lag",
            "Current Approximate Lag of a ConsumerGroup at Topic/Partition",
            g,
        );
        for (gi, (group, ti, _)) in GROUPS.iter().enumerate() {
            for (p, _, lag) in per_group(gi) {
                let part = p.id.to_string();
                w.sample(
                    "kafka_consumergroup_lag",
                    &[("consumergroup", group), ("partition", &part), ("topic", TOPICS[*ti].name)],
                    lag,
                );
            }
        }
        w.family(
            "kafka_consumergroup_lag_sum",
            "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
            g,
        );
        for (gi, (group, ti, _)) in GROUPS.iter().enumerate() {
            let s: f64 = per_group(gi).iter().map(|x| x.2).sum();
            w.sample(
                "kafka_consumergroup_lag_sum",
                &[("consumergroup", group), ("topic", TOPICS[*ti].name)],
                s,
            );
        }
        w.family("kafka_consumergroup_members", "Amount of members in a consumer group", g);
        for (group, _, members) in GROUPS {
            w.sample("kafka_consumergroup_members", &[("consumergroup", group)], members);
        }
        w.finish()
    }
}

/// jmx_exporter's default help text for a matched attribute.
fn help(domain: &str, typ: &str, name: &str, attr: &str) -> String {
    help_keys(domain, typ, name, "", attr)
}

/// Like [`help`] for a bean with more key properties (`keys` starts with `, `).
fn help_keys(domain: &str, typ: &str, name: &str, keys: &str, attr: &str) -> String {
    format!("Attribute exposed for management ({domain}<type={typ}, name={name}{keys}><>{attr})")
}
