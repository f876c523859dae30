//! A classification tree learned on binned features (histogram CART, Gini impurity).
//!
//! Each feature is cut once into at most [`MAX_BINS`] quantile bins ([`Bins`]); a split is
//! searched by filling a (bin × class) histogram of the node's rows and scanning it, so a
//! node costs O(rows × features tried) instead of a sort per node. That is how LightGBM and
//! scikit-learn's HistGradientBoosting get their speed; linfa-trees and smartcore sort at
//! every node and are 20–200× slower (measured in `../shared/docs/crates.md`).
//!
//! A split is `x <= threshold` → left, with a missing value (NaN) always going left: the
//! missing bin is bin 0, below every value. The fitted tree keeps raw thresholds, so
//! prediction reads raw feature values and needs no bins.
//!
//! A threshold is placed in the middle of the gap between the node's rows on either side
//! (the largest value that goes left and the smallest that goes right), as scikit-learn
//! does, not at a bin edge: a bin can span a wide empty range (quantile edges thin out where
//! few values lie), and an edge at one end of the gap puts unseen rows a hair beyond the
//! training range on the wrong side. With bin edges, the Elasticsearch tree split
//! `disk_low_watermark` from `unassigned_shards_yellow` at a used-disk ratio of 0.8697 when
//! the classes were 0.49 and 0.87 apart, and missed held-out rows at 0.865.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Most bins per feature (bin 0 holds missing values).
pub const MAX_BINS: usize = 64;
/// Of a feature's bin edges, at most this many go to the widest gaps between its values.
const GAP_EDGES: usize = 16;

/// Quantile cut points of every feature, learned from training data.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// Per feature: ascending thresholds; value `x` falls in bin `1 + #{e : x > e}`.
    pub edges: Vec<Vec<f64>>,
}

impl Bins {
    /// Cut points from `columns` (one vector per feature; NaN = missing).
    pub fn fit(columns: &[Vec<f64>]) -> Bins {
        let edges = columns
            .iter()
            .map(|c| {
                let mut v: Vec<f64> = c.iter().copied().filter(|x| !x.is_nan()).collect();
                v.sort_by(f64::total_cmp);
                v.dedup();
                if v.len() <= 1 {
                    return Vec::new();
                }
                // Edges are midpoints between distinct values, so a split separates them with
                // margin on both sides; with many values, the widest gaps between them (where
                // one class's range ends and another's begins: quantiles alone can skip such a
                // gap and leave both classes in one bin) and quantiles for the rest.
                let mids: Vec<f64> = v.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect();
                if mids.len() < MAX_BINS - 1 {
                    return mids;
                }
                let k = MAX_BINS - 2;
                // A gap is wide when it is wider than an equal-width bin would be.
                let wide = (v[v.len() - 1] - v[0]) / k as f64;
                let mut widest: Vec<usize> =
                    (0..mids.len()).filter(|&j| v[j + 1] - v[j] > wide).collect();
                widest.sort_by(|&a, &b| (v[b + 1] - v[b]).total_cmp(&(v[a + 1] - v[a])));
                widest.truncate(GAP_EDGES);
                let mut e: Vec<f64> = widest.iter().map(|&j| mids[j]).collect();
                let q = k - e.len();
                e.extend((0..q).map(|j| mids[(j * mids.len()) / q]));
                e.sort_by(f64::total_cmp);
                e.dedup();
                e
            })
            .collect();
        Bins { edges }
    }

    /// The bin of `x` for feature `f`.
    pub fn bin(&self, f: usize, x: f64) -> u8 {
        if x.is_nan() {
            return 0;
        }
        (1 + self.edges[f].partition_point(|&e| x > e)) as u8
    }

    /// The threshold of split "bin <= b" of feature `f`. The missing-versus-present split
    /// uses `f64::MIN` (JSON has no infinity): only a missing value is `<=` it in practice.
    fn threshold(&self, f: usize, b: usize) -> f64 {
        if b == 0 { f64::MIN } else { self.edges[f][b - 1] }
    }

    /// Bins every value: feature-major, `out[f * n + i]`.
    pub fn transform(&self, columns: &[Vec<f64>]) -> Vec<u8> {
        let n = columns.first().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(n * columns.len());
        for (f, c) in columns.iter().enumerate() {
            out.extend(c.iter().map(|&x| self.bin(f, x)));
        }
        out
    }

    fn n_bins(&self, f: usize) -> usize {
        self.edges[f].len() + 2
    }
}

/// How a tree grows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TreeParams {
    /// Deepest level (root = 0).
    pub max_depth: usize,
    /// Fewest rows in a leaf.
    pub min_samples_leaf: usize,
    /// Features tried at each split; `None` tries all.
    pub max_features: Option<usize>,
}

/// A fitted tree, stored as parallel arrays (compact in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Per node: split feature, or -1 for a leaf.
    pub feature: Vec<i32>,
    /// Per node: `x <= threshold` (or x missing) goes left.
    pub threshold: Vec<f64>,
    /// Per node: left child.
    pub left: Vec<u32>,
    /// Per node: right child.
    pub right: Vec<u32>,
    /// Per node: training rows that reached it.
    pub samples: Vec<u32>,
    /// Per node and class (`node * classes + class`): share of the node's rows, in 1/10000.
    pub value: Vec<u16>,
    /// Number of classes.
    pub classes: usize,
}

/// Training inputs shared by every tree of an ensemble.
pub(crate) struct Binned<'a> {
    pub(crate) bins: &'a Bins,
    /// The raw values (one vector per feature), for thresholds in the middle of gaps.
    pub(crate) raw: &'a [Vec<f64>],
    pub(crate) data: &'a [u8],
    pub(crate) n: usize,
    pub(crate) y: &'a [u16],
    pub(crate) classes: usize,
}

struct Grower<'a, 'b> {
    x: &'b Binned<'a>,
    p: TreeParams,
    rng: ChaCha8Rng,
    tree: Tree,
    hist: Vec<u32>,
    features: Vec<usize>,
}

impl Tree {
    /// Grows a tree on the rows `idx` (repeats allowed, as in a bootstrap sample).
    pub(crate) fn fit(x: &Binned<'_>, idx: &mut [u32], p: TreeParams, seed: u64) -> Tree {
        let n_features = x.bins.edges.len();
        let mut g = Grower {
            x,
            p,
            rng: ChaCha8Rng::seed_from_u64(seed),
            tree: Tree {
                feature: Vec::new(),
                threshold: Vec::new(),
                left: Vec::new(),
                right: Vec::new(),
                samples: Vec::new(),
                value: Vec::new(),
                classes: x.classes,
            },
            hist: vec![0; MAX_BINS * x.classes],
            features: (0..n_features).collect(),
        };
        g.grow(idx, 0);
        g.tree
    }

    /// The leaf `row` falls into.
    pub fn leaf(&self, row: &dyn Fn(usize) -> f64) -> usize {
        let mut i = 0usize;
        loop {
            let f = self.feature[i];
            if f < 0 {
                return i;
            }
            let x = row(f as usize);
            i = if x.is_nan() || x <= self.threshold[i] {
                self.left[i] as usize
            } else {
                self.right[i] as usize
            };
        }
    }

    /// The nodes from the root to the leaf of `row`.
    pub fn path(&self, row: &dyn Fn(usize) -> f64) -> Vec<usize> {
        let mut out = vec![0usize];
        let mut i = 0usize;
        while self.feature[i] >= 0 {
            let x = row(self.feature[i] as usize);
            i = if x.is_nan() || x <= self.threshold[i] {
                self.left[i] as usize
            } else {
                self.right[i] as usize
            };
            out.push(i);
        }
        out
    }

    /// Class shares of node `i`, in 1/10000.
    pub fn node_value(&self, i: usize) -> &[u16] {
        &self.value[i * self.classes..(i + 1) * self.classes]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.feature.len()
    }

    /// Whether the tree has no node (never true for a fitted tree).
    pub fn is_empty(&self) -> bool {
        self.feature.is_empty()
    }

    /// Depth of the deepest leaf.
    pub fn depth(&self) -> usize {
        fn d(t: &Tree, i: usize) -> usize {
            if t.feature[i] < 0 {
                0
            } else {
                1 + d(t, t.left[i] as usize).max(d(t, t.right[i] as usize))
            }
        }
        if self.is_empty() { 0 } else { d(self, 0) }
    }
}

impl Grower<'_, '_> {
    fn new_node(&mut self, counts: &[u32], n: usize) -> usize {
        let id = self.tree.feature.len();
        self.tree.feature.push(-1);
        self.tree.threshold.push(0.0);
        self.tree.left.push(0);
        self.tree.right.push(0);
        self.tree.samples.push(n as u32);
        for &c in counts {
            self.tree.value.push(((c as f64 / n.max(1) as f64) * 10_000.0).round() as u16);
        }
        id
    }

    fn grow(&mut self, idx: &mut [u32], depth: usize) -> usize {
        let k = self.x.classes;
        let n = idx.len();
        let mut counts = vec![0u32; k];
        for &i in idx.iter() {
            counts[self.x.y[i as usize] as usize] += 1;
        }
        let id = self.new_node(&counts, n);
        let pure = counts.iter().filter(|&&c| c > 0).count() <= 1;
        if pure || depth >= self.p.max_depth || n < 2 * self.p.min_samples_leaf.max(1) {
            return id;
        }
        let Some((f, b)) = self.best_split(idx, &counts) else { return id };
        // Partition in place: bin <= b to the front.
        let col = &self.x.data[f * self.x.n..(f + 1) * self.x.n];
        let mut lo = 0usize;
        for j in 0..n {
            if col[idx[j] as usize] as usize <= b {
                idx.swap(lo, j);
                lo += 1;
            }
        }
        let (l, r) = idx.split_at_mut(lo);
        self.tree.feature[id] = f as i32;
        self.tree.threshold[id] = self.threshold(f, b, l, r);
        let left = self.grow(l, depth + 1);
        let right = self.grow(r, depth + 1);
        self.tree.left[id] = left as u32;
        self.tree.right[id] = right as u32;
        id
    }

    /// The threshold of split "bin <= b" of feature `f` that sends `left` left and `right`
    /// right: halfway between the largest raw value on the left and the smallest on the
    /// right. The missing-versus-present split keeps [`Bins::threshold`]'s `f64::MIN`.
    fn threshold(&self, f: usize, b: usize, left: &[u32], right: &[u32]) -> f64 {
        let raw = &self.x.raw[f];
        let lo = left.iter().map(|&i| raw[i as usize]).filter(|x| !x.is_nan()).reduce(f64::max);
        let hi = right.iter().map(|&i| raw[i as usize]).reduce(f64::min);
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo < hi => {
                let mid = lo + (hi - lo) / 2.0;
                // Rounding can land on `hi` when the two are adjacent floats.
                if mid < hi { mid } else { lo }
            }
            _ => self.x.bins.threshold(f, b),
        }
    }

    /// The (feature, bin) split with the largest Gini decrease, if any decreases it.
    fn best_split(&mut self, idx: &[u32], counts: &[u32]) -> Option<(usize, usize)> {
        let k = self.x.classes;
        let n = idx.len() as f64;
        let min_leaf = self.p.min_samples_leaf.max(1);
        let total = self.features.len();
        let tries = self.p.max_features.unwrap_or(total).clamp(1, total);
        // Partial Fisher–Yates: the first `tries` entries are a uniform sample.
        for j in 0..tries {
            let r = self.rng.random_range(j..total);
            self.features.swap(j, r);
        }
        let parent: f64 = counts.iter().map(|&c| (c as f64) * (c as f64)).sum::<f64>() / n;
        let mut best: Option<(f64, usize, usize)> = None;
        let mut left = vec![0u32; k];
        for t in 0..tries {
            let f = self.features[t];
            let nb = self.x.bins.n_bins(f);
            let hist = &mut self.hist[..nb * k];
            hist.iter_mut().for_each(|h| *h = 0);
            let col = &self.x.data[f * self.x.n..(f + 1) * self.x.n];
            for &i in idx {
                let i = i as usize;
                hist[col[i] as usize * k + self.x.y[i] as usize] += 1;
            }
            left.iter_mut().for_each(|c| *c = 0);
            let mut nl = 0usize;
            for b in 0..nb - 1 {
                let row = &hist[b * k..(b + 1) * k];
                let mut added = 0usize;
                for (c, &h) in left.iter_mut().zip(row) {
                    *c += h;
                    added += h as usize;
                }
                if added == 0 {
                    continue;
                }
                nl += added;
                let nr = idx.len() - nl;
                if nl < min_leaf {
                    continue;
                }
                if nr < min_leaf {
                    break;
                }
                let (mut sl, mut sr) = (0.0f64, 0.0f64);
                for (c, &lc) in counts.iter().zip(left.iter()) {
                    let l = lc as f64;
                    let r = (*c - lc) as f64;
                    sl += l * l;
                    sr += r * r;
                }
                let score = sl / nl as f64 + sr / nr as f64 - parent;
                if score > 1e-9 && best.is_none_or(|(s, ..)| score > s) {
                    best = Some((score, f, b));
                }
            }
        }
        best.map(|(_, f, b)| (f, b))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fit(columns: &[Vec<f64>], y: &[u16], classes: usize, p: TreeParams) -> Tree {
        let bins = Bins::fit(columns);
        let data = bins.transform(columns);
        let x = Binned { bins: &bins, raw: columns, data: &data, n: y.len(), y, classes };
        let mut idx: Vec<u32> = (0..y.len() as u32).collect();
        Tree::fit(&x, &mut idx, p, 1)
    }

    const FULL: TreeParams = TreeParams { max_depth: 20, min_samples_leaf: 1, max_features: None };

    #[test]
    fn learns_a_threshold_between_the_classes() {
        // Class 1 iff x > 0.85; y is noise.
        let x: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
        let noise: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64).collect();
        let y: Vec<u16> = x.iter().map(|&v| u16::from(v > 0.85)).collect();
        let t = fit(&[noise, x], &y, 2, FULL);
        assert_eq!(t.feature[0], 1, "root splits on the informative feature");
        assert!((t.threshold[0] - 0.8525).abs() < 0.01, "threshold {}", t.threshold[0]);
        assert_eq!(t.depth(), 1);
        let row = |v: f64| move |f: usize| if f == 1 { v } else { 0.0 };
        assert_eq!(t.node_value(t.leaf(&row(0.9)))[1], 10_000);
        assert_eq!(t.node_value(t.leaf(&row(0.2)))[0], 10_000);
    }

    #[test]
    fn thresholds_sit_in_the_middle_of_the_gap_between_the_classes() {
        // 4000 distinct values in [0, 0.5) and 400 in [0.87, 0.88): the quantile bins put no
        // edge in the empty range, yet the split must not hug either class.
        let mut x: Vec<f64> = (0..4000).map(|i| f64::from(i) / 8000.0).collect();
        x.extend((0..400).map(|i| 0.87 + f64::from(i) / 40_000.0));
        let y: Vec<u16> = x.iter().map(|&v| u16::from(v > 0.8)).collect();
        let t = fit(std::slice::from_ref(&x), &y, 2, FULL);
        let mid = (0.4999 + 0.87) / 2.0;
        assert!((t.threshold[0] - mid).abs() < 1e-3, "threshold {}", t.threshold[0]);
        let row = |v: f64| move |_: usize| v;
        assert_eq!(t.node_value(t.leaf(&row(0.86)))[1], 10_000, "just below the training range");
    }

    #[test]
    fn missing_values_go_left_and_can_be_split_on() {
        // Class 1 exactly where the feature is missing.
        let x: Vec<f64> = (0..100).map(|i| if i % 4 == 0 { f64::NAN } else { i as f64 }).collect();
        let y: Vec<u16> = x.iter().map(|v| u16::from(v.is_nan())).collect();
        let t = fit(&[x], &y, 2, FULL);
        assert_eq!(t.threshold[0], f64::MIN);
        assert_eq!(t.node_value(t.leaf(&|_| f64::NAN))[1], 10_000);
        assert_eq!(t.node_value(t.leaf(&|_| 5.0))[0], 10_000);
    }

    #[test]
    fn depth_and_leaf_size_limits_hold() {
        let x: Vec<f64> = (0..300).map(|i| ((i * 7919) % 300) as f64).collect();
        let y: Vec<u16> = (0..300).map(|i| (i % 3) as u16).collect();
        let t = fit(
            std::slice::from_ref(&x),
            &y,
            3,
            TreeParams { max_depth: 3, min_samples_leaf: 10, max_features: None },
        );
        assert!(t.depth() <= 3);
        for i in 0..t.len() {
            if t.feature[i] < 0 {
                assert!(t.samples[i] >= 10, "leaf of {} rows", t.samples[i]);
            }
        }
    }

    #[test]
    fn bins_cap_at_max_bins_and_order_values() {
        let x: Vec<f64> = (0..10_000).map(f64::from).collect();
        let b = Bins::fit(std::slice::from_ref(&x));
        assert!(b.edges[0].len() < MAX_BINS);
        assert!(b.edges[0].windows(2).all(|w| w[0] < w[1]));
        assert_eq!(b.bin(0, f64::NAN), 0);
        assert!(b.bin(0, -1.0) < b.bin(0, 5_000.0) && b.bin(0, 5_000.0) < b.bin(0, 20_000.0));
    }
}
