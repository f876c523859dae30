//! The rolling window: the last rounds of every target's points, bounded by data time and by
//! a number of rounds, so memory stays flat however long the daemon runs.
//!
//! Each cycle's one-round [`Snapshot`] is merged in by key (cluster, node, source URL): a
//! series keeps its history while its target stays configured, a new one starts with gaps,
//! and one absent this round (an ES node whose cluster did not answer) is carried with a gap
//! until its last point ages out. Only samples some catalogue selector matches are kept.
//!
//! Older rounds are thinned: the newest [`RECENT_ROUNDS`] are all kept, older ones at most
//! one per [`THIN_MS`]. Rates, slopes and maxima read timestamps, not round counts, so a
//! sparser past changes little in what they compute while memory and per-cycle work stay
//! at ~15 rounds whatever the interval (1,000 targets × 41 rounds would not fit 256 MB).
//!
//! Memory per kept sample is its label vector and a few words: every name and label string
//! is an [`Atom`] shared across all rounds and targets of the window (a thousand nodes repeat
//! the same `keyspace="system"`), so fifteen rounds of a series cost one copy of its text.
//! The parser is told which series to build at all ([`Window::keeps`]), so the thousands of
//! series a JMX exporter sends that no selector reads are validated but never allocated.

use crate::features::catalog::Selector;
use crate::sample::{Atom, Sample};
use crate::snapshot::{ClusterSnapshot, NodeSnapshot, Snapshot, SourceSeries};
use fnv::{FnvHashMap, FnvHashSet};
use std::collections::VecDeque;

/// Rounds at the head of the window that are never thinned.
pub const RECENT_ROUNDS: usize = 4;

/// Older rounds are kept at most one per this many milliseconds.
pub const THIN_MS: i64 = 60_000;

/// Which samples to keep: selectors by metric name (empty: keep everything). FNV, not SipHash:
/// the parser asks for every family of every scrape, and SipHash was 3.5 % of the daemon's CPU
/// in the 1,000-target soak (perf); the names come from our own catalogue, not from an attacker.
pub type Keep = FnvHashMap<String, Vec<Selector>>;

/// Rolling window of scrape rounds.
#[derive(Debug, Default)]
pub struct Window {
    snapshot: Snapshot,
    /// Wall time of each round, oldest first.
    times: VecDeque<i64>,
    max_rounds: usize,
    window_ms: i64,
    keep: Keep,
    /// Every string the held samples use, once; see the module docs.
    atoms: FnvHashSet<Atom>,
}

impl Window {
    /// A window holding at most `max_rounds` rounds and nothing older than `window_ms`,
    /// keeping only samples some selector in `keep` matches (empty: keep everything).
    pub fn new(max_rounds: usize, window_ms: i64, keep: Keep) -> Window {
        Window { max_rounds: max_rounds.max(2), window_ms, keep, ..Window::default() }
    }

    /// Whether some selector may read series called `name` (the parse-time filter: label
    /// matchers are applied by [`Window::filter_round`]).
    pub fn keeps(&self, name: &str) -> bool {
        self.keep.is_empty() || self.keep.contains_key(name)
    }

    /// Drops the samples no catalogue selector reads from a round, before it is pushed.
    pub fn filter_round(&self, round: &mut Snapshot) {
        if !self.keep.is_empty() {
            filter(round, &self.keep);
        }
    }

    /// Changes the round limit (after a reload changed the interval); applies from the next push.
    pub fn set_max_rounds(&mut self, max_rounds: usize) {
        self.max_rounds = max_rounds.max(2);
    }

    /// The rounds held, oldest first, as the feature extraction reads them.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Samples held across all rounds (for the self-metrics and the soak bench).
    pub fn samples(&self) -> usize {
        let series =
            |s: &SourceSeries| s.points.iter().flatten().map(|p| p.samples.len()).sum::<usize>();
        self.snapshot
            .clusters
            .iter()
            .map(|c| {
                c.cluster_sources.iter().map(series).sum::<usize>()
                    + c.nodes.iter().flat_map(|n| &n.sources).map(series).sum::<usize>()
            })
            .sum()
    }

    /// Appends one round (a snapshot of exactly one round, taken at wall time `at_ms`, already
    /// passed through [`Window::filter_round`]), then drops the rounds that fell out of the window.
    pub fn push(&mut self, mut round: Snapshot, at_ms: i64) {
        self.share_atoms(&mut round);
        let old = std::mem::take(&mut self.snapshot);
        let n = old.rounds;
        let mut old_clusters = old.clusters;
        let mut clusters = Vec::with_capacity(round.clusters.len());
        for new in round.clusters {
            let prev = old_clusters
                .iter()
                .position(|c| c.name == new.name && c.system == new.system)
                .map(|i| old_clusters.swap_remove(i));
            let (mut prev_nodes, prev_sources) = match prev {
                Some(p) => (p.nodes, p.cluster_sources),
                None => (Vec::new(), Vec::new()),
            };
            let mut nodes = Vec::with_capacity(new.nodes.len());
            for node in new.nodes {
                let before = prev_nodes
                    .iter()
                    .position(|p| p.name == node.name)
                    .map(|i| prev_nodes.swap_remove(i).sources)
                    .unwrap_or_default();
                nodes.push(NodeSnapshot {
                    name: node.name,
                    sources: merge(before, node.sources, n),
                });
            }
            for gone in prev_nodes {
                let sources = merge(gone.sources, Vec::new(), n);
                if !sources.is_empty() {
                    nodes.push(NodeSnapshot { name: gone.name, sources });
                }
            }
            clusters.push(ClusterSnapshot {
                name: new.name,
                system: new.system,
                nodes,
                cluster_sources: merge(prev_sources, new.cluster_sources, n),
            });
        }
        // Clusters no longer in the config are dropped with their history.
        self.snapshot = Snapshot { rounds: n + 1, clusters };
        self.times.push_back(at_ms);
        let mut drop = self.times.len().saturating_sub(self.max_rounds);
        while drop < self.times.len().saturating_sub(2)
            && self.times.get(drop).is_some_and(|t| at_ms - t > self.window_ms)
        {
            drop += 1;
        }
        if drop > 0 {
            self.trim(drop);
        }
        // The round that just left the recent head goes if it is too close to the one before.
        let len = self.times.len();
        if len > RECENT_ROUNDS + 1 {
            let c = len - 1 - RECENT_ROUNDS;
            if self.times[c] - self.times[c - 1] < THIN_MS {
                self.remove_round(c);
            }
        }
        // Strings only the table still holds belonged to rounds that left the window.
        self.atoms.retain(|a| !a.is_unique());
    }

    /// Replaces each string of the new round by the window's copy of it (adding new ones), so
    /// the round's own copies are freed when its parse result goes.
    fn share_atoms(&mut self, round: &mut Snapshot) {
        let atoms = &mut self.atoms;
        let mut share = |a: &mut Atom| match atoms.get(a.as_str()) {
            Some(held) => *a = held.clone(),
            None => {
                atoms.insert(a.clone());
            }
        };
        for c in &mut round.clusters {
            for s in
                c.cluster_sources.iter_mut().chain(c.nodes.iter_mut().flat_map(|n| &mut n.sources))
            {
                for sample in s.points.iter_mut().flatten().flat_map(|p| &mut p.samples) {
                    share(&mut sample.name);
                    for (k, v) in &mut sample.labels {
                        share(k);
                        share(v);
                    }
                }
            }
        }
    }

    fn remove_round(&mut self, i: usize) {
        self.times.remove(i);
        self.snapshot.rounds -= 1;
        for c in &mut self.snapshot.clusters {
            for s in
                c.cluster_sources.iter_mut().chain(c.nodes.iter_mut().flat_map(|n| &mut n.sources))
            {
                if i < s.points.len() {
                    s.points.remove(i);
                }
            }
        }
    }

    fn trim(&mut self, k: usize) {
        self.times.drain(..k);
        self.snapshot.rounds -= k;
        let live = |s: &SourceSeries| s.points.iter().any(Option::is_some);
        for c in &mut self.snapshot.clusters {
            for s in
                c.cluster_sources.iter_mut().chain(c.nodes.iter_mut().flat_map(|n| &mut n.sources))
            {
                s.points.drain(..k.min(s.points.len()));
            }
            c.cluster_sources.retain(live);
            for n in &mut c.nodes {
                n.sources.retain(live);
            }
        }
    }
}

/// History of `before` joined with this round's `now` by source; series missing from `now`
/// get a gap and are dropped once they hold no point at all.
fn merge(mut before: Vec<SourceSeries>, now: Vec<SourceSeries>, n: usize) -> Vec<SourceSeries> {
    let mut out = Vec::with_capacity(now.len());
    for s in now {
        let point = s.points.into_iter().next().flatten();
        let mut points = match before.iter().position(|b| b.source == s.source) {
            Some(i) => before.swap_remove(i).points,
            None => Vec::new(),
        };
        points.resize(n, None);
        points.push(point);
        out.push(SourceSeries { source: s.source, points });
    }
    for mut b in before {
        b.points.resize(n, None);
        b.points.push(None);
        if b.points.iter().any(Option::is_some) {
            out.push(b);
        }
    }
    out
}

fn wanted(keep: &Keep, s: &Sample) -> bool {
    keep.get(s.name.as_str()).is_some_and(|sels| sels.iter().any(|sel| sel.matches(s)))
}

fn filter(round: &mut Snapshot, keep: &Keep) {
    for c in &mut round.clusters {
        for s in c.cluster_sources.iter_mut().chain(c.nodes.iter_mut().flat_map(|n| &mut n.sources))
        {
            for p in s.points.iter_mut().flatten() {
                p.samples.retain(|x| wanted(keep, x));
                p.samples.shrink_to_fit();
            }
        }
    }
}

/// The series the feature catalogue reads, by metric name: everything else is dropped on
/// arrival, which is most of a JMX exporter's output.
pub fn catalog_selectors(catalog: &crate::features::catalog::Catalog) -> Keep {
    let mut keep = Keep::default();
    for alt in catalog.base.iter().flat_map(|f| &f.from) {
        keep.entry(alt.selector.name.clone()).or_default().push(alt.selector.clone());
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::System;
    use crate::snapshot::Point;

    fn round(nodes: &[(&str, Option<f64>)], ts: i64) -> Snapshot {
        Snapshot {
            rounds: 1,
            clusters: vec![ClusterSnapshot {
                name: "c".into(),
                system: System::Kafka,
                nodes: nodes
                    .iter()
                    .map(|(name, v)| NodeSnapshot {
                        name: (*name).into(),
                        sources: vec![SourceSeries {
                            source: format!("http://{name}/metrics"),
                            points: vec![v.map(|v| Point {
                                timestamp_ms: ts,
                                samples: vec![
                                    Sample::new("keep_me", vec![], v),
                                    Sample::new("drop_me", vec![], v),
                                ],
                            })],
                        }],
                    })
                    .collect(),
                cluster_sources: vec![],
            }],
        }
    }

    #[test]
    fn history_is_kept_by_key_and_bounded_by_rounds_and_time() {
        let keep: Keep = [("keep_me".to_string(), vec![Selector::parse("keep_me").unwrap()])]
            .into_iter()
            .collect();
        let mut w = Window::new(3, 60_000, keep);
        let push = |w: &mut Window, mut r: Snapshot, t: i64| {
            w.filter_round(&mut r);
            w.push(r, t);
        };
        push(&mut w, round(&[("a", Some(1.0)), ("b", Some(1.0))], 0), 0);
        push(&mut w, round(&[("b", Some(2.0)), ("a", None)], 10_000), 10_000);
        push(
            &mut w,
            round(&[("a", Some(3.0)), ("b", Some(3.0)), ("new", Some(3.0))], 20_000),
            20_000,
        );
        let s = w.snapshot();
        assert_eq!(s.rounds, 3);
        let a = &s.clusters[0].nodes[0];
        assert_eq!(a.name, "a");
        let values: Vec<Option<f64>> =
            a.sources[0].points.iter().map(|p| p.as_ref().map(|p| p.samples[0].value)).collect();
        assert_eq!(values, [Some(1.0), None, Some(3.0)]);
        let new = s.clusters[0].nodes.iter().find(|n| n.name == "new").unwrap();
        assert_eq!(new.sources[0].points.len(), 3, "a new series is padded to the round count");
        assert_eq!(w.samples(), 6, "only catalogue names are kept");
        // A fourth round pushes the oldest out (max 3 rounds) ...
        w.push(round(&[("a", Some(4.0)), ("b", Some(4.0))], 30_000), 30_000);
        assert_eq!(w.snapshot().rounds, 3);
        // ... and a long gap drops everything older than 60 s but the last two rounds.
        w.push(round(&[("a", Some(5.0)), ("b", Some(5.0))], 200_000), 200_000);
        assert_eq!(w.snapshot().rounds, 2);
        // "new" disappeared from the config: carried while it has points, then dropped.
        w.push(round(&[("a", Some(6.0)), ("b", Some(6.0))], 210_000), 210_000);
        assert!(w.snapshot().clusters[0].nodes.iter().all(|n| n.name != "new"));
    }

    #[test]
    fn rounds_share_one_copy_of_each_string_and_release_it_with_the_last_round() {
        let mut w = Window::new(2, 600_000, Keep::default());
        let labelled = |v: f64| {
            let mut r = round(&[("a", Some(v))], 0);
            let p = r.clusters[0].nodes[0].sources[0].points[0].as_mut().unwrap();
            p.samples[0].labels = crate::sample::labels([("keyspace", "ks1")]);
            r
        };
        w.push(labelled(1.0), 0);
        w.push(labelled(2.0), 15_000);
        let points = &w.snapshot().clusters[0].nodes[0].sources[0].points;
        let (first, second) =
            (&points[0].as_ref().unwrap().samples, &points[1].as_ref().unwrap().samples);
        assert_eq!(second[0].value, 2.0);
        assert!(Atom::ptr_eq(&first[0].name, &second[0].name), "names are shared across rounds");
        assert!(Atom::ptr_eq(&first[0].labels[0].1, &second[0].labels[0].1));
        assert_eq!(w.atoms.len(), 4, "keep_me, drop_me, keyspace, ks1");
        // Rounds without the label: once both labelled rounds have left, its strings go too.
        w.push(round(&[("a", Some(3.0))], 30_000), 30_000);
        w.push(round(&[("a", Some(4.0))], 45_000), 45_000);
        assert!(w.atoms.iter().all(|a| *a != "keyspace" && *a != "ks1"), "{:?}", w.atoms);
    }

    #[test]
    fn the_parse_filter_keeps_catalogue_names_only() {
        let keep: Keep =
            [("keep_me".to_string(), vec![Selector::parse("keep_me{x=\"1\"}").unwrap()])]
                .into_iter()
                .collect();
        let w = Window::new(3, 60_000, keep);
        assert!(w.keeps("keep_me"));
        assert!(!w.keeps("drop_me"));
        assert!(
            Window::new(3, 60_000, Keep::default()).keeps("anything"),
            "no catalogue: keep all"
        );
    }

    #[test]
    fn older_rounds_are_thinned_to_one_per_minute() {
        let mut w = Window::new(100, 600_000, Keep::default());
        for i in 0..40 {
            w.push(
                round(&[("a", Some(f64::from(i)))], i64::from(i) * 15_000),
                i64::from(i) * 15_000,
            );
        }
        let times: Vec<i64> = w.snapshot().clusters[0].nodes[0].sources[0]
            .points
            .iter()
            .map(|p| p.as_ref().unwrap().timestamp_ms)
            .collect();
        assert_eq!(w.snapshot().rounds, times.len());
        // The newest four every 15 s; before them one per minute back to the first.
        assert_eq!(&times[times.len() - 4..], [540_000, 555_000, 570_000, 585_000]);
        assert!(times.windows(2).take(times.len() - 5).all(|p| p[1] - p[0] >= 60_000), "{times:?}");
        assert_eq!(times[0], 0);
        assert!(times.len() <= 15, "{}", times.len());
    }
}
