//! PagerDuty Events API v2 (contracts §1.2): `trigger` when a finding fires, `resolve`
//! when it resolves, both with `dedup_key = "opsadvisor/" + fingerprint`, so a trigger
//! sent again after a crash lands on the same open alert instead of paging twice.
//!
//! `payload.summary` ≤1024 characters, `dedup_key` ≤255; if the event would exceed
//! 512 KB, `custom_details` is replaced by a note, as Alertmanager does. Severity maps
//! one to one (`critical`, `warning`, `info`). The routing key is a secret from an env var
//! or a file. By default only critical findings are routed here.

use super::{Delivery, Outcome, RouteConfig, SecretSource, rfc3339, subject, truncate_chars};
use crate::findings::{Finding, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) const SUMMARY_MAX: usize = 1024;
pub(crate) const EVENT_MAX_BYTES: usize = 512_000;

/// The public Events API v2 endpoint.
pub(crate) const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// One PagerDuty integration (service or ruleset routing key).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// Name used in logs, metrics and the outbox; default `pagerduty[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Events API URL; default the public one (EU accounts use their regional host).
    #[serde(default = "default_url")]
    pub url: String,
    /// Environment variable holding the 32-character integration key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key_env: Option<String>,
    /// File holding the integration key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key_file: Option<String>,
    /// Which findings page; default `{ min_severity: critical }`.
    #[serde(default = "critical_only")]
    pub route: RouteConfig,
    /// Least time between two events; PagerDuty allows about 120 a minute per key.
    /// Default `500ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<String>,
}

fn default_url() -> String {
    DEFAULT_URL.into()
}

fn critical_only() -> RouteConfig {
    RouteConfig::with_min_severity(Severity::Critical)
}

impl PagerdutyConfig {
    fn secret(&self) -> SecretSource {
        SecretSource::new(self.routing_key_env.as_ref(), self.routing_key_file.as_ref())
    }

    pub(crate) fn validate(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            self.secret().check("routing_key").into_iter().collect();
        if let Err(e) = super::grafana::check_url(&self.url) {
            out.push(("url".into(), e));
        }
        if let Some(m) = &self.min_interval
            && let Err(e) = crate::config::parse_duration(m)
        {
            out.push(("min_interval".into(), e));
        }
        out.extend(self.route.validate());
        out
    }
}

#[derive(Debug)]
pub(crate) struct PagerdutySink {
    config: PagerdutyConfig,
}

impl PagerdutySink {
    pub(crate) fn new(config: PagerdutyConfig) -> Self {
        Self { config }
    }

    pub(crate) fn route(&self) -> &RouteConfig {
        &self.config.route
    }

    pub(crate) fn min_interval(&self) -> Duration {
        self.config
            .min_interval
            .as_deref()
            .and_then(|m| crate::config::parse_duration(m).ok())
            .unwrap_or(Duration::from_millis(500))
    }

    /// The event for one notification, with the secret it holds (the routing key, in the body).
    pub(crate) fn request(
        &self,
        client: &reqwest::Client,
        d: &Delivery,
    ) -> Result<super::Prepared, String> {
        let key = self.config.secret().read().map_err(|e| format!("routing_key: {e}"))?;
        let body = render(&d.finding, d.kind.is_resolved(), key.expose(), d.fired_at_ms);
        let req = client
            .post(&self.config.url)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        Ok(super::Prepared { req, secrets: vec![key], secret_url: false })
    }

    pub(crate) async fn deliver(&self, client: &reqwest::Client, d: &Delivery) -> Outcome {
        match self.request(client, d) {
            Ok(p) => super::send(p.req).await.0,
            Err(reason) => Outcome::Retry { reason, after: None },
        }
    }
}

/// The `dedup_key` of a finding: stable across restarts and hosts, ≤255 characters.
pub(crate) fn dedup_key(f: &Finding) -> String {
    truncate_chars(&format!("opsadvisor/{}", f.fingerprint), 255)
}

/// The event for one finding. Pure, so it is tested directly.
pub(crate) fn render(f: &Finding, resolved: bool, routing_key: &str, fired_at_ms: i64) -> Value {
    if resolved {
        return json!({"routing_key": routing_key, "dedup_key": dedup_key(f),
            "event_action": "resolve"});
    }
    let summary = truncate_chars(&format!("{}: {}", subject(f), f.symptom), SUMMARY_MAX);
    let evidence: Vec<Value> = f
        .evidence
        .iter()
        .map(|e| json!({"feature": e.feature, "value": e.value, "op": e.op, "threshold": e.threshold}))
        .collect();
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(f),
        "payload": {
            "summary": summary,
            "source": f.node.clone().unwrap_or_else(|| f.cluster.clone()),
            "severity": f.severity.as_str(),
            "timestamp": rfc3339(fired_at_ms),
            "component": f.system.as_str(),
            "group": f.cluster,
            "class": f.id,
            "custom_details": {
                "fingerprint": f.fingerprint,
                "category": f.category.as_str(),
                "impact": f.impact.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
                "cause": f.cause,
                "action": f.action,
                "evidence": evidence,
                "resources": f.resources,
            },
        },
        "client": "opsadvisor",
    });
    if !f.docs_url.is_empty() {
        event["links"] = json!([{"href": f.docs_url, "text": "What to do"}]);
    }
    if event.to_string().len() > EVENT_MAX_BYTES {
        event["payload"]["custom_details"] = json!({"error": format!(
            "Custom details have been removed because the original event exceeds the maximum size of {EVENT_MAX_BYTES} bytes")});
    }
    event
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::System;
    use crate::findings::Category;

    fn finding(symptom: String, action: String) -> Finding {
        Finding {
            id: "kafka_under_replicated".into(),
            fingerprint: "0123456789abcdef".into(),
            system: System::Kafka,
            cluster: "prod".into(),
            node: None,
            category: Category::Availability,
            severity: Severity::Critical,
            impact: vec![],
            analyzer: "rules".into(),
            symptom,
            cause: String::new(),
            resources: vec![],
            evidence: vec![],
            action,
            docs_url: String::new(),
            advises: Vec::new(),
        }
    }

    #[test]
    fn triggers_carry_limits_and_resolves_are_minimal() {
        let f = finding("é".repeat(3000), "a".repeat(600_000));
        let t = render(&f, false, "k".repeat(32).as_str(), 0);
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(t["dedup_key"], "opsadvisor/0123456789abcdef");
        assert_eq!(t["payload"]["summary"].as_str().unwrap().chars().count(), SUMMARY_MAX);
        assert_eq!(t["payload"]["source"], "prod");
        assert!(t.to_string().len() <= EVENT_MAX_BYTES);
        assert!(t["payload"]["custom_details"]["error"].is_string());
        let r = render(&f, true, "k", 0);
        assert_eq!(r.as_object().unwrap().len(), 3);
        assert_eq!(r["event_action"], "resolve");
    }
}
