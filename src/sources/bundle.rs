//! Support bundles: everything one run fetched, with timestamps, in a directory a user can
//! attach to a ticket; `advise --bundle DIR` replays it offline through the same parsing
//! and analysis as a live run, so it gives the same findings.
//!
//! Layout (format `opsadvisor-bundle/1`):
//! ```text
//! DIR/manifest.json                      format, creation time, rounds, and the config
//!                                        (URLs without credentials or query strings)
//! DIR/targets/<t>/<round>.json           per fetch: fetched_ms, error, and its bodies:
//!                                        { key: { file, content_type } }
//! DIR/targets/<t>/<round>.<key>.body     a body exactly as received (key `metrics`, an
//!                                        Elasticsearch endpoint, or `jolokia` with the
//!                                        bulk read POSTed beside it as `request`)
//! ```
//! `<t>` is the target's index in config order. Bodies are kept verbatim: metrics carry no
//! secrets, and exact bytes are what a parser bug report needs. Clusters read from
//! Prometheus are not captured (their history is already in Prometheus).

use super::{Raw, RawBody, Rounds, redact, targets};
use crate::config::Config;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The bundle format this version writes and reads.
pub const FORMAT: &str = "opsadvisor-bundle/1";

/// A bundle that could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct BundleError {
    /// The file concerned.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    created_ms: i64,
    rounds: usize,
    /// The config, re-read through `Config::from_yaml` (JSON is YAML) so it is validated
    /// like any config.
    config: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct FetchMeta {
    fetched_ms: Option<i64>,
    error: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    bodies: BTreeMap<String, BodyMeta>,
}

#[derive(Serialize, Deserialize)]
struct BodyMeta {
    file: String,
    content_type: Option<String>,
}

fn err(path: &Path, e: impl std::fmt::Display) -> BundleError {
    BundleError { path: path.display().to_string(), message: e.to_string() }
}

/// The config as stored in a bundle: every URL without credentials or query string.
fn sanitized(config: &Config) -> Config {
    let mut c = config.clone();
    let clean = |u: &mut Option<String>| {
        if let Some(url) = u {
            *url = redact(url);
        }
    };
    for cl in &mut c.clusters {
        clean(&mut cl.elasticsearch);
        clean(&mut cl.elasticsearch_exporter);
        clean(&mut cl.kafka_exporter);
        if let Some(p) = &mut cl.prometheus {
            p.url = redact(&p.url);
        }
        for t in &mut cl.targets {
            clean(&mut t.metrics);
            clean(&mut t.node_exporter);
            clean(&mut t.jolokia);
        }
        cl.file_sd.clear(); // already resolved into targets
    }
    c.checks.snoozed.clear();
    c
}

/// Writes `rounds` of a run with `config` into `dir` (created if missing).
///
/// # Errors
/// The first file that could not be written.
pub fn write(
    dir: &Path,
    config: &Config,
    rounds: &Rounds,
    created_ms: i64,
) -> Result<(), BundleError> {
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let n = rounds.raws.iter().map(Vec::len).max().unwrap_or(0);
    let path = dir.join("manifest.json");
    let config = serde_json::to_value(sanitized(config)).map_err(|e| err(&path, e))?;
    let manifest = Manifest { format: FORMAT.into(), created_ms, rounds: n, config };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| err(&path, e))?;
    std::fs::write(&path, text).map_err(|e| err(&path, e))?;
    for (t, per_round) in rounds.raws.iter().enumerate() {
        let tdir = dir.join("targets").join(t.to_string());
        std::fs::create_dir_all(&tdir).map_err(|e| err(&tdir, e))?;
        for (round, r) in per_round.iter().enumerate() {
            let mut meta = FetchMeta {
                fetched_ms: None,
                error: None,
                errors: Vec::new(),
                bodies: BTreeMap::new(),
            };
            match r {
                Ok(raw) => {
                    meta.fetched_ms = Some(raw.fetched_ms);
                    meta.errors.clone_from(&raw.errors);
                    for (key, body) in &raw.bodies {
                        let file = format!("{round}.{key}.body");
                        let p = tdir.join(&file);
                        std::fs::write(&p, &body.body).map_err(|e| err(&p, e))?;
                        meta.bodies.insert(
                            key.clone(),
                            BodyMeta { file, content_type: body.content_type.clone() },
                        );
                    }
                }
                Err(e) => meta.error = Some(e.clone()),
            }
            let p = tdir.join(format!("{round}.json"));
            let text = serde_json::to_string_pretty(&meta).map_err(|e| err(&p, e))?;
            std::fs::write(&p, text).map_err(|e| err(&p, e))?;
        }
    }
    Ok(())
}

/// Reads a bundle: the config it was captured with and every fetch.
///
/// # Errors
/// A missing or malformed file, or a bundle of another format.
pub fn read(dir: &Path) -> Result<(Config, Rounds), BundleError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| err(&path, e))?;
    if manifest.format != FORMAT {
        return Err(err(&path, format!("format '{}' is not {FORMAT}", manifest.format)));
    }
    let config = Config::from_yaml(&manifest.config.to_string(), dir).map_err(|issues| {
        err(&path, issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
    })?;
    let targets = targets(&config);
    let mut raws = Vec::with_capacity(targets.len());
    for t in 0..targets.len() {
        let tdir: PathBuf = dir.join("targets").join(t.to_string());
        let mut per_round = Vec::with_capacity(manifest.rounds);
        for round in 0..manifest.rounds {
            let p = tdir.join(format!("{round}.json"));
            let text = std::fs::read_to_string(&p).map_err(|e| err(&p, e))?;
            let meta: FetchMeta = serde_json::from_str(&text).map_err(|e| err(&p, e))?;
            per_round.push(match (meta.error, meta.fetched_ms) {
                (Some(e), _) => Err(e),
                (None, None) => return Err(err(&p, "neither an error nor a fetch time")),
                (None, Some(fetched_ms)) => {
                    let mut bodies = BTreeMap::new();
                    for (key, b) in meta.bodies {
                        let bp = tdir.join(&b.file);
                        if b.file.contains('/') || b.file.contains("..") {
                            return Err(err(&bp, "body file must be a plain name"));
                        }
                        let body = std::fs::read(&bp).map_err(|e| err(&bp, e))?;
                        bodies.insert(key, RawBody { content_type: b.content_type, body });
                    }
                    Ok(Raw { fetched_ms, bodies, errors: meta.errors })
                }
            });
        }
        raws.push(per_round);
    }
    Ok((config, Rounds { targets, raws }))
}
