//! Grafana annotations (contracts §1.3): `POST /api/annotations` when a finding fires
//! (`time` = when it fired, tags `opsadvisor`, `system:…`, `cluster:…`, `severity:…`,
//! `rule:…`, `node:…`, `fingerprint:…`), and `PATCH /api/annotations/:id` with `timeEnd`
//! when it resolves, turning it into a region. The id Grafana returns is kept in the outbox
//! database, written in the transaction that marks the fire delivered.
//!
//! Never a second annotation for one firing: if an earlier try of a fire may have reached
//! Grafana (the process died before recording the answer), the sink first looks for an
//! annotation with this finding's tags at exactly its fire time and reuses it.
//!
//! Without `dashboard_uid` the annotation belongs to the organisation and shows on any
//! dashboard whose annotation query filters on the tag `opsadvisor`.

use super::{Delivery, Kind, Outcome, RouteConfig, SecretSource, subject};
use crate::findings::Finding;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One Grafana instance.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrafanaConfig {
    /// Name used in logs, metrics and the outbox; default `grafana[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Base URL, e.g. `http://grafana:3000`.
    pub url: String,
    /// Environment variable holding a service-account token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// File holding a service-account token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// `X-Grafana-Org-Id`, when the token's default org is not the one to annotate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<u64>,
    /// Put annotations on this dashboard only; default: organisation annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_uid: Option<String>,
    /// Which findings are annotated; default all.
    #[serde(default)]
    pub route: RouteConfig,
}

impl GrafanaConfig {
    fn secret(&self) -> SecretSource {
        SecretSource::new(self.token_env.as_ref(), self.token_file.as_ref())
    }

    pub(crate) fn validate(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.secret().check("token").into_iter().collect();
        if let Err(e) = check_url(&self.url) {
            out.push(("url".into(), e));
        }
        out.extend(self.route.validate());
        out
    }
}

/// An http(s) URL without credentials in it (they belong in env vars or files).
pub(crate) fn check_url(u: &str) -> Result<(), String> {
    match reqwest::Url::parse(u) {
        Ok(url) if url.scheme() != "http" && url.scheme() != "https" => {
            Err(format!("unsupported URL scheme '{}'", url.scheme()))
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Err("credentials must not be in the URL; use the *_env or *_file keys".into())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(format!("invalid URL '{}': {e}", crate::sources::redact(u))),
    }
}

#[derive(Debug)]
pub(crate) struct GrafanaSink {
    pub(crate) config: GrafanaConfig,
}

impl GrafanaSink {
    pub(crate) fn new(config: GrafanaConfig) -> Self {
        Self { config }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    fn request(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let mut req = client.request(method, self.endpoint(path)).bearer_auth(token);
        if let Some(org) = self.config.org_id {
            req = req.header("X-Grafana-Org-Id", org.to_string());
        }
        req
    }

    /// `POST /api/annotations` for a fire: what `deliver` sends on a first try.
    fn create_request(
        &self,
        client: &reqwest::Client,
        d: &Delivery,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let body = render_create(&d.finding, d.fired_at_ms, &self.config);
        self.request(client, reqwest::Method::POST, "/api/annotations", token)
            .header("Content-Type", "application/json")
            .body(body.to_string())
    }

    /// The first-try request for a fire, with the secret it holds (the token, in a header).
    pub(crate) fn fire_request(
        &self,
        client: &reqwest::Client,
        d: &Delivery,
    ) -> Result<super::Prepared, String> {
        let token = self.config.secret().read().map_err(|e| format!("token: {e}"))?;
        let req = self.create_request(client, d, token.expose());
        Ok(super::Prepared { req, secrets: vec![token], secret_url: false })
    }

    pub(crate) async fn deliver(&self, client: &reqwest::Client, d: &Delivery) -> Outcome {
        let token = match self.config.secret().read() {
            Ok(t) => t,
            Err(e) => return Outcome::Retry { reason: format!("token: {e}"), after: None },
        };
        match d.kind {
            Kind::Fire => {
                if d.attempts > 0 {
                    match self.find_existing(client, token.expose(), d).await {
                        Ok(Some(id)) => return Outcome::Delivered { annotation_id: Some(id) },
                        Ok(None) => {}
                        Err(o) => return o,
                    }
                }
                let req = self.create_request(client, d, token.expose());
                match super::send(req).await {
                    (Outcome::Delivered { .. }, body) => {
                        match serde_json::from_str::<Value>(&body)
                            .ok()
                            .and_then(|v| v["id"].as_i64())
                        {
                            Some(id) => Outcome::Delivered { annotation_id: Some(id) },
                            None => Outcome::Permanent {
                                reason: "Grafana answered without an annotation id".into(),
                            },
                        }
                    }
                    (o, _) => o,
                }
            }
            Kind::Resolve => {
                let Some(id) = d.annotation_id else {
                    return Outcome::Permanent {
                        reason: "no annotation to end: its creation was never delivered".into(),
                    };
                };
                let req = self
                    .request(
                        client,
                        reqwest::Method::PATCH,
                        &format!("/api/annotations/{id}"),
                        token.expose(),
                    )
                    .header("Content-Type", "application/json")
                    .body(json!({"timeEnd": d.event_ms.max(d.fired_at_ms)}).to_string());
                super::send(req).await.0
            }
            // Grafana is not resent to; these kinds are never routed here.
            Kind::Resend | Kind::ResendResolved => Outcome::Delivered { annotation_id: None },
        }
    }

    /// The annotation an earlier, unrecorded try created, if any.
    async fn find_existing(
        &self,
        client: &reqwest::Client,
        token: &str,
        d: &Delivery,
    ) -> Result<Option<i64>, Outcome> {
        let t = d.fired_at_ms.to_string();
        let mut query: Vec<(&str, String)> = vec![
            ("from", t.clone()),
            ("to", t),
            ("type", "annotation".into()),
            ("limit", "10".into()),
            ("tags", "opsadvisor".into()),
            ("tags", format!("fingerprint:{}", d.finding.fingerprint)),
        ];
        if let Some(uid) = &self.config.dashboard_uid {
            query.push(("dashboardUID", uid.clone()));
        }
        let Ok(mut url) = reqwest::Url::parse(&self.endpoint("/api/annotations")) else {
            return Ok(None);
        };
        url.query_pairs_mut().extend_pairs(&query);
        let mut req = client.get(url).bearer_auth(token);
        if let Some(org) = self.config.org_id {
            req = req.header("X-Grafana-Org-Id", org.to_string());
        }
        match super::send(req).await {
            (Outcome::Delivered { .. }, body) => {
                let found = serde_json::from_str::<Value>(&body).ok().and_then(|v| {
                    v.as_array()?
                        .iter()
                        .find(|a| a["time"].as_i64() == Some(d.fired_at_ms))
                        .and_then(|a| a["id"].as_i64())
                });
                Ok(found)
            }
            (o @ Outcome::Retry { .. }, _) => Err(o),
            // Not allowed to read: fall back to creating it.
            (_, _) => Ok(None),
        }
    }
}

/// The tags of a finding's annotation; `fingerprint:` makes it findable again.
pub(crate) fn tags(f: &Finding) -> Vec<String> {
    let mut t = vec![
        "opsadvisor".to_string(),
        format!("system:{}", f.system.as_str()),
        format!("cluster:{}", f.cluster),
        format!("severity:{}", f.severity.as_str()),
        format!("rule:{}", f.id),
    ];
    if let Some(n) = &f.node {
        t.push(format!("node:{n}"));
    }
    t.push(format!("fingerprint:{}", f.fingerprint));
    t
}

/// The create body. Pure, so it is tested directly.
pub(crate) fn render_create(f: &Finding, fired_at_ms: i64, config: &GrafanaConfig) -> Value {
    let mut text = format!("{}: {}", subject(f), f.symptom);
    if !f.action.is_empty() {
        text.push_str(&format!("\n\nWhat to do: {}", f.action));
    }
    let mut body = json!({"time": fired_at_ms, "tags": tags(f), "text": text});
    if let Some(uid) = &config.dashboard_uid {
        body["dashboardUID"] = json!(uid);
    }
    body
}
