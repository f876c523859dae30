//! Analyzers: feature frames in, findings out. No I/O happens here.
//!
//! The rules engine runs over the frame of every round in order, and the lifecycle keeps
//! what has held for each rule's `for`; what is firing after the last round is the advice.
//!
//! [`evaluate_round_with`] is the one judgement of one round that `advise` and the daemon
//! share: rules, then the classifiers. `advise` replays it over every round it holds with a
//! throw-away [`Lifecycle`] ([`analyze_with`]); the daemon calls it once per cycle and keeps
//! its lifecycle in SQLite. Neither has its own copy of what is evaluated.

pub mod capacity;
pub mod classifier;
pub mod rules;

use crate::classify::classes::ClassBook;
use crate::classify::store::Classifiers;
use crate::features::RoundFrames;
use crate::findings::lifecycle::{Active, Lifecycle, State};
use crate::findings::{Finding, fingerprint};
use rules::Rule;

/// What one analysis concluded.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Findings firing after the last round.
    pub firing: Vec<Finding>,
    /// Findings whose condition holds but not yet for their rule's `for`.
    pub pending: Vec<Finding>,
}

/// Evaluates `rules` over the frames of every round, oldest first.
///
/// # Errors
/// A polars error while evaluating, which means a bug (rules are type-checked at load).
pub fn analyze(
    rounds: &[RoundFrames],
    rules: &[Rule],
) -> Result<Analysis, polars::prelude::PolarsError> {
    analyze_with(rounds, rules, None)
}

/// [`analyze`], with classifiers judging the last round (they read a whole window's
/// features at once, so earlier rounds would only repeat the question on less data).
///
/// # Errors
/// As [`analyze`].
pub fn analyze_with(
    rounds: &[RoundFrames],
    rules: &[Rule],
    classifiers: Option<(&Classifiers, &ClassBook)>,
) -> Result<Analysis, polars::prelude::PolarsError> {
    let mut lifecycle = Lifecycle::default();
    let last = rounds.len().saturating_sub(1);
    for (i, frames) in rounds.iter().enumerate() {
        let judges = if i == last { classifiers } else { None };
        let (now_ms, active) = evaluate_round_with(frames, rules, judges)?;
        if let Some(now_ms) = now_ms {
            lifecycle.observe(now_ms, active);
        }
    }
    Ok(Analysis {
        firing: lifecycle.in_state(State::Firing),
        pending: lifecycle.in_state(State::Pending),
    })
}

/// How long a classifier finding keeps firing after the model stops reporting it: a
/// probability hovering around the reporting threshold would otherwise fire and resolve
/// (and page and un-page) every other cycle.
pub const CLASSIFIER_KEEP_FIRING_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// The `keep_firing_for` that applies now to a finding `rules` or a classifier produced
/// (`None` for other analyzers' and for rules no longer loaded): what a restored or reloaded
/// lifecycle re-derives, see [`Lifecycle::retime`].
pub fn keep_firing_for(rules: &[Rule], finding: &Finding) -> Option<std::time::Duration> {
    match finding.analyzer.as_str() {
        "rules" => rules
            .iter()
            .find(|r| r.id == finding.id && r.system == finding.system)
            .map(|r| r.keep_firing_for),
        "classifier" => Some(CLASSIFIER_KEEP_FIRING_FOR),
        _ => None,
    }
}

/// Everything judged over one round: the rules' findings ([`evaluate_round`]), then each
/// classifier's. A classifier finding has no `for` (the model already read the window's
/// rates and trends) and keeps firing for [`CLASSIFIER_KEEP_FIRING_FOR`] after it dips.
///
/// # Errors
/// As [`analyze`].
pub fn evaluate_round_with(
    frames: &RoundFrames,
    rules: &[Rule],
    classifiers: Option<(&Classifiers, &ClassBook)>,
) -> Result<(Option<i64>, Vec<Active>), polars::prelude::PolarsError> {
    let (now_ms, mut active) = evaluate_round(frames, rules)?;
    if let Some((classifiers, book)) = classifiers.filter(|(c, _)| !c.models.is_empty()) {
        active.extend(classifier::classify(frames, classifiers, book).into_iter().map(|finding| {
            Active {
                finding,
                for_: std::time::Duration::ZERO,
                keep_firing_for: CLASSIFIER_KEEP_FIRING_FOR,
            }
        }));
    }
    Ok((now_ms, active))
}

/// Evaluates `rules` over the frames of one round: the findings whose condition holds, and
/// the round's data time (the newest `timestamp_ms` of its rows; `None` when no row has one).
/// The daemon calls this once per cycle and drives its own persistent [`Lifecycle`].
///
/// # Errors
/// As [`analyze`].
pub fn evaluate_round(
    frames: &RoundFrames,
    rules: &[Rule],
) -> Result<(Option<i64>, Vec<Active>), polars::prelude::PolarsError> {
    let mut active = Vec::new();
    let mut now_ms = i64::MIN;
    for frame in frames {
        if let Some(ts) = frame.f64_column("timestamp_ms") {
            now_ms = now_ms.max(ts.into_iter().flatten().fold(i64::MIN, |a, t| a.max(t as i64)));
        }
        for m in rules::evaluate(rules, frame)? {
            let rule = &rules[m.rule];
            let resource = match &m.node {
                Some(node) => format!("node:{node}"),
                None => format!("cluster:{}", m.cluster),
            };
            active.push(Active {
                finding: Finding {
                    fingerprint: fingerprint(&rule.id, rule.system, &m.cluster, m.node.as_deref()),
                    id: rule.id.clone(),
                    system: rule.system,
                    cluster: m.cluster,
                    node: m.node,
                    category: rule.category,
                    severity: rule.severity,
                    impact: rule.impact.clone(),
                    analyzer: "rules".into(),
                    resources: vec![resource],
                    symptom: m.symptom,
                    cause: m.cause,
                    evidence: m.evidence,
                    action: m.action,
                    docs_url: rule.docs_url.clone(),
                    advises: rule.advises.clone(),
                },
                for_: rule.for_,
                keep_firing_for: rule.keep_firing_for,
            });
        }
    }
    Ok(((now_ms != i64::MIN).then_some(now_ms), active))
}
