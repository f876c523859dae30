//! A model's trees flattened for prediction: every node of every tree in one contiguous
//! array, children side by side, leaves as self-loops, and the leaves' class shares in one
//! array.
//!
//! Prediction walks a block of rows through one tree in lockstep, a fixed number of steps
//! (the tree's depth), without a branch on the data: a node sends row `x` to
//! `next + (x > threshold)`, and a leaf's `next` is itself with an infinite threshold, so a
//! row that has arrived stays put. The steps of different rows are independent, so the CPU
//! overlaps their memory loads instead of waiting on one row's chain of nodes — this, not
//! the arithmetic, is what bounds a forest's speed (the per-row recursive walk it replaces
//! predicted 0.08–0.22 M rows/s; see README "Classifiers"). A missing value (NaN) compares
//! false and goes left, as in [`super::tree`].
//!
//! Nothing is allocated per row: a block's class sums live in one reused buffer.

use super::tree::Tree;

/// Rows walked through a tree together.
const BLOCK: usize = 64;

/// One node: `x[feature] > threshold` goes to `next + 1`, else to `next`.
#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    feature: u32,
    next: u32,
}

/// The flattened trees of one model.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    nodes: Vec<Node>,
    /// Per node: its leaf's row in `values`, for leaves (internal nodes: unused).
    leaf: Vec<u32>,
    /// Per leaf and class (`leaf * classes + class`): share of the leaf's training rows, in
    /// 1/10000 as the tree stores it; sums are exact integers, so ties break as in the tree.
    values: Vec<u16>,
    /// Per tree: (root node, depth).
    roots: Vec<(u32, u32)>,
    classes: usize,
}

impl Flat {
    /// Flattens `trees` (each with `classes` classes).
    pub fn new(trees: &[Tree], classes: usize) -> Flat {
        let mut f = Flat { classes, ..Flat::default() };
        for t in trees {
            if t.is_empty() {
                continue;
            }
            let root = f.nodes.len() as u32;
            f.push_tree(t);
            f.roots.push((root, t.depth() as u32));
        }
        f
    }

    /// Appends `t` breadth-first, so each node's two children are adjacent.
    fn push_tree(&mut self, t: &Tree) {
        let base = self.nodes.len();
        // order[j] = the original index of flat node base + j.
        let mut order: Vec<usize> = vec![0];
        let mut j = 0;
        while j < order.len() {
            let i = order[j];
            let id = (base + j) as u32;
            if t.feature[i] < 0 {
                let slot = (self.values.len() / self.classes.max(1)) as u32;
                self.values.extend_from_slice(t.node_value(i));
                self.nodes.push(Node { threshold: f64::INFINITY, feature: 0, next: id });
                self.leaf.push(slot);
            } else {
                let next = (base + order.len()) as u32;
                order.push(t.left[i] as usize);
                order.push(t.right[i] as usize);
                self.nodes.push(Node {
                    threshold: t.threshold[i],
                    feature: t.feature[i] as u32,
                    next,
                });
                self.leaf.push(u32::MAX);
            }
            j += 1;
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Adds each tree's class shares for rows `start..start + out.len() / classes` of
    /// `columns` (one vector per feature) into `out` (`row * classes + class`).
    fn accumulate(&self, columns: &[Vec<f64>], start: usize, out: &mut [u32]) {
        let k = self.classes;
        let rows = out.len() / k.max(1);
        let mut at = [0u32; BLOCK];
        for &(root, depth) in &self.roots {
            let at = &mut at[..rows];
            at.iter_mut().for_each(|a| *a = root);
            for _ in 0..depth {
                for (r, a) in at.iter_mut().enumerate() {
                    let n = self.nodes[*a as usize];
                    let x = columns.get(n.feature as usize).map_or(f64::NAN, |c| c[start + r]);
                    *a = n.next + u32::from(x > n.threshold);
                }
            }
            for (r, &a) in at.iter().enumerate() {
                let slot = self.leaf[a as usize] as usize;
                let v = &self.values[slot * k..(slot + 1) * k];
                for (o, &p) in out[r * k..(r + 1) * k].iter_mut().zip(v) {
                    *o += u32::from(p);
                }
            }
        }
    }

    /// Mean class probabilities of one row (`row(f)` is feature `f`).
    pub fn proba(&self, row: &dyn Fn(usize) -> f64) -> Vec<f64> {
        let k = self.classes;
        let mut p = vec![0u32; k];
        for &(root, _) in &self.roots {
            let mut a = root as usize;
            loop {
                let n = self.nodes[a];
                if n.next as usize == a {
                    break;
                }
                a = (n.next + u32::from(row(n.feature as usize) > n.threshold)) as usize;
            }
            let slot = self.leaf[a] as usize;
            for (o, &v) in p.iter_mut().zip(&self.values[slot * k..(slot + 1) * k]) {
                *o += u32::from(v);
            }
        }
        let n = self.roots.len().max(1) as f64 * 10_000.0;
        p.into_iter().map(|v| f64::from(v) / n).collect()
    }

    /// The most probable class of rows `range` of `columns`, written to `out` (one per row).
    pub fn predict_into(&self, columns: &[Vec<f64>], start: usize, out: &mut [usize]) {
        let k = self.classes.max(1);
        let mut sums = vec![0u32; BLOCK * k];
        for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
            let sums = &mut sums[..chunk.len() * k];
            sums.iter_mut().for_each(|s| *s = 0);
            self.accumulate(columns, start + b * BLOCK, sums);
            for (r, o) in chunk.iter_mut().enumerate() {
                let row = &sums[r * k..(r + 1) * k];
                let mut best = 0;
                for (c, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = c;
                    }
                }
                *o = best;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// x0 <= 1 → class 0; else x1 missing or <= 5 → class 1; else class 2 (a 5-node tree,
    /// stored depth-first as the learner writes it).
    fn tree() -> Tree {
        Tree {
            feature: vec![0, -1, 1, -1, -1],
            threshold: vec![1.0, 0.0, 5.0, 0.0, 0.0],
            left: vec![1, 0, 3, 0, 0],
            right: vec![2, 0, 4, 0, 0],
            samples: vec![10, 4, 6, 3, 3],
            value: vec![4000, 3000, 3000, 10_000, 0, 0, 0, 5000, 5000, 0, 10_000, 0, 0, 0, 10_000],
            classes: 3,
        }
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // row `i` reads every column
    fn flat_prediction_follows_the_tree_including_missing_values() {
        let f = Flat::new(&[tree()], 3);
        let cols = vec![vec![0.5, 2.0, 2.0, 2.0, f64::NAN], vec![9.0, 4.0, 6.0, f64::NAN, 9.0]];
        let mut out = vec![9; 5];
        f.predict_into(&cols, 0, &mut out);
        assert_eq!(out, vec![0, 1, 2, 1, 0]);
        let t = tree();
        for i in 0..out.len() {
            let row = |c: usize| cols[c][i];
            let p = f.proba(&row);
            let want = t.node_value(t.leaf(&row));
            for c in 0..3 {
                assert!((p[c] - f64::from(want[c]) / 10_000.0).abs() < 1e-6, "row {i}: {p:?}");
            }
        }
    }

    #[test]
    fn blocks_and_offsets_cover_every_row() {
        // More rows than a block, and a start offset: each row still gets its own leaf.
        let n = 3 * BLOCK + 7;
        let x0: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 0.0 } else { 3.0 }).collect();
        let x1: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { 9.0 } else { 1.0 }).collect();
        let f = Flat::new(&[tree(), tree()], 3);
        let mut out = vec![9; n - 5];
        f.predict_into(&[x0.clone(), x1.clone()], 5, &mut out);
        for (j, &o) in out.iter().enumerate() {
            let i = j + 5;
            let want = if x0[i] <= 1.0 {
                0
            } else if x1[i] <= 5.0 {
                1
            } else {
                2
            };
            assert_eq!(o, want, "row {i}");
        }
    }
}
