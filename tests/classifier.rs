//! Classifiers end to end: datasets come from the in-process simulator, the shipped models
//! meet their quality bar on the shipped held-out data, `advise` reports what the model
//! recognises, and a model whose feature schema does not match is refused while advise goes
//! on with the rules.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::PathBuf;

use opsadvisor::System;
use opsadvisor::classify::card;
use opsadvisor::classify::dataset::{self, DatasetSpec};
use opsadvisor::classify::io;
use opsadvisor::classify::model::{Algo, Model};
use opsadvisor::classify::store::Classifiers;
use opsadvisor::features::catalog::Catalog;
use opsadvisor::findings::{Finding, Severity};
use opsadvisor::pipeline;
use opsadvisor::simulate::{Fault, HardwareProfile};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn shipped(system: System, algo: Algo) -> Model {
    let path = repo(&format!("models/{}/{}/model.json", system.as_str(), algo.as_str()));
    Model::from_json(&std::fs::read_to_string(&path).unwrap(), &path.display().to_string()).unwrap()
}

#[test]
fn a_tiny_dataset_labels_the_faulty_windows_and_keeps_the_splits_apart() {
    let mut spec = DatasetSpec::new(1.0, 5);
    spec.systems = vec![System::Kafka];
    spec.profiles = vec![HardwareProfile::small()];
    spec.train_seeds = 2;
    spec.heldout_profiles = vec![dataset::heldout_profiles().remove(0)];
    spec.compound = false;
    spec.only = vec![Fault::ConsumerLagGrowth];
    let sets = dataset::generate(&spec, Catalog::builtin(), &|_, _| {}).unwrap();
    let d = &sets[0];
    assert_eq!(d.system, Some(System::Kafka));
    for split in dataset::SPLITS {
        let counts = d.split(split).class_counts();
        assert!(counts.get("healthy").copied().unwrap_or(0) > 0, "{split}: {counts:?}");
        assert!(counts.get("consumer_lag_growth").copied().unwrap_or(0) > 0, "{split}: {counts:?}");
    }
    let hw = d.split("heldout_hardware");
    let profiles: std::collections::BTreeSet<&str> =
        hw.profile.iter().map(String::as_str).collect();
    assert_eq!(profiles.into_iter().collect::<Vec<_>>(), vec!["compact"]);
    // The features are the frame advise computes: consumer lag grows only where labelled.
    let growth = d.features.iter().position(|f| f == "consumer_lag_growth_per_second").unwrap();
    for i in 0..d.len() {
        let v = d.columns[growth][i];
        if d.labels[i] == "consumer_lag_growth" {
            assert!(v > 10.0, "row {i}: lag growth {v}");
        } else {
            assert!(v.is_nan() || v <= 10.0, "healthy row {i}: lag growth {v}");
        }
    }
}

/// The shipped dataset of `system`, when the repository has it.
fn shipped_dataset(system: System) -> (opsadvisor::classify::dataset::Dataset, String) {
    io::read_dir(&repo("datasets/sim"), system).unwrap()
}

/// Held-out evaluations of a shipped model, and its card as `eval` renders it.
fn evaluate_shipped(system: System, algo: Algo) -> (Vec<card::SplitEval>, String) {
    let (d, hash) = shipped_dataset(system);
    let model = shipped(system, algo);
    assert_eq!(model.data_hash, hash, "{system:?} {algo:?} was trained on another dataset");
    let evals = card::evaluate(&model, &d, Catalog::builtin()).unwrap();
    let counts: Vec<(String, usize)> = d.split("train").class_counts().into_iter().collect();
    let text = card::render(&model, &evals, std::path::Path::new("datasets/sim"), &counts);
    (evals, text)
}

#[test]
fn shipped_forests_meet_the_quality_bar_and_beat_the_rules_on_compound_faults() {
    for system in System::ALL {
        let (evals, _) = evaluate_shipped(system, Algo::Forest);
        let seeds = evals.iter().find(|e| e.split == "heldout_seeds").unwrap();
        let hw = evals.iter().find(|e| e.split == "heldout_hardware").unwrap();
        assert!(seeds.model.macro_f1 >= card::BAR_SEEDS, "{system:?}: {}", seeds.model.macro_f1);
        assert!(hw.model.macro_f1 >= card::BAR_HARDWARE, "{system:?}: {}", hw.model.macro_f1);
        for e in &evals {
            assert!(
                e.compound_rows > 0 && e.compound_model >= e.compound_rules,
                "{system:?} {}",
                e.split
            );
        }
    }
}

#[test]
fn shipped_model_cards_are_what_eval_recomputes() {
    // A stale MODEL.md (model or dataset changed without retraining) fails here.
    for system in System::ALL {
        for algo in [Algo::Tree, Algo::Forest] {
            let (_, text) = evaluate_shipped(system, algo);
            let path = repo(&format!("models/{}/{}/MODEL.md", system.as_str(), algo.as_str()));
            let committed = std::fs::read_to_string(&path).unwrap();
            assert!(
                committed == text,
                "{} is stale: retrain (see models/README.md)",
                path.display()
            );
        }
    }
}

#[test]
fn shipped_models_load_with_a_matching_schema() {
    let c = Classifiers::builtin(Catalog::builtin());
    assert!(c.refused.is_empty(), "{:?}", c.refused);
    assert_eq!(c.models.len(), 3);
}

async fn advise(classifiers: &Classifiers) -> Vec<Finding> {
    let (_server, config) = common::cassandra_sim(Some(Fault::CompactionBacklog)).await;
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    pipeline::advise_with(&config, &rules, classifiers).await.unwrap().findings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advise_reports_the_class_with_probability_explanation_and_action() {
    let c = Classifiers::builtin(Catalog::builtin());
    let findings = advise(&c).await;
    let f = findings.iter().find(|f| f.analyzer == "classifier").expect("a classifier finding");
    assert_eq!(f.id, "classifier_compaction_backlog", "{findings:#?}");
    assert_eq!(f.node.as_deref(), Some("cass-2"));
    assert!(f.symptom.contains("compaction_backlog") && f.symptom.contains('%'), "{}", f.symptom);
    assert!(f.cause.starts_with("features that contributed most: "), "{}", f.cause);
    assert!(f.action.contains("concurrent_compactors"), "{}", f.action);
    assert!(!f.evidence.is_empty());
    // Nothing about the healthy nodes at warning or above.
    assert!(
        findings
            .iter()
            .filter(|f| f.analyzer == "classifier")
            .all(|f| f.node.as_deref() == Some("cass-2") || f.severity == Severity::Info)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_with_another_feature_schema_is_refused_and_rules_still_run() {
    let mut model = shipped(System::Cassandra, Algo::Forest);
    model.schema.hash = "0123456789abcdef".into();
    let mut c = Classifiers::none();
    c.offer("models/cassandra/forest/model.json", model, Catalog::builtin());
    assert!(c.models.is_empty());
    assert_eq!(c.refused.len(), 1);
    let why = &c.refused[0];
    assert!(
        why.contains("models/cassandra/forest/model.json: refused, feature schema hash 0123456789abcdef differs")
            && why.ends_with("cassandra is advised by rules alone"),
        "{why}"
    );
    let findings = advise(&c).await;
    assert!(findings.iter().any(|f| f.id == "cassandra_compaction_backlog"), "{findings:#?}");
    assert!(findings.iter().all(|f| f.analyzer != "classifier"));
}

#[test]
fn the_tree_explains_a_finding_with_its_decision_path_in_words() {
    use opsadvisor::analyzers::classifier::classify;
    use opsadvisor::classify::classes::ClassBook;
    let (d, _) = shipped_dataset(System::Cassandra);
    let tree = shipped(System::Cassandra, Algo::Tree);
    // A held-out gc_pressure window, as a one-row frame.
    let i = (0..d.len())
        .find(|&i| d.labels[i] == "gc_pressure" && d.split[i] == "heldout_seeds")
        .unwrap();
    let row = d.select(|j| j == i);
    let mut cols = vec![
        polars::prelude::Column::new("cluster".into(), row.cluster.clone()),
        polars::prelude::Column::new("node".into(), row.node.clone()),
    ];
    for (name, v) in row.features.iter().zip(&row.columns) {
        cols.push(polars::prelude::Column::new(name.as_str().into(), v.clone()));
    }
    let frame = opsadvisor::features::FeatureFrame {
        system: System::Cassandra,
        df: polars::prelude::DataFrame::new_infer_height(cols).unwrap(),
    };
    let mut c = Classifiers::none();
    c.offer("tree", tree, Catalog::builtin());
    let found = classify(&[frame], &c, &ClassBook::builtin().unwrap());
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.id, "classifier_gc_pressure");
    // "decision path: heap_used_ratio 0.93 > 0.8 and ..."
    assert!(f.cause.starts_with("decision path: "), "{}", f.cause);
    assert!(f.cause.contains(" > ") || f.cause.contains(" <= "), "{}", f.cause);
    for e in &f.evidence {
        assert!(f.cause.contains(&e.feature), "{} not in {}", e.feature, f.cause);
    }
}
