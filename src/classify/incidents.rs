//! Training on the user's own incidents: `opsadvisor train --prometheus URL --labels
//! incidents.csv`.
//!
//! The history comes from the Prometheus that already scrapes the clusters, through the
//! same `query_range` source `advise` uses ([`crate::sources::prometheus`]), cut into
//! requests under Prometheus's 11,000-points limit. It is then cut into windows of
//! [`WINDOW_SCRAPES`] steps and every window goes through [`dataset::window_frames`], the
//! code path of `simulate --dataset`, so a model trained here reads the very features
//! `advise` computes and loads with `advise --models DIR`.
//!
//! Labels: a window of a node takes the label of the incident that covers it entirely, and
//! is `healthy` when no incident touches it. A window that an incident covers only in part
//! (the incident began or ended inside it) is dropped: neither label is true of it, as the
//! simulated dataset drops windows while a fault develops.
//!
//! Evaluation is by time, never shuffled: windows that end before 75 % of the range train
//! the model, windows that start after it are the held-out split `heldout_time`, and windows
//! across the cut are dropped so no overlapping window leaks into the held-out part.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::ClassifyError;
use super::card::{self, SplitEval};
use super::dataset::{self, Dataset, HEALTHY, SPLITS, WINDOW_SCRAPES};
use super::io;
use super::model::{Algo, Model, Params};
use crate::System;
use crate::features::catalog::Catalog;
use crate::simulate::Fault;
use crate::snapshot::{ClusterSnapshot, NodeSnapshot, Snapshot, SourceSeries};
use crate::sources::prometheus::{self, PrometheusConfig, RangeWindow};

/// The name of the held-out split of a Prometheus history.
pub const HELDOUT_TIME: &str = "heldout_time";
/// Share of the time range used for training; the rest is held out.
pub const TRAIN_SHARE: f64 = 0.75;
/// The columns of `incidents.csv`, in order.
pub const CSV_COLUMNS: [&str; 5] = ["cluster", "node", "start", "end", "label"];

/// One labelled incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Cluster name (the value of the cluster label in Prometheus).
    pub cluster: String,
    /// Node name (the value of the node label); `None` (an empty cell) means every node.
    pub node: Option<String>,
    /// Start, Unix milliseconds.
    pub start_ms: i64,
    /// End, Unix milliseconds.
    pub end_ms: i64,
    /// Class: a fault id of the system, or two joined by `+` (normalised to sorted order).
    pub label: String,
    /// Line in the CSV file (1-based), for messages.
    pub line: usize,
}

/// Parses a time: RFC 3339 (`2026-12-01T14:00:00Z`, fractions and `+01:00` offsets
/// allowed, a space instead of `T` too) or Unix seconds (`1764597600`, `1764597600.5`).
///
/// # Errors
/// A message saying which forms are accepted.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "invalid time '{s}' (expected RFC 3339, e.g. 2026-12-01T14:00:00Z, or Unix seconds)"
        )
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = s.parse().map_err(|_| bad())?;
        return Ok((secs * 1000.0).round() as i64);
    }
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(bad)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut frac_ms = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let ms: String = f[..digits].chars().chain("000".chars()).take(3).collect();
        frac_ms = ms.parse().map_err(|_| bad())?;
        rest = &f[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let oh: i64 = o[1..3].parse().map_err(|_| bad())?;
            let om: i64 = o[4..6].parse().map_err(|_| bad())?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Ok((days * 86_400 + h * 3600 + mi * 60 + sec - offset_s) * 1000 + frac_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm, the
/// inverse of [`crate::clock::civil_date`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The classes a label may name for `system`: its fault ids.
fn faults_of(system: System) -> Vec<&'static str> {
    Fault::ALL.iter().filter(|f| f.system() == system).map(|f| f.as_str()).collect()
}

/// Parses `incidents.csv` (columns [`CSV_COLUMNS`], an optional header line, `#` comments
/// and blank lines ignored) and works out the system from the labels when `system` is not
/// given.
///
/// # Errors
/// The first bad row, as `source:line: problem`: a wrong number of columns, an unparsable
/// time, `end` before `start`, a label that is not a fault of the system, labels of two
/// systems, or two incidents overlapping on one node.
pub fn parse_incidents(
    text: &str,
    source: &str,
    system: Option<System>,
) -> Result<(System, Vec<Incident>), ClassifyError> {
    let err = |line: usize, msg: String| ClassifyError::Data(format!("{source}:{line}: {msg}"));
    let mut out: Vec<Incident> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = l.split(',').map(str::trim).collect();
        if out.is_empty() && cells.first().is_some_and(|c| c.eq_ignore_ascii_case("cluster")) {
            if cells
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .ne(CSV_COLUMNS.iter().map(|c| c.to_string()))
            {
                return Err(err(line, format!("header must be `{}`", CSV_COLUMNS.join(","))));
            }
            continue;
        }
        if cells.len() != CSV_COLUMNS.len() {
            return Err(err(
                line,
                format!(
                    "expected {} columns ({}), got {}",
                    CSV_COLUMNS.len(),
                    CSV_COLUMNS.join(","),
                    cells.len()
                ),
            ));
        }
        if cells[0].is_empty() {
            return Err(err(line, "the cluster is empty".into()));
        }
        let start_ms = parse_time(cells[2]).map_err(|e| err(line, format!("start: {e}")))?;
        let end_ms = parse_time(cells[3]).map_err(|e| err(line, format!("end: {e}")))?;
        if end_ms <= start_ms {
            return Err(err(line, format!("end {} is not after start {}", cells[3], cells[2])));
        }
        let mut parts: Vec<&str> = cells[4].split('+').map(str::trim).collect();
        parts.sort_unstable();
        parts.dedup();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(err(line, "the label is empty".into()));
        }
        out.push(Incident {
            cluster: cells[0].to_owned(),
            node: (!cells[1].is_empty()).then(|| cells[1].to_owned()),
            start_ms,
            end_ms,
            label: parts.join("+"),
            line,
        });
    }
    if out.is_empty() {
        return Err(ClassifyError::Data(format!("{source}: no incidents")));
    }
    let system = match system {
        Some(s) => s,
        None => infer_system(&out, source)?,
    };
    let known = faults_of(system);
    for inc in &out {
        for part in inc.label.split('+') {
            if !known.contains(&part) {
                return Err(err(
                    inc.line,
                    format!(
                        "unknown label `{part}` for {} (known: {})",
                        system.as_str(),
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    for (i, a) in out.iter().enumerate() {
        for b in &out[i + 1..] {
            let same_place = a.cluster == b.cluster
                && (a.node.is_none() || b.node.is_none() || a.node == b.node);
            if same_place && a.start_ms < b.end_ms && b.start_ms < a.end_ms {
                return Err(err(
                    b.line,
                    format!(
                        "overlaps the incident of line {} on {}/{} (label both faults in one row as `a+b`)",
                        a.line,
                        b.cluster,
                        b.node.as_deref().or(a.node.as_deref()).unwrap_or("every node")
                    ),
                ));
            }
        }
    }
    Ok((system, out))
}

/// The one system whose faults every label names.
fn infer_system(incidents: &[Incident], source: &str) -> Result<System, ClassifyError> {
    let mut systems = BTreeSet::new();
    for inc in incidents {
        for part in inc.label.split('+') {
            match Fault::ALL.iter().find(|f| f.as_str() == part) {
                Some(f) => {
                    systems.insert(f.system());
                }
                None => {
                    let all: Vec<&str> = Fault::ALL.iter().map(|f| f.as_str()).collect();
                    return Err(ClassifyError::Data(format!(
                        "{source}:{}: unknown label `{part}` (known: {})",
                        inc.line,
                        all.join(", ")
                    )));
                }
            }
        }
    }
    let systems: Vec<System> = systems.into_iter().collect();
    match systems.as_slice() {
        [one] => Ok(*one),
        _ => Err(ClassifyError::Data(format!(
            "{source}: labels name faults of {}; train one system at a time (--system)",
            systems.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" and ")
        ))),
    }
}

/// The label of `node` of `cluster` over the window `[from_ms, to_ms]`: the incident that
/// covers it, `healthy` if none touches it, `None` if one covers it only in part.
pub fn label_of(
    incidents: &[Incident],
    cluster: &str,
    node: &str,
    from_ms: i64,
    to_ms: i64,
) -> Option<String> {
    let mut label = None;
    for inc in incidents {
        if inc.cluster != cluster || inc.node.as_deref().is_some_and(|n| n != node) {
            continue;
        }
        if inc.end_ms < from_ms || inc.start_ms > to_ms {
            continue;
        }
        if inc.start_ms <= from_ms && to_ms <= inc.end_ms {
            label = Some(inc.label.clone());
        } else {
            return None;
        }
    }
    Some(label.unwrap_or_else(|| HEALTHY.to_owned()))
}

/// Rounds `first..first + n` of a series.
fn slice_series(s: &SourceSeries, first: usize, n: usize) -> SourceSeries {
    SourceSeries {
        source: s.source.clone(),
        points: (first..first + n).map(|k| s.points.get(k).cloned().flatten()).collect(),
    }
}

/// One window of `clusters`: the rounds `first..first + WINDOW_SCRAPES`.
fn window_snapshot(clusters: &[ClusterSnapshot], first: usize) -> Snapshot {
    let n = WINDOW_SCRAPES;
    Snapshot {
        rounds: n,
        clusters: clusters
            .iter()
            .map(|c| ClusterSnapshot {
                name: c.name.clone(),
                system: c.system,
                nodes: c
                    .nodes
                    .iter()
                    .map(|node| NodeSnapshot {
                        name: node.name.clone(),
                        sources: node.sources.iter().map(|s| slice_series(s, first, n)).collect(),
                    })
                    .collect(),
                cluster_sources: c
                    .cluster_sources
                    .iter()
                    .map(|s| slice_series(s, first, n))
                    .collect(),
            })
            .collect(),
    }
}

/// Labelled rows of a history: one window every `stride` steps, each labelled from
/// `incidents` and put in `train` (it ends before `cut_ms`) or [`HELDOUT_TIME`] (it starts
/// at or after `cut_ms`); windows across the cut or partly covered by an incident are
/// dropped.
///
/// # Errors
/// A polars error (a catalogue bug).
pub fn label_history(
    clusters: &[ClusterSnapshot],
    window: RangeWindow,
    incidents: &[Incident],
    stride: usize,
    cut_ms: i64,
    catalog: &Catalog,
) -> Result<Dataset, ClassifyError> {
    let mut out = Dataset::default();
    let stride = stride.max(1);
    let mut last = WINDOW_SCRAPES - 1;
    while last < window.rounds {
        let first = last + 1 - WINDOW_SCRAPES;
        let from_ms = window.start_ms + first as i64 * window.step_ms;
        let to_ms = window.start_ms + last as i64 * window.step_ms;
        let split = if to_ms < cut_ms {
            Some(SPLITS[0])
        } else if from_ms >= cut_ms {
            Some(HELDOUT_TIME)
        } else {
            None
        };
        if let Some(split) = split {
            let snap = window_snapshot(clusters, first);
            for frame in dataset::window_frames(&snap, catalog, window.step_ms)? {
                let cluster = frame.str_column("cluster").unwrap_or_default();
                let node = frame.str_column("node").unwrap_or_default();
                let labels: Vec<Option<String>> = cluster
                    .iter()
                    .zip(&node)
                    .map(|(c, n)| label_of(incidents, c, n, from_ms, to_ms))
                    .collect();
                out.push_frame(&frame, &labels, split, 0, "prometheus")?;
            }
        }
        last += stride;
    }
    Ok(out)
}

/// Where the history is and how to read it.
#[derive(Debug, Clone)]
pub struct HistorySpec {
    /// Base URL of the Prometheus HTTP API.
    pub url: String,
    /// Extra label matchers for every cluster's series, without braces.
    pub selector: String,
    /// The label naming a node (`instance` loses its port).
    pub node_label: String,
    /// The label naming a cluster; empty when the selector alone picks the one cluster.
    pub cluster_label: String,
    /// First step, Unix milliseconds.
    pub from_ms: i64,
    /// Last step, Unix milliseconds.
    pub to_ms: i64,
    /// Resolution.
    pub step_ms: i64,
    /// Time between two windows of a node.
    pub every_ms: i64,
}

impl HistorySpec {
    /// The steps to read: `from_ms` aligned down to the step, through `to_ms`.
    ///
    /// # Errors
    /// A step that is not positive, or a range too short for one window.
    pub fn window(&self) -> Result<RangeWindow, ClassifyError> {
        if self.step_ms <= 0 || self.every_ms <= 0 {
            return Err(ClassifyError::Data("--step and --every must be positive".into()));
        }
        let start_ms = self.from_ms - self.from_ms.rem_euclid(self.step_ms);
        let rounds = usize::try_from((self.to_ms - start_ms) / self.step_ms + 1).unwrap_or(0);
        if rounds < 2 * WINDOW_SCRAPES {
            return Err(ClassifyError::Data(format!(
                "--from..--to holds {rounds} steps of --step; at least {} are needed (two windows of {WINDOW_SCRAPES})",
                2 * WINDOW_SCRAPES
            )));
        }
        Ok(RangeWindow { start_ms, step_ms: self.step_ms, rounds })
    }

    fn config_for(&self, cluster: &str) -> PrometheusConfig {
        let mut selector = self.selector.trim().to_owned();
        if !self.cluster_label.is_empty() {
            if !selector.is_empty() {
                selector.push(',');
            }
            let value = cluster.replace('\\', "\\\\").replace('"', "\\\"");
            selector.push_str(&format!("{}=\"{value}\"", self.cluster_label));
        }
        PrometheusConfig {
            url: self.url.clone(),
            selector,
            node_label: self.node_label.clone(),
            range: "10m".into(),
            step: "30s".into(),
        }
    }
}

/// Reads the history of every cluster the incidents name.
///
/// # Errors
/// [`ClassifyError::Source`] naming the cluster and what Prometheus answered.
pub async fn pull(
    client: &reqwest::Client,
    credentials: Option<&crate::sources::auth::Credentials>,
    spec: &HistorySpec,
    system: System,
    incidents: &[Incident],
    catalog: &Catalog,
) -> Result<Vec<ClusterSnapshot>, ClassifyError> {
    let window = spec.window()?;
    let clusters: BTreeSet<&str> = incidents.iter().map(|i| i.cluster.as_str()).collect();
    if spec.cluster_label.is_empty() && clusters.len() > 1 {
        return Err(ClassifyError::Data(format!(
            "incidents name {} clusters but --cluster-label is empty: Prometheus series cannot be told apart",
            clusters.len()
        )));
    }
    let mut out = Vec::new();
    for cluster in clusters {
        let cfg = spec.config_for(cluster);
        let snap =
            prometheus::collect_range(client, cluster, system, &cfg, catalog, window, credentials)
                .await
                .map_err(|e| {
                    ClassifyError::Source(format!(
                        "{} (cluster {cluster}): {e}",
                        crate::sources::redact(&spec.url)
                    ))
                })?;
        if snap.nodes.is_empty() {
            return Err(ClassifyError::Source(format!(
                "{}: no {} series for cluster {cluster} (selector `{}`)",
                crate::sources::redact(&spec.url),
                system.as_str(),
                cfg.selector
            )));
        }
        out.push(snap);
    }
    Ok(out)
}

/// What [`train`] produced.
#[derive(Debug)]
pub struct Trained {
    /// The model.
    pub model: Model,
    /// Its held-out evaluation (`heldout_time`).
    pub evals: Vec<SplitEval>,
    /// The labelled rows.
    pub dataset: Dataset,
    /// Where `model.json` and `MODEL.md` were written.
    pub model_dir: PathBuf,
}

/// Labels `history`, writes the rows to `out/data/`, trains `algo` on the first 75 % of the
/// time, evaluates on the rest, and writes `out/<system>/<algo>/{model.json,MODEL.md}`.
///
/// # Errors
/// No labelled rows, a training part with a single class, or a file that cannot be written.
#[allow(clippy::too_many_arguments)]
pub fn train(
    history: &[ClusterSnapshot],
    spec: &HistorySpec,
    system: System,
    incidents: &[Incident],
    algo: Algo,
    out: &Path,
    command: &str,
    catalog: &Catalog,
) -> Result<Trained, ClassifyError> {
    let window = spec.window()?;
    let end_ms = window.start_ms + (window.rounds as i64 - 1) * window.step_ms;
    let cut_ms = window.start_ms + ((end_ms - window.start_ms) as f64 * TRAIN_SHARE) as i64;
    let stride = (spec.every_ms / spec.step_ms).max(1) as usize;
    let mut d = label_history(history, window, incidents, stride, cut_ms, catalog)?;
    d.system = Some(system);
    let train_part = d.split(SPLITS[0]);
    let counts = train_part.class_counts();
    if counts.len() < 2 {
        return Err(ClassifyError::Data(format!(
            "the training part (before {}) has {} rows of {}: it needs a fault and healthy windows; \
             widen --from/--to or add incidents",
            crate::clock::rfc3339_ms(cut_ms),
            train_part.len(),
            if counts.is_empty() {
                "no class".to_owned()
            } else {
                counts.keys().cloned().collect::<Vec<_>>().join(", ")
            }
        )));
    }
    let hours = (end_ms - window.start_ms) as f64 / 3_600_000.0;
    let manifest = io::write_dir(&out.join("data"), std::slice::from_ref(&d), command, 0, hours)?;
    let hash =
        manifest.systems.get(system.as_str()).map(|m| m.data_hash.clone()).unwrap_or_default();
    let params = Params::default_for(algo, d.features.len());
    let model =
        card::train(&d, system, algo, card::Hyper::Fixed(params), &hash, catalog, &|_, _| {})?;
    let evals = card::evaluate(&model, &d, catalog)?;
    let model_dir = out.join(system.as_str()).join(algo.as_str());
    std::fs::create_dir_all(&model_dir)
        .map_err(|source| ClassifyError::Io { path: model_dir.display().to_string(), source })?;
    let provenance = format!(
        "Generated by `{command}`: the history of Prometheus from {} to {} at a {} s step, \
         labelled from the incidents file; trained on the windows ending before {} and \
         evaluated on those starting after it (`{HELDOUT_TIME}`). \
         `opsadvisor eval --model <this dir> --dataset {}` recomputes the scores from the rows written there.",
        crate::clock::rfc3339_ms(window.start_ms),
        crate::clock::rfc3339_ms(end_ms),
        window.step_ms as f64 / 1000.0,
        crate::clock::rfc3339_ms(cut_ms),
        out.join("data").display()
    );
    let train_counts: Vec<(String, usize)> = counts.into_iter().collect();
    let write = |name: &str, text: String| {
        let path = model_dir.join(name);
        std::fs::write(&path, text)
            .map_err(|source| ClassifyError::Io { path: path.display().to_string(), source })
    };
    write("model.json", model.to_json())?;
    write("MODEL.md", card::render_with(&model, &evals, &provenance, &train_counts))?;
    Ok(Trained { model, evals, dataset: d, model_dir })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sample::Sample;
    use crate::snapshot::Point;

    #[test]
    fn times_parse_as_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_time("2026-12-01T14:00:00Z").unwrap(), 1_796_133_600_000);
        assert_eq!(parse_time("2026-12-01 15:00:00.25+01:00").unwrap(), 1_796_133_600_250);
        assert_eq!(parse_time("1796133600").unwrap(), 1_796_133_600_000);
        assert_eq!(parse_time("1796133600.5").unwrap(), 1_796_133_600_500);
        assert_eq!(
            crate::clock::rfc3339_ms(parse_time("2024-02-29T23:59:59Z").unwrap()),
            "2024-02-29T23:59:59.000Z"
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-12-01T00:00:00",
            "2026-12-01T00:00:00+1",
        ] {
            assert!(parse_time(bad).unwrap_err().contains("invalid time"), "{bad}");
        }
    }

    #[test]
    fn the_csv_infers_the_system_and_rejects_bad_rows_with_their_line() {
        let ok = "cluster,node,start,end,label\n# a comment\nc1,n1,100,200,gc_pressure\nc1,,300,400,compaction_backlog+gc_pressure\n";
        let (system, inc) = parse_incidents(ok, "i.csv", None).unwrap();
        assert_eq!(system, System::Cassandra);
        assert_eq!(inc.len(), 2);
        assert_eq!(inc[1].node, None);
        assert_eq!(inc[1].line, 4);
        assert_eq!(inc[0].start_ms, 100_000);
        let err =
            |text: &str, system| parse_incidents(text, "i.csv", system).unwrap_err().to_string();
        assert_eq!(
            err("c1,n1,100,200\n", None),
            "dataset: i.csv:1: expected 5 columns (cluster,node,start,end,label), got 4"
        );
        assert!(
            err("c1,n1,200,100,gc_pressure\n", None)
                .starts_with("dataset: i.csv:1: end 100 is not after start 200")
        );
        assert!(
            err("c1,n1,soon,200,gc_pressure\n", None)
                .starts_with("dataset: i.csv:1: start: invalid time 'soon'")
        );
        assert!(
            err("c1,n1,100,200,gc_pressure\nc1,n1,100,200,meteor\n", None)
                .starts_with("dataset: i.csv:2: unknown label `meteor`")
        );
        assert!(
            err("c1,n1,100,200,gc_pressure\n", Some(System::Kafka))
                .contains("i.csv:1: unknown label `gc_pressure` for kafka (known: ")
        );
        assert!(
            err("c1,n1,100,200,gc_pressure\nk,n1,100,200,consumer_lag_growth\n", None)
                .contains("labels name faults of cassandra and kafka")
        );
        assert_eq!(
            err("c1,n1,100,200,gc_pressure\nc1,,150,160,compaction_backlog\n", None),
            "dataset: i.csv:2: overlaps the incident of line 1 on c1/n1 (label both faults in one row as `a+b`)"
        );
        // Back to back, or on another node: no overlap.
        parse_incidents(
            "c1,n1,100,200,gc_pressure\nc1,n1,200,300,gc_pressure\nc1,n2,100,200,gc_pressure\n",
            "i",
            None,
        )
        .unwrap();
    }

    #[test]
    fn a_window_takes_the_label_that_covers_it_and_partial_cover_drops_it() {
        let (_, inc) =
            parse_incidents("c,n1,100,200,gc_pressure\nc,,500,600,disk_filling\n", "i", None)
                .unwrap();
        assert_eq!(label_of(&inc, "c", "n1", 120_000, 180_000).as_deref(), Some("gc_pressure"));
        assert_eq!(label_of(&inc, "c", "n2", 120_000, 180_000).as_deref(), Some("healthy"));
        assert_eq!(label_of(&inc, "c", "n1", 50_000, 150_000), None);
        assert_eq!(label_of(&inc, "c", "n1", 201_000, 400_000).as_deref(), Some("healthy"));
        assert_eq!(label_of(&inc, "c", "n9", 500_000, 600_000).as_deref(), Some("disk_filling"));
        assert_eq!(label_of(&inc, "other", "n1", 120_000, 180_000).as_deref(), Some("healthy"));
    }

    #[test]
    fn windows_are_split_by_time_and_never_straddle_the_cut() {
        // Two nodes, 30 one-minute steps of a gauge; node b is faulty from minute 10 on.
        let step = 60_000;
        let series = |v: f64| SourceSeries {
            source: "p".into(),
            points: (0..30)
                .map(|k| {
                    Some(Point {
                        timestamp_ms: k * step,
                        samples: vec![Sample::new("cassandra_compaction_pendingtasks", vec![], v)],
                    })
                })
                .collect(),
        };
        let cluster = ClusterSnapshot {
            name: "c".into(),
            system: System::Cassandra,
            nodes: vec![
                NodeSnapshot { name: "a".into(), sources: vec![series(1.0)] },
                NodeSnapshot { name: "b".into(), sources: vec![series(900.0)] },
            ],
            cluster_sources: Vec::new(),
        };
        let (_, inc) = parse_incidents("c,b,600,1800,compaction_backlog\n", "i", None).unwrap();
        let window = RangeWindow { start_ms: 0, step_ms: step, rounds: 30 };
        let cut = 20 * step;
        let d = label_history(&[cluster], window, &inc, 1, cut, Catalog::builtin()).unwrap();
        let col = d.features.iter().position(|f| f == "pending_compactions").unwrap();
        for i in 0..d.len() {
            let end = d.timestamp_ms[i];
            let start = end - (WINDOW_SCRAPES as i64 - 1) * step;
            match d.split[i].as_str() {
                "train" => assert!(end < cut),
                HELDOUT_TIME => assert!(start >= cut),
                other => panic!("split {other}"),
            }
            if d.node[i] == "a" {
                assert_eq!(d.labels[i], "healthy");
            } else if d.labels[i] == "compaction_backlog" {
                assert!(start >= 600_000 && end <= 1_800_000);
            }
            assert_eq!(d.columns[col][i], if d.node[i] == "a" { 1.0 } else { 900.0 });
        }
        // Node a: windows ending at minutes 5..=19 train, those starting at 20..=24 are held out.
        assert_eq!(d.select(|i| d.node[i] == "a" && d.split[i] == "train").len(), 15);
        assert_eq!(d.select(|i| d.node[i] == "a" && d.split[i] == HELDOUT_TIME).len(), 5);
        // Node b drops the windows that hold minute 10 but start before it.
        assert_eq!(d.select(|i| d.node[i] == "b" && d.split[i] == "train").len(), 10);
        assert!(d.labels.iter().any(|l| l == "compaction_backlog"));
    }
}
