//! Features: one polars frame per system, a row per node, a column per feature.
//!
//! [`extract`] turns a [`Snapshot`] into frames for every scrape round, reading base
//! features through the catalogue and computing derived ones (ratios, cluster skew) as
//! polars expressions. This is the only module that builds polars frames; analyzers read
//! them through [`FeatureFrame`].

pub mod catalog;
pub mod window;

use crate::System;
use crate::snapshot::{ClusterSnapshot, Snapshot};
use catalog::{Catalog, Scope};
use polars::prelude::{Column, DataFrame, IntoLazy, PolarsError};

/// The feature frame of one system at one round.
#[derive(Debug, Clone)]
pub struct FeatureFrame {
    /// The system whose nodes are the rows.
    pub system: System,
    /// Columns: `cluster`, `node`, `timestamp_ms`, `up`, then one per feature.
    pub df: DataFrame,
}

impl FeatureFrame {
    /// Number of rows (nodes).
    pub fn height(&self) -> usize {
        self.df.height()
    }

    /// A float column as options (null → `None`), or `None` if there is no such column.
    pub fn f64_column(&self, name: &str) -> Option<Vec<Option<f64>>> {
        let c = self.df.column(name).ok()?.cast(&polars::prelude::DataType::Float64).ok()?;
        Some(c.f64().ok()?.iter().map(|v| v.filter(|x| !x.is_nan())).collect())
    }

    /// A string column (cluster, node).
    pub fn str_column(&self, name: &str) -> Option<Vec<String>> {
        let c = self.df.column(name).ok()?;
        Some(c.str().ok()?.iter().map(|v| v.unwrap_or("").to_string()).collect())
    }
}

/// Frames of one round, one per system that has clusters.
pub type RoundFrames = Vec<FeatureFrame>;

/// Builds frames for every round of `snapshot`. `window_ms` bounds rate and slope lookback.
///
/// # Errors
/// Only a polars failure, which would be a bug in the catalogue's derived expressions.
pub fn extract(
    snapshot: &Snapshot,
    catalog: &Catalog,
    window_ms: i64,
) -> Result<Vec<RoundFrames>, PolarsError> {
    (0..snapshot.rounds)
        .map(|round| {
            System::ALL
                .iter()
                .filter_map(|&system| {
                    let clusters: Vec<&ClusterSnapshot> =
                        snapshot.clusters.iter().filter(|c| c.system == system).collect();
                    (!clusters.is_empty())
                        .then(|| frame(system, &clusters, catalog, round, window_ms))
                })
                .collect()
        })
        .collect()
}

/// Builds the frames of the last round of `snapshot` only: what a classifier or a dataset
/// window needs, without paying for the frames of earlier rounds.
///
/// # Errors
/// As [`extract`].
pub fn extract_last(
    snapshot: &Snapshot,
    catalog: &Catalog,
    window_ms: i64,
) -> Result<RoundFrames, PolarsError> {
    match snapshot.rounds.checked_sub(1) {
        Some(round) => extract_round(snapshot, catalog, round, window_ms),
        None => Ok(Vec::new()),
    }
}

/// Builds the frames of one round of `snapshot` only: what the daemon evaluates each cycle
/// over its rolling window, without recomputing the rounds it already evaluated.
///
/// # Errors
/// As [`extract`].
pub fn extract_round(
    snapshot: &Snapshot,
    catalog: &Catalog,
    round: usize,
    window_ms: i64,
) -> Result<RoundFrames, PolarsError> {
    System::ALL
        .iter()
        .filter_map(|&system| {
            let clusters: Vec<&ClusterSnapshot> =
                snapshot.clusters.iter().filter(|c| c.system == system).collect();
            (!clusters.is_empty()).then(|| frame(system, &clusters, catalog, round, window_ms))
        })
        .collect()
}

fn frame(
    system: System,
    clusters: &[&ClusterSnapshot],
    catalog: &Catalog,
    round: usize,
    window_ms: i64,
) -> Result<FeatureFrame, PolarsError> {
    let mut cluster_col = Vec::new();
    let mut node_col = Vec::new();
    let mut ts_col: Vec<Option<i64>> = Vec::new();
    let mut up_col = Vec::new();
    let base: Vec<_> = catalog.base.iter().filter(|f| f.systems.contains(&system)).collect();
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); base.len()];
    for cluster in clusters {
        for node in &cluster.nodes {
            cluster_col.push(cluster.name.clone());
            node_col.push(node.name.clone());
            let scraped = node.sources.iter().filter(|s| !s.is_facts());
            let points: Vec<_> = scraped.clone().filter_map(|s| s.at(round)).collect();
            let targets = scraped.count();
            ts_col.push(points.iter().map(|p| p.timestamp_ms).max());
            up_col.push(if targets == 0 { 0.0 } else { points.len() as f64 / targets as f64 });
            for (f, column) in base.iter().zip(values.iter_mut()) {
                let sources = match f.scope {
                    Scope::Node => &node.sources,
                    Scope::Cluster => &cluster.cluster_sources,
                };
                column.push(window::evaluate(f, sources, round, window_ms));
            }
        }
    }
    let mut columns = vec![
        Column::new("cluster".into(), cluster_col),
        Column::new("node".into(), node_col),
        Column::new("timestamp_ms".into(), ts_col),
        Column::new("up".into(), up_col),
    ];
    for (f, v) in base.iter().zip(values) {
        columns.push(Column::new(f.name.as_str().into(), v));
    }
    let mut lazy = DataFrame::new_infer_height(columns)?.lazy();
    for d in catalog.derived.iter().filter(|d| d.systems.contains(&system)) {
        lazy = lazy.with_column(d.expr.to_polars().alias(d.name.as_str()));
    }
    Ok(FeatureFrame { system, df: lazy.collect()? })
}

/// A frame of `rows` nodes spread over `clusters` clusters, with derived features computed:
/// the input of the rules benchmark and of tests that need a big frame without scraping.
/// Healthy rows have every base feature at 0 (nothing pending, nothing dropped); a share
/// `anomalous` of rows gets deterministic pseudo-random values in 0..1000 instead, so about
/// that share of nodes trips rules, as on a real fleet.
///
/// # Errors
/// A polars error from the derived expressions (a catalogue bug).
pub fn synthetic_frame(
    system: System,
    rows: usize,
    clusters: usize,
    anomalous: f64,
    catalog: &Catalog,
) -> Result<FeatureFrame, PolarsError> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: fast, deterministic, good enough for filler values.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let clusters = clusters.max(1);
    let mut columns = vec![
        Column::new(
            "cluster".into(),
            (0..rows).map(|i| format!("c{}", i % clusters)).collect::<Vec<_>>(),
        ),
        Column::new("node".into(), (0..rows).map(|i| format!("n{i}")).collect::<Vec<_>>()),
        Column::new("timestamp_ms".into(), vec![Some(0i64); rows]),
        Column::new("up".into(), vec![1.0f64; rows]),
    ];
    let every =
        if anomalous > 0.0 { (1.0 / anomalous).round().max(1.0) as usize } else { usize::MAX };
    for f in catalog.base.iter().filter(|f| f.systems.contains(&system)) {
        let v: Vec<Option<f64>> =
            (0..rows).map(|i| Some(if i % every == 0 { next() * 1000.0 } else { 0.0 })).collect();
        columns.push(Column::new(f.name.as_str().into(), v));
    }
    let mut lazy = DataFrame::new_infer_height(columns)?.lazy();
    for d in catalog.derived.iter().filter(|d| d.systems.contains(&system)) {
        lazy = lazy.with_column(d.expr.to_polars().alias(d.name.as_str()));
    }
    Ok(FeatureFrame { system, df: lazy.collect()? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;
    use crate::snapshot::{NodeSnapshot, Point, SourceSeries};

    fn point(t: i64, samples: Vec<Sample>) -> Option<Point> {
        Some(Point { timestamp_ms: t, samples })
    }

    #[test]
    fn frame_has_a_row_per_node_with_rates_and_derived_ratios() {
        let heap = |used: f64| {
            vec![
                Sample::new("jvm_memory_used_bytes", vec![("area".into(), "heap".into())], used),
                Sample::new("jvm_memory_max_bytes", vec![("area".into(), "heap".into())], 100.0),
                Sample::new("cassandra_compaction_pendingtasks", vec![], 7.0),
            ]
        };
        let n1 = NodeSnapshot {
            name: "n1".into(),
            sources: vec![SourceSeries {
                source: "x".into(),
                points: vec![point(0, heap(50.0)), point(60_000, heap(90.0))],
            }],
        };
        let n2 = NodeSnapshot {
            name: "n2".into(),
            sources: vec![SourceSeries { source: "y".into(), points: vec![None, None] }],
        };
        let snap = Snapshot {
            rounds: 2,
            clusters: vec![ClusterSnapshot {
                name: "c".into(),
                system: System::Cassandra,
                nodes: vec![n1, n2],
                cluster_sources: vec![],
            }],
        };
        let rounds = extract(&snap, Catalog::builtin(), 300_000).unwrap();
        let f = &rounds[1][0];
        assert_eq!(f.height(), 2);
        assert_eq!(f.f64_column("heap_used_ratio").unwrap(), vec![Some(0.9), None]);
        assert_eq!(f.f64_column("up").unwrap(), vec![Some(1.0), Some(0.0)]);
        assert_eq!(f.f64_column("pending_compactions").unwrap(), vec![Some(7.0), None]);
    }
}
