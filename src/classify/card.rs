//! Training from a dataset directory, held-out evaluation, and the model card (`MODEL.md`).
//!
//! The card is deterministic (no timings, no dates): `opsadvisor eval` recomputes it from
//! the model and the dataset, and must print the very text `train` wrote.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::ClassifyError;
use super::baseline;
use super::classes::ClassBook;
use super::dataset::{Dataset, SPLITS};
use super::inputs;
use super::metrics::{self, Report};
use super::model::{Algo, Model, Params, TrainSet};
use super::schema::FeatureSchema;
use super::tree::TreeParams;
use crate::System;
use crate::analyzers::rules::RuleSet;
use crate::features::catalog::Catalog;

/// Quality bar: macro-F1 on held-out seeds.
pub const BAR_SEEDS: f64 = 0.95;
/// Quality bar: macro-F1 on held-out hardware.
pub const BAR_HARDWARE: f64 = 0.90;

/// The evaluation of one held-out split.
#[derive(Debug, Clone, Serialize)]
pub struct SplitEval {
    /// Split name.
    pub split: String,
    /// The model's scores.
    pub model: Report,
    /// The rules-only baseline's scores.
    pub rules: Report,
    /// Rows whose truth is a compound label.
    pub compound_rows: usize,
    /// Exact-match accuracy of the model on those rows.
    pub compound_model: f64,
    /// Exact-match accuracy of the rules on those rows.
    pub compound_rules: f64,
}

/// Hyperparameters for [`train`].
#[derive(Debug, Clone)]
pub enum Hyper {
    /// Exactly these.
    Fixed(Params),
    /// The best of these by validation inside the training split (seed and profile folds).
    Select(Vec<Params>),
}

/// Trains `algo` on the `train` split of `d`, reading the features [`inputs`] selects, with
/// fixed hyperparameters or the best of several by validation inside the training split:
/// leave one seed out and leave one hardware profile out (see [`select`], [`candidates`]).
///
/// # Errors
/// The dataset has features the catalogue does not define, or no usable rows.
pub fn train(
    d: &Dataset,
    system: System,
    algo: Algo,
    hyper: Hyper,
    data_hash: &str,
    catalog: &Catalog,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Model, ClassifyError> {
    let names = inputs::select(&d.features);
    let schema = FeatureSchema::current(catalog, system, &names).map_err(|unknown| {
        ClassifyError::Data(format!(
            "features not in this build's catalogue: {} (regenerate the dataset)",
            unknown.join(", ")
        ))
    })?;
    let train = project(&d.split(SPLITS[0]), &names);
    if train.is_empty() {
        return Err(ClassifyError::Data(format!(
            "no `{}` rows for {}",
            SPLITS[0],
            system.as_str()
        )));
    }
    let classes: Vec<String> = train.class_counts().into_keys().collect();
    let y_of = |d: &Dataset| -> Vec<u16> {
        d.labels.iter().map(|l| classes.binary_search(l).unwrap_or(0) as u16).collect()
    };
    let (params, selection) = match hyper {
        Hyper::Select(candidates) => {
            select(&train, &classes, &y_of, system, algo, &schema, candidates)?
        }
        Hyper::Fixed(params) => (params, Vec::new()),
    };
    let y = y_of(&train);
    let mut model = Model::fit(
        system,
        algo,
        schema,
        &TrainSet { columns: &train.columns, y: &y, classes: &classes },
        params,
        data_hash.to_owned(),
        progress,
    )?;
    model.selection = selection;
    Ok(model)
}

/// `d` with only the features `names` (which it has), in that order.
fn project(d: &Dataset, names: &[String]) -> Dataset {
    let columns = names
        .iter()
        .filter_map(|n| d.features.iter().position(|f| f == n))
        .map(|i| d.columns[i].clone())
        .collect();
    Dataset { features: names.to_vec(), columns, ..d.clone() }
}

/// The hyperparameters to try for `algo` with `p` features, simplest first (ties go to the
/// first): depth and leaf size for a tree, features per split and leaf size for a forest.
pub fn candidates(algo: Algo, p: usize) -> Vec<Params> {
    let base = Params::default_for(algo, p);
    match algo {
        Algo::Tree => {
            let mut out = Vec::new();
            for max_depth in [6, 10, 16] {
                for min_samples_leaf in [8, 3, 1] {
                    let tree = TreeParams { max_depth, min_samples_leaf, ..base.tree };
                    out.push(Params { tree, ..base });
                }
            }
            out
        }
        Algo::Forest => {
            let sqrt = ((p as f64).sqrt().round() as usize).max(1);
            let mut ks = vec![sqrt, (p / 3).max(1), (p / 2).max(1)];
            ks.dedup();
            let mut out = Vec::new();
            for k in ks {
                for min_samples_leaf in [3, 1] {
                    let tree = TreeParams { max_features: Some(k), min_samples_leaf, ..base.tree };
                    out.push(Params { tree, ..base });
                }
            }
            out
        }
    }
}

/// The kinds of validation fold [`select`] scores a candidate on, inside the training split:
/// each stands for one held-out split of the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FoldKind {
    /// One training seed held out in turn: unseen instances of every fault (`heldout_seeds`).
    Seed,
    /// One training hardware profile held out in turn: node sizes the fit never saw
    /// (`heldout_hardware`). Without these folds nothing in the selection rewards a model
    /// that generalises across sizes, and the held-out hardware split is the one that suffers.
    Profile,
}

/// The validation folds of `train`: one per training seed and one per training profile,
/// each as (kind, rows fitted, rows scored). A kind with fewer than two groups gives no fold.
fn folds(train: &Dataset) -> Vec<(FoldKind, Dataset, Dataset)> {
    let mut seeds = train.seed.clone();
    seeds.sort_unstable();
    seeds.dedup();
    let mut profiles = train.profile.clone();
    profiles.sort_unstable();
    profiles.dedup();
    let mut out = Vec::new();
    if seeds.len() >= 2 {
        for &held in &seeds {
            out.push((
                FoldKind::Seed,
                train.select(|i| train.seed[i] != held),
                train.select(|i| train.seed[i] == held),
            ));
        }
    }
    if profiles.len() >= 2 {
        for held in &profiles {
            out.push((
                FoldKind::Profile,
                train.select(|i| &train.profile[i] != held),
                train.select(|i| &train.profile[i] == held),
            ));
        }
    }
    out
}

/// Picks the candidate with the best validation score inside the training split, so the
/// held-out splits are never looked at. Each candidate is fitted on all training rows but
/// one group and scored (macro-F1) on that group, for every training seed and every
/// training hardware profile in turn ([`FoldKind`]); its score is the mean of the seed
/// folds' mean and the profile folds' mean, as the quality bar asks for both.
fn select(
    train: &Dataset,
    classes: &[String],
    y_of: &dyn Fn(&Dataset) -> Vec<u16>,
    system: System,
    algo: Algo,
    schema: &FeatureSchema,
    candidates: Vec<Params>,
) -> Result<(Params, Vec<(String, f64)>), ClassifyError> {
    let Some(mut best) = candidates.first().copied() else {
        return Err(ClassifyError::Data("no hyperparameter candidates".into()));
    };
    let folds: Vec<(FoldKind, Dataset, Vec<u16>, Dataset)> = folds(train)
        .into_iter()
        .map(|(kind, fit_part, val_part)| {
            let y = y_of(&fit_part);
            (kind, fit_part, y, val_part)
        })
        .collect();
    if folds.is_empty() || candidates.len() == 1 {
        return Ok((best, Vec::new()));
    }
    let mut best_f1 = f64::NEG_INFINITY;
    let mut scores = Vec::new();
    for c in candidates {
        let mut sums = [(0.0f64, 0usize); 2];
        for (kind, fit_part, y, val_part) in &folds {
            let m = Model::fit(
                system,
                algo,
                schema.clone(),
                &TrainSet { columns: &fit_part.columns, y, classes },
                c,
                String::new(),
                &|_, _| {},
            )?;
            let f1 = metrics::evaluate(&val_part.labels, &predict_labels(&m, val_part)).macro_f1;
            let s = &mut sums[*kind as usize];
            s.0 += f1;
            s.1 += 1;
        }
        let means: Vec<f64> = sums.iter().filter(|s| s.1 > 0).map(|s| s.0 / s.1 as f64).collect();
        let f1 = means.iter().sum::<f64>() / means.len() as f64;
        let what = match algo {
            Algo::Tree => {
                format!(
                    "max_depth {} min_samples_leaf {}",
                    c.tree.max_depth, c.tree.min_samples_leaf
                )
            }
            Algo::Forest => format!(
                "max_features {} min_samples_leaf {}",
                c.tree.max_features.unwrap_or(0),
                c.tree.min_samples_leaf
            ),
        };
        let detail = [(FoldKind::Seed, "seeds"), (FoldKind::Profile, "profiles")]
            .iter()
            .filter(|(k, _)| sums[*k as usize].1 > 0)
            .map(|(k, name)| {
                let s = sums[*k as usize];
                format!("{name} {:.3}", s.0 / s.1 as f64)
            })
            .collect::<Vec<_>>()
            .join(", ");
        scores.push((format!("{what} ({detail})"), f1));
        if f1 > best_f1 + 1e-9 {
            best_f1 = f1;
            best = c;
        }
    }
    Ok((best, scores))
}

/// The model's columns for `d`: its schema's features, in order (NaN where `d` lacks one).
pub fn model_columns(model: &Model, d: &Dataset) -> Vec<Vec<f64>> {
    model
        .schema
        .features
        .iter()
        .map(|f| match d.features.iter().position(|x| x == f) {
            Some(i) => d.columns[i].clone(),
            None => vec![f64::NAN; d.len()],
        })
        .collect()
}

/// Predicted labels of every row of `d`.
pub fn predict_labels(model: &Model, d: &Dataset) -> Vec<String> {
    let cols = model_columns(model, d);
    model.predict(&cols).into_iter().map(|c| model.classes[c].clone()).collect()
}

/// Evaluates `model` and the rules on each held-out split of `d`.
///
/// # Errors
/// A polars error in the rules baseline (a bug).
pub fn evaluate(
    model: &Model,
    d: &Dataset,
    catalog: &Catalog,
) -> Result<Vec<SplitEval>, ClassifyError> {
    let book = ClassBook::builtin().map_err(ClassifyError::Data)?;
    let rules = RuleSet::builtin(catalog);
    let mut out = Vec::new();
    // The held-out splits present: a simulated dataset's in their usual order, any other
    // (a Prometheus history's `heldout_time`) in order of appearance.
    let mut splits: Vec<&str> = SPLITS[1..].to_vec();
    for s in &d.split {
        if s != SPLITS[0] && !splits.contains(&s.as_str()) {
            splits.push(s);
        }
    }
    for split in &splits {
        let part = d.split(split);
        if part.is_empty() {
            continue;
        }
        let predicted = predict_labels(model, &part);
        let by_rules = baseline::predict(&part, &rules.rules, &book)?;
        let compound: Vec<usize> =
            (0..part.len()).filter(|&i| part.labels[i].contains('+')).collect();
        let acc = |p: &[String]| {
            if compound.is_empty() {
                0.0
            } else {
                compound.iter().filter(|&&i| p[i] == part.labels[i]).count() as f64
                    / compound.len() as f64
            }
        };
        out.push(SplitEval {
            split: (*split).to_owned(),
            model: metrics::evaluate(&part.labels, &predicted),
            rules: metrics::evaluate(&part.labels, &by_rules),
            compound_rows: compound.len(),
            compound_model: acc(&predicted),
            compound_rules: acc(&by_rules),
        });
    }
    Ok(out)
}

/// `MODEL.md` of a model trained on a simulated dataset directory.
pub fn render(
    model: &Model,
    evals: &[SplitEval],
    dataset_dir: &Path,
    train_counts: &[(String, usize)],
) -> String {
    let provenance = format!(
        "Generated by `opsadvisor train --system {} --dataset {} --algo {}`; \
         `opsadvisor eval --model <this dir> --dataset {}` recomputes every number below.",
        model.system.as_str(),
        dataset_dir.display(),
        model.algo.as_str(),
        dataset_dir.display()
    );
    render_with(model, evals, &provenance, train_counts)
}

/// `MODEL.md`, with `provenance` saying how the model was made and how to recompute the card.
/// The quality bar applies to the simulated held-out splits; a card without them (a model
/// trained on the user's own incidents) has its held-out scores but no bar.
pub fn render_with(
    model: &Model,
    evals: &[SplitEval],
    provenance: &str,
    train_counts: &[(String, usize)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Model card: {} {} classifier\n\n{provenance}\n",
        model.system.as_str(),
        model.algo.as_str(),
    );
    s.push_str("## What it is\n\n");
    let _ = writeln!(
        s,
        "- learner: {} (histogram CART, Gini; opsadvisor's own, see README), {} tree(s), {} nodes, max depth {}",
        match model.algo {
            Algo::Tree => "one decision tree",
            Algo::Forest => "random forest (bootstrap, √p features per split)",
        },
        model.trees.len(),
        model.nodes(),
        model.trees.iter().map(super::tree::Tree::depth).max().unwrap_or(0)
    );
    let _ = writeln!(
        s,
        "- hyperparameters: trees {}, max_depth {}, min_samples_leaf {}, max_features {}, bootstrap {}, seed {}",
        model.params.trees,
        model.params.tree.max_depth,
        model.params.tree.min_samples_leaf,
        model.params.tree.max_features.map_or("all".to_owned(), |m| m.to_string()),
        model.params.bootstrap,
        model.params.seed
    );
    if !model.selection.is_empty() {
        let _ = writeln!(
            s,
            "- chosen by validation inside the training split, never on the held-out splits (macro-F1 with each training seed held out in turn, and with each training hardware profile held out in turn; score: the mean of the two means): {}",
            model
                .selection
                .iter()
                .map(|(w, f)| format!("{w}: {f:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(s, "- training data hash (FNV-1a of dataset.parquet): `{}`", model.data_hash);
    let _ = writeln!(
        s,
        "- feature schema: version {}, hash `{}`, {} features: {}",
        model.schema.version,
        model.schema.hash,
        model.schema.features.len(),
        model.schema.features.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(s, "- classes ({}), with training rows:\n", model.classes.len());
    for (c, n) in train_counts {
        let _ = writeln!(s, "  - `{c}`: {n}");
    }
    let get = |split: &str| evals.iter().find(|e| e.split == split);
    if get("heldout_seeds").is_some() || get("heldout_hardware").is_some() {
        quality_bar(&mut s, evals);
    }
    for e in evals {
        let _ = writeln!(s, "\n## Held-out split `{}`\n\n### This model\n", e.split);
        s.push_str(&e.model.to_markdown());
        s.push_str("\n### Rules only (the shipped rules, conditions without `for`)\n\n");
        s.push_str(&e.rules.to_markdown());
    }
    s
}

/// The quality-bar table of a model trained on the simulated dataset.
fn quality_bar(s: &mut String, evals: &[SplitEval]) {
    let get = |split: &str| evals.iter().find(|e| e.split == split);
    s.push_str("\n## Quality bar\n\n");
    let mut bar = Vec::new();
    if let Some(e) = get("heldout_seeds") {
        bar.push(("macro-F1 on held-out seeds", e.model.macro_f1, BAR_SEEDS));
    }
    if let Some(e) = get("heldout_hardware") {
        bar.push(("macro-F1 on held-out hardware", e.model.macro_f1, BAR_HARDWARE));
    }
    s.push_str("| criterion | value | bar | met |\n|---|---|---|---|\n");
    for (what, v, b) in bar {
        let _ = writeln!(
            *s,
            "| {what} | {v:.3} | ≥ {b:.2} | {} |",
            if v >= b { "yes" } else { "**no**" }
        );
    }
    for e in evals.iter().filter(|e| e.compound_rows > 0) {
        let _ = writeln!(
            *s,
            "| compound faults, exact match, {} ({} rows): model vs rules | {:.3} vs {:.3} | model ≥ rules | {} |",
            e.split,
            e.compound_rows,
            e.compound_model,
            e.compound_rules,
            if e.compound_model >= e.compound_rules { "yes" } else { "**no**" }
        );
    }
    s.push_str("\nThe tree-vs-forest comparison on compound faults is in `models/README.md`.\n");
}
