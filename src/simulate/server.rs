//! Serves a [`Simulator`] over loopback HTTP: one port per exporter, like a real deployment.
//!
//! Every JMX exporter, node_exporter, kafka_exporter and Elasticsearch REST endpoint gets its
//! own `127.0.0.1:<port>`, so opsadvisor scrapes the simulation exactly as it would scrape real
//! targets. The simulated clock runs at `speed` × wall-clock time from the moment `serve` is
//! called; it is advanced lazily, under a mutex, just before a request is answered. A node that
//! is down refuses connections: its port stays bound, so the URL exists and no other program
//! can take the port, but nothing listens on it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Fault, SimError, Simulator};
use crate::System;

/// The content type of the Prometheus text exposition format 0.0.4.
pub(crate) const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What an endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    /// A jmx_exporter agent on a Cassandra or Kafka node (`GET /metrics`).
    Jmx,
    /// node_exporter on any node (`GET /metrics`).
    NodeExporter,
    /// danielqsj/kafka_exporter for a Kafka cluster (`GET /metrics`).
    KafkaExporter,
    /// The Elasticsearch REST API of a cluster (base URL).
    Elasticsearch,
    /// A Jolokia agent on a Cassandra or Kafka node (`POST /jolokia/`), when the cluster's
    /// spec asks for one.
    Jolokia,
}

/// One served endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Cluster name.
    pub cluster: String,
    /// The cluster's system.
    pub system: System,
    /// Node name, for per-node endpoints.
    pub node: Option<String>,
    /// What the endpoint serves.
    pub kind: EndpointKind,
    /// `http://127.0.0.1:<port>/metrics` for exporters, `http://127.0.0.1:<port>` for
    /// Elasticsearch.
    pub url: String,
}

/// Running simulated endpoints. Dropping it stops serving.
#[derive(Debug)]
pub struct SimServer {
    /// Every endpoint, in cluster and node order (including those of down nodes).
    pub endpoints: Vec<Endpoint>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The ports of nodes down from the start: bound, not listening.
    _reserved: Vec<TcpSocket>,
}

impl SimServer {
    /// The endpoint of `kind` for `cluster` (and `node`, for per-node kinds).
    pub fn endpoint(
        &self,
        cluster: &str,
        node: Option<&str>,
        kind: EndpointKind,
    ) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.cluster == cluster && e.node.as_deref() == node && e.kind == kind)
    }

    /// The simulated time now (advances the clock to the wall-clock target first).
    pub fn sim_now_ms(&self) -> i64 {
        self.shared.sim().now_ms()
    }

    /// Stops serving and waits (up to 2 s per endpoint) for the servers to finish.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[derive(Debug)]
struct Shared {
    sim: Mutex<Simulator>,
    origin: Instant,
    start_ms: i64,
    speed: f64,
}

impl Shared {
    /// Locks the simulator after advancing it to `start + wall elapsed × speed`.
    fn sim(&self) -> MutexGuard<'_, Simulator> {
        let mut sim = self.sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed_ms = self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed;
        let target = self.start_ms.saturating_add(elapsed_ms.min(1e15) as i64);
        sim.advance_to(target);
        sim
    }
}

#[derive(Debug, Clone)]
struct EndpointState {
    shared: Arc<Shared>,
    system: System,
    cluster: String,
    node: Option<String>,
    kind: EndpointKind,
}

/// Binds every endpoint of `sim` on 127.0.0.1 and starts serving, with simulated time running
/// at `speed` × wall-clock time (0 freezes the clock).
pub async fn serve(sim: Simulator, speed: f64) -> Result<SimServer, SimError> {
    if !(speed.is_finite() && speed >= 0.0) {
        return Err(SimError::BadSpeed(speed));
    }
    // (cluster, node, kind) in a stable order.
    let mut plan: Vec<(String, System, Option<String>, EndpointKind, bool)> = Vec::new();
    let mut may_go_down = false;
    for c in sim.clusters() {
        may_go_down |= c.faults.iter().any(|f| f.fault == Fault::HintsForDownNode);
        for n in &c.nodes {
            let up = sim.node_up(&c.name, &n.name).unwrap_or(true);
            if c.system != System::Elasticsearch {
                plan.push((c.name.clone(), c.system, Some(n.name.clone()), EndpointKind::Jmx, up));
                if c.jolokia {
                    let node = Some(n.name.clone());
                    plan.push((c.name.clone(), c.system, node, EndpointKind::Jolokia, up));
                }
            }
            plan.push((
                c.name.clone(),
                c.system,
                Some(n.name.clone()),
                EndpointKind::NodeExporter,
                up,
            ));
        }
        match c.system {
            System::Kafka if c.kafka_exporter => {
                plan.push((c.name.clone(), c.system, None, EndpointKind::KafkaExporter, true));
            }
            System::Elasticsearch => {
                plan.push((c.name.clone(), c.system, None, EndpointKind::Elasticsearch, true));
            }
            _ => {}
        }
    }

    let start_ms = sim.now_ms();
    let shared = Arc::new(Shared { sim: Mutex::new(sim), origin: Instant::now(), start_ms, speed });
    let (stop, _) = watch::channel(false);
    let mut endpoints = Vec::with_capacity(plan.len());
    let mut tasks = Vec::new();
    let mut down_watches: Vec<(String, String, watch::Sender<bool>)> = Vec::new();
    let mut reserved = Vec::new();

    for (cluster, system, node, kind, up) in plan {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let url = match kind {
            EndpointKind::Elasticsearch => format!("http://{addr}"),
            EndpointKind::Jolokia => format!("http://{addr}/jolokia/"),
            _ => format!("http://{addr}/metrics"),
        };
        endpoints.push(Endpoint {
            cluster: cluster.clone(),
            system,
            node: node.clone(),
            kind,
            url,
        });
        if !up {
            drop(listener);
            reserved.extend(reserve(addr));
            continue;
        }
        let down = match (&node, may_go_down) {
            (Some(n), true) => {
                let (tx, rx) = watch::channel(false);
                down_watches.push((cluster.clone(), n.clone(), tx));
                Some(rx)
            }
            _ => None,
        };
        let state = EndpointState { shared: Arc::clone(&shared), system, cluster, node, kind };
        let router = match kind {
            EndpointKind::Elasticsearch => Router::new().fallback(es_handler).with_state(state),
            EndpointKind::Jolokia => Router::new()
                .route("/jolokia/", post(jolokia_handler))
                .route("/jolokia", post(jolokia_handler))
                .fallback(not_found)
                .with_state(state),
            _ => Router::new()
                .route("/metrics", get(metrics_handler))
                .fallback(not_found)
                .with_state(state),
        };
        let listener = NodeListener { inner: Some(listener), reserved: None, addr, down };
        let mut stop_rx = stop.subscribe();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                // `true` was sent or the server was dropped: either way, stop.
                let _stopped = stop_rx.wait_for(|s| *s).await.is_ok();
            };
            if let Err(err) = axum::serve(listener, router).with_graceful_shutdown(shutdown).await {
                tracing::warn!(error = %err, "Simulated endpoint stopped.");
            }
        }));
    }

    if !down_watches.is_empty() {
        // Nodes that go down later must start refusing connections even if nobody asks the
        // simulator anything: a ticker advances the clock and closes their listeners.
        let shared = Arc::clone(&shared);
        let mut stop_rx = stop.subscribe();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.wait_for(|s| *s) => return,
                }
                let sim = shared.sim();
                for (cluster, node, tx) in &down_watches {
                    let down = sim.node_up(cluster, node) == Some(false);
                    tx.send_if_modified(|v| {
                        let changed = *v != down;
                        *v = down;
                        changed
                    });
                }
            }
        }));
    }
    tracing::debug!(endpoints = endpoints.len(), speed, "Simulator is serving.");
    Ok(SimServer { endpoints, shared, stop, tasks, _reserved: reserved })
}

async fn metrics_handler(State(st): State<EndpointState>) -> Response {
    let body = {
        let sim = st.shared.sim();
        let node = st.node.as_deref().unwrap_or("");
        match st.kind {
            EndpointKind::Jmx => sim.jmx_metrics(&st.cluster, node),
            EndpointKind::NodeExporter => sim.node_exporter_metrics(&st.cluster, node),
            EndpointKind::KafkaExporter => sim.kafka_exporter_metrics(&st.cluster),
            EndpointKind::Elasticsearch | EndpointKind::Jolokia => None,
        }
    };
    match body {
        Some(text) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "node is down\n").into_response(),
    }
}

async fn jolokia_handler(State(st): State<EndpointState>, request: Bytes) -> Response {
    let (page, now_ms) = {
        let sim = st.shared.sim();
        (sim.jmx_metrics(&st.cluster, st.node.as_deref().unwrap_or("")), sim.now_ms())
    };
    let Some(page) = page else {
        return (StatusCode::SERVICE_UNAVAILABLE, "node is down\n").into_response();
    };
    let (status, body) = super::jolokia::answer(st.system, &page, &request, now_ms / 1000);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A real agent's default mimeType: clients must not rely on application/json.
    (status, [(header::CONTENT_TYPE, "text/plain;charset=utf-8")], body).into_response()
}

async fn es_handler(State(st): State<EndpointState>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let answer = st.shared.sim().es_api(&st.cluster, &path);
    match answer {
        Some((status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let ctype = if body.starts_with('{') || body.starts_with('[') {
                "application/json; charset=UTF-8"
            } else {
                "text/plain; charset=UTF-8"
            };
            (status, [(header::CONTENT_TYPE, ctype)], body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "unknown cluster\n").into_response(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found; try /metrics\n").into_response()
}

/// Binds `addr` without listening, so connections to it are refused while no other socket
/// can be given the port (a freed port went to a parallel test, which then answered for the
/// down node). Without SO_REUSEADDR if it can, which keeps out even sockets that set it;
/// with it when connections the listener accepted linger in TIME_WAIT on the port. `None`
/// if the port was taken in the moment it was free.
fn reserve(addr: SocketAddr) -> Option<TcpSocket> {
    let mut last = None;
    for reuse in [false, true] {
        let bound = TcpSocket::new_v4().and_then(|socket| {
            socket.set_reuseaddr(reuse)?;
            socket.bind(addr)?;
            Ok(socket)
        });
        match bound {
            Ok(socket) => return Some(socket),
            Err(err) => last = Some(err),
        }
    }
    if let Some(err) = last {
        tracing::debug!(error = %err, %addr, "Could not keep a down node's port bound.");
    }
    None
}

/// A TCP listener that stops listening (so the port refuses connections) once its node is
/// down, keeping the port bound.
struct NodeListener {
    inner: Option<TcpListener>,
    reserved: Option<TcpSocket>,
    addr: SocketAddr,
    down: Option<watch::Receiver<bool>>,
}

impl axum::serve::Listener for NodeListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            if self.down.as_ref().is_some_and(|rx| *rx.borrow()) && self.inner.take().is_some() {
                self.reserved = reserve(self.addr);
            }
            let NodeListener { inner, down, .. } = self;
            let Some(listener) = inner.as_ref() else {
                return std::future::pending().await;
            };
            let accepted = match down {
                Some(rx) => tokio::select! {
                    r = listener.accept() => Some(r),
                    changed = rx.changed() => {
                        if changed.is_err() {
                            *down = None;
                        }
                        None
                    }
                },
                None => Some(listener.accept().await),
            };
            match accepted {
                Some(Ok(conn)) => return conn,
                Some(Err(err)) => {
                    tracing::debug!(error = %err, "Accept failed on a simulated endpoint.");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => {}
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
