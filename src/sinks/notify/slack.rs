//! Slack incoming webhooks with Block Kit (contracts §1.1).
//!
//! One message per finding: a `header` (plain text, ≤150 chars) with the severity emoji,
//! a `section` with the symptom (mrkdwn, ≤3000), `fields` (≤10, each ≤2000), the action,
//! and a `context` with the fingerprint and a docs link. `text` is always sent too: it is
//! the notification and fallback text. Text is escaped (`&`, `<`, `>`) and cut on
//! character boundaries. Success is `200` with body `ok`; anything else from Slack is an
//! error even with a 2xx. The webhook URL is the credential, so it only comes from an env
//! var or a file and never appears in a log or an error.

use super::{Delivery, Outcome, RouteConfig, SecretSource, subject, truncate_chars};
use crate::findings::{Finding, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// Block Kit limits (docs.slack.dev "Blocks"; python-slack-sdk validators).
pub(crate) const HEADER_MAX: usize = 150;
pub(crate) const SECTION_TEXT_MAX: usize = 3000;
pub(crate) const FIELD_MAX: usize = 2000;
pub(crate) const FIELDS_MAX: usize = 10;
pub(crate) const BLOCKS_MAX: usize = 50;

/// One Slack incoming webhook (one channel).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Name used in logs, metrics and the outbox; default `slack[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Environment variable holding the webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_env: Option<String>,
    /// File holding the webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_file: Option<String>,
    /// Which findings go here; default all.
    #[serde(default)]
    pub route: RouteConfig,
    /// Also post a message when a finding resolves. Default true.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Least time between two messages: Slack allows about one per second per webhook.
    /// Default `1s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<String>,
}

fn yes() -> bool {
    true
}

impl SlackConfig {
    fn secret(&self) -> SecretSource {
        SecretSource::new(self.webhook_url_env.as_ref(), self.webhook_url_file.as_ref())
    }

    pub(crate) fn validate(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            self.secret().check("webhook_url").into_iter().collect();
        if let Some(m) = &self.min_interval
            && let Err(e) = crate::config::parse_duration(m)
        {
            out.push(("min_interval".into(), e));
        }
        out.extend(self.route.validate());
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            out.push(("name".into(), "must not be empty".into()));
        }
        out
    }
}

#[derive(Debug)]
pub(crate) struct SlackSink {
    pub(crate) config: SlackConfig,
}

impl SlackSink {
    pub(crate) fn new(config: SlackConfig) -> Self {
        Self { config }
    }

    pub(crate) fn min_interval(&self) -> Duration {
        self.config
            .min_interval
            .as_deref()
            .and_then(|m| crate::config::parse_duration(m).ok())
            .unwrap_or(Duration::from_secs(1))
    }

    /// The request for one notification, with the secret it holds (the webhook URL).
    pub(crate) fn request(
        &self,
        client: &reqwest::Client,
        d: &Delivery,
    ) -> Result<super::Prepared, String> {
        let url = self.config.secret().read().map_err(|e| format!("webhook_url: {e}"))?;
        let body = render(&d.finding, d.kind.is_resolved());
        let req = client
            .post(url.expose())
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.to_string());
        Ok(super::Prepared { req, secrets: vec![url], secret_url: true })
    }

    pub(crate) async fn deliver(&self, client: &reqwest::Client, d: &Delivery) -> Outcome {
        let req = match self.request(client, d) {
            Ok(p) => p.req,
            Err(reason) => return Outcome::Retry { reason, after: None },
        };
        match super::send(req).await {
            // Slack says 200 `ok`; any other body means the message was not posted.
            (Outcome::Delivered { .. }, body) if body.trim() != "ok" => Outcome::Permanent {
                reason: format!("unexpected response: {}", truncate_chars(body.trim(), 200)),
            },
            (outcome, _) => outcome,
        }
    }
}

/// Escapes text for mrkdwn.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn emoji(s: Severity) -> &'static str {
    match s {
        Severity::Critical => ":red_circle:",
        Severity::Warning => ":large_orange_circle:",
        Severity::Info => ":large_blue_circle:",
    }
}

/// The webhook body for one finding firing or resolved. Pure, so it is tested directly.
pub(crate) fn render(f: &Finding, resolved: bool) -> Value {
    let state = if resolved { "RESOLVED" } else { "FIRING" };
    let icon = if resolved { ":white_check_mark:" } else { emoji(f.severity) };
    let title = format!("{state} [{}] {}", f.severity.as_str().to_uppercase(), subject(f));
    let text = truncate_chars(&format!("{title}: {}", f.symptom), 3000);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": truncate_chars(&format!("{icon} {title}"), HEADER_MAX)}}),
        section(&format!("*{}*", esc(&f.symptom))),
    ];
    let mut fields = vec![
        format!("*Severity*\n{}", f.severity.as_str()),
        format!("*Cluster*\n{} ({})", esc(&f.cluster), f.system.as_str()),
        format!("*Node*\n{}", esc(f.node.as_deref().unwrap_or("(cluster-wide)"))),
        format!("*Category*\n{}", f.category.as_str()),
    ];
    if !f.impact.is_empty() {
        let impact: Vec<&str> = f.impact.iter().map(|i| i.as_str()).collect();
        fields.push(format!("*Impact*\n{}", impact.join(", ")));
    }
    for e in f.evidence.iter().take(FIELDS_MAX - fields.len()) {
        let v = e.value.map_or("n/a".to_string(), |v| format!("{v}"));
        let t = e.threshold.map_or("n/a".to_string(), |v| format!("{v}"));
        fields.push(format!("*{}*\n{v} {} {t}", esc(&e.feature), esc(&e.op)));
    }
    blocks.push(json!({"type": "section", "fields": fields.iter()
        .take(FIELDS_MAX)
        .map(|t| json!({"type": "mrkdwn", "text": truncate_chars(t, FIELD_MAX)}))
        .collect::<Vec<_>>()}));
    if !f.cause.is_empty() {
        blocks.push(section(&format!("*Cause*: {}", esc(&f.cause))));
    }
    if !resolved && !f.action.is_empty() {
        blocks.push(section(&format!("*What to do*: {}", esc(&f.action))));
    }
    let mut context = vec![format!("fingerprint `{}` · {}", f.fingerprint, esc(&f.analyzer))];
    if !f.docs_url.is_empty() {
        context.push(format!("<{}|docs>", f.docs_url.replace('|', "%7C").replace('>', "%3E")));
    }
    blocks.push(json!({"type": "context", "elements": context.iter()
        .map(|t| json!({"type": "mrkdwn", "text": t})).collect::<Vec<_>>()}));
    blocks.truncate(BLOCKS_MAX);
    json!({"text": text, "blocks": blocks})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate_chars(text, SECTION_TEXT_MAX)}})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::System;
    use crate::findings::{Category, Evidence};

    fn finding() -> Finding {
        Finding {
            id: "cassandra_compaction_backlog".into(),
            fingerprint: "0123456789abcdef".into(),
            system: System::Cassandra,
            cluster: "prod".into(),
            node: Some("cass-1".into()),
            category: Category::Tuning,
            severity: Severity::Warning,
            impact: vec![],
            analyzer: "rules".into(),
            symptom: format!("<b>{}</b> & more", "x".repeat(5000)),
            cause: String::new(),
            resources: vec![],
            evidence: (0..20)
                .map(|i| Evidence {
                    feature: format!("f{i}"),
                    value: Some(1.0),
                    op: ">".into(),
                    threshold: Some(0.5),
                })
                .collect(),
            action: "set concurrent_compactors to 4".into(),
            docs_url: "https://example.com/x".into(),
            advises: Vec::new(),
        }
    }

    #[test]
    fn messages_respect_block_kit_limits_and_escape_text() {
        let v = render(&finding(), false);
        assert!(!v["text"].as_str().unwrap().is_empty());
        let blocks = v["blocks"].as_array().unwrap();
        assert!(blocks.len() <= BLOCKS_MAX);
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= HEADER_MAX);
        let symptom = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(symptom.chars().count() <= SECTION_TEXT_MAX);
        assert!(symptom.starts_with("*&lt;b&gt;") && !symptom.contains('<'));
        assert!(blocks[2]["fields"].as_array().unwrap().len() <= FIELDS_MAX);
        let resolved = render(&finding(), true);
        assert!(resolved["text"].as_str().unwrap().starts_with("RESOLVED"));
    }
}
