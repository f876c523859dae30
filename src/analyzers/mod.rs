//! Analyzers: feature frames in, findings out. No I/O happens here.
//!
//! The rules engine runs over the frame of every round in order, and the lifecycle keeps
//! what has held for each rule's `for`; what is firing after the last round is the advice.

pub mod capacity;
pub mod classifier;
pub mod rules;

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
    let mut lifecycle = Lifecycle::default();
    for frames in rounds {
        let (now_ms, active) = evaluate_round(frames, rules)?;
        if let Some(now_ms) = now_ms {
            lifecycle.observe(now_ms, active);
        }
    }
    Ok(Analysis {
        firing: lifecycle.in_state(State::Firing),
        pending: lifecycle.in_state(State::Pending),
    })
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
