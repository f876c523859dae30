//! Prometheus HTTP API source: read a cluster's history from a Prometheus that already
//! scrapes it (or anything with its API: Thanos, Mimir, VictoriaMetrics).
//!
//! One `query_range` request fetches every series the feature catalogue can use for the
//! cluster's system (`{__name__=~"m1|m2|…", <selector>}`), over `range` at `step`. Each
//! step becomes a round, so the rest of the pipeline cannot tell this history from live
//! scrapes, and no node is scraped twice. Series are assigned to nodes by `node_label`
//! (default `instance`, without its port, so a host's JMX exporter and node_exporter meet
//! on one node); series of cluster-wide features (cluster health, consumer lag) go to the
//! cluster.

use crate::System;
use crate::config::parse_duration;
use crate::features::catalog::{Catalog, Scope};
use crate::sample::Sample;
use crate::snapshot::{ClusterSnapshot, NodeSnapshot, Point, SourceSeries};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a cluster's history lives in Prometheus.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL of the Prometheus HTTP API, e.g. `http://prometheus:9090`.
    pub url: String,
    /// Label matchers that select this cluster's series, e.g. `job="cassandra",env="prod"`.
    #[serde(default)]
    pub selector: String,
    /// The label that names a node. Default `instance` (its `:port` is dropped).
    #[serde(default = "default_node_label")]
    pub node_label: String,
    /// How much history to read. Default `10m`.
    #[serde(default = "default_range")]
    pub range: String,
    /// Resolution of the history. Default `30s`.
    #[serde(default = "default_step")]
    pub step: String,
}

fn default_node_label() -> String {
    "instance".into()
}
fn default_range() -> String {
    "10m".into()
}
fn default_step() -> String {
    "30s".into()
}

impl PrometheusConfig {
    /// Problems with the settings, as (field, message).
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (field, v) in [("range", &self.range), ("step", &self.step)] {
            match parse_duration(v) {
                Ok(d) if d.is_zero() => out.push((field, "must be positive".to_string())),
                Ok(_) => {}
                Err(e) => out.push((field, e)),
            }
        }
        if let (Ok(r), Ok(s)) = (parse_duration(&self.range), parse_duration(&self.step))
            && !s.is_zero()
            && r.as_millis() / s.as_millis() > 11_000
        {
            out.push(("step", "range / step exceeds Prometheus's 11000 points per series".into()));
        }
        if self.selector.contains('{') || self.selector.contains('}') {
            out.push(("selector", "write the matchers without braces, e.g. job=\"kafka\"".into()));
        }
        out
    }
}

#[derive(Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<ApiSeries>,
}

#[derive(Deserialize)]
struct ApiSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// The PromQL query that fetches every series the catalogue can use for `system`.
pub fn query_for(system: System, catalog: &Catalog, selector: &str) -> String {
    let names: BTreeSet<&str> = catalog
        .base
        .iter()
        .filter(|f| f.systems.contains(&system))
        .flat_map(|f| f.from.iter().map(|a| a.selector.name.as_str()))
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    let mut q = format!("{{__name__=~\"{}\"", names.join("|"));
    if !selector.trim().is_empty() {
        q.push(',');
        q.push_str(selector.trim());
    }
    q.push('}');
    q
}

/// The points a `query_range` asked for: `rounds` steps of `step_ms` from `start_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeWindow {
    /// First evaluation time, Unix milliseconds.
    pub start_ms: i64,
    /// Resolution.
    pub step_ms: i64,
    /// Number of steps, both ends included.
    pub rounds: usize,
}

/// Turns a `query_range` response body into the snapshot of one cluster.
///
/// # Errors
/// A message naming what is wrong with the response.
pub fn to_snapshot(
    body: &[u8],
    cluster: &str,
    system: System,
    catalog: &Catalog,
    cfg: &PrometheusConfig,
    window: RangeWindow,
    source: &str,
) -> Result<ClusterSnapshot, String> {
    let RangeWindow { start_ms, step_ms, rounds } = window;
    let resp: ApiResponse =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    if resp.status != "success" {
        return Err(format!(
            "{}: {}",
            resp.error_type.unwrap_or_else(|| "error".into()),
            resp.error.unwrap_or_default()
        ));
    }
    let data = resp.data.ok_or("response has no data")?;
    if data.result_type != "matrix" {
        return Err(format!("expected a matrix, got {}", data.result_type));
    }
    // Names read only by cluster-wide features belong to the cluster, not to a node.
    let node_names: BTreeSet<&str> = catalog
        .base
        .iter()
        .filter(|f| f.systems.contains(&system) && f.scope == Scope::Node)
        .flat_map(|f| f.from.iter().map(|a| a.selector.name.as_str()))
        .collect();
    let mut per_node: BTreeMap<String, Vec<Vec<Sample>>> = BTreeMap::new();
    let mut cluster_rounds: Vec<Vec<Sample>> = vec![Vec::new(); rounds];
    for series in data.result {
        let mut labels = series.metric;
        let Some(name) = labels.remove("__name__") else { continue };
        let node = labels.get(&cfg.node_label).map(|v| {
            if cfg.node_label == "instance" { strip_port(v).to_string() } else { v.clone() }
        });
        let target = match node {
            Some(n) if node_names.contains(name.as_str()) => {
                per_node.entry(n).or_insert_with(|| vec![Vec::new(); rounds])
            }
            _ => &mut cluster_rounds,
        };
        let labels = crate::sample::labels(labels);
        let atom = crate::sample::Atom::from(name.as_str());
        for (t, v) in series.values {
            let t_ms = (t * 1000.0).round() as i64;
            let k = (t_ms - start_ms + step_ms / 2).div_euclid(step_ms);
            let Ok(k) = usize::try_from(k) else { continue };
            let Some(slot) = target.get_mut(k) else { continue };
            let value = match v.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => {
                    other.parse().map_err(|_| format!("bad sample value '{other}' for {name}"))?
                }
            };
            let mut s = Sample::new(atom.clone(), labels.clone(), value);
            s.timestamp_ms = Some(t_ms);
            slot.push(s);
        }
    }
    let to_series = |rounds_samples: Vec<Vec<Sample>>| SourceSeries {
        source: source.to_string(),
        points: rounds_samples
            .into_iter()
            .enumerate()
            .map(|(k, samples)| {
                (!samples.is_empty())
                    .then(|| Point { timestamp_ms: start_ms + k as i64 * step_ms, samples })
            })
            .collect(),
    };
    let has_cluster_data = cluster_rounds.iter().any(|r| !r.is_empty());
    Ok(ClusterSnapshot {
        name: cluster.to_string(),
        system,
        nodes: per_node
            .into_iter()
            .map(|(name, r)| NodeSnapshot { name, sources: vec![to_series(r)] })
            .collect(),
        cluster_sources: if has_cluster_data {
            vec![to_series(cluster_rounds)]
        } else {
            Vec::new()
        },
    })
}

fn strip_port(instance: &str) -> &str {
    // `host:port`, `[::1]:port`; a bare IPv6 address has several colons and no brackets.
    match instance.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':') => {
            if host.contains(':') && !host.starts_with('[') {
                instance
            } else {
                host
            }
        }
        _ => instance,
    }
}

/// Reads one cluster's history from Prometheus, ending at `end_ms`.
///
/// # Errors
/// A message naming the failure: connection, HTTP status, or the API's own error.
pub async fn collect(
    client: &reqwest::Client,
    cluster: &str,
    system: System,
    cfg: &PrometheusConfig,
    catalog: &Catalog,
    end_ms: i64,
    credentials: Option<&super::auth::Credentials>,
) -> Result<(ClusterSnapshot, usize), String> {
    let range_ms = parse_duration(&cfg.range)?.as_millis() as i64;
    let step_ms = parse_duration(&cfg.step)?.as_millis().max(1) as i64;
    // Align to the step, as Grafana does, so repeated runs read the same points.
    let end_ms = end_ms - end_ms.rem_euclid(step_ms);
    let start_ms = end_ms - range_ms;
    let rounds = (range_ms / step_ms) as usize + 1;
    let window = RangeWindow { start_ms, step_ms, rounds };
    let snap = query_range(client, cluster, system, cfg, catalog, window, credentials).await?;
    Ok((snap, rounds))
}

/// Points per series Prometheus answers at most in one `query_range` (it refuses more with
/// "exceeded maximum resolution of 11,000 points per timeseries").
pub const MAX_POINTS: usize = 11_000;

/// Reads one cluster's history over `window`, however long: the range is fetched in
/// consecutive requests of at most [`MAX_POINTS`] steps each and joined into one snapshot
/// whose rounds are the window's steps.
///
/// # Errors
/// As [`query_range`], for the first request that fails.
pub async fn collect_range(
    client: &reqwest::Client,
    cluster: &str,
    system: System,
    cfg: &PrometheusConfig,
    catalog: &Catalog,
    window: RangeWindow,
    credentials: Option<&super::auth::Credentials>,
) -> Result<ClusterSnapshot, String> {
    let mut parts = Vec::new();
    for chunk in chunks(window, MAX_POINTS) {
        parts.push(query_range(client, cluster, system, cfg, catalog, chunk, credentials).await?);
    }
    Ok(join(cluster, system, &parts, &chunks(window, MAX_POINTS)))
}

/// `window` cut into consecutive windows of at most `max` rounds.
pub fn chunks(window: RangeWindow, max: usize) -> Vec<RangeWindow> {
    let max = max.max(1);
    (0..window.rounds)
        .step_by(max)
        .map(|first| RangeWindow {
            start_ms: window.start_ms + first as i64 * window.step_ms,
            step_ms: window.step_ms,
            rounds: max.min(window.rounds - first),
        })
        .collect()
}

/// Joins the snapshots of consecutive `windows` into one: a node missing from a part has no
/// points for that part's rounds.
fn join(
    cluster: &str,
    system: System,
    parts: &[ClusterSnapshot],
    windows: &[RangeWindow],
) -> ClusterSnapshot {
    let total: usize = windows.iter().map(|w| w.rounds).sum();
    let source = parts
        .iter()
        .flat_map(|p| p.nodes.iter().flat_map(|n| &n.sources).chain(&p.cluster_sources))
        .map(|s| s.source.clone())
        .next()
        .unwrap_or_default();
    let mut nodes: BTreeMap<String, Vec<Option<crate::snapshot::Point>>> = BTreeMap::new();
    let mut cluster_points: Vec<Option<crate::snapshot::Point>> = vec![None; total];
    let mut offset = 0;
    for (part, w) in parts.iter().zip(windows) {
        for node in &part.nodes {
            let points = nodes.entry(node.name.clone()).or_insert_with(|| vec![None; total]);
            for s in &node.sources {
                for (k, p) in s.points.iter().enumerate().take(w.rounds) {
                    if p.is_some() {
                        points[offset + k] = p.clone();
                    }
                }
            }
        }
        for s in &part.cluster_sources {
            for (k, p) in s.points.iter().enumerate().take(w.rounds) {
                if p.is_some() {
                    cluster_points[offset + k] = p.clone();
                }
            }
        }
        offset += w.rounds;
    }
    let series = |points| SourceSeries { source: source.clone(), points };
    let has_cluster_data = cluster_points.iter().any(Option::is_some);
    ClusterSnapshot {
        name: cluster.to_string(),
        system,
        nodes: nodes
            .into_iter()
            .map(|(name, points)| NodeSnapshot { name, sources: vec![series(points)] })
            .collect(),
        cluster_sources: if has_cluster_data { vec![series(cluster_points)] } else { Vec::new() },
    }
}

/// One `query_range` request over `window` (at most [`MAX_POINTS`] rounds).
///
/// # Errors
/// A message naming the failure: connection, HTTP status, or the API's own error.
pub async fn query_range(
    client: &reqwest::Client,
    cluster: &str,
    system: System,
    cfg: &PrometheusConfig,
    catalog: &Catalog,
    window: RangeWindow,
    credentials: Option<&super::auth::Credentials>,
) -> Result<ClusterSnapshot, String> {
    let RangeWindow { start_ms, step_ms, rounds } = window;
    let end_ms = start_ms + (rounds.max(1) as i64 - 1) * step_ms;
    let query = query_for(system, catalog, &cfg.selector);
    let url = format!("{}/api/v1/query_range", cfg.url.trim_end_matches('/'));
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    let resp = super::auth::apply(client.post(&url), credentials)
        .form(&[
            ("query", query.as_str()),
            ("start", &secs(start_ms)),
            ("end", &secs(end_ms)),
            ("step", &secs(step_ms)),
        ])
        .send()
        .await
        .map_err(super::describe)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(super::describe)?;
    if !status.is_success() && status.as_u16() != 400 && status.as_u16() != 422 {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let source = super::redact(&cfg.url);
    to_snapshot(&body, cluster, system, catalog, cfg, window, &source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PrometheusConfig {
        PrometheusConfig {
            url: "http://p:9090".into(),
            selector: String::new(),
            node_label: "instance".into(),
            range: "2m".into(),
            step: "1m".into(),
        }
    }

    fn win(start_ms: i64, step_ms: i64, rounds: usize) -> RangeWindow {
        RangeWindow { start_ms, step_ms, rounds }
    }

    #[test]
    fn query_names_every_catalogue_metric_of_the_system_and_the_selector() {
        let q = query_for(System::Kafka, Catalog::builtin(), "job=\"kafka\"");
        assert!(q.starts_with("{__name__=~\""), "{q}");
        assert!(q.contains("kafka_server_replicamanager_underreplicatedpartitions"), "{q}");
        assert!(q.contains("node_cpu_seconds_total"), "{q}");
        assert!(!q.contains("cassandra_"), "{q}");
        assert!(q.ends_with(",job=\"kafka\"}"), "{q}");
    }

    #[test]
    fn matrix_becomes_rounds_by_node_with_cluster_series_apart() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"kafka_server_replicamanager_leadercount","instance":"10.0.0.1:7071","job":"kafka"},
             "values":[[60,"30"],[120,"31"],[180,"32"]]},
            {"metric":{"__name__":"node_memory_MemTotal_bytes","instance":"10.0.0.1:9100"},
             "values":[[120,"8e9"]]},
            {"metric":{"__name__":"kafka_consumergroup_lag_sum","instance":"exp:9308","consumergroup":"g"},
             "values":[[60,"5"],[180,"+Inf"]]}]}}"#;
        let snap = to_snapshot(
            body,
            "k",
            System::Kafka,
            Catalog::builtin(),
            &cfg(),
            win(60_000, 60_000, 3),
            "p",
        )
        .unwrap();
        assert_eq!(snap.nodes.len(), 1, "JMX and node_exporter of one host are one node");
        let node = &snap.nodes[0];
        assert_eq!(node.name, "10.0.0.1");
        let r1 = node.sources[0].at(1).unwrap();
        assert_eq!(r1.timestamp_ms, 120_000);
        assert_eq!(r1.samples.len(), 2);
        assert!(node.sources[0].at(2).unwrap().samples.len() == 1);
        let cluster = &snap.cluster_sources[0];
        assert!(cluster.at(1).is_none());
        assert_eq!(cluster.at(2).unwrap().samples[0].value, f64::INFINITY);
    }

    #[test]
    fn api_errors_are_reported_with_their_type() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        let err = to_snapshot(
            body,
            "k",
            System::Kafka,
            Catalog::builtin(),
            &cfg(),
            win(0, 60_000, 3),
            "p",
        )
        .unwrap_err();
        assert_eq!(err, "bad_data: parse error at char 3");
        assert!(
            to_snapshot(
                b"<html>",
                "k",
                System::Kafka,
                Catalog::builtin(),
                &cfg(),
                win(0, 1, 1),
                "p"
            )
            .is_err()
        );
    }

    #[test]
    fn ports_are_stripped_from_instances_but_not_from_bare_ipv6() {
        assert_eq!(strip_port("db1:7070"), "db1");
        assert_eq!(strip_port("[::1]:9100"), "[::1]");
        assert_eq!(strip_port("fe80::1"), "fe80::1");
        assert_eq!(strip_port("db1"), "db1");
    }

    #[test]
    fn long_ranges_are_cut_under_the_point_limit_and_joined_back_in_order() {
        let w = win(1_000, 10, 25);
        let parts = chunks(w, 10);
        assert_eq!(parts.iter().map(|p| p.rounds).collect::<Vec<_>>(), vec![10, 10, 5]);
        assert_eq!(parts[1].start_ms, 1_100);
        assert_eq!(parts[2].start_ms, 1_200);
        assert!(chunks(win(0, 1, 11_000), MAX_POINTS).len() == 1);
        let point = |t: i64| {
            Some(Point { timestamp_ms: t, samples: vec![Sample::new("x", vec![], t as f64)] })
        };
        let part = |node: &str, w: RangeWindow| ClusterSnapshot {
            name: "k".into(),
            system: System::Kafka,
            nodes: vec![NodeSnapshot {
                name: node.into(),
                sources: vec![SourceSeries {
                    source: "p".into(),
                    points: (0..w.rounds)
                        .map(|k| point(w.start_ms + k as i64 * w.step_ms))
                        .collect(),
                }],
            }],
            cluster_sources: Vec::new(),
        };
        let snaps = vec![part("a", parts[0]), part("a", parts[1]), part("b", parts[2])];
        let joined = join("k", System::Kafka, &snaps, &parts);
        assert_eq!(joined.nodes.len(), 2);
        let a = &joined.nodes[0].sources[0];
        assert_eq!(a.points.len(), 25);
        assert_eq!(a.at(19).unwrap().timestamp_ms, 1_190);
        assert!(a.at(20).is_none(), "a has no data in the last part");
        assert_eq!(joined.nodes[1].sources[0].at(24).unwrap().timestamp_ms, 1_240);
        assert!(joined.nodes[1].sources[0].at(0).is_none());
    }
}
