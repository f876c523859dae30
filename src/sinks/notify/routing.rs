//! Which findings go to which sink: each sink has a `route` matching by severity, category,
//! system and cluster. An empty list matches everything; all given conditions must hold.

use crate::System;
use crate::findings::{Category, Finding, Severity};
use serde::{Deserialize, Serialize};

/// A sink's filter. Example: `{ min_severity: warning, clusters: [cass-prod] }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Only findings at least this severe (`info` < `warning` < `critical`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only these severities (combined with `min_severity` if both are set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<Severity>,
    /// Only these categories (`tuning`, `capacity`, `best_practice`, `availability`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// Only these clusters, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Only these systems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<System>,
}

impl RouteConfig {
    /// The route a sink gets when its config names none.
    pub(crate) fn with_min_severity(s: Severity) -> RouteConfig {
        RouteConfig { min_severity: Some(s), ..RouteConfig::default() }
    }

    /// Whether `f` goes to the sink.
    pub fn matches(&self, f: &Finding) -> bool {
        self.min_severity.is_none_or(|m| f.severity >= m)
            && (self.severities.is_empty() || self.severities.contains(&f.severity))
            && (self.categories.is_empty() || self.categories.contains(&f.category))
            && (self.clusters.is_empty() || self.clusters.contains(&f.cluster))
            && (self.systems.is_empty() || self.systems.contains(&f.system))
    }

    /// Problems as (field, message).
    pub(crate) fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(m) = self.min_severity
            && !self.severities.is_empty()
            && self.severities.iter().all(|s| *s < m)
        {
            out.push((
                "route".into(),
                format!("severities and min_severity {m} exclude every finding"),
            ));
        }
        if self.clusters.iter().any(|c| c.trim().is_empty()) {
            out.push(("route.clusters".into(), "cluster names must not be empty".into()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::findings::fingerprint;

    fn finding(sev: Severity, cat: Category, cluster: &str) -> Finding {
        Finding {
            id: "x".into(),
            fingerprint: fingerprint("x", System::Kafka, cluster, None),
            system: System::Kafka,
            cluster: cluster.into(),
            node: None,
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
            advises: Vec::new(),
        }
    }

    #[test]
    fn every_condition_must_hold_and_empty_matches_all() {
        let any = RouteConfig::default();
        assert!(any.matches(&finding(Severity::Info, Category::Tuning, "a")));
        let r: RouteConfig = serde_norway::from_str(
            "{ min_severity: warning, categories: [availability, capacity], clusters: [prod] }",
        )
        .unwrap();
        assert!(r.matches(&finding(Severity::Critical, Category::Availability, "prod")));
        assert!(!r.matches(&finding(Severity::Info, Category::Availability, "prod")));
        assert!(!r.matches(&finding(Severity::Critical, Category::Tuning, "prod")));
        assert!(!r.matches(&finding(Severity::Critical, Category::Capacity, "staging")));
        let exact: RouteConfig = serde_norway::from_str("{ severities: [warning] }").unwrap();
        assert!(!exact.matches(&finding(Severity::Critical, Category::Tuning, "a")));
        assert!(exact.matches(&finding(Severity::Warning, Category::Tuning, "a")));
        let systems: RouteConfig = serde_norway::from_str("{ systems: [cassandra] }").unwrap();
        assert!(!systems.matches(&finding(Severity::Warning, Category::Tuning, "a")));
    }

    #[test]
    fn a_route_that_matches_nothing_is_a_config_error() {
        let r: RouteConfig =
            serde_norway::from_str("{ min_severity: critical, severities: [info, warning] }")
                .unwrap();
        assert_eq!(r.validate().len(), 1);
        assert!(serde_norway::from_str::<RouteConfig>("{ severity: critical }").is_err());
    }
}
