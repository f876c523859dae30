//! A model's trees flattened for prediction: every node of every tree in one contiguous
//! array, children side by side, leaves as self-loops, and the leaves' class shares in one
//! array.
//!
//! Prediction walks a block of rows through one tree in lockstep, without a branch on the
//! data: a node sends row `x` to `next + (x > threshold)`, and a leaf's `next` is itself with
//! an infinite threshold, so a row that has arrived stays put. The steps of different rows
//! are independent, so the CPU overlaps their memory loads instead of waiting on one row's
//! chain of nodes — this, not the arithmetic, is what bounds a forest's speed (the per-row
//! recursive walk predicted 0.08–0.22 M rows/s; see README "Classifiers"). A missing value
//! (NaN) compares false and goes left, as in [`super::tree`]; thresholds stay `f64`, so every
//! comparison, ties included, is the tree's own.
//!
//! Four things keep a step cheap:
//! - the block's values of the features the trees read are first copied into one small
//!   array (`feature × BLOCK + row`), so a step reads one cache-resident value instead of
//!   going through the caller's column vectors;
//! - a block stops walking a tree as soon as none of its rows moved (all at leaves), instead
//!   of always taking the tree's full depth: fully grown trees are far deeper at their
//!   deepest leaf than where most rows end;
//! - blocks are short ([`BLOCK`] rows), so the deepest row of a block is rarely the tree's
//!   deepest, while there are still enough independent rows to overlap their loads;
//! - the node array and the block copy have power-of-two lengths, and a step masks its two
//!   indices rather than checking them (the masks change no index): 10 % fewer
//!   instructions in all (callgrind), as the crate forbids `unsafe` unchecked indexing.
//!
//! Nothing is allocated per row: a block's values and class sums live in reused buffers.

use super::tree::Tree;

/// Rows walked through a tree together.
const BLOCK: usize = 32;

/// One node: `x > threshold` goes to `next + 1`, else to `next`, where `x` is the row's value
/// at `offset + row` of the block copy (`offset` = the feature's index in [`Flat::used`] ×
/// [`BLOCK`], premultiplied so a step does no arithmetic to find it).
#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    offset: u32,
    next: u32,
}

impl Node {
    /// Leaf `id`: loops to itself, as no value is above an infinite threshold.
    fn leaf(id: u32) -> Node {
        Node { threshold: f64::INFINITY, offset: 0, next: id }
    }
}

/// Class shares are stored and summed in groups of this many lanes (padded with zeros), so
/// the per-leaf addition is a fixed-width loop the compiler turns into vector adds.
const LANES: usize = 8;

/// The flattened trees of one model.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    nodes: Vec<Node>,
    /// Per node: its leaf's row in `values`, for leaves (internal nodes: unused).
    leaf: Vec<u32>,
    /// Per leaf and class (`leaf * stride + class`): share of the leaf's training rows, in
    /// 1/10000 as the tree stores it, zero-padded to `stride`; sums are exact integers, so
    /// ties break as in the tree.
    values: Vec<u16>,
    /// Per tree: (root node, depth).
    roots: Vec<(u32, u32)>,
    /// The schema features the trees split on, in the order of the block copy.
    used: Vec<usize>,
    classes: usize,
    /// `classes` rounded up to a multiple of [`LANES`].
    stride: usize,
}

impl Flat {
    /// Flattens `trees` (each with `classes` classes).
    pub fn new(trees: &[Tree], classes: usize) -> Flat {
        let stride = classes.max(1).next_multiple_of(LANES);
        let mut f = Flat { classes, stride, ..Flat::default() };
        let mut used: Vec<usize> = trees
            .iter()
            .flat_map(|t| t.feature.iter().filter_map(|&x| usize::try_from(x).ok()))
            .collect();
        used.sort_unstable();
        used.dedup();
        f.used = used;
        for t in trees {
            if t.is_empty() {
                continue;
            }
            let root = f.nodes.len() as u32;
            f.push_tree(t);
            f.roots.push((root, t.depth() as u32));
        }
        // Padded to a power of two with unreachable leaves, so a step can mask its index
        // instead of checking it against the length.
        let padded = f.nodes.len().max(1).next_power_of_two();
        while f.nodes.len() < padded {
            f.nodes.push(Node::leaf(f.nodes.len() as u32));
            f.leaf.push(u32::MAX);
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
                let slot = (self.values.len() / self.stride) as u32;
                self.values.extend_from_slice(t.node_value(i));
                self.values.resize(self.values.len().next_multiple_of(self.stride), 0);
                self.nodes.push(Node::leaf(id));
                self.leaf.push(slot);
            } else {
                let next = (base + order.len()) as u32;
                order.push(t.left[i] as usize);
                order.push(t.right[i] as usize);
                let u = self.used.binary_search(&(t.feature[i] as usize)).unwrap_or(0);
                let offset = (u * BLOCK) as u32;
                self.nodes.push(Node { threshold: t.threshold[i], offset, next });
                self.leaf.push(u32::MAX);
            }
            j += 1;
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Copies rows `start..start + rows` of the used features of `columns` into `block`
    /// (`used feature × BLOCK + row`); a feature `columns` lacks is missing (NaN).
    fn load_block(&self, columns: &[Vec<f64>], start: usize, rows: usize, block: &mut [f64]) {
        for (u, &f) in self.used.iter().enumerate() {
            let dst = &mut block[u * BLOCK..u * BLOCK + rows];
            match columns.get(f).and_then(|c| c.get(start..start + rows)) {
                Some(src) => dst.copy_from_slice(src),
                None => dst.fill(f64::NAN),
            }
        }
    }

    /// Adds each tree's class shares for the `out.len() / stride` rows of `block` into
    /// `out` (`row * stride + class`).
    fn accumulate(&self, block: &[f64], out: &mut [u32]) {
        let k = self.stride;
        let rows = out.len() / k;
        let mut at = [0u32; BLOCK];
        let at = &mut at[..rows];
        // Both lengths are powers of two, and every index is already below them: the masks
        // change nothing but let the compiler drop two bounds checks from each step.
        let (node_mask, block_mask) = (self.nodes.len() - 1, block.len() - 1);
        let (nodes, block) = (&self.nodes[..=node_mask], &block[..=block_mask]);
        for &(root, depth) in &self.roots {
            at.iter_mut().for_each(|a| *a = root);
            for _ in 0..depth {
                let mut moved = false;
                for (r, a) in at.iter_mut().enumerate() {
                    let n = nodes[*a as usize & node_mask];
                    let x = block[(n.offset as usize + r) & block_mask];
                    let next = n.next + u32::from(x > n.threshold);
                    moved |= next != *a;
                    *a = next;
                }
                if !moved {
                    break;
                }
            }
            for (r, &a) in at.iter().enumerate() {
                let slot = self.leaf[a as usize] as usize;
                let v = &self.values[slot * k..(slot + 1) * k];
                let o = &mut out[r * k..(r + 1) * k];
                for (o, v) in o.chunks_exact_mut(LANES).zip(v.chunks_exact(LANES)) {
                    for (o, &v) in o.iter_mut().zip(v) {
                        *o += u32::from(v);
                    }
                }
            }
        }
    }

    /// Mean class probabilities of one row (`row(f)` is feature `f`).
    pub fn proba(&self, row: &dyn Fn(usize) -> f64) -> Vec<f64> {
        let (k, stride) = (self.classes, self.stride);
        let mut p = vec![0u32; k];
        for &(root, _) in &self.roots {
            let mut a = root as usize;
            loop {
                let n = self.nodes[a];
                if n.next as usize == a {
                    break;
                }
                let x = row(self.used[n.offset as usize / BLOCK]);
                a = (n.next + u32::from(x > n.threshold)) as usize;
            }
            let slot = self.leaf[a] as usize;
            for (o, &v) in p.iter_mut().zip(&self.values[slot * stride..slot * stride + k]) {
                *o += u32::from(v);
            }
        }
        let n = self.roots.len().max(1) as f64 * 10_000.0;
        p.into_iter().map(|v| f64::from(v) / n).collect()
    }

    /// The most probable class of rows `start..start + out.len()` of `columns` (one vector
    /// per schema feature), written to `out` (one per row).
    pub fn predict_into(&self, columns: &[Vec<f64>], start: usize, out: &mut [usize]) {
        let (k, stride) = (self.classes.max(1), self.stride.max(LANES));
        let mut sums = vec![0u32; BLOCK * stride];
        let mut block = vec![f64::NAN; (self.used.len().max(1) * BLOCK).next_power_of_two()];
        for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
            let sums = &mut sums[..chunk.len() * stride];
            sums.iter_mut().for_each(|s| *s = 0);
            self.load_block(columns, start + b * BLOCK, chunk.len(), &mut block);
            self.accumulate(&block, sums);
            for (r, o) in chunk.iter_mut().enumerate() {
                let row = &sums[r * stride..r * stride + k];
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
