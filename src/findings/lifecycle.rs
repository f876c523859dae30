//! The alert lifecycle of a finding: inactive → pending → firing → resolved.
//!
//! As in Prometheus's rule manager, a condition must hold for the rule's `for` duration
//! before its finding fires, and a firing finding stays firing for `keep_firing_for` after
//! the condition clears, so a flapping metric does not page twice. State is keyed by
//! fingerprint. Times are data times (milliseconds), never the wall clock, so a replay or
//! a fast-forwarded simulation behaves exactly like real time.
//!
//! Severity is sticky the same way: a finding rendered more severe is raised at once, one
//! rendered less severe keeps its severity until it has been rendered lower for
//! `keep_firing_for`. A classifier's probability hovering at its warning threshold would
//! otherwise switch the finding info ↔ warning every cycle, and a notification route with
//! `min_severity: warning` would see it fire and resolve each time.

use super::Finding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a finding is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The condition holds but not yet for `for`.
    Pending,
    /// Reported.
    Firing,
}

impl State {
    /// Lowercase name, as the API and the state store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Firing => "firing",
        }
    }

    /// Parses [`State::as_str`].
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "pending" => Some(State::Pending),
            "firing" => Some(State::Firing),
            _ => None,
        }
    }
}

/// One tracked finding: everything needed to resume its lifecycle after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracked {
    /// The finding as last rendered.
    pub finding: Finding,
    /// Pending or firing.
    pub state: State,
    /// When the condition started to hold (data time, ms): `for` counts from here.
    pub active_since_ms: i64,
    /// The last evaluation in which the condition held (data time, ms).
    pub last_active_ms: i64,
    /// When it fired (data time, ms), if it did.
    pub fired_at_ms: Option<i64>,
    /// The rule's `keep_firing_for`.
    #[serde(with = "millis")]
    pub keep_firing_for: Duration,
    /// The last evaluation that rendered the finding at (or above) its held severity (data
    /// time, ms): a lower severity is taken once this is `keep_firing_for` old. Absent in
    /// rows saved before it existed, where `last_active_ms` stands in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_seen_ms: Option<i64>,
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// What one evaluation changed for one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The finding (for a resolution: as last rendered while active).
    pub finding: Finding,
    /// The state before (`None`: inactive).
    pub from: Option<State>,
    /// The state after (`None`: inactive again, i.e. resolved).
    pub to: Option<State>,
    /// Data time of the evaluation, ms.
    pub at_ms: i64,
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
        self.observe_transitions(now_ms, active)
            .into_iter()
            .filter(|t| t.to.is_none())
            .map(|t| t.finding.fingerprint)
            .collect()
    }

    /// As [`Lifecycle::observe`], but returns every state change of this evaluation:
    /// new pending findings, findings that fired, and resolutions (in fingerprint order).
    pub fn observe_transitions(&mut self, now_ms: i64, active: Vec<Active>) -> Vec<Transition> {
        let mut changes = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for a in active {
            let fp = a.finding.fingerprint.clone();
            seen.insert(fp.clone());
            let mut from = Some(State::Pending);
            let t = self.tracked.entry(fp).or_insert_with(|| {
                from = None;
                Tracked {
                    finding: a.finding.clone(),
                    state: State::Pending,
                    active_since_ms: now_ms,
                    last_active_ms: now_ms,
                    fired_at_ms: None,
                    keep_firing_for: a.keep_firing_for,
                    severity_seen_ms: Some(now_ms),
                }
            });
            let before = if from.is_none() { None } else { Some(t.state) };
            let mut finding = a.finding;
            let seen = t.severity_seen_ms.unwrap_or(t.last_active_ms);
            if finding.severity < t.finding.severity
                && now_ms - seen < i64::try_from(a.keep_firing_for.as_millis()).unwrap_or(i64::MAX)
            {
                finding.severity = t.finding.severity;
            } else {
                t.severity_seen_ms = Some(now_ms);
            }
            t.finding = finding;
            t.last_active_ms = now_ms;
            t.keep_firing_for = a.keep_firing_for;
            if t.state == State::Pending
                && now_ms - t.active_since_ms
                    >= i64::try_from(a.for_.as_millis()).unwrap_or(i64::MAX)
            {
                t.state = State::Firing;
                t.fired_at_ms = Some(now_ms);
            }
            if before != Some(t.state) {
                changes.push(Transition {
                    finding: t.finding.clone(),
                    from: before,
                    to: Some(t.state),
                    at_ms: now_ms,
                });
            }
        }
        let resolved: Vec<String> = self
            .tracked
            .iter()
            .filter(|(fp, t)| {
                !seen.contains(*fp)
                    && (t.state == State::Pending
                        || now_ms - t.last_active_ms
                            >= i64::try_from(t.keep_firing_for.as_millis()).unwrap_or(i64::MAX))
            })
            .map(|(fp, _)| fp.clone())
            .collect();
        for fp in &resolved {
            if let Some(t) = self.tracked.remove(fp) {
                changes.push(Transition {
                    finding: t.finding,
                    from: Some(t.state),
                    to: None,
                    at_ms: now_ms,
                });
            }
        }
        changes
    }

    /// Every tracked finding, in fingerprint order: what a state store saves.
    pub fn entries(&self) -> impl Iterator<Item = &Tracked> {
        self.tracked.values()
    }

    /// The tracked state of one fingerprint.
    pub fn get(&self, fingerprint: &str) -> Option<&Tracked> {
        self.tracked.get(fingerprint)
    }

    /// A lifecycle resuming from saved entries (e.g. after a restart).
    pub fn restore(entries: impl IntoIterator<Item = Tracked>) -> Lifecycle {
        Lifecycle {
            tracked: entries.into_iter().map(|t| (t.finding.fingerprint.clone(), t)).collect(),
        }
    }

    /// Sets each tracked finding's `keep_firing_for` to what `current` says its rule or
    /// analyzer asks now (`None`: keep the saved one). Called on start and on reload: a
    /// finding restored from a store written by an older version or before a rule changed
    /// would otherwise resolve on the old timing until it is active again.
    pub fn retime(&mut self, current: impl Fn(&Finding) -> Option<Duration>) {
        for t in self.tracked.values_mut() {
            if let Some(d) = current(&t.finding) {
                t.keep_firing_for = d;
            }
        }
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

    #[test]
    fn transitions_name_each_change_once() {
        let mut l = Lifecycle::default();
        let t = l.observe_transitions(0, vec![active(60, 0)]);
        assert_eq!((t[0].from, t[0].to), (None, Some(State::Pending)));
        assert!(l.observe_transitions(30_000, vec![active(60, 0)]).is_empty());
        let t = l.observe_transitions(60_000, vec![active(60, 0)]);
        assert_eq!((t[0].from, t[0].to), (Some(State::Pending), Some(State::Firing)));
        assert!(l.observe_transitions(90_000, vec![active(60, 0)]).is_empty());
        let t = l.observe_transitions(120_000, vec![]);
        assert_eq!((t[0].from, t[0].to, t[0].at_ms), (Some(State::Firing), None, 120_000));
    }

    /// A classifier-like finding (no `for`, `keep_firing_for` 300 s) rendered at `severity`.
    fn rendered(severity: Severity) -> Active {
        let mut a = active(0, 300);
        a.finding.severity = severity;
        a
    }

    #[test]
    fn a_higher_severity_applies_at_once_a_lower_one_after_keep_firing_for() {
        let mut l = Lifecycle::default();
        let severity = |l: &Lifecycle| l.get("fp").unwrap().finding.severity;
        l.observe(0, vec![rendered(Severity::Info)]);
        assert_eq!(severity(&l), Severity::Info);
        l.observe(15_000, vec![rendered(Severity::Warning)]);
        assert_eq!(severity(&l), Severity::Warning, "raised at once");
        // Hovering at the threshold: every other cycle renders it info.
        for i in 2..20 {
            let s = if i % 2 == 0 { Severity::Info } else { Severity::Warning };
            l.observe(i * 15_000, vec![rendered(s)]);
            assert_eq!(severity(&l), Severity::Warning, "cycle {i}");
        }
        // Info from 300 s on (last warning at 285 s): held until 585 s, lowered at 585 s.
        for i in 20..39 {
            l.observe(i * 15_000, vec![rendered(Severity::Info)]);
            assert_eq!(severity(&l), Severity::Warning, "cycle {i}");
        }
        l.observe(39 * 15_000, vec![rendered(Severity::Info)]);
        assert_eq!(severity(&l), Severity::Info, "lowered after keep_firing_for");
        // A rule's finding (keep_firing_for 0) takes whatever it is rendered at.
        let mut r = Lifecycle::default();
        let mut a = active(0, 0);
        r.observe(0, vec![a.clone()]);
        a.finding.severity = Severity::Info;
        r.observe(15_000, vec![a]);
        assert_eq!(severity(&r), Severity::Info);
    }

    #[test]
    fn a_min_severity_warning_route_does_not_see_a_hovering_probability_flap() {
        let dir =
            std::env::temp_dir().join(format!("opsadvisor-lifecycle-route-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config: crate::sinks::notify::NotificationsConfig = serde_norway::from_str(
            "slack: [{ name: ops, webhook_url_file: /nonexistent, route: { min_severity: warning } }]",
        )
        .unwrap();
        let notifier = crate::sinks::notify::Notifier::open(&dir, &config).unwrap();
        let mut l = Lifecycle::default();
        // Ten minutes of a probability crossing 0.8 back and forth every 15 s cycle.
        for i in 0..40 {
            let s = if i % 2 == 0 { Severity::Warning } else { Severity::Info };
            let t = l.observe_transitions(i * 15_000, vec![rendered(s)]);
            let resolved: Vec<Finding> =
                t.into_iter().filter(|t| t.to.is_none()).map(|t| t.finding).collect();
            notifier.on_cycle(i * 15_000, &l.in_state(State::Firing), &resolved).unwrap();
        }
        let pending = notifier.stats().unwrap()[0].pending;
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(pending, 1, "one fire notification, no resolve/fire pairs");
    }

    #[test]
    fn a_restored_finding_waits_keep_firing_for_before_resolving() {
        let mut l = Lifecycle::default();
        l.observe(0, vec![active(0, 300)]);
        let json = serde_json::to_string(&l.entries().cloned().collect::<Vec<_>>()).unwrap();
        let restored = || Lifecycle::restore(serde_json::from_str::<Vec<Tracked>>(&json).unwrap());
        // As saved: still firing 60 s after it was last active, resolved at 300 s.
        let mut r = restored();
        assert!(r.observe(60_000, vec![]).is_empty());
        assert_eq!(r.observe(300_000, vec![]), ["fp"]);
        // Saved by a version (or under a rule) without keep_firing_for: re-derived on start.
        let mut old = restored();
        old.tracked.values_mut().for_each(|t| t.keep_firing_for = Duration::ZERO);
        old.retime(|_| Some(Duration::from_secs(300)));
        assert!(old.observe(60_000, vec![]).is_empty(), "held by the current keep_firing_for");
        assert_eq!(old.in_state(State::Firing).len(), 1);
        // An analyzer that says nothing keeps the saved value.
        let mut kept = restored();
        kept.retime(|_| None);
        assert!(kept.observe(60_000, vec![]).is_empty());
    }

    #[test]
    fn a_restored_lifecycle_resumes_without_waiting_for_again() {
        let mut l = Lifecycle::default();
        l.observe(0, vec![active(120, 0)]);
        l.observe(120_000, vec![active(120, 0)]);
        let saved: Vec<Tracked> = l.entries().cloned().collect();
        let json = serde_json::to_string(&saved).unwrap();
        let mut r = Lifecycle::restore(serde_json::from_str::<Vec<Tracked>>(&json).unwrap());
        assert_eq!(r.get("fp").unwrap().active_since_ms, 0);
        assert!(r.observe_transitions(180_000, vec![active(120, 0)]).is_empty());
        assert_eq!(r.in_state(State::Firing).len(), 1);
        assert_eq!(r.get("fp").unwrap().fired_at_ms, Some(120_000));
    }
}
