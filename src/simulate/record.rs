//! Recording days of simulated history in-process, as if every target had been scraped.
//!
//! Capacity forecasts need days of history, and a demo cannot wait for them. The simulator
//! fast-forwards (integrating in coarse steps: disk, load cycle and heap move on scales of
//! minutes to days) and, every `every`, records what each target would have answered: the
//! same bodies its HTTP endpoints serve. The result is a [`Rounds`] like a support bundle's,
//! so it goes through exactly the parsing and feature extraction a live run uses.

use super::Simulator;
use crate::System;
use crate::sources::{Raw, RawBody, Rounds, Target, TargetKind, elasticsearch};
use std::collections::BTreeMap;

/// Integration step while fast-forwarding.
pub const COARSE_STEP_MS: i64 = 120_000;

/// Advances `sim` to `until_ms`, recording every target of `targets` each `every_ms` (at
/// least one minute). Targets the simulator does not know record an error, as a failed
/// scrape would.
pub fn record(sim: &mut Simulator, targets: &[Target], until_ms: i64, every_ms: i64) -> Rounds {
    let every_ms = every_ms.max(COARSE_STEP_MS);
    let mut raws: Vec<Vec<Result<Raw, String>>> = vec![Vec::new(); targets.len()];
    while sim.now_ms() + every_ms <= until_ms {
        sim.fast_forward_to(sim.now_ms() + every_ms, COARSE_STEP_MS);
        for (t, out) in targets.iter().zip(raws.iter_mut()) {
            out.push(answer(sim, t).ok_or_else(|| "not served by the simulator".to_string()));
        }
    }
    sim.fast_forward_to(until_ms, COARSE_STEP_MS);
    Rounds { targets: targets.to_vec(), raws }
}

/// The targets whose history capacity planning reads (every node's exporters and the
/// Elasticsearch API; not kafka_exporter's consumer lag), as a config for the simulator
/// would list them. URLs are placeholders: recorded answers are matched by cluster, node
/// and kind.
pub fn targets(sim: &Simulator) -> Vec<Target> {
    let mut out = Vec::new();
    let mut push = |c: &super::ClusterSpec, node: Option<&str>, kind: TargetKind| {
        out.push(Target {
            cluster: c.name.clone(),
            system: c.system,
            node: node.map(str::to_string),
            kind,
            url: format!("http://simulator.invalid/{}/{}", c.name, node.unwrap_or("-")),
            auth: None,
            tls: None,
        });
    };
    for c in sim.clusters() {
        let es = c.system == System::Elasticsearch;
        if es {
            push(c, None, TargetKind::Elasticsearch);
        }
        for n in &c.nodes {
            if !es {
                push(c, Some(&n.name), TargetKind::Metrics);
            }
            push(c, Some(&n.name), TargetKind::NodeExporter);
        }
    }
    out
}

fn text(body: String) -> BTreeMap<String, RawBody> {
    BTreeMap::from([(
        "metrics".to_string(),
        RawBody { content_type: Some(super::server::TEXT_FORMAT.into()), body: body.into_bytes() },
    )])
}

fn answer(sim: &Simulator, t: &Target) -> Option<Raw> {
    let node = t.node.as_deref().unwrap_or("");
    let bodies = match t.kind {
        TargetKind::Metrics => text(sim.jmx_metrics(&t.cluster, node)?),
        TargetKind::NodeExporter => text(sim.node_exporter_metrics(&t.cluster, node)?),
        TargetKind::KafkaExporter => text(sim.kafka_exporter_metrics(&t.cluster)?),
        TargetKind::Elasticsearch => {
            let mut bodies = BTreeMap::new();
            for (key, path) in elasticsearch::ENDPOINTS {
                let mut answer = sim.es_api(&t.cluster, path);
                if *key == "settings" && answer.as_ref().is_some_and(|a| a.0 == 400) {
                    answer = sim.es_api(&t.cluster, elasticsearch::SETTINGS_WITHOUT_DEFAULTS);
                }
                if let Some((200, body)) = answer {
                    bodies.insert(
                        (*key).to_string(),
                        RawBody {
                            content_type: Some("application/json".into()),
                            body: body.into_bytes(),
                        },
                    );
                }
            }
            bodies
        }
        // Capacity reads the exporters; Jolokia carries the same JMX values.
        // Configuration files are read from disk, never from the simulator.
        TargetKind::Prometheus
        | TargetKind::ElasticsearchExporter
        | TargetKind::Jolokia
        | TargetKind::ConfigFiles => {
            return None;
        }
    };
    Some(Raw { fetched_ms: sim.sample_ms(), bodies, errors: Vec::new() })
}
