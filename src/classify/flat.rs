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
//! Six things keep a step cheap:
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
//!   instructions in all (callgrind), as the crate forbids `unsafe` unchecked indexing;
//! - a step tells whether any row moved by summing how far each moved (a step never goes
//!   back), one instruction fewer than comparing and or-ing: 4 % fewer in all;
//! - a step always takes all [`BLOCK`] rows, four at a time, so the compiler unrolls it:
//!   8 % fewer (eight at a time did not do better). The rows past the end of a short last
//!   block walk whatever the block copy holds, and their leaves are never read.
//!
//! A leaf keeps where its class shares start in its own node, and the shares are added a
//! fixed group of [`LANES`] at a time, as vector adds (4 % fewer instructions than a
//! separate leaf table and scalar adds).
//!
//! Nothing is allocated per row: a block's values and class sums live in reused buffers.
//!
//! A block asking only for classes ([`Flat::predict_into`]) also stops going through the
//! forest once every row's vote is decided: when its leading class is ahead of every other
//! by more than the remaining trees' largest leaf shares add up to, no later tree can change
//! the answer (ties included, as the lead must be strictly greater). On the shipped datasets
//! a block walks 32–33 of 60 trees on average, 37–40 on held-out hardware. Probabilities
//! ([`Flat::proba`]) always take every tree.

use super::tree::Tree;

/// Rows walked through a tree together.
const BLOCK: usize = 32;

/// One node: `x > threshold` goes to `next + 1`, else to `next`, where `x` is the row's value
/// at `offset + row` of the block copy (`offset` = the feature's index in [`Flat::used`] ×
/// [`BLOCK`], premultiplied so a step does no arithmetic to find it). A leaf's `offset` is
/// where its class shares start in [`Flat::values`] instead: the value it makes a step read
/// is never above its infinite threshold.
#[derive(Debug, Clone, Copy)]
struct Node {
    threshold: f64,
    offset: u32,
    next: u32,
}

impl Node {
    /// Leaf `id`, whose shares start at `values`: loops to itself, as no value is above an
    /// infinite threshold.
    fn leaf(id: u32, values: u32) -> Node {
        Node { threshold: f64::INFINITY, offset: values, next: id }
    }
}

/// Class shares are stored and summed in groups of this many lanes (padded with zeros), so
/// the per-leaf addition is a fixed-width loop the compiler turns into vector adds.
const LANES: usize = 8;

/// The flattened trees of one model.
#[derive(Debug, Clone, Default)]
pub struct Flat {
    nodes: Vec<Node>,
    /// Per leaf, `groups` groups of [`LANES`] classes: share of the leaf's training rows per
    /// class, in 1/10000 as the tree stores it, zero-padded; sums are exact integers, so
    /// ties break as in the tree.
    values: Vec<[u16; LANES]>,
    /// Per tree: (root node, depth).
    roots: Vec<(u32, u32)>,
    /// Per tree: the most any one class can still gain from the trees after it (the sum of
    /// their largest leaf shares), which bounds how far a row's vote can still move.
    gain_after: Vec<u32>,
    /// The first tree after which a row's vote can be decided: before it, the leading
    /// class cannot yet be ahead by more than the rest of the forest can give.
    decide_from: usize,
    /// The schema features the trees split on, in the order of the block copy.
    used: Vec<usize>,
    classes: usize,
    /// Groups of [`LANES`] classes per leaf (and per row's sums).
    groups: usize,
}

impl Flat {
    /// Flattens `trees` (each with `classes` classes).
    pub fn new(trees: &[Tree], classes: usize) -> Flat {
        let groups = classes.max(1).div_ceil(LANES);
        let mut f = Flat { classes, groups, ..Flat::default() };
        let mut used: Vec<usize> = trees
            .iter()
            .flat_map(|t| t.feature.iter().filter_map(|&x| usize::try_from(x).ok()))
            .collect();
        used.sort_unstable();
        used.dedup();
        f.used = used;
        let mut largest_share = Vec::with_capacity(trees.len());
        for t in trees {
            if t.is_empty() {
                continue;
            }
            let root = f.nodes.len() as u32;
            f.push_tree(t);
            f.roots.push((root, t.depth() as u32));
            let largest = (0..t.len())
                .filter(|&i| t.feature[i] < 0)
                .flat_map(|i| t.node_value(i).iter().copied())
                .max()
                .map_or(0, u32::from);
            largest_share.push(largest);
        }
        f.gain_after = vec![0; largest_share.len()];
        let mut after = 0u32;
        for (gain, &largest) in f.gain_after.iter_mut().zip(&largest_share).rev() {
            *gain = after;
            after += largest;
        }
        // A row's leading class holds at most the largest shares of the trees walked so far.
        let mut before = 0u32;
        f.decide_from = largest_share
            .iter()
            .zip(&f.gain_after)
            .position(|(&g, &after)| {
                before += g;
                before > after
            })
            .unwrap_or(f.roots.len());
        // Padded to a power of two with unreachable leaves, so a step can mask its index
        // instead of checking it against the length.
        let padded = f.nodes.len().max(1).next_power_of_two();
        while f.nodes.len() < padded {
            f.nodes.push(Node::leaf(f.nodes.len() as u32, 0));
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
                let start = self.values.len() as u32;
                let shares = t.node_value(i);
                for g in 0..self.groups {
                    let mut lanes = [0u16; LANES];
                    for (l, &v) in lanes.iter_mut().zip(shares.iter().skip(g * LANES)) {
                        *l = v;
                    }
                    self.values.push(lanes);
                }
                self.nodes.push(Node::leaf(id, start));
            } else {
                let next = (base + order.len()) as u32;
                order.push(t.left[i] as usize);
                order.push(t.right[i] as usize);
                let u = self.used.binary_search(&(t.feature[i] as usize)).unwrap_or(0);
                let offset = (u * BLOCK) as u32;
                self.nodes.push(Node { threshold: t.threshold[i], offset, next });
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

    /// Adds each tree's class shares for the `out.len() / groups` rows of `block` into
    /// `out` (`row * groups + group`).
    fn accumulate(&self, block: &[f64], out: &mut [[u32; LANES]]) {
        let k = self.groups;
        let mut at = [0u32; BLOCK];
        // Both lengths are powers of two, and every index is already below them: the masks
        // change nothing but let the compiler drop two bounds checks from each step.
        let (node_mask, block_mask) = (self.nodes.len() - 1, block.len() - 1);
        let (nodes, block) = (&self.nodes[..=node_mask], &block[..=block_mask]);
        for (t, &(root, depth)) in self.roots.iter().enumerate() {
            at.iter_mut().for_each(|a| *a = root);
            for _ in 0..depth {
                // Children come after their parent and a leaf loops to itself, so a step
                // never moves a row back: the rows moved if their steps sum above zero.
                let mut moved = 0usize;
                for (q, quad) in at.chunks_exact_mut(4).enumerate() {
                    for (j, a) in quad.iter_mut().enumerate() {
                        let n = nodes[*a as usize & node_mask];
                        let x = block[(n.offset as usize + 4 * q + j) & block_mask];
                        let next = n.next + u32::from(x > n.threshold);
                        moved += (next - *a) as usize;
                        *a = next;
                    }
                }
                if moved == 0 {
                    break;
                }
            }
            for (o, &a) in out.chunks_exact_mut(k).zip(at.iter()) {
                let v = nodes[a as usize & node_mask].offset as usize;
                for (o, v) in o.iter_mut().zip(&self.values[v..v + k]) {
                    add_lanes(o, v);
                }
            }
            let left = self.gain_after[t];
            if t >= self.decide_from
                && t + 1 < self.roots.len()
                && out.chunks_exact(k).all(|sums| lead(sums.as_flattened()) > left)
            {
                break;
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
                let x = row(self.used[n.offset as usize / BLOCK]);
                a = (n.next + u32::from(x > n.threshold)) as usize;
            }
            let v = self.nodes[a].offset as usize;
            let shares = self.values[v..v + self.groups].as_flattened();
            for (o, &v) in p.iter_mut().zip(shares) {
                *o += u32::from(v);
            }
        }
        let n = self.roots.len().max(1) as f64 * 10_000.0;
        p.into_iter().map(|v| f64::from(v) / n).collect()
    }

    /// The most probable class of rows `start..start + out.len()` of `columns` (one vector
    /// per schema feature), written to `out` (one per row).
    pub fn predict_into(&self, columns: &[Vec<f64>], start: usize, out: &mut [usize]) {
        let (k, groups) = (self.classes.max(1), self.groups.max(1));
        let mut sums = vec![[0u32; LANES]; BLOCK * groups];
        let mut block = vec![f64::NAN; (self.used.len().max(1) * BLOCK).next_power_of_two()];
        for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
            let sums = &mut sums[..chunk.len() * groups];
            sums.iter_mut().for_each(|s| *s = [0; LANES]);
            self.load_block(columns, start + b * BLOCK, chunk.len(), &mut block);
            self.accumulate(&block, sums);
            for (row, o) in sums.chunks_exact(groups).zip(chunk.iter_mut()) {
                let row = &row.as_flattened()[..k];
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

/// `sums += shares`, lane by lane, as vector adds. Written as a whole-array map with
/// `wrapping_add` because the compiler left a `+=` loop as eight scalar adds; a sum cannot
/// wrap (it is at most the number of trees × 10000).
#[inline(always)]
fn add_lanes(sums: &mut [u32; LANES], shares: &[u16; LANES]) {
    let (a, b) = (*sums, *shares);
    *sums = std::array::from_fn(|i| a[i].wrapping_add(u32::from(b[i])));
}

/// How far a row's leading class is ahead of the next (0 on a tie).
fn lead(sums: &[u32]) -> u32 {
    let (mut first, mut second) = (0, 0);
    for &s in sums {
        if s > first {
            (first, second) = (s, first);
        } else if s > second {
            second = s;
        }
    }
    first - second
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

    /// A tree of one leaf with these class shares (1/10000).
    fn leaf(value: [u16; 2]) -> Tree {
        Tree {
            feature: vec![-1],
            threshold: vec![0.0],
            left: vec![0],
            right: vec![0],
            samples: vec![1],
            value: value.to_vec(),
            classes: 2,
        }
    }

    #[test]
    fn a_vote_stops_early_only_when_no_later_tree_can_change_it() {
        let cols = vec![vec![0.0; 3]];
        let mut out = vec![9; 3];
        // After two trees class 1 leads by 10000, exactly what the last tree gives class 0:
        // the votes end tied, and a tie goes to the first class. Stopping at a lead equal to
        // what is left, rather than above it, would answer 1.
        let f = Flat::new(&[leaf([0, 10_000]), leaf([5000, 5000]), leaf([10_000, 0])], 2);
        assert_eq!(f.decide_from, 1);
        assert_eq!(f.gain_after, vec![15_000, 10_000, 0]);
        f.predict_into(&cols, 0, &mut out);
        assert_eq!(out, vec![0; 3]);
        // One more vote for class 1 first: its lead after three trees (20000) is more than the
        // last can take away, and the answer is the same as the full walk's.
        let trees = [leaf([0, 10_000]), leaf([0, 10_000]), leaf([5000, 5000]), leaf([10_000, 0])];
        let f = Flat::new(&trees, 2);
        f.predict_into(&cols, 0, &mut out);
        assert_eq!(out, vec![1; 3]);
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
