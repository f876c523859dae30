//! Capacity planning: forecasts of disk, CPU, heap, shards, partitions and throughput per
//! node, and findings that say when each system's real limit is reached, how sure that is,
//! what happens then, and what to add before then.
//!
//! Input is the feature frames of every round opsadvisor holds, oldest first (a recorded or
//! Prometheus history followed by the live scrapes); nothing here does I/O. A forecast needs
//! at least [`MIN_SPAN_MS`] of history and never looks further ahead than
//! [`MAX_EXTRAPOLATION`] times the history it has: a few minutes of scrapes say nothing
//! about next month.

pub mod forecast;
pub mod limits;
pub mod retention;

use crate::System;
use crate::features::RoundFrames;
use crate::findings::{Category, Evidence, Finding, Impact, Severity, fingerprint};
use forecast::{Model, Prediction, Series};
use limits::{CapacityConfig, Limit, Metric, Settings};
use serde::Serialize;
use std::collections::BTreeMap;

const DAY_MS: i64 = 86_400_000;

/// History needed before anything is forecast.
pub const MIN_SPAN_MS: i64 = DAY_MS;

/// The furthest a forecast looks, as a multiple of the history it was fitted on.
pub const MAX_EXTRAPOLATION: i64 = 10;

/// Every check id the capacity analyzer reports (for `disabled_checks` and snoozes).
pub const CHECK_IDS: &[&str] = &[
    "capacity_es_disk_low_watermark",
    "capacity_es_disk_high_watermark",
    "capacity_es_disk_flood_stage",
    "capacity_es_shards_per_node",
    "capacity_cassandra_compaction_headroom",
    "capacity_kafka_disk",
    "capacity_kafka_partitions_per_broker",
    "capacity_heap",
    "capacity_cpu",
    "capacity_network",
    "capacity_kafka_retention",
    "capacity_nodes_needed",
];

/// Points of a forecast path (and of the threshold search).
const PATH_POINTS: usize = 240;

/// Points of history kept for a chart.
const CHART_HISTORY_POINTS: usize = 400;

/// What the capacity analyzer concluded.
#[derive(Debug, Clone, Default)]
pub struct Capacity {
    /// Findings (`analyzer: "capacity"`).
    pub findings: Vec<Finding>,
    /// One chart per forecast, for the HTML report.
    pub charts: Vec<Chart>,
}

/// One forecast, ready to plot.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    /// System of the node.
    pub system: System,
    /// Cluster.
    pub cluster: String,
    /// Node.
    pub node: String,
    /// What is forecast.
    pub metric: Metric,
    /// History (downsampled), `(ms, value)`.
    pub history: Vec<(i64, f64)>,
    /// The forecast path with its 80 % interval.
    pub forecast: Vec<ChartPoint>,
    /// Limits and when the forecast reaches each.
    pub thresholds: Vec<ChartThreshold>,
    /// Fingerprints of the findings this chart supports.
    pub findings: Vec<String>,
}

/// One point of a forecast path.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChartPoint {
    /// Time, ms.
    pub t_ms: i64,
    /// Point forecast.
    pub mean: f64,
    /// Lower bound of the 80 % interval.
    pub lo: f64,
    /// Upper bound of the 80 % interval.
    pub hi: f64,
}

impl From<Prediction> for ChartPoint {
    fn from(p: Prediction) -> Self {
        ChartPoint { t_ms: p.t_ms, mean: p.mean, lo: p.lo, hi: p.hi }
    }
}

/// A limit drawn on a chart.
#[derive(Debug, Clone, Serialize)]
pub struct ChartThreshold {
    /// E.g. "90% high watermark".
    pub label: String,
    /// The value.
    pub value: f64,
    /// When the point forecast reaches it, if within the horizon.
    pub crossing_ms: Option<i64>,
    /// Whether the series is past it already.
    pub passed: bool,
}

type Key = (System, String, String);

#[derive(Default)]
struct Collected {
    series: BTreeMap<(Key, Metric), Vec<(i64, f64)>>,
    settings: BTreeMap<(System, String), Settings>,
    /// The latest data-disk size of each node.
    disk_size: BTreeMap<Key, f64>,
    /// The latest retention facts of each Kafka broker, by feature column.
    kafka: BTreeMap<Key, BTreeMap<&'static str, f64>>,
}

/// Feature columns read for Kafka retention (see [`retention`]).
const RETENTION_COLUMNS: [&str; 5] = [
    "cfg_server_properties_read",
    "cfg_log_retention_seconds",
    "cfg_log_retention_bytes",
    "partition_count",
    "leader_count",
];

fn collect(rounds: &[RoundFrames]) -> Collected {
    let mut out = Collected::default();
    for frames in rounds {
        for frame in frames {
            let (Some(clusters), Some(nodes), Some(ts)) = (
                frame.str_column("cluster"),
                frame.str_column("node"),
                frame.f64_column("timestamp_ms"),
            ) else {
                continue;
            };
            for metric in Metric::ALL {
                let Some(values) = frame.f64_column(metric.column()) else { continue };
                for i in 0..values.len() {
                    if let (Some(v), Some(Some(t))) = (values[i], ts.get(i)) {
                        let key = (frame.system, clusters[i].clone(), nodes[i].clone());
                        out.series.entry((key, metric)).or_default().push((*t as i64, v));
                    }
                }
            }
            let col = |name: &str| frame.f64_column(name);
            let level_cols: Vec<[Option<Vec<Option<f64>>>; 4]> = limits::WATERMARK_LEVELS
                .iter()
                .map(|(level, _)| {
                    [
                        col(&format!("es_watermark_{level}_ratio")),
                        col(&format!("es_watermark_{level}_bytes")),
                        col(&format!("es_watermark_{level}_max_headroom_bytes")),
                        col(&format!("es_watermark_{level}_layer")),
                    ]
                })
                .collect();
            let max_shards = col("es_max_shards_per_node");
            let disk_size = col("data_disk_size_bytes");
            let kafka_cols: Vec<Option<Vec<Option<f64>>>> =
                RETENTION_COLUMNS.iter().map(|c| col(c)).collect();
            let at = |c: &Option<Vec<Option<f64>>>, i: usize| {
                c.as_ref().and_then(|c| c.get(i).copied().flatten())
            };
            for (i, cluster) in clusters.iter().enumerate() {
                let s = out.settings.entry((frame.system, cluster.clone())).or_default();
                for (w, [ratio, bytes, headroom, layer]) in
                    s.es_watermarks.iter_mut().zip(&level_cols)
                {
                    // A round that reports the watermark replaces it whole: a setting changed
                    // from a size to a percentage must not keep the old size.
                    if at(ratio, i).is_some() || at(bytes, i).is_some() {
                        *w = limits::Watermark {
                            ratio: at(ratio, i),
                            free_bytes: at(bytes, i),
                            max_headroom_bytes: at(headroom, i),
                            layer: at(layer, i),
                        };
                    }
                }
                if let Some(v) = at(&max_shards, i) {
                    s.es_max_shards_per_node = Some(v);
                }
                if let Some(v) = at(&disk_size, i) {
                    out.disk_size.insert((frame.system, cluster.clone(), nodes[i].clone()), v);
                }
                if frame.system == System::Kafka {
                    let key = (frame.system, cluster.clone(), nodes[i].clone());
                    for (name, c) in RETENTION_COLUMNS.iter().zip(&kafka_cols) {
                        if let Some(v) = at(c, i) {
                            out.kafka.entry(key.clone()).or_default().insert(name, v);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Each Kafka broker's retention, from its server.properties facts (none when the file was
/// not read), its produce rate over the last day and the cluster's replicas per led
/// partition; with the broker count that fits every broker's steady state.
fn kafka_retention(
    c: &Collected,
    config: &BTreeMap<String, CapacityConfig>,
) -> BTreeMap<Key, retention::Retention> {
    let default = CapacityConfig::default();
    let mut out = BTreeMap::new();
    let mut replication: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (key, facts) in &c.kafka {
        let r = replication.entry(key.1.as_str()).or_default();
        r.0 += facts.get("partition_count").copied().unwrap_or(0.0);
        r.1 += facts.get("leader_count").copied().unwrap_or(0.0);
    }
    for (key, facts) in &c.kafka {
        let read = facts.get("cfg_server_properties_read").is_some_and(|v| *v > 0.0);
        let time = facts.get("cfg_log_retention_seconds").copied();
        let bytes = facts.get("cfg_log_retention_bytes").copied();
        if !read && time.is_none() && bytes.is_none() {
            continue; // nothing known about retention
        }
        let Some(points) = c.series.get(&(key.clone(), Metric::BytesIn)) else { continue };
        let Some(last) = points.iter().map(|p| p.0).max() else { continue };
        // Retention holds whole days, so the daily mean (cycle included) is what accumulates.
        let day: Vec<f64> = points
            .iter()
            .filter(|p| p.0 > last - DAY_MS)
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .collect();
        if day.is_empty() {
            continue;
        }
        let bytes_in = day.iter().sum::<f64>() / day.len() as f64;
        let (parts, leaders) = replication.get(key.1.as_str()).copied().unwrap_or_default();
        let replication = if leaders > 0.0 && parts >= leaders { parts / leaders } else { 1.0 };
        let (retention_s, default_time) = match time {
            Some(t) if t > 0.0 => (Some(t), false),
            Some(_) => (None, false), // -1: no time limit
            None => (Some(retention::DEFAULT_RETENTION_S), true),
        };
        out.insert(
            key.clone(),
            retention::Retention {
                retention_s,
                default_time,
                retention_bytes: bytes.filter(|b| *b > 0.0),
                partitions: facts.get("partition_count").copied().unwrap_or(0.0),
                write_bytes_per_s: bytes_in * replication,
                replication,
                brokers_needed: None,
            },
        );
    }
    // Brokers needed: every broker's steady state, summed, over what one broker may hold.
    let mut clusters: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    for (key, r) in &out {
        let target = config.get(&key.1).unwrap_or(&default).target_disk;
        let (Some(steady), Some(disk)) = (r.steady_bytes(), c.disk_size.get(key)) else {
            continue;
        };
        let e = clusters.entry(key.1.clone()).or_default();
        e.0 += steady;
        e.1 += target * disk;
        e.2 += 1;
    }
    let brokers = |cluster: &str| c.kafka.keys().filter(|k| k.1 == cluster).count();
    for (key, r) in out.iter_mut() {
        if let Some((steady, capacity, n)) = clusters.get(&key.1) {
            let per_broker = capacity / *n as f64;
            let needed = (steady / per_broker).ceil() as usize;
            let have = brokers(&key.1);
            if needed > have {
                r.brokers_needed = Some((needed, have));
            }
        }
    }
    out
}

/// One fitted forecast and what it reaches.
struct Fitted {
    key: Key,
    metric: Metric,
    model: Model,
    horizon_ms: i64,
    path: Vec<Prediction>,
    history: Vec<(i64, f64)>,
    current: f64,
}

/// Forecasts every node's series in `rounds` and reports the limits they reach within each
/// cluster's horizon. `config` gives a cluster's settings (defaults when absent).
pub fn analyze(rounds: &[RoundFrames], config: &BTreeMap<String, CapacityConfig>) -> Capacity {
    let collected = collect(rounds);
    let default = CapacityConfig::default();
    let kafka_retention = kafka_retention(&collected, config);
    let mut fitted = Vec::new();
    for ((key, metric), mut points) in collected.series {
        points.sort_by_key(|p| p.0);
        let cfg = config.get(&key.1).unwrap_or(&default);
        let points = if metric == Metric::Heap { trailing_min(points, DAY_MS) } else { points };
        let Ok(series) = Series::regular(&points, None) else { continue };
        let span = series.end_ms() - series.start_ms;
        if span < MIN_SPAN_MS {
            continue;
        }
        let horizon_ms = ((cfg.horizon_days * DAY_MS as f64) as i64).min(span * MAX_EXTRAPOLATION);
        let Ok(model) = Model::fit(series) else { continue };
        let path = model.path(horizon_ms, PATH_POINTS);
        let values = &model.series().values;
        let mut tail: Vec<f64> = values[values.len().saturating_sub(3)..].to_vec();
        let current = forecast::median(&mut tail);
        let every = points.len().div_ceil(CHART_HISTORY_POINTS).max(1);
        let history = points.iter().step_by(every).copied().collect();
        fitted.push(Fitted { key, metric, model, horizon_ms, path, history, current });
    }

    let mut out = Capacity::default();
    for f in &fitted {
        let (system, cluster, node) = &f.key;
        let cfg = config.get(cluster).unwrap_or(&default);
        let mut settings =
            collected.settings.get(&(*system, cluster.clone())).copied().unwrap_or_default();
        settings.disk_size_bytes = collected.disk_size.get(&f.key).copied();
        settings.kafka_retention = kafka_retention.get(&f.key).copied();
        let mut lims: Vec<Limit> = limits::limits(*system, cfg, settings)
            .into_iter()
            .filter(|l| l.metric == f.metric)
            .collect();
        lims.sort_by(|a, b| a.value.total_cmp(&b.value));
        let mut chart = Chart {
            system: *system,
            cluster: cluster.clone(),
            node: node.clone(),
            metric: f.metric,
            history: f.history.clone(),
            forecast: f.path.iter().copied().map(ChartPoint::from).collect(),
            thresholds: Vec::new(),
            findings: Vec::new(),
        };
        let mut reported = false;
        for limit in &lims {
            let passed = f.current >= limit.value;
            let crossing = if passed { None } else { crossing(&f.path, limit.value) };
            chart.thresholds.push(ChartThreshold {
                label: limit.name.clone(),
                value: limit.value,
                crossing_ms: crossing.map(|c| c.0),
                passed,
            });
            if reported || passed {
                continue; // past it already (the rules report that), or a nearer one is reported
            }
            if let Some(c) = crossing {
                let finding = node_finding(f, limit, c, cfg, &fitted);
                chart.findings.push(finding.fingerprint.clone());
                out.findings.push(finding);
                reported = true;
            }
        }
        out.charts.push(chart);
    }
    // A broker whose retention does not fit reaches the disk threshold for that reason: the
    // retention finding says so and what to change, the plain disk forecast would repeat it.
    let retention_nodes: Vec<(String, Option<String>)> = out
        .findings
        .iter()
        .filter(|f| f.id == "capacity_kafka_retention")
        .map(|f| (f.cluster.clone(), f.node.clone()))
        .collect();
    let (kept, repeated): (Vec<Finding>, Vec<Finding>) =
        std::mem::take(&mut out.findings).into_iter().partition(|f| {
            f.id != "capacity_kafka_disk"
                || !retention_nodes.contains(&(f.cluster.clone(), f.node.clone()))
        });
    out.findings = kept;
    for chart in &mut out.charts {
        chart.findings.retain(|fp| repeated.iter().all(|f| &f.fingerprint != fp));
    }
    out.findings.extend(node_count_findings(&fitted, config));
    out
}

/// Each point replaced by the minimum over the `window_ms` before it: the heap floor that
/// garbage collection cannot free (the live set). Raw heap use is a sawtooth whose old-gen
/// ramps last hours; forecasting it would extrapolate a ramp that the next collection ends.
fn trailing_min(mut points: Vec<(i64, f64)>, window_ms: i64) -> Vec<(i64, f64)> {
    points.sort_by_key(|p| p.0);
    let mut out = Vec::with_capacity(points.len());
    let mut window: std::collections::VecDeque<(i64, f64)> = std::collections::VecDeque::new();
    for &(t, v) in &points {
        // Monotone deque: values increase from front to back.
        while window.back().is_some_and(|b| b.1 >= v) {
            window.pop_back();
        }
        window.push_back((t, v));
        while window.front().is_some_and(|f| f.0 <= t - window_ms) {
            window.pop_front();
        }
        out.push((t, window.front().map_or(v, |f| f.1)));
    }
    out
}

/// When the point forecast reaches `threshold`: (time, earliest by the upper band, latest by
/// the lower band or `None` if it stays below within the horizon).
fn crossing(path: &[Prediction], threshold: f64) -> Option<(i64, i64, Option<i64>)> {
    let mid = path.iter().find(|p| p.mean >= threshold)?.t_ms;
    let early = path.iter().find(|p| p.hi >= threshold).map_or(mid, |p| p.t_ms);
    let late = path.iter().find(|p| p.lo >= threshold).map(|p| p.t_ms);
    Some((mid, early, late))
}

pub use crate::clock::date;

fn days(ms: i64) -> f64 {
    ms as f64 / DAY_MS as f64
}

fn fmt_value(metric: Metric, v: f64) -> String {
    if metric.is_bytes() {
        format!("{:.1} GiB", v / 1_073_741_824.0)
    } else if metric.is_ratio() {
        format!("{:.1}%", v * 100.0)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_rate(metric: Metric, per_day: f64) -> String {
    if metric.is_bytes() {
        format!("{:+.1} GiB/day", per_day / 1_073_741_824.0)
    } else if metric.is_ratio() {
        format!("{:+.2} points/day", per_day * 100.0)
    } else {
        format!("{per_day:+.1}/day")
    }
}

/// How sure a crossing date is, from the width of its interval relative to its distance.
fn confidence(now: i64, mid: i64, early: i64, late: Option<i64>) -> &'static str {
    let Some(late) = late else { return "low" };
    let width = (late - early) as f64;
    let dist = (mid - now).max(DAY_MS) as f64;
    if width <= 0.3 * dist {
        "high"
    } else if width <= 0.8 * dist {
        "medium"
    } else {
        "low"
    }
}

fn node_finding(
    f: &Fitted,
    limit: &Limit,
    (mid, early, late): (i64, i64, Option<i64>),
    cfg: &CapacityConfig,
    all: &[Fitted],
) -> Finding {
    let (system, cluster, node) = &f.key;
    let now = f.model.series().end_ms();
    let in_days = days(mid - now);
    let severity = if in_days <= 7.0 {
        Severity::Critical
    } else if in_days <= 30.0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    let conf = confidence(now, mid, early, late);
    let latest = late.map_or_else(|| "after the horizon".to_string(), date);
    let history_days = days(now - f.model.series().start_ms);
    let symptom = format!(
        "{node} {} reaches the {} in {:.0} days, on {} (confidence {conf}: 80% interval {} to {latest}); {} now. Then {}.",
        f.metric.label(),
        limit.name,
        in_days.max(0.0),
        date(mid),
        date(early),
        fmt_value(f.metric, f.current),
        limit.consequence,
    );
    let mut cause = format!(
        "Trend {} over {:.1} days of history{}.",
        fmt_rate(f.metric, f.model.slope_per_day()),
        history_days,
        if f.model.has_daily_cycle() { ", with a daily cycle" } else { "" }
    );
    if let Some(basis) = &limit.basis {
        cause.push_str(&format!(" Threshold: {basis}."));
    }
    let mut action = format!("Before {}: {}.", date(early), limit.action);
    if let Some(target) = limits::node_count_target(*system, cfg, f.metric) {
        let (peak_sum, n) = cluster_peak(all, *system, cluster, f.metric, now + 30 * DAY_MS);
        if n > 0 && peak_sum <= target * n as f64 {
            action.push_str(&format!(
                " The cluster as a whole has room ({} of {n} nodes' {} at the 30-day peak, under {}): moving load off {node} is enough, no node needs adding yet.",
                fmt_value(f.metric, peak_sum / n as f64),
                f.metric.label(),
                fmt_value(f.metric, target)
            ));
        }
    }
    let impact = match f.metric {
        Metric::Cpu | Metric::Heap | Metric::Network => vec![Impact::Performance],
        _ => vec![Impact::Availability],
    };
    Finding {
        fingerprint: fingerprint(limit.id, *system, cluster, Some(node)),
        id: limit.id.to_string(),
        system: *system,
        cluster: cluster.clone(),
        node: Some(node.clone()),
        category: Category::Capacity,
        severity,
        impact,
        analyzer: "capacity".into(),
        symptom,
        cause,
        resources: vec![format!("node:{node}")],
        evidence: vec![
            Evidence {
                feature: format!("forecast of {} on {}", f.metric.column(), date(mid)),
                value: f.path.iter().find(|p| p.t_ms == mid).map(|p| p.mean),
                op: ">=".into(),
                threshold: Some(limit.value),
            },
            Evidence {
                feature: "days_until".into(),
                value: Some((in_days * 10.0).round() / 10.0),
                op: "<=".into(),
                threshold: Some(days(f.horizon_ms).round()),
            },
        ],
        action,
        docs_url: limit.docs_url.to_string(),
        advises: Vec::new(),
    }
}

/// Sum over a cluster's nodes of the forecast peak of `metric` up to `until_ms`, and the
/// number of nodes summed.
fn cluster_peak(
    all: &[Fitted],
    system: System,
    cluster: &str,
    metric: Metric,
    until_ms: i64,
) -> (f64, usize) {
    let nodes: Vec<&Fitted> = all
        .iter()
        .filter(|f| f.key.0 == system && f.key.1 == cluster && f.metric == metric)
        .collect();
    let sum = nodes
        .iter()
        .map(|f| {
            f.path.iter().filter(|p| p.t_ms <= until_ms).map(|p| p.mean).fold(f.current, f64::max)
        })
        .sum();
    (sum, nodes.len())
}

/// Per cluster and metric with a utilization target: the node count that keeps the forecast
/// peak under the target through the horizon, when it is more than the cluster has.
fn node_count_findings(all: &[Fitted], config: &BTreeMap<String, CapacityConfig>) -> Vec<Finding> {
    let default = CapacityConfig::default();
    let mut groups: BTreeMap<(System, String, Metric), Vec<&Fitted>> = BTreeMap::new();
    for f in all {
        groups.entry((f.key.0, f.key.1.clone(), f.metric)).or_default().push(f);
    }
    let mut out = Vec::new();
    for ((system, cluster, metric), nodes) in groups {
        let cfg = config.get(&cluster).unwrap_or(&default);
        let Some(target) = limits::node_count_target(system, cfg, metric) else { continue };
        let n = nodes.len();
        let horizon = nodes.iter().map(|f| f.horizon_ms).min().unwrap_or(0);
        let now = nodes.iter().map(|f| f.model.series().end_ms()).max().unwrap_or(0);
        let until = now + horizon;
        let (peak, _) = cluster_peak(all, system, &cluster, metric, until);
        let needed = (peak / target).ceil() as usize;
        if n == 0 || needed <= n {
            continue;
        }
        // When the cluster total first exceeds what the current nodes hold at the target.
        let steps = nodes.iter().map(|f| f.path.len()).min().unwrap_or(0);
        let crossing = (0..steps)
            .find(|&k| nodes.iter().map(|f| f.path[k].mean).sum::<f64>() > target * n as f64)
            .map_or(now, |k| nodes[0].path[k].t_ms);
        let add = needed - n;
        let in_days = days(crossing - now).max(0.0);
        let severity = if in_days <= 7.0 {
            Severity::Critical
        } else if in_days <= 30.0 {
            Severity::Warning
        } else {
            Severity::Info
        };
        let what = if system == System::Kafka { "broker" } else { "node" };
        out.push(Finding {
            fingerprint: fingerprint("capacity_nodes_needed", system, &cluster, None),
            id: "capacity_nodes_needed".into(),
            system,
            cluster: cluster.clone(),
            node: None,
            category: Category::Capacity,
            severity,
            impact: vec![Impact::Cost, Impact::Availability],
            analyzer: "capacity".into(),
            symptom: format!(
                "{cluster} needs {needed} {what}s ({n} now) to keep peak {} under {} through {}: the forecast peak totals {} of one {what}'s capacity; the current {what}s are past the target on {}.",
                metric.label(),
                fmt_value(metric, target),
                date(until),
                fmt_value(metric, peak),
                date(crossing)
            ),
            cause: format!(
                "Summed forecasts of the {n} {what}s' {}, at the target utilization (Cruise Control's capacity threshold).",
                metric.label()
            ),
            resources: vec![format!("cluster:{cluster}")],
            evidence: vec![Evidence {
                feature: format!("sum({})", metric.column()),
                value: Some(peak),
                op: ">".into(),
                threshold: Some(target * n as f64),
            }],
            action: format!("Add {add} {what}{} before {}.", if add == 1 { "" } else { "s" }, date(crossing)),
            docs_url: "https://github.com/linkedin/cruise-control/wiki/Configurations".into(),
            advises: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests;
