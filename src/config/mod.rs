//! The configuration file: which clusters to advise on, where their metrics are, and how
//! to scrape them.
//!
//! Loading never stops at the first problem: every issue is collected with the path of the
//! value it concerns (`clusters[1].targets[0].metrics`), so `opsadvisor check config` shows
//! them all at once. Only this module parses YAML config.

pub mod discovery;
mod duration;

use crate::analyzers::capacity::limits::CapacityConfig;
pub use duration::{format_duration, parse_duration, parse_utc_timestamp};

use crate::System;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigIssue {
    /// Where in the file, e.g. `clusters[0].targets[2].metrics`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {} problem(s):\n{}", issues.len(), issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// The file that was read.
    pub file: String,
    /// The problems, in file order.
    pub issues: Vec<ConfigIssue>,
}

/// How targets are scraped during one advise run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    /// Time between two scrapes of the same target. Default `15s`.
    pub interval: String,
    /// Give up on a target after this long. Default `10s`.
    pub timeout: String,
    /// Scrapes per target in one advise run; counters need at least 2. Default `5`.
    pub samples: usize,
    /// Largest response body accepted, in bytes. Default 64 MiB.
    pub max_body_bytes: u64,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        Self { interval: "15s".into(), timeout: "10s".into(), samples: 5, max_body_bytes: 64 << 20 }
    }
}

/// One node and the endpoints that describe it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Node name as it appears in reports (for Elasticsearch: the ES node name).
    pub node: String,
    /// Prometheus exposition of the system itself (JMX exporter for Cassandra/Kafka).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// node_exporter on the same host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_exporter: Option<String>,
    /// A Jolokia agent in the node's JVM (`http://host:8778/jolokia/`), instead of (or
    /// besides) a JMX exporter: read with one bulk POST per scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jolokia: Option<String>,
    /// This node's configuration files and host facts (fields override the cluster's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_files: Option<crate::sources::config_files::ConfigFilesConfig>,
}

/// One cluster.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Unique name, used in reports and fingerprints.
    pub name: String,
    /// `cassandra`, `kafka` or `elasticsearch`.
    pub system: System,
    /// Elasticsearch REST API base URL (one node of the cluster is enough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<String>,
    /// prometheus-community/elasticsearch_exporter `/metrics` URL, instead of (or besides)
    /// the REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch_exporter: Option<String>,
    /// danielqsj/kafka_exporter `/metrics` URL, for consumer lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_exporter: Option<String>,
    /// How this cluster's targets authenticate (secrets from env vars or files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<crate::sources::auth::AuthConfig>,
    /// TLS settings for this cluster's `https://` targets (custom CA, server name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::sources::tls::TlsConfig>,
    /// Read this cluster's history from Prometheus instead of scraping it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<crate::sources::prometheus::PrometheusConfig>,
    /// The nodes.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Configuration files and host facts for every node of the cluster (on the disk
    /// opsadvisor runs on; a target's own `config_files` fields win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_files: Option<crate::sources::config_files::ConfigFilesConfig>,
    /// Prometheus `file_sd` files (JSON or YAML; one `*` allowed in the file name) whose
    /// targets are added to `targets`, relative to the config file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd: Vec<String>,
    /// Check ids not to report for this cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_checks: Vec<String>,
    /// Threshold overrides for this cluster: check id → (the measured side of one of its
    /// comparisons, as `list checks` prints it → the number to compare with instead).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<String, BTreeMap<String, f64>>,
    /// Capacity planning: compaction strategy, utilization targets, horizon.
    #[serde(default, skip_serializing_if = "CapacityConfig::is_default")]
    pub capacity: CapacityConfig,
}

/// Global control over checks.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksConfig {
    /// Check ids not to run at all.
    pub disabled: Vec<String>,
    /// Findings to hide until a time, by fingerprint.
    pub snoozed: Vec<Snooze>,
}

/// One snoozed finding.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snooze {
    /// The finding's fingerprint (16 hex digits, as reports print it).
    pub fingerprint: String,
    /// Until when: `2026-12-01T08:00:00Z` or `2026-12-01` (UTC).
    pub until: String,
    /// Why, for the next person reading the config.
    #[serde(default)]
    pub reason: String,
}

/// The whole file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// Scrape settings.
    pub scrape: ScrapeConfig,
    /// Directories (or files) of rule packs, relative to the config file; empty means the
    /// packs built into the binary.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_dirs: Vec<PathBuf>,
    /// The clusters.
    pub clusters: Vec<ClusterConfig>,
    /// Disabled and snoozed checks.
    #[serde(skip_serializing_if = "is_default_checks")]
    pub checks: ChecksConfig,
    /// `i/N`: advise only on the clusters that Prometheus's hashmod of their name puts in
    /// shard `i` of `N`, so N replicas split a fleet without overlap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Where the daemon sends notifications (Slack, PagerDuty, Grafana, Alertmanager).
    #[serde(skip_serializing_if = "crate::sinks::notify::NotificationsConfig::is_empty")]
    pub notifications: crate::sinks::notify::NotificationsConfig,
}

fn is_default_checks(c: &ChecksConfig) -> bool {
    c.disabled.is_empty() && c.snoozed.is_empty()
}

impl Config {
    /// Scrape interval, validated at load.
    pub fn interval(&self) -> Duration {
        parse_duration(&self.scrape.interval).unwrap_or(Duration::from_secs(15))
    }

    /// Scrape timeout, validated at load.
    pub fn timeout(&self) -> Duration {
        parse_duration(&self.scrape.timeout).unwrap_or(Duration::from_secs(10))
    }

    /// Reads and validates a config file.
    ///
    /// # Errors
    /// A [`ConfigError`] listing every problem found.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            issues: vec![ConfigIssue { path: "(file)".into(), message: e.to_string() }],
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_yaml(&text, base).map_err(|issues| ConfigError { file, issues })
    }

    /// Parses and validates YAML text; relative rule dirs resolve against `base`.
    ///
    /// # Errors
    /// Every problem found, with its path.
    pub fn from_yaml(text: &str, base: &Path) -> Result<Config, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let root: serde_norway::Value = match serde_norway::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return Err(vec![ConfigIssue { path: "(yaml)".into(), message: e.to_string() }]);
            }
        };
        let mut config = Config::default();
        let Some(map) = root.as_mapping() else {
            return Err(vec![ConfigIssue {
                path: "(root)".into(),
                message: "expected a mapping with `clusters`".into(),
            }]);
        };
        for (key, value) in map {
            let key = key.as_str().unwrap_or("?");
            match key {
                "scrape" => match serde_norway::from_value::<ScrapeConfig>(value.clone()) {
                    Ok(s) => config.scrape = s,
                    Err(e) => issues.push(issue("scrape", e)),
                },
                "shard" => match value.as_str() {
                    Some(v) => config.shard = Some(v.to_string()),
                    None => issues.push(ConfigIssue {
                        path: "shard".into(),
                        message: "expected a string like \"0/3\"".into(),
                    }),
                },
                "checks" => match serde_norway::from_value::<ChecksConfig>(value.clone()) {
                    Ok(c) => config.checks = c,
                    Err(e) => issues.push(issue("checks", e)),
                },
                "notifications" => config.notifications = notifications(value, &mut issues),
                "rule_dirs" => match serde_norway::from_value::<Vec<PathBuf>>(value.clone()) {
                    Ok(dirs) => config.rule_dirs = dirs.into_iter().map(|d| base.join(d)).collect(),
                    Err(e) => issues.push(issue("rule_dirs", e)),
                },
                "clusters" => match value.as_sequence() {
                    Some(seq) => {
                        for (i, c) in seq.iter().enumerate() {
                            if let Some(c) = cluster(c, &format!("clusters[{i}]"), &mut issues) {
                                config.clusters.push(c);
                            }
                        }
                    }
                    None => issues.push(ConfigIssue {
                        path: "clusters".into(),
                        message: "expected a list of clusters".into(),
                    }),
                },
                other => issues.push(ConfigIssue {
                    path: other.into(),
                    message: "unknown field (expected scrape, rule_dirs, checks, clusters, shard or notifications)"
                        .into(),
                }),
            }
        }
        for (i, c) in config.clusters.iter_mut().enumerate() {
            issues.extend(discovery::resolve_file_sd(c, i, base));
            c.config_files = c.config_files.take().map(|f| f.resolved(base));
            for t in &mut c.targets {
                t.config_files = t.config_files.take().map(|f| f.resolved(base));
            }
        }
        if let Some(shard) = &config.shard {
            match discovery::parse_shard(shard) {
                Ok(s) => config.clusters.retain(|c| discovery::in_shard(&c.name, s)),
                Err(e) => issues.push(ConfigIssue { path: "shard".into(), message: e }),
            }
        }
        issues.extend(config.validate());
        issues.extend(config.notifications.validate());
        if issues.is_empty() { Ok(config) } else { Err(issues) }
    }

    /// Semantic checks that serde cannot express. Returns every issue.
    pub fn validate(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        let mut push = |path: String, message: String| issues.push(ConfigIssue { path, message });
        for (field, value) in
            [("scrape.interval", &self.scrape.interval), ("scrape.timeout", &self.scrape.timeout)]
        {
            if let Err(e) = parse_duration(value) {
                push(field.into(), e);
            }
        }
        if self.scrape.samples < 2 {
            push("scrape.samples".into(), "must be at least 2 so counters become rates".into());
        }
        for (i, sn) in self.checks.snoozed.iter().enumerate() {
            if sn.fingerprint.len() != 16 || !sn.fingerprint.bytes().all(|b| b.is_ascii_hexdigit())
            {
                push(
                    format!("checks.snoozed[{i}].fingerprint"),
                    format!("'{}' is not a 16-hex-digit fingerprint", sn.fingerprint),
                );
            }
            if let Err(e) = parse_utc_timestamp(&sn.until) {
                push(format!("checks.snoozed[{i}].until"), e);
            }
        }
        if self.clusters.is_empty() && self.shard.is_none() {
            push("clusters".into(), "no clusters configured".into());
        }
        let mut names = BTreeSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            let p = format!("clusters[{i}]");
            for (field, message) in c.capacity.problems() {
                push(format!("{p}.capacity.{field}"), message);
            }
            if c.name.trim().is_empty() {
                push(format!("{p}.name"), "must not be empty".into());
            } else if !names.insert(c.name.as_str()) {
                push(format!("{p}.name"), format!("duplicate cluster name '{}'", c.name));
            }
            let es_source = c.elasticsearch.is_some()
                || c.elasticsearch_exporter.is_some()
                || c.prometheus.is_some();
            if c.system != System::Elasticsearch && c.elasticsearch_exporter.is_some() {
                push(
                    format!("{p}.elasticsearch_exporter"),
                    format!("only for elasticsearch clusters, this one is {}", c.system.as_str()),
                );
            }
            match (c.system, &c.elasticsearch, &c.kafka_exporter) {
                (System::Elasticsearch, None, _) if !es_source => push(
                    format!("{p}.elasticsearch"),
                    "an elasticsearch cluster needs the REST API URL, an elasticsearch_exporter URL, or prometheus".into(),
                ),
                (s, Some(_), _) if s != System::Elasticsearch => push(
                    format!("{p}.elasticsearch"),
                    format!("only for elasticsearch clusters, this one is {}", s.as_str()),
                ),
                (s, _, Some(_)) if s != System::Kafka => push(
                    format!("{p}.kafka_exporter"),
                    format!("only for kafka clusters, this one is {}", s.as_str()),
                ),
                _ => {}
            }
            for (field, url) in [
                ("elasticsearch", &c.elasticsearch),
                ("elasticsearch_exporter", &c.elasticsearch_exporter),
                ("kafka_exporter", &c.kafka_exporter),
            ] {
                if let Some(u) = url
                    && let Err(e) = check_url(u)
                {
                    push(format!("{p}.{field}"), e);
                }
            }
            if let Some(a) = &c.auth {
                for (field, message) in a.validate() {
                    push(format!("{}.{field}", p_path(i)), message);
                }
            }
            if let Some(tls) = &c.tls {
                for (field, message) in tls.validate() {
                    push(format!("{}.tls.{field}", p_path(i)), message);
                }
            }
            if let Some(p) = &c.prometheus {
                if let Err(e) = check_url(&p.url) {
                    push(format!("{p_}.prometheus.url", p_ = p_path(i)), e);
                }
                for (field, message) in p.validate() {
                    push(format!("{}.prometheus.{field}", p_path(i)), message);
                }
            }
            if c.targets.is_empty() && !es_source {
                push(format!("{p}.targets"), "no targets".into());
            }
            let mut nodes = BTreeSet::new();
            for (j, t) in c.targets.iter().enumerate() {
                let tp = format!("{p}.targets[{j}]");
                if !nodes.insert(t.node.as_str()) {
                    push(format!("{tp}.node"), format!("duplicate node '{}'", t.node));
                }
                if t.metrics.is_none() && t.node_exporter.is_none() && t.jolokia.is_none() {
                    push(tp.clone(), "needs `metrics`, `jolokia` or `node_exporter`".into());
                }
                if c.system != System::Elasticsearch
                    && c.prometheus.is_none()
                    && t.metrics.is_none()
                    && t.jolokia.is_none()
                {
                    push(
                        format!("{tp}.metrics"),
                        format!(
                            "a {} node needs its exporter URL (or a jolokia URL)",
                            c.system.as_str()
                        ),
                    );
                }
                if c.system == System::Elasticsearch && t.jolokia.is_some() {
                    push(
                        format!("{tp}.jolokia"),
                        "only for cassandra and kafka nodes; read elasticsearch through its REST API".into(),
                    );
                }
                for (field, url) in [
                    ("metrics", &t.metrics),
                    ("node_exporter", &t.node_exporter),
                    ("jolokia", &t.jolokia),
                ] {
                    if let Some(u) = url
                        && let Err(e) = check_url(u)
                    {
                        push(format!("{tp}.{field}"), e);
                    }
                }
            }
        }
        issues
    }
}

/// Deserializes one cluster, reading each target on its own so that a problem in one
/// target is reported with its exact path and does not hide problems in the others.
fn cluster(
    value: &serde_norway::Value,
    path: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<ClusterConfig> {
    let mut value = value.clone();
    let raw_targets = value
        .as_mapping_mut()
        .and_then(|m| m.remove("targets"))
        .unwrap_or(serde_norway::Value::Sequence(Vec::new()));
    let mut targets = Vec::new();
    match raw_targets.as_sequence() {
        Some(seq) => {
            for (j, t) in seq.iter().enumerate() {
                match serde_norway::from_value::<TargetConfig>(t.clone()) {
                    Ok(t) => targets.push(t),
                    Err(e) => issues.push(issue(&format!("{path}.targets[{j}]"), e)),
                }
            }
        }
        None => issues.push(ConfigIssue {
            path: format!("{path}.targets"),
            message: "expected a list of targets".into(),
        }),
    }
    match serde_norway::from_value::<ClusterConfig>(value) {
        Ok(mut c) => {
            c.targets = targets;
            Some(c)
        }
        Err(e) => {
            issues.push(issue(path, e));
            None
        }
    }
}

/// Deserializes the `notifications` section one sink at a time, so each problem is
/// reported with its own path (`notifications.slack[1]`) and none hides another.
fn notifications(
    value: &serde_norway::Value,
    issues: &mut Vec<ConfigIssue>,
) -> crate::sinks::notify::NotificationsConfig {
    use crate::sinks::notify::NotificationsConfig;
    fn list<T: serde::de::DeserializeOwned>(
        raw: Option<serde_norway::Value>,
        path: &str,
        issues: &mut Vec<ConfigIssue>,
    ) -> Vec<T> {
        let Some(raw) = raw else { return Vec::new() };
        let Some(seq) = raw.as_sequence() else {
            issues.push(ConfigIssue { path: path.into(), message: "expected a list".into() });
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in seq.iter().enumerate() {
            match serde_norway::from_value::<T>(item.clone()) {
                Ok(v) => out.push(v),
                Err(e) => issues.push(issue(&format!("{path}[{i}]"), e)),
            }
        }
        out
    }
    let mut value = value.clone();
    let Some(map) = value.as_mapping_mut() else {
        issues.push(ConfigIssue {
            path: "notifications".into(),
            message: "expected a mapping".into(),
        });
        return NotificationsConfig::default();
    };
    let slack = list(map.remove("slack"), "notifications.slack", issues);
    let pagerduty = list(map.remove("pagerduty"), "notifications.pagerduty", issues);
    let grafana = list(map.remove("grafana"), "notifications.grafana", issues);
    let alertmanager = list(map.remove("alertmanager"), "notifications.alertmanager", issues);
    match serde_norway::from_value::<NotificationsConfig>(value) {
        Ok(n) => NotificationsConfig { slack, pagerduty, grafana, alertmanager, ..n },
        Err(e) => {
            issues.push(issue("notifications", e));
            NotificationsConfig::default()
        }
    }
}

fn issue(path: &str, e: serde_norway::Error) -> ConfigIssue {
    // serde_norway reports "clusters[0].targets[1]: unknown field `x`, expected …" as
    // "targets[1]: …" relative to the value we handed it.
    let msg = e.to_string();
    match msg.split_once(": ") {
        Some((inner, rest)) if !inner.contains(' ') => {
            ConfigIssue { path: format!("{path}.{inner}"), message: rest.to_string() }
        }
        _ => ConfigIssue { path: path.into(), message: msg },
    }
}

fn p_path(i: usize) -> String {
    format!("clusters[{i}]")
}

fn check_url(u: &str) -> Result<(), String> {
    match reqwest::Url::parse(u) {
        Ok(url) if url.scheme() == "http" || url.scheme() == "https" => Ok(()),
        Ok(url) => Err(format!("unsupported URL scheme '{}' in '{u}'", url.scheme())),
        Err(e) => Err(format!("invalid URL '{u}': {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let yaml = r#"
scrape: { interval: 15x, samples: 1 }
clusters:
  - name: a
    system: cassandra
    targets:
      - { node: n1, metrics: "ftp://x/metrics" }
      - { node: n1 }
  - name: a
    system: elasticsearch
    targets: []
  - name: b
    system: mongodb
  - name: c
    system: kafka
    targets: [{ node: k1, metrics: "http://k1:7071/metrics", colour: blue }]
"#;
        let issues = Config::from_yaml(yaml, Path::new(".")).unwrap_err();
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        let has = |p: &str| text.iter().any(|t| t.starts_with(p));
        assert!(has("clusters[2]"), "{text:#?}"); // unknown system
        assert!(has("clusters[3].targets[0]"), "{text:#?}"); // unknown field colour
        assert!(has("scrape.interval"), "{text:#?}");
        assert!(has("scrape.samples"), "{text:#?}");
        assert!(has("clusters[0].targets[0].metrics: unsupported URL scheme"), "{text:#?}");
        assert!(has("clusters[0].targets[1].node: duplicate node"), "{text:#?}");
        assert!(has("clusters[1].name: duplicate cluster name"), "{text:#?}");
        assert!(has("clusters[1].elasticsearch"), "{text:#?}");
    }

    #[test]
    fn a_minimal_config_loads() {
        let yaml = "clusters:\n  - name: c\n    system: kafka\n    targets: [{node: b1, metrics: 'http://127.0.0.1:1/metrics'}]\n";
        let c = Config::from_yaml(yaml, Path::new("/etc/opsadvisor")).unwrap();
        assert_eq!(c.clusters[0].targets[0].node, "b1");
        assert_eq!(c.interval(), Duration::from_secs(15));
    }
}
