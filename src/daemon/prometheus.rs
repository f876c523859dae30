//! Clusters read through a Prometheus (`prometheus:` in the config) in the daemon.
//!
//! Such a cluster is never scraped by opsadvisor: Prometheus already does, and its history
//! is read with one `query_range` per cluster ([`crate::sources::prometheus`]), as `advise`
//! reads it. Prometheus answers on its own grid (`step`, the end aligned to it), so asking
//! again before the next step would return the same points: a cluster is queried when its
//! grid moved, and between two queries its last judgement stands in each cycle.
//!
//! Each answer is judged as the live window is: the features of its last step, the rules
//! and the classifiers ([`crate::analyzers::evaluate_round_with`]). When the history spans at
//! least [`capacity::MIN_SPAN_MS`] (e.g. `range: 14d, step: 1h`) the capacity forecasts run
//! over all of it, once per step; shorter histories could not yield a forecast, so their
//! rounds are not even turned into features.
//!
//! A Prometheus that does not answer changes nothing about its clusters' findings: no data
//! is no evidence of recovery. Its target is down in `/api/v1/targets` and `/metrics`.

use crate::analyzers::{self, capacity, rules::Rule};
use crate::classify::classes::ClassBook;
use crate::classify::store::Classifiers;
use crate::config::{Config, parse_duration};
use crate::features::{self, catalog::Catalog};
use crate::findings::lifecycle::Active;
use crate::pipeline::MAX_WINDOW_MS;
use crate::snapshot::Snapshot;
use crate::sources::{self, TargetHealth};
use std::collections::BTreeMap;
use std::time::Duration;

/// What is known of one Prometheus-read cluster.
#[derive(Debug, Clone)]
struct Entry {
    /// End of the last answered query (aligned to the step), Unix ms.
    end_ms: i64,
    /// The last judgement: rules, classifiers, capacity.
    active: Vec<Active>,
    /// The last query's outcome.
    health: TargetHealth,
}

/// The Prometheus-read clusters' last answers.
#[derive(Debug, Default)]
pub struct PrometheusClusters {
    entries: BTreeMap<String, Entry>,
    /// Query time of the last batch, for `/metrics`.
    pub last_query_duration: Duration,
}

/// What judging needs, borrowed from the daemon.
pub struct Judges<'a> {
    /// The rules in force.
    pub rules: &'a [Rule],
    /// The classifiers in force, with their class book (`None`: rules alone).
    pub classifiers: Option<(&'a Classifiers, &'a ClassBook)>,
}

impl PrometheusClusters {
    /// The clusters whose grid moved since their last answer (or that never answered):
    /// a config holding only those, for [`sources::collect_prometheus`].
    pub fn due(&self, config: &Config, now_ms: i64) -> Option<Config> {
        let clusters: Vec<_> = config
            .clusters
            .iter()
            .filter(|c| {
                let Some(p) = &c.prometheus else { return false };
                let step = parse_duration(&p.step).map_or(1, |d| d.as_millis().max(1) as i64);
                let end = now_ms - now_ms.rem_euclid(step);
                self.entries.get(&c.name).is_none_or(|e| e.end_ms != end)
            })
            .cloned()
            .collect();
        (!clusters.is_empty()).then(|| Config { clusters, ..config.clone() })
    }

    /// Forgets clusters no longer read through Prometheus (after a reload).
    pub fn retain(&mut self, config: &Config) {
        self.entries.retain(|name, _| {
            config.clusters.iter().any(|c| &c.name == name && c.prometheus.is_some())
        });
    }

    /// Judges fresh answers (`snapshots` and `health` from [`sources::collect_prometheus`]
    /// over the `due` config) and stores them. CPU-bound: call it off the async threads.
    ///
    /// # Errors
    /// A polars error from the features (a bug), for the cluster it concerns; the others
    /// are stored.
    pub fn absorb(
        &mut self,
        due: &Config,
        now_ms: i64,
        snapshots: Vec<Snapshot>,
        health: Vec<TargetHealth>,
        judges: &Judges<'_>,
        attach_facts: impl Fn(&mut Snapshot),
    ) -> crate::Result<()> {
        let mut judged: BTreeMap<String, Vec<Active>> = BTreeMap::new();
        let mut first_error = None;
        for mut snapshot in snapshots {
            let Some(name) = snapshot.clusters.first().map(|c| c.name.clone()) else { continue };
            attach_facts(&mut snapshot);
            match judge(&snapshot, due, judges) {
                Ok(active) => {
                    judged.insert(name, active);
                }
                Err(e) => {
                    tracing::error!(cluster = %name, error = %e, "Evaluating the Prometheus history failed.");
                    first_error.get_or_insert(e);
                }
            }
        }
        for h in health {
            let step = due
                .clusters
                .iter()
                .find(|c| c.name == h.cluster)
                .and_then(|c| c.prometheus.as_ref())
                .and_then(|p| parse_duration(&p.step).ok())
                .map_or(1, |d| d.as_millis().max(1) as i64);
            let end_ms = now_ms - now_ms.rem_euclid(step);
            match judged.remove(&h.cluster) {
                Some(active) => {
                    self.entries.insert(h.cluster.clone(), Entry { end_ms, active, health: h });
                }
                // No answer: keep the last judgement (and ask again next cycle).
                None => match self.entries.get_mut(&h.cluster) {
                    Some(e) => e.health = h,
                    None => {
                        self.entries.insert(
                            h.cluster.clone(),
                            Entry { end_ms: i64::MIN, active: Vec::new(), health: h },
                        );
                    }
                },
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Every cluster's last judgement, for this cycle's lifecycle.
    pub fn active(&self) -> impl Iterator<Item = &Active> {
        self.entries.values().flat_map(|e| &e.active)
    }

    /// Every cluster's last query outcome.
    pub fn health(&self) -> impl Iterator<Item = &TargetHealth> {
        self.entries.values().map(|e| &e.health)
    }
}

/// Rules and classifiers over the last step; capacity over the whole history when it is
/// long enough to forecast from.
fn judge(snapshot: &Snapshot, config: &Config, judges: &Judges<'_>) -> crate::Result<Vec<Active>> {
    let catalog = Catalog::builtin();
    let last = features::extract_last(snapshot, catalog, MAX_WINDOW_MS)?;
    let (_, mut active) = analyzers::evaluate_round_with(&last, judges.rules, judges.classifiers)?;
    let span = |s: &Snapshot| {
        let times = s
            .clusters
            .iter()
            .flat_map(|c| c.nodes.iter().flat_map(|n| &n.sources).chain(&c.cluster_sources));
        let ts: Vec<i64> =
            times.flat_map(|s| s.points.iter().flatten().map(|p| p.timestamp_ms)).collect();
        ts.iter().max().zip(ts.iter().min()).map_or(0, |(a, b)| a - b)
    };
    if span(snapshot) >= capacity::MIN_SPAN_MS {
        let rounds = features::extract(snapshot, catalog, MAX_WINDOW_MS)?;
        let limits = config.clusters.iter().map(|c| (c.name.clone(), c.capacity.clone())).collect();
        let found = capacity::analyze(&rounds, &limits).findings;
        active.extend(found.into_iter().map(|finding| Active {
            finding,
            for_: Duration::ZERO,
            keep_firing_for: Duration::ZERO,
        }));
    }
    Ok(active)
}

/// Queries the due clusters; `(due config, snapshots, health)` or `None` when none is due.
pub async fn query(
    clusters: &PrometheusClusters,
    config: &Config,
    client: &reqwest::Client,
    now_ms: i64,
) -> Option<(Config, Vec<Snapshot>, Vec<TargetHealth>)> {
    let due = clusters.due(config, now_ms)?;
    let (snapshots, health) =
        sources::collect_prometheus(&due, client, Catalog::builtin(), now_ms).await;
    Some((due, snapshots, health))
}
