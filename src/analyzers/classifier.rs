//! Classifier findings: a trained model reads each node's features in the last round and
//! names the condition it recognises, with its probability, why (the decision path of a
//! tree, the features that contributed most to a forest's vote) and what to do (from
//! `classes.yaml`).
//!
//! A finding below [`CONFIDENT`] probability is `info`, never higher: a classifier that is
//! unsure must not page anyone. A class that labels a whole cluster (a node down, consumer
//! lag, unassigned shards…) gives one finding for the cluster, not one per node.

use std::collections::BTreeMap;

use crate::classify::classes::ClassBook;
use crate::classify::dataset::HEALTHY;
use crate::classify::model::{Algo, Model, argmax};
use crate::classify::store::Classifiers;
use crate::features::FeatureFrame;
use crate::findings::{Category, Evidence, Finding, Impact, Severity, fingerprint};

/// Probability from which a finding takes its class's severity.
pub const CONFIDENT: f64 = 0.8;
/// Probability below which nothing is reported.
pub const REPORTED: f64 = 0.5;
/// Share of the model's inputs a row must carry to be judged. A node that exports little of
/// what the model learned from (another exporter, a partial scrape) lies outside its training
/// data, where a forest can be confidently wrong: the classifier abstains, the rules still run.
pub const MIN_PRESENT: f64 = 0.5;

/// The id of a classifier finding for a label (`classifier_a` or `classifier_a_and_b`).
pub fn finding_id(label: &str) -> String {
    format!("classifier_{}", label.replace('+', "_and_"))
}

/// Findings of every model over the frames of the last round.
pub fn classify(
    frames: &[FeatureFrame],
    classifiers: &Classifiers,
    book: &ClassBook,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for frame in frames {
        if let Some(model) = classifiers.for_system(frame.system) {
            out.extend(classify_frame(frame, model, book));
        }
    }
    out
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "missing".into()
    } else if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Why the model concluded `class` for the row, in words, and as evidence.
fn explain(model: &Model, row: &dyn Fn(usize) -> f64, class: usize) -> (String, Vec<Evidence>) {
    match model.algo {
        Algo::Tree => {
            let path = model.decision_path(row);
            let words: Vec<String> = path
                .iter()
                .map(|(f, v, op, th)| {
                    if *op == "missing" || *op == "present" {
                        format!("{f} {op}")
                    } else {
                        format!("{f} {} {op} {}", fmt_num(*v), fmt_num(*th))
                    }
                })
                .collect();
            let evidence = path
                .into_iter()
                .map(|(feature, v, op, th)| Evidence {
                    feature,
                    value: (!v.is_nan()).then_some(v),
                    op: op.to_owned(),
                    threshold: (!th.is_nan()).then_some(th),
                })
                .collect();
            (format!("decision path: {}", words.join(" and ")), evidence)
        }
        Algo::Forest => {
            let top: Vec<(String, f64)> =
                model.contributions(row, class).into_iter().take(4).collect();
            let index = |name: &str| model.schema.features.iter().position(|f| f == name);
            let words: Vec<String> = top
                .iter()
                .map(|(f, c)| {
                    let v = index(f).map_or(f64::NAN, row);
                    format!("{f} = {} (+{:.2})", fmt_num(v), c)
                })
                .collect();
            let evidence = top
                .iter()
                .map(|(f, c)| {
                    let v = index(f).map_or(f64::NAN, row);
                    Evidence {
                        feature: f.clone(),
                        value: (!v.is_nan()).then_some(v),
                        op: "contributes".into(),
                        threshold: Some(*c),
                    }
                })
                .collect();
            (format!("features that contributed most: {}", words.join(", ")), evidence)
        }
    }
}

fn classify_frame(frame: &FeatureFrame, model: &Model, book: &ClassBook) -> Vec<Finding> {
    let cols: Vec<Vec<f64>> = model
        .schema
        .features
        .iter()
        .map(|f| {
            frame
                .f64_column(f)
                .map(|c| c.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
                .unwrap_or_else(|| vec![f64::NAN; frame.height()])
        })
        .collect();
    let clusters = frame.str_column("cluster").unwrap_or_default();
    let nodes = frame.str_column("node").unwrap_or_default();
    // Per (cluster, label): the best row for cluster-wide classes.
    let mut cluster_best: BTreeMap<(String, String), (f64, Finding)> = BTreeMap::new();
    let mut out = Vec::new();
    // Row `i` reads column `f` as `cols[f][i]`: the frame is column-major.
    #[allow(clippy::needless_range_loop)]
    for i in 0..frame.height() {
        let row = |f: usize| cols[f][i];
        let present = cols.iter().filter(|c| !c[i].is_nan()).count();
        if (present as f64) < MIN_PRESENT * cols.len() as f64 {
            continue;
        }
        let p = model.predict_proba(&row);
        let c = argmax(&p);
        let label = &model.classes[c];
        if label == HEALTHY || p[c] < REPORTED {
            continue;
        }
        let cluster = clusters.get(i).cloned().unwrap_or_default();
        let parts = book.parts(label);
        let whole_cluster = parts.iter().all(|(p, _)| book.whole_cluster(p));
        let node = (!whole_cluster).then(|| nodes.get(i).cloned().unwrap_or_default());
        let info: Vec<_> = parts.iter().filter_map(|(_, i)| *i).collect();
        let severity = if p[c] >= CONFIDENT {
            info.iter().map(|i| i.severity).max().unwrap_or(Severity::Info)
        } else {
            Severity::Info
        };
        let category = info.first().map_or(Category::Tuning, |i| i.category);
        let (why, evidence) = explain(model, &row, c);
        let mut probs: Vec<(usize, f64)> =
            p.iter().copied().enumerate().filter(|(_, v)| *v >= 0.05).collect();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        let probs: Vec<String> = probs
            .iter()
            .map(|(k, v)| format!("{} {:.0} %", model.classes[*k], v * 100.0))
            .collect();
        let id = finding_id(label);
        let subject = node.clone().unwrap_or_else(|| format!("cluster {cluster}"));
        let finding = Finding {
            fingerprint: fingerprint(&id, frame.system, &cluster, node.as_deref()),
            id,
            system: frame.system,
            cluster: cluster.clone(),
            node: node.clone(),
            category,
            severity,
            impact: vec![Impact::default_for(category)],
            analyzer: "classifier".into(),
            symptom: format!(
                "The {} classifier recognises {} on {subject} ({}).",
                model.algo.as_str(),
                label.replace('+', " with "),
                probs.join(", ")
            ),
            cause: why,
            resources: vec![match &node {
                Some(n) => format!("node:{n}"),
                None => format!("cluster:{cluster}"),
            }],
            evidence,
            action: info.iter().map(|i| i.action.as_str()).collect::<Vec<_>>().join(" "),
            docs_url: info.first().map(|i| i.docs_url.clone()).unwrap_or_default(),
            advises: Vec::new(),
        };
        if whole_cluster {
            let key = (cluster, label.clone());
            if cluster_best.get(&key).is_none_or(|(best, _)| p[c] > *best) {
                cluster_best.insert(key, (p[c], finding));
            }
        } else {
            out.push(finding);
        }
    }
    out.extend(cluster_best.into_values().map(|(_, f)| f));
    out
}
