//! `opsadvisor test rules`: rule unit tests in the `promtool test rules` format.
//!
//! A test file names rule files, gives input series in promtool's expanding notation
//! (`'150+10x10'`, `'_x3 1'`), and lists the findings expected at an evaluation time.
//! Series are exporter metrics, not feature columns, so a test exercises the whole path a
//! scrape takes: catalogue → features → rule → lifecycle. Each series carries `cluster`
//! and `node` labels that say where it was scraped from.
//!
//! ```yaml
//! rule_files: [../cassandra.yaml]
//! tests:
//!   - name: backlog fires after 2m
//!     system: cassandra
//!     interval: 1m
//!     input_series:
//!       - series: 'cassandra_compaction_pendingtasks{cluster="c",node="n1"}'
//!         values: '150+10x10'
//!     alert_rule_test:
//!       - eval_time: 5m
//!         alertname: cassandra_compaction_backlog
//!         exp_alerts:
//!           - exp_labels: { cluster: c, node: n1, severity: warning }
//! ```

use super::{Rule, RuleSet};
use crate::System;
use crate::config::parse_duration;
use crate::features::{self, catalog::Catalog};
use crate::sample::Sample;
use crate::snapshot::{ClusterSnapshot, NodeSnapshot, Point, Snapshot, SourceSeries};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    rule_files: Vec<PathBuf>,
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    name: Option<String>,
    system: System,
    #[serde(default = "one_minute")]
    interval: String,
    input_series: Vec<InputSeries>,
    alert_rule_test: Vec<AlertTest>,
}

fn one_minute() -> String {
    "1m".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

/// What the assertions of a rule showed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// A passing assertion expected it to fire.
    pub fires: bool,
    /// A passing assertion saw it stay quiet for some node or cluster of the input.
    pub quiet: bool,
}

/// The outcome of one test file.
#[derive(Debug, Default)]
pub struct TestReport {
    /// Assertions that held.
    pub passed: usize,
    /// Human-readable failures (`file: test name: what differed`).
    pub failures: Vec<String>,
    /// Rule ids the file exercised: whether a passing assertion saw it fire, and whether
    /// one saw it stay quiet for an entity (node or cluster) present in the input.
    pub coverage: BTreeMap<String, Coverage>,
}

/// Expands promtool's value notation: `1 2 _ 3`, `a+bxN`, `a-bxN`, `axN`, `_xN`.
///
/// # Errors
/// A message naming the bad token.
pub fn expand_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in text.split_whitespace() {
        let (head, times) = match tok.split_once('x') {
            Some((h, n)) => {
                (h, Some(n.parse::<usize>().map_err(|_| format!("bad repeat count in '{tok}'"))?))
            }
            None => (tok, None),
        };
        if head == "_" {
            out.extend(std::iter::repeat_n(None, times.unwrap_or(1)));
            continue;
        }
        // Split `a+b` / `a-b`, skipping a leading sign and exponent signs.
        let split = head.char_indices().skip(1).find(|&(i, c)| {
            (c == '+' || c == '-') && !matches!(head.as_bytes()[i - 1], b'e' | b'E')
        });
        let (start, step) = match split {
            Some((i, _)) => {
                (&head[..i], head[i..].parse::<f64>().map_err(|_| format!("bad step in '{tok}'"))?)
            }
            None => (head, 0.0),
        };
        let start: f64 = parse_value(start).ok_or_else(|| format!("bad value in '{tok}'"))?;
        match times {
            Some(n) => out.extend((0..=n).map(|k| Some(start + step * k as f64))),
            None if split.is_some() => {
                return Err(format!("'{tok}' needs a repeat count (e.g. {tok}x10)"));
            }
            None => out.push(Some(start)),
        }
    }
    Ok(out)
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Parses `name{a="b",c="d"}` into a name and labels.
fn parse_series(s: &str) -> Result<(String, Vec<(String, String)>), String> {
    let (name, rest) = s.split_once('{').map_or((s, ""), |(n, r)| (n, r));
    let mut labels = Vec::new();
    let body = rest.trim_end().strip_suffix('}').unwrap_or(rest);
    for part in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| format!("bad label '{part}' in '{s}'"))?;
        let v = v
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| format!("unquoted label value in '{s}'"))?;
        labels.push((k.trim().to_string(), v.to_string()));
    }
    Ok((name.trim().to_string(), labels))
}

/// Runs one test file. Rule files are resolved relative to the test file.
pub fn run_file(path: &Path, catalog: &Catalog) -> TestReport {
    let mut report = TestReport::default();
    let name = path.display().to_string();
    let file: TestFile = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_norway::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(f) => f,
        Err(e) => {
            report.failures.push(format!("{name}: {e}"));
            return report;
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let rules =
        RuleSet::load(&file.rule_files.iter().map(|f| base.join(f)).collect::<Vec<_>>(), catalog);
    for e in &rules.errors {
        report.failures.push(format!("{name}: {e}"));
    }
    for (i, group) in file.tests.iter().enumerate() {
        let label =
            format!("{name}: {}", group.name.clone().unwrap_or_else(|| format!("test #{}", i + 1)));
        if let Err(e) = run_group(group, &rules.rules, catalog, &label, &mut report) {
            report.failures.push(format!("{label}: {e}"));
        }
    }
    report
}

fn run_group(
    g: &TestGroup,
    rules: &[Rule],
    catalog: &Catalog,
    label: &str,
    report: &mut TestReport,
) -> Result<(), String> {
    let interval_ms = parse_duration(&g.interval)?.as_millis() as i64;
    if interval_ms == 0 {
        return Err("interval must be positive".into());
    }
    // node → round → samples, per cluster.
    let mut clusters: BTreeMap<String, BTreeMap<String, Vec<Vec<Sample>>>> = BTreeMap::new();
    let mut rounds = 0;
    for s in &g.input_series {
        let (name, mut labels) = parse_series(&s.series)?;
        let take = |labels: &mut Vec<(String, String)>, key: &str| {
            labels.iter().position(|(k, _)| k == key).map(|i| labels.remove(i).1)
        };
        let cluster = take(&mut labels, "cluster")
            .ok_or_else(|| format!("series '{}' needs a cluster label", s.series))?;
        // A series without a `node` label is cluster-wide (cluster health, consumer lag).
        let node = take(&mut labels, "node").unwrap_or_default();
        let values = expand_values(&s.values)?;
        rounds = rounds.max(values.len());
        let per_round = clusters.entry(cluster).or_default().entry(node).or_default();
        if per_round.len() < values.len() {
            per_round.resize(values.len(), Vec::new());
        }
        let (name, labels) =
            (crate::sample::Atom::from(name.as_str()), crate::sample::labels(labels));
        for (r, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                per_round[r].push(Sample::new(name.clone(), labels.clone(), v));
            }
        }
    }
    for t in &g.alert_rule_test {
        let eval_ms = parse_duration(&t.eval_time)?.as_millis() as i64;
        let upto = ((eval_ms / interval_ms) as usize + 1).min(rounds);
        let snapshot = Snapshot {
            rounds: upto,
            clusters: clusters
                .iter()
                .map(|(cname, nodes)| ClusterSnapshot {
                    name: cname.clone(),
                    system: g.system,
                    cluster_sources: nodes
                        .get("")
                        .map(|r| vec![series(r, upto, interval_ms)])
                        .unwrap_or_default(),
                    nodes: nodes
                        .iter()
                        .filter(|(nname, _)| !nname.is_empty())
                        .map(|(nname, per_round)| NodeSnapshot {
                            name: nname.clone(),
                            sources: vec![series(per_round, upto, interval_ms)],
                        })
                        .collect(),
                })
                .collect(),
        };
        let frames = features::extract(&snapshot, catalog, crate::pipeline::MAX_WINDOW_MS)
            .map_err(|e| e.to_string())?;
        let selected: Vec<Rule> =
            rules.iter().filter(|r| r.id == t.alertname && r.system == g.system).cloned().collect();
        if selected.is_empty() {
            return Err(format!(
                "no {} rule '{}' in the rule files",
                g.system.as_str(),
                t.alertname
            ));
        }
        let firing = super::super::analyze(&frames, &selected).map_err(|e| e.to_string())?.firing;
        let got: Vec<BTreeMap<String, String>> = firing
            .iter()
            .map(|f| {
                let mut l: BTreeMap<String, String> = selected[0].labels.clone();
                l.insert("cluster".into(), f.cluster.clone());
                if let Some(n) = &f.node {
                    l.insert("node".into(), n.clone());
                }
                l.insert("severity".into(), f.severity.as_str().into());
                l
            })
            .collect();
        let mut unmatched: Vec<usize> = (0..firing.len()).collect();
        let mut ok = true;
        for exp in &t.exp_alerts {
            let pos = unmatched.iter().position(|&i| {
                exp.exp_labels.iter().all(|(k, v)| got[i].get(k) == Some(v))
                    && exp.exp_annotations.iter().all(|(k, v)| match k.as_str() {
                        "symptom" => firing[i].symptom == *v,
                        "action" => firing[i].action == *v,
                        _ => false,
                    })
            });
            match pos {
                Some(p) => {
                    unmatched.remove(p);
                }
                None => {
                    ok = false;
                    report.failures.push(format!(
                        "{label}: at {} expected {} firing with {:?} {:?}; got {:?}",
                        t.eval_time,
                        t.alertname,
                        exp.exp_labels,
                        exp.exp_annotations,
                        firing
                            .iter()
                            .map(|f| (f.node.clone(), f.symptom.clone()))
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
        if !unmatched.is_empty() {
            ok = false;
            report.failures.push(format!(
                "{label}: at {} {} fired unexpectedly for {:?}",
                t.eval_time,
                t.alertname,
                unmatched.iter().map(|&i| &got[i]).collect::<Vec<_>>()
            ));
        }
        if ok {
            report.passed += 1;
            let entities = match selected[0].scope {
                super::RuleScope::Cluster => snapshot.clusters.len(),
                super::RuleScope::Node => snapshot.clusters.iter().map(|c| c.nodes.len()).sum(),
            };
            let c = report.coverage.entry(t.alertname.clone()).or_default();
            c.fires |= !firing.is_empty();
            c.quiet |= firing.len() < entities;
        }
    }
    Ok(())
}

/// The points of one node's input series up to round `upto`; a round without values is a
/// failed scrape.
fn series(per_round: &[Vec<Sample>], upto: usize, interval_ms: i64) -> SourceSeries {
    SourceSeries {
        source: "input_series".into(),
        points: (0..upto)
            .map(|r| {
                per_round.get(r).filter(|s| !s.is_empty()).map(|samples| Point {
                    timestamp_ms: r as i64 * interval_ms,
                    samples: samples.clone(),
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanding_notation_matches_promtool() {
        assert_eq!(expand_values("1+2x3").unwrap(), [Some(1.0), Some(3.0), Some(5.0), Some(7.0)]);
        assert_eq!(
            expand_values("10-1x2 _ 4").unwrap(),
            [Some(10.0), Some(9.0), Some(8.0), None, Some(4.0)]
        );
        assert_eq!(expand_values("5x2").unwrap(), [Some(5.0); 3]);
        assert_eq!(expand_values("_x2 1e3").unwrap(), [None, None, Some(1000.0)]);
        assert_eq!(expand_values("-1+1x1").unwrap(), [Some(-1.0), Some(0.0)]);
        assert!(expand_values("1+2").is_err());
        assert!(expand_values("abc").is_err());
    }

    #[test]
    fn series_notation_parses_labels() {
        let (n, l) = parse_series(r#"m{cluster="c", node="n1",area="heap"}"#).unwrap();
        assert_eq!(n, "m");
        assert_eq!(l.len(), 3);
        assert!(parse_series("m{a=b}").is_err());
    }
}
