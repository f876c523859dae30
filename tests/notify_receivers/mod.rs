//! Loopback fakes of Slack, PagerDuty and Grafana that check the documented wire contracts
//! (../shared/docs/contracts.md §1.1–1.3 and the §4 checklist), answer as the real service
//! does, and can be scripted to fail (429 with Retry-After, 5xx, 4xx).
//!
//! Every request is logged with its arrival time. A request that breaks the contract is
//! answered 400 (as the service would) and recorded in `violations`, which tests assert empty.

#![allow(dead_code, clippy::unwrap_used)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A scripted answer, used instead of the normal one for the next request.
#[derive(Debug, Clone)]
pub(crate) struct Scripted {
    pub(crate) status: u16,
    pub(crate) body: &'static str,
    pub(crate) retry_after: Option<&'static str>,
    /// Record the request as received (and applied) before failing, as if the answer were
    /// lost on the way back.
    pub(crate) apply: bool,
}

impl Scripted {
    pub(crate) fn fail(status: u16, body: &'static str) -> Scripted {
        Scripted { status, body, retry_after: None, apply: false }
    }
    pub(crate) fn rate_limited(retry_after: &'static str) -> Scripted {
        Scripted { status: 429, body: "rate_limited", retry_after: Some(retry_after), apply: false }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) at: Instant,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) body: Value,
    pub(crate) status: u16,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) script: VecDeque<Scripted>,
    pub(crate) log: Vec<Received>,
    pub(crate) violations: Vec<String>,
    /// PagerDuty: open alerts by (routing_key, dedup_key); incidents opened per dedup_key.
    pub(crate) open: BTreeMap<(String, String), Value>,
    pub(crate) incidents: BTreeMap<String, u32>,
    pub(crate) resolves_applied: BTreeMap<String, u32>,
    /// Grafana: annotations by id.
    pub(crate) annotations: BTreeMap<i64, Value>,
    /// Delay every answer by this long (after the request is recorded).
    pub(crate) delay: Duration,
    /// Randomly fail this share of requests with 500 / 429 / a dropped answer (seeded).
    pub(crate) flaky: f64,
    pub(crate) rng: u64,
    /// Requests applied whose answer was then "lost" (the client saw a failure).
    pub(crate) lost: u32,
    /// PagerDuty: 2xx-applied events per (dedup_key, event_action), duplicates included.
    pub(crate) applied: BTreeMap<(String, String), u32>,
    /// Grafana: the token it accepts.
    pub(crate) token: String,
}

#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) base: String,
    pub(crate) state: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub(crate) fn push(&self, s: Scripted) {
        self.state.lock().unwrap().script.push_back(s);
    }
    pub(crate) fn log(&self) -> Vec<Received> {
        self.state.lock().unwrap().log.clone()
    }
    pub(crate) fn accepted(&self) -> Vec<Received> {
        self.log().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }
    pub(crate) fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
    pub(crate) fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }
    pub(crate) fn set_flaky(&self, share: f64, seed: u64) {
        let mut s = self.state.lock().unwrap();
        s.flaky = share;
        s.rng = seed | 1;
    }

    /// Waits until `pred` holds on the state, for up to `secs`; whether it did.
    pub(crate) async fn wait_for(&self, secs: u64, pred: impl Fn(&Inner) -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if pred(&self.state.lock().unwrap()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        pred(&self.state.lock().unwrap())
    }
}

type Shared = Arc<Mutex<Inner>>;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

enum Next {
    Normal,
    Reply(Scripted),
}

/// Takes the scripted or random failure for this request, if any.
fn next(s: &mut Inner) -> Next {
    if let Some(x) = s.script.pop_front() {
        return Next::Reply(x);
    }
    if s.flaky > 0.0 {
        // xorshift64*: a deterministic sequence per seed.
        s.rng ^= s.rng >> 12;
        s.rng ^= s.rng << 25;
        s.rng ^= s.rng >> 27;
        let r = (s.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        if r < s.flaky / 3.0 {
            return Next::Reply(Scripted::fail(500, "flaky"));
        } else if r < 2.0 * s.flaky / 3.0 {
            return Next::Reply(Scripted {
                status: 429,
                body: "slow down",
                retry_after: Some("0"),
                apply: false,
            });
        } else if r < s.flaky {
            return Next::Reply(Scripted {
                status: 502,
                body: "lost answer",
                retry_after: None,
                apply: true,
            });
        }
    }
    Next::Normal
}

fn scripted_response(x: &Scripted) -> Response {
    let mut r = (StatusCode::from_u16(x.status).unwrap(), x.body).into_response();
    if let Some(ra) = x.retry_after {
        r.headers_mut().insert("Retry-After", ra.parse().unwrap());
    }
    r
}

fn record(s: &mut Inner, method: &Method, path: &str, body: &Value, status: u16) {
    s.log.push(Received {
        at: Instant::now(),
        method: method.to_string(),
        path: path.to_string(),
        body: body.clone(),
        status,
    });
}

fn json_body(headers: &HeaderMap, bytes: &Bytes, violations: &mut Vec<String>) -> Option<Value> {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/json") {
        violations.push(format!("Content-Type is '{ct}', not application/json"));
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            violations.push(format!("body is not JSON: {e}"));
            None
        }
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

// ---------------------------------------------------------------- Slack

/// A Slack incoming webhook at `<base>/services/T000/B000/<secret>`.
pub(crate) async fn slack(secret: &str) -> (Receiver, String) {
    let state: Shared = Arc::default();
    let router = Router::new()
        .route("/services/{t}/{b}/{secret}", any(slack_handler))
        .with_state(state.clone());
    let base = serve(router).await;
    let url = format!("{base}/services/T000/B000/{secret}");
    (Receiver { base, state }, url)
}

fn slack_check(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if v["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
        out.push("`text` must be a non-empty string".into());
    }
    if let Some(blocks) = v.get("blocks") {
        let Some(blocks) = blocks.as_array() else {
            return vec!["`blocks` must be an array".into()];
        };
        if blocks.len() > 50 {
            out.push(format!("{} blocks > 50", blocks.len()));
        }
        for (i, b) in blocks.iter().enumerate() {
            match b["type"].as_str() {
                Some("header") => {
                    if b["text"]["type"] != "plain_text" {
                        out.push(format!("blocks[{i}] header text must be plain_text"));
                    }
                    if chars(&b["text"]["text"]) > 150 || chars(&b["text"]["text"]) == 0 {
                        out.push(format!("blocks[{i}] header text empty or > 150"));
                    }
                }
                Some("section") => {
                    if let Some(t) = b.get("text")
                        && chars(&t["text"]) > 3000
                    {
                        out.push(format!("blocks[{i}] section text > 3000"));
                    }
                    if let Some(f) = b.get("fields") {
                        let f = f.as_array().cloned().unwrap_or_default();
                        if f.len() > 10 || f.iter().any(|x| chars(&x["text"]) > 2000) {
                            out.push(format!("blocks[{i}] fields: > 10 or one > 2000"));
                        }
                    }
                    if b.get("text").is_none() && b.get("fields").is_none() {
                        out.push(format!("blocks[{i}] section needs text or fields"));
                    }
                }
                Some("context") => {
                    if b["elements"].as_array().is_none_or(|e| e.is_empty() || e.len() > 10) {
                        out.push(format!("blocks[{i}] context needs 1..=10 elements"));
                    }
                }
                Some("divider") | Some("actions") | Some("image") => {}
                other => out.push(format!("blocks[{i}] unknown type {other:?}")),
            }
        }
    }
    out
}

async fn slack_handler(
    State(state): State<Shared>,
    method: Method,
    Path((_t, _b, _secret)): Path<(String, String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (delay, reply) = {
        let mut s = state.lock().unwrap();
        let mut violations = Vec::new();
        if method != Method::POST {
            violations.push(format!("method {method}, Slack takes POST"));
        }
        let body = json_body(&headers, &bytes, &mut violations).unwrap_or(Value::Null);
        violations.extend(slack_check(&body));
        let reply = if !violations.is_empty() {
            s.violations.extend(violations);
            record(&mut s, &method, "slack", &body, 400);
            (StatusCode::BAD_REQUEST, "invalid_payload").into_response()
        } else {
            match next(&mut s) {
                Next::Reply(x) => {
                    record(&mut s, &method, "slack", &body, if x.apply { 200 } else { x.status });
                    scripted_response(&x)
                }
                Next::Normal => {
                    record(&mut s, &method, "slack", &body, 200);
                    ([("content-type", "text/plain")], "ok").into_response()
                }
            }
        };
        (s.delay, reply)
    };
    tokio::time::sleep(delay).await;
    reply
}

// ---------------------------------------------------------------- PagerDuty

/// A PagerDuty Events API v2 at `<base>/v2/enqueue`.
pub(crate) async fn pagerduty() -> (Receiver, String) {
    let state: Shared = Arc::default();
    let router = Router::new().route("/v2/enqueue", post(pd_handler)).with_state(state.clone());
    let base = serve(router).await;
    let url = format!("{base}/v2/enqueue");
    (Receiver { base, state }, url)
}

fn pd_check(v: &Value, size: usize) -> Vec<String> {
    let mut out = Vec::new();
    if size > 512 * 1024 {
        out.push(format!("event of {size} bytes > 512 KB"));
    }
    if v["routing_key"].as_str().is_none_or(|k| k.len() != 32) {
        out.push("routing_key must be a 32-character string".into());
    }
    let action = v["event_action"].as_str().unwrap_or("");
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        out.push(format!("event_action '{action}' unknown"));
    }
    if let Some(k) = v.get("dedup_key")
        && k.as_str().is_none_or(|k| k.is_empty() || k.chars().count() > 255)
    {
        out.push("dedup_key must be a string of 1..=255 chars".into());
    }
    if action == "trigger" {
        let p = &v["payload"];
        if p["summary"].as_str().is_none_or(|s| s.is_empty() || s.chars().count() > 1024) {
            out.push("payload.summary must be 1..=1024 chars".into());
        }
        if p["source"].as_str().is_none_or(str::is_empty) {
            out.push("payload.source is required".into());
        }
        if !["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or(""))
        {
            out.push(format!("payload.severity {} invalid", p["severity"]));
        }
        if let Some(ts) = p.get("timestamp")
            && ts.as_str().is_none_or(|t| !t.contains('T'))
        {
            out.push("payload.timestamp must be ISO 8601".into());
        }
    } else if v.get("dedup_key").is_none() {
        out.push(format!("{action} needs dedup_key"));
    }
    out
}

async fn pd_handler(State(state): State<Shared>, headers: HeaderMap, bytes: Bytes) -> Response {
    let (delay, reply) = {
        let mut s = state.lock().unwrap();
        let mut violations = Vec::new();
        let body = json_body(&headers, &bytes, &mut violations).unwrap_or(Value::Null);
        violations.extend(pd_check(&body, bytes.len()));
        let m = Method::POST;
        let reply = if !violations.is_empty() {
            s.violations.extend(violations);
            record(&mut s, &m, "/v2/enqueue", &body, 400);
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"status": "invalid event",
                "message": "Event object is invalid", "errors": ["invalid"]})),
            )
                .into_response()
        } else {
            let scripted = match next(&mut s) {
                Next::Reply(x) => Some(x),
                Next::Normal => None,
            };
            let apply = scripted.as_ref().is_none_or(|x| x.apply);
            let key = body["dedup_key"].as_str().unwrap_or("").to_string();
            if apply {
                if scripted.is_some() {
                    s.lost += 1;
                }
                let action = body["event_action"].as_str().unwrap_or("").to_string();
                *s.applied.entry((key.clone(), action)).or_default() += 1;
                let rk = body["routing_key"].as_str().unwrap_or("").to_string();
                let open_key = (rk, key.clone());
                match body["event_action"].as_str() {
                    // Same routing key + dedup key on an open alert: deduplicated.
                    Some("trigger") if !s.open.contains_key(&open_key) => {
                        *s.incidents.entry(key.clone()).or_default() += 1;
                        s.open.insert(open_key, body.clone());
                    }
                    Some("resolve") if s.open.remove(&open_key).is_some() => {
                        *s.resolves_applied.entry(key.clone()).or_default() += 1;
                    }
                    _ => {}
                }
            }
            match scripted {
                Some(x) => {
                    record(&mut s, &m, "/v2/enqueue", &body, if x.apply { 202 } else { x.status });
                    scripted_response(&x)
                }
                None => {
                    record(&mut s, &m, "/v2/enqueue", &body, 202);
                    (
                        StatusCode::ACCEPTED,
                        axum::Json(json!({"status": "success",
                        "message": "Event processed", "dedup_key": key})),
                    )
                        .into_response()
                }
            }
        };
        (s.delay, reply)
    };
    tokio::time::sleep(delay).await;
    reply
}

// ---------------------------------------------------------------- Grafana

/// A Grafana annotations API at `<base>/api/annotations` that wants `Bearer <token>`.
pub(crate) async fn grafana(token: &str) -> Receiver {
    let state: Shared = Arc::default();
    state.lock().unwrap().token = token.to_string();
    let router = Router::new()
        .route("/api/annotations", any(grafana_root))
        .route("/api/annotations/{id}", any(grafana_one))
        .with_state(state.clone());
    let base = serve(router).await;
    Receiver { base, state }
}

async fn grafana_root(
    st: State<Shared>,
    m: Method,
    h: HeaderMap,
    q: RawQuery,
    b: Bytes,
) -> Response {
    grafana_handler(st, m, h, q, None, b).await
}

async fn grafana_one(
    st: State<Shared>,
    m: Method,
    h: HeaderMap,
    q: RawQuery,
    Path(id): Path<i64>,
    b: Bytes,
) -> Response {
    grafana_handler(st, m, h, q, Some(id), b).await
}

async fn grafana_handler(
    State(state): State<Shared>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    id: Option<i64>,
    bytes: Bytes,
) -> Response {
    let (delay, reply) = {
        let mut s = state.lock().unwrap();
        let path = id.map_or("/api/annotations".to_string(), |i| format!("/api/annotations/{i}"));
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        let reply = if auth != format!("Bearer {}", s.token) {
            record(&mut s, &method, &path, &Value::Null, 401);
            (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Unauthorized"})))
                .into_response()
        } else if method == Method::GET && id.is_none() {
            // Find: tags (AND), from/to in ms.
            let q = query.unwrap_or_default();
            let pairs: Vec<(String, String)> = url_pairs(&q);
            let tags: Vec<&String> =
                pairs.iter().filter(|(k, _)| k == "tags").map(|(_, v)| v).collect();
            let from =
                pairs.iter().find(|(k, _)| k == "from").and_then(|(_, v)| v.parse::<i64>().ok());
            let to = pairs.iter().find(|(k, _)| k == "to").and_then(|(_, v)| v.parse::<i64>().ok());
            let found: Vec<Value> = s
                .annotations
                .iter()
                .filter(|(_, a)| {
                    let at: Vec<&str> =
                        a["tags"].as_array().unwrap().iter().filter_map(|t| t.as_str()).collect();
                    let t = a["time"].as_i64().unwrap_or(0);
                    tags.iter().all(|x| at.contains(&x.as_str()))
                        && from.is_none_or(|f| t >= f)
                        && to.is_none_or(|e| t <= e)
                })
                .map(|(id, a)| {
                    let mut a = a.clone();
                    a["id"] = json!(id);
                    a
                })
                .collect();
            record(&mut s, &method, &path, &Value::Null, 200);
            axum::Json(Value::Array(found)).into_response()
        } else {
            let mut violations = Vec::new();
            let body = json_body(&headers, &bytes, &mut violations).unwrap_or(Value::Null);
            match (&method, id) {
                (&Method::POST, None) => {
                    if body["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
                        violations.push("text is required".into());
                    }
                    match body["time"].as_i64() {
                        Some(t) if t.to_string().len() == 13 => {}
                        other => violations.push(format!("time must be epoch ms, got {other:?}")),
                    }
                    if let Some(e) = body.get("timeEnd")
                        && e.as_i64().is_none_or(|e| Some(e) < body["time"].as_i64())
                    {
                        violations.push("timeEnd must be an integer >= time".into());
                    }
                    if body["tags"].as_array().is_none_or(|t| t.iter().any(|x| !x.is_string())) {
                        violations.push("tags must be an array of strings".into());
                    }
                }
                (&Method::PATCH, Some(i)) => {
                    if !s.annotations.contains_key(&i) {
                        record(&mut s, &method, &path, &body, 404);
                        return (
                            StatusCode::NOT_FOUND,
                            axum::Json(json!({"message": "Could not find annotation to update"})),
                        )
                            .into_response();
                    }
                    if body["timeEnd"]
                        .as_i64()
                        .is_none_or(|e| Some(e) < s.annotations[&i]["time"].as_i64())
                    {
                        violations.push("PATCH timeEnd must be an integer >= time".into());
                    }
                }
                _ => violations.push(format!("unexpected {method} {path}")),
            }
            if !violations.is_empty() {
                s.violations.extend(violations);
                record(&mut s, &method, &path, &body, 400);
                (StatusCode::BAD_REQUEST, axum::Json(json!({"message": "bad request"})))
                    .into_response()
            } else {
                let scripted = match next(&mut s) {
                    Next::Reply(x) => Some(x),
                    Next::Normal => None,
                };
                let apply = scripted.as_ref().is_none_or(|x| x.apply);
                let mut new_id = None;
                if apply {
                    match id {
                        None => {
                            let nid = s.annotations.len() as i64 + 1;
                            s.annotations.insert(nid, body.clone());
                            new_id = Some(nid);
                        }
                        Some(i) => {
                            let end = body["timeEnd"].clone();
                            s.annotations.get_mut(&i).unwrap()["timeEnd"] = end;
                        }
                    }
                }
                match scripted {
                    Some(x) => {
                        record(&mut s, &method, &path, &body, if x.apply { 200 } else { x.status });
                        scripted_response(&x)
                    }
                    None => {
                        record(&mut s, &method, &path, &body, 200);
                        match new_id {
                            Some(nid) => {
                                axum::Json(json!({"message": "Annotation added", "id": nid}))
                                    .into_response()
                            }
                            None => {
                                axum::Json(json!({"message": "Annotation patched"})).into_response()
                            }
                        }
                    }
                }
            }
        };
        (s.delay, reply)
    };
    tokio::time::sleep(delay).await;
    reply
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
