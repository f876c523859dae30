//! Sources: fetch what the clusters expose and turn it into samples.
//!
//! Every target is scraped once per round, all targets of a round concurrently. A target
//! that is down, slow, answers non-200, sends too much or sends garbage fails alone: its
//! error is recorded in its [`TargetHealth`] and every other target's data stands.

pub mod auth;
pub mod bundle;
pub mod config_files;
pub mod elasticsearch;
pub mod exposition;
pub mod http_config;
pub mod jolokia;
pub mod prometheus;
pub mod tls;

use crate::System;
use crate::config::Config;
use crate::sample::Sample;
use crate::snapshot::{ClusterSnapshot, NodeSnapshot, Point, Snapshot, SourceSeries};
use futures::future::join_all;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// The system's own Prometheus exposition (JMX exporter).
    Metrics,
    /// node_exporter on a node's host.
    NodeExporter,
    /// danielqsj/kafka_exporter for a Kafka cluster.
    KafkaExporter,
    /// The Elasticsearch REST API of a cluster.
    Elasticsearch,
    /// A Prometheus HTTP API holding a cluster's history.
    Prometheus,
    /// prometheus-community/elasticsearch_exporter's `/metrics` for a cluster.
    ElasticsearchExporter,
    /// A Jolokia agent in a Cassandra or Kafka node's JVM (bulk read POST).
    Jolokia,
    /// A node's configuration files and host facts, read from disk (never scraped).
    ConfigFiles,
}

/// One endpoint to scrape.
#[derive(Debug, Clone)]
pub struct Target {
    /// Cluster name.
    pub cluster: String,
    /// The cluster's system.
    pub system: System,
    /// Node name for node targets.
    pub node: Option<String>,
    /// What it is.
    pub kind: TargetKind,
    /// The URL, as configured (may hold credentials: print [`redact`]ed).
    pub url: String,
    /// The cluster's auth settings, resolved at each fetch.
    pub auth: Option<auth::AuthConfig>,
    /// The cluster's TLS settings.
    pub tls: Option<tls::TlsConfig>,
}

/// How a target fared in one run. Part of the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct TargetHealth {
    /// Cluster name.
    pub cluster: String,
    /// Node name, null for cluster-wide targets.
    pub node: Option<String>,
    /// What it is.
    pub kind: TargetKind,
    /// URL without credentials or query secrets.
    pub url: String,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// Why the last failed scrape failed, if any did.
    pub error: Option<String>,
    /// What the last successful scrape lacked: parts of the target that failed while the
    /// rest answered (a Jolokia read request's error status, an Elasticsearch endpoint).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<String>,
    /// Successful scrapes this run.
    pub scrapes_ok: usize,
    /// Failed scrapes this run.
    pub scrapes_failed: usize,
}

/// Every target of a config, in config order.
pub fn targets(config: &Config) -> Vec<Target> {
    let mut out = Vec::new();
    // Clusters read from Prometheus are not scraped: no node is scraped twice.
    for c in config.clusters.iter().filter(|c| c.prometheus.is_none()) {
        let mut push = |node: Option<&str>, kind, url: &Option<String>| {
            if let Some(url) = url {
                out.push(Target {
                    cluster: c.name.clone(),
                    system: c.system,
                    node: node.map(str::to_string),
                    kind,
                    url: url.clone(),
                    auth: c.auth.clone(),
                    tls: c.tls.clone(),
                });
            }
        };
        push(None, TargetKind::Elasticsearch, &c.elasticsearch);
        push(None, TargetKind::ElasticsearchExporter, &c.elasticsearch_exporter);
        push(None, TargetKind::KafkaExporter, &c.kafka_exporter);
        for t in &c.targets {
            push(Some(&t.node), TargetKind::Metrics, &t.metrics);
            push(Some(&t.node), TargetKind::Jolokia, &t.jolokia);
            push(Some(&t.node), TargetKind::NodeExporter, &t.node_exporter);
        }
    }
    out
}

/// A URL safe to print: no user, password or query string.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}

/// What one scrape of one target produced, and what it lacked.
#[derive(Debug, Clone)]
struct Parsed {
    scraped: Scraped,
    /// Parts that failed while the rest answered.
    partial: Vec<String>,
}

/// What one scrape of one target produced.
#[derive(Debug, Clone)]
enum Scraped {
    /// A node or cluster-wide exposition.
    Points(Point),
    /// Elasticsearch: cluster-level samples plus per-node samples keyed by ES node name.
    Es { cluster: Point, nodes: BTreeMap<String, Point> },
}

/// The HTTP client every source uses: timeouts, gzip and a User-Agent.
///
/// # Errors
/// If the TLS backend cannot initialise.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    client_builder(timeout).build()
}

/// [`http_client`] without idle connections kept between requests: the daemon's scrape client.
///
/// Why: a kept-alive HTTP/1 connection holds its read buffer (grown to fit the last body),
/// its write buffer and its dispatch channel while it idles; across 1,000 targets scraped every
/// 15 s that was ~90 KB per target, the largest item of the daemon's heap (issue 7, measured
/// with heaptrack). A new connection per scrape costs a TCP handshake (and a TLS one for
/// `https` targets) per target and interval, which the soak's CPU figure includes.
///
/// # Errors
/// If the TLS backend cannot initialise.
pub fn http_client_unpooled(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    client_builder(timeout).pool_max_idle_per_host(0).build()
}

/// The settings every client shares; [`tls::TlsConfig::client`] adds to them.
fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("opsadvisor/", env!("CARGO_PKG_VERSION")))
}

/// What one fetch of one target returned, before parsing: exactly what a support bundle
/// keeps, so a bundle replays through the same parsing as a live run.
#[derive(Debug, Clone, PartialEq)]
pub struct Raw {
    /// When the fetch completed, Unix milliseconds.
    pub fetched_ms: i64,
    /// Bodies by key: `metrics` for an exposition, the endpoint key for Elasticsearch.
    pub bodies: BTreeMap<String, RawBody>,
    /// Elasticsearch endpoints that failed while others answered.
    pub errors: Vec<String>,
}

/// One response body.
#[derive(Debug, Clone, PartialEq)]
pub struct RawBody {
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// The bytes, at most `max_body_bytes`.
    pub body: Vec<u8>,
}

/// Every fetch of every target in one run, by target then round.
#[derive(Debug, Clone, Default)]
pub struct Rounds {
    /// The targets, in config order.
    pub targets: Vec<Target>,
    /// Per target, per round: what came back, or why nothing did.
    pub raws: Vec<Vec<Result<Raw, String>>>,
}

/// Scrapes every target `config.scrape.samples` times, `interval` apart, and parses what
/// came back.
pub async fn collect(config: &Config, client: &reqwest::Client) -> (Snapshot, Vec<TargetHealth>) {
    assemble_rounds(config, &fetch_rounds(config, client).await)
}

/// Fetches every target `config.scrape.samples` times, `interval` apart, without parsing.
pub async fn fetch_rounds(config: &Config, client: &reqwest::Client) -> Rounds {
    let targets = targets(config);
    if targets.is_empty() {
        return Rounds::default();
    }
    let rounds = config.scrape.samples;
    let max_body = config.scrape.max_body_bytes;
    // Clusters with their own TLS settings get their own client; one that cannot be set
    // up (an unreadable CA file) fails only that cluster's targets.
    let clients: Vec<Result<reqwest::Client, String>> = targets
        .iter()
        .map(|t| match &t.tls {
            Some(tls) => tls.client(config.timeout()),
            None => Ok(client.clone()),
        })
        .collect();
    let mut raws: Vec<Vec<Result<Raw, String>>> = vec![Vec::new(); targets.len()];
    for round in 0..rounds {
        let started = Instant::now();
        let round_results = join_all(targets.iter().zip(&clients).map(|(t, c)| async move {
            match c {
                Ok(c) => fetch_raw(c, t, max_body).await,
                Err(e) => Err(e.clone()),
            }
        }))
        .await;
        for (i, r) in round_results.into_iter().enumerate() {
            raws[i].push(r);
        }
        if round + 1 < rounds {
            tokio::time::sleep_until((started + config.interval()).into()).await;
        }
    }
    Rounds { targets, raws }
}

/// Parses fetched rounds into the snapshot and each target's health. A body that does not
/// parse is a failed scrape of that target, like a failed fetch.
pub fn assemble_rounds(config: &Config, rounds: &Rounds) -> (Snapshot, Vec<TargetHealth>) {
    assemble_rounds_keeping(config, rounds, &|_| true)
}

/// [`assemble_rounds`], building from expositions only the series whose name `keep` accepts
/// ([`exposition::parse_keeping`]): a scrape that does not parse still fails whatever is kept.
pub fn assemble_rounds_keeping(
    config: &Config,
    rounds: &Rounds,
    keep: &dyn Fn(&str) -> bool,
) -> (Snapshot, Vec<TargetHealth>) {
    let results: Vec<Vec<Result<Parsed, String>>> = rounds
        .targets
        .iter()
        .zip(&rounds.raws)
        .map(|(t, rs)| rs.iter().map(|r| parse_logged(t, r.as_ref(), keep)).collect())
        .collect();
    assemble_parsed(config, &rounds.targets, results)
}

/// One fetch of one target, parsed at once: what the daemon holds of a scrape while the rest
/// of the round is still coming in, instead of its body (a round of 1,000 bodies is ~30 MB;
/// the series the window keeps of them, well under 1 MB).
#[derive(Debug)]
pub struct ParsedScrape(Result<Parsed, String>);

/// Fetches `target` once and parses what came back, keeping only the series whose name `keep`
/// accepts; a failure (fetch or parse) is logged and kept as the target's error.
pub async fn fetch_parsed(
    client: &reqwest::Client,
    target: &Target,
    max_body: u64,
    keep: &dyn Fn(&str) -> bool,
) -> ParsedScrape {
    let raw = fetch_raw(client, target, max_body).await;
    let mut parsed = parse_logged(target, raw.as_ref(), keep);
    drop(raw);
    if let Ok(p) = &mut parsed {
        // The parser sizes its sample vector from the body; keep only what was kept.
        match &mut p.scraped {
            Scraped::Points(point) => point.samples.shrink_to_fit(),
            Scraped::Es { cluster, nodes } => {
                cluster.samples.shrink_to_fit();
                nodes.values_mut().for_each(|p| p.samples.shrink_to_fit());
            }
        }
    }
    ParsedScrape(parsed)
}

/// One round of [`fetch_parsed`] results (in `targets` order) as a snapshot and each target's
/// health.
pub fn assemble_scrapes(
    config: &Config,
    targets: &[Target],
    scrapes: Vec<ParsedScrape>,
) -> (Snapshot, Vec<TargetHealth>) {
    assemble_parsed(config, targets, scrapes.into_iter().map(|s| vec![s.0]).collect())
}

fn parse_logged(
    t: &Target,
    raw: Result<&Raw, &String>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Parsed, String> {
    let parsed = raw.map_err(Clone::clone).and_then(|raw| parse_raw(t, raw, keep));
    if let Err(e) = &parsed {
        tracing::warn!(cluster = %t.cluster, url = %redact(&t.url), error = %e, "Scrape failed.");
    }
    parsed
}

/// Per target, per round parse results into the snapshot and each target's health.
fn assemble_parsed(
    config: &Config,
    targets: &[Target],
    results: Vec<Vec<Result<Parsed, String>>>,
) -> (Snapshot, Vec<TargetHealth>) {
    let health = targets
        .iter()
        .zip(&results)
        .map(|(t, rs)| TargetHealth {
            cluster: t.cluster.clone(),
            node: t.node.clone(),
            kind: t.kind,
            url: redact(&t.url),
            up: rs.last().is_some_and(Result::is_ok),
            error: rs.iter().rev().find_map(|r| r.as_ref().err().cloned()),
            partial: rs
                .iter()
                .rev()
                .find_map(|r| r.as_ref().ok())
                .map_or_else(Vec::new, |p| p.partial.clone()),
            scrapes_ok: rs.iter().filter(|r| r.is_ok()).count(),
            scrapes_failed: rs.iter().filter(|r| r.is_err()).count(),
        })
        .collect();
    let n = results.iter().map(Vec::len).max().unwrap_or(0);
    let results = results
        .into_iter()
        .map(|rs| rs.into_iter().map(|r| r.map(|p| p.scraped)).collect())
        .collect();
    (assemble(config, targets, results, n), health)
}

/// Arranges per-target results into the cluster/node snapshot.
fn assemble(
    config: &Config,
    targets: &[Target],
    results: Vec<Vec<Result<Scraped, String>>>,
    rounds: usize,
) -> Snapshot {
    let mut clusters = Vec::new();
    // Each target's results are moved into the snapshot, not copied.
    let mut results: Vec<Option<Vec<Result<Scraped, String>>>> =
        results.into_iter().map(Some).collect();
    for c in config.clusters.iter().filter(|c| c.prometheus.is_none()) {
        let mut nodes: Vec<NodeSnapshot> = c
            .targets
            .iter()
            .map(|t| NodeSnapshot { name: t.node.clone(), sources: Vec::new() })
            .collect();
        let mut cluster_sources = Vec::new();
        for (t, slot) in targets.iter().zip(&mut results).filter(|(t, _)| t.cluster == c.name) {
            let Some(rs) = slot.take() else { continue };
            let source = redact(&t.url);
            match t.kind {
                TargetKind::Elasticsearch | TargetKind::ElasticsearchExporter => {
                    let mut cluster_points = Vec::new();
                    let mut per_node: BTreeMap<String, Vec<Option<Point>>> = BTreeMap::new();
                    for (round, r) in rs.into_iter().enumerate() {
                        match r {
                            Ok(Scraped::Es { cluster, nodes: es_nodes }) => {
                                cluster_points.push(Some(cluster));
                                for (name, p) in es_nodes {
                                    if let Some(slot) = per_node
                                        .entry(name)
                                        .or_insert_with(|| vec![None; rounds])
                                        .get_mut(round)
                                    {
                                        *slot = Some(p);
                                    }
                                }
                            }
                            _ => cluster_points.push(None),
                        }
                    }
                    cluster_sources
                        .push(SourceSeries { source: source.clone(), points: cluster_points });
                    for (name, points) in per_node {
                        let series = SourceSeries { source: source.clone(), points };
                        match nodes.iter_mut().find(|n| n.name == name) {
                            Some(n) => n.sources.push(series),
                            None => nodes.push(NodeSnapshot { name, sources: vec![series] }),
                        }
                    }
                }
                _ => {
                    let points = rs
                        .into_iter()
                        .map(|r| match r {
                            Ok(Scraped::Points(p)) => Some(p),
                            _ => None,
                        })
                        .collect();
                    let series = SourceSeries { source, points };
                    match t.node.as_deref().and_then(|n| nodes.iter_mut().find(|x| x.name == n)) {
                        Some(node) => node.sources.push(series),
                        None => cluster_sources.push(series),
                    }
                }
            }
        }
        clusters.push(ClusterSnapshot {
            name: c.name.clone(),
            system: c.system,
            nodes,
            cluster_sources,
        });
    }
    Snapshot { rounds, clusters }
}

/// Fetches one target once, without parsing: what one round does per target. The daemon
/// calls it per target so it can time each scrape.
///
/// # Errors
/// Why nothing usable came back (timeout, connection, HTTP status, body too large, auth).
pub async fn fetch_raw(
    client: &reqwest::Client,
    target: &Target,
    max_body: u64,
) -> Result<Raw, String> {
    let credentials = match &target.auth {
        Some(a) => a.resolve()?,
        None => None,
    };
    let credentials = credentials.as_ref();
    let mut bodies = BTreeMap::new();
    let mut errors = Vec::new();
    if target.kind == TargetKind::Elasticsearch {
        let base = target.url.trim_end_matches('/');
        let fetches = elasticsearch::ENDPOINTS.iter().map(|(key, path)| async move {
            (
                *key,
                fetch(client, &format!("{base}{path}"), "application/json", max_body, credentials)
                    .await,
            )
        });
        for (key, mut r) in join_all(fetches).await {
            if key == "settings" && r.as_ref().is_err_and(|e| e == "HTTP 400") {
                // Before 6.4 Elasticsearch rejects `include_defaults`: take the explicit
                // settings alone, and let Elasticsearch's defaults stand for the rest.
                let url = format!("{base}{}", elasticsearch::SETTINGS_WITHOUT_DEFAULTS);
                r = fetch(client, &url, "application/json", max_body, credentials).await;
            }
            match r {
                Ok((content_type, body)) => {
                    bodies.insert(key.to_string(), RawBody { content_type, body });
                }
                Err(e) => errors.push(format!("{key}: {e}")),
            }
        }
        if !bodies.contains_key("nodes_stats") && !bodies.contains_key("health") {
            return Err(errors.join("; "));
        }
    } else if target.kind == TargetKind::Jolokia {
        // One bulk read per scrape. The request is kept beside the response, so a bundle
        // says what was asked and replays through the same parsing.
        let request = jolokia::Mapping::builtin().request_body(target.system);
        let (content_type, body) =
            post_json(client, &target.url, &request, max_body, credentials).await?;
        bodies.insert(
            "request".to_string(),
            RawBody { content_type: Some("application/json".into()), body: request.into_bytes() },
        );
        bodies.insert("jolokia".to_string(), RawBody { content_type, body });
    } else {
        let (content_type, body) =
            fetch(client, &target.url, exposition::ACCEPT_HEADER, max_body, credentials).await?;
        bodies.insert("metrics".to_string(), RawBody { content_type, body });
    }
    Ok(Raw { fetched_ms: crate::clock::now_ms(), bodies, errors })
}

/// Parses what one fetch returned. Samples without timestamps are dated by the fetch.
fn parse_raw(target: &Target, raw: &Raw, keep: &dyn Fn(&str) -> bool) -> Result<Parsed, String> {
    let kind = target.kind;
    if kind == TargetKind::Jolokia {
        let body = raw.bodies.get("jolokia").ok_or("no body recorded")?;
        let parsed = jolokia::parse(&body.body, jolokia::Mapping::builtin(), target.system)?;
        // The agent's clock has whole seconds. When it agrees with ours, the fetch time is
        // the more precise reading of the same instant (rates over 15 s would be off by up
        // to 7% otherwise); when it does not (a simulation, a skewed host), the agent's
        // clock is what the values belong to.
        let timestamp_ms = match parsed.timestamp_s {
            Some(s)
                if s.saturating_mul(1000).saturating_sub(raw.fetched_ms).unsigned_abs() > 2_000 =>
            {
                s.saturating_mul(1000)
            }
            _ => raw.fetched_ms,
        };
        return Ok(Parsed {
            scraped: Scraped::Points(Point { timestamp_ms, samples: parsed.samples }),
            partial: parsed.errors,
        });
    }
    if kind == TargetKind::Elasticsearch {
        let text =
            |key: &str| raw.bodies.get(key).map(|b| String::from_utf8_lossy(&b.body).into_owned());
        let responses = elasticsearch::EsResponses {
            info: text("info"),
            health: text("health"),
            nodes_stats: text("nodes_stats"),
            settings: text("settings"),
            shards: text("shards"),
        };
        let converted = elasticsearch::convert(&responses);
        for e in &converted.errors {
            tracing::warn!(error = %e, "Elasticsearch response not understood.");
        }
        let timestamp_ms = converted.timestamp_ms.unwrap_or(raw.fetched_ms);
        return Ok(Parsed {
            scraped: split_by_es_node(converted.samples, timestamp_ms),
            partial: raw.errors.clone(),
        });
    }
    let body = raw.bodies.get("metrics").ok_or("no body recorded")?;
    let format = exposition::detect_format(body.content_type.as_deref(), &body.body);
    let parsed = exposition::parse_keeping(&body.body, format, keep)
        .map_err(|e| format!("invalid exposition: {e}"))?;
    let timestamp_ms =
        parsed.samples.iter().filter_map(|s| s.timestamp_ms).max().unwrap_or(raw.fetched_ms);
    let scraped = match kind {
        // The exporter's /metrics describes every ES node: split it like the REST path.
        TargetKind::ElasticsearchExporter => split_by_es_node(parsed.samples, timestamp_ms),
        _ => Scraped::Points(Point { timestamp_ms, samples: parsed.samples }),
    };
    Ok(Parsed { scraped, partial: Vec::new() })
}

/// Splits elasticsearch_exporter-named samples (from the REST converter or the exporter's
/// own `/metrics`) into cluster-wide samples and samples per ES node, so both paths meet in
/// the same snapshot shape.
fn split_by_es_node(samples: Vec<Sample>, timestamp_ms: i64) -> Scraped {
    let mut cluster = Vec::new();
    let mut nodes: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for s in samples {
        // Node metrics carry the ES node name in `name`; the shards collector uses `node`.
        match s.label("name").or_else(|| s.label("node")).map(str::to_string) {
            Some(name) => nodes.entry(name).or_default().push(s),
            None => cluster.push(s),
        }
    }
    let point = |samples| Point { timestamp_ms, samples };
    Scraped::Es {
        cluster: point(cluster),
        nodes: nodes.into_iter().map(|(k, v)| (k, point(v))).collect(),
    }
}

/// GETs `url`; returns the Content-Type and at most `max_body` bytes of body.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
    max_body: u64,
    credentials: Option<&auth::Credentials>,
) -> Result<(Option<String>, Vec<u8>), String> {
    let req = auth::apply(client.get(url).header("Accept", accept), credentials);
    read_response(req, max_body).await
}

/// POSTs a JSON body to `url`; returns the Content-Type and at most `max_body` bytes.
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &str,
    max_body: u64,
    credentials: Option<&auth::Credentials>,
) -> Result<(Option<String>, Vec<u8>), String> {
    let req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Accept", "application/json, text/plain;q=0.9")
        .body(body.to_string());
    read_response(auth::apply(req, credentials), max_body).await
}

/// A reqwest error as a short reason. The TLS reason (unknown issuer, expired, name
/// mismatch) sits deep in the source chain: it is named, so a missing CA is recognisable.
/// Without the URL, which the caller names redacted (a URL may carry credentials).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let chain = || {
        let mut parts = Vec::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = src {
            parts.push(s.to_string());
            src = s.source();
        }
        parts
    };
    if e.is_timeout() {
        "timeout".to_string()
    } else if e.is_connect() {
        let parts = chain();
        match parts.iter().find(|p| p.contains("certificate") || p.contains("Certificate")) {
            Some(cert) => format!("TLS certificate rejected: {cert}"),
            None => match parts.last() {
                Some(last) => format!("connection failed: {last}"),
                None => "connection failed".to_string(),
            },
        }
    } else if e.is_decode() || e.is_body() {
        match chain().last() {
            Some(cause) if is_reset(cause) => {
                format!("connection reset while reading body: {cause}")
            }
            _ => format!("reading body: {e}"),
        }
    } else {
        e.to_string()
    }
}

fn is_reset(cause: &str) -> bool {
    cause.contains("reset") || cause.contains("os error 104")
}

/// Sends `req`; returns the Content-Type and at most `max_body` bytes of a 2xx body.
async fn read_response(
    req: reqwest::RequestBuilder,
    max_body: u64,
) -> Result<(Option<String>, Vec<u8>), String> {
    let mut resp = req.send().await.map_err(describe)?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if resp.content_length().is_some_and(|n| n > max_body) {
        return Err(format!("body larger than {max_body} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(describe)? {
        if body.len() as u64 + chunk.len() as u64 > max_body {
            return Err(format!("body larger than {max_body} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((content_type, body))
}

/// Reads the clusters configured with `prometheus:` from their Prometheus, each ending at
/// `end_ms`. Each becomes its own snapshot, since each has its own range and step.
pub async fn collect_prometheus(
    config: &Config,
    client: &reqwest::Client,
    catalog: &crate::features::catalog::Catalog,
    end_ms: i64,
) -> (Vec<Snapshot>, Vec<TargetHealth>) {
    let jobs = config.clusters.iter().filter_map(|c| c.prometheus.as_ref().map(|p| (c, p))).map(
        |(c, p)| async move {
            let r = async {
                // A cluster's `tls:` covers its Prometheus as it covers its targets.
                let own;
                let client = match &c.tls {
                    Some(tls) => {
                        own = tls.client(config.timeout())?;
                        &own
                    }
                    None => client,
                };
                let credentials = c.auth.as_ref().map(auth::AuthConfig::resolve).transpose()?;
                prometheus::collect(
                    client,
                    &c.name,
                    c.system,
                    p,
                    catalog,
                    end_ms,
                    credentials.flatten().as_ref(),
                )
                .await
            }
            .await;
            (c, p, r)
        },
    );
    let mut snapshots = Vec::new();
    let mut health = Vec::new();
    for (c, p, r) in join_all(jobs).await {
        let (up, error) = match r {
            Ok((cluster, rounds)) => {
                snapshots.push(Snapshot { rounds, clusters: vec![cluster] });
                (true, None)
            }
            Err(e) => {
                tracing::warn!(cluster = %c.name, url = %redact(&p.url), error = %e, "Prometheus query failed.");
                (false, Some(e))
            }
        };
        health.push(TargetHealth {
            cluster: c.name.clone(),
            node: None,
            kind: TargetKind::Prometheus,
            url: redact(&p.url),
            up,
            error,
            partial: Vec::new(),
            scrapes_ok: usize::from(up),
            scrapes_failed: usize::from(!up),
        });
    }
    (snapshots, health)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn jolokia_raw(timestamp: &str, fetched_ms: i64) -> Raw {
        let body = format!(
            r#"[{{"request":{{"mbean":"java.lang:type=Threading","attribute":["DaemonThreadCount","PeakThreadCount","ThreadCount"],"type":"read"}},"value":{{"ThreadCount":42}},"status":200,"timestamp":{timestamp}}}]"#
        );
        let mut bodies = BTreeMap::new();
        bodies.insert("jolokia".into(), RawBody { content_type: None, body: body.into_bytes() });
        Raw { fetched_ms, bodies, errors: Vec::new() }
    }

    fn timestamp_of(raw: &Raw) -> i64 {
        let target = Target {
            cluster: "c".into(),
            system: System::Kafka,
            node: Some("n".into()),
            kind: TargetKind::Jolokia,
            url: "http://127.0.0.1:8778/jolokia/".into(),
            auth: None,
            tls: None,
        };
        match parse_raw(&target, raw, &|_| true).unwrap().scraped {
            Scraped::Points(p) => {
                assert_eq!(p.samples[0].name, "jvm_threads_current");
                p.timestamp_ms
            }
            Scraped::Es { .. } => unreachable!(),
        }
    }

    #[test]
    fn jolokia_samples_are_dated_by_the_more_precise_clock() {
        // The agent's whole second agrees with the fetch: the fetch's milliseconds win.
        assert_eq!(timestamp_of(&jolokia_raw("1700000000", 1_700_000_000_456)), 1_700_000_000_456);
        // A simulation hours ahead: the agent's clock is what the values belong to.
        assert_eq!(timestamp_of(&jolokia_raw("1700007200", 1_700_000_000_456)), 1_700_007_200_000);
        // Absurd agent clocks do not overflow.
        for ts in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let _ = timestamp_of(&jolokia_raw(&ts, 1_700_000_000_000));
        }
    }
}
