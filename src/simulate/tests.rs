//! Tests of the simulator: determinism, monotonic counters, each fault against a healthy twin,
//! spec validation, exposition syntax, speed, and serving over real loopback HTTP.

use std::time::{Duration, Instant};

use super::*;

/// One parsed exposition sample.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub(super) name: String,
    pub(super) labels: Vec<(String, String)>,
    pub(super) value: f64,
    pub(super) ts: i64,
}

/// Parses a text-format page strictly enough to catch syntax mistakes of our writer.
pub(super) fn parse(page: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in page.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => (&line[..i], &line[i..]),
            None => panic!("no value: {line}"),
        };
        assert!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name in {line}"
        );
        let mut labels = Vec::new();
        let rest = if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            let end;
            loop {
                let Some((i, c)) = chars.next() else { panic!("unterminated labels: {line}") };
                if c == '}' {
                    end = i;
                    break;
                }
                if c == ',' {
                    continue;
                }
                let mut key = String::from(c);
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    key.push(c);
                }
                assert_eq!(chars.next().map(|x| x.1), Some('"'), "label value quote: {line}");
                let mut val = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|x| x.1) {
                            Some('n') => val.push('\n'),
                            Some(o) => val.push(o),
                            None => panic!("bad escape: {line}"),
                        },
                        '"' => break,
                        o => val.push(o),
                    }
                }
                labels.push((key, val));
            }
            &r[end + 1..]
        } else {
            rest
        };
        let mut parts = rest.split_whitespace();
        let value: f64 = parts.next().unwrap().parse().unwrap_or_else(|_| panic!("value: {line}"));
        let ts: i64 = parts.next().expect("timestamp").parse().unwrap();
        assert!(parts.next().is_none(), "trailing junk: {line}");
        out.push(Sample { name: name.to_owned(), labels, value, ts });
    }
    out
}

fn matches(s: &Sample, name: &str, labels: &[(&str, &str)]) -> bool {
    s.name == name && labels.iter().all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
}

/// The first sample of `name` carrying all `labels`.
pub(super) fn get(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    parse(page).into_iter().find(|s| matches(s, name, labels)).map(|s| s.value)
}

/// Sum over samples of `name` carrying all `labels`.
pub(super) fn sum(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse(page).iter().filter(|s| matches(s, name, labels)).map(|s| s.value).sum()
}

/// Max over samples of `name` carrying all `labels`.
pub(super) fn max(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse(page)
        .iter()
        .filter(|s| matches(s, name, labels))
        .map(|s| s.value)
        .fold(f64::NEG_INFINITY, f64::max)
}

fn json(sim: &Simulator, cluster: &str, path: &str) -> serde_json::Value {
    let (status, body) = sim.es_api(cluster, path).unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Every page the simulator serves, keyed by a readable name, in a stable order.
fn all_pages(sim: &Simulator) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in sim.clusters() {
        for n in &c.nodes {
            if let Some(p) = sim.jmx_metrics(&c.name, &n.name) {
                out.push((format!("{}/{}/jmx", c.name, n.name), p));
            }
            if let Some(p) = sim.node_exporter_metrics(&c.name, &n.name) {
                out.push((format!("{}/{}/node", c.name, n.name), p));
            }
        }
        if let Some(p) = sim.kafka_exporter_metrics(&c.name) {
            out.push((format!("{}/kafka_exporter", c.name), p));
        }
        for path in [
            "/",
            "/_cluster/health",
            "/_nodes/stats",
            "/_cluster/settings",
            "/_cat/shards?format=json",
        ] {
            if let Some((_, p)) = sim.es_api(&c.name, path) {
                out.push((format!("{}{path}", c.name), p));
            }
        }
    }
    out
}

fn single(name: &str, system: System, count: u32, fault: Option<FaultSpec>) -> SimSpec {
    let mut c = ClusterSpec::new(name, system, count, HardwareProfile::medium());
    if let Some(f) = fault {
        c = c.with_fault(f);
    }
    SimSpec { seed: 7, clusters: vec![c], ..SimSpec::default() }
}

/// The faulty simulation and its healthy twin (same seed), both advanced by `minutes`.
fn twins(system: System, count: u32, fault: FaultSpec, minutes: u64) -> (Simulator, Simulator) {
    let name = "c";
    let mut bad = Simulator::new(single(name, system, count, Some(fault))).unwrap();
    let mut good = Simulator::new(single(name, system, count, None)).unwrap();
    bad.advance(Duration::from_secs(minutes * 60));
    good.advance(Duration::from_secs(minutes * 60));
    (bad, good)
}

fn node_names(sim: &Simulator, cluster: &str) -> Vec<String> {
    let c = sim.clusters().iter().find(|c| c.name == cluster).unwrap();
    c.nodes.iter().map(|n| n.name.clone()).collect()
}

fn jmx(sim: &Simulator, node: &str) -> String {
    sim.jmx_metrics("c", node).unwrap()
}

fn host(sim: &Simulator, node: &str) -> String {
    sim.node_exporter_metrics("c", node).unwrap()
}

/// Per-second rate of a counter between two pages `secs` apart.
fn rate(before: &str, after: &str, name: &str, labels: &[(&str, &str)], secs: f64) -> f64 {
    (sum(after, name, labels) - sum(before, name, labels)) / secs
}

fn data_fs_used_ratio(page: &str) -> f64 {
    let fs = parse(page)
        .into_iter()
        .filter(|s| s.labels.iter().any(|(k, v)| k == "mountpoint" && v.starts_with("/var/lib/")))
        .collect::<Vec<_>>();
    let size = fs.iter().find(|s| s.name == "node_filesystem_size_bytes").unwrap().value;
    let avail = fs.iter().find(|s| s.name == "node_filesystem_avail_bytes").unwrap().value;
    1.0 - avail / size
}

fn data_fs_avail(page: &str) -> f64 {
    parse(page)
        .into_iter()
        .find(|s| {
            s.name == "node_filesystem_avail_bytes"
                && s.labels.iter().any(|(k, v)| k == "mountpoint" && v.starts_with("/var/lib/"))
        })
        .unwrap()
        .value
}

fn heap_ratio(page: &str) -> f64 {
    get(page, "jvm_memory_used_bytes", &[("area", "heap")]).unwrap()
        / get(page, "jvm_memory_max_bytes", &[("area", "heap")]).unwrap()
}

fn es_nodes(sim: &Simulator) -> Vec<serde_json::Value> {
    let v = json(sim, "c", "/_nodes/stats");
    let mut nodes: Vec<serde_json::Value> =
        v["nodes"].as_object().unwrap().values().cloned().collect();
    nodes.sort_by_key(|n| n["name"].as_str().unwrap().to_owned());
    nodes
}

fn es_node(sim: &Simulator, name: &str) -> serde_json::Value {
    es_nodes(sim).into_iter().find(|n| n["name"] == name).unwrap()
}

fn spec_with_every_fault() -> SimSpec {
    let cass = ClusterSpec::new("cass", System::Cassandra, 5, HardwareProfile::medium())
        .with_fault(FaultSpec::new(Fault::CompactionBacklog, Some("cass-1")))
        .with_fault(FaultSpec::new(Fault::GcPressure, Some("cass-2")))
        .with_fault(FaultSpec::new(Fault::TombstoneHeavyReads, Some("cass-3")))
        .with_fault(FaultSpec::new(Fault::DiskFilling, Some("cass-4")))
        .with_fault(FaultSpec::new(Fault::DroppedMutations, Some("cass-4")))
        .with_fault(FaultSpec::new(Fault::HintsForDownNode, Some("cass-5")));
    let kafka = ClusterSpec::new("kafka", System::Kafka, 4, HardwareProfile::small())
        .with_fault(FaultSpec::new(Fault::UnderReplicatedSlowBroker, Some("kafka-4")))
        .with_fault(FaultSpec::new(Fault::RequestHandlerSaturation, Some("kafka-1")))
        .with_fault(FaultSpec::new(Fault::ConsumerLagGrowth, None))
        .with_fault(FaultSpec::new(Fault::LeaderImbalance, Some("kafka-2")))
        .with_fault(FaultSpec::new(Fault::DiskFilling, Some("kafka-3")))
        .with_fault(FaultSpec::new(Fault::IsrFlapping, Some("kafka-3")));
    let es = ClusterSpec::new("es", System::Elasticsearch, 3, HardwareProfile::large())
        .with_fault(FaultSpec::new(Fault::HeapPressure, Some("es-1")))
        .with_fault(FaultSpec::new(Fault::SearchRejections, Some("es-2")))
        .with_fault(FaultSpec::new(Fault::UnassignedShardsYellow, None))
        .with_fault(FaultSpec::new(Fault::UnassignedShardsRed, None))
        .with_fault(FaultSpec::new(Fault::DiskLowWatermark, Some("es-3")))
        .with_fault(FaultSpec::new(Fault::TooManyShards, None))
        .with_fault(FaultSpec::new(Fault::MergeThrottling, Some("es-3")));
    SimSpec { seed: 3, clusters: vec![cass, kafka, es], ..SimSpec::default() }
}

// ------------------------------------------------------------------ determinism and format

#[test]
fn same_seed_gives_identical_output_however_time_is_advanced() {
    let mut a = Simulator::new(SimSpec::demo(42)).unwrap();
    let mut b = Simulator::new(SimSpec::demo(42)).unwrap();
    let mut c = Simulator::new(SimSpec::demo(43)).unwrap();
    a.advance(Duration::from_secs(600));
    for _ in 0..16 {
        b.advance(Duration::from_millis(37_000));
    }
    b.advance(Duration::from_millis(8_000));
    c.advance(Duration::from_secs(600));
    assert_eq!(a.now_ms(), b.now_ms());
    let (pa, pb, pc) = (all_pages(&a), all_pages(&b), all_pages(&c));
    assert_eq!(pa.len(), pb.len());
    for ((na, x), (_, y)) in pa.iter().zip(&pb) {
        assert!(x == y, "{na} differs between runs with the same seed");
    }
    assert_ne!(pa, pc, "a different seed must give different output");
}

#[test]
fn every_page_is_well_formed_exposition_stamped_with_sim_time() {
    let mut sim = Simulator::new(spec_with_every_fault()).unwrap();
    sim.advance(Duration::from_secs(600));
    let ts = sim.sample_ms();
    for (name, page) in all_pages(&sim) {
        if name.contains("/_") || name.ends_with("/") {
            continue;
        }
        let mut typed = std::collections::BTreeSet::new();
        let mut series = std::collections::BTreeSet::new();
        let mut last_family = String::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split(' ');
                let fam = it.next().unwrap().to_owned();
                let kind = it.next().unwrap();
                assert!(["counter", "gauge", "summary", "untyped"].contains(&kind), "{line}");
                assert!(typed.insert(fam.clone()), "{name}: family {fam} declared twice");
                last_family = fam;
            } else if line.starts_with("# HELP ") {
                continue;
            } else {
                let s = &parse(line)[0];
                assert!(
                    s.name == last_family || s.name.starts_with(&format!("{last_family}_")),
                    "{name}: sample {} outside its family {last_family}",
                    s.name
                );
                assert_eq!(s.ts, ts, "{name}: {line}");
                assert!(s.value.is_finite(), "{name}: {line}");
                let mut key = s.labels.clone();
                key.sort();
                assert!(series.insert((s.name.clone(), key)), "{name}: duplicate series {line}");
            }
        }
        assert!(!series.is_empty(), "{name} is empty");
    }
}

#[test]
fn counters_never_decrease() {
    let mut sim = Simulator::new(spec_with_every_fault()).unwrap();
    // Cassandra `Counter`s that are really gauges (they go up and down), exported with
    // `_count` by jmx_exporter.
    let gauge_like = [
        "cassandra_threadpools_currentlyblockedtasks_count",
        "cassandra_storage_totalhintsinprogress_count",
        "cassandra_storage_load_count",
    ];
    let es_paths: [&[&str]; 10] = [
        &["indices", "indexing", "index_total"],
        &["indices", "indexing", "throttle_time_in_millis"],
        &["indices", "search", "query_total"],
        &["indices", "search", "query_time_in_millis"],
        &["indices", "merges", "total_throttled_time_in_millis"],
        &["jvm", "gc", "collectors", "old", "collection_count"],
        &["jvm", "gc", "collectors", "young", "collection_time_in_millis"],
        &["thread_pool", "search", "rejected"],
        &["breakers", "parent", "tripped"],
        &["process", "cpu", "total_in_millis"],
    ];
    let mut prev: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for round in 0..40 {
        sim.advance(Duration::from_secs(97));
        for (page_name, page) in all_pages(&sim) {
            if page_name.contains("/_") || page_name.ends_with('/') {
                continue;
            }
            let kinds: std::collections::BTreeMap<String, String> = page
                .lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .filter_map(|l| l.split_once(' '))
                .map(|(f, k)| (f.to_owned(), k.to_owned()))
                .collect();
            for s in parse(&page) {
                let base = s.name.trim_end_matches("_count").trim_end_matches("_sum");
                let counter = match kinds.get(&s.name).map(String::as_str) {
                    Some("counter") => true,
                    // jmx_exporter's Cassandra `Count` attributes are untyped `_count`s.
                    Some("untyped") => s.name.ends_with("_count") || s.name.ends_with("_sum"),
                    Some(_) => false,
                    None => kinds.get(base).map(String::as_str) == Some("summary"),
                };
                if !counter || gauge_like.contains(&s.name.as_str()) {
                    continue;
                }
                let key = format!("{page_name} {} {:?}", s.name, s.labels);
                if let Some(p) = prev.insert(key.clone(), s.value) {
                    assert!(s.value >= p, "round {round}: {key} went from {p} to {}", s.value);
                }
            }
        }
        for n in es_nodes_of(&sim, "es") {
            for path in es_paths {
                let v = path.iter().fold(&n, |v, k| &v[*k]).as_f64().unwrap();
                let key = format!("es {} {path:?}", n["name"]);
                if let Some(p) = prev.insert(key.clone(), v) {
                    assert!(v >= p, "{key} went from {p} to {v}");
                }
            }
        }
    }
}

fn es_nodes_of(sim: &Simulator, cluster: &str) -> Vec<serde_json::Value> {
    let v = json(sim, cluster, "/_nodes/stats");
    v["nodes"].as_object().unwrap().values().cloned().collect()
}

#[test]
fn an_hour_of_demo_history_is_fast() {
    let demo = SimSpec { warmup_s: 0.0, ..SimSpec::demo(1) };
    let t0 = Instant::now();
    let mut sim = Simulator::new(demo.clone()).unwrap();
    sim.advance(Duration::from_secs(3600));
    let advance_only = t0.elapsed();

    let t1 = Instant::now();
    let mut sim2 = Simulator::new(demo).unwrap();
    let mut bytes = 0;
    for _ in 0..240 {
        sim2.advance(Duration::from_secs(15));
        bytes += all_pages(&sim2).iter().map(|p| p.1.len()).sum::<usize>();
    }
    let with_scrapes = t1.elapsed();
    assert!(bytes > 0);
    // Generous bounds for an unoptimised build on a shared 2-core machine.
    assert!(advance_only < Duration::from_secs(2), "advance took {advance_only:?}");
    assert!(with_scrapes < Duration::from_secs(60), "scrapes took {with_scrapes:?}");
    if let Ok(path) = std::env::var("SIM_TIMING_FILE") {
        std::fs::write(
            path,
            format!(
                "advance 1h: {advance_only:?}\n\
                 1h with 15s scrapes of every endpoint: {with_scrapes:?} ({bytes} bytes)\n"
            ),
        )
        .unwrap();
    }
}

#[test]
fn the_demo_starts_with_its_faults_already_visible() {
    let sim = Simulator::new(SimSpec::demo(9)).unwrap();
    assert_eq!(sim.now_ms(), DEFAULT_START_MS + 1_800_000);
    let cass = sim.jmx_metrics("cass-prod", "cass-prod-3").unwrap();
    assert!(get(&cass, "cassandra_compaction_pendingtasks", &[]).unwrap() > 100.0);
    let healthy = sim.jmx_metrics("cass-prod", "cass-prod-1").unwrap();
    assert!(get(&healthy, "cassandra_compaction_pendingtasks", &[]).unwrap() < 20.0);
    let lag = sum(
        &sim.kafka_exporter_metrics("kafka-prod").unwrap(),
        "kafka_consumergroup_lag_sum",
        &[("consumergroup", "analytics")],
    );
    assert!(lag > 100_000.0, "{lag}");
    let used = data_fs_used_ratio(&sim.node_exporter_metrics("es-logs", "es-logs-2").unwrap());
    assert!((0.85..0.90).contains(&used), "{used}");
}

// ------------------------------------------------------------------ healthy baselines

#[test]
fn healthy_clusters_look_healthy_all_day() {
    let mut spec = SimSpec::demo(11);
    for c in &mut spec.clusters {
        c.faults.clear();
    }
    let mut sim = Simulator::new(spec).unwrap();
    let mut before = all_pages(&sim);
    let step = 1800;
    for _ in 0..48 {
        sim.advance(Duration::from_secs(step));
        let now = all_pages(&sim);
        for ((name, page), (_, old)) in now.iter().zip(&before) {
            if name.ends_with("/jmx") {
                let h = heap_ratio(page);
                assert!(h < 0.75, "{name}: heap ratio {h}");
                let gc = rate(old, page, "jvm_gc_collection_seconds_sum", &[], step as f64);
                assert!(gc < 0.02, "{name}: GC share {gc}");
                let fds = get(page, "process_open_fds", &[]).unwrap()
                    / get(page, "process_max_fds", &[]).unwrap();
                assert!(fds < 0.5, "{name}: fd ratio {fds}");
                assert!(get(page, "jvm_threads_current", &[]).unwrap() < 300.0, "{name}");
            }
            if name.ends_with("/node") {
                let used = data_fs_used_ratio(page);
                assert!(used < 0.7, "{name}: disk {used}");
                let idle =
                    rate(old, page, "node_cpu_seconds_total", &[("mode", "idle")], step as f64);
                let cores = parse(page)
                    .iter()
                    .filter(|s| {
                        s.name == "node_cpu_seconds_total" && s.labels.iter().any(|l| l.1 == "idle")
                    })
                    .count() as f64;
                assert!(1.0 - idle / cores < 0.8, "{name}: cpu busy {}", 1.0 - idle / cores);
                let avail = get(page, "node_memory_MemAvailable_bytes", &[]).unwrap()
                    / get(page, "node_memory_MemTotal_bytes", &[]).unwrap();
                assert!(avail > 0.2, "{name}: mem available {avail}");
                let busy = max(page, "node_disk_io_time_seconds_total", &[])
                    - max(old, "node_disk_io_time_seconds_total", &[]);
                assert!(busy / (step as f64) < 0.8, "{name}: disk busy");
            }
            if name.starts_with("cass-prod") && name.ends_with("/jmx") {
                assert!(
                    get(page, "cassandra_compaction_pendingtasks", &[]).unwrap() < 30.0,
                    "{name}"
                );
                assert_eq!(sum(page, "cassandra_droppedmessage_dropped_count", &[]), 0.0, "{name}");
                assert!(
                    max(page, "cassandra_table_tombstonescannedhistogram", &[("quantile", "0.99")])
                        < 100.0
                );
                assert!(
                    max(page, "cassandra_table_sstablesperreadhistogram", &[("quantile", "0.99")])
                        <= 4.0,
                    "{name}"
                );
                assert!(max(page, "cassandra_threadpools_pendingtasks", &[]) < 10.0, "{name}");
                assert_eq!(
                    max(page, "cassandra_threadpools_currentlyblockedtasks_count", &[]),
                    0.0
                );
                assert_eq!(get(page, "cassandra_storage_totalhints_count", &[]), Some(0.0));
                assert!(
                    max(page, "cassandra_keyspace_readlatency_seconds", &[("quantile", "0.99")])
                        < 0.01
                );
                assert!(
                    max(page, "cassandra_keyspace_writelatency_seconds", &[("quantile", "0.99")])
                        < 0.005
                );
            }
            if name.starts_with("kafka-prod") && name.ends_with("/jmx") {
                assert_eq!(
                    get(page, "kafka_server_replicamanager_underreplicatedpartitions", &[]),
                    Some(0.0)
                );
                let idle = rate(
                    old,
                    page,
                    "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count",
                    &[],
                    step as f64,
                ) / 1e9;
                assert!(idle > 0.8, "{name}: idle {idle}");
                assert!(
                    get(page, "kafka_network_requestchannel_requestqueuesize", &[]).unwrap() < 5.0
                );
                assert!(
                    get(
                        page,
                        "kafka_network_requestmetrics_totaltimems",
                        &[("request", "Produce"), ("quantile", "0.99")]
                    )
                    .unwrap()
                        < 30.0
                );
                assert_eq!(
                    rate(old, page, "kafka_server_replicamanager_isrshrinks_total", &[], 1.0),
                    0.0
                );
                assert_eq!(
                    get(
                        page,
                        "kafka_controller_kafkacontroller_preferredreplicaimbalancecount",
                        &[]
                    ),
                    Some(0.0)
                );
            }
            if name.ends_with("kafka_exporter") {
                for (g, _, _) in kafka::GROUPS {
                    let lag = sum(page, "kafka_consumergroup_lag_sum", &[("consumergroup", g)]);
                    assert!(lag < 5_000.0, "{g}: lag {lag}");
                }
                assert_eq!(sum(page, "kafka_topic_partition_under_replicated_partition", &[]), 0.0);
            }
        }
        let health = json(&sim, "es-logs", "/_cluster/health");
        assert_eq!(health["status"], "green");
        for n in es_nodes_of(&sim, "es-logs") {
            assert!(n["jvm"]["mem"]["heap_used_percent"].as_u64().unwrap() < 75, "{n}");
            assert_eq!(n["thread_pool"]["search"]["rejected"], 0);
            assert_eq!(n["indices"]["indexing"]["is_throttled"], false);
            let fs = &n["fs"]["total"];
            let used = 1.0
                - fs["available_in_bytes"].as_f64().unwrap()
                    / fs["total_in_bytes"].as_f64().unwrap();
            assert!(used < 0.7, "{used}");
            assert_eq!(n["breakers"]["parent"]["tripped"], 0);
            assert!(n["os"]["cpu"]["percent"].as_u64().unwrap() < 80);
        }
        before = now;
    }
}

// ------------------------------------------------------------------ faults vs healthy twins

#[test]
fn compaction_backlog_piles_up_pending_compactions() {
    let f = FaultSpec::new(Fault::CompactionBacklog, Some("c-2"));
    let (bad, good) = twins(System::Cassandra, 3, f, 30);
    let (b, g) = (jmx(&bad, "c-2"), jmx(&good, "c-2"));
    let pending = get(&b, "cassandra_compaction_pendingtasks", &[]).unwrap();
    assert!(pending > 100.0, "pending {pending}");
    assert!(get(&g, "cassandra_compaction_pendingtasks", &[]).unwrap() < 20.0);
    let blocked = &[("threadpools", "CompactionExecutor")];
    assert!(get(&b, "cassandra_threadpools_currentlyblockedtasks_count", blocked).unwrap() > 0.0);
    assert_eq!(get(&g, "cassandra_threadpools_currentlyblockedtasks_count", blocked), Some(0.0));
    let spr = |p: &str| max(p, "cassandra_table_sstablesperreadhistogram", &[("quantile", "0.99")]);
    assert!(spr(&b) >= 2.0 * spr(&g), "{} vs {}", spr(&b), spr(&g));
    let lat = |p: &str| max(p, "cassandra_keyspace_readlatency_seconds", &[("quantile", "0.99")]);
    assert!(lat(&b) > 1.5 * lat(&g), "{} vs {}", lat(&b), lat(&g));
    // Other nodes are unaffected.
    assert!(get(&jmx(&bad, "c-1"), "cassandra_compaction_pendingtasks", &[]).unwrap() < 20.0);
}

#[test]
fn gc_pressure_fills_the_heap_and_burns_wall_clock_in_gc() {
    let f = FaultSpec::new(Fault::GcPressure, Some("c-1"));
    let (mut bad, mut good) = twins(System::Cassandra, 3, f, 25);
    let (b0, g0) = (jmx(&bad, "c-1"), jmx(&good, "c-1"));
    bad.advance(Duration::from_secs(300));
    good.advance(Duration::from_secs(300));
    let (b, g) = (jmx(&bad, "c-1"), jmx(&good, "c-1"));
    assert!(heap_ratio(&b) > 0.9, "heap {}", heap_ratio(&b));
    assert!(heap_ratio(&g) < 0.75);
    let share = |a: &str, z: &str| rate(a, z, "jvm_gc_collection_seconds_sum", &[], 300.0);
    assert!(share(&b0, &b) > 0.10, "gc share {}", share(&b0, &b));
    assert!(share(&g0, &g) < 0.02);
    let old = &[("gc", "G1 Old Generation")];
    assert!(rate(&b0, &b, "jvm_gc_collection_seconds_count", old, 300.0) > 0.1);
    let lat = |p: &str| max(p, "cassandra_keyspace_readlatency_seconds", &[("quantile", "0.99")]);
    assert!(lat(&b) > 10.0 * lat(&g));
}

#[test]
fn tombstone_heavy_reads_scan_thousands_of_tombstones() {
    let f = FaultSpec::new(Fault::TombstoneHeavyReads, Some("c-1"));
    let (mut bad, good) = twins(System::Cassandra, 3, f, 30);
    let q = &[("table", "carts"), ("quantile", "0.99")];
    let b30 = get(&jmx(&bad, "c-1"), "cassandra_table_tombstonescannedhistogram", q).unwrap();
    assert!(b30 > 1000.0, "{b30}");
    assert!(
        get(&jmx(&good, "c-1"), "cassandra_table_tombstonescannedhistogram", q).unwrap() < 50.0
    );
    let lat = |p: &str| {
        get(
            p,
            "cassandra_keyspace_readlatency_seconds",
            &[("keyspace", "shop"), ("quantile", "0.99")],
        )
        .unwrap()
    };
    let l30 = lat(&jmx(&bad, "c-1"));
    assert!(l30 > 1.5 * lat(&jmx(&good, "c-1")));
    bad.advance(Duration::from_secs(1800));
    let b60 = get(&jmx(&bad, "c-1"), "cassandra_table_tombstonescannedhistogram", q).unwrap();
    assert!(b60 > b30, "rising: {b30} -> {b60}");
}

#[test]
fn cassandra_disk_filling_eats_gigabytes_per_hour() {
    let f = FaultSpec::new(Fault::DiskFilling, Some("c-1"));
    let (mut bad, mut good) = twins(System::Cassandra, 3, f, 5);
    let (b0, g0) = (host(&bad, "c-1"), host(&good, "c-1"));
    let (l0, _) = (get(&jmx(&bad, "c-1"), "cassandra_storage_load_count", &[]).unwrap(), 0);
    bad.advance(Duration::from_secs(3600));
    good.advance(Duration::from_secs(3600));
    let fell = data_fs_avail(&b0) - data_fs_avail(&host(&bad, "c-1"));
    assert!(fell > 50e9, "avail fell by {fell}");
    let healthy_fell = data_fs_avail(&g0) - data_fs_avail(&host(&good, "c-1"));
    assert!(healthy_fell.abs() < 10e9, "healthy changed by {healthy_fell}");
    let l1 = get(&jmx(&bad, "c-1"), "cassandra_storage_load_count", &[]).unwrap();
    assert!(l1 - l0 > 50e9);
}

#[test]
fn dropped_mutations_back_up_mutation_stage_and_drop_writes() {
    let f = FaultSpec::new(Fault::DroppedMutations, Some("c-1"));
    let (bad, good) = twins(System::Cassandra, 3, f, 20);
    let (b, g) = (jmx(&bad, "c-1"), jmx(&good, "c-1"));
    let ms = &[("threadpools", "MutationStage")];
    assert!(get(&b, "cassandra_threadpools_pendingtasks", ms).unwrap() > 1000.0);
    assert!(get(&g, "cassandra_threadpools_pendingtasks", ms).unwrap() < 5.0);
    let dropped = &[("droppedmessage", "MUTATION")];
    assert!(get(&b, "cassandra_droppedmessage_dropped_count", dropped).unwrap() > 10_000.0);
    assert_eq!(get(&g, "cassandra_droppedmessage_dropped_count", dropped), Some(0.0));
    let w = |p: &str| max(p, "cassandra_keyspace_writelatency_seconds", &[("quantile", "0.99")]);
    assert!(w(&b) > 100.0 * w(&g), "{} vs {}", w(&b), w(&g));
}

#[test]
fn hints_for_down_node_takes_it_down_and_others_store_hints() {
    let f = FaultSpec::new(Fault::HintsForDownNode, Some("c-3"));
    let (bad, good) = twins(System::Cassandra, 4, f, 10);
    assert!(bad.jmx_metrics("c", "c-3").is_none());
    assert!(bad.node_exporter_metrics("c", "c-3").is_none());
    assert_eq!(bad.node_up("c", "c-3"), Some(false));
    for n in ["c-1", "c-2", "c-4"] {
        let b = jmx(&bad, n);
        assert!(get(&b, "cassandra_storage_totalhints_count", &[]).unwrap() > 100_000.0);
        assert!(get(&b, "cassandra_storage_totalhintsinprogress_count", &[]).unwrap() > 0.0);
        assert_eq!(get(&jmx(&good, n), "cassandra_storage_totalhints_count", &[]), Some(0.0));
    }
}

#[test]
fn slow_broker_leaves_partitions_under_replicated() {
    let f = FaultSpec::new(Fault::UnderReplicatedSlowBroker, Some("c-3"));
    let (bad, good) = twins(System::Kafka, 3, f, 15);
    let urp = |s: &Simulator| -> f64 {
        node_names(s, "c")
            .iter()
            .map(|n| {
                get(&jmx(s, n), "kafka_server_replicamanager_underreplicatedpartitions", &[])
                    .unwrap()
            })
            .sum()
    };
    assert!(urp(&bad) > 10.0, "urp {}", urp(&bad));
    assert_eq!(urp(&good), 0.0);
    let shrinks = |s: &Simulator| -> f64 {
        node_names(s, "c")
            .iter()
            .map(|n| get(&jmx(s, n), "kafka_server_replicamanager_isrshrinks_total", &[]).unwrap())
            .sum()
    };
    assert!(shrinks(&bad) > shrinks(&good) + 10.0);
    let p99 = |p: &str| {
        get(
            p,
            "kafka_network_requestmetrics_totaltimems",
            &[("request", "Produce"), ("quantile", "0.99")],
        )
        .unwrap()
    };
    assert!(p99(&jmx(&bad, "c-3")) > 5.0 * p99(&jmx(&good, "c-3")));
    let flush = |p: &str| {
        get(p, "kafka_log_logflushstats_logflushrateandtimems", &[("quantile", "0.99")]).unwrap()
    };
    assert!(flush(&jmx(&bad, "c-3")) > 100.0 && flush(&jmx(&good, "c-3")) < 20.0);
    let exp = bad.kafka_exporter_metrics("c").unwrap();
    assert!(sum(&exp, "kafka_topic_partition_under_replicated_partition", &[]) > 10.0);
}

#[test]
fn request_handler_saturation_leaves_no_idle_io_threads() {
    let f = FaultSpec::new(Fault::RequestHandlerSaturation, Some("c-1"));
    let (mut bad, mut good) = twins(System::Kafka, 3, f, 10);
    let (b0, g0) = (jmx(&bad, "c-1"), jmx(&good, "c-1"));
    bad.advance(Duration::from_secs(300));
    good.advance(Duration::from_secs(300));
    let (b, g) = (jmx(&bad, "c-1"), jmx(&good, "c-1"));
    let idle = |a: &str, z: &str| {
        rate(
            a,
            z,
            "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count",
            &[],
            300.0,
        ) / 1e9
    };
    assert!(idle(&b0, &b) < 0.2, "idle {}", idle(&b0, &b));
    assert!(idle(&g0, &g) > 0.8);
    assert!(get(&b, "kafka_network_requestchannel_requestqueuesize", &[]).unwrap() > 20.0);
    let p99 = |p: &str| {
        get(
            p,
            "kafka_network_requestmetrics_totaltimems",
            &[("request", "Produce"), ("quantile", "0.99")],
        )
        .unwrap()
    };
    assert!(p99(&b) > 3.0 * p99(&g));
}

#[test]
fn consumer_lag_grows_steadily() {
    let f = FaultSpec::new(Fault::ConsumerLagGrowth, None);
    let (mut bad, good) = twins(System::Kafka, 3, f, 15);
    let lag = |s: &Simulator| {
        sum(
            &s.kafka_exporter_metrics("c").unwrap(),
            "kafka_consumergroup_lag_sum",
            &[("consumergroup", "analytics")],
        )
    };
    let l15 = lag(&bad);
    bad.advance(Duration::from_secs(900));
    let l30 = lag(&bad);
    assert!(l15 > 10_000.0 && l30 > 1.5 * l15, "{l15} -> {l30}");
    assert!(lag(&good) < 5_000.0);
}

#[test]
fn leader_imbalance_concentrates_leadership() {
    let f = FaultSpec::new(Fault::LeaderImbalance, Some("c-2"));
    let (bad, good) = twins(System::Kafka, 3, f, 5);
    let leaders = |s: &Simulator, n: &str| {
        get(&jmx(s, n), "kafka_server_replicamanager_leadercount", &[]).unwrap()
    };
    let total: f64 = ["c-1", "c-2", "c-3"].iter().map(|n| leaders(&bad, n)).sum();
    assert!(leaders(&bad, "c-2") > 0.7 * total);
    assert!((leaders(&good, "c-2") - total / 3.0).abs() < 5.0);
    let imb = |s: &Simulator| {
        get(&jmx(s, "c-1"), "kafka_controller_kafkacontroller_preferredreplicaimbalancecount", &[])
            .unwrap()
    };
    assert!(imb(&bad) > 10.0);
    assert_eq!(imb(&good), 0.0);
}

#[test]
fn kafka_disk_filling_grows_logs_without_retention() {
    let f = FaultSpec::new(Fault::DiskFilling, Some("c-1"));
    let (mut bad, mut good) = twins(System::Kafka, 3, f, 5);
    assert_eq!(bad.clusters()[0].faults[0].fault, Fault::KafkaDiskFilling);
    let (b0, g0) = (host(&bad, "c-1"), host(&good, "c-1"));
    let s0 = sum(&jmx(&bad, "c-1"), "kafka_log_log_size", &[]);
    bad.advance(Duration::from_secs(3600));
    good.advance(Duration::from_secs(3600));
    let fell = data_fs_avail(&b0) - data_fs_avail(&host(&bad, "c-1"));
    assert!(fell > 50e9, "{fell}");
    assert!((data_fs_avail(&g0) - data_fs_avail(&host(&good, "c-1"))).abs() < 10e9);
    assert!(sum(&jmx(&bad, "c-1"), "kafka_log_log_size", &[]) - s0 > 50e9);
}

#[test]
fn isr_flapping_shrinks_and_expands_repeatedly() {
    // On one broker: its ISRs (it is the leader) flap; the other brokers' do not.
    let f = FaultSpec::new(Fault::IsrFlapping, Some("c-2"));
    let (mut one, _) = twins(System::Kafka, 3, f, 5);
    let on = |s: &Simulator, n: &str, m: &str| get(&jmx(s, n), m, &[]).unwrap();
    let shrinks = "kafka_server_replicamanager_isrshrinks_total";
    let expands = "kafka_server_replicamanager_isrexpands_total";
    let before: Vec<f64> = ["c-1", "c-2", "c-3"].iter().map(|n| on(&one, n, shrinks)).collect();
    let e0 = on(&one, "c-2", expands);
    one.advance(Duration::from_secs(600));
    assert!(on(&one, "c-2", shrinks) - before[1] > 20.0);
    assert!(on(&one, "c-2", expands) - e0 > 20.0);
    assert_eq!(on(&one, "c-1", shrinks), before[0]);
    assert_eq!(on(&one, "c-3", shrinks), before[2]);

    let f = FaultSpec::new(Fault::IsrFlapping, None);
    let (mut bad, mut good) = twins(System::Kafka, 3, f, 5);
    let count = |s: &Simulator, m: &str| -> f64 {
        ["c-1", "c-2", "c-3"].iter().map(|n| get(&jmx(s, n), m, &[]).unwrap()).sum()
    };
    let (s0, e0) = (
        count(&bad, "kafka_server_replicamanager_isrshrinks_total"),
        count(&bad, "kafka_server_replicamanager_isrexpands_total"),
    );
    let gs0 = count(&good, "kafka_server_replicamanager_isrshrinks_total");
    bad.advance(Duration::from_secs(600));
    good.advance(Duration::from_secs(600));
    let ds = count(&bad, "kafka_server_replicamanager_isrshrinks_total") - s0;
    let de = count(&bad, "kafka_server_replicamanager_isrexpands_total") - e0;
    assert!(ds > 20.0 && de > 20.0, "shrinks {ds} expands {de}");
    assert_eq!(count(&good, "kafka_server_replicamanager_isrshrinks_total"), gs0);
}

#[test]
fn heap_pressure_trips_breakers() {
    let f = FaultSpec::new(Fault::HeapPressure, Some("c-1"));
    let (bad, good) = twins(System::Elasticsearch, 3, f, 20);
    let (b, g) = (es_node(&bad, "c-1"), es_node(&good, "c-1"));
    let pct = b["jvm"]["mem"]["heap_used_percent"].as_u64().unwrap();
    assert!((85..=97).contains(&pct), "{pct}");
    assert!(g["jvm"]["mem"]["heap_used_percent"].as_u64().unwrap() < 75);
    let parent = &b["breakers"]["parent"];
    let ratio = parent["estimated_size_in_bytes"].as_f64().unwrap()
        / parent["limit_size_in_bytes"].as_f64().unwrap();
    assert!(ratio > 0.85, "{ratio}");
    assert!(parent["tripped"].as_u64().unwrap() > 10);
    assert_eq!(g["breakers"]["parent"]["tripped"], 0);
    let fd = &b["breakers"]["fielddata"];
    assert!(
        fd["estimated_size_in_bytes"].as_f64().unwrap()
            > 0.8 * fd["limit_size_in_bytes"].as_f64().unwrap()
    );
    let old = |n: &serde_json::Value| {
        n["jvm"]["gc"]["collectors"]["old"]["collection_count"].as_u64().unwrap()
    };
    assert!(old(&b) > old(&g) + 20);
}

#[test]
fn search_rejections_fill_the_search_queue() {
    let f = FaultSpec::new(Fault::SearchRejections, Some("c-2"));
    let (bad, good) = twins(System::Elasticsearch, 3, f, 10);
    let (b, g) = (es_node(&bad, "c-2"), es_node(&good, "c-2"));
    assert_eq!(b["thread_pool"]["search"]["queue"], 1000);
    assert!(b["thread_pool"]["search"]["rejected"].as_u64().unwrap() > 10_000);
    assert_eq!(g["thread_pool"]["search"]["rejected"], 0);
    assert!(g["thread_pool"]["search"]["queue"].as_u64().unwrap() < 5);
    // Every search thread of the faulty node busy: its `es_search_pool_busy_ratio` is 1.
    let busy = |n: &serde_json::Value| {
        let p = &n["thread_pool"]["search"];
        p["active"].as_f64().unwrap() / p["threads"].as_f64().unwrap()
    };
    assert_eq!(busy(&b), 1.0);
    assert!(busy(&g) < 0.5, "{}", busy(&g));
}

#[test]
fn unassigned_replicas_turn_health_yellow_and_primaries_red() {
    let (bad, good) =
        twins(System::Elasticsearch, 3, FaultSpec::new(Fault::UnassignedShardsYellow, None), 2);
    let h = json(&bad, "c", "/_cluster/health");
    assert_eq!(h["status"], "yellow");
    assert!(h["unassigned_shards"].as_u64().unwrap() > 0);
    assert_eq!(json(&good, "c", "/_cluster/health")["status"], "green");
    let rows = json(&bad, "c", "/_cat/shards?format=json");
    let unassigned: Vec<_> =
        rows.as_array().unwrap().iter().filter(|r| r["state"] == "UNASSIGNED").collect();
    assert_eq!(unassigned.len() as u64, h["unassigned_shards"].as_u64().unwrap());
    assert!(
        unassigned.iter().all(|r| r["prirep"] == "r" && r["node"].is_null() && r["docs"].is_null())
    );

    let (red, _) =
        twins(System::Elasticsearch, 3, FaultSpec::new(Fault::UnassignedShardsRed, None), 2);
    let h = json(&red, "c", "/_cluster/health");
    assert_eq!(h["status"], "red");
    assert!(h["unassigned_primary_shards"].as_u64().unwrap() >= 1);
    let rows = json(&red, "c", "/_cat/shards?format=json");
    assert!(
        rows.as_array().unwrap().iter().any(|r| r["prirep"] == "p" && r["state"] == "UNASSIGNED")
    );
}

#[test]
fn disk_low_watermark_puts_one_node_between_85_and_90_percent() {
    let f = FaultSpec::new(Fault::DiskLowWatermark, Some("c-2"));
    let (bad, good) = twins(System::Elasticsearch, 3, f, 30);
    let used = |n: &serde_json::Value| {
        1.0 - n["fs"]["total"]["available_in_bytes"].as_f64().unwrap()
            / n["fs"]["total"]["total_in_bytes"].as_f64().unwrap()
    };
    let u = used(&es_node(&bad, "c-2"));
    assert!((0.85..0.90).contains(&u), "{u}");
    assert!(used(&es_node(&bad, "c-1")) < 0.7);
    assert!(used(&es_node(&good, "c-2")) < 0.7);
    let host_used = data_fs_used_ratio(&host(&bad, "c-2"));
    assert!((host_used - u).abs() < 0.01, "node_exporter {host_used} vs ES {u}");
    let s = json(&bad, "c", "/_cluster/settings");
    assert_eq!(
        s["persistent"]["cluster"]["routing"]["allocation"]["disk"]["watermark"]["low"],
        "85%"
    );
    assert_eq!(json(&good, "c", "/_cluster/settings")["persistent"], serde_json::json!({}));
}

#[test]
fn es_settings_are_served_over_the_defaults_like_elasticsearch() {
    let mut spec = single("c", System::Elasticsearch, 3, None);
    let w = |level: &str| format!("cluster.routing.allocation.disk.watermark.{level}");
    spec.clusters[0].es_settings = EsSettingsSpec {
        persistent: [(w("high"), "88%".to_string())].into(),
        transient: [(w("low"), "500gb".to_string())].into(),
        reject_include_defaults: false,
    };
    let sim = Simulator::new(spec.clone()).unwrap();
    let s = json(&sim, "c", "/_cluster/settings?include_defaults=true&flat_settings=true");
    assert_eq!(s["persistent"][w("high")], "88%");
    assert_eq!(s["transient"][w("low")], "500gb");
    // A setting given explicitly is not also listed as a default, and its ES 8 max_headroom
    // default becomes -1 (no cap); an untouched watermark keeps its default and cap.
    assert!(s["defaults"].get(w("high")).is_none(), "{s}");
    assert_eq!(s["defaults"][format!("{}.max_headroom", w("high"))], "-1");
    assert_eq!(s["defaults"][w("flood_stage")], "95%");
    assert_eq!(s["defaults"][format!("{}.max_headroom", w("flood_stage"))], "100gb");

    // Before 6.4, include_defaults is an unknown parameter: HTTP 400, and the settings
    // without it still answer.
    spec.clusters[0].es_settings.reject_include_defaults = true;
    let old = Simulator::new(spec.clone()).unwrap();
    let (status, body) = old.es_api("c", "/_cluster/settings?include_defaults=true").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unrecognized parameter: [include_defaults]"), "{body}");
    let s = json(&old, "c", "/_cluster/settings?flat_settings=true");
    assert_eq!(s["persistent"][w("high")], "88%");
    assert!(s.get("defaults").is_none());

    // Only Elasticsearch has these settings.
    spec.clusters[0].system = System::Kafka;
    let e = Simulator::new(spec).unwrap_err().to_string();
    assert!(e.contains("`es_settings` is for Elasticsearch clusters only"), "{e}");
}

#[test]
fn too_many_shards_puts_over_1000_shards_on_each_node() {
    let (bad, good) =
        twins(System::Elasticsearch, 3, FaultSpec::new(Fault::TooManyShards, None), 2);
    let h = json(&bad, "c", "/_cluster/health");
    let per_node =
        h["active_shards"].as_f64().unwrap() / h["number_of_data_nodes"].as_f64().unwrap();
    assert!(per_node > 1000.0, "{per_node}");
    let rows = json(&bad, "c", "/_cat/shards?format=json");
    assert_eq!(
        rows.as_array().unwrap().len() as u64,
        h["active_shards"].as_u64().unwrap() + h["unassigned_shards"].as_u64().unwrap()
    );
    for n in es_nodes(&bad) {
        assert!(n["indices"]["shard_stats"]["total_count"].as_u64().unwrap() > 1000);
    }
    let limit =
        &json(&bad, "c", "/_cluster/settings")["persistent"]["cluster"]["max_shards_per_node"];
    assert_eq!(limit, "1400");
    let g = json(&good, "c", "/_cluster/health");
    assert!(g["active_shards"].as_f64().unwrap() / 3.0 < 100.0);
}

#[test]
fn merge_throttling_throttles_indexing() {
    let f = FaultSpec::new(Fault::MergeThrottling, Some("c-1"));
    let (bad, good) = twins(System::Elasticsearch, 3, f, 30);
    let (b, g) = (es_node(&bad, "c-1"), es_node(&good, "c-1"));
    assert_eq!(b["indices"]["indexing"]["is_throttled"], true);
    assert_eq!(g["indices"]["indexing"]["is_throttled"], false);
    let tt = |n: &serde_json::Value| {
        n["indices"]["indexing"]["throttle_time_in_millis"].as_u64().unwrap()
    };
    assert!(tt(&b) > 100_000 && tt(&g) == 0, "{} {}", tt(&b), tt(&g));
    let mt = |n: &serde_json::Value| {
        n["indices"]["merges"]["total_throttled_time_in_millis"].as_f64().unwrap()
    };
    let mg = |n: &serde_json::Value| n["indices"]["merges"]["current"].as_u64().unwrap();
    assert!(mt(&b) > mt(&g) + 1e6, "{} {}", mt(&b), mt(&g));
    assert!(mg(&b) > mg(&g));
}

// ------------------------------------------------------------------ spec validation

fn err(spec: SimSpec) -> String {
    Simulator::new(spec).unwrap_err().to_string()
}

#[test]
fn bad_specs_are_rejected_with_clear_errors() {
    let c = |f: FaultSpec| single("c", System::Cassandra, 3, Some(f));
    assert_eq!(err(SimSpec::default()), "the spec has no clusters");
    assert!(
        err(c(FaultSpec::new(Fault::GcPressure, Some("nope"))))
            .contains("unknown node `nope` (nodes: c-1, c-2, c-3)")
    );
    assert!(
        err(c(FaultSpec::new(Fault::HeapPressure, None)))
            .contains("runs cassandra but fault `heap_pressure` is a elasticsearch fault")
    );
    let mut zero = single("z", System::Kafka, 0, None);
    assert!(err(zero.clone()).contains("cluster `z` has zero nodes"));
    zero.clusters[0].count = Some(0);
    assert!(err(zero).contains("zero nodes"));
    let mut sev = FaultSpec::new(Fault::GcPressure, None);
    sev.severity = 1.5;
    assert!(err(c(sev)).contains("severity must be in (0, 1]"));
    let k =
        single("k", System::Kafka, 3, Some(FaultSpec::new(Fault::ConsumerLagGrowth, Some("k-1"))));
    assert!(err(k).contains("is cluster-wide; remove `node: k-1`"));
    let one =
        single("o", System::Cassandra, 1, Some(FaultSpec::new(Fault::HintsForDownNode, None)));
    assert!(err(one).contains("at least 2 nodes"));
    let mut dup = single("d", System::Cassandra, 2, None);
    dup.clusters.push(dup.clusters[0].clone());
    assert!(err(dup).contains("`d` is used twice"));
    let mut prof = single("p", System::Cassandra, 1, None);
    prof.clusters[0].nodes[0].profile.cores = 0;
    assert!(err(prof).contains("bad hardware profile: cores must be"));
    let warm = SimSpec { warmup_s: -1.0, ..SimSpec::demo(1) };
    assert!(err(warm).contains("warmup_s must be between 0 and 30 days"));
}

#[test]
fn specs_deserialize_with_defaults_presets_and_counts() {
    let spec: SimSpec = serde_json::from_str(
        r#"{"clusters": [
            {"name": "k", "system": "kafka", "count": 3, "profile": "small",
             "faults": [{"fault": "disk_filling", "node": "k-2"},
                        {"fault": "isr_flapping", "severity": 0.5, "start_s": 60}]},
            {"name": "c", "system": "cassandra", "nodes": [
                {"name": "a"},
                {"name": "b", "profile": {"cores": 2, "ram_bytes": 8589934592, "disks": 1,
                                          "disk_bytes": 107374182400, "disk_kind": "hdd"}}]}
        ]}"#,
    )
    .unwrap();
    assert_eq!(spec.seed, 1);
    assert_eq!(spec.start_ms, DEFAULT_START_MS);
    assert_eq!(spec.clusters[0].faults[1].severity, 0.5);
    let sim = Simulator::new(spec).unwrap();
    let k = &sim.clusters()[0];
    assert_eq!(k.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["k-1", "k-2", "k-3"]);
    assert_eq!(k.nodes[0].profile, HardwareProfile::small());
    assert_eq!(k.faults[0].fault, Fault::KafkaDiskFilling);
    let c = &sim.clusters()[1];
    assert_eq!(c.nodes[0].profile, HardwareProfile::medium());
    assert_eq!(c.nodes[1].profile.disk_kind, DiskKind::Hdd);
    assert_eq!(c.nodes[1].profile.name, "custom");

    let bad: Result<SimSpec, _> = serde_json::from_str(
        r#"{"clusters": [{"name": "x", "system": "kafka", "profile": "huge", "count": 1}]}"#,
    );
    assert!(bad.unwrap_err().to_string().contains("unknown hardware preset `huge`"));
    let bad: Result<SimSpec, _> = serde_json::from_str(
        r#"{"clusters": [{"name": "x", "system": "kafka", "faults": [{"fault": "melting"}]}]}"#,
    );
    assert!(bad.is_err());
}

// ------------------------------------------------------------------ serving

/// A blocking raw HTTP/1.1 GET (no client library): status, headers, body.
fn http_get(url: &str, path: &str) -> std::io::Result<(u16, String, String)> {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let mut s = std::net::TcpStream::connect(&addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    // Chunked bodies are not expected: axum sends a Content-Length for these responses.
    Ok((status, head.to_owned(), body.to_owned()))
}

async fn get_async(url: String, path: &'static str) -> std::io::Result<(u16, String, String)> {
    tokio::task::spawn_blocking(move || http_get(&url, path)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_over_loopback_and_down_nodes_refuse() {
    let mut spec = SimSpec::demo(5);
    spec.clusters[0] = spec.clusters[0]
        .clone()
        .with_fault(FaultSpec::new(Fault::HintsForDownNode, Some("cass-prod-4")));
    let sim = Simulator::new(spec).unwrap();
    let server = serve(sim, 60.0).await.unwrap();
    assert_eq!(server.endpoints.len(), 4 * 2 + 3 * 2 + 1 + 3 + 1);
    for ep in &server.endpoints {
        let down = ep.node.as_deref() == Some("cass-prod-4");
        let got = match ep.kind {
            EndpointKind::Elasticsearch => get_async(ep.url.clone(), "/_cluster/health").await,
            _ => get_async(ep.url.clone(), "/metrics").await,
        };
        if down {
            let Err(e) = got else { panic!("{ep:?}: a down node must refuse connections") };
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{ep:?}");
            // The port stays taken: no other program (or parallel test) can be given it
            // and answer in the down node's name.
            let addr = ep.url.trim_start_matches("http://").split('/').next().unwrap();
            let err = std::net::TcpListener::bind(addr).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{ep:?}");
            continue;
        }
        let (status, head, body) = got.unwrap();
        assert_eq!(status, 200, "{ep:?}");
        match ep.kind {
            EndpointKind::Elasticsearch => {
                assert!(head.to_ascii_lowercase().contains("content-type: application/json"));
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["cluster_name"], "es-logs");
            }
            _ => {
                assert!(
                    head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
                    "{head}"
                );
                assert!(!parse(&body).is_empty());
            }
        }
    }
    let es = server.endpoint("es-logs", None, EndpointKind::Elasticsearch).unwrap().url.clone();
    for path in ["/", "/_nodes/stats", "/_cluster/settings", "/_cat/shards?format=json"] {
        let (status, _, body) = get_async(es.clone(), path).await.unwrap();
        assert_eq!(status, 200, "{path}");
        let _: serde_json::Value = serde_json::from_str(&body).unwrap();
    }
    let (status, _, body) = get_async(es, "/_nope").await.unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("resource_not_found_exception"));
    let jmx =
        server.endpoint("kafka-prod", Some("kafka-prod-1"), EndpointKind::Jmx).unwrap().url.clone();
    assert_eq!(get_async(jmx.clone(), "/other").await.unwrap().0, 404);
    // The clock runs at 60x: the sample timestamps move forward.
    let t0 = parse(&get_async(jmx.clone(), "/metrics").await.unwrap().2)[0].ts;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t1 = parse(&get_async(jmx.clone(), "/metrics").await.unwrap().2)[0].ts;
    assert!(t1 > t0, "{t0} -> {t1}");
    server.shutdown().await;
    assert!(get_async(jmx, "/metrics").await.is_err(), "stopped server must not answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_goes_down_later_starts_refusing() {
    let mut f = FaultSpec::new(Fault::HintsForDownNode, Some("c-2"));
    f.start_s = 60.0;
    let sim = Simulator::new(single("c", System::Cassandra, 3, Some(f))).unwrap();
    let server = serve(sim, 100.0).await.unwrap();
    let url = server.endpoint("c", Some("c-2"), EndpointKind::Jmx).unwrap().url.clone();
    assert_eq!(get_async(url.clone(), "/metrics").await.unwrap().0, 200);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let Err(e) = get_async(url, "/metrics").await else { panic!("c-2 should be down now") };
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    let other = server.endpoint("c", Some("c-1"), EndpointKind::Jmx).unwrap().url.clone();
    let (_, _, body) = get_async(other, "/metrics").await.unwrap();
    assert!(get(&body, "cassandra_storage_totalhints_count", &[]).unwrap() > 0.0);
    drop(server);
}

#[tokio::test]
async fn serve_rejects_a_bad_speed() {
    let sim = Simulator::new(SimSpec::demo(1)).unwrap();
    assert!(matches!(serve(sim, f64::NAN).await, Err(SimError::BadSpeed(_))));
}

// ------------------------------------------------------------------ fault value table

type Snap = std::collections::BTreeMap<String, String>;
type ProbeFn = Box<dyn Fn(&Snap, &Snap) -> f64>;
type Probe = (&'static str, ProbeFn);

fn snap(sim: &Simulator) -> Snap {
    all_pages(sim).into_iter().collect()
}

fn pg<'a>(s: &'a Snap, key: &str) -> &'a str {
    s.get(key).map_or("", String::as_str)
}

fn es_json(s: &Snap, path: &str) -> serde_json::Value {
    serde_json::from_str(pg(s, &format!("c{path}"))).unwrap_or(serde_json::Value::Null)
}

fn es_node_of(s: &Snap, node: &str) -> serde_json::Value {
    let v = es_json(s, "/_nodes/stats");
    v["nodes"]
        .as_object()
        .and_then(|m| m.values().find(|n| n["name"] == node).cloned())
        .unwrap_or_default()
}

fn jp(v: &serde_json::Value, path: &[&str]) -> f64 {
    let x = path.iter().fold(v, |v, k| &v[*k]);
    x.as_f64().or_else(|| x.as_bool().map(|b| f64::from(u8::from(b)))).unwrap_or(f64::NAN)
}

const DT: f64 = 300.0;

fn jmx_key(n: &str) -> String {
    format!("c/{n}/jmx")
}

fn node_key(n: &str) -> String {
    format!("c/{n}/node")
}

fn p_get(
    key: String,
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    scale: f64,
) -> ProbeFn {
    Box::new(move |s, _| get(pg(s, &key), name, labels).unwrap_or(f64::NAN) * scale)
}

fn p_max(
    key: String,
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    scale: f64,
) -> ProbeFn {
    Box::new(move |s, _| max(pg(s, &key), name, labels) * scale)
}

fn p_rate(
    key: String,
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    scale: f64,
) -> ProbeFn {
    Box::new(move |s, p| rate(pg(p, &key), pg(s, &key), name, labels, DT) * scale)
}

fn p_sum_nodes(nodes: &'static [&'static str], name: &'static str, per_second: bool) -> ProbeFn {
    Box::new(move |s, p| {
        nodes
            .iter()
            .map(|n| {
                let now = sum(pg(s, &jmx_key(n)), name, &[]);
                if per_second { (now - sum(pg(p, &jmx_key(n)), name, &[])) / DT } else { now }
            })
            .sum()
    })
}

fn p_es(node: &'static str, path: &'static [&'static str]) -> ProbeFn {
    Box::new(move |s, _| jp(&es_node_of(s, node), path))
}

fn p_es_rate(node: &'static str, path: &'static [&'static str], scale: f64) -> ProbeFn {
    Box::new(move |s, p| {
        (jp(&es_node_of(s, node), path) - jp(&es_node_of(p, node), path)) / DT * scale
    })
}

fn p_disk_used(node: &'static str) -> ProbeFn {
    Box::new(move |s, _| data_fs_used_ratio(pg(s, &node_key(node))))
}

fn p_avail_gb(node: &'static str) -> ProbeFn {
    Box::new(move |s, _| data_fs_avail(pg(s, &node_key(node))) / 1e9)
}

fn p_avail_slope(node: &'static str) -> ProbeFn {
    Box::new(move |s, p| {
        (data_fs_avail(pg(s, &node_key(node))) - data_fs_avail(pg(p, &node_key(node)))) / 1e9 / DT
            * 3600.0
    })
}

fn p_cpu_busy(node: &'static str) -> ProbeFn {
    Box::new(move |s, p| {
        let (a, b) = (pg(p, &node_key(node)), pg(s, &node_key(node)));
        let cores = parse(b)
            .iter()
            .filter(|x| {
                x.name == "node_cpu_seconds_total" && x.labels.iter().any(|l| l.1 == "idle")
            })
            .count() as f64;
        1.0 - rate(a, b, "node_cpu_seconds_total", &[("mode", "idle")], DT) / cores
    })
}

fn p_write_lat_ms(node: &'static str) -> ProbeFn {
    Box::new(move |s, p| {
        let (a, b) = (pg(p, &node_key(node)), pg(s, &node_key(node)));
        let t = sum(b, "node_disk_write_time_seconds_total", &[])
            - sum(a, "node_disk_write_time_seconds_total", &[]);
        let n = sum(b, "node_disk_writes_completed_total", &[])
            - sum(a, "node_disk_writes_completed_total", &[]);
        t / n * 1000.0
    })
}

fn p_disk_busy(node: &'static str) -> ProbeFn {
    Box::new(move |s, p| {
        let (a, b) = (pg(p, &node_key(node)), pg(s, &node_key(node)));
        let name = "node_disk_io_time_seconds_total";
        parse(b)
            .iter()
            .filter(|x| x.name == name)
            .map(|x| (x.value - get(a, name, &[("device", &x.labels[0].1)]).unwrap()) / DT)
            .fold(0.0, f64::max)
    })
}

fn p_heap(node: &'static str) -> ProbeFn {
    Box::new(move |s, _| heap_ratio(pg(s, &jmx_key(node))))
}

fn p_health(field: &'static str) -> ProbeFn {
    Box::new(move |s, _| {
        let h = es_json(s, "/_cluster/health");
        match field {
            "status" => match h["status"].as_str() {
                Some("green") => 0.0,
                Some("yellow") => 1.0,
                _ => 2.0,
            },
            "shards_per_node" => {
                h["active_shards"].as_f64().unwrap_or(0.0)
                    / h["number_of_data_nodes"].as_f64().unwrap_or(1.0)
            }
            f => h[f].as_f64().unwrap_or(f64::NAN),
        }
    })
}

struct Case {
    fault: FaultSpec,
    system: System,
    nodes: u32,
    probes: Vec<Probe>,
}

fn cases() -> Vec<Case> {
    use Fault::*;
    const P99: &[(&str, &str)] = &[("quantile", "0.99")];
    const CE: &[(&str, &str)] = &[("threadpools", "CompactionExecutor")];
    const MS: &[(&str, &str)] = &[("threadpools", "MutationStage")];
    const MUT: &[(&str, &str)] = &[("droppedmessage", "MUTATION")];
    const OLD: &[(&str, &str)] = &[("gc", "G1 Old Generation")];
    const CARTS: &[(&str, &str)] = &[("table", "carts"), ("quantile", "0.99")];
    const SHOP: &[(&str, &str)] = &[("keyspace", "shop"), ("quantile", "0.99")];
    const PRODUCE: &[(&str, &str)] = &[("request", "Produce"), ("quantile", "0.99")];
    const WRITE: &[(&str, &str)] = &[("clientrequest", "Write")];
    const ANALYTICS: &[(&str, &str)] = &[("consumergroup", "analytics")];
    const NONE: &[(&str, &str)] = &[];
    const K3: &[&str] = &["c-1", "c-2", "c-3"];
    let c = |f: Fault, n: Option<&str>, system: System, nodes: u32, probes: Vec<Probe>| Case {
        fault: FaultSpec::new(f, n),
        system,
        nodes,
        probes,
    };
    let cas = System::Cassandra;
    let kaf = System::Kafka;
    let es = System::Elasticsearch;
    vec![
        c(
            CompactionBacklog,
            Some("c-2"),
            cas,
            3,
            vec![
                (
                    "cassandra_compaction_pendingtasks",
                    p_get(jmx_key("c-2"), "cassandra_compaction_pendingtasks", NONE, 1.0),
                ),
                (
                    "cassandra_threadpools_currentlyblockedtasks_count{threadpools=CompactionExecutor}",
                    p_get(
                        jmx_key("c-2"),
                        "cassandra_threadpools_currentlyblockedtasks_count",
                        CE,
                        1.0,
                    ),
                ),
                (
                    "max cassandra_table_sstablesperreadhistogram{quantile=0.99}",
                    p_max(jmx_key("c-2"), "cassandra_table_sstablesperreadhistogram", P99, 1.0),
                ),
                (
                    "max cassandra_columnfamily_livesstablecount",
                    p_max(jmx_key("c-2"), "cassandra_columnfamily_livesstablecount", NONE, 1.0),
                ),
                (
                    "max cassandra_keyspace_readlatency_seconds{quantile=0.99} (ms)",
                    p_max(jmx_key("c-2"), "cassandra_keyspace_readlatency_seconds", P99, 1000.0),
                ),
            ],
        ),
        c(
            GcPressure,
            Some("c-1"),
            cas,
            3,
            vec![
                ("heap used / max", p_heap("c-1")),
                (
                    "rate(jvm_gc_collection_seconds_sum) (GC share)",
                    p_rate(jmx_key("c-1"), "jvm_gc_collection_seconds_sum", NONE, 1.0),
                ),
                (
                    "rate(jvm_gc_collection_seconds_count{gc=G1 Old Generation}) /s",
                    p_rate(jmx_key("c-1"), "jvm_gc_collection_seconds_count", OLD, 1.0),
                ),
                (
                    "max cassandra_keyspace_readlatency_seconds{quantile=0.99} (ms)",
                    p_max(jmx_key("c-1"), "cassandra_keyspace_readlatency_seconds", P99, 1000.0),
                ),
                ("host CPU busy ratio", p_cpu_busy("c-1")),
            ],
        ),
        c(
            TombstoneHeavyReads,
            Some("c-1"),
            cas,
            3,
            vec![
                (
                    "cassandra_table_tombstonescannedhistogram{table=carts,quantile=0.99}",
                    p_get(jmx_key("c-1"), "cassandra_table_tombstonescannedhistogram", CARTS, 1.0),
                ),
                (
                    "cassandra_keyspace_readlatency_seconds{keyspace=shop,quantile=0.99} (ms)",
                    p_get(jmx_key("c-1"), "cassandra_keyspace_readlatency_seconds", SHOP, 1000.0),
                ),
                ("heap used / max", p_heap("c-1")),
            ],
        ),
        c(
            DiskFilling,
            Some("c-1"),
            cas,
            3,
            vec![
                (
                    "node_filesystem_avail_bytes{mountpoint=/var/lib/cassandra} (GB)",
                    p_avail_gb("c-1"),
                ),
                ("data disk used ratio", p_disk_used("c-1")),
                ("avail slope (GB/h)", p_avail_slope("c-1")),
                (
                    "cassandra_storage_load_count (GB)",
                    p_get(jmx_key("c-1"), "cassandra_storage_load_count", NONE, 1e-9),
                ),
            ],
        ),
        c(
            DroppedMutations,
            Some("c-1"),
            cas,
            3,
            vec![
                (
                    "cassandra_threadpools_pendingtasks{threadpools=MutationStage}",
                    p_get(jmx_key("c-1"), "cassandra_threadpools_pendingtasks", MS, 1.0),
                ),
                (
                    "rate(cassandra_droppedmessage_dropped_count{droppedmessage=MUTATION}) /s",
                    p_rate(jmx_key("c-1"), "cassandra_droppedmessage_dropped_count", MUT, 1.0),
                ),
                (
                    "max cassandra_keyspace_writelatency_seconds{quantile=0.99} (ms)",
                    p_max(jmx_key("c-1"), "cassandra_keyspace_writelatency_seconds", P99, 1000.0),
                ),
                (
                    "rate(cassandra_clientrequest_timeouts_count{clientrequest=Write}) /s",
                    p_rate(jmx_key("c-1"), "cassandra_clientrequest_timeouts_count", WRITE, 1.0),
                ),
                (
                    "max cassandra_threadpools_currentlyblockedtasks_count (Native-Transport-Requests)",
                    p_max(
                        jmx_key("c-1"),
                        "cassandra_threadpools_currentlyblockedtasks_count",
                        NONE,
                        1.0,
                    ),
                ),
                ("host CPU busy ratio", p_cpu_busy("c-1")),
            ],
        ),
        c(
            HintsForDownNode,
            Some("c-4"),
            cas,
            4,
            vec![
                (
                    "rate(cassandra_storage_totalhints_count) /s on a live node",
                    p_rate(jmx_key("c-1"), "cassandra_storage_totalhints_count", NONE, 1.0),
                ),
                (
                    "cassandra_storage_totalhintsinprogress_count on a live node",
                    p_get(
                        jmx_key("c-1"),
                        "cassandra_storage_totalhintsinprogress_count",
                        NONE,
                        1.0,
                    ),
                ),
                (
                    "rate(cassandra_connection_timeouts_count) /s on a live node",
                    p_rate(jmx_key("c-1"), "cassandra_connection_timeouts_count", NONE, 1.0),
                ),
                (
                    "down node pages served (1 = yes)",
                    Box::new(|s, _| f64::from(u8::from(s.contains_key(&jmx_key("c-4"))))),
                ),
            ],
        ),
        c(
            UnderReplicatedSlowBroker,
            Some("c-3"),
            kaf,
            3,
            vec![
                (
                    "sum over brokers kafka_server_replicamanager_underreplicatedpartitions",
                    p_sum_nodes(K3, "kafka_server_replicamanager_underreplicatedpartitions", false),
                ),
                (
                    "sum rate(kafka_server_replicamanager_isrshrinks_total) /s",
                    p_sum_nodes(K3, "kafka_server_replicamanager_isrshrinks_total", true),
                ),
                (
                    "slow broker totaltimems{request=Produce,quantile=0.99} (ms)",
                    p_get(jmx_key("c-3"), "kafka_network_requestmetrics_totaltimems", PRODUCE, 1.0),
                ),
                (
                    "slow broker logflushrateandtimems{quantile=0.99} (ms)",
                    p_get(
                        jmx_key("c-3"),
                        "kafka_log_logflushstats_logflushrateandtimems",
                        P99,
                        1.0,
                    ),
                ),
                ("slow broker disk write latency (ms/op)", p_write_lat_ms("c-3")),
                ("slow broker disk busy (max device)", p_disk_busy("c-3")),
                (
                    "slow broker request handler idle ratio",
                    p_rate(
                        jmx_key("c-3"),
                        "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count",
                        NONE,
                        1e-9,
                    ),
                ),
                (
                    "slow broker replicafetchermanager_maxlag (msgs)",
                    p_max(jmx_key("c-3"), "kafka_server_replicafetchermanager_maxlag", NONE, 1.0),
                ),
            ],
        ),
        c(
            RequestHandlerSaturation,
            Some("c-1"),
            kaf,
            3,
            vec![
                (
                    "rate(requesthandleravgidlepercent_count)/1e9",
                    p_rate(
                        jmx_key("c-1"),
                        "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count",
                        NONE,
                        1e-9,
                    ),
                ),
                (
                    "kafka_network_requestchannel_requestqueuesize",
                    p_get(
                        jmx_key("c-1"),
                        "kafka_network_requestchannel_requestqueuesize",
                        NONE,
                        1.0,
                    ),
                ),
                (
                    "totaltimems{request=Produce,quantile=0.99} (ms)",
                    p_get(jmx_key("c-1"), "kafka_network_requestmetrics_totaltimems", PRODUCE, 1.0),
                ),
                (
                    "requestqueuetimems{request=Produce,quantile=0.99} (ms)",
                    p_get(
                        jmx_key("c-1"),
                        "kafka_network_requestmetrics_requestqueuetimems",
                        PRODUCE,
                        1.0,
                    ),
                ),
                ("host CPU busy ratio", p_cpu_busy("c-1")),
            ],
        ),
        c(
            ConsumerLagGrowth,
            None,
            kaf,
            3,
            vec![
                (
                    "kafka_consumergroup_lag_sum{consumergroup=analytics}",
                    Box::new(|s, _| {
                        sum(pg(s, "c/kafka_exporter"), "kafka_consumergroup_lag_sum", ANALYTICS)
                    }),
                ),
                (
                    "its growth /s",
                    Box::new(|s, p| {
                        (sum(pg(s, "c/kafka_exporter"), "kafka_consumergroup_lag_sum", ANALYTICS)
                            - sum(
                                pg(p, "c/kafka_exporter"),
                                "kafka_consumergroup_lag_sum",
                                ANALYTICS,
                            ))
                            / DT
                    }),
                ),
                (
                    "max over other groups of lag_sum",
                    Box::new(|s, _| {
                        ["billing", "fraud-detector", "order-service"]
                            .iter()
                            .map(|g| {
                                sum(
                                    pg(s, "c/kafka_exporter"),
                                    "kafka_consumergroup_lag_sum",
                                    &[("consumergroup", g)],
                                )
                            })
                            .fold(0.0, f64::max)
                    }),
                ),
            ],
        ),
        c(
            LeaderImbalance,
            Some("c-2"),
            kaf,
            3,
            vec![
                (
                    "leadercount of c-2",
                    p_get(jmx_key("c-2"), "kafka_server_replicamanager_leadercount", NONE, 1.0),
                ),
                (
                    "leadercount of c-1",
                    p_get(jmx_key("c-1"), "kafka_server_replicamanager_leadercount", NONE, 1.0),
                ),
                (
                    "preferredreplicaimbalancecount (controller c-1)",
                    p_get(
                        jmx_key("c-1"),
                        "kafka_controller_kafkacontroller_preferredreplicaimbalancecount",
                        NONE,
                        1.0,
                    ),
                ),
                (
                    "sum kafka_topic_partition_leader_is_preferred == 0",
                    Box::new(|s, _| {
                        parse(pg(s, "c/kafka_exporter"))
                            .iter()
                            .filter(|x| {
                                x.name == "kafka_topic_partition_leader_is_preferred"
                                    && x.value == 0.0
                            })
                            .count() as f64
                    }),
                ),
                ("host CPU busy ratio c-2", p_cpu_busy("c-2")),
            ],
        ),
        c(
            KafkaDiskFilling,
            Some("c-1"),
            kaf,
            3,
            vec![
                ("node_filesystem_avail_bytes{mountpoint=/var/lib/kafka} (GB)", p_avail_gb("c-1")),
                ("data disk used ratio", p_disk_used("c-1")),
                ("avail slope (GB/h)", p_avail_slope("c-1")),
                (
                    "sum kafka_log_log_size on c-1 (GB)",
                    Box::new(|s, _| sum(pg(s, &jmx_key("c-1")), "kafka_log_log_size", &[]) / 1e9),
                ),
            ],
        ),
        c(
            IsrFlapping,
            Some("c-2"),
            kaf,
            3,
            vec![
                (
                    "rate(isrshrinks_total) /s on c-2",
                    p_rate(
                        jmx_key("c-2"),
                        "kafka_server_replicamanager_isrshrinks_total",
                        NONE,
                        1.0,
                    ),
                ),
                (
                    "rate(isrexpands_total) /s on c-2",
                    p_rate(
                        jmx_key("c-2"),
                        "kafka_server_replicamanager_isrexpands_total",
                        NONE,
                        1.0,
                    ),
                ),
                (
                    "rate(isrshrinks_total) /s on c-1",
                    p_rate(
                        jmx_key("c-1"),
                        "kafka_server_replicamanager_isrshrinks_total",
                        NONE,
                        1.0,
                    ),
                ),
                (
                    "underreplicatedpartitions on c-2",
                    p_get(
                        jmx_key("c-2"),
                        "kafka_server_replicamanager_underreplicatedpartitions",
                        NONE,
                        1.0,
                    ),
                ),
            ],
        ),
        c(
            HeapPressure,
            Some("c-1"),
            es,
            3,
            vec![
                ("jvm.mem.heap_used_percent", p_es("c-1", &["jvm", "mem", "heap_used_percent"])),
                (
                    "breakers.parent estimated/limit",
                    Box::new(|s, _| {
                        let n = es_node_of(s, "c-1");
                        jp(&n, &["breakers", "parent", "estimated_size_in_bytes"])
                            / jp(&n, &["breakers", "parent", "limit_size_in_bytes"])
                    }),
                ),
                (
                    "breakers.fielddata estimated/limit",
                    Box::new(|s, _| {
                        let n = es_node_of(s, "c-1");
                        jp(&n, &["breakers", "fielddata", "estimated_size_in_bytes"])
                            / jp(&n, &["breakers", "fielddata", "limit_size_in_bytes"])
                    }),
                ),
                (
                    "rate(breakers.parent.tripped) /s",
                    p_es_rate("c-1", &["breakers", "parent", "tripped"], 1.0),
                ),
                (
                    "rate(jvm.gc.collectors.old.collection_count) /s",
                    p_es_rate("c-1", &["jvm", "gc", "collectors", "old", "collection_count"], 1.0),
                ),
                (
                    "GC share (old+young time / wall)",
                    Box::new(|s, p| {
                        let f = |x: &Snap| {
                            jp(
                                &es_node_of(x, "c-1"),
                                &["jvm", "gc", "collectors", "old", "collection_time_in_millis"],
                            ) + jp(
                                &es_node_of(x, "c-1"),
                                &["jvm", "gc", "collectors", "young", "collection_time_in_millis"],
                            )
                        };
                        (f(s) - f(p)) / DT / 1000.0
                    }),
                ),
            ],
        ),
        c(
            SearchRejections,
            Some("c-2"),
            es,
            3,
            vec![
                ("thread_pool.search.queue", p_es("c-2", &["thread_pool", "search", "queue"])),
                (
                    "rate(thread_pool.search.rejected) /s",
                    p_es_rate("c-2", &["thread_pool", "search", "rejected"], 1.0),
                ),
                (
                    "query latency ms (Δquery_time/Δquery_total)",
                    Box::new(|s, p| {
                        let f = |x: &Snap, k: &str| {
                            jp(&es_node_of(x, "c-2"), &["indices", "search", k])
                        };
                        (f(s, "query_time_in_millis") - f(p, "query_time_in_millis"))
                            / (f(s, "query_total") - f(p, "query_total"))
                    }),
                ),
                ("os.cpu.percent", p_es("c-2", &["os", "cpu", "percent"])),
            ],
        ),
        c(
            UnassignedShardsYellow,
            None,
            es,
            3,
            vec![
                ("health status (0 green, 1 yellow, 2 red)", p_health("status")),
                ("unassigned_shards", p_health("unassigned_shards")),
                ("unassigned_primary_shards", p_health("unassigned_primary_shards")),
            ],
        ),
        c(
            UnassignedShardsRed,
            None,
            es,
            3,
            vec![
                ("health status (0 green, 1 yellow, 2 red)", p_health("status")),
                ("unassigned_shards", p_health("unassigned_shards")),
                ("unassigned_primary_shards", p_health("unassigned_primary_shards")),
            ],
        ),
        c(
            DiskLowWatermark,
            Some("c-2"),
            es,
            3,
            vec![
                (
                    "fs.total used ratio c-2",
                    Box::new(|s, _| {
                        let n = es_node_of(s, "c-2");
                        1.0 - jp(&n, &["fs", "total", "available_in_bytes"])
                            / jp(&n, &["fs", "total", "total_in_bytes"])
                    }),
                ),
                ("node_exporter data disk used ratio c-2", p_disk_used("c-2")),
                ("node_exporter data disk used ratio c-1", p_disk_used("c-1")),
            ],
        ),
        c(
            TooManyShards,
            None,
            es,
            3,
            vec![
                ("active_shards / number_of_data_nodes", p_health("shards_per_node")),
                ("number_of_pending_tasks", p_health("number_of_pending_tasks")),
                (
                    "indices.shard_stats.total_count c-1",
                    p_es("c-1", &["indices", "shard_stats", "total_count"]),
                ),
                (
                    "jvm.mem.heap_used_percent c-1",
                    p_es("c-1", &["jvm", "mem", "heap_used_percent"]),
                ),
                (
                    "process.open_file_descriptors c-1",
                    p_es("c-1", &["process", "open_file_descriptors"]),
                ),
            ],
        ),
        c(
            MergeThrottling,
            Some("c-1"),
            es,
            3,
            vec![
                (
                    "indices.indexing.is_throttled (1 = true)",
                    p_es("c-1", &["indices", "indexing", "is_throttled"]),
                ),
                (
                    "rate(indexing.throttle_time_in_millis) ms/s",
                    p_es_rate("c-1", &["indices", "indexing", "throttle_time_in_millis"], 1.0),
                ),
                (
                    "rate(merges.total_throttled_time_in_millis) ms/s",
                    p_es_rate("c-1", &["indices", "merges", "total_throttled_time_in_millis"], 1.0),
                ),
                ("merges.current", p_es("c-1", &["indices", "merges", "current"])),
                (
                    "rate(indexing.index_total) docs/s",
                    p_es_rate("c-1", &["indices", "indexing", "index_total"], 1.0),
                ),
            ],
        ),
    ]
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        "n/a".to_owned()
    } else if v.abs() >= 1e6 {
        format!("{v:.3e}")
    } else if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn range(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo == hi { fmt(lo) } else { format!("{}–{}", fmt(lo), fmt(hi)) }
}

/// Writes the per-fault value table used in the simulator's hand-over notes (run with
/// `SIM_FAULT_TABLE=<file>`): for each fault, the healthy range over a whole day, and faulty
/// values sampled every 5 min over an hour starting at 00:00 UTC (load trough; the @ columns)
/// and at 12:00 UTC (near peak; both feed the range column). Rates are over 5 minutes.
#[test]
fn fault_value_table() {
    let Ok(path) = std::env::var("SIM_FAULT_TABLE") else {
        return;
    };
    let mut out = String::from(
        "| fault | metric | healthy, 24 h | faulty @10 min | @30 min | @60 min | \
         faulty 10–60 min |\n|---|---|---|---|---|---|---|\n",
    );
    for case in cases() {
        let n_probes = case.probes.len();
        // Healthy baseline over a whole day: 5-minute windows every 30 minutes.
        let mut day: Vec<Vec<f64>> = vec![Vec::new(); n_probes];
        let mut good = Simulator::new(single("c", case.system, case.nodes, None)).unwrap();
        for _ in 0..48 {
            good.advance(Duration::from_secs(1500));
            let before = snap(&good);
            good.advance(Duration::from_secs(300));
            let now = snap(&good);
            for (i, (_, probe)) in case.probes.iter().enumerate() {
                let v = probe(&now, &before);
                if !v.is_nan() {
                    day[i].push(v);
                }
            }
        }
        let mut faulty: Vec<Vec<f64>> = vec![Vec::new(); n_probes];
        let mut at: Vec<[f64; 3]> = vec![[f64::NAN; 3]; n_probes];
        for (si, start) in
            [DEFAULT_START_MS, DEFAULT_START_MS + 12 * 3_600_000].into_iter().enumerate()
        {
            let mut spec = single("c", case.system, case.nodes, Some(case.fault.clone()));
            spec.start_ms = start;
            let mut bad = Simulator::new(spec).unwrap();
            let mut pb = snap(&bad);
            for step in 1..=12 {
                bad.advance(Duration::from_secs(300));
                let sb = snap(&bad);
                for (i, (_, probe)) in case.probes.iter().enumerate() {
                    let vb = probe(&sb, &pb);
                    if step >= 2 && !vb.is_nan() {
                        faulty[i].push(vb);
                    }
                    if si == 0 {
                        match step {
                            2 => at[i][0] = vb,
                            6 => at[i][1] = vb,
                            12 => at[i][2] = vb,
                            _ => {}
                        }
                    }
                }
                pb = sb;
            }
        }
        let node = case.fault.node.clone().unwrap_or_else(|| "cluster".to_owned());
        for (i, (metric, _)) in case.probes.iter().enumerate() {
            out.push_str(&format!(
                "| {} ({node}) | {metric} | {} | {} | {} | {} | {} |\n",
                case.fault.fault,
                range(&day[i]),
                fmt(at[i][0]),
                fmt(at[i][1]),
                fmt(at[i][2]),
                range(&faulty[i]),
            ));
        }
    }
    std::fs::write(path, out).unwrap();
}

/// Writes every page of an hour-old demo to `SIM_DUMP_DIR` (for eyeballing the output).
#[test]
fn dump_demo_pages() {
    let Ok(dir) = std::env::var("SIM_DUMP_DIR") else {
        return;
    };
    let mut sim = Simulator::new(SimSpec::demo(42)).unwrap();
    sim.advance(Duration::from_secs(3600));
    std::fs::create_dir_all(&dir).unwrap();
    let mut pages = all_pages(&sim);
    for path in ["/_cat/shards", "/_cluster/settings?include_defaults=true&flat_settings=true"] {
        pages.push((format!("es-logs{path}"), sim.es_api("es-logs", path).unwrap().1));
    }
    for (name, page) in pages {
        let file = name.replace(['/', '?', '=', '&'], "_");
        std::fs::write(format!("{dir}/{file}.txt"), page).unwrap();
    }
}
