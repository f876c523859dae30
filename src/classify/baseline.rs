//! The rules-only baseline of the model cards: what the shipped rules conclude on the same
//! held-out windows, mapped to classes through `classes.yaml`'s `rules:` lists.
//!
//! Each window's conditions are evaluated on its own frame, without `for` (a window is one
//! moment). A rule of a class that labels a whole cluster predicts that class for every node
//! of the window's cluster; other rules predict for the node they fire on. A row with no
//! rule of any class is `healthy`; with several classes, their ids joined by `+`.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::{Column, DataFrame};

use super::ClassifyError;
use super::classes::ClassBook;
use super::dataset::{Dataset, HEALTHY};
use crate::analyzers::rules::{self, Rule};
use crate::features::FeatureFrame;

/// The rules' label for every row of `d`.
///
/// # Errors
/// A polars error evaluating the rules (a bug).
pub fn predict(
    d: &Dataset,
    rules: &[Rule],
    book: &ClassBook,
) -> Result<Vec<String>, ClassifyError> {
    let Some(system) = d.system else { return Ok(vec![HEALTHY.into(); d.len()]) };
    // One frame for every window: each (cluster, time) is its own "cluster", so the rules'
    // cluster aggregates only see the nodes of that window.
    let key: Vec<String> =
        (0..d.len()).map(|i| format!("{}@{}", d.cluster[i], d.timestamp_ms[i])).collect();
    let mut cols = vec![
        Column::new("cluster".into(), key.clone()),
        Column::new("node".into(), d.node.clone()),
        Column::new("timestamp_ms".into(), d.timestamp_ms.clone()),
    ];
    for (name, values) in d.features.iter().zip(&d.columns) {
        let v: Vec<Option<f64>> = values.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
        cols.push(Column::new(name.as_str().into(), v));
    }
    // Features the catalogue gained after the dataset was made are absent, as on a node
    // that does not export them: null columns, so rules that mention them still compile.
    let missing: Vec<&str> = crate::features::catalog::Catalog::builtin()
        .columns(system)
        .filter(|c| !d.features.iter().any(|f| f == c))
        .collect();
    for name in missing {
        cols.push(Column::new(name.into(), vec![None::<f64>; d.len()]));
    }
    let frame = FeatureFrame { system, df: DataFrame::new_infer_height(cols)? };
    // Only rules that map to a class can vote; the others may read features the dataset
    // predates (configuration facts), so they are not evaluated at all.
    let rules: Vec<Rule> =
        rules.iter().filter(|r| book.classes_of_rule(&r.id).next().is_some()).cloned().collect();
    let matches = rules::evaluate(&rules, &frame)?;
    let mut per_row: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut per_cluster: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in matches {
        for class in book.classes_of_rule(&rules[m.rule].id) {
            if book.whole_cluster(class) {
                per_cluster.entry(m.cluster.clone()).or_default().insert(class.to_owned());
            } else if let Some(node) = &m.node {
                per_row
                    .entry((m.cluster.clone(), node.clone()))
                    .or_default()
                    .insert(class.to_owned());
            }
        }
    }
    Ok((0..d.len())
        .map(|i| {
            let mut set: BTreeSet<String> =
                per_row.get(&(key[i].clone(), d.node[i].clone())).cloned().unwrap_or_default();
            set.extend(per_cluster.get(&key[i]).cloned().unwrap_or_default());
            if set.is_empty() {
                HEALTHY.to_owned()
            } else {
                set.into_iter().collect::<Vec<_>>().join("+")
            }
        })
        .collect())
}
