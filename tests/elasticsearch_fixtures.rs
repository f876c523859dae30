//! The Elasticsearch REST converter against real data: every REST fixture of
//! prometheus-community/elasticsearch_exporter converts cleanly, and for every fixture whose
//! exposition the exporter produced (`extracted-expected-metrics/INDEX.tsv`) the converter
//! yields the same series with the same values.
//!
//! Fixtures are read from `../shared/fixtures/real/elasticsearch_exporter`; when that
//! directory is absent every fixture test prints a note and passes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use opsadvisor::sources::elasticsearch::*;
use serde_json::Value;

/// The converter as the exporter would produce it: without the `opsadvisor_es_watermark_*`
/// series it adds (which layer a watermark came from, ES 8's max_headroom), which the
/// exporter has no equivalent of.
fn convert(r: &EsResponses) -> EsSamples {
    let mut out = opsadvisor::sources::elasticsearch::convert(r);
    out.samples.retain(|s| !s.name.starts_with("opsadvisor_"));
    out
}

// ---------------------------------------------------------------------------------------------
// Fixture location

fn exporter_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real")
        .join("elasticsearch_exporter");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("note: {} is absent; skipping Elasticsearch fixture tests", dir.display());
        None
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Which [`EsResponses`] field a fixture directory or collector feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Info,
    Health,
    NodesStats,
    Settings,
    Shards,
}

impl Endpoint {
    fn key(self) -> &'static str {
        match self {
            Endpoint::Info => "info",
            Endpoint::Health => "health",
            Endpoint::NodesStats => "nodes_stats",
            Endpoint::Settings => "settings",
            Endpoint::Shards => "shards",
        }
    }

    fn responses(self, body: String) -> EsResponses {
        let mut r = EsResponses::default();
        match self {
            Endpoint::Info => r.info = Some(body),
            Endpoint::Health => r.health = Some(body),
            Endpoint::NodesStats => r.nodes_stats = Some(body),
            Endpoint::Settings => r.settings = Some(body),
            Endpoint::Shards => r.shards = Some(body),
        }
        r
    }
}

/// The exporter collectors this converter mirrors, with the endpoint each one reads.
const IMPLEMENTED: &[(&str, Endpoint)] = &[
    ("cluster_health", Endpoint::Health),
    ("cluster_info", Endpoint::Info),
    ("cluster_settings", Endpoint::Settings),
    ("nodes", Endpoint::NodesStats),
    ("shards", Endpoint::Shards),
];

/// Every REST fixture the converter covers, with its endpoint.
fn covered_fixtures(es: &Path) -> Vec<(PathBuf, Endpoint)> {
    let mut out = Vec::new();
    let fixtures = es.join("fixtures");
    for (dir, endpoint) in [
        ("clusterhealth", Endpoint::Health),
        ("clusterinfo", Endpoint::Info),
        ("nodestats", Endpoint::NodesStats),
        ("shards", Endpoint::Shards),
    ] {
        out.extend(json_files(&fixtures.join(dir)).into_iter().map(|p| (p, endpoint)));
    }
    for p in json_files(&fixtures) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("settings") {
            out.push((p, Endpoint::Settings));
        }
    }
    out
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Minimal Prometheus text reader (test only): name, labels, value; `#` lines ignored.

type Series = (String, Vec<(String, String)>);

fn parse_prom(text: &str) -> Vec<(Series, f64)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_prom_line(l).unwrap_or_else(|| panic!("unparsable line: {l}")))
        .collect()
}

fn parse_prom_line(line: &str) -> Option<(Series, f64)> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        loop {
            while chars.next_if(|(_, c)| *c == ',' || c.is_whitespace()).is_some() {}
            let (start, c) = chars.next()?;
            if c == '}' {
                rest = &body[start + 1..];
                break;
            }
            let mut key = String::from(c);
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            labels.push((key.trim().to_owned(), value));
        }
    }
    let value = match rest.split_whitespace().next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    labels.sort();
    Some(((name, labels), value))
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

// ---------------------------------------------------------------------------------------------
// INDEX.tsv pairs

struct Pair {
    collector: String,
    endpoint: Endpoint,
    prom: PathBuf,
    input: PathBuf,
}

/// Expands INDEX.tsv rows of implemented collectors into (expected exposition, input) pairs:
/// `<ver>` is replaced by each version in the notes column; comma-separated inputs are
/// alternatives each compared with the same exposition, a bare file name sharing the
/// directory of the input before it.
fn index_pairs(es: &Path) -> Vec<Pair> {
    let expected_dir = es.join("extracted-expected-metrics");
    let index = read(&expected_dir.join("INDEX.tsv"));
    let mut pairs = Vec::new();
    for row in index.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = row.split('\t').collect();
        let Some(&(_, endpoint)) = IMPLEMENTED.iter().find(|(c, _)| *c == cols[0]) else {
            continue;
        };
        let (expected, inputs) = (cols[1].trim(), cols[2].trim());
        let notes = cols.get(3).copied().unwrap_or("");
        if expected.contains("<ver>") {
            for ver in notes.split(',').filter_map(|n| n.split_whitespace().next()) {
                pairs.push(Pair {
                    collector: cols[0].to_owned(),
                    endpoint,
                    prom: expected_dir.join(expected.replace("<ver>", ver)),
                    input: es.join(inputs.replace("<ver>", ver)),
                });
            }
            continue;
        }
        let mut dir = PathBuf::new();
        for input in inputs.split(',').map(str::trim) {
            let path = if input.contains('/') { PathBuf::from(input) } else { dir.join(input) };
            dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            pairs.push(Pair {
                collector: cols[0].to_owned(),
                endpoint,
                prom: expected_dir.join(expected),
                input: es.join(path),
            });
        }
    }
    pairs
}

// ---------------------------------------------------------------------------------------------
// Deliberate differences

/// The exporter's scrape bookkeeping, which the converter leaves to the fetcher.
fn is_exporter_self_metric(name: &str) -> bool {
    ["_json_parse_failures", "_up", "_total_scrapes"].iter().any(|s| name.ends_with(s))
}

/// Series the exporter reports as its Go zero value although the JSON lacks the field; the
/// converter emits nothing for them. `(collector, metric, field path)`; for `nodes` the path
/// is inside each node, for `cluster_settings` inside each settings section.
const ABSENT_FIELD_ZEROES: &[(&str, &str, &[&str])] = &[
    (
        "cluster_health",
        "elasticsearch_cluster_health_task_max_waiting_in_queue_millis",
        &["task_max_waiting_in_queue_millis"],
    ),
    (
        "cluster_settings",
        "elasticsearch_clustersettings_allocation_threshold_enabled",
        &["cluster", "routing", "allocation", "disk", "threshold_enabled"],
    ),
    (
        "nodes",
        "elasticsearch_indices_refresh_external_total",
        &["indices", "refresh", "external_total"],
    ),
    (
        "nodes",
        "elasticsearch_indices_refresh_external_time_seconds_total",
        &["indices", "refresh", "external_total_time_in_millis"],
    ),
    (
        "nodes",
        "elasticsearch_indices_store_throttle_time_seconds_total",
        &["indices", "store", "throttle_time_in_millis"],
    ),
    (
        "nodes",
        "elasticsearch_indices_filter_cache_memory_size_bytes",
        &["indices", "filter_cache", "memory_size_in_bytes"],
    ),
    (
        "nodes",
        "elasticsearch_indices_filter_cache_evictions",
        &["indices", "filter_cache", "evictions"],
    ),
    ("nodes", "elasticsearch_os_mem_actual_free_bytes", &["os", "mem", "actual_free_in_bytes"]),
    ("nodes", "elasticsearch_os_mem_actual_used_bytes", &["os", "mem", "actual_used_in_bytes"]),
    (
        "nodes",
        "elasticsearch_process_mem_resident_size_bytes",
        &["process", "mem", "resident_in_bytes"],
    ),
    ("nodes", "elasticsearch_process_mem_share_size_bytes", &["process", "mem", "share_in_bytes"]),
];

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.as_object()?.get(*key))
}

/// Whether `path` is absent from every place the collector would read it in `input`.
fn field_absent(collector: &str, input: &Value, path: &[&str]) -> bool {
    match collector {
        "nodes" => input
            .get("nodes")
            .and_then(Value::as_object)
            .is_some_and(|nodes| nodes.values().all(|n| get(n, path).is_none())),
        "cluster_settings" => ["transient", "persistent", "defaults"].iter().all(|s| {
            // Nested and flat (dotted) spellings.
            input
                .get(*s)
                .is_none_or(|sec| get(sec, path).is_none() && sec.get(path.join(".")).is_none())
        }),
        _ => get(input, path).is_none(),
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_covered_fixture_converts_without_error() {
    let Some(es) = exporter_dir() else { return };
    let fixtures = covered_fixtures(&es);
    assert!(fixtures.len() >= 19, "expected the full fixture set, found {}", fixtures.len());
    for (path, endpoint) in &fixtures {
        assert!(ENDPOINTS.iter().any(|(k, _)| *k == endpoint.key()), "{endpoint:?}");
        let out = convert(&endpoint.responses(read(path)));
        assert!(out.errors.is_empty(), "{}: {:?}", path.display(), out.errors);
        assert!(!out.samples.is_empty(), "{}: no samples", path.display());
        for s in &out.samples {
            assert!(s.name.starts_with("elasticsearch_"), "{}: {}", path.display(), s.name);
            assert!(s.value.is_finite(), "{}: {} = {}", path.display(), s.name, s.value);
            let mut sorted = s.labels.clone();
            sorted.sort();
            assert_eq!(sorted, s.labels, "{}: labels not sorted", path.display());
        }
        if *endpoint == Endpoint::NodesStats {
            assert!(out.timestamp_ms.is_some(), "{}: no timestamp", path.display());
        }
        let rel = path.strip_prefix(&es).unwrap_or(path);
        println!("{:<70} {:>5} samples", rel.display(), out.samples.len());
    }
}

#[test]
fn matches_exporter_exposition_for_every_indexed_pair() {
    let Some(es) = exporter_dir() else { return };
    let pairs = index_pairs(&es);
    for (collector, _) in IMPLEMENTED {
        assert!(pairs.iter().any(|p| p.collector == *collector), "no INDEX.tsv pair: {collector}");
    }

    #[derive(Default)]
    struct Tally {
        pairs: usize,
        expected: usize,
        matched: usize,
        self_metrics: usize,
        absent_fields: BTreeMap<String, usize>,
    }
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut failures = Vec::new();

    for pair in &pairs {
        let body = read(&pair.input);
        let input: Value = serde_json::from_str(&body).expect("fixture is JSON");
        let expected = parse_prom(&read(&pair.prom));
        let out = convert(&pair.endpoint.responses(body));
        let rel = |p: &Path| p.strip_prefix(&es).unwrap_or(p).display().to_string();
        let case = format!("{} <- {}", rel(&pair.prom), rel(&pair.input));
        if !out.errors.is_empty() {
            failures.push(format!("{case}: errors {:?}", out.errors));
        }
        let mut actual: BTreeMap<Series, f64> = BTreeMap::new();
        for s in out.samples {
            let labels = s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let key = (s.name.to_string(), labels);
            if actual.insert(key.clone(), s.value).is_some() {
                failures.push(format!("{case}: duplicate series {key:?}"));
            }
        }

        let tally = tallies.entry(pair.collector.clone()).or_default();
        tally.pairs += 1;
        let mut seen = BTreeSet::new();
        for (key, want) in &expected {
            tally.expected += 1;
            seen.insert(key.clone());
            if let Some(got) = actual.get(key) {
                if same(*got, *want) {
                    tally.matched += 1;
                } else {
                    failures.push(format!("{case}: {key:?} = {got}, exporter says {want}"));
                }
            } else if is_exporter_self_metric(&key.0) {
                tally.self_metrics += 1;
            } else if let Some((_, _, path)) = ABSENT_FIELD_ZEROES
                .iter()
                .find(|(c, m, _)| *c == pair.collector && *m == key.0)
                .filter(|(_, _, path)| *want == 0.0 && field_absent(&pair.collector, &input, path))
            {
                *tally
                    .absent_fields
                    .entry(format!("{} ({})", key.0, path.join(".")))
                    .or_default() += 1;
            } else {
                failures.push(format!("{case}: missing {key:?} (exporter: {want})"));
            }
        }
        for key in actual.keys().filter(|k| !seen.contains(*k)) {
            failures.push(format!("{case}: extra series not in the exposition: {key:?}"));
        }
    }

    // Collectors not implemented: their series are deliberately not produced.
    let expected_dir = es.join("extracted-expected-metrics");
    let mut not_implemented = BTreeMap::new();
    for entry in std::fs::read_dir(&expected_dir).expect("expected dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_dir() || IMPLEMENTED.iter().any(|(c, _)| *c == name) {
            continue;
        }
        let mut series = 0;
        for f in std::fs::read_dir(entry.path()).expect("collector dir").flatten() {
            if f.path().extension().is_some_and(|x| x == "prom") {
                series += parse_prom(&read(&f.path())).len();
            }
        }
        not_implemented.insert(name, series);
    }

    println!("per-collector coverage against the exporter's own expositions:");
    for (collector, t) in &tallies {
        let absent: usize = t.absent_fields.values().sum();
        println!(
            "  {collector:<17} pairs {:>2}  expected {:>4}  produced+equal {:>4}  \
             not produced: exporter self-metrics {:>2}, Go zero for absent field {:>2}",
            t.pairs, t.expected, t.matched, t.self_metrics, absent
        );
        for (what, n) in &t.absent_fields {
            println!("      absent field, exporter reports 0 ({n}x): {what}");
        }
    }
    for (collector, n) in &not_implemented {
        println!("  {collector:<17} not implemented: {n} expected series not produced");
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn malformed_json_for_one_endpoint_leaves_the_others_converting() {
    let Some(es) = exporter_dir() else { return };
    let f = es.join("fixtures");
    let good = EsResponses {
        info: Some(read(&f.join("clusterinfo/7.13.1.json"))),
        health: Some(read(&f.join("clusterhealth/7.13.1.json"))),
        nodes_stats: Some(read(&f.join("nodestats/7.13.1.json"))),
        settings: Some(read(&f.join("settings-8.9.1-watermark.json"))),
        shards: Some(read(&f.join("shards/7.15.0.json"))),
    };
    let all = convert(&good);
    assert!(all.errors.is_empty(), "{:?}", all.errors);

    for (key, _) in ENDPOINTS {
        let mut bad = good.clone();
        let field = match *key {
            "info" => &mut bad.info,
            "health" => &mut bad.health,
            "nodes_stats" => &mut bad.nodes_stats,
            "settings" => &mut bad.settings,
            "shards" => &mut bad.shards,
            other => panic!("unknown endpoint {other}"),
        };
        let body = field.take().expect("fixture body");
        *field = Some(body[..body.len() / 2].to_owned());
        let out = convert(&bad);
        assert_eq!(out.errors.len(), 1, "{key}: {:?}", out.errors);
        assert!(matches!(&out.errors[0], EsError::Json { endpoint, .. } if endpoint == key));
        assert!(out.errors[0].to_string().starts_with(&format!("{key}: invalid JSON")));

        // Everything the other endpoints produce is still there. (The shards' cluster label
        // comes from the info body, so without it it falls back to the health cluster name.)
        let others: Vec<_> = all
            .samples
            .iter()
            .filter(|s| producer(&s.name) != *key)
            .filter(|s| !(*key == "info" && s.name == "elasticsearch_node_shards_total"))
            .collect();
        for s in others {
            assert!(out.samples.contains(s), "{key} broken, lost {} {:?}", s.name, s.labels);
        }
        assert!(out.samples.iter().all(|s| producer(&s.name) != *key));
    }
}

/// Which endpoint produces a metric.
fn producer(name: &str) -> &'static str {
    if name == "elasticsearch_version" {
        "info"
    } else if name.starts_with("elasticsearch_cluster_health_") {
        "health"
    } else if name.starts_with("elasticsearch_clustersettings_") {
        "settings"
    } else if name.starts_with("elasticsearch_node_shards_") {
        "shards"
    } else {
        "nodes_stats"
    }
}

#[test]
fn wrong_shapes_give_shape_errors_not_panics() {
    let nodes_stats = exporter_dir()
        .map(|es| read(&es.join("fixtures/nodestats/7.13.1.json")))
        .unwrap_or_else(|| r#"{"cluster_name":"c","nodes":{"x":{"name":"n"}}}"#.to_owned());
    let mut v: Value = serde_json::from_str(&nodes_stats).expect("JSON");
    let nodes: Vec<Value> =
        v["nodes"].as_object().map(|m| m.values().cloned().collect()).unwrap_or_default();
    v["nodes"] = Value::Array(nodes);
    let out = convert(&EsResponses {
        nodes_stats: Some(v.to_string()),
        health: Some("[1,2,3]".into()),
        settings: Some(r#"{"persistent":"x","transient":[],"defaults":{"cluster":7}}"#.into()),
        shards: Some(r#"{"index":"a","state":"STARTED"}"#.into()),
        info: Some(r#""just a string""#.into()),
    });
    let endpoints: BTreeSet<&str> = out.errors.iter().map(EsError::endpoint).collect();
    assert_eq!(
        endpoints,
        ["health", "info", "nodes_stats", "settings", "shards"].into_iter().collect()
    );
    assert!(out.errors.iter().all(|e| matches!(e, EsError::Shape { .. })), "{:?}", out.errors);
    assert!(out.samples.is_empty(), "{:?}", out.samples);

    // Type confusion deep inside a node: the odd parts are skipped, the rest still converts.
    let odd = r#"{"cluster_name":"c","nodes":{"x":{"name":"n","roles":"master",
        "jvm":[1],"thread_pool":{"write":3,"search":{"queue":"5"}},"fs":{"data":{"a":1}},
        "breakers":null,"os":{"cpu":{"percent":"12"}}}}}"#;
    let out = convert(&EsResponses { nodes_stats: Some(odd.into()), ..Default::default() });
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let get = |name: &str| out.samples.iter().find(|s| s.name == name).map(|s| s.value);
    assert_eq!(get("elasticsearch_os_cpu_percent"), Some(12.0));
    assert_eq!(get("elasticsearch_thread_pool_queue_count"), Some(5.0));
    assert_eq!(get("elasticsearch_jvm_memory_used_bytes"), None);
}

#[test]
fn catalogue_of_emitted_series() {
    let Some(es) = exporter_dir() else { return };
    let mut catalogue: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, endpoint) in covered_fixtures(&es) {
        for s in convert(&endpoint.responses(read(&path))).samples {
            let keys: Vec<&str> = s.labels.iter().map(|(k, _)| k.as_str()).collect();
            catalogue.entry(s.name.to_string()).or_default().insert(keys.join(","));
        }
    }
    for (name, label_sets) in &catalogue {
        for labels in label_sets {
            println!("{name}{{{labels}}}");
        }
    }
    assert!(catalogue.len() > 100, "only {} metric names", catalogue.len());
}
