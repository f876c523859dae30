//! A trained classifier: one explainable tree, or a random forest of them, with the feature
//! schema it was trained on.
//!
//! The forest is Breiman's: each tree sees a bootstrap sample and tries √p features at each
//! split; trees are grown on two threads, each seeded from the model seed and its index,
//! so a model is identical whatever the thread count. A model is refused at load when the
//! feature schema it names differs from the running catalogue's (see [`super::schema`]).

use serde::{Deserialize, Serialize};

use super::ClassifyError;
use super::flat::Flat;
use super::schema::FeatureSchema;
use super::tree::{Binned, Bins, Tree, TreeParams};
use crate::System;

/// Format marker of model files.
pub const FORMAT: &str = "opsadvisor-model/1";

/// Which learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Algo {
    /// One decision tree: its decision path is the explanation.
    Tree,
    /// A random forest: more accurate; explained by per-feature contributions.
    Forest,
}

impl Algo {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algo::Tree => "tree",
            Algo::Forest => "forest",
        }
    }
}

/// Hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Trees (1 for [`Algo::Tree`]).
    pub trees: usize,
    /// Per tree.
    pub tree: TreeParams,
    /// Whether each tree sees a bootstrap sample.
    pub bootstrap: bool,
    /// Seed of bootstrap samples and feature sampling.
    pub seed: u64,
}

impl Params {
    /// The defaults of `algo` for `n_features` features: a tree of depth ≤ 10 with leaves of
    /// ≥ 3 rows (short, readable paths); a forest of 60 fully grown trees trying √p features.
    pub fn default_for(algo: Algo, n_features: usize) -> Params {
        match algo {
            Algo::Tree => Params {
                trees: 1,
                tree: TreeParams { max_depth: 10, min_samples_leaf: 3, max_features: None },
                bootstrap: false,
                seed: 1,
            },
            Algo::Forest => Params {
                trees: 60,
                tree: TreeParams {
                    max_depth: 30,
                    min_samples_leaf: 1,
                    max_features: Some(((n_features as f64).sqrt().round() as usize).max(1)),
                },
                bootstrap: true,
                seed: 1,
            },
        }
    }
}

/// A trained model (the JSON file in `models/<system>/<algo>/model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// [`FORMAT`].
    pub format: String,
    /// The system whose frames it classifies.
    pub system: System,
    /// Which learner.
    pub algo: Algo,
    /// The features it reads, their order and definitions' hash.
    pub schema: FeatureSchema,
    /// Class labels; class `i` is column `i` of the probabilities.
    pub classes: Vec<String>,
    /// FNV-1a of the training data file.
    pub data_hash: String,
    /// Hyperparameters.
    pub params: Params,
    /// The trees.
    pub trees: Vec<Tree>,
    /// Validation macro-F1 of each hyperparameter candidate tried (empty when none were).
    #[serde(default)]
    pub selection: Vec<(String, f64)>,
    /// The trees flattened for prediction, built on first use (not part of the file).
    #[serde(skip)]
    flat: Compiled,
}

/// A lazily built [`Flat`]: a cache, so it never makes two models differ.
#[derive(Debug, Clone, Default)]
struct Compiled(std::sync::OnceLock<Flat>);

impl PartialEq for Compiled {
    fn eq(&self, _: &Compiled) -> bool {
        true
    }
}

/// Tree walks (rows × trees) below which [`Model::predict`] stays on the calling thread:
/// about a millisecond of work, where starting a thread costs tens of microseconds. Counted
/// in rows alone, a single tree on a few thousand rows went to two threads and ran at a
/// fifth of one thread's rate (the threads' start-up outweighed the walk).
const PARALLEL_FROM: usize = 1 << 16;

/// Training rows: feature columns (NaN = missing) and a class index per row.
pub struct TrainSet<'a> {
    /// One vector per feature of the schema.
    pub columns: &'a [Vec<f64>],
    /// Class index of each row.
    pub y: &'a [u16],
    /// Class labels.
    pub classes: &'a [String],
}

impl Model {
    /// Fits a model; `progress(trees_done, trees)` is called as trees finish.
    ///
    /// # Errors
    /// No rows, fewer than two classes, or columns of different lengths.
    pub fn fit(
        system: System,
        algo: Algo,
        schema: FeatureSchema,
        data: &TrainSet<'_>,
        params: Params,
        data_hash: String,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Model, ClassifyError> {
        let n = data.y.len();
        if n == 0 {
            return Err(ClassifyError::Data("no training rows".into()));
        }
        if data.classes.len() < 2 {
            return Err(ClassifyError::Data("training needs at least two classes".into()));
        }
        if data.columns.len() != schema.features.len() || data.columns.iter().any(|c| c.len() != n)
        {
            return Err(ClassifyError::Data("feature columns do not match the rows".into()));
        }
        let bins = Bins::fit(data.columns);
        let binned = bins.transform(data.columns);
        let x = Binned {
            bins: &bins,
            raw: data.columns,
            data: &binned,
            n,
            y: data.y,
            classes: data.classes.len(),
        };
        let done = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 2);
        let grow = |t: usize| -> Tree {
            let seed = params.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(t as u64);
            let mut idx: Vec<u32> = if params.bootstrap {
                use rand::{Rng, SeedableRng};
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xb007);
                (0..n).map(|_| rng.random_range(0..n as u32)).collect()
            } else {
                (0..n as u32).collect()
            };
            let tree = Tree::fit(&x, &mut idx, params.tree, seed);
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, params.trees);
            tree
        };
        let mut trees: Vec<(usize, Tree)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    let grow = &grow;
                    s.spawn(move || {
                        (k..params.trees).step_by(threads).map(|t| (t, grow(t))).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        });
        if trees.len() != params.trees {
            return Err(ClassifyError::Data("a training thread failed".into()));
        }
        trees.sort_by_key(|(t, _)| *t);
        Ok(Model {
            format: FORMAT.into(),
            system,
            algo,
            schema,
            classes: data.classes.to_vec(),
            data_hash,
            params,
            trees: trees.into_iter().map(|(_, t)| t).collect(),
            selection: Vec::new(),
            flat: Compiled::default(),
        })
    }

    /// The flattened trees (built once, on first use).
    fn flat(&self) -> &Flat {
        self.flat.0.get_or_init(|| Flat::new(&self.trees, self.classes.len()))
    }

    /// Class probabilities of one row (`row(f)` is feature `f` of the schema).
    pub fn predict_proba(&self, row: &dyn Fn(usize) -> f64) -> Vec<f64> {
        self.flat().proba(row)
    }

    /// The most probable class of every row of `columns` (one vector per feature of the
    /// schema, all of the same length), on up to two threads.
    pub fn predict(&self, columns: &[Vec<f64>]) -> Vec<usize> {
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 2);
        self.predict_on(columns, threads)
    }

    /// What [`Model::predict`] must answer, the slow way: each row walks each unflattened tree
    /// to its leaf, integer votes are summed and ties go to the first class. The reference the
    /// flattened walk is tested and benchmarked against.
    pub fn predict_by_walk(&self, columns: &[Vec<f64>]) -> Vec<usize> {
        let n = columns.first().map_or(0, Vec::len);
        let mut votes = vec![0u32; self.classes.len()];
        (0..n)
            .map(|i| {
                let row = |f: usize| columns[f][i];
                votes.iter_mut().for_each(|v| *v = 0);
                for t in &self.trees {
                    for (v, &p) in votes.iter_mut().zip(t.node_value(t.leaf(&row))) {
                        *v += u32::from(p);
                    }
                }
                let mut best = 0;
                for (c, &v) in votes.iter().enumerate() {
                    if v > votes[best] {
                        best = c;
                    }
                }
                best
            })
            .collect()
    }

    /// [`Model::predict`] on at most `threads` threads (one below [`PARALLEL_FROM`] tree
    /// walks), the calling thread taking the first share: benches measure one core with
    /// `threads = 1`.
    pub fn predict_on(&self, columns: &[Vec<f64>], threads: usize) -> Vec<usize> {
        let n = columns.first().map_or(0, Vec::len);
        let flat = self.flat();
        let mut out = vec![0usize; n];
        let walks = n.saturating_mul(self.trees.len());
        let threads = if walks < PARALLEL_FROM { 1 } else { threads.max(1) };
        let chunk = n.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let mut parts = out.chunks_mut(chunk);
            let first = parts.next();
            for (k, part) in parts.enumerate() {
                s.spawn(move || flat.predict_into(columns, (k + 1) * chunk, part));
            }
            if let Some(part) = first {
                flat.predict_into(columns, 0, part);
            }
        });
        out
    }

    /// The decision path of a single-tree model for `row`, as conditions with the row's
    /// values: `[(feature, value, op, threshold)]`, the tightest bound per feature and side.
    pub fn decision_path(
        &self,
        row: &dyn Fn(usize) -> f64,
    ) -> Vec<(String, f64, &'static str, f64)> {
        let Some(t) = self.trees.first() else { return Vec::new() };
        let path = t.path(row);
        let mut out: Vec<(String, f64, &'static str, f64)> = Vec::new();
        for w in path.windows(2) {
            let (node, next) = (w[0], w[1]);
            let f = t.feature[node] as usize;
            let name = self.schema.features.get(f).cloned().unwrap_or_default();
            let x = row(f);
            let (op, th) = if x.is_nan() {
                ("missing", f64::NAN)
            } else if t.threshold[node] == f64::MIN && next == t.right[node] as usize {
                ("present", f64::NAN)
            } else if next == t.left[node] as usize {
                ("<=", t.threshold[node])
            } else {
                (">", t.threshold[node])
            };
            match out.iter_mut().find(|c| c.0 == name && c.2 == op) {
                // Deeper splits on the same side are tighter.
                Some(c) => c.3 = th,
                None => out.push((name, x, op, th)),
            }
        }
        out
    }

    /// Per-feature contributions to class `class` for `row` (the change in the class's
    /// probability at each split on the path, averaged over trees), largest first.
    pub fn contributions(&self, row: &dyn Fn(usize) -> f64, class: usize) -> Vec<(String, f64)> {
        let mut c = vec![0.0f64; self.schema.features.len()];
        for t in &self.trees {
            let path = t.path(row);
            for w in path.windows(2) {
                let f = t.feature[w[0]] as usize;
                let d = f64::from(t.node_value(w[1])[class]) - f64::from(t.node_value(w[0])[class]);
                c[f] += d / 10_000.0;
            }
        }
        let mut out = self.positive_tree_means(c);
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }

    /// Feature importance as scikit-learn's `feature_importances_` computes it: each
    /// split's decrease in Gini impurity weighted by its training rows, summed per feature,
    /// normalised to 1 within each tree and averaged over trees. Highest first; features
    /// never split on are left out.
    pub fn importance(&self) -> Vec<(String, f64)> {
        let mut total = vec![0.0f64; self.schema.features.len()];
        for t in &self.trees {
            let gini = |i: usize| {
                1.0 - t
                    .node_value(i)
                    .iter()
                    .map(|&v| (f64::from(v) / 10_000.0).powi(2))
                    .sum::<f64>()
            };
            let weighted = |i: usize| f64::from(t.samples[i]) * gini(i);
            let mut per = vec![0.0f64; total.len()];
            for i in 0..t.len() {
                if let Ok(f) = usize::try_from(t.feature[i]) {
                    let (l, r) = (t.left[i] as usize, t.right[i] as usize);
                    per[f] += (weighted(i) - weighted(l) - weighted(r)).max(0.0);
                }
            }
            let sum: f64 = per.iter().sum();
            if sum > 0.0 {
                total.iter_mut().zip(&per).for_each(|(a, p)| *a += p / sum);
            }
        }
        let mut out = self.positive_tree_means(total);
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Per-feature sums over the trees, averaged per tree and named, keeping only features
    /// with a positive mean (in schema order).
    fn positive_tree_means(&self, sums: Vec<f64>) -> Vec<(String, f64)> {
        let n = self.trees.len().max(1) as f64;
        self.schema
            .features
            .iter()
            .cloned()
            .zip(sums.into_iter().map(|v| v / n))
            .filter(|(_, v)| *v > 0.0)
            .collect()
    }

    /// Total nodes over all trees.
    pub fn nodes(&self) -> usize {
        self.trees.iter().map(Tree::len).sum()
    }

    /// Parses a model file's text; `source` names it in errors.
    ///
    /// # Errors
    /// Not JSON, another format, or inconsistent arrays.
    pub fn from_json(text: &str, source: &str) -> Result<Model, ClassifyError> {
        let m: Model = serde_json::from_str(text)
            .map_err(|e| ClassifyError::Model(format!("{source}: not a model file: {e}")))?;
        if m.format != FORMAT {
            return Err(ClassifyError::Model(format!(
                "{source}: format `{}`, expected `{FORMAT}`",
                m.format
            )));
        }
        let k = m.classes.len();
        let nf = m.schema.features.len() as i32;
        for t in &m.trees {
            let n = t.feature.len();
            let ok = n > 0
                && t.classes == k
                && [t.threshold.len(), t.left.len(), t.right.len(), t.samples.len()]
                    .iter()
                    .all(|&l| l == n)
                && t.value.len() == n * k
                && (0..n).all(|i| {
                    t.feature[i] < nf
                        && (t.feature[i] < 0
                            || ((t.left[i] as usize) < n
                                && (t.right[i] as usize) < n
                                && t.left[i] as usize > i
                                && t.right[i] as usize > i))
                });
            if !ok {
                return Err(ClassifyError::Model(format!("{source}: a tree is malformed")));
            }
        }
        if m.trees.is_empty() {
            return Err(ClassifyError::Model(format!("{source}: no trees")));
        }
        Ok(m)
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Index of the largest value (first on ties).
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Three classes on two informative features and one noise feature, with some missing.
    fn data(n: usize) -> (Vec<Vec<f64>>, Vec<u16>) {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut noise = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let u = ((i * 7919) % 1000) as f64 / 1000.0;
            let v = ((i * 104_729) % 997) as f64 / 997.0;
            a.push(if i % 17 == 0 { f64::NAN } else { u });
            b.push(v);
            noise.push(((i * 31) % 13) as f64);
            y.push(if u > 0.7 {
                1
            } else if v > 0.6 {
                2
            } else {
                0
            });
        }
        (vec![a, b, noise], y)
    }

    fn schema() -> FeatureSchema {
        FeatureSchema {
            version: 1,
            hash: "x".into(),
            features: vec!["a".into(), "b".into(), "n".into()],
        }
    }

    fn fit(algo: Algo, n: usize) -> Model {
        let (cols, y) = data(n);
        let classes = vec!["healthy".to_owned(), "hot".into(), "full".into()];
        let set = TrainSet { columns: &cols, y: &y, classes: &classes };
        Model::fit(
            System::Kafka,
            algo,
            schema(),
            &set,
            Params::default_for(algo, 3),
            "h".into(),
            &|_, _| {},
        )
        .unwrap()
    }

    #[test]
    fn tree_and_forest_learn_held_out_rows() {
        let (cols, y) = data(3000);
        for algo in [Algo::Tree, Algo::Forest] {
            let m = fit(algo, 2000);
            let test: Vec<Vec<f64>> = cols.iter().map(|c| c[2000..].to_vec()).collect();
            let pred = m.predict(&test);
            let right = pred.iter().zip(&y[2000..]).filter(|(p, t)| **p == **t as usize).count();
            assert!(right as f64 / 1000.0 > 0.93, "{algo:?}: {right}/1000");
        }
    }

    #[test]
    fn models_round_trip_through_json_and_predict_the_same() {
        let m = fit(Algo::Forest, 500);
        let back = Model::from_json(&m.to_json(), "test").unwrap();
        // serde_json parses some floats one ulp off (exact parsing is its `float_roundtrip`
        // feature): thresholds are midpoints between data values, so that never moves a row.
        let mut exact = back.clone();
        for (t, o) in exact.trees.iter_mut().zip(&m.trees) {
            for (a, b) in t.threshold.iter_mut().zip(&o.threshold) {
                assert!((*a - *b).abs() <= b.abs() * 1e-12, "{a} vs {b}");
                *a = *b;
            }
        }
        assert_eq!(exact, m);
        let (cols, _) = data(200);
        assert_eq!(back.predict(&cols), m.predict(&cols));
    }

    #[test]
    fn flattened_prediction_is_the_unflattened_walk_including_ties_and_missing_values() {
        // Rows on both sides of, and exactly at, every threshold of the forest, with missing
        // values, over several blocks and both threads: the batch walk must pick the class
        // the trees' own per-row walk gives (integer vote sums, first class on ties).
        let m = fit(Algo::Forest, 1500);
        let thresholds: Vec<f64> =
            m.trees.iter().flat_map(|t| t.threshold.iter().copied()).collect();
        let n = 5000;
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|f| {
                (0..n)
                    .map(|i| match i % 5 {
                        0 => f64::NAN,
                        1 => thresholds[(i * 7 + f) % thresholds.len()],
                        2 => thresholds[(i * 3 + f) % thresholds.len()] + 1e-12,
                        _ => ((i * (f + 13) * 7919) % 1000) as f64 / 1000.0,
                    })
                    .collect()
            })
            .collect();
        assert!(n * m.trees.len() >= PARALLEL_FROM, "enough walks for two threads");
        let got = m.predict(&cols);
        for (i, (&g, want)) in got.iter().zip(m.predict_by_walk(&cols)).enumerate() {
            assert_eq!(g, want, "row {i}");
        }
    }

    #[test]
    fn a_forest_is_the_same_whatever_the_thread_count() {
        // Trees are seeded by index, so two fits give identical models.
        assert_eq!(fit(Algo::Forest, 400), fit(Algo::Forest, 400));
    }

    #[test]
    fn malformed_model_files_are_refused_with_the_reason() {
        let mut m = fit(Algo::Tree, 300);
        m.trees[0].left[0] = 0; // a cycle
        let err = Model::from_json(&m.to_json(), "models/x.json").unwrap_err().to_string();
        assert!(err.contains("models/x.json") && err.contains("malformed"), "{err}");
        let err = Model::from_json("{\"format\": 1}", "m.json").unwrap_err().to_string();
        assert!(err.contains("m.json: not a model file"), "{err}");
        let mut m = fit(Algo::Tree, 300);
        m.format = "other/9".into();
        let err = Model::from_json(&m.to_json(), "m.json").unwrap_err().to_string();
        assert!(err.contains("format `other/9`"), "{err}");
    }

    #[test]
    fn the_tree_explains_with_its_path_and_the_forest_with_contributions() {
        let tree = fit(Algo::Tree, 2000);
        let row = |f: usize| [0.9, 0.1, 3.0][f];
        let path = tree.decision_path(&row);
        assert!(
            path.iter().any(|(f, v, op, th)| f == "a" && *v == 0.9 && *op == ">" && *th < 0.9),
            "{path:?}"
        );
        assert!(path.iter().all(|(f, ..)| f != "n"), "noise is not on the path: {path:?}");
        let forest = fit(Algo::Forest, 2000);
        let p = forest.predict_proba(&row);
        assert_eq!(argmax(&p), 1);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-3);
        let top = forest.contributions(&row, 1);
        assert_eq!(top[0].0, "a", "{top:?}");
    }

    #[test]
    fn importance_sums_to_one_and_ranks_the_noise_last() {
        for algo in [Algo::Tree, Algo::Forest] {
            let imp = fit(algo, 2000).importance();
            let total: f64 = imp.iter().map(|(_, v)| v).sum();
            assert!((total - 1.0).abs() < 1e-9, "{algo:?}: {imp:?}");
            let noise = imp.iter().find(|(f, _)| f == "n").map_or(0.0, |(_, v)| *v);
            assert!(imp[0].0 != "n" && noise < 0.2, "{algo:?}: {imp:?}");
        }
    }
}
