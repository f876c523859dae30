//! `advise --dry-run` (contracts §2.7): for the findings of one run, the request each
//! configured sink would receive when they fire, printed instead of sent.
//!
//! The requests are built by the sinks' own code (the `request` functions `deliver` sends),
//! so what is printed is what the daemon sends on a first try, minus secrets: the URL without
//! credentials or query string (a Slack webhook, whose URL is the secret, keeps only its host
//! and the shape of its path: `https://hooks.slack.com/services/T…/B…/<redacted>`), no
//! `Authorization` header, and every occurrence of a secret value in what remains (a PagerDuty
//! routing key sits in the body) replaced by `<redacted>`. Nothing is sent and no outbox is
//! opened. Headers the HTTP client adds to every request (`User-Agent`, `Accept-Encoding`) are
//! not shown.

use super::{Delivery, Kind, NotificationsConfig, NotifyError, Prepared, build_sinks};
use crate::findings::Finding;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What replaces a secret in the printed requests.
const REDACTED: &str = "<redacted>";

/// One request a sink would receive.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRequest {
    /// The sink's name (as in the outbox and the metrics).
    pub sink: String,
    /// `slack`, `pagerduty`, `grafana` or `alertmanager`.
    pub service: &'static str,
    /// What the request says about the findings: `fire`.
    pub notification: &'static str,
    /// Fingerprints of the findings in it (Alertmanager takes several per request).
    pub fingerprints: Vec<String>,
    /// HTTP method.
    pub method: String,
    /// URL without secrets.
    pub url: String,
    /// Headers, without credentials.
    pub headers: BTreeMap<String, String>,
    /// The JSON body.
    pub body: Value,
}

/// A sink whose request could not be built (typically a secret that is not available here).
#[derive(Debug, Clone, Serialize)]
pub struct Unprepared {
    /// The sink's name.
    pub sink: String,
    /// Why (names the variable or file, never a value).
    pub error: String,
}

/// Everything a dry run would have sent.
#[derive(Debug, Default, Serialize)]
pub struct DryRun {
    /// The requests, sink by sink in config order.
    pub requests: Vec<PlannedRequest>,
    /// Sinks whose requests could not be built.
    pub errors: Vec<Unprepared>,
}

/// The fire requests every configured sink would receive for `firing` (routes applied).
///
/// # Errors
/// The `notifications:` section is invalid, or the HTTP client cannot be built.
pub fn plan(
    config: &NotificationsConfig,
    firing: &[Finding],
    now_ms: i64,
) -> Result<DryRun, NotifyError> {
    let issues = config.validate();
    if !issues.is_empty() {
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        return Err(NotifyError::Config(text.join("; ")));
    }
    let client = crate::sources::http_client(std::time::Duration::from_secs(10))
        .map_err(|e| NotifyError::Http(e.to_string()))?;
    let mut out = DryRun::default();
    for s in build_sinks(config) {
        let deliveries: Vec<Delivery> = firing
            .iter()
            .filter(|f| s.sink.route().matches(f))
            .map(|f| Delivery {
                id: 0,
                kind: Kind::Fire,
                finding: f.clone(),
                fired_at_ms: now_ms,
                event_ms: now_ms,
                attempts: 0,
                annotation_id: None,
            })
            .collect();
        for batch in deliveries.chunks(s.sink.batch_size()) {
            let described = s.sink.fire_request(&client, batch).and_then(describe);
            match described {
                Ok(r) => out.requests.push(PlannedRequest {
                    sink: s.name.clone(),
                    service: s.sink.kind_name(),
                    notification: Kind::Fire.as_str(),
                    fingerprints: batch.iter().map(|d| d.finding.fingerprint.clone()).collect(),
                    method: r.method,
                    url: r.url,
                    headers: r.headers,
                    body: r.body,
                }),
                Err(error) => {
                    out.errors.push(Unprepared { sink: s.name.clone(), error });
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// A built request, secrets removed.
struct Described {
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// Headers that carry credentials: never printed.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

fn describe(p: Prepared) -> Result<Described, String> {
    let req = p.req.build().map_err(super::describe_http_error)?;
    let secrets: Vec<&str> =
        p.secrets.iter().map(|s| s.expose()).filter(|s| !s.is_empty()).collect();
    let scrub = |text: &str| secrets.iter().fold(text.to_string(), |t, s| t.replace(s, REDACTED));
    let url = if p.secret_url {
        redact_secret_url(req.url())
    } else {
        crate::sources::redact(req.url().as_str())
    };
    let headers = req
        .headers()
        .iter()
        .filter(|(name, value)| {
            !value.is_sensitive() && !CREDENTIAL_HEADERS.contains(&name.as_str())
        })
        .map(|(name, value)| {
            (name.as_str().to_string(), scrub(&String::from_utf8_lossy(value.as_bytes())))
        })
        .collect();
    let text =
        req.body().and_then(|b| b.as_bytes()).map(String::from_utf8_lossy).unwrap_or_default();
    let mut body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()));
    scrub_value(&mut body, &scrub);
    Ok(Described { method: req.method().to_string(), url: scrub(&url), headers, body })
}

/// Replaces secrets in every string of a JSON value (keys included).
fn scrub_value(v: &mut Value, scrub: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = scrub(s),
        Value::Array(items) => items.iter_mut().for_each(|i| scrub_value(i, scrub)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut item) in entries {
                scrub_value(&mut item, scrub);
                map.insert(scrub(&k), item);
            }
        }
        _ => {}
    }
}

/// A URL that is itself a secret, as in contracts §2.3: scheme, host and port, the first
/// path segment, the first letter of the others, and `<redacted>` for the last:
/// `https://hooks.slack.com/services/T…/B…/<redacted>`.
fn redact_secret_url(url: &reqwest::Url) -> String {
    let segments: Vec<&str> = url.path_segments().map(Iterator::collect).unwrap_or_default();
    let last = segments.len().saturating_sub(1);
    let path: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(i, seg)| match i {
            _ if i == last => REDACTED.to_string(),
            0 => (*seg).to_string(),
            _ => seg.chars().next().map(|c| format!("{c}…")).unwrap_or_default(),
        })
        .collect();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{port}/{}", url.scheme(), url.host_str().unwrap_or(""), path.join("/"))
}

impl DryRun {
    /// As text: one HTTP-message-like block per request, then the sinks that failed.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for r in &self.requests {
            out.push_str(&format!(
                "### {} ({}): {} of {}\n{} {}\n",
                r.sink,
                r.service,
                r.notification,
                r.fingerprints.join(", "),
                r.method,
                r.url
            ));
            for (name, value) in &r.headers {
                out.push_str(&format!("{name}: {value}\n"));
            }
            out.push('\n');
            out.push_str(&serde_json::to_string_pretty(&r.body).unwrap_or_default());
            out.push_str("\n\n");
        }
        for e in &self.errors {
            out.push_str(&format!("### {}: not prepared: {}\n", e.sink, e.error));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_url_keeps_only_its_shape() {
        let u = reqwest::Url::parse("https://hooks.slack.com/services/T0ABC/B0DEF/xyzSECRET?x=1")
            .unwrap();
        assert_eq!(redact_secret_url(&u), "https://hooks.slack.com/services/T…/B…/<redacted>");
        let u = reqwest::Url::parse("http://127.0.0.1:8080/hook").unwrap();
        assert_eq!(redact_secret_url(&u), "http://127.0.0.1:8080/<redacted>");
    }

    #[test]
    fn secrets_are_scrubbed_from_keys_and_values() {
        let scrub = |t: &str| t.replace("k3y", REDACTED);
        let mut v = serde_json::json!({"routing_key": "k3y", "k3y": ["a k3y b", 1]});
        scrub_value(&mut v, &scrub);
        assert_eq!(
            v,
            serde_json::json!({"routing_key": "<redacted>", "<redacted>": ["a <redacted> b", 1]})
        );
    }
}
