//! Notifications: Slack, PagerDuty, Grafana annotations and Alertmanager, fed through a
//! persistent outbox so that nothing is lost across restarts or sink outages.
//!
//! ```text
//! on_cycle(firing, resolved) ──► routing ──► outbox (SQLite, one transaction) ──► run(): one loop per sink
//!                                 per sink     notified state + rows to send          send, retry, mark done
//! ```
//!
//! The daemon calls [`Notifier::on_cycle`] after every evaluation. The notifier compares
//! what fires now with what it already told each sink (persisted in the `notified` table),
//! and writes the fire and resolve notifications, plus Alertmanager's periodic resends, into
//! the outbox in one transaction: a crash either keeps a whole cycle or none of it.
//! [`Notifier::run`] delivers them, one loop per sink so a sink that is down never delays
//! another, and marks each row done in the same database once the sink accepted it.
//!
//! Guarantees (see `outbox.rs` for how): a notification is written before it is sent; a
//! network failure, 5xx or 429 is retried with exponential backoff and jitter (honouring
//! `Retry-After`) for as long as it takes; any other 4xx is permanent: the row is dropped
//! with an error log and counted. Each row has a dedup key unique per sink, so a cycle
//! replayed after a crash enqueues nothing twice, and a row marked done is never sent again.
//! A row that was on the wire when the process died is sent again after the restart with
//! the same identity (PagerDuty `dedup_key`, Alertmanager label set, the Grafana annotation
//! found by its tags), so the receiving service applies it once.
//!
//! Secrets (webhook URLs, routing keys, tokens, passwords) are read from environment
//! variables or files at send time, print as `<redacted>`, and never reach a log or an
//! error message: errors from the HTTP client are stripped of their URL.

mod alertmanager;
pub mod dry_run;
mod grafana;
mod outbox;
mod pagerduty;
mod routing;
mod slack;
mod supervisor;

pub use alertmanager::AlertmanagerConfig;
pub use grafana::GrafanaConfig;
pub use outbox::SinkStats;
pub use pagerduty::PagerdutyConfig;
pub use routing::RouteConfig;
pub use slack::SlackConfig;
pub use supervisor::Supervisor;

use crate::config::{ConfigIssue, parse_duration};
use crate::findings::Finding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// The `notifications:` section of the config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Slack incoming webhooks, one per channel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack: Vec<SlackConfig>,
    /// PagerDuty Events API v2 integrations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pagerduty: Vec<PagerdutyConfig>,
    /// Grafana instances to annotate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grafana: Vec<GrafanaConfig>,
    /// Alertmanager clusters (every instance of one is listed in its `urls`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alertmanager: Vec<AlertmanagerConfig>,
    /// How failed deliveries are retried.
    #[serde(skip_serializing_if = "is_default_retry")]
    pub retry: RetryConfig,
    /// Per-request timeout. Default `10s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

fn is_default_retry(r: &RetryConfig) -> bool {
    *r == RetryConfig::default()
}

/// Exponential backoff for retryable failures (network, 5xx, 429 without `Retry-After`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Wait after the first failure. Default `1s`.
    pub initial_backoff: String,
    /// Longest wait between two tries. Default `5m`.
    pub max_backoff: String,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { initial_backoff: "1s".into(), max_backoff: "5m".into() }
    }
}

impl NotificationsConfig {
    /// Whether any sink is configured.
    pub fn is_empty(&self) -> bool {
        self.slack.is_empty()
            && self.pagerduty.is_empty()
            && self.grafana.is_empty()
            && self.alertmanager.is_empty()
    }

    /// Every problem, with paths relative to the config root (`notifications.slack[0]…`).
    pub fn validate(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        let mut push = |path: String, message: String| issues.push(ConfigIssue { path, message });
        for (field, value) in [
            ("retry.initial_backoff", Some(&self.retry.initial_backoff)),
            ("retry.max_backoff", Some(&self.retry.max_backoff)),
            ("timeout", self.timeout.as_ref()),
        ] {
            if let Some(v) = value
                && let Err(e) = parse_duration(v)
            {
                push(format!("notifications.{field}"), e);
            }
        }
        let mut field_issues: Vec<(String, String)> = Vec::new();
        for (i, c) in self.slack.iter().enumerate() {
            let p = format!("notifications.slack[{i}]");
            field_issues.extend(c.validate().into_iter().map(|(f, m)| (join(&p, &f), m)));
        }
        for (i, c) in self.pagerduty.iter().enumerate() {
            let p = format!("notifications.pagerduty[{i}]");
            field_issues.extend(c.validate().into_iter().map(|(f, m)| (join(&p, &f), m)));
        }
        for (i, c) in self.grafana.iter().enumerate() {
            let p = format!("notifications.grafana[{i}]");
            field_issues.extend(c.validate().into_iter().map(|(f, m)| (join(&p, &f), m)));
        }
        for (i, c) in self.alertmanager.iter().enumerate() {
            let p = format!("notifications.alertmanager[{i}]");
            field_issues.extend(c.validate().into_iter().map(|(f, m)| (join(&p, &f), m)));
        }
        for (path, message) in field_issues {
            push(path, message);
        }
        let mut names = BTreeSet::new();
        for (path, name) in self.named_sinks() {
            if !names.insert(name.clone()) {
                push(format!("{path}.name"), format!("duplicate sink name '{name}'"));
            }
        }
        issues
    }

    /// (config path, sink name) of every configured sink, names defaulting to the path.
    fn named_sinks(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |kind: &str, names: Vec<Option<&String>>| {
            for (i, n) in names.into_iter().enumerate() {
                let path = format!("notifications.{kind}[{i}]");
                let name = n.cloned().unwrap_or_else(|| format!("{kind}[{i}]"));
                out.push((path, name));
            }
        };
        add("slack", self.slack.iter().map(|c| c.name.as_ref()).collect());
        add("pagerduty", self.pagerduty.iter().map(|c| c.name.as_ref()).collect());
        add("grafana", self.grafana.iter().map(|c| c.name.as_ref()).collect());
        add("alertmanager", self.alertmanager.iter().map(|c| c.name.as_ref()).collect());
        out
    }
}

fn join(prefix: &str, field: &str) -> String {
    if field.is_empty() { prefix.to_string() } else { format!("{prefix}.{field}") }
}

/// Where a secret comes from: exactly one of an environment variable or a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SecretSource {
    env: Option<String>,
    file: Option<String>,
}

impl SecretSource {
    pub(crate) fn new(env: Option<&String>, file: Option<&String>) -> Self {
        Self { env: env.cloned(), file: file.cloned() }
    }

    /// The config problem with this pair of keys, if any.
    pub(crate) fn check(&self, key: &str) -> Option<(String, String)> {
        match (&self.env, &self.file) {
            (Some(_), Some(_)) => {
                Some((key.to_string(), format!("set either {key}_env or {key}_file, not both")))
            }
            (None, None) => {
                Some((key.to_string(), format!("needs {key}_env or {key}_file (never inline)")))
            }
            _ => None,
        }
    }

    /// Reads the secret now, so a rotated file or variable applies without a restart.
    ///
    /// # Errors
    /// Names the variable or file, never the value.
    pub(crate) fn read(&self) -> Result<Secret, String> {
        if let Some(var) = &self.env {
            return match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
                Ok(_) => Err(format!("environment variable {var} is empty")),
                Err(_) => Err(format!("environment variable {var} is not set")),
            };
        }
        if let Some(path) = &self.file {
            return match std::fs::read_to_string(path) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
                Ok(_) => Err(format!("secret file {path} is empty")),
                Err(e) => Err(format!("cannot read secret file {path}: {}", e.kind())),
            };
        }
        Err("no secret configured".into())
    }
}

/// A secret value. `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: &str) -> Secret {
        Secret(value.to_string())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A request a sink built, and the secrets in it: what `deliver` sends, and what a dry run
/// prints with those secrets redacted.
pub(crate) struct Prepared {
    pub(crate) req: reqwest::RequestBuilder,
    pub(crate) secrets: Vec<Secret>,
    /// The URL itself is the secret (a Slack webhook): print only its host and a redacted path.
    pub(crate) secret_url: bool,
}

/// Errors opening or writing the outbox.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The outbox directory could not be created.
    #[error("notifications outbox {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("notifications outbox {path}: {source}")]
    Db {
        /// The database file.
        path: String,
        /// What went wrong.
        source: rusqlite::Error,
    },
    /// The configuration is invalid (the daemon validates it at load; this is a guard).
    #[error("notifications config: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("notifications http client: {0}")]
    Http(String),
}

/// What one outbox row asks a sink to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The finding started firing.
    Fire,
    /// The finding resolved.
    Resolve,
    /// Alertmanager: the finding is still firing (sent every `resend_delay`).
    Resend,
    /// Alertmanager: the finding resolved, repeated for 15 minutes as Prometheus does.
    ResendResolved,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Fire => "fire",
            Kind::Resolve => "resolve",
            Kind::Resend => "resend",
            Kind::ResendResolved => "resend_resolved",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Kind> {
        match s {
            "fire" => Some(Kind::Fire),
            "resolve" => Some(Kind::Resolve),
            "resend" => Some(Kind::Resend),
            "resend_resolved" => Some(Kind::ResendResolved),
            _ => None,
        }
    }

    /// Whether the finding is resolved in this notification.
    pub(crate) fn is_resolved(self) -> bool {
        matches!(self, Kind::Resolve | Kind::ResendResolved)
    }
}

/// One notification, as read back from the outbox for sending.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// Outbox row id.
    pub(crate) id: i64,
    /// Fire, resolve or resend.
    pub(crate) kind: Kind,
    /// The finding as it was when it fired (or resolved).
    pub(crate) finding: Finding,
    /// When this firing began, Unix ms: the identity of one firing instance.
    pub(crate) fired_at_ms: i64,
    /// When it resolved (resolve kinds), else when it was enqueued, Unix ms.
    pub(crate) event_ms: i64,
    /// Tries before this one; > 0 means an earlier try may have reached the sink.
    pub(crate) attempts: i64,
    /// Grafana: the annotation created when this instance fired.
    pub(crate) annotation_id: Option<i64>,
}

/// What a sink made of one send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Accepted. Grafana returns the annotation id it created.
    Delivered {
        /// Grafana's annotation id for a fire.
        annotation_id: Option<i64>,
    },
    /// Try again later: network, 5xx, 429. `after` is the service's `Retry-After`.
    Retry {
        /// What went wrong (no secrets).
        reason: String,
        /// How long the service asked us to wait.
        after: Option<Duration>,
    },
    /// Never going to work (other 4xx, a payload the service rejects): drop it.
    Permanent {
        /// What went wrong (no secrets).
        reason: String,
    },
}

/// Maps an HTTP response to an outcome, as Alertmanager's `Retrier` does: 2xx delivered;
/// 429 and 5xx (and 408) retried, with `Retry-After` when given; every other status permanent.
pub(crate) fn classify(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    now_ms: i64,
) -> Outcome {
    if status.is_success() {
        return Outcome::Delivered { annotation_id: None };
    }
    let snippet: String = body.chars().take(200).collect();
    let reason = if snippet.trim().is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {}", status.as_u16(), snippet.trim())
    };
    let code = status.as_u16();
    if code == 429 || code == 408 || status.is_server_error() {
        let after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now_ms));
        Outcome::Retry { reason, after }
    } else {
        Outcome::Permanent { reason }
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(v: &str, now_ms: i64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(24 * 3600)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64;
    Some(Duration::from_millis((at_ms - now_ms).clamp(0, 24 * 3_600_000) as u64))
}

/// Describes a transport error without its URL (a Slack webhook URL is the secret).
pub(crate) fn describe_http_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        return "timeout".into();
    }
    let mut msg = e.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    msg
}

/// Sends a request and classifies the response; `Retry` on any transport error.
pub(crate) async fn send(req: reqwest::RequestBuilder) -> (Outcome, String) {
    match req.send().await {
        Err(e) => (Outcome::Retry { reason: describe_http_error(e), after: None }, String::new()),
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            match resp.text().await {
                Ok(body) => (classify(status, &headers, &body, crate::clock::now_ms()), body),
                Err(e) if status.is_success() => {
                    (Outcome::Retry { reason: describe_http_error(e), after: None }, String::new())
                }
                Err(_) => (classify(status, &headers, "", crate::clock::now_ms()), String::new()),
            }
        }
    }
}

/// RFC 3339 UTC with milliseconds, as every sink's API wants its times.
pub(crate) use crate::clock::rfc3339_ms as rfc3339;

/// Truncates to at most `max` characters (not bytes), ending with `…` when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// "id on cluster/node" — how a finding is named in titles.
pub(crate) fn subject(f: &Finding) -> String {
    match &f.node {
        Some(n) => format!("{} on {}/{}", f.id, f.cluster, n),
        None => format!("{} on {}", f.id, f.cluster),
    }
}

/// One configured destination, built from the config.
#[derive(Debug)]
pub(crate) enum Sink {
    Slack(slack::SlackSink),
    Pagerduty(pagerduty::PagerdutySink),
    Grafana(grafana::GrafanaSink),
    Alertmanager(alertmanager::AlertmanagerSink),
}

/// How Alertmanager wants alerts repeated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResendPolicy {
    /// Resend a firing alert this often (Prometheus `--rules.alert.resend-delay`, 1m).
    pub(crate) resend_delay_ms: i64,
    /// Keep resending a resolved alert this long (Prometheus `resolvedRetention`, 15m).
    pub(crate) resolved_retention_ms: i64,
}

impl Sink {
    fn route(&self) -> &RouteConfig {
        match self {
            Sink::Slack(s) => &s.config.route,
            Sink::Pagerduty(s) => s.route(),
            Sink::Grafana(s) => &s.config.route,
            Sink::Alertmanager(s) => &s.config.route,
        }
    }

    /// Whether resolve notifications go to this sink.
    fn sends_resolved(&self) -> bool {
        match self {
            Sink::Slack(s) => s.config.send_resolved,
            _ => true,
        }
    }

    fn resend(&self) -> Option<ResendPolicy> {
        match self {
            Sink::Alertmanager(s) => Some(s.resend_policy()),
            _ => None,
        }
    }

    /// Rows sent in one request (Alertmanager takes an array).
    fn batch_size(&self) -> usize {
        match self {
            Sink::Alertmanager(_) => 64,
            _ => 1,
        }
    }

    /// Proactive spacing between two sends (Slack: about one message per second).
    fn min_interval(&self) -> Duration {
        match self {
            Sink::Slack(s) => s.min_interval(),
            Sink::Pagerduty(s) => s.min_interval(),
            _ => Duration::ZERO,
        }
    }

    /// The smallest wait after a 429 that carries no `Retry-After`.
    fn rate_limit_floor(&self) -> Duration {
        match self {
            // PagerDuty suggests retrying "30 seconds apart" after a 429.
            Sink::Pagerduty(_) => Duration::from_secs(30),
            _ => Duration::ZERO,
        }
    }

    /// The request `deliver` sends for a batch of fresh fire notifications (first try, so
    /// Grafana creates its annotation), built by the same code.
    fn fire_request(
        &self,
        client: &reqwest::Client,
        batch: &[Delivery],
    ) -> Result<Prepared, String> {
        match self {
            Sink::Slack(s) => s.request(client, &batch[0]),
            Sink::Pagerduty(s) => s.request(client, &batch[0]),
            Sink::Grafana(s) => s.fire_request(client, &batch[0]),
            Sink::Alertmanager(s) => s.request(client, batch),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Sink::Slack(_) => "slack",
            Sink::Pagerduty(_) => "pagerduty",
            Sink::Grafana(_) => "grafana",
            Sink::Alertmanager(_) => "alertmanager",
        }
    }

    async fn deliver(&self, client: &reqwest::Client, batch: &[Delivery]) -> Outcome {
        match self {
            Sink::Slack(s) => s.deliver(client, &batch[0]).await,
            Sink::Pagerduty(s) => s.deliver(client, &batch[0]).await,
            Sink::Grafana(s) => s.deliver(client, &batch[0]).await,
            Sink::Alertmanager(s) => s.deliver(client, batch).await,
        }
    }
}

/// A sink with its stable name (the outbox key).
#[derive(Debug)]
pub(crate) struct NamedSink {
    pub(crate) name: String,
    pub(crate) sink: Sink,
}

fn build_sinks(config: &NotificationsConfig) -> Vec<NamedSink> {
    let mut out = Vec::new();
    let name = |n: &Option<String>, kind: &str, i: usize| {
        n.clone().unwrap_or_else(|| format!("{kind}[{i}]"))
    };
    for (i, c) in config.slack.iter().enumerate() {
        out.push(NamedSink {
            name: name(&c.name, "slack", i),
            sink: Sink::Slack(slack::SlackSink::new(c.clone())),
        });
    }
    for (i, c) in config.pagerduty.iter().enumerate() {
        out.push(NamedSink {
            name: name(&c.name, "pagerduty", i),
            sink: Sink::Pagerduty(pagerduty::PagerdutySink::new(c.clone())),
        });
    }
    for (i, c) in config.grafana.iter().enumerate() {
        out.push(NamedSink {
            name: name(&c.name, "grafana", i),
            sink: Sink::Grafana(grafana::GrafanaSink::new(c.clone())),
        });
    }
    for (i, c) in config.alertmanager.iter().enumerate() {
        let base = name(&c.name, "alertmanager", i);
        // Prometheus sends to every Alertmanager of an HA cluster, not through a balancer:
        // each URL is its own sink with its own queue, so one instance down delays no other.
        for (j, url) in c.urls.iter().enumerate() {
            out.push(NamedSink {
                name: format!("{base}.urls[{j}]"),
                sink: Sink::Alertmanager(alertmanager::AlertmanagerSink::new(c.clone(), url)),
            });
        }
    }
    out
}

/// The notifier: the outbox and the sinks it feeds. Share it with an `Arc`.
pub struct Notifier {
    db: Mutex<outbox::Outbox>,
    sinks: Vec<NamedSink>,
    client: reqwest::Client,
    initial_backoff: Duration,
    max_backoff: Duration,
    wake: tokio::sync::Notify,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("sinks", &self.sinks.iter().map(|s| &s.name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Opens (creating) the outbox `notifications.sqlite` under `dir` for these sinks.
    ///
    /// # Errors
    /// The directory or database cannot be created or opened, or the config is invalid.
    pub fn open(dir: &Path, config: &NotificationsConfig) -> Result<Notifier, NotifyError> {
        let issues = config.validate();
        if !issues.is_empty() {
            let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
            return Err(NotifyError::Config(text.join("; ")));
        }
        std::fs::create_dir_all(dir)
            .map_err(|source| NotifyError::Io { path: dir.display().to_string(), source })?;
        let db = outbox::Outbox::open(&dir.join("notifications.sqlite"))?;
        let sinks = build_sinks(config);
        let known: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
        for (sink, n) in db.orphaned(&known)? {
            tracing::warn!(
                sink = %sink,
                pending = n,
                "Outbox has notifications for a sink that is no longer configured; they stay queued until it is configured again."
            );
        }
        let timeout = config
            .timeout
            .as_deref()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(Duration::from_secs(10));
        let client =
            crate::sources::http_client(timeout).map_err(|e| NotifyError::Http(e.to_string()))?;
        let parse = |s: &str, d| parse_duration(s).unwrap_or(d);
        Ok(Notifier {
            db: Mutex::new(db),
            sinks,
            client,
            initial_backoff: parse(&config.retry.initial_backoff, Duration::from_secs(1)),
            max_backoff: parse(&config.retry.max_backoff, Duration::from_secs(300)),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Names of the configured sinks (the keys used in the outbox and in [`SinkStats`]).
    pub fn sink_names(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.name.clone()).collect()
    }

    /// Called after every evaluation cycle with what is firing now and what resolved in
    /// this cycle. Computes transitions against what was already notified (persisted),
    /// enqueues (in one transaction) the fire/resolve notifications per routed sink, and
    /// the Alertmanager resends that are due. Replaying a cycle enqueues nothing new.
    ///
    /// A finding that was notified to a sink but is no longer firing (nor routed there)
    /// resolves at that sink even if it is missing from `resolved`.
    ///
    /// # Errors
    /// The outbox could not be written; nothing of this cycle was kept.
    pub fn on_cycle(
        &self,
        now_ms: i64,
        firing: &[Finding],
        resolved: &[Finding],
    ) -> Result<(), NotifyError> {
        let plans: Vec<outbox::SinkPlan<'_>> = self
            .sinks
            .iter()
            .map(|s| outbox::SinkPlan {
                name: &s.name,
                firing: firing.iter().filter(|f| s.sink.route().matches(f)).collect(),
                sends_resolved: s.sink.sends_resolved(),
                resend: s.sink.resend(),
            })
            .collect();
        let enqueued = {
            let mut db = self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            db.apply_cycle(now_ms, crate::clock::now_ms(), &plans, resolved)?
        };
        if enqueued > 0 {
            self.wake.notify_waiters();
        }
        Ok(())
    }

    /// Delivery counters and queue depth per sink, for `/metrics`.
    ///
    /// # Errors
    /// The outbox could not be read.
    pub fn stats(&self) -> Result<Vec<SinkStats>, NotifyError> {
        let db = self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let names: Vec<&str> = self.sinks.iter().map(|s| s.name.as_str()).collect();
        db.stats(&names)
    }

    /// The notifier's metrics in Prometheus text format, for the daemon's `/metrics`:
    /// `opsadvisor_notifications_total{sink,outcome="delivered|dropped|retried"}` (counters
    /// kept in the outbox, so they survive restarts) and `opsadvisor_notifications_pending{sink}`.
    ///
    /// # Errors
    /// The outbox could not be read.
    pub fn metrics_text(&self) -> Result<String, NotifyError> {
        let stats = self.stats()?;
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let mut out = String::from(
            "# HELP opsadvisor_notifications_total Notifications by sink and outcome: delivered, dropped (rejected permanently), retried (failed tries).\n\
             # TYPE opsadvisor_notifications_total counter\n",
        );
        for s in &stats {
            for (outcome, n) in [
                ("delivered", s.delivered_total),
                ("dropped", s.dropped_total),
                ("retried", s.retries_total),
            ] {
                out.push_str(&format!(
                    "opsadvisor_notifications_total{{sink=\"{}\",outcome=\"{outcome}\"}} {n}\n",
                    esc(&s.sink)
                ));
            }
        }
        out.push_str(
            "# HELP opsadvisor_notifications_pending Notifications waiting in the outbox.\n\
             # TYPE opsadvisor_notifications_pending gauge\n",
        );
        for s in &stats {
            out.push_str(&format!(
                "opsadvisor_notifications_pending{{sink=\"{}\"}} {}\n",
                esc(&s.sink),
                s.pending
            ));
        }
        Ok(out)
    }

    /// Delivery loop until `shutdown` flips to true; also drains what is due at start
    /// (after a restart). One loop per sink; a send in flight when shutdown flips finishes
    /// and is recorded, everything else stays in the outbox for the next start.
    pub async fn run(&self, shutdown: tokio::sync::watch::Receiver<bool>) {
        let loops = self.sinks.iter().map(|s| self.sink_loop(s, shutdown.clone()));
        futures::future::join_all(loops).await;
    }

    fn with_db<T>(
        &self,
        f: impl FnOnce(&mut outbox::Outbox) -> Result<T, NotifyError>,
    ) -> Result<T, NotifyError> {
        let mut db = self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut db)
    }

    async fn sink_loop(&self, s: &NamedSink, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Register interest before looking, so an enqueue between the look and the
            // wait still wakes us.
            let notified = self.wake.notified();
            let now = crate::clock::now_ms();
            let batch = match self.with_db(|db| db.next_due(&s.name, now, s.sink.batch_size())) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(sink = %s.name, error = %e, "Reading the outbox failed.");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                let next = self.with_db(|db| db.next_due_ms(&s.name)).ok().flatten();
                let wait = next.map_or(Duration::from_secs(1), |t| {
                    Duration::from_millis((t - now).clamp(1, 1000) as u64)
                });
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let ids: Vec<i64> = batch.iter().map(|d| d.id).collect();
            // Recorded before sending: after a crash, attempts > 0 tells the sink that this
            // row may already have arrived (Grafana then looks for its annotation first).
            if let Err(e) = self.with_db(|db| db.mark_attempt(&ids)) {
                tracing::error!(sink = %s.name, error = %e, "Writing the outbox failed.");
                sleep_or_shutdown(Duration::from_secs(1), &mut shutdown).await;
                continue;
            }
            let outcome = s.sink.deliver(&self.client, &batch).await;
            let now = crate::clock::now_ms();
            let pause = match &outcome {
                Outcome::Delivered { annotation_id } => {
                    failures = 0;
                    let r = self.with_db(|db| db.mark_done(&s.name, &batch, *annotation_id, now));
                    if let Err(e) = r {
                        tracing::error!(sink = %s.name, error = %e, "Marking a delivery done failed.");
                    }
                    tracing::debug!(sink = %s.name, n = batch.len(), "Notification delivered.");
                    s.sink.min_interval()
                }
                Outcome::Retry { reason, after } => {
                    failures = failures.saturating_add(1);
                    let backoff = self.backoff(failures);
                    let delay = match after {
                        Some(a) => *a,
                        None if reason.starts_with("HTTP 429") => {
                            backoff.max(s.sink.rate_limit_floor())
                        }
                        None => backoff,
                    };
                    tracing::warn!(
                        sink = %s.name,
                        error = %reason,
                        retry_in_ms = delay.as_millis() as u64,
                        "Notification not delivered; will retry."
                    );
                    let due = now + delay.as_millis() as i64;
                    if let Err(e) = self.with_db(|db| db.mark_retry(&ids, due, reason)) {
                        tracing::error!(sink = %s.name, error = %e, "Writing the outbox failed.");
                    }
                    delay
                }
                Outcome::Permanent { reason } => {
                    failures = 0;
                    tracing::error!(
                        sink = %s.name,
                        error = %reason,
                        n = batch.len(),
                        "Notification rejected by the sink; dropped."
                    );
                    if let Err(e) = self.with_db(|db| db.mark_dropped(&s.name, &ids, reason, now)) {
                        tracing::error!(sink = %s.name, error = %e, "Writing the outbox failed.");
                    }
                    s.sink.min_interval()
                }
            };
            if !pause.is_zero() {
                sleep_or_shutdown(pause, &mut shutdown).await;
            }
        }
    }

    /// `initial × 2^(failures-1)`, capped, with equal jitter (half fixed, half random) so
    /// that many opsadvisors recovering from one outage do not retry in lockstep.
    fn backoff(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let base = self.initial_backoff.saturating_mul(1u32 << exp).min(self.max_backoff);
        let half = base / 2;
        // A fresh RandomState is randomly keyed: enough randomness for jitter.
        let r = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            failures,
        );
        let jitter = (r % 10_001) as f64 / 10_000.0;
        half + half.mul_f64(jitter)
    }
}

async fn sleep_or_shutdown(d: Duration, shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::cloned_ref_to_slice_refs)]
    use super::*;

    #[test]
    fn metrics_parse_as_an_exposition_and_count_per_sink() {
        let dir =
            std::env::temp_dir().join(format!("opsadvisor-notify-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config: NotificationsConfig = serde_norway::from_str(
            "slack: [{ name: 'ops \"x\"', webhook_url_file: /nonexistent }]\nalertmanager: [{ urls: ['http://127.0.0.1:1'] }]",
        )
        .unwrap();
        let n = Notifier::open(&dir, &config).unwrap();
        let f = crate::findings::Finding {
            id: "x".into(),
            fingerprint: "0123456789abcdef".into(),
            system: crate::System::Kafka,
            cluster: "c".into(),
            node: None,
            category: crate::findings::Category::Tuning,
            severity: crate::findings::Severity::Warning,
            impact: vec![],
            analyzer: "rules".into(),
            symptom: String::new(),
            cause: String::new(),
            resources: vec![],
            evidence: vec![],
            action: String::new(),
            docs_url: String::new(),
            advises: Vec::new(),
        };
        n.on_cycle(1_000, &[f], &[]).unwrap();
        let text = n.metrics_text().unwrap();
        let e = crate::sources::exposition::parse(
            text.as_bytes(),
            crate::sources::exposition::Format::Text,
        )
        .unwrap();
        assert_eq!(e.families.len(), 2, "{text}");
        assert!(
            text.contains("opsadvisor_notifications_pending{sink=\"alertmanager[0].urls[0]\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("opsadvisor_notifications_pending{sink=\"ops \\\"x\\\"\"} 1"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rfc3339_formats_utc_millis() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        let ms = crate::config::parse_utc_timestamp("2026-11-22T05:50:18Z").unwrap();
        assert_eq!(rfc3339(ms + 7), "2026-11-22T05:50:18.007Z");
        let leap = crate::config::parse_utc_timestamp("2024-02-29T23:59:59Z").unwrap();
        assert_eq!(rfc3339(leap), "2024-02-29T23:59:59.000Z");
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7", 0), Some(Duration::from_secs(7)));
        let now = crate::config::parse_utc_timestamp("2015-10-21T07:28:00Z").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn statuses_are_classified_like_alertmanager_does() {
        let h = reqwest::header::HeaderMap::new();
        let c = |code: u16| classify(reqwest::StatusCode::from_u16(code).unwrap(), &h, "x", 0);
        assert!(matches!(c(200), Outcome::Delivered { .. }));
        assert!(matches!(c(202), Outcome::Delivered { .. }));
        assert!(matches!(c(429), Outcome::Retry { .. }));
        assert!(matches!(c(500), Outcome::Retry { .. }));
        assert!(matches!(c(503), Outcome::Retry { .. }));
        for code in [400, 401, 403, 404, 410, 422] {
            assert!(matches!(c(code), Outcome::Permanent { .. }), "{code}");
        }
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        let s = "é".repeat(10);
        let t = truncate_chars(&s, 5);
        assert_eq!(t.chars().count(), 5);
        assert!(t.ends_with('…'));
        assert_eq!(truncate_chars("short", 5), "short");
    }

    #[test]
    fn secrets_never_print_and_sources_are_exclusive() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
        let both = SecretSource::new(Some(&"A".into()), Some(&"/f".into()));
        assert!(both.check("webhook_url").unwrap().1.contains("not both"));
        let none = SecretSource::default();
        assert!(none.check("token").is_some());
        let missing = SecretSource::new(Some(&"OPSADVISOR_TEST_SURELY_UNSET".into()), None);
        assert_eq!(
            missing.read().unwrap_err(),
            "environment variable OPSADVISOR_TEST_SURELY_UNSET is not set"
        );
    }
}

#[cfg(test)]
mod config_tests {
    #![allow(clippy::unwrap_used)]
    use crate::config::Config;
    use std::path::Path;

    const CLUSTER: &str = "clusters:\n  - name: c\n    system: kafka\n    targets: [{node: b1, metrics: 'http://127.0.0.1:1/metrics'}]\n";

    #[test]
    fn notification_problems_are_reported_by_path() {
        let yaml = format!(
            "{CLUSTER}notifications:
  slack:
    - webhook_url_env: A
      webhook_url_file: /b
    - {{ webhook_url_file: /x, colour: red }}
  pagerduty:
    - {{ url: 'ftp://x', route: {{ min_severity: page }} }}
  grafana:
    - {{ url: 'http://g:3000', token_env: T, name: dup }}
  alertmanager:
    - {{ name: dup, urls: ['http://u:pw@am:9093'], resend_delay: 0s }}
  retry: {{ initial_backoff: soon }}
"
        );
        let issues = Config::from_yaml(&yaml, Path::new(".")).unwrap_err();
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        let has = |p: &str| text.iter().any(|t| t.starts_with(p));
        assert!(has("notifications.slack[0].webhook_url: set either"), "{text:#?}");
        assert!(has("notifications.slack[1]"), "{text:#?}");
        assert!(has("notifications.pagerduty[0]"), "{text:#?}");
        assert!(has("notifications.alertmanager[0].urls[0]: credentials"), "{text:#?}");
        assert!(has("notifications.alertmanager[0].resend_delay"), "{text:#?}");
        assert!(has("notifications.alertmanager[0].name: duplicate"), "{text:#?}");
        assert!(has("notifications.retry.initial_backoff"), "{text:#?}");
        assert!(!text.iter().any(|t| t.contains("pw")), "{text:#?}");
    }

    #[test]
    fn a_valid_notifications_section_loads_with_defaults() {
        let yaml = format!(
            "{CLUSTER}notifications:
  slack: [{{ webhook_url_file: /run/secrets/slack, route: {{ min_severity: warning }} }}]
  pagerduty: [{{ routing_key_env: PD_KEY }}]
  alertmanager: [{{ urls: ['http://am-0:9093', 'http://am-1:9093'] }}]
"
        );
        let c = Config::from_yaml(&yaml, Path::new(".")).unwrap();
        let n = &c.notifications;
        assert!(n.slack[0].send_resolved);
        assert_eq!(n.pagerduty[0].url, super::pagerduty::DEFAULT_URL);
        assert_eq!(n.pagerduty[0].route.min_severity, Some(crate::findings::Severity::Critical));
        assert_eq!(n.alertmanager[0].resend_delay, "1m");
        let names: Vec<String> = super::build_sinks(n).into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            ["slack[0]", "pagerduty[0]", "alertmanager[0].urls[0]", "alertmanager[0].urls[1]"]
        );
    }
}
