//! The HTTP API (axum): `/metrics`, `/-/healthy`, `/-/ready`, `/-/reload`, the findings and
//! targets API with Prometheus's `{"status":"success","data":…}` envelope, and `/`.
//!
//! With a bearer token configured every endpoint but the two probes requires
//! `Authorization: Bearer <token>`: probes carry no secret and reveal nothing. The token is
//! compared in constant time and never logged.

use super::{FindingView, Shared};
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The router over the daemon's shared state.
pub fn router(shared: Arc<Shared>) -> Router {
    let protected = Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/-/reload", post(reload).put(reload))
        .route("/api/v1/findings", get(findings))
        .route("/api/v1/findings/{fingerprint}", get(finding))
        .route("/api/v1/targets", get(targets))
        .layer(middleware::from_fn_with_state(shared.clone(), auth));
    Router::new()
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .merge(protected)
        .with_state(shared)
}

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
    if let Some(token) = &s.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
            let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token required");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(req).await
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
}
