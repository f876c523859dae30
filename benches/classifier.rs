//! Forest prediction throughput, against peers measured in the same run.
//!
//! The held-out rows of the shipped dataset (`datasets/sim`, both held-out splits, as
//! `classifier_vs_sklearn.py` and `train --report-json` use) through each system's shipped
//! forest: the flattened block walk ([`Model::predict_on`]) on one thread, what `advise` and
//! `eval` use, and on two, as [`Model::predict`] runs on two cores and scikit-learn's side of
//! `classifier_vs_sklearn.py` has `n_jobs=2`; as peers, the same trees walked row by row,
//! unflattened (`Tree::leaf`, the walk the decision path and contributions use), and the
//! shipped single tree (flattened). The target is 1 M rows/s for the forest.
//!
//!     cargo bench --bench classifier
//!
//! prints, per system and variant, the best of seven timings, the variants taking turns:
//! `system variant rows M_rows/s cpu_M_rows/s`. `M_rows/s` is by the wall clock;
//! `cpu_M_rows/s` divides by the CPU time this thread actually ran
//! (`/proc/thread-self/schedstat`), which is what "one core" means on a shared, loaded
//! machine where the wall clock also counts time spent waiting for a core (as
//! `parse_throughput` does). Before timing, the flattened walk is checked to predict exactly
//! what the unflattened one does on every row of the dataset, training rows included.

use opsadvisor::System;
use opsadvisor::classify::{card, io, model::Model};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

fn load(system: System, algo: &str) -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(system.as_str())
        .join(algo)
        .join("model.json");
    let text = std::fs::read_to_string(&path).expect("shipped model");
    Model::from_json(&text, &path.display().to_string()).expect("model")
}

/// CPU time this thread has run, from the scheduler's own accounting (seconds).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}

/// Wall and CPU seconds per pass of `f`, timed over `reps` passes.
fn time(reps: usize, f: &mut dyn FnMut()) -> (f64, f64) {
    let (t, c) = (Instant::now(), cpu_seconds());
    for _ in 0..reps {
        f();
    }
    let wall = t.elapsed().as_secs_f64() / reps as f64;
    let cpu = match (c, cpu_seconds()) {
        (Some(c0), Some(c1)) => (c1 - c0) / reps as f64,
        _ => f64::NAN,
    };
    (wall, cpu)
}

/// Timings per variant, the best of this many rounds. The variants take turns within a
/// round, so a slow spell of a shared machine falls on all of them rather than on one.
const ROUNDS: usize = 7;

fn main() {
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sim");
    println!("system\tvariant\trows\tM_rows/s\tcpu_M_rows/s");
    for system in [System::Cassandra, System::Kafka, System::Elasticsearch] {
        let (all, _) = io::read_dir(&dataset, system).expect("shipped dataset");
        let d = all.select(|i| all.split[i] != "train");
        let forest = load(system, "forest");
        let tree = load(system, "tree");
        let cols = card::model_columns(&forest, &d);
        let tree_cols = card::model_columns(&tree, &d);
        let every_row = card::model_columns(&forest, &all);
        assert_eq!(forest.predict_on(&every_row, 1), forest.predict_by_walk(&every_row));
        let n = d.len();
        let mut variants: [(&str, usize, &mut dyn FnMut()); 4] = [
            ("forest_flat_one_thread", 25, &mut || {
                black_box(forest.predict_on(black_box(&cols), 1));
            }),
            ("forest_flat_two_threads", 25, &mut || {
                black_box(forest.predict_on(black_box(&cols), 2));
            }),
            ("forest_unflattened_peer", 10, &mut || {
                black_box(forest.predict_by_walk(black_box(&cols)));
            }),
            ("tree_flat_one_thread_peer", 250, &mut || {
                black_box(tree.predict_on(black_box(&tree_cols), 1));
            }),
        ];
        let mut best = vec![(f64::MAX, f64::MAX); variants.len()];
        for _ in 0..ROUNDS {
            for ((_, reps, f), best) in variants.iter_mut().zip(&mut best) {
                let (wall, cpu) = time(*reps, &mut **f);
                *best = (best.0.min(wall), best.1.min(cpu));
            }
        }
        for ((name, _, _), (wall, cpu)) in variants.iter().zip(best) {
            // The calling thread's CPU time is half the work when a second thread helps.
            let per_cpu = if name.ends_with("two_threads") {
                "-".to_string()
            } else {
                format!("{:.3}", n as f64 / cpu / 1e6)
            };
            println!("{}\t{name}\t{n}\t{:.3}\t{per_cpu}", system.as_str(), n as f64 / wall / 1e6);
        }
    }
}
