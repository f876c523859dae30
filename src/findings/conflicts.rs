//! No contradictory advice: when two findings about one node push one setting in opposite
//! directions (raise the heap for GC pressure, lower it for compressed oops), the report
//! shows one of them and says which was set aside and why.
//!
//! Rules declare what they advise (`advises: {setting: heap, direction: up}`); this module
//! is a pure function over findings, so the daemon and `advise` resolve the same way.
//! The kept finding is the more urgent one: higher severity, then the category that puts
//! more at risk (availability > capacity > tuning > best practice), then the one with more
//! evidence (more comparisons held), then the check id, so the choice is deterministic.

use super::{Category, Finding};
use serde::{Deserialize, Serialize};

/// Which way a finding moves a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Raise it (more heap, more threads, turn it on).
    Up,
    /// Lower it (less heap, fewer threads, turn it off).
    Down,
}

impl Direction {
    /// A verb for reports.
    pub fn verb(self) -> &'static str {
        match self {
            Direction::Up => "raise",
            Direction::Down => "lower",
        }
    }
}

/// One setting a finding's action changes, and which way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advice {
    /// The setting, named as the system names it (`heap`, `concurrent_compactors`, `num.io.threads`).
    pub setting: String,
    /// Which way.
    pub direction: Direction,
}

/// A finding left out of the report because a more urgent one advises the opposite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetAside {
    /// Its fingerprint.
    pub fingerprint: String,
    /// Its check.
    pub id: String,
    /// Its cluster.
    pub cluster: String,
    /// Its node.
    pub node: Option<String>,
    /// The setting both findings touch.
    pub setting: String,
    /// The check whose advice was kept.
    pub kept: String,
    /// Why, in one sentence.
    pub reason: String,
}

fn category_rank(c: Category) -> u8 {
    match c {
        Category::Availability => 3,
        Category::Capacity => 2,
        Category::Tuning => 1,
        Category::BestPractice => 0,
    }
}

/// The precedence of a finding when two disagree: larger wins.
fn precedence(f: &Finding) -> (super::Severity, u8, usize, std::cmp::Reverse<&str>) {
    (f.severity, category_rank(f.category), f.evidence.len(), std::cmp::Reverse(f.id.as_str()))
}

/// Removes findings whose advice contradicts a more urgent finding's on the same setting of
/// the same node (or cluster). Returns the findings kept, in their original order, and one
/// entry per finding set aside. Findings that agree, or touch different settings, all stay.
pub fn resolve(findings: Vec<Finding>) -> (Vec<Finding>, Vec<SetAside>) {
    let mut drop = vec![None::<SetAside>; findings.len()];
    for (i, a) in findings.iter().enumerate() {
        for adv in &a.advises {
            // The strongest finding advising the opposite on this setting for this entity.
            let rival = findings
                .iter()
                .enumerate()
                .filter(|(j, b)| {
                    *j != i
                        && b.system == a.system
                        && b.cluster == a.cluster
                        && b.node == a.node
                        && b.advises
                            .iter()
                            .any(|o| o.setting == adv.setting && o.direction != adv.direction)
                })
                .max_by(|(_, x), (_, y)| precedence(x).cmp(&precedence(y)));
            let Some((_, winner)) = rival else { continue };
            if precedence(winner) > precedence(a) && drop[i].is_none() {
                let why = if winner.severity != a.severity {
                    format!("it is {} and this is {}", winner.severity, a.severity)
                } else if winner.category != a.category {
                    format!("{} outranks {}", winner.category.as_str(), a.category.as_str())
                } else if winner.evidence.len() != a.evidence.len() {
                    format!(
                        "it rests on {} measured conditions, this on {}",
                        winner.evidence.len(),
                        a.evidence.len()
                    )
                } else {
                    "both weigh the same; the choice is by check id".to_string()
                };
                let opposite = if adv.direction == super::conflicts::Direction::Up {
                    Direction::Down
                } else {
                    Direction::Up
                };
                drop[i] = Some(SetAside {
                    fingerprint: a.fingerprint.clone(),
                    id: a.id.clone(),
                    cluster: a.cluster.clone(),
                    node: a.node.clone(),
                    setting: adv.setting.clone(),
                    kept: winner.id.clone(),
                    reason: format!(
                        "{} advises to {} {}, {} advises to {} it; kept {} because {why}",
                        a.id,
                        adv.direction.verb(),
                        adv.setting,
                        winner.id,
                        opposite.verb(),
                        winner.id
                    ),
                });
            }
        }
    }
    let mut kept = Vec::new();
    let mut set_aside = Vec::new();
    for (f, d) in findings.into_iter().zip(drop) {
        match d {
            Some(s) => set_aside.push(s),
            None => kept.push(f),
        }
    }
    (kept, set_aside)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::System;
    use crate::findings::{Evidence, Severity};

    fn finding(
        id: &str,
        node: &str,
        sev: Severity,
        cat: Category,
        advice: &[(&str, Direction)],
    ) -> Finding {
        Finding {
            id: id.into(),
            fingerprint: format!("fp-{id}-{node}"),
            system: System::Cassandra,
            cluster: "c".into(),
            node: Some(node.into()),
            category: cat,
            severity: sev,
            impact: vec![],
            analyzer: "rules".into(),
            symptom: String::new(),
            cause: String::new(),
            resources: vec![],
            evidence: vec![],
            action: String::new(),
            docs_url: String::new(),
            advises: advice
                .iter()
                .map(|(s, d)| Advice { setting: (*s).into(), direction: *d })
                .collect(),
        }
    }

    #[test]
    fn opposite_advice_on_one_node_keeps_the_more_severe_and_says_why() {
        let up = finding(
            "gc_pressure",
            "n1",
            Severity::Warning,
            Category::Tuning,
            &[("heap", Direction::Up)],
        );
        let down = finding(
            "heap_oversized",
            "n1",
            Severity::Info,
            Category::BestPractice,
            &[("heap", Direction::Down)],
        );
        let (kept, aside) = resolve(vec![down, up]);
        assert_eq!(kept.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["gc_pressure"]);
        assert_eq!(aside.len(), 1);
        assert_eq!(aside[0].id, "heap_oversized");
        assert_eq!(aside[0].kept, "gc_pressure");
        assert_eq!(aside[0].setting, "heap");
        assert!(aside[0].reason.contains("it is warning and this is info"), "{}", aside[0].reason);
        assert!(aside[0].reason.contains("advises to lower heap"), "{}", aside[0].reason);
    }

    #[test]
    fn same_severity_falls_back_to_category_then_evidence_then_id() {
        let a =
            finding("a_tuning", "n1", Severity::Warning, Category::Tuning, &[("x", Direction::Up)]);
        let b = finding(
            "b_capacity",
            "n1",
            Severity::Warning,
            Category::Capacity,
            &[("x", Direction::Down)],
        );
        let (kept, aside) = resolve(vec![a.clone(), b]);
        assert_eq!(kept[0].id, "b_capacity");
        assert!(aside[0].reason.contains("capacity outranks tuning"));

        let mut c =
            finding("c", "n1", Severity::Warning, Category::Tuning, &[("x", Direction::Down)]);
        c.evidence = vec![
            Evidence {
                feature: "f".into(),
                value: Some(1.0),
                op: ">".into(),
                threshold: Some(0.0)
            };
            2
        ];
        let (kept, aside) = resolve(vec![a.clone(), c]);
        assert_eq!(kept[0].id, "c");
        assert!(
            aside[0].reason.contains("2 measured conditions, this on 0"),
            "{}",
            aside[0].reason
        );

        let d = finding("d", "n1", Severity::Warning, Category::Tuning, &[("x", Direction::Down)]);
        let (kept, _) = resolve(vec![d.clone(), a.clone()]);
        let (kept2, _) = resolve(vec![a, d]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].id, kept2[0].id, "the choice does not depend on order");
    }

    #[test]
    fn agreeing_advice_other_nodes_and_other_settings_all_stay() {
        let findings = vec![
            finding("up1", "n1", Severity::Warning, Category::Tuning, &[("heap", Direction::Up)]),
            finding("up2", "n1", Severity::Info, Category::Tuning, &[("heap", Direction::Up)]),
            finding(
                "down_other_node",
                "n2",
                Severity::Critical,
                Category::Tuning,
                &[("heap", Direction::Down)],
            ),
            finding(
                "down_other_setting",
                "n1",
                Severity::Critical,
                Category::Tuning,
                &[("concurrent_reads", Direction::Down)],
            ),
            finding("no_advice", "n1", Severity::Critical, Category::Tuning, &[]),
        ];
        let (kept, aside) = resolve(findings.clone());
        assert_eq!(kept, findings);
        assert!(aside.is_empty());
    }
}
