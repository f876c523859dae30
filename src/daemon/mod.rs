//! The sidecar daemon: scrape every interval, evaluate what `advise` evaluates over a rolling
//! window, drive each finding's lifecycle, persist it, serve it over HTTP, and publish every
//! cycle's outcome for the notifier.
//!
//! ```text
//!               ┌──────────── one cycle, every scrape.interval ──────────────────┐
//! targets ─────►│ fetch (concurrent, per-target timeout) → parse → + facts →     │
//!               │ window → features (last round) → rules + classifiers ─┐        │
//! Prometheus ──►│ query_range when its step moved → rules + classifiers │        │
//!               │   (+ capacity over ≥ 1 day of history) ───────────────┴──►     │
//!               │ lifecycle → state.db                                           │──► CycleOutcome
//!               └────────────────────────────────────────────────────────────────┘   (subscribe())
//!                  ▲ SIGHUP, POST /-/reload, file_sd change: reload config, rules, models
//! ```
//!
//! What is judged is what `advise` judges, through the same function
//! ([`crate::analyzers::evaluate_round_with`]): only the bookkeeping differs (the daemon's
//! lifecycle persists, and each source is read at its own pace).
//!
//! Files: [`window`] (bounded rolling window), [`state`] (SQLite store), [`http`] (axum API),
//! [`metrics`] (own metrics), [`page`] (HTML landing page), [`facts`] (config files and host
//! facts), [`prometheus`] (clusters read through Prometheus), [`models`] (classifiers and
//! their reload), [`memory`] (freed memory back to the kernel after each cycle). The loop and
//! [`CycleOutcome`] live here.
//!
//! Design choices, and why:
//! - One task owns all mutable state (config, rules, window, lifecycle); HTTP handlers read a
//!   [`View`] the loop publishes after each cycle, so a slow client never stalls scraping.
//! - The lifecycle is only advanced once the window holds two rounds: rates need two points,
//!   and evaluating a restarted daemon's first lone round would resolve every rate-based
//!   finding it just restored.
//! - A reload that fails (bad YAML, a rule file that does not compile, an unknown check id)
//!   keeps the running config and rules, and sets `opsadvisor_config_last_reload_successful 0`.

pub mod facts;
pub mod http;
pub mod https;
pub mod metrics;
pub mod models;
pub mod page;
pub mod prometheus;
pub mod sd_notify;
pub mod state;
pub mod web_config;
pub mod window;

use crate::analyzers::{self, rules::Rule};
use crate::classify::classes::ClassBook;
use crate::classify::store::Classifiers;
use crate::config::Config;
use crate::features::{self, catalog::Catalog};
use crate::findings::Finding;
use crate::findings::lifecycle::{Lifecycle, State, Tracked, Transition};
use crate::pipeline::{self, MAX_WINDOW_MS};
use crate::sinks::notify::NotificationsConfig;
use crate::sources::{self, TargetKind};
use crate::{Error, Result};
use metrics::{SelfMetrics, TargetSample};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot, watch};

/// Most rounds the window holds, whatever the interval: bounds memory and per-cycle CPU
/// (rates and slopes read every round). At 15 s this is the whole 10-minute window.
pub const MAX_WINDOW_ROUNDS: usize = 41;

/// Outcomes a subscriber may fall behind by before the daemon drops one for it (logged).
const SUBSCRIBER_BUFFER: usize = 64;

/// What one cycle concluded: published after every cycle that evaluated the rules, for the
/// notifier (see [`Daemon::subscribe`]). Snoozed findings are left out of every list.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CycleOutcome {
    /// Data time of the evaluation, Unix ms.
    pub now_ms: i64,
    /// Every finding firing now (not only those that started firing this cycle).
    pub firing: Vec<Finding>,
    /// Every finding pending now.
    pub pending: Vec<Finding>,
    /// Findings that were firing and resolved in this cycle, as last rendered. (A pending
    /// finding that clears never fired, so it is not here.)
    pub resolved: Vec<Finding>,
}

/// Where the config comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A YAML file, re-read on reload.
    File(PathBuf),
    /// A fixed config (the demo simulator's); reload re-validates the rules only.
    Fixed(Box<Config>),
}

/// Daemon settings that are flags rather than config (they cannot change on reload).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// `--web.listen-address`, e.g. `127.0.0.1:9646`.
    pub listen_address: String,
    /// `--storage.path`: the directory of `state.db`.
    pub storage_path: PathBuf,
    /// The API bearer token (from `--web.bearer-token-file` or `OPSADVISOR_WEB_TOKEN`).
    pub bearer_token: Option<String>,
    /// `--classifier` and `--models`: the classifiers, re-read on reload.
    pub models: models::ModelSource,
    /// `--web.*` settings of the HTTP server besides the address and the token.
    pub web: WebOptions,
}

/// How the HTTP API is served: `--web.config.file`, `--web.enable-lifecycle`,
/// `--web.telemetry-path`.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// TLS, basic auth and headers (exporter-toolkit format), checked at start and re-read
    /// when it changes; `None` serves plain HTTP.
    pub config: Option<Arc<web_config::WebConfig>>,
    /// Whether `POST /-/quit` may stop the daemon (as Prometheus's flag).
    pub enable_lifecycle: bool,
    /// Where the own metrics are served.
    pub telemetry_path: String,
}

impl Default for WebOptions {
    fn default() -> Self {
        Self { config: None, enable_lifecycle: false, telemetry_path: "/metrics".into() }
    }
}

/// One tracked finding as the API and the page show it.
#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    /// The finding's fields.
    #[serde(flatten)]
    pub finding: Finding,
    /// `pending` or `firing`.
    pub state: &'static str,
    /// When the condition started to hold, Unix ms (data time).
    pub active_since_ms: i64,
    /// When it fired, if it did.
    pub fired_at_ms: Option<i64>,
    /// Last evaluation in which the condition held.
    pub last_active_ms: i64,
    /// Whether a snooze in the config hides it from notifications.
    pub snoozed: bool,
}

/// One target as the API and the page show it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetView {
    /// Cluster name.
    pub cluster: String,
    /// Node name, null for cluster-wide targets.
    pub node: Option<String>,
    /// What it is.
    pub kind: TargetKind,
    /// URL without credentials or query string.
    pub url: String,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// Why the last scrape failed.
    pub error: Option<String>,
    /// When the last scrape ended, Unix ms.
    pub last_scrape_ms: i64,
    /// How long it took.
    pub scrape_duration_seconds: f64,
}

/// What the HTTP handlers read: published by the loop after each cycle.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Tracked findings, most urgent first.
    pub findings: Vec<FindingView>,
    /// Every target's last scrape.
    pub targets: Vec<TargetView>,
    /// Own metrics.
    pub metrics: SelfMetrics,
    /// Whether the first cycle finished.
    pub ready: bool,
}

type ReloadReply = oneshot::Sender<std::result::Result<(), String>>;

/// State shared between the loop and the HTTP handlers.
#[derive(Debug)]
pub struct Shared {
    view: RwLock<View>,
    extra_metrics: RwLock<Vec<ExtraMetrics>>,
    store: Arc<Mutex<state::Store>>,
    reload_tx: mpsc::Sender<Option<ReloadReply>>,
    token: Option<String>,
    web: Option<Arc<web_config::WebConfig>>,
    lifecycle: bool,
    telemetry_path: String,
    /// What `/-/quit` flips: the same drain as SIGTERM.
    shutdown: watch::Sender<bool>,
}

impl Shared {
    /// The last published view. Do not hold it across an `.await`.
    fn view(&self) -> RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, v: View) {
        *self.view.write().unwrap_or_else(std::sync::PoisonError::into_inner) = v;
    }

    /// Asks the loop to reload and waits for the verdict.
    async fn request_reload(&self) -> std::result::Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.reload_tx.send(Some(tx)).await.map_err(|_| "daemon is shutting down".to_string())?;
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err("daemon is shutting down".into()),
            Err(_) => Err("timed out waiting for the running cycle".into()),
        }
    }
}

/// Another component's own metrics (e.g. the notifier's outbox), rendered into `/metrics`.
pub struct ExtraMetrics(Box<dyn Fn() -> String + Send + Sync>);

impl std::fmt::Debug for ExtraMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtraMetrics")
    }
}

impl Shared {
    /// `/metrics`: the daemon's own metrics, then every registered component's.
    fn render_metrics(&self) -> String {
        let mut out = self.view().metrics.render();
        for extra in
            self.extra_metrics.read().unwrap_or_else(std::sync::PoisonError::into_inner).iter()
        {
            out.push_str(&(extra.0)());
        }
        out
    }
}

/// A loaded, validated config with its rules.
struct Loaded {
    config: Config,
    rules: Vec<Rule>,
}

/// The running daemon. Build with [`Daemon::new`], subscribe, then [`Daemon::run`].
pub struct Daemon {
    options: DaemonOptions,
    source: ConfigSource,
    config: Config,
    rules: Vec<Rule>,
    classifiers: Classifiers,
    book: Option<ClassBook>,
    facts: facts::FactsCache,
    prometheus: prometheus::PrometheusClusters,
    lifecycle: Lifecycle,
    window: window::Window,
    client: reqwest::Client,
    shared: Arc<Shared>,
    reload_rx: mpsc::Receiver<Option<ReloadReply>>,
    subscribers: Vec<mpsc::Sender<Arc<CycleOutcome>>>,
    shutdown_tx: watch::Sender<bool>,
    notifications_tx: watch::Sender<NotificationsConfig>,
    metrics: SelfMetrics,
    sd_stamp: Vec<(PathBuf, Option<SystemTime>)>,
    ready: bool,
    systemd: sd_notify::SdNotify,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("listen_address", &self.options.listen_address)
            .field("storage_path", &self.options.storage_path)
            .finish_non_exhaustive()
    }
}

fn load(source: &ConfigSource) -> Result<Loaded> {
    let (config, file) = match source {
        ConfigSource::File(path) => (Config::load(path)?, path.display().to_string()),
        ConfigSource::Fixed(c) => ((**c).clone(), "(built-in config)".to_string()),
    };
    let set = pipeline::load_rules(&config, Catalog::builtin());
    if !set.errors.is_empty() {
        return Err(Error::Usage(format!(
            "rules: {}",
            set.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        )));
    }
    let rules = pipeline::customize(&config, set.rules)
        .map_err(|issues| crate::config::ConfigError { file, issues })?;
    Ok(Loaded { config, rules })
}

fn unix_s(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

impl Daemon {
    /// Loads the config and rules, opens the state store and restores the lifecycle.
    ///
    /// # Errors
    /// An invalid config or rule pack, or a state store that cannot be opened.
    pub fn new(source: ConfigSource, options: DaemonOptions) -> Result<Daemon> {
        let Loaded { config, rules } = load(&source)?;
        let store = state::Store::open(&options.storage_path)?;
        let saved = store.load()?;
        if !saved.is_empty() {
            tracing::info!(findings = saved.len(), "Resuming saved finding states.");
        }
        let mut lifecycle = Lifecycle::restore(saved);
        lifecycle.retime(|f| analyzers::keep_firing_for(&rules, f));
        let classifiers = options.models.load();
        for r in &classifiers.refused {
            tracing::error!(error = %r, "Classifier model refused.");
        }
        let book = load_book(&classifiers);
        let mut facts = facts::FactsCache::default();
        facts.refresh(&config, true);
        let client = sources::http_client_unpooled(config.timeout())?;
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let shutdown_tx = watch::channel(false).0;
        let shared = Arc::new(Shared {
            view: RwLock::new(View::default()),
            extra_metrics: RwLock::new(Vec::new()),
            store: Arc::new(Mutex::new(store)),
            reload_tx,
            token: options.bearer_token.clone(),
            web: options.web.config.clone(),
            lifecycle: options.web.enable_lifecycle,
            telemetry_path: options.web.telemetry_path.clone(),
            shutdown: shutdown_tx.clone(),
        });
        let metrics = SelfMetrics {
            reload_ok: true,
            reload_success_s: unix_s(crate::clock::now_ms()),
            rules: rules.len(),
            models: model_names(&classifiers),
            ..SelfMetrics::default()
        };
        let notifications_tx = watch::channel(config.notifications.clone()).0;
        let mut daemon = Daemon {
            window: window::Window::new(
                max_rounds(config.interval()),
                MAX_WINDOW_MS,
                window::catalog_selectors(Catalog::builtin()),
            ),
            sd_stamp: sd_stamp(&config, &source),
            options,
            source,
            config,
            rules,
            classifiers,
            book,
            facts,
            prometheus: prometheus::PrometheusClusters::default(),
            lifecycle,
            client,
            shared,
            reload_rx,
            subscribers: Vec::new(),
            shutdown_tx,
            notifications_tx,
            metrics,
            ready: false,
            systemd: sd_notify::SdNotify::from_env(),
        };
        daemon.publish(Vec::new());
        Ok(daemon)
    }

    /// A channel receiving every [`CycleOutcome`], for the notifier:
    ///
    /// ```ignore
    /// let mut outcomes = daemon.subscribe();
    /// tokio::spawn(async move {
    ///     while let Some(o) = outcomes.recv().await {
    ///         notifier.on_cycle(o.now_ms, &o.firing, &o.resolved)?;
    ///     }
    /// });
    /// ```
    ///
    /// The channel closes when the daemon stops. A subscriber more than 64 outcomes behind
    /// loses outcomes (logged as an error): it must not block the loop.
    pub fn subscribe(&mut self) -> mpsc::Receiver<Arc<CycleOutcome>> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        self.subscribers.push(tx);
        rx
    }

    /// Adds a component's metrics (an exposition fragment with its own `# HELP`/`# TYPE`) to
    /// `/metrics`.
    pub fn add_metrics(&self, render: impl Fn() -> String + Send + Sync + 'static) {
        self.shared
            .extra_metrics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(ExtraMetrics(Box::new(render)));
    }

    /// Flips to `true` when the daemon starts shutting down (SIGTERM, SIGINT): what the
    /// notifier's delivery loop watches so it flushes and stops with the daemon.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// The config in force (e.g. for the notifier's `notifications:` section).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `notifications:` section, updated when a reload changes it: the notifier watches
    /// it and rebuilds its sinks, so SIGHUP applies sink changes as it does rule changes.
    pub fn watch_notifications(&self) -> watch::Receiver<NotificationsConfig> {
        self.notifications_tx.subscribe()
    }

    /// The storage directory (`--storage.path`), where other stores (the outbox) belong.
    pub fn storage_path(&self) -> &Path {
        &self.options.storage_path
    }

    /// Serves HTTP and runs cycles until SIGTERM or SIGINT; then finishes the running cycle,
    /// flushes the state store and returns. A second signal exits at once (code 143).
    ///
    /// # Errors
    /// The listen address cannot be bound: taken, not ours, or not allowed is a runtime
    /// failure ([`Error::Io`], exit 1, as contracts §2.6 asks; a supervisor may retry);
    /// an address that does not parse or resolve is a usage error (exit 2).
    pub async fn run(mut self) -> Result<()> {
        let listener =
            tokio::net::TcpListener::bind(&self.options.listen_address).await.map_err(|e| {
                let what = format!("--web.listen-address {}", self.options.listen_address);
                match e.kind() {
                    std::io::ErrorKind::AddrInUse
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::PermissionDenied => Error::Io { path: what, source: e },
                    _ => Error::Usage(format!("{what}: {e}")),
                }
            })?;
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let router = http::router(self.shared.clone());
        let stop = self.shutdown_tx.subscribe();
        let tls = match &self.options.web.config {
            Some(web) => {
                web.current().map_err(|e| Error::DaemonConfig(Box::new(e.into())))?.tls.is_some()
            }
            None => false,
        };
        let server = match (&self.options.web.config, tls) {
            (Some(web), true) => {
                let listener = https::TlsListener::new(listener, Arc::clone(web))
                    .map_err(|e| Error::Io { path: "--web.listen-address".into(), source: e })?;
                spawn_server(listener, router, stop)
            }
            _ => spawn_server(listener, router, stop),
        };
        tracing::info!(
            address = %addr,
            scheme = if tls { "https" } else { "http" },
            storage = %self.options.storage_path.display(),
            "Listening."
        );
        spawn_signal_handler(self.shutdown_tx.clone(), self.shared.reload_tx.clone());
        self.run_loop().await;
        self.systemd.send("STOPPING=1");
        let _ = self.shutdown_tx.send(true);
        if let Ok(store) = self.shared.store.lock() {
            store.checkpoint();
        }
        self.subscribers.clear();
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        tracing::info!("Stopped.");
        Ok(())
    }

    async fn run_loop(&mut self) {
        let mut stop = self.shutdown_tx.subscribe();
        let mut interval = self.config.interval();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                Some(reply) = self.reload_rx.recv() => {
                    let r = self.reload("request");
                    if let Some(reply) = reply {
                        let _ = reply.send(r);
                    }
                }
                _ = ticker.tick() => {
                    self.cycle().await;
                }
            }
            if self.config.interval() != interval {
                interval = self.config.interval();
                ticker = tokio::time::interval(interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker.reset();
            }
        }
        tracing::info!("Shutting down: the last cycle finished and its state is saved.");
    }

    /// Reloads config, rules and models, as SIGHUP and `POST /-/reload` do (`why` is logged);
    /// keeps the running config and rules if the new ones are invalid, and each system's
    /// running model if its new one is refused. Config files and host facts are read again.
    ///
    /// # Errors
    /// What was invalid; the metric `opsadvisor_config_last_reload_successful` is then 0.
    pub fn reload(&mut self, why: &str) -> std::result::Result<(), String> {
        self.systemd.send("RELOADING=1");
        let models = self.reload_models();
        let verdict =
            self.reload_config(why).and_then(|()| models.map_err(|e| self.reload_failed(&e)));
        self.systemd.send("READY=1");
        verdict
    }

    /// Re-reads the classifiers (see [`models`]): the merged set is applied either way.
    fn reload_models(&mut self) -> std::result::Result<(), String> {
        let (classifiers, verdict) = self.options.models.reload(&self.classifiers);
        if self.book.is_none() {
            self.book = load_book(&classifiers);
        }
        self.metrics.models = model_names(&classifiers);
        self.classifiers = classifiers;
        verdict
    }

    fn reload_config(&mut self, why: &str) -> std::result::Result<(), String> {
        match load(&self.source) {
            Ok(Loaded { config, rules }) => {
                if config.timeout() != self.config.timeout() {
                    match sources::http_client_unpooled(config.timeout()) {
                        Ok(c) => self.client = c,
                        Err(e) => return Err(self.reload_failed(&e.to_string())),
                    }
                }
                self.window.set_max_rounds(max_rounds(config.interval()));
                self.sd_stamp = sd_stamp(&config, &self.source);
                self.metrics.rules = rules.len();
                self.facts.refresh(&config, true);
                self.prometheus.retain(&config);
                self.notifications_tx.send_if_modified(|running| {
                    let changed = *running != config.notifications;
                    if changed {
                        running.clone_from(&config.notifications);
                    }
                    changed
                });
                self.config = config;
                self.rules = rules;
                self.lifecycle.retime(|f| analyzers::keep_firing_for(&self.rules, f));
                self.metrics.reload_ok = true;
                self.metrics.reload_success_s = unix_s(crate::clock::now_ms());
                tracing::info!(trigger = why, rules = self.rules.len(), "Configuration reloaded.");
                self.publish_metrics();
                Ok(())
            }
            Err(e) => Err(self.reload_failed(&e.to_string())),
        }
    }

    fn reload_failed(&mut self, e: &str) -> String {
        self.metrics.reload_ok = false;
        tracing::error!(error = %e, "Reload failed; keeping the running configuration and rules.");
        self.publish_metrics();
        e.to_string()
    }

    /// Re-reads the config when a `file_sd` file (or a globbed directory) changed.
    fn rediscover(&mut self) {
        let now = sd_stamp(&self.config, &self.source);
        if now != self.sd_stamp {
            self.sd_stamp = now;
            let _ = self.reload("file_sd");
        }
    }

    /// One cycle: scrape every target once, evaluate, advance and persist the lifecycle,
    /// publish the outcome. Never fails: a target's failure is its own, an evaluation or
    /// store error is logged and counted.
    pub async fn cycle(&mut self) -> Option<Arc<CycleOutcome>> {
        let started = Instant::now();
        self.rediscover();
        let facts_fresh = self.facts.refresh(&self.config, false);
        let targets = sources::targets(&self.config);
        let max_body = self.config.scrape.max_body_bytes;
        let client = &self.client;
        let window = &self.window;
        let keep = |name: &str| window.keeps(name);
        let keep = &keep;
        // Each body is parsed as it arrives and dropped: a round never holds all its bodies.
        let scrapes = futures::future::join_all(targets.iter().map(|t| async move {
            let t0 = Instant::now();
            let r = sources::fetch_parsed(client, t, max_body, keep).await;
            (r, t0.elapsed())
        }));
        let asked_ms = crate::clock::now_ms();
        let history = async {
            let t0 = Instant::now();
            let r = prometheus::query(&self.prometheus, &self.config, client, asked_ms).await;
            (r, t0.elapsed())
        };
        let (fetched, (answered, query_time)) = futures::join!(scrapes, history);
        let at_ms = crate::clock::now_ms();
        let mut prometheus_fresh = std::collections::BTreeSet::new();
        if let Some((due, snapshots, health)) = answered {
            prometheus_fresh.extend(due.clusters.iter().map(|c| c.name.clone()));
            self.prometheus.last_query_duration = query_time;
            self.absorb_prometheus(&due, asked_ms, snapshots, health);
        }
        let (scrapes, durations): (Vec<_>, Vec<_>) = fetched.into_iter().unzip();
        let (mut snapshot, mut health) = sources::assemble_scrapes(&self.config, &targets, scrapes);
        self.facts.attach(&mut snapshot);
        self.window.filter_round(&mut snapshot);
        self.window.push(snapshot, at_ms);

        // Prometheus and config-file targets are listed after the scraped ones. Their
        // failures are counted when they are read (`absorb_prometheus`, `refresh`), not
        // again each cycle their last outcome is shown.
        let scraped = health.len();
        let mut durations = durations;
        for h in self.prometheus.health() {
            health.push(h.clone());
            durations.push(self.prometheus.last_query_duration);
        }
        for h in self.facts.health() {
            health.push(h.clone());
            durations.push(Duration::ZERO);
        }
        let counted = |i: usize, h: &sources::TargetHealth| match h.kind {
            _ if i < scraped => true,
            TargetKind::Prometheus => prometheus_fresh.contains(&h.cluster),
            _ => facts_fresh,
        };
        let mut targets = Vec::with_capacity(health.len());
        self.metrics.targets.clear();
        for (i, (h, d)) in health.into_iter().zip(durations).enumerate() {
            let node = h.node.clone().unwrap_or_default();
            if !h.up && counted(i, &h) {
                let reason = metrics::error_reason(h.error.as_deref().unwrap_or(""));
                *self
                    .metrics
                    .scrape_errors
                    .entry((h.cluster.clone(), node.clone(), reason))
                    .or_insert(0) += 1;
            }
            self.metrics.targets.push(TargetSample {
                cluster: h.cluster.clone(),
                node,
                kind: h.kind,
                up: h.up,
                duration_s: d.as_secs_f64(),
            });
            targets.push(TargetView {
                cluster: h.cluster,
                node: h.node,
                kind: h.kind,
                url: h.url,
                up: h.up,
                error: h.error,
                last_scrape_ms: at_ms,
                scrape_duration_seconds: d.as_secs_f64(),
            });
        }

        let outcome = if self.window.snapshot().rounds >= 2 { self.evaluate(at_ms) } else { None };
        self.metrics.window_rounds = self.window.snapshot().rounds;
        self.metrics.window_samples = self.window.samples();
        self.metrics.cycles_total += 1;
        self.metrics.cycle_duration_s = started.elapsed().as_secs_f64();
        if !self.ready {
            self.systemd.send("READY=1\nSTATUS=Scraping and evaluating.");
        }
        self.ready = true;
        self.publish(targets);
        if let Some(o) = &outcome {
            self.subscribers.retain(|s| match s.try_send(o.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::error!("A cycle-outcome subscriber is 64 cycles behind; dropping an outcome for it.");
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
        outcome
    }

    /// Judges Prometheus answers (see [`prometheus`]). CPU-bound, like [`Daemon::evaluate`].
    fn absorb_prometheus(
        &mut self,
        due: &Config,
        now_ms: i64,
        snapshots: Vec<crate::snapshot::Snapshot>,
        health: Vec<sources::TargetHealth>,
    ) {
        let judges = prometheus::Judges {
            rules: &self.rules,
            classifiers: self.book.as_ref().map(|b| (&self.classifiers, b)),
        };
        let facts = &self.facts;
        let clusters = &mut self.prometheus;
        let result = off_the_runtime(|| {
            clusters.absorb(due, now_ms, snapshots, health, &judges, |s| facts.attach(s))
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "Judging a Prometheus history failed; its last judgement stands.");
        }
    }

    /// Features of the newest round, rules and classifiers (plus the Prometheus-read clusters'
    /// last judgement), lifecycle, store. CPU-bound: runs on this worker thread with
    /// `block_in_place` so the runtime moves other tasks (HTTP) elsewhere.
    fn evaluate(&mut self, at_ms: i64) -> Option<Arc<CycleOutcome>> {
        let t0 = Instant::now();
        let last = self.window.snapshot().rounds - 1;
        let judges = self.book.as_ref().map(|b| (&self.classifiers, b));
        let work = || -> Result<(Option<i64>, Vec<crate::findings::lifecycle::Active>)> {
            let frames = features::extract_round(
                self.window.snapshot(),
                Catalog::builtin(),
                last,
                MAX_WINDOW_MS,
            )?;
            Ok(analyzers::evaluate_round_with(&frames, &self.rules, judges)?)
        };
        let evaluated = off_the_runtime(work).map(|(data_ms, mut active)| {
            active.extend(self.prometheus.active().cloned());
            (data_ms, active)
        });
        let (data_ms, active) = match evaluated {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "Evaluation failed; the lifecycle is unchanged this cycle.");
                return None;
            }
        };
        let now_ms = data_ms.unwrap_or(at_ms);
        let config = &self.config;
        let active = active
            .into_iter()
            .filter(|a| {
                !config.clusters.iter().any(|c| {
                    c.name == a.finding.cluster && c.disabled_checks.contains(&a.finding.id)
                })
            })
            .collect();
        let transitions = self.lifecycle.observe_transitions(now_ms, active);
        self.metrics.evaluation_duration_s = t0.elapsed().as_secs_f64();
        self.metrics.last_evaluation_s = unix_s(crate::clock::now_ms());
        for t in &transitions {
            log_transition(t);
        }
        self.save(&transitions);
        let wall = crate::clock::now_ms();
        let shown = |f: &Finding| !snoozed(&self.config, &f.fingerprint, wall);
        Some(Arc::new(CycleOutcome {
            now_ms,
            firing: self
                .lifecycle
                .in_state(State::Firing)
                .into_iter()
                .filter(|f| shown(f))
                .collect(),
            pending: self
                .lifecycle
                .in_state(State::Pending)
                .into_iter()
                .filter(|f| shown(f))
                .collect(),
            resolved: transitions
                .iter()
                .filter(|t| t.to.is_none() && t.from == Some(State::Firing) && shown(&t.finding))
                .map(|t| t.finding.clone())
                .collect(),
        }))
    }

    fn save(&mut self, transitions: &[Transition]) {
        let result = match self.shared.store.lock() {
            Ok(mut store) => store.save_cycle(self.lifecycle.entries(), transitions),
            Err(_) => Err(state::StoreError {
                path: self.options.storage_path.display().to_string(),
                message: "lock poisoned".into(),
            }),
        };
        if let Err(e) = result {
            self.metrics.store_errors_total += 1;
            tracing::error!(error = %e, "Saving the finding states failed; retrying next cycle.");
        }
    }

    fn publish_metrics(&self) {
        let mut v = self.shared.view().clone();
        v.metrics = self.metrics.clone();
        self.shared.publish(v);
    }

    fn publish(&mut self, targets: Vec<TargetView>) {
        let wall = crate::clock::now_ms();
        let mut findings: Vec<FindingView> = self
            .lifecycle
            .entries()
            .map(|t: &Tracked| FindingView {
                finding: t.finding.clone(),
                state: t.state.as_str(),
                active_since_ms: t.active_since_ms,
                fired_at_ms: t.fired_at_ms,
                last_active_ms: t.last_active_ms,
                snoozed: snoozed(&self.config, &t.finding.fingerprint, wall),
            })
            .collect();
        findings.sort_by(|a, b| {
            (
                std::cmp::Reverse(a.state),
                std::cmp::Reverse(a.finding.severity),
                &a.finding.cluster,
                &a.finding.id,
                &a.finding.node,
            )
                .cmp(&(
                    std::cmp::Reverse(b.state),
                    std::cmp::Reverse(b.finding.severity),
                    &b.finding.cluster,
                    &b.finding.id,
                    &b.finding.node,
                ))
        });
        self.metrics.findings.clear();
        for f in &findings {
            *self
                .metrics
                .findings
                .entry((f.state, f.finding.severity.as_str(), f.finding.system.as_str()))
                .or_insert(0) += 1;
        }
        let targets = if targets.is_empty() && !self.ready {
            Vec::new()
        } else if targets.is_empty() {
            self.shared.view().targets.clone()
        } else {
            targets
        };
        self.shared.publish(View {
            findings,
            targets,
            metrics: self.metrics.clone(),
            ready: self.ready,
        });
    }
}

/// Runs CPU-bound `work` with `block_in_place` on a multi-threaded runtime, so the runtime
/// moves other tasks (HTTP) elsewhere; directly otherwise.
fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// The class book the classifiers' findings are worded from; without it (a broken build)
/// the classifiers are not run, and the rules still are.
fn load_book(classifiers: &Classifiers) -> Option<ClassBook> {
    if classifiers.models.is_empty() {
        return None;
    }
    match ClassBook::builtin() {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::error!(error = %e, "Classes unreadable; judging by rules alone.");
            None
        }
    }
}

fn model_names(classifiers: &Classifiers) -> Vec<(&'static str, &'static str)> {
    classifiers.models.iter().map(|m| (m.system.as_str(), m.algo.as_str())).collect()
}

fn log_transition(t: &Transition) {
    let name = |s: Option<State>| s.map_or("inactive", State::as_str);
    tracing::info!(
        finding = %t.finding.fingerprint,
        check = %t.finding.id,
        cluster = %t.finding.cluster,
        node = t.finding.node.as_deref().unwrap_or(""),
        from = name(t.from),
        to = name(t.to),
        "Finding changed state."
    );
}

fn snoozed(config: &Config, fingerprint: &str, now_ms: i64) -> bool {
    config.checks.snoozed.iter().any(|s| {
        s.fingerprint.eq_ignore_ascii_case(fingerprint)
            && crate::config::parse_utc_timestamp(&s.until).is_ok_and(|until| until > now_ms)
    })
}

fn max_rounds(interval: Duration) -> usize {
    let per_window = MAX_WINDOW_MS as u128 / interval.as_millis().max(1);
    usize::try_from(per_window + 1).unwrap_or(MAX_WINDOW_ROUNDS).clamp(2, MAX_WINDOW_ROUNDS)
}

/// Modification times of every `file_sd` file (and the directory of a glob, which changes
/// when files come or go): a change means the targets changed.
fn sd_stamp(config: &Config, source: &ConfigSource) -> Vec<(PathBuf, Option<SystemTime>)> {
    let ConfigSource::File(path) = source else { return Vec::new() };
    let base = path.parent().unwrap_or(Path::new("."));
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut out = Vec::new();
    for pattern in config.clusters.iter().flat_map(|c| &c.file_sd) {
        let full = base.join(pattern);
        let name = full.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        match name.split_once('*') {
            None => out.push((full.clone(), mtime(&full))),
            Some((prefix, suffix)) => {
                let dir = full.parent().unwrap_or(Path::new(".")).to_path_buf();
                out.push((dir.clone(), mtime(&dir)));
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(std::result::Result::ok)
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
                        })
                        .collect();
                    files.sort();
                    out.extend(files.into_iter().map(|f| {
                        let m = mtime(&f);
                        (f, m)
                    }));
                }
            }
        }
    }
    out
}

/// Serves `router` on `listener` until `stop` turns true; in-flight requests finish.
fn spawn_server<L>(
    listener: L,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .into_future(),
    )
}

/// SIGTERM/SIGINT: start the drain (a second one exits at once); SIGHUP: reload.
fn spawn_signal_handler(shutdown: watch::Sender<bool>, reload: mpsc::Sender<Option<ReloadReply>>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::error!("Cannot install signal handlers.");
            return;
        };
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {
                    let _ = reload.try_send(None);
                    continue;
                }
            }
            if stopping {
                tracing::warn!("Second signal: exiting without finishing the cycle.");
                #[allow(clippy::disallowed_methods)] // the operator asked twice: stop now
                std::process::exit(143);
            }
            stopping = true;
            tracing::info!("Signal received: finishing the running cycle, then stopping.");
            let _ = shutdown.send(true);
        }
    });
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = reload;
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = shutdown.send(true);
        }
    });
}
