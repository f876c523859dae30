//! Target discovery and sharding: Prometheus `file_sd` files, and hashmod sharding so that
//! N opsadvisor replicas split a fleet without overlap.
//!
//! A `file_sd` file is what Prometheus reads (JSON or YAML): a list of target groups, each
//! with `targets` (`host:port`) and `labels`. opsadvisor reads three labels from a group:
//! `node` (the node name; default the host without its port), `exporter` (`metrics`, the
//! default, `node_exporter`, or `jolokia` whose path defaults to `/jolokia/`) and `__metrics_path__`/`__scheme__` as Prometheus does.
//!
//! Sharding follows Prometheus's `hashmod` relabel action (the last 8 bytes of the MD5 of
//! the value, big-endian, modulo N). The unit is the cluster, not the target: checks compare
//! the nodes of a cluster, so a cluster is never split across replicas.

use super::{ClusterConfig, ConfigIssue, TargetConfig};
use md5::{Digest, Md5};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize)]
struct TargetGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Prometheus's `hashmod`: MD5 of `value`, its last 8 bytes big-endian, modulo `modulus`.
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let sum = Md5::digest(value.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&sum[8..]);
    u64::from_be_bytes(tail) % modulus.max(1)
}

/// Parses `shard: "i/N"`.
///
/// # Errors
/// A message naming the bad value.
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid shard '{s}' (expected i/N with 0 <= i < N, e.g. 0/3)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) =
        (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Whether `cluster` belongs to shard `i` of `n`.
pub fn in_shard(cluster: &str, (i, n): (u64, u64)) -> bool {
    hashmod(cluster, n) == i
}

/// Reads the `file_sd` files of `cluster` (relative to `base`) and appends their targets.
/// Problems are returned with the path of the file entry.
pub fn resolve_file_sd(cluster: &mut ClusterConfig, index: usize, base: &Path) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    let files = cluster.file_sd.clone();
    for (j, pattern) in files.iter().enumerate() {
        let path = format!("clusters[{index}].file_sd[{j}]");
        let matched = match expand(&base.join(pattern)) {
            Ok(m) => m,
            Err(message) => {
                issues.push(ConfigIssue { path, message });
                continue;
            }
        };
        for full in matched {
            let text = match std::fs::read_to_string(&full) {
                Ok(t) => t,
                Err(e) => {
                    issues.push(ConfigIssue {
                        path: path.clone(),
                        message: format!("{}: {e}", full.display()),
                    });
                    continue;
                }
            };
            // YAML is a superset of JSON, so one parser reads both file_sd formats.
            let groups: Vec<TargetGroup> = match serde_norway::from_str(&text) {
                Ok(g) => g,
                Err(e) => {
                    issues.push(ConfigIssue {
                        path: path.clone(),
                        message: format!("{}: {e}", full.display()),
                    });
                    continue;
                }
            };
            for (g, group) in groups.iter().enumerate() {
                let scheme = group.labels.get("__scheme__").map_or("http", String::as_str);
                let exporter = group.labels.get("exporter").map_or("metrics", String::as_str);
                if !["metrics", "node_exporter", "jolokia"].contains(&exporter) {
                    issues.push(ConfigIssue {
                        path: format!("{path}: group {g}"),
                        message: format!(
                            "label exporter='{exporter}' (expected metrics, node_exporter or jolokia)"
                        ),
                    });
                    continue;
                }
                // A Jolokia agent's base URL is /jolokia/, not /metrics.
                let default_path = if exporter == "jolokia" { "/jolokia/" } else { "/metrics" };
                let metrics_path =
                    group.labels.get("__metrics_path__").map_or(default_path, String::as_str);
                for address in &group.targets {
                    let host = address.rsplit_once(':').map_or(address.as_str(), |(h, _)| h);
                    let node =
                        group.labels.get("node").cloned().unwrap_or_else(|| host.to_string());
                    let url = format!("{scheme}://{address}{metrics_path}");
                    let target = match cluster.targets.iter_mut().position(|t| t.node == node) {
                        Some(k) => &mut cluster.targets[k],
                        None => {
                            cluster.targets.push(TargetConfig {
                                node,
                                metrics: None,
                                node_exporter: None,
                                jolokia: None,
                                config_files: None,
                            });
                            let last = cluster.targets.len() - 1;
                            &mut cluster.targets[last]
                        }
                    };
                    let slot = match exporter {
                        "metrics" => &mut target.metrics,
                        "jolokia" => &mut target.jolokia,
                        _ => &mut target.node_exporter,
                    };
                    *slot = Some(url);
                }
            }
        }
    }
    issues
}

/// The files a `file_sd` entry names: the path itself, or, as Prometheus allows, the files
/// matching one `*` in its last segment (sorted).
fn expand(pattern: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let name = pattern.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return Ok(vec![pattern.to_path_buf()]);
    };
    if suffix.contains('*') {
        return Err(format!("{}: only one '*' is allowed, in the file name", pattern.display()));
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.len() >= prefix.len() + suffix.len()
                    && n.starts_with(prefix)
                    && n.ends_with(suffix)
            })
        })
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashmod_matches_prometheus() {
        // Vectors from Prometheus's model/relabel/relabel_test.go.
        assert_eq!(hashmod("baz", 1000), 976);
        assert_eq!(hashmod("foo\nbar", 1000), 734);
        assert!(parse_shard("3/3").is_err());
        assert_eq!(parse_shard("1/3"), Ok((1, 3)));
    }

    #[test]
    fn every_cluster_lands_in_exactly_one_shard() {
        for c in ["cass-prod", "kafka-a", "es-logs", "x"] {
            let owners: Vec<u64> = (0..4).filter(|&i| in_shard(c, (i, 4))).collect();
            assert_eq!(owners.len(), 1, "{c}");
        }
    }
}
