//! Prometheus Alertmanager API v2 (contracts §1.4): `POST /api/v2/alerts` with a JSON
//! array, exactly as Prometheus sends.
//!
//! - Identity is the label set: `alertname` (the check id), `system`, `cluster`, `node`
//!   (when the finding is about one), `severity`, `category`. Text goes in annotations
//!   (`summary`, `description`, `cause`, `runbook_url`, `fingerprint`).
//! - A firing alert carries `endsAt = now + 4 × max(resend_delay, evaluation_interval)`
//!   ("allow for two Eval or Alertmanager send failures") and is resent every
//!   `resend_delay` (1m) while it fires, so Alertmanager never times it out on its own.
//! - A resolved alert carries `endsAt` = the resolve time and is resent for 15 minutes.
//! - `startsAt` is when this firing began.
//!
//! Every URL of an HA cluster gets everything (each is its own outbox queue), as
//! Prometheus does. Due rows are sent in batches of up to 64 alerts per request.

use super::{Delivery, Outcome, ResendPolicy, RouteConfig, rfc3339};
use crate::config::parse_duration;
use crate::findings::Finding;
use crate::sources::auth::AuthConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// Prometheus's `resolvedRetention`.
const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// One Alertmanager cluster.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Name used in logs, metrics and the outbox (with `.urls[j]`); default `alertmanager[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Base URL of every instance, e.g. `http://alertmanager-0:9093`; all get every alert.
    pub urls: Vec<String>,
    /// Basic or bearer auth (secrets from env vars or files), if the web config asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Resend firing alerts this often. Default `1m`, Prometheus's `--rules.alert.resend-delay`.
    #[serde(default = "one_minute")]
    pub resend_delay: String,
    /// How often the daemon evaluates; firing alerts stay valid 4 × max of this and
    /// `resend_delay`. Default `1m`.
    #[serde(default = "one_minute")]
    pub evaluation_interval: String,
    /// opsadvisor's own external URL; when set, `generatorURL` links to the finding in
    /// its API (`<external_url>/api/v1/findings/<fingerprint>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// Which findings are sent; default all (Alertmanager routes them further).
    #[serde(default)]
    pub route: RouteConfig,
}

fn one_minute() -> String {
    "1m".into()
}

impl AlertmanagerConfig {
    pub(crate) fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.urls.is_empty() {
            out.push(("urls".into(), "needs at least one Alertmanager URL".into()));
        }
        for (j, u) in self.urls.iter().enumerate() {
            if let Err(e) = super::grafana::check_url(u) {
                out.push((format!("urls[{j}]"), e));
            }
        }
        if let Some(u) = &self.external_url
            && let Err(e) = super::grafana::check_url(u)
        {
            out.push(("external_url".into(), e));
        }
        for (field, v) in [
            ("resend_delay", &self.resend_delay),
            ("evaluation_interval", &self.evaluation_interval),
        ] {
            match parse_duration(v) {
                Ok(d) if d.is_zero() => out.push((field.into(), "must be more than 0s".into())),
                Ok(_) => {}
                Err(e) => out.push((field.into(), e)),
            }
        }
        if let Some(a) = &self.auth {
            out.extend(a.validate().into_iter().map(|(f, m)| (f.to_string(), m)));
        }
        out.extend(self.route.validate());
        out
    }
}

#[derive(Debug)]
pub(crate) struct AlertmanagerSink {
    pub(crate) config: AlertmanagerConfig,
    url: String,
}

impl AlertmanagerSink {
    pub(crate) fn new(config: AlertmanagerConfig, url: &str) -> Self {
        Self { config, url: url.trim_end_matches('/').to_string() }
    }

    fn resend_delay(&self) -> Duration {
        parse_duration(&self.config.resend_delay).unwrap_or(Duration::from_secs(60))
    }

    /// How long a firing alert stays valid without a resend.
    fn validity(&self) -> Duration {
        let eval = parse_duration(&self.config.evaluation_interval).unwrap_or(Duration::ZERO);
        self.resend_delay().max(eval) * 4
    }

    pub(crate) fn resend_policy(&self) -> ResendPolicy {
        ResendPolicy {
            resend_delay_ms: self.resend_delay().as_millis() as i64,
            resolved_retention_ms: RESOLVED_RETENTION.as_millis() as i64,
        }
    }

    pub(crate) async fn deliver(&self, client: &reqwest::Client, batch: &[Delivery]) -> Outcome {
        match self.request(client, batch) {
            Ok(p) => super::send(p.req).await.0,
            Err(reason) => Outcome::Retry { reason, after: None },
        }
    }

    /// One `POST /api/v2/alerts` for a batch, with the credentials it holds (in a header).
    pub(crate) fn request(
        &self,
        client: &reqwest::Client,
        batch: &[Delivery],
    ) -> Result<super::Prepared, String> {
        let credentials = self.config.auth.as_ref().map(AuthConfig::resolve).transpose()?.flatten();
        let now = crate::clock::now_ms();
        let alerts: Vec<Value> = batch
            .iter()
            .map(|d| {
                render(
                    &d.finding,
                    d.fired_at_ms,
                    d.kind.is_resolved().then_some(d.event_ms),
                    now,
                    self.validity(),
                    self.config.external_url.as_deref(),
                )
            })
            .collect();
        let req = client
            .post(format!("{}/api/v2/alerts", self.url))
            .header("Content-Type", "application/json")
            .body(Value::Array(alerts).to_string());
        let secrets = match &credentials {
            Some(crate::sources::auth::Credentials::Basic { password, .. }) => {
                vec![super::Secret::new(password)]
            }
            Some(crate::sources::auth::Credentials::Bearer(token)) => {
                vec![super::Secret::new(token)]
            }
            None => Vec::new(),
        };
        let req = crate::sources::auth::apply(req, credentials.as_ref());
        Ok(super::Prepared { req, secrets, secret_url: false })
    }
}

/// One alert. `resolved_at_ms` set means resolved. Pure, so it is tested directly.
pub(crate) fn render(
    f: &Finding,
    fired_at_ms: i64,
    resolved_at_ms: Option<i64>,
    now_ms: i64,
    validity: Duration,
    external_url: Option<&str>,
) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), json!(f.id));
    labels.insert("system".into(), json!(f.system.as_str()));
    labels.insert("cluster".into(), json!(f.cluster));
    if let Some(n) = f.node.as_deref().filter(|n| !n.is_empty()) {
        labels.insert("node".into(), json!(n));
    }
    labels.insert("severity".into(), json!(f.severity.as_str()));
    labels.insert("category".into(), json!(f.category.as_str()));
    let mut annotations = serde_json::Map::new();
    annotations.insert("summary".into(), json!(f.symptom));
    annotations.insert("fingerprint".into(), json!(f.fingerprint));
    for (k, v) in [("description", &f.action), ("cause", &f.cause), ("runbook_url", &f.docs_url)] {
        if !v.is_empty() {
            annotations.insert(k.into(), json!(v));
        }
    }
    let ends = match resolved_at_ms {
        // Alertmanager rejects endsAt before startsAt.
        Some(r) => r.max(fired_at_ms),
        None => now_ms.max(fired_at_ms) + validity.as_millis() as i64,
    };
    let mut alert = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(fired_at_ms),
        "endsAt": rfc3339(ends),
    });
    if let Some(base) = external_url {
        alert["generatorURL"] =
            json!(format!("{}/api/v1/findings/{}", base.trim_end_matches('/'), f.fingerprint));
    }
    alert
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::System;
    use crate::findings::{Category, Severity};

    fn finding(node: Option<&str>) -> Finding {
        Finding {
            id: "es_heap_pressure".into(),
            fingerprint: "0123456789abcdef".into(),
            system: System::Elasticsearch,
            cluster: "logs".into(),
            node: node.map(str::to_string),
            category: Category::Availability,
            severity: Severity::Warning,
            impact: vec![],
            analyzer: "rules".into(),
            symptom: "heap at 92%".into(),
            cause: String::new(),
            resources: vec![],
            evidence: vec![],
            action: "add nodes".into(),
            docs_url: String::new(),
            advises: Vec::new(),
        }
    }

    #[test]
    fn firing_alerts_end_four_resend_delays_ahead_and_resolved_ones_at_the_resolve() {
        let v = Duration::from_secs(240);
        let a = render(&finding(Some("es-1")), 1_000, None, 61_000, v, Some("http://oa:9646/"));
        assert_eq!(a["startsAt"], "1970-01-01T00:00:01.000Z");
        assert_eq!(a["endsAt"], "1970-01-01T00:05:01.000Z");
        assert_eq!(a["labels"]["alertname"], "es_heap_pressure");
        assert_eq!(a["labels"]["node"], "es-1");
        assert_eq!(a["generatorURL"], "http://oa:9646/api/v1/findings/0123456789abcdef");
        assert!(a["annotations"].get("cause").is_none());
        let r = render(&finding(None), 1_000, Some(90_000), 95_000, v, None);
        assert_eq!(r["endsAt"], "1970-01-01T00:01:30.000Z");
        assert!(r["labels"].get("node").is_none());
        assert!(r.get("generatorURL").is_none());
    }

    #[test]
    fn validity_is_four_times_the_larger_of_resend_delay_and_evaluation_interval() {
        let mut c: AlertmanagerConfig =
            serde_norway::from_str("{ urls: ['http://127.0.0.1:9093'] }").unwrap();
        assert!(c.validate().is_empty());
        assert_eq!(AlertmanagerSink::new(c.clone(), "x").validity(), Duration::from_secs(240));
        c.evaluation_interval = "2m".into();
        assert_eq!(AlertmanagerSink::new(c.clone(), "x").validity(), Duration::from_secs(480));
        c.urls = vec!["http://u:p@127.0.0.1:9093".into()];
        assert!(c.validate()[0].1.contains("credentials"));
    }
}
