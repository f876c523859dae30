//! The alert lifecycle of a finding: inactive → pending → firing → resolved.
//!
//! As in Prometheus's rule manager, a condition must hold for the rule's `for` duration
//! before its finding fires, and a firing finding stays firing for `keep_firing_for` after
//! the condition clears, so a flapping metric does not page twice. State is keyed by
//! fingerprint. Times are data times (milliseconds), never the wall clock, so a replay or
//! a fast-forwarded simulation behaves exactly like real time.

use super::Finding;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a finding is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The condition holds but not yet for `for`.
    Pending,
    /// Reported.
    Firing,
}

#[derive(Debug, Clone)]
struct Tracked {
    finding: Finding,
    state: State,
    active_since_ms: i64,
    last_active_ms: i64,
    keep_firing_for: Duration,
}

/// Tracks findings across evaluations.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    tracked: BTreeMap<String, Tracked>,
}

/// A finding observed active in one evaluation, with its rule's timing.
#[derive(Debug, Clone)]
pub struct Active {
    /// The finding as rendered in this evaluation.
    pub finding: Finding,
    /// The rule's `for`.
    pub for_: Duration,
    /// The rule's `keep_firing_for`.
    pub keep_firing_for: Duration,
}

impl Lifecycle {
    /// Records one evaluation at data time `now_ms` in which exactly `active` held.
    /// Returns the fingerprints that resolved in this evaluation.
    pub fn observe(&mut self, now_ms: i64, active: Vec<Active>) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        for a in active {
            let fp = a.finding.fingerprint.clone();
            seen.insert(fp.clone());
            let t = self.tracked.entry(fp).or_insert(Tracked {
                finding: a.finding.clone(),
                state: State::Pending,
                active_since_ms: now_ms,
                last_active_ms: now_ms,
                keep_firing_for: a.keep_firing_for,
            });
            t.finding = a.finding;
            t.last_active_ms = now_ms;
            t.keep_firing_for = a.keep_firing_for;
            if now_ms - t.active_since_ms >= a.for_.as_millis() as i64 {
                t.state = State::Firing;
            }
        }
        let resolved: Vec<String> = self
            .tracked
            .iter()
            .filter(|(fp, t)| {
                !seen.contains(*fp)
                    && (t.state == State::Pending
                        || now_ms - t.last_active_ms >= t.keep_firing_for.as_millis() as i64)
            })
            .map(|(fp, _)| fp.clone())
            .collect();
        for fp in &resolved {
            self.tracked.remove(fp);
        }
        resolved
    }

    /// Findings currently in `state`.
    pub fn in_state(&self, state: State) -> Vec<Finding> {
        self.tracked.values().filter(|t| t.state == state).map(|t| t.finding.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::System;
    use crate::findings::{Category, Severity};

    fn active(for_s: u64, keep_s: u64) -> Active {
        Active {
            finding: Finding {
                id: "x".into(),
                fingerprint: "fp".into(),
                system: System::Kafka,
                cluster: "c".into(),
                node: None,
                category: Category::Tuning,
                severity: Severity::Warning,
                impact: vec![],
                analyzer: "rules".into(),
                symptom: String::new(),
                cause: String::new(),
                resources: vec![],
                evidence: vec![],
                action: String::new(),
                docs_url: String::new(),
                advises: vec![],
            },
            for_: Duration::from_secs(for_s),
            keep_firing_for: Duration::from_secs(keep_s),
        }
    }

    #[test]
    fn pending_finding_fires_after_for_duration() {
        let mut l = Lifecycle::default();
        l.observe(0, vec![active(120, 0)]);
        assert_eq!(l.in_state(State::Pending).len(), 1);
        l.observe(60_000, vec![active(120, 0)]);
        assert!(l.in_state(State::Firing).is_empty());
        l.observe(120_000, vec![active(120, 0)]);
        assert_eq!(l.in_state(State::Firing).len(), 1);
    }

    #[test]
    fn a_gap_restarts_the_for_clock() {
        let mut l = Lifecycle::default();
        l.observe(0, vec![active(120, 0)]);
        assert!(l.observe(60_000, vec![]).contains(&"fp".to_string()));
        l.observe(120_000, vec![active(120, 0)]);
        assert!(l.in_state(State::Firing).is_empty());
    }

    #[test]
    fn keep_firing_for_holds_a_fired_finding_through_a_dip() {
        let mut l = Lifecycle::default();
        l.observe(0, vec![active(0, 300)]);
        assert_eq!(l.in_state(State::Firing).len(), 1);
        assert!(l.observe(60_000, vec![]).is_empty());
        assert_eq!(l.in_state(State::Firing).len(), 1);
        assert_eq!(l.observe(300_000, vec![]), vec!["fp".to_string()]);
    }
}
