//! The HTTP API (axum): `/metrics` (`--web.telemetry-path`), `/-/healthy`, `/-/ready`,
//! `/-/reload`, `/-/quit`, the findings and targets API with Prometheus's
//! `{"status":"success","data":…}` envelope, and `/`.
//!
//! With a bearer token or `basic_auth_users` (`--web.config.file`) configured, every endpoint
//! but the two probes requires credentials: probes carry no secret and reveal nothing, and
//! Kubernetes probes need no password in the manifest. Either credential is enough when both
//! are configured. The token is compared in constant time; neither is ever logged.
//! The web config's `http_server_config.headers` go on every response, probes included.

use super::{FindingView, Shared};
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The router over the daemon's shared state.
///
/// `shared.telemetry_path` must not be one of the other routes (the CLI checks it).
pub fn router(shared: Arc<Shared>) -> Router {
    let protected = Router::new()
        .route("/", get(index))
        .route(&shared.telemetry_path, get(metrics))
        .route("/-/reload", post(reload).put(reload))
        .route("/-/quit", post(quit).put(quit))
        .route("/api/v1/findings", get(findings))
        .route("/api/v1/findings/{fingerprint}", get(finding))
        .route("/api/v1/targets", get(targets))
        .layer(middleware::from_fn_with_state(shared.clone(), auth));
    Router::new()
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .merge(protected)
        .layer(middleware::from_fn_with_state(shared.clone(), web_headers))
        .with_state(shared)
}

/// Routes the daemon serves besides the telemetry path, which must differ from all of them.
pub const RESERVED_PATHS: [&str; 8] = [
    "/",
    "/-/healthy",
    "/-/ready",
    "/-/reload",
    "/-/quit",
    "/api/v1/findings",
    "/api/v1/findings/{fingerprint}",
    "/api/v1/targets",
];

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (status, Json(json!({"status": "error", "errorType": error_type, "error": message})))
        .into_response()
}

/// Equal-time comparison, so the token cannot be guessed byte by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    // Fail closed, as exporter-toolkit does; the reason is logged once per change.
    let Ok(settings) = s.web.as_ref().map(|w| w.current()).transpose() else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the web config file is invalid; see the daemon's log",
        );
    };
    let users = settings.as_ref().filter(|w| !w.users.is_empty());
    if s.token.is_none() && users.is_none() {
        return next.run(req).await;
    }
    // Owned: nothing borrowed from the request lives across the bcrypt check's await.
    let given: Option<String> =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let given = given.as_deref();
    if let (Some(token), Some(bearer)) = (&s.token, given.and_then(|v| v.strip_prefix("Bearer ")))
        && same(bearer.trim().as_bytes(), token.as_bytes())
    {
        return next.run(req).await;
    }
    if let (Some(users), Some(web), Some((user, password))) =
        (users, s.web.as_ref(), given.and_then(basic_credentials))
        && web.check_user(users, &user, &password).await
    {
        return next.run(req).await;
    }
    let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized", "credentials required");
    if users.is_some() {
        r.headers_mut().append(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"opsadvisor\""),
        );
    }
    if s.token.is_some() {
        r.headers_mut()
            .append(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    r
}

/// `Authorization: Basic base64(user:password)`, decoded.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The web config's security headers, on every response.
async fn web_headers(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if let Some(Ok(settings)) = s.web.as_ref().map(|w| w.current()) {
        for (name, value) in &settings.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

async fn ready(State(s): State<Arc<Shared>>) -> Response {
    if s.view().ready {
        "Ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Not ready: first cycle not finished\n").into_response()
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let body = s.render_metrics();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn index(State(s): State<Arc<Shared>>) -> Response {
    let v = s.view();
    Html(super::page::render(&v.findings, &v.targets, v.ready)).into_response()
}

async fn reload(State(s): State<Arc<Shared>>) -> Response {
    match s.request_reload().await {
        Ok(()) => "Reloaded\n".into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n"))
            .into_response(),
    }
}

/// `/-/quit`: drain and exit as on SIGTERM, when `--web.enable-lifecycle` allows it (403
/// otherwise, with Prometheus's wording).
async fn quit(State(s): State<Arc<Shared>>) -> Response {
    if !s.lifecycle {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n").into_response();
    }
    tracing::info!("Shutdown requested through /-/quit.");
    let _ = s.shutdown.send(true);
    "Requesting termination... Goodbye!\n".into_response()
}

/// Filters of `/api/v1/findings`; each is optional, all must match.
#[derive(Debug, Deserialize)]
struct FindingsQuery {
    cluster: Option<String>,
    system: Option<String>,
    severity: Option<String>,
    state: Option<String>,
}

async fn findings(State(s): State<Arc<Shared>>, Query(q): Query<FindingsQuery>) -> Response {
    if let Some(sys) = &q.system
        && !crate::System::ALL.iter().any(|x| x.as_str() == sys)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_data",
            &format!("unknown system '{sys}' (expected cassandra, kafka or elasticsearch)"),
        );
    }
    if let Some(sev) = &q.severity
        && let Err(e) = sev.parse::<crate::findings::Severity>()
    {
        return error(StatusCode::BAD_REQUEST, "bad_data", &e);
    }
    if let Some(st) = &q.state
        && st != "pending"
        && st != "firing"
    {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_data",
            &format!("unknown state '{st}' (expected pending or firing)"),
        );
    }
    let v = s.view();
    let selected: Vec<&FindingView> = v
        .findings
        .iter()
        .filter(|f| q.cluster.as_ref().is_none_or(|c| &f.finding.cluster == c))
        .filter(|f| q.system.as_ref().is_none_or(|x| f.finding.system.as_str() == x))
        .filter(|f| q.severity.as_ref().is_none_or(|x| f.finding.severity.as_str() == x))
        .filter(|f| q.state.as_ref().is_none_or(|x| f.state == x))
        .collect();
    success(serde_json::to_value(selected).unwrap_or_default())
}

async fn finding(State(s): State<Arc<Shared>>, Path(fp): Path<String>) -> Response {
    let fp = fp.to_ascii_lowercase();
    let current = s.view().findings.iter().find(|f| f.finding.fingerprint == fp).cloned();
    let store = s.store.clone();
    let fp2 = fp.clone();
    let looked_up = tokio::task::spawn_blocking(move || {
        let store = store.lock().map_err(|_| "state store lock poisoned".to_string())?;
        let history = store.history(&fp2, 200).map_err(|e| e.to_string())?;
        let last = store.last_recorded(&fp2).map_err(|e| e.to_string())?;
        Ok::<_, String>((history, last))
    })
    .await;
    let (history, last) = match looked_up {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string()),
    };
    let mut data = match (current, last) {
        (Some(f), _) => serde_json::to_value(f).unwrap_or_default(),
        (None, Some(finding)) => {
            let mut v = serde_json::to_value(finding).unwrap_or_default();
            v["state"] = json!("inactive");
            v
        }
        (None, None) => {
            return error(StatusCode::NOT_FOUND, "not_found", &format!("no finding {fp}"));
        }
    };
    data["history"] = serde_json::to_value(history).unwrap_or_default();
    success(data)
}

async fn targets(State(s): State<Arc<Shared>>) -> Response {
    success(serde_json::to_value(&s.view().targets).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(super::same(b"secret", b"secret"));
        assert!(!super::same(b"secret", b"secreT"));
        assert!(!super::same(b"secret", b"secret2"));
    }

    #[test]
    fn basic_credentials_are_decoded() {
        // base64("alice:pa:ss")
        assert_eq!(
            super::basic_credentials("Basic YWxpY2U6cGE6c3M="),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(super::basic_credentials("Bearer YWxpY2U6cGE6c3M="), None);
        assert_eq!(super::basic_credentials("Basic !!!"), None);
    }
}
