//! One `advise` run: collect → extract → analyze → report.

use crate::analyzers::capacity::{self, Capacity, limits::CapacityConfig};
use crate::analyzers::{self, rules::Rule, rules::RuleSet};
use crate::classify::classes::ClassBook;
use crate::classify::store::{self, Classifiers};
use crate::config::{Config, ConfigIssue, parse_utc_timestamp};
use crate::features::{self, catalog::Catalog};
use crate::findings::Finding;
use crate::findings::sort_for_report;
use crate::sinks::report::{Report, SnoozedFinding};
use crate::snapshot::Snapshot;
use crate::sources;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// How far back rates and slopes look: the whole run, capped at 10 minutes of data time,
/// like a `[10m]` range in PromQL.
pub const MAX_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Loads the rules a config asks for: its `rule_dirs`, or the built-in packs.
pub fn load_rules(config: &Config, catalog: &Catalog) -> RuleSet {
    if config.rule_dirs.is_empty() {
        RuleSet::builtin(catalog)
    } else {
        RuleSet::load(&config.rule_dirs, catalog)
    }
}

/// Scrapes every target of `config`, evaluates `rules`, and builds the report.
///
/// # Errors
/// [`Error::NoTargetUp`] when no target answered at all; an internal polars error.
pub async fn advise(config: &Config, rules: &RuleSet) -> Result<Report> {
    advise_recorded(config, rules, None).await
}

/// [`advise`] with the given classifiers instead of the shipped ones
/// ([`Classifiers::none`] advises with rules alone).
///
/// # Errors
/// As [`advise`].
pub async fn advise_with(
    config: &Config,
    rules: &RuleSet,
    classifiers: &Classifiers,
) -> Result<Report> {
    advise_recorded_with(config, rules, None, classifiers).await
}

/// [`advise`], with `recorded`: earlier fetches of the same targets (a recorded history,
/// such as the demo's fast-forwarded days) that only the capacity forecasts read; the
/// checks run on the live scrapes as usual, so nothing is reported twice. The recorded
/// history is parsed while the live scrapes wait between rounds.
///
/// # Errors
/// As [`advise`].
pub async fn advise_recorded(
    config: &Config,
    rules: &RuleSet,
    recorded: Option<sources::Rounds>,
) -> Result<Report> {
    advise_recorded_with(config, rules, recorded, store::shipped()).await
}

/// [`advise_recorded`] with the given classifiers.
///
/// # Errors
/// As [`advise`].
pub async fn advise_recorded_with(
    config: &Config,
    rules: &RuleSet,
    recorded: Option<sources::Rounds>,
    classifiers: &Classifiers,
) -> Result<Report> {
    let customized = customize(config, rules.rules.clone()).map_err(Error::ConfigIssues)?;
    let client = sources::http_client(config.timeout())?;
    let recorded = recorded.map(|r| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<features::RoundFrames>> {
            let started = std::time::Instant::now();
            let window = history_window_ms(&r);
            let snapshot = sources::assemble_rounds(&config, &r).0;
            let frames = features::extract(&snapshot, Catalog::builtin(), window)?;
            tracing::debug!(elapsed_ms = started.elapsed().as_millis(), "Recorded history read.");
            Ok(frames)
        })
    });
    let (rounds, prometheus) = futures::join!(
        sources::fetch_rounds(config, &client),
        sources::collect_prometheus(config, &client, Catalog::builtin(), crate::clock::now_ms()),
    );
    let recorded = match recorded {
        Some(task) => task
            .await
            .map_err(|e| Error::Internal(format!("recorded history task failed: {e}")))??,
        None => Vec::new(),
    };
    report(config, rules, customized, &rounds, prometheus, recorded, classifiers).await
}

/// The window rates are read over in a recorded history: one and a half times its spacing
/// (at least [`MAX_WINDOW_MS`]), so each round's CPU and network rates span the gap back to
/// the round before. A history recorded every 3 hours would otherwise give no rate at all,
/// and CPU and network would never be forecast from it.
fn history_window_ms(r: &sources::Rounds) -> i64 {
    let mut gaps: Vec<i64> = r
        .raws
        .iter()
        .flat_map(|rs| {
            let times: Vec<i64> =
                rs.iter().filter_map(|x| x.as_ref().ok()).map(|x| x.fetched_ms).collect();
            times.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()
        })
        .filter(|g| *g > 0)
        .collect();
    gaps.sort_unstable();
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(0);
    (median + median / 2).max(MAX_WINDOW_MS)
}

/// Advises from a support bundle's recorded fetches instead of live targets: the same
/// parsing and analysis as [`advise`], so the same findings.
///
/// # Errors
/// As [`advise`].
pub async fn advise_rounds(
    config: &Config,
    rules: &RuleSet,
    rounds: &sources::Rounds,
) -> Result<Report> {
    let customized = customize(config, rules.rules.clone()).map_err(Error::ConfigIssues)?;
    report(
        config,
        rules,
        customized,
        rounds,
        (Vec::new(), Vec::new()),
        Vec::new(),
        store::shipped(),
    )
    .await
}

async fn report(
    config: &Config,
    rules: &RuleSet,
    customized: Vec<Rule>,
    rounds: &sources::Rounds,
    (history, prom_health): (Vec<Snapshot>, Vec<sources::TargetHealth>),
    recorded: Vec<features::RoundFrames>,
    classifiers: &Classifiers,
) -> Result<Report> {
    let (snapshot, mut targets) = sources::assemble_rounds(config, rounds);
    targets.extend(prom_health);
    if !targets.iter().any(|t| t.scrapes_ok > 0) {
        return Err(Error::NoTargetUp);
    }
    let (facts, facts_health) = sources::config_files::read_all(config, Catalog::builtin());
    targets.extend(facts_health);
    let mut findings = Vec::new();
    let mut frames = Vec::new();
    for mut s in std::iter::once(snapshot).chain(history).filter(|s| !s.clusters.is_empty()) {
        sources::config_files::attach(&mut s, &facts);
        let (f, rounds) = evaluate(s, customized.clone(), classifiers.clone()).await?;
        findings.extend(f);
        frames.extend(rounds);
    }
    let capacity_config: BTreeMap<String, CapacityConfig> =
        config.clusters.iter().map(|c| (c.name.clone(), c.capacity.clone())).collect();
    let capacity = tokio::task::spawn_blocking(move || -> Result<Capacity> {
        let started = std::time::Instant::now();
        frames.extend(recorded);
        let capacity = capacity::analyze(&frames, &capacity_config);
        tracing::debug!(elapsed_ms = started.elapsed().as_millis(), "Capacity analyzed.");
        Ok(capacity)
    })
    .await
    .map_err(|e| Error::Internal(format!("capacity task failed: {e}")))??;
    findings.extend(capacity.findings);
    let (findings, snoozed) = suppress(config, findings, crate::clock::now_ms());
    let (mut findings, set_aside) = crate::findings::conflicts::resolve(findings);
    sort_for_report(&mut findings);
    Ok(Report {
        targets,
        findings,
        snoozed,
        rule_errors: rules.errors.iter().map(ToString::to_string).collect(),
        charts: capacity.charts,
        set_aside,
    })
}

/// Features and rules are CPU work (and polars may block): run them on a blocking thread so
/// the async runtime, whichever flavour the caller uses, keeps serving. Returns the firing
/// findings (rules, then classifiers over the last round) and the frames, which the capacity
/// forecasts read afterwards.
async fn evaluate(
    snapshot: Snapshot,
    rules: Vec<Rule>,
    classifiers: Classifiers,
) -> Result<(Vec<Finding>, Vec<features::RoundFrames>)> {
    tokio::task::spawn_blocking(move || -> Result<(Vec<Finding>, Vec<features::RoundFrames>)> {
        let rounds = features::extract(&snapshot, Catalog::builtin(), MAX_WINDOW_MS)?;
        let book = if classifiers.models.is_empty() {
            None
        } else {
            Some(ClassBook::builtin().map_err(Error::Internal)?)
        };
        let judges = book.as_ref().map(|b| (&classifiers, b));
        let firing = analyzers::analyze_with(&rounds, &rules, judges)?.firing;
        Ok((firing, rounds))
    })
    .await
    .map_err(|e| Error::Internal(format!("evaluation task failed: {e}")))?
}

/// Applies the config's control over checks to `rules`: globally disabled checks are
/// removed and per-cluster thresholds replace the numbers in the rules' comparisons.
///
/// # Errors
/// Every check id the rules do not have and every override that matches no comparison.
pub fn customize(config: &Config, mut rules: Vec<Rule>) -> Result<Vec<Rule>, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let ids: std::collections::BTreeSet<String> = rules.iter().map(|r| r.id.clone()).collect();
    let known = |id: &str| ids.contains(id) || capacity::CHECK_IDS.contains(&id);
    for (i, id) in config.checks.disabled.iter().enumerate() {
        if !known(id) {
            issues.push(ConfigIssue {
                path: format!("checks.disabled[{i}]"),
                message: format!("unknown check '{id}'"),
            });
        }
    }
    for (ci, c) in config.clusters.iter().enumerate() {
        for (i, id) in c.disabled_checks.iter().enumerate() {
            if !known(id) {
                issues.push(ConfigIssue {
                    path: format!("clusters[{ci}].disabled_checks[{i}]"),
                    message: format!("unknown check '{id}'"),
                });
            }
        }
        for (id, overrides) in &c.thresholds {
            let path = format!("clusters[{ci}].thresholds.{id}");
            if !rules.iter().any(|r| r.id == *id && r.system == c.system) {
                issues.push(ConfigIssue {
                    path,
                    message: format!("no {} check '{id}'", c.system.as_str()),
                });
                continue;
            }
            for (measured, value) in overrides {
                let mut changed = 0;
                for r in rules.iter_mut().filter(|r| r.id == *id && r.system == c.system) {
                    changed += r.expr.with_threshold_overrides(measured, &c.name, *value);
                }
                if changed == 0 {
                    let rule = rules.iter().find(|r| r.id == *id);
                    issues.push(ConfigIssue {
                        path: format!("{path}.{measured}"),
                        message: format!(
                            "'{measured}' is not compared with a number in {id} (expr: {})",
                            rule.map_or("", |r| r.expr_text.as_str())
                        ),
                    });
                }
            }
        }
    }
    rules.retain(|r| !config.checks.disabled.contains(&r.id));
    if issues.is_empty() { Ok(rules) } else { Err(issues) }
}

/// Drops findings of checks disabled for their cluster, and snoozed findings whose snooze
/// has not expired at `now_ms`. Returns the kept findings and the snoozed ones.
pub fn suppress(
    config: &Config,
    findings: Vec<Finding>,
    now_ms: i64,
) -> (Vec<Finding>, Vec<SnoozedFinding>) {
    let mut kept = Vec::new();
    let mut snoozed = Vec::new();
    for f in findings {
        let disabled = config
            .clusters
            .iter()
            .any(|c| c.name == f.cluster && c.disabled_checks.contains(&f.id));
        if disabled {
            continue;
        }
        let snooze = config.checks.snoozed.iter().find(|s| {
            s.fingerprint.eq_ignore_ascii_case(&f.fingerprint)
                && parse_utc_timestamp(&s.until).is_ok_and(|until| until > now_ms)
        });
        match snooze {
            Some(s) => snoozed.push(SnoozedFinding {
                fingerprint: f.fingerprint,
                id: f.id,
                cluster: f.cluster,
                node: f.node,
                until: s.until.clone(),
                reason: s.reason.clone(),
            }),
            None => kept.push(f),
        }
    }
    (kept, snoozed)
}
