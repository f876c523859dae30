//! Elasticsearch REST API → [`Sample`]s, named and labelled exactly as
//! prometheus-community/elasticsearch_exporter exposes them.
//!
//! opsadvisor reads Elasticsearch either from the exporter's `/metrics` or straight from the
//! REST API. To keep a single feature pipeline, this module turns the raw JSON bodies of the
//! REST endpoints listed in [`ENDPOINTS`] into the very series the exporter would have
//! produced from the same bodies: same metric names, same label sets (including the
//! exporter's quirks, e.g. `elasticsearch_jvm_uptime_seconds{type="mapped"}`), same units
//! (`*_in_millis` fields become seconds). Feature code therefore never needs to know which
//! path the data took.
//!
//! Collectors mirrored: cluster health (`elasticsearch_cluster_health_*`), cluster info
//! (`elasticsearch_version`), nodes stats (`elasticsearch_{os,process,jvm,indices,transport,
//! thread_pool,breakers,filesystem,indexing_pressure,nodes}_*`), cluster settings
//! (`elasticsearch_clustersettings_*`) and shards (`elasticsearch_node_shards_total`).
//!
//! Deliberate differences from the exporter, all in the direction of "say less, never
//! something false":
//! - A field missing from the JSON yields no sample. The exporter decodes into Go structs and
//!   reports the zero value instead (e.g. `task_max_waiting_in_queue_millis` on ES 1.7,
//!   `filter_cache_*` on ES ≥ 5, `os_mem_actual_*`, `process_mem_resident_size_bytes`).
//! - The exporter's own scrape bookkeeping (`*_up`, `*_total_scrapes`,
//!   `*_json_parse_failures`) is not produced: fetch/parse failures are reported as
//!   [`EsError`]s instead.
//! - Setting values are matched case-insensitively (`"ALL"`, `"500GB"`), as Elasticsearch
//!   itself accepts them; the exporter only understands lower case.
//!
//! Bodies are converted independently: a malformed or oddly shaped body yields an
//! [`EsError`] for its endpoint while the others still produce samples. Unknown fields are
//! ignored, numbers that arrive as strings (cat API) are parsed, and nothing here panics on
//! unexpected shapes.

use serde_json::{Map, Value};

use crate::sample::{Labels, Sample};

/// The REST endpoints the converter understands, as `(key, path)`; `key` names the matching
/// field of [`EsResponses`] and appears in [`EsError`]s.
///
/// `settings` carries `include_defaults=true`, as the exporter requests it: without it the
/// disk watermarks, allocation mode and shard limits are absent unless set explicitly.
/// `flat_settings=true` keeps a watermark and its `max_headroom` apart (nested, ES 8 would
/// need the same key to hold a value and an object).
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("info", "/"),
    ("health", "/_cluster/health"),
    ("nodes_stats", "/_nodes/stats"),
    ("settings", "/_cluster/settings?include_defaults=true&flat_settings=true"),
    ("shards", "/_cat/shards?format=json"),
];

/// Asked instead of the `settings` endpoint when the cluster rejects `include_defaults`
/// (Elasticsearch before 6.4 answers 400 to a parameter it does not know): the explicit
/// settings still count, and the rest falls back to Elasticsearch's defaults.
pub const SETTINGS_WITHOUT_DEFAULTS: &str = "/_cluster/settings?flat_settings=true";

/// Raw JSON bodies as fetched from the endpoints in [`ENDPOINTS`]; `None` when not fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EsResponses {
    /// Body of `GET /` (cluster info: name, uuid, version).
    pub info: Option<String>,
    /// Body of `GET /_cluster/health`.
    pub health: Option<String>,
    /// Body of `GET /_nodes/stats`.
    pub nodes_stats: Option<String>,
    /// Body of `GET /_cluster/settings?include_defaults=true&flat_settings=true` (or of
    /// [`SETTINGS_WITHOUT_DEFAULTS`] on clusters that reject `include_defaults`).
    pub settings: Option<String>,
    /// Body of `GET /_cat/shards?format=json`.
    pub shards: Option<String>,
}

/// Why (part of) one endpoint's body could not be converted.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum EsError {
    /// The body is not valid JSON; nothing was produced for this endpoint.
    #[error("{endpoint}: invalid JSON: {reason}")]
    Json {
        /// Endpoint key from [`ENDPOINTS`].
        endpoint: &'static str,
        /// The JSON parser's message.
        reason: String,
    },
    /// The body is JSON but not shaped like this endpoint's response (or is an Elasticsearch
    /// error response); the affected part was skipped.
    #[error("{endpoint}: {reason}")]
    Shape {
        /// Endpoint key from [`ENDPOINTS`].
        endpoint: &'static str,
        /// What was unexpected.
        reason: String,
    },
}

impl EsError {
    /// The endpoint key from [`ENDPOINTS`] this error is about.
    pub fn endpoint(&self) -> &'static str {
        match self {
            EsError::Json { endpoint, .. } | EsError::Shape { endpoint, .. } => endpoint,
        }
    }
}

/// Result of [`convert`]: the samples of every endpoint that converted, plus the errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EsSamples {
    /// Samples in exporter naming; their own `timestamp_ms` is `None`, like the exporter's.
    pub samples: Vec<Sample>,
    /// One entry per problem found, naming its endpoint.
    pub errors: Vec<EsError>,
    /// Newest node `timestamp` (ms since the epoch) in the nodes stats, when present.
    pub timestamp_ms: Option<i64>,
}

/// Converts every fetched body into exporter-equivalent samples.
///
/// Each endpoint is converted independently: an unparsable or misshapen body yields an
/// [`EsError`] for that endpoint and the others still produce their samples. The shards
/// collector's `cluster` label comes from the cluster info (falling back to the health or
/// nodes stats cluster name, as they name the same cluster) and is `unknown_cluster` when
/// none was fetched, exactly as the exporter labels it before its first cluster info call.
pub fn convert(r: &EsResponses) -> EsSamples {
    let mut out = EsSamples::default();
    let info = parse_body("info", r.info.as_deref(), &mut out.errors);
    let health = parse_body("health", r.health.as_deref(), &mut out.errors);
    let nodes = parse_body("nodes_stats", r.nodes_stats.as_deref(), &mut out.errors);
    let settings = parse_body("settings", r.settings.as_deref(), &mut out.errors);
    let shards = parse_body("shards", r.shards.as_deref(), &mut out.errors);

    if let Some(v) = &info {
        convert_info(v, &mut out);
    }
    if let Some(v) = &health {
        convert_health(v, &mut out);
    }
    if let Some(v) = &nodes {
        convert_nodes(v, &mut out);
    }
    if let Some(v) = &settings {
        convert_settings(v, &mut out);
    }
    if let Some(v) = &shards {
        let cluster = [&info, &health, &nodes]
            .into_iter()
            .flatten()
            .find_map(|v| get(v, &["cluster_name"]).and_then(Value::as_str))
            .unwrap_or("unknown_cluster");
        convert_shards(v, cluster, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON helpers

/// Parses one body; reports invalid JSON and Elasticsearch error responses.
fn parse_body(
    endpoint: &'static str,
    body: Option<&str>,
    errors: &mut Vec<EsError>,
) -> Option<Value> {
    let body = body?;
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            errors.push(EsError::Json { endpoint, reason: e.to_string() });
            return None;
        }
    };
    if let Some(err) = value.as_object().and_then(|o| o.get("error")) {
        let status = value.get("status").map(|s| format!(" (status {s})")).unwrap_or_default();
        let detail = match err {
            Value::String(s) => s.clone(),
            other => {
                let kind = get(other, &["type"]).and_then(Value::as_str).unwrap_or("error");
                let why = get(other, &["reason"]).and_then(Value::as_str).unwrap_or("");
                format!("{kind}: {why}")
            }
        };
        errors.push(EsError::Shape {
            endpoint,
            reason: format!("Elasticsearch returned an error{status}: {detail}"),
        });
        return None;
    }
    Some(value)
}

/// Follows `path` through nested objects.
fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.as_object()?.get(*key))
}

/// Follows a dotted path (`"cpu.load_average.1m"`) through nested objects.
fn get_dotted<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, key| cur.as_object()?.get(key))
}

/// A JSON number, or a string holding a finite number (as the cat APIs send them).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

/// A JSON boolean or `"true"`/`"false"`, as 1 or 0.
fn boolean(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(1.0),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(0.0),
        _ => None,
    }
}

/// The string at `key` of `v`, or `""` (what the exporter's Go structs hold when absent).
fn str_or_empty<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// How a JSON value becomes a sample value.
#[derive(Clone, Copy, Debug)]
enum Conv {
    /// The number as is.
    Raw,
    /// Milliseconds to seconds (the exporter divides by 1000).
    Millis,
    /// `true`/`false` to 1/0.
    Bool,
}

impl Conv {
    fn apply(self, v: &Value) -> Option<f64> {
        match self {
            Conv::Raw => number(v),
            Conv::Millis => number(v).map(|ms| ms / 1000.0),
            Conv::Bool => boolean(v),
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    crate::sample::labels(pairs.iter().copied())
}

fn with(base: &Labels, extra: &[(&str, &str)]) -> Labels {
    let mut l = base.clone();
    l.extend(labels(extra));
    l
}

fn push(out: &mut EsSamples, name: &str, labels: Labels, value: Option<f64>) {
    if let Some(value) = value {
        out.samples.push(Sample::new(name, labels, value));
    }
}

fn shape(out: &mut EsSamples, endpoint: &'static str, reason: impl Into<String>) {
    out.errors.push(EsError::Shape { endpoint, reason: reason.into() });
}

// ---------------------------------------------------------------------------------------------
// Cluster info (`GET /`)

fn convert_info(v: &Value, out: &mut EsSamples) {
    if !v.is_object() {
        shape(out, "info", "expected a JSON object");
        return;
    }
    let version = v.get("version").unwrap_or(&Value::Null);
    let l = labels(&[
        ("build_date", str_or_empty(version, "build_date")),
        ("build_hash", str_or_empty(version, "build_hash")),
        ("cluster", str_or_empty(v, "cluster_name")),
        ("cluster_uuid", str_or_empty(v, "cluster_uuid")),
        ("lucene_version", str_or_empty(version, "lucene_version")),
        ("version", str_or_empty(version, "number")),
    ]);
    push(out, "elasticsearch_version", l, Some(1.0));
}

// ---------------------------------------------------------------------------------------------
// Cluster health (`GET /_cluster/health`)

const HEALTH_FIELDS: &[&str] = &[
    "active_primary_shards",
    "active_shards",
    "delayed_unassigned_shards",
    "initializing_shards",
    "number_of_data_nodes",
    "number_of_in_flight_fetch",
    "task_max_waiting_in_queue_millis",
    "number_of_nodes",
    "number_of_pending_tasks",
    "relocating_shards",
    "unassigned_shards",
];

fn convert_health(v: &Value, out: &mut EsSamples) {
    if !v.is_object() {
        shape(out, "health", "expected a JSON object");
        return;
    }
    let base = labels(&[("cluster", str_or_empty(v, "cluster_name"))]);
    for field in HEALTH_FIELDS {
        let name = format!("elasticsearch_cluster_health_{field}");
        push(out, &name, base.clone(), v.get(*field).and_then(number));
    }
    if let Some(status) = v.get("status").and_then(Value::as_str) {
        for color in ["green", "yellow", "red"] {
            let value = if status.eq_ignore_ascii_case(color) { 1.0 } else { 0.0 };
            let l = with(&base, &[("color", color)]);
            push(out, "elasticsearch_cluster_health_status", l, Some(value));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nodes stats (`GET /_nodes/stats`)

/// `(metric suffix, dotted path below the section, conversion, extra labels)`.
type NodeField = (&'static str, &'static str, Conv, &'static [(&'static str, &'static str)]);

/// `(metric prefix, dotted path of the section inside a node, fields)`.
type NodeSection = (&'static str, &'static str, &'static [NodeField]);

use Conv::{Bool, Millis, Raw};

const HEAP: &[(&str, &str)] = &[("area", "heap")];
const NON_HEAP: &[(&str, &str)] = &[("area", "non-heap")];
const HIT: &[(&str, &str)] = &[("cache", "hit")];
const MISS: &[(&str, &str)] = &[("cache", "miss")];

const NODE_SECTIONS: &[NodeSection] = &[
    (
        "elasticsearch_os_",
        "os",
        &[
            ("load1", "cpu.load_average.1m", Raw, &[]),
            ("load5", "cpu.load_average.5m", Raw, &[]),
            ("load15", "cpu.load_average.15m", Raw, &[]),
            ("cpu_percent", "cpu.percent", Raw, &[]),
            ("mem_free_bytes", "mem.free_in_bytes", Raw, &[]),
            ("mem_used_bytes", "mem.used_in_bytes", Raw, &[]),
            ("mem_actual_free_bytes", "mem.actual_free_in_bytes", Raw, &[]),
            ("mem_actual_used_bytes", "mem.actual_used_in_bytes", Raw, &[]),
        ],
    ),
    (
        "elasticsearch_process_",
        "process",
        &[
            ("cpu_percent", "cpu.percent", Raw, &[]),
            ("cpu_seconds_total", "cpu.total_in_millis", Millis, &[]),
            ("mem_resident_size_bytes", "mem.resident_in_bytes", Raw, &[]),
            ("mem_share_size_bytes", "mem.share_in_bytes", Raw, &[]),
            ("mem_virtual_size_bytes", "mem.total_virtual_in_bytes", Raw, &[]),
            ("open_files_count", "open_file_descriptors", Raw, &[]),
            ("max_files_descriptors", "max_file_descriptors", Raw, &[]),
        ],
    ),
    (
        "elasticsearch_jvm_",
        "jvm",
        &[
            ("memory_used_bytes", "mem.heap_used_in_bytes", Raw, HEAP),
            ("memory_used_bytes", "mem.non_heap_used_in_bytes", Raw, NON_HEAP),
            ("memory_max_bytes", "mem.heap_max_in_bytes", Raw, HEAP),
            ("memory_committed_bytes", "mem.heap_committed_in_bytes", Raw, HEAP),
            ("memory_committed_bytes", "mem.non_heap_committed_in_bytes", Raw, NON_HEAP),
            (
                "buffer_pool_used_bytes",
                "buffer_pools.direct.used_in_bytes",
                Raw,
                &[("type", "direct")],
            ),
            (
                "buffer_pool_used_bytes",
                "buffer_pools.mapped.used_in_bytes",
                Raw,
                &[("type", "mapped")],
            ),
            // The exporter labels uptime with type="mapped"; kept for identical series.
            ("uptime_seconds", "uptime_in_millis", Millis, &[("type", "mapped")]),
        ],
    ),
    (
        "elasticsearch_transport_",
        "transport",
        &[
            ("rx_packets_total", "rx_count", Raw, &[]),
            ("rx_size_bytes_total", "rx_size_in_bytes", Raw, &[]),
            ("tx_packets_total", "tx_count", Raw, &[]),
            ("tx_size_bytes_total", "tx_size_in_bytes", Raw, &[]),
        ],
    ),
    (
        "elasticsearch_indices_",
        "indices",
        &[
            ("docs", "docs.count", Raw, &[]),
            ("docs_deleted", "docs.deleted", Raw, &[]),
            ("store_size_bytes", "store.size_in_bytes", Raw, &[]),
            ("store_throttle_time_seconds_total", "store.throttle_time_in_millis", Millis, &[]),
            ("completion_size_in_bytes", "completion.size_in_bytes", Raw, &[]),
            ("translog_operations", "translog.operations", Raw, &[]),
            ("translog_size_in_bytes", "translog.size_in_bytes", Raw, &[]),
            ("fielddata_memory_size_bytes", "fielddata.memory_size_in_bytes", Raw, &[]),
            ("fielddata_evictions", "fielddata.evictions", Raw, &[]),
            ("filter_cache_memory_size_bytes", "filter_cache.memory_size_in_bytes", Raw, &[]),
            ("filter_cache_evictions", "filter_cache.evictions", Raw, &[]),
            ("query_cache_memory_size_bytes", "query_cache.memory_size_in_bytes", Raw, &[]),
            ("query_cache_evictions", "query_cache.evictions", Raw, &[]),
            ("query_cache_total", "query_cache.total_count", Raw, &[]),
            ("query_cache_cache_size", "query_cache.cache_size", Raw, &[]),
            ("query_cache_cache_total", "query_cache.cache_count", Raw, &[]),
            ("query_cache_count", "query_cache.hit_count", Raw, HIT),
            ("query_miss_count", "query_cache.miss_count", Raw, MISS),
            ("request_cache_memory_size_bytes", "request_cache.memory_size_in_bytes", Raw, &[]),
            ("request_cache_evictions", "request_cache.evictions", Raw, &[]),
            ("request_cache_count", "request_cache.hit_count", Raw, HIT),
            ("request_miss_count", "request_cache.miss_count", Raw, MISS),
            ("get_total", "get.total", Raw, &[]),
            ("get_time_seconds", "get.time_in_millis", Millis, &[]),
            ("get_exists_total", "get.exists_total", Raw, &[]),
            ("get_exists_time_seconds", "get.exists_time_in_millis", Millis, &[]),
            ("get_missing_total", "get.missing_total", Raw, &[]),
            ("get_missing_time_seconds", "get.missing_time_in_millis", Millis, &[]),
            ("refresh_total", "refresh.total", Raw, &[]),
            ("refresh_time_seconds_total", "refresh.total_time_in_millis", Millis, &[]),
            ("refresh_external_total", "refresh.external_total", Raw, &[]),
            (
                "refresh_external_time_seconds_total",
                "refresh.external_total_time_in_millis",
                Millis,
                &[],
            ),
            ("flush_total", "flush.total", Raw, &[]),
            ("flush_time_seconds", "flush.total_time_in_millis", Millis, &[]),
            ("warmer_total", "warmer.total", Raw, &[]),
            ("warmer_time_seconds_total", "warmer.total_time_in_millis", Millis, &[]),
        ],
    ),
    (
        "elasticsearch_indices_indexing_",
        "indices.indexing",
        &[
            ("index_total", "index_total", Raw, &[]),
            ("index_time_seconds_total", "index_time_in_millis", Millis, &[]),
            ("delete_total", "delete_total", Raw, &[]),
            ("delete_time_seconds_total", "delete_time_in_millis", Millis, &[]),
            ("is_throttled", "is_throttled", Bool, &[]),
            ("throttle_time_seconds_total", "throttle_time_in_millis", Millis, &[]),
        ],
    ),
    (
        "elasticsearch_indices_merges_",
        "indices.merges",
        &[
            ("current", "current", Raw, &[]),
            ("current_size_in_bytes", "current_size_in_bytes", Raw, &[]),
            ("total", "total", Raw, &[]),
            ("docs_total", "total_docs", Raw, &[]),
            ("total_size_bytes_total", "total_size_in_bytes", Raw, &[]),
            ("total_time_seconds_total", "total_time_in_millis", Millis, &[]),
            ("total_throttled_time_seconds_total", "total_throttled_time_in_millis", Millis, &[]),
        ],
    ),
    (
        "elasticsearch_indices_search_",
        "indices.search",
        &[
            ("query_total", "query_total", Raw, &[]),
            ("query_time_seconds", "query_time_in_millis", Millis, &[]),
            ("fetch_total", "fetch_total", Raw, &[]),
            ("fetch_time_seconds", "fetch_time_in_millis", Millis, &[]),
            ("scroll_total", "scroll_total", Raw, &[]),
            ("scroll_time_seconds", "scroll_time_in_millis", Millis, &[]),
            ("scroll_current", "scroll_current", Raw, &[]),
            ("suggest_total", "suggest_total", Raw, &[]),
            ("suggest_time_seconds", "suggest_time_in_millis", Millis, &[]),
        ],
    ),
    (
        "elasticsearch_indices_segments_",
        "indices.segments",
        &[
            ("count", "count", Raw, &[]),
            ("memory_bytes", "memory_in_bytes", Raw, &[]),
            ("terms_memory_in_bytes", "terms_memory_in_bytes", Raw, &[]),
            ("stored_fields_memory_in_bytes", "stored_fields_memory_in_bytes", Raw, &[]),
            ("term_vectors_memory_in_bytes", "term_vectors_memory_in_bytes", Raw, &[]),
            ("norms_memory_in_bytes", "norms_memory_in_bytes", Raw, &[]),
            ("points_memory_in_bytes", "points_memory_in_bytes", Raw, &[]),
            ("doc_values_memory_in_bytes", "doc_values_memory_in_bytes", Raw, &[]),
            ("index_writer_memory_in_bytes", "index_writer_memory_in_bytes", Raw, &[]),
            ("version_map_memory_in_bytes", "version_map_memory_in_bytes", Raw, &[]),
            ("fixed_bit_set_memory_in_bytes", "fixed_bit_set_memory_in_bytes", Raw, &[]),
        ],
    ),
];

/// `(metric, field inside each keyed entry, conversion)`.
type KeyedField = (&'static str, &'static str, Conv);

const POOL_FIELDS: &[KeyedField] = &[
    ("elasticsearch_jvm_memory_pool_used_bytes", "used_in_bytes", Raw),
    ("elasticsearch_jvm_memory_pool_max_bytes", "max_in_bytes", Raw),
    ("elasticsearch_jvm_memory_pool_peak_used_bytes", "peak_used_in_bytes", Raw),
    ("elasticsearch_jvm_memory_pool_peak_max_bytes", "peak_max_in_bytes", Raw),
];

const GC_FIELDS: &[KeyedField] = &[
    ("elasticsearch_jvm_gc_collection_seconds_count", "collection_count", Raw),
    ("elasticsearch_jvm_gc_collection_seconds_sum", "collection_time_in_millis", Millis),
];

const BREAKER_FIELDS: &[KeyedField] = &[
    ("elasticsearch_breakers_estimated_size_bytes", "estimated_size_in_bytes", Raw),
    ("elasticsearch_breakers_limit_size_bytes", "limit_size_in_bytes", Raw),
    ("elasticsearch_breakers_tripped", "tripped", Raw),
    ("elasticsearch_breakers_overhead", "overhead", Raw),
];

const THREAD_POOL_FIELDS: &[KeyedField] = &[
    ("elasticsearch_thread_pool_completed_count", "completed", Raw),
    ("elasticsearch_thread_pool_rejected_count", "rejected", Raw),
    ("elasticsearch_thread_pool_active_count", "active", Raw),
    ("elasticsearch_thread_pool_largest_count", "largest", Raw),
    ("elasticsearch_thread_pool_queue_count", "queue", Raw),
    ("elasticsearch_thread_pool_threads_count", "threads", Raw),
];

const FS_DATA_FIELDS: &[KeyedField] = &[
    ("elasticsearch_filesystem_data_available_bytes", "available_in_bytes", Raw),
    ("elasticsearch_filesystem_data_free_bytes", "free_in_bytes", Raw),
    ("elasticsearch_filesystem_data_size_bytes", "total_in_bytes", Raw),
];

const FS_IO_FIELDS: &[KeyedField] = &[
    ("elasticsearch_filesystem_io_stats_device_operations_count", "operations", Raw),
    ("elasticsearch_filesystem_io_stats_device_read_operations_count", "read_operations", Raw),
    ("elasticsearch_filesystem_io_stats_device_write_operations_count", "write_operations", Raw),
    ("elasticsearch_filesystem_io_stats_device_read_size_kilobytes_sum", "read_kilobytes", Raw),
    ("elasticsearch_filesystem_io_stats_device_write_size_kilobytes_sum", "write_kilobytes", Raw),
];

/// Roles the exporter always reports in `elasticsearch_nodes_roles` (0 or 1).
const KNOWN_ROLES: &[&str] = &[
    "client",
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
];

/// The exporter's role map for one node: the known roles (all false but `client`), set from
/// `roles` (ES ≥ 5; roles it does not know are added as false) or from the `master`/`data`/…
/// `attributes` (ES 1.x/2.x); `client` is false when the node has no `http` section.
fn node_roles(node: &Value) -> Vec<(String, bool)> {
    let mut roles: Vec<(String, bool)> =
        KNOWN_ROLES.iter().map(|r| ((*r).to_owned(), *r == "client")).collect();
    let listed: Vec<&str> = node
        .get("roles")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !listed.is_empty() {
        for role in listed {
            match roles.iter_mut().find(|(r, _)| r == role) {
                Some((_, on)) => *on = true,
                None => roles.push((role.to_owned(), false)),
            }
        }
    } else if let Some(attrs) = node.get("attributes").and_then(Value::as_object) {
        for (role, on) in roles.iter_mut() {
            if let Some(setting) = attrs.get(role.as_str()) {
                *on = setting.as_str() != Some("false");
            }
        }
    }
    let has_http = node.get("http").and_then(Value::as_object).is_some_and(|h| !h.is_empty());
    if !has_http && let Some((_, on)) = roles.iter_mut().find(|(r, _)| r == "client") {
        *on = false;
    }
    roles
}

fn role_on(roles: &[(String, bool)], name: &str) -> &'static str {
    if roles.iter().any(|(r, on)| r == name && *on) { "true" } else { "false" }
}

fn convert_nodes(v: &Value, out: &mut EsSamples) {
    const EP: &str = "nodes_stats";
    if !v.is_object() {
        shape(out, EP, "expected a JSON object");
        return;
    }
    let cluster = str_or_empty(v, "cluster_name");
    let nodes = match v.get("nodes") {
        Some(Value::Object(m)) => m,
        Some(_) => {
            shape(out, EP, "`nodes` is not an object");
            return;
        }
        None => {
            shape(out, EP, "no `nodes` object");
            return;
        }
    };
    for (id, node) in nodes {
        if !node.is_object() {
            shape(out, EP, format!("node `{id}` is not an object"));
            continue;
        }
        if let Some(ts) = node.get("timestamp").and_then(number) {
            let ts = ts as i64;
            out.timestamp_ms = Some(out.timestamp_ms.map_or(ts, |cur| cur.max(ts)));
        }
        convert_node(cluster, id, node, out);
    }
}

fn convert_node(cluster: &str, id: &str, node: &Value, out: &mut EsSamples) {
    let host = str_or_empty(node, "host");
    let name = str_or_empty(node, "name");
    let roles = node_roles(node);
    let base = labels(&[
        ("cluster", cluster),
        ("host", host),
        ("name", name),
        ("es_master_node", role_on(&roles, "master")),
        ("es_data_node", role_on(&roles, "data")),
        ("es_ingest_node", role_on(&roles, "ingest")),
        ("es_client_node", role_on(&roles, "client")),
    ]);

    let role_base = labels(&[("cluster", cluster), ("host", host), ("name", name), ("node", id)]);
    for (role, on) in &roles {
        let l = with(&role_base, &[("role", role)]);
        push(out, "elasticsearch_nodes_roles", l, Some(if *on { 1.0 } else { 0.0 }));
    }

    for (prefix, section, fields) in NODE_SECTIONS {
        let Some(section) = get_dotted(node, section) else {
            continue;
        };
        for (suffix, path, conv, extra) in *fields {
            let value = get_dotted(section, path).and_then(|x| conv.apply(x));
            push(out, &format!("{prefix}{suffix}"), with(&base, extra), value);
        }
    }

    emit_keyed(out, &base, get(node, &["jvm", "mem", "pools"]), "pool", POOL_FIELDS);
    emit_keyed(out, &base, get(node, &["jvm", "gc", "collectors"]), "gc", GC_FIELDS);
    emit_keyed(out, &base, node.get("breakers"), "breaker", BREAKER_FIELDS);
    emit_keyed(out, &base, node.get("thread_pool"), "type", THREAD_POOL_FIELDS);

    for fs in get(node, &["fs", "data"]).and_then(Value::as_array).into_iter().flatten() {
        let l = with(
            &base,
            &[("mount", str_or_empty(fs, "mount")), ("path", str_or_empty(fs, "path"))],
        );
        emit_fields(out, &l, fs, FS_DATA_FIELDS);
    }
    let devices = get(node, &["fs", "io_stats", "devices"]).and_then(Value::as_array);
    for dev in devices.into_iter().flatten() {
        let l = with(&base, &[("device", str_or_empty(dev, "device_name"))]);
        emit_fields(out, &l, dev, FS_IO_FIELDS);
    }

    if let Some(mem) = get(node, &["indexing_pressure", "memory"]) {
        let l = labels(&[
            ("cluster", cluster),
            ("host", host),
            ("name", name),
            ("indexing_pressure", "memory"),
        ]);
        let current = get(mem, &["current", "all_in_bytes"]).and_then(number);
        push(out, "elasticsearch_indexing_pressure_current_all_in_bytes", l.clone(), current);
        let limit = mem.get("limit_in_bytes").and_then(number);
        push(out, "elasticsearch_indexing_pressure_limit_in_bytes", l, limit);
    }
}

/// For each `key → object` entry of `group`, emits `fields` labelled `label=key`.
fn emit_keyed(
    out: &mut EsSamples,
    base: &Labels,
    group: Option<&Value>,
    label: &str,
    fields: &[KeyedField],
) {
    let Some(group) = group.and_then(Value::as_object) else {
        return;
    };
    for (key, entry) in group {
        emit_fields(out, &with(base, &[(label, key)]), entry, fields);
    }
}

fn emit_fields(out: &mut EsSamples, l: &Labels, entry: &Value, fields: &[KeyedField]) {
    for (metric, field, conv) in fields {
        let value = entry.get(*field).and_then(|x| conv.apply(x));
        push(out, metric, l.clone(), value);
    }
}

// ---------------------------------------------------------------------------------------------
// Cluster settings (`GET /_cluster/settings?include_defaults=true`)

/// Where a cluster setting's value came from, in the order Elasticsearch applies them:
/// a transient setting overrides a persistent one, which overrides the default.
/// Exported as the value of `opsadvisor_es_watermark_layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// `transient` (set with the cluster settings API, lost on a full restart).
    Transient = 2,
    /// `persistent` (set with the cluster settings API, survives restarts).
    Persistent = 1,
    /// `defaults` (reported with `include_defaults=true`: elasticsearch.yml or built in).
    Defaults = 0,
}

/// A setting's value, looked up in transient, then persistent, then defaults (the exporter
/// merges them with that precedence). Handles both nested objects and dotted keys at any
/// level (`"flood_stage.frozen"`, flat settings); an object where a value is expected (ES 8
/// nests `max_headroom` under the watermarks in the defaults) counts as not set there.
fn setting(layers: &[(Layer, &Map<String, Value>)], path: &[&str]) -> Option<String> {
    setting_in(layers, path).map(|(_, v)| v)
}

/// [`setting`] with the layer it was found in.
fn setting_in(layers: &[(Layer, &Map<String, Value>)], path: &[&str]) -> Option<(Layer, String)> {
    layers.iter().find_map(|(layer, map)| {
        let v = lookup_dotted(map, path)?;
        let text = match v {
            Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        Some((*layer, text))
    })
}

fn lookup_dotted<'a>(obj: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    (1..=path.len()).find_map(|i| {
        let child = obj.get(&path[..i].join("."))?;
        let rest = &path[i..];
        if rest.is_empty() {
            // A scalar here; objects are only containers for deeper keys.
            (!child.is_object()).then_some(child)
        } else {
            lookup_dotted(child.as_object()?, rest)
        }
    })
}

/// `"500mb"` → bytes, with the exporter's binary multipliers (`kb` = 1024). Case-insensitive.
fn parse_bytes(s: &str) -> Option<f64> {
    const UNITS: &[(&str, f64)] = &[
        ("pb", 1_125_899_906_842_624.0),
        ("tb", 1_099_511_627_776.0),
        ("gb", 1_073_741_824.0),
        ("mb", 1_048_576.0),
        ("kb", 1024.0),
        ("b", 1.0),
    ];
    let s = s.trim().to_ascii_lowercase();
    let (unit, mult) = UNITS.iter().find(|(u, _)| s.ends_with(u))?;
    let n: f64 = s[..s.len() - unit.len()].trim().parse().ok()?;
    n.is_finite().then_some(n * mult)
}

/// `"85%"` → 0.85, `"0.85"` → 0.85.
fn parse_ratio(s: &str) -> Option<f64> {
    let s = s.trim();
    let n = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => s.parse::<f64>().ok()?,
    };
    n.is_finite().then_some(n)
}

fn convert_settings(v: &Value, out: &mut EsSamples) {
    const EP: &str = "settings";
    let Some(obj) = v.as_object() else {
        shape(out, EP, "expected a JSON object");
        return;
    };
    let mut layers = Vec::new();
    for (section, layer) in [
        ("transient", Layer::Transient),
        ("persistent", Layer::Persistent),
        ("defaults", Layer::Defaults),
    ] {
        match obj.get(section) {
            Some(Value::Object(m)) => layers.push((layer, m)),
            Some(Value::Null) | None => {}
            Some(_) => shape(out, EP, format!("`{section}` is not an object")),
        }
    }
    let layers = &layers;
    let none = Labels::new();

    let max_shards = setting(layers, &["cluster", "max_shards_per_node"])
        .and_then(|s| s.parse::<i64>().ok())
        .map(|n| n as f64);
    push(out, "elasticsearch_clustersettings_stats_max_shards_per_node", none.clone(), max_shards);

    let alloc = setting(layers, &["cluster", "routing", "allocation", "enable"]).and_then(|s| {
        match s.to_ascii_lowercase().as_str() {
            "all" => Some(0.0),
            "primaries" => Some(1.0),
            "new_primaries" => Some(2.0),
            "none" => Some(3.0),
            _ => None,
        }
    });
    push(out, "elasticsearch_clustersettings_stats_shard_allocation_enabled", none.clone(), alloc);

    let disk = ["cluster", "routing", "allocation", "disk"];
    let threshold = setting(layers, &[&disk[..], &["threshold_enabled"]].concat())
        .and_then(|s| boolean(&Value::String(s)));
    push(
        out,
        "elasticsearch_clustersettings_allocation_threshold_enabled",
        none.clone(),
        threshold,
    );

    let mark = |level: &str| setting_in(layers, &[&disk[..], &["watermark", level]].concat());
    let (flood, high, low) = (mark("flood_stage"), mark("high"), mark("low"));
    // Like the exporter: absolute byte values when the high watermark is one, ratios otherwise
    // (Elasticsearch refuses a mix of the two).
    let bytes_mode = high.as_ref().is_some_and(|h| h.1.to_ascii_lowercase().ends_with('b'));
    let (suffix, parse): (&str, fn(&str) -> Option<f64>) =
        if bytes_mode { ("bytes", parse_bytes) } else { ("ratio", parse_ratio) };
    for (level, value) in [("flood_stage", flood), ("high", high), ("low", low)] {
        let name = format!("elasticsearch_clustersettings_allocation_watermark_{level}_{suffix}");
        let parsed = value.as_ref().and_then(|(_, v)| parse(v));
        push(out, &name, none.clone(), parsed);
        // Not in the exporter: which layer the value came from, and ES 8's cap on the free
        // space a percentage watermark asks for (`-1`, the default once the watermark is set
        // explicitly, means no cap). Capacity planning says where its threshold came from,
        // and a 90 % watermark on a 20 TB disk does not demand 2 TB free.
        let l = labels(&[("level", level)]);
        if let (Some((layer, _)), Some(_)) = (&value, parsed) {
            push(out, "opsadvisor_es_watermark_layer", l.clone(), Some(*layer as i64 as f64));
        }
        if !bytes_mode {
            let headroom =
                setting(layers, &[&disk[..], &["watermark", level, "max_headroom"]].concat())
                    .and_then(|v| parse_bytes(&v));
            push(out, "opsadvisor_es_watermark_max_headroom_bytes", l, headroom);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shards (`GET /_cat/shards?format=json`)

fn convert_shards(v: &Value, cluster: &str, out: &mut EsSamples) {
    const EP: &str = "shards";
    let Some(rows) = v.as_array() else {
        shape(out, EP, "expected a JSON array of shard rows");
        return;
    };
    // Started shards per node, in first-seen order.
    let mut per_node: Vec<(&str, f64)> = Vec::new();
    let mut bad = 0usize;
    for row in rows {
        if !row.is_object() {
            bad += 1;
            continue;
        }
        if row.get("state").and_then(Value::as_str) != Some("STARTED") {
            continue;
        }
        let node = str_or_empty(row, "node");
        match per_node.iter_mut().find(|(n, _)| *n == node) {
            Some((_, count)) => *count += 1.0,
            None => per_node.push((node, 1.0)),
        }
    }
    if bad > 0 {
        shape(out, EP, format!("{bad} shard row(s) are not objects"));
    }
    for (node, count) in per_node {
        let l = labels(&[("cluster", cluster), ("node", node)]);
        push(out, "elasticsearch_node_shards_total", l, Some(count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &EsSamples, name: &str, want: &[(&str, &str)]) -> Option<f64> {
        s.samples
            .iter()
            .find(|x| x.name == name && want.iter().all(|(k, v)| x.label(k) == Some(*v)))
            .map(|x| x.value)
    }

    fn settings(body: &str) -> EsSamples {
        convert(&EsResponses { settings: Some(body.to_owned()), ..Default::default() })
    }

    #[test]
    fn bytes_use_binary_units_and_any_case() {
        assert_eq!(parse_bytes("100b"), Some(100.0));
        assert_eq!(parse_bytes("200kb"), Some(204_800.0));
        assert_eq!(parse_bytes("300mb"), Some(314_572_800.0));
        assert_eq!(parse_bytes("400gb"), Some(429_496_729_600.0));
        assert_eq!(parse_bytes("500tb"), Some(549_755_813_888_000.0));
        assert_eq!(parse_bytes("600pb"), Some(675_539_944_105_574_400.0));
        assert_eq!(parse_bytes("20GB"), Some(21_474_836_480.0));
        assert_eq!(parse_bytes("1.5gb"), Some(1_610_612_736.0));
        assert_eq!(parse_bytes("9ab"), None);
        assert_eq!(parse_bytes("85%"), None);
    }

    #[test]
    fn ratios_accept_percent_and_fraction() {
        assert_eq!(parse_ratio("0.5"), Some(0.5));
        assert_eq!(parse_ratio("50%"), Some(0.5));
        assert_eq!(parse_ratio("85%"), Some(0.85));
        assert_eq!(parse_ratio("500b"), None);
        assert_eq!(parse_ratio(""), None);
    }

    #[test]
    fn settings_precedence_and_dotted_keys() {
        let s = settings(
            r#"{"transient":{"cluster.routing.allocation.enable":"primaries"},
                "persistent":{"cluster":{"routing":{"allocation":{"disk":{
                    "watermark":{"high":"92%"}}}}}},
                "defaults":{"cluster":{"max_shards_per_node":"1000",
                  "routing":{"allocation":{"enable":"all","disk":{"threshold_enabled":"true",
                  "watermark":{"high":{"max_headroom":"-1"},"low":"0.85",
                  "flood_stage.frozen":"95%"}}}}}}}"#,
        );
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let v = |n: &str| value(&s, n, &[]);
        assert_eq!(v("elasticsearch_clustersettings_stats_shard_allocation_enabled"), Some(1.0));
        assert_eq!(v("elasticsearch_clustersettings_stats_max_shards_per_node"), Some(1000.0));
        assert_eq!(v("elasticsearch_clustersettings_allocation_threshold_enabled"), Some(1.0));
        assert_eq!(v("elasticsearch_clustersettings_allocation_watermark_high_ratio"), Some(0.92));
        assert_eq!(v("elasticsearch_clustersettings_allocation_watermark_low_ratio"), Some(0.85));
        // `flood_stage.frozen` is not `flood_stage`.
        assert_eq!(v("elasticsearch_clustersettings_allocation_watermark_flood_stage_ratio"), None);
        // Where each watermark came from: persistent high, default low, no flood stage.
        let layer = |level: &str| value(&s, "opsadvisor_es_watermark_layer", &[("level", level)]);
        assert_eq!(
            (layer("high"), layer("low"), layer("flood_stage")),
            (Some(1.0), Some(0.0), None)
        );
        // `max_headroom: -1` is no cap: nothing reported.
        assert_eq!(s.samples.len(), 7, "{:?}", s.samples);
    }

    #[test]
    fn transient_overrides_persistent_and_max_headroom_is_read_from_flat_settings() {
        let s = settings(
            r#"{"transient":{"cluster.routing.allocation.disk.watermark.low":"80%"},
                "persistent":{"cluster.routing.allocation.disk.watermark.low":"70%"},
                "defaults":{"cluster.routing.allocation.disk.watermark.low":"85%",
                  "cluster.routing.allocation.disk.watermark.low.max_headroom":"-1",
                  "cluster.routing.allocation.disk.watermark.high":"90%",
                  "cluster.routing.allocation.disk.watermark.high.max_headroom":"150gb"}}"#,
        );
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let v = |n: &str, l: &[(&str, &str)]| value(&s, n, l);
        assert_eq!(
            v("elasticsearch_clustersettings_allocation_watermark_low_ratio", &[]),
            Some(0.8)
        );
        assert_eq!(v("opsadvisor_es_watermark_layer", &[("level", "low")]), Some(2.0));
        assert_eq!(v("opsadvisor_es_watermark_max_headroom_bytes", &[("level", "low")]), None);
        assert_eq!(
            v("opsadvisor_es_watermark_max_headroom_bytes", &[("level", "high")]),
            Some(150.0 * 1_073_741_824.0)
        );
    }

    #[test]
    fn settings_absent_fields_give_no_samples() {
        let s = settings(r#"{"persistent":{},"transient":{}}"#);
        assert!(s.errors.is_empty());
        assert!(s.samples.is_empty(), "{:?}", s.samples);
        let s = settings(r#"{"defaults":{"cluster":{"routing":{"allocation":{"enable":"ALL"}}}}}"#);
        assert_eq!(s.samples.len(), 1);
        assert_eq!(
            value(&s, "elasticsearch_clustersettings_stats_shard_allocation_enabled", &[]),
            Some(0.0)
        );
    }

    #[test]
    fn watermark_bytes_mode_follows_high() {
        let s = settings(
            r#"{"persistent":{"cluster.routing.allocation.disk.watermark.high":"500GB",
                "cluster.routing.allocation.disk.watermark.low":"1tb",
                "cluster.routing.allocation.disk.watermark.flood_stage":"100gb"}}"#,
        );
        let v = |n: &str| value(&s, n, &[]);
        assert_eq!(
            v("elasticsearch_clustersettings_allocation_watermark_high_bytes"),
            Some(500.0 * 1_073_741_824.0)
        );
        assert_eq!(
            v("elasticsearch_clustersettings_allocation_watermark_low_bytes"),
            Some(1_099_511_627_776.0)
        );
        assert_eq!(
            v("elasticsearch_clustersettings_allocation_watermark_flood_stage_bytes"),
            Some(100.0 * 1_073_741_824.0)
        );
        assert_eq!(v("elasticsearch_clustersettings_allocation_watermark_high_ratio"), None);
    }

    #[test]
    fn health_status_is_one_hot_and_missing_fields_are_absent() {
        let s = convert(&EsResponses {
            health: Some(r#"{"cluster_name":"c","status":"red","number_of_nodes":"3"}"#.into()),
            ..Default::default()
        });
        assert!(s.errors.is_empty());
        let st = |c: &str| {
            value(&s, "elasticsearch_cluster_health_status", &[("color", c), ("cluster", "c")])
        };
        assert_eq!((st("green"), st("yellow"), st("red")), (Some(0.0), Some(0.0), Some(1.0)));
        assert_eq!(value(&s, "elasticsearch_cluster_health_number_of_nodes", &[]), Some(3.0));
        assert_eq!(value(&s, "elasticsearch_cluster_health_unassigned_shards", &[]), None);
        assert_eq!(s.samples.len(), 4);
    }

    #[test]
    fn node_labels_roles_and_units() {
        let body = r#"{"cluster_name":"prod","nodes":{"abc":{
            "timestamp":1700000000123,"name":"n1","host":"10.0.0.1",
            "roles":["data_hot","ingest","voting_only"],
            "jvm":{"uptime_in_millis":1500,"gc":{"collectors":{
                "old":{"collection_count":2,"collection_time_in_millis":250}}}},
            "indices":{"indexing":{"is_throttled":true,"index_time_in_millis":"42"}},
            "thread_pool":{"write":{"queue":7,"rejected":1}}
        },"def":{"timestamp":1700000000999,"name":"n2",
            "attributes":{"master":"false","data":"true"},
            "http":{"current_open":1},"process":{"open_file_descriptors":5}}}}"#;
        let s = convert(&EsResponses { nodes_stats: Some(body.into()), ..Default::default() });
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.timestamp_ms, Some(1_700_000_000_999));
        let n1 = [
            ("name", "n1"),
            ("es_master_node", "false"),
            ("es_data_node", "false"),
            ("es_ingest_node", "true"),
            ("es_client_node", "false"),
            ("cluster", "prod"),
            ("host", "10.0.0.1"),
        ];
        assert_eq!(
            value(
                &s,
                "elasticsearch_jvm_uptime_seconds",
                &[&n1[..], &[("type", "mapped")]].concat()
            ),
            Some(1.5)
        );
        assert_eq!(
            value(
                &s,
                "elasticsearch_jvm_gc_collection_seconds_sum",
                &[&n1[..], &[("gc", "old")]].concat()
            ),
            Some(0.25)
        );
        assert_eq!(
            value(&s, "elasticsearch_jvm_gc_collection_seconds_count", &[("gc", "old")]),
            Some(2.0)
        );
        assert_eq!(value(&s, "elasticsearch_indices_indexing_is_throttled", &n1), Some(1.0));
        assert_eq!(
            value(&s, "elasticsearch_indices_indexing_index_time_seconds_total", &n1),
            Some(0.042)
        );
        assert_eq!(
            value(&s, "elasticsearch_thread_pool_queue_count", &[("type", "write")]),
            Some(7.0)
        );
        assert_eq!(value(&s, "elasticsearch_thread_pool_active_count", &[("type", "write")]), None);
        assert_eq!(
            value(&s, "elasticsearch_nodes_roles", &[("node", "abc"), ("role", "data_hot")]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "elasticsearch_nodes_roles", &[("node", "abc"), ("role", "voting_only")]),
            Some(0.0)
        );
        assert_eq!(
            value(&s, "elasticsearch_nodes_roles", &[("node", "abc"), ("role", "client")]),
            Some(0.0)
        );
        let n2 = [
            ("name", "n2"),
            ("es_master_node", "false"),
            ("es_data_node", "true"),
            ("es_client_node", "true"),
        ];
        assert_eq!(
            value(&s, "elasticsearch_nodes_roles", &[("node", "def"), ("role", "data")]),
            Some(1.0)
        );
        assert!(s.samples.iter().any(|x| n2.iter().all(|(k, v)| x.label(k) == Some(*v))));
        // Nothing invented for absent sections.
        assert_eq!(value(&s, "elasticsearch_os_cpu_percent", &[]), None);
        assert_eq!(value(&s, "elasticsearch_breakers_tripped", &[]), None);
    }

    #[test]
    fn shards_count_started_per_node_with_cluster_label() {
        let shards = r#"[{"state":"STARTED","node":"a","docs":"5"},{"state":"STARTED","node":"a"},
            {"state":"UNASSIGNED","node":null},{"state":"RELOCATING","node":"b"},
            {"state":"STARTED","node":"b"}, 3]"#;
        let s = convert(&EsResponses {
            shards: Some(shards.into()),
            info: Some(r#"{"cluster_name":"prod","version":{"number":"8.9.1"}}"#.into()),
            ..Default::default()
        });
        assert_eq!(
            value(&s, "elasticsearch_node_shards_total", &[("node", "a"), ("cluster", "prod")]),
            Some(2.0)
        );
        assert_eq!(value(&s, "elasticsearch_node_shards_total", &[("node", "b")]), Some(1.0));
        assert_eq!(s.errors.len(), 1);
        assert_eq!(s.errors[0].endpoint(), "shards");
        let alone = convert(&EsResponses { shards: Some(shards.into()), ..Default::default() });
        assert_eq!(
            value(
                &alone,
                "elasticsearch_node_shards_total",
                &[("cluster", "unknown_cluster"), ("node", "a")]
            ),
            Some(2.0)
        );
    }

    #[test]
    fn error_bodies_and_bad_json_are_reported_per_endpoint() {
        let s = convert(&EsResponses {
            health: Some(
                r#"{"error":{"type":"security_exception","reason":"no"},"status":403}"#.into(),
            ),
            info: Some("{oops".into()),
            settings: Some(r#"{"defaults":{"cluster":{"max_shards_per_node":"7"}}}"#.into()),
            ..Default::default()
        });
        assert_eq!(s.errors.len(), 2);
        assert!(matches!(&s.errors[0], EsError::Json { endpoint: "info", .. }));
        assert_eq!(s.errors[1].endpoint(), "health");
        assert!(s.errors[1].to_string().contains("status 403"), "{}", s.errors[1]);
        assert!(s.errors[0].to_string().starts_with("info: invalid JSON"));
        assert_eq!(
            value(&s, "elasticsearch_clustersettings_stats_max_shards_per_node", &[]),
            Some(7.0)
        );
    }

    #[test]
    fn wrong_shapes_do_not_panic() {
        for body in [
            "[]",
            "3",
            "\"x\"",
            "null",
            r#"{"nodes":[]}"#,
            r#"{"nodes":{"a":5}}"#,
            r#"{"nodes":{"a":{"jvm":[],"thread_pool":{"x":3},"fs":{"data":{}},"roles":"master"}}}"#,
            r#"{"persistent":[],"defaults":{"cluster":[]}}"#,
            r#"[1,{"state":5}]"#,
        ] {
            let r = EsResponses {
                info: Some(body.into()),
                health: Some(body.into()),
                nodes_stats: Some(body.into()),
                settings: Some(body.into()),
                shards: Some(body.into()),
            };
            let _ = convert(&r);
        }
        let s = convert(&EsResponses {
            nodes_stats: Some(r#"{"nodes":[]}"#.into()),
            ..Default::default()
        });
        assert!(matches!(&s.errors[..], [EsError::Shape { endpoint: "nodes_stats", .. }]));
    }

    #[test]
    fn endpoints_cover_every_response_field() {
        let keys: Vec<&str> = ENDPOINTS.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["info", "health", "nodes_stats", "settings", "shards"]);
    }
}
