//! Findings: what opsadvisor tells a person, and the identity that follows it across runs.
//!
//! A finding is one piece of advice about one node (or one cluster) from one check. Its
//! fingerprint is a stable hash of the check id and the entity it is about, so the same
//! problem keeps the same fingerprint across runs, restarts and hosts: sinks use it as the
//! PagerDuty `dedup_key` and the Alertmanager identity, and users snooze by it.

pub mod conflicts;
pub mod lifecycle;

use crate::System;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::Hasher;

/// How urgent a finding is. Ordered: `Info < Warning < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; never pages.
    #[default]
    Info,
    /// Needs attention within working hours.
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// Lowercase name as used in config, rules and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!("unknown severity '{s}' (expected info, warning or critical)")),
        }
    }
}

/// What kind of advice a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A setting or workload change that improves performance.
    Tuning,
    /// A resource that is running out or will.
    Capacity,
    /// A deviation from how the system should be run.
    BestPractice,
    /// Data or service at risk now.
    Availability,
}

impl Category {
    /// snake_case name as used in rules and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Tuning => "tuning",
            Category::Capacity => "capacity",
            Category::BestPractice => "best_practice",
            Category::Availability => "availability",
        }
    }
}

/// What a finding puts at risk, after the impact areas of Elastic's `_health_report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// Requests fail or the service is down.
    Availability,
    /// Requests are slow or throughput drops.
    Performance,
    /// Data may be lost.
    Durability,
    /// Resources are wasted or will have to be bought.
    Cost,
}

impl Impact {
    /// snake_case name as used in rules and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Availability => "availability",
            Impact::Performance => "performance",
            Impact::Durability => "durability",
            Impact::Cost => "cost",
        }
    }

    /// What a rule that names no impact puts at risk, from its category.
    pub fn default_for(category: Category) -> Impact {
        match category {
            Category::Availability => Impact::Availability,
            Category::Capacity => Impact::Durability,
            Category::Tuning | Category::BestPractice => Impact::Performance,
        }
    }
}

/// One feature value that made a check fire, with the threshold it crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Feature column, or the expression over columns, that was compared.
    pub feature: String,
    /// Its value on this node (null when missing).
    pub value: Option<f64>,
    /// The comparison operator of the rule (`>`, `<=`, …).
    pub op: String,
    /// The threshold it was compared with, evaluated on this node (null when missing).
    pub threshold: Option<f64>,
}

/// One piece of advice. The JSON field names are a public contract (README "JSON output").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that produced it, e.g. `cassandra_compaction_backlog`.
    pub id: String,
    /// Stable identity: hash of `id`, system, cluster and node.
    pub fingerprint: String,
    /// The system the finding is about.
    pub system: System,
    /// Cluster name from the config.
    pub cluster: String,
    /// Node name, or null for a cluster-wide finding.
    pub node: Option<String>,
    /// Kind of advice.
    pub category: Category,
    /// Urgency.
    pub severity: Severity,
    /// What is at risk if nothing is done.
    pub impact: Vec<Impact>,
    /// Which analyzer concluded it: `rules`, `classifier` or `capacity`.
    pub analyzer: String,
    /// What is wrong, in one sentence with the measured values.
    pub symptom: String,
    /// Why it is happening, when the check can tell (empty otherwise).
    #[serde(default)]
    pub cause: String,
    /// What it affects, as `kind:name` (e.g. `node:cass-3`, `cluster:prod`).
    pub resources: Vec<String>,
    /// The values that triggered it.
    pub evidence: Vec<Evidence>,
    /// What to do, with concrete values where one applies.
    pub action: String,
    /// Where to read more.
    pub docs_url: String,
    /// Settings its action changes and which way (used to drop contradictory advice).
    #[serde(default)]
    pub advises: Vec<conflicts::Advice>,
}

/// The stable fingerprint of a finding: 16 hex digits of FNV-1a over its identity.
///
/// FNV-1a is what Prometheus uses for label-set fingerprints; it is stable across
/// platforms and releases, unlike `std`'s `DefaultHasher`.
pub fn fingerprint(id: &str, system: System, cluster: &str, node: Option<&str>) -> String {
    let mut h = fnv::FnvHasher::default();
    for part in [id, system.as_str(), cluster, node.unwrap_or("")] {
        h.write(part.as_bytes());
        h.write(&[0xff]); // separator: ("ab","c") must differ from ("a","bc")
    }
    format!("{:016x}", h.finish())
}

/// Sorts findings for reports: cluster, then severity (most urgent first), then id, node.
pub fn sort_for_report(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.system, &a.cluster, std::cmp::Reverse(a.severity), &a.id, &a.node).cmp(&(
            b.system,
            &b.cluster,
            std::cmp::Reverse(b.severity),
            &b.id,
            &b.node,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_separates_parts() {
        let a = fingerprint("x", System::Kafka, "prod", Some("b1"));
        assert_eq!(a, fingerprint("x", System::Kafka, "prod", Some("b1")));
        // Pinned: a change here breaks dedup keys users already have in PagerDuty.
        assert_eq!(a, "dc491caf29fdf9ef");
        assert_ne!(a, fingerprint("x", System::Kafka, "prod", None));
        assert_ne!(
            fingerprint("ab", System::Kafka, "c", None),
            fingerprint("a", System::Kafka, "bc", None)
        );
    }

    #[test]
    fn severity_orders_by_urgency() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        assert_eq!("warning".parse::<Severity>(), Ok(Severity::Warning));
        assert!("page".parse::<Severity>().is_err());
    }
}
