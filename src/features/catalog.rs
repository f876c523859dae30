//! The feature catalogue: which metrics become which feature columns.
//!
//! The mapping is data (`catalog.yaml`, compiled into the binary), not code: one feature
//! lists every exporter dialect's name for the same MBean as alternatives, and the first
//! alternative a node exposes wins. Adding a dialect or a feature is a YAML edit.

use crate::System;
use crate::analyzers::rules::expr::{self, Ast};
use crate::sample::Sample;
use regex::Regex;
use serde::Deserialize;

/// The catalogue shipped with opsadvisor.
pub const BUILTIN: &str = include_str!("catalog.yaml");

/// How values of several matching series combine into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    /// Sum of all matching series.
    Sum,
    /// Largest.
    Max,
    /// Smallest.
    Min,
    /// Mean.
    Avg,
    /// Number of matching series.
    Count,
}

/// How a value is read over the scrape window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    /// The newest value (gauges).
    Last,
    /// Per-second increase of a counter over the window, resets handled as Prometheus does.
    Rate,
    /// Least-squares slope per second of a gauge over the window (trends, fill rates).
    Slope,
    /// Largest value in the window.
    Max,
}

/// Whether a feature describes a node or the whole cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read from the node's own targets.
    #[default]
    Node,
    /// Read from cluster-wide targets (cluster health, consumer lag); same on every row.
    Cluster,
}

/// A series selector: a metric name and label matchers, in PromQL syntax.
#[derive(Debug, Clone)]
pub struct Selector {
    /// Metric name.
    pub name: String,
    matchers: Vec<(String, MatchOp, String, Option<Regex>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchOp {
    Eq,
    Ne,
    Re,
    NotRe,
}

impl Selector {
    /// Parses `name{label="value",other=~"re.*"}`.
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn parse(s: &str) -> Result<Selector, String> {
        let (name, rest) = match s.find('{') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let name = name.trim();
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        {
            return Err(format!("bad metric name in selector '{s}'"));
        }
        let mut matchers = Vec::new();
        if let Some(rest) = rest {
            let body = rest.strip_suffix('}').ok_or_else(|| format!("missing '}}' in '{s}'"))?;
            for part in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (label, op, value) = ["=~", "!~", "!=", "="]
                    .iter()
                    .find_map(|op| part.split_once(op).map(|(l, v)| (l.trim(), *op, v.trim())))
                    .ok_or_else(|| format!("bad matcher '{part}' in '{s}'"))?;
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .ok_or_else(|| format!("matcher value must be quoted in '{part}'"))?;
                let op = match op {
                    "=" => MatchOp::Eq,
                    "!=" => MatchOp::Ne,
                    "=~" => MatchOp::Re,
                    _ => MatchOp::NotRe,
                };
                let re = match op {
                    MatchOp::Re | MatchOp::NotRe => Some(
                        Regex::new(&format!("^(?:{value})$"))
                            .map_err(|e| format!("bad regex in '{part}': {e}"))?,
                    ),
                    _ => None,
                };
                matchers.push((label.to_string(), op, value.to_string(), re));
            }
        }
        Ok(Selector { name: name.to_string(), matchers })
    }

    /// Whether `sample` is selected. A missing label matches as the empty string, as in PromQL.
    pub fn matches(&self, sample: &Sample) -> bool {
        sample.name == self.name
            && self.matchers.iter().all(|(label, op, value, re)| {
                let v = sample.label(label).unwrap_or("");
                match op {
                    MatchOp::Eq => v == value,
                    MatchOp::Ne => v != value,
                    MatchOp::Re => re.as_ref().is_some_and(|r| r.is_match(v)),
                    MatchOp::NotRe => re.as_ref().is_some_and(|r| !r.is_match(v)),
                }
            })
    }
}

/// One exporter dialect's way to read a feature: its series, and where that dialect
/// differs, its own reading (a dialect that exports a per-second rate as a gauge) or unit.
#[derive(Debug, Clone)]
pub struct Alternative {
    /// The series.
    pub selector: Selector,
    /// Overrides the feature's `stat` for this dialect.
    pub stat: Option<Stat>,
    /// Overrides the feature's `scale` for this dialect (e.g. 1e-6 for microseconds).
    pub scale: Option<f64>,
}

/// One base feature: read from samples.
#[derive(Debug, Clone)]
pub struct BaseFeature {
    /// Column name.
    pub name: String,
    /// Systems whose frames carry it.
    pub systems: Vec<System>,
    /// What it means, with its unit.
    pub help: String,
    /// Alternatives, most specific dialect first; the first that matches wins.
    pub from: Vec<Alternative>,
    /// How matching series combine.
    pub agg: Agg,
    /// How the window is read.
    pub stat: Stat,
    /// Node or cluster.
    pub scope: Scope,
    /// Multiplier applied after aggregation (unit conversion, e.g. 1e-9 for nanoseconds).
    pub scale: f64,
}

/// One derived feature: an expression over earlier features.
#[derive(Debug, Clone)]
pub struct DerivedFeature {
    /// Column name.
    pub name: String,
    /// Systems whose frames carry it.
    pub systems: Vec<System>,
    /// What it means.
    pub help: String,
    /// The compiled expression.
    pub expr: Ast,
}

/// The files a configuration feature is read from (`file:` in the catalogue's `config:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactFile {
    /// `cassandra.yaml`, keys flattened with dots (`server_encryption_options.internode_encryption`).
    CassandraYaml,
    /// `jvm.options` / `jvm*-server.options` / ES `jvm.options.d/*.options`: keys are the
    /// flags without dashes (`Xmx`, `Xms`, `UseG1GC`, `MaxGCPauseMillis`).
    JvmOptions,
    /// Kafka `server.properties`.
    ServerProperties,
    /// `elasticsearch.yml`, keys flattened with dots.
    ElasticsearchYml,
    /// Facts of the host read under `/proc` and `/sys` (`vm.swappiness`, `block.read_ahead_kb_max`, …).
    Host,
}

impl FactFile {
    /// snake_case name as written in the catalogue and the opsadvisor config.
    pub fn as_str(self) -> &'static str {
        match self {
            FactFile::CassandraYaml => "cassandra_yaml",
            FactFile::JvmOptions => "jvm_options",
            FactFile::ServerProperties => "server_properties",
            FactFile::ElasticsearchYml => "elasticsearch_yml",
            FactFile::Host => "host",
        }
    }
}

/// How a configuration value becomes a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// A plain number.
    Number,
    /// `true/false`, `yes/no`, `on/off`, `1/0` → 1/0.
    Bool,
    /// A size: `4G`, `512m`, `64MiB`, `16KiB`; a bare number is multiplied by the key's `unit`.
    Bytes,
    /// A duration in seconds: `200ms`, `3h`, `10m`; a bare number is multiplied by the key's `unit`.
    Seconds,
    /// 1 when the value matches `pattern` (anchored, case-insensitive), else 0.
    Match,
}

/// One key a configuration feature may be read from, and the unit of a bare number in it
/// (`compaction_throughput_mb_per_sec: 16` is 16 MiB/s).
#[derive(Debug, Clone, PartialEq)]
pub struct FactKey {
    /// The flattened key.
    pub key: String,
    /// Multiplier for a value without a unit suffix.
    pub unit: f64,
}

/// A feature read from a configuration file or a host fact rather than from metrics.
///
/// Its column is also readable from samples named `opsadvisor_<name>` (what the
/// config-file source emits, and what a node_exporter textfile collector may export).
#[derive(Debug, Clone)]
pub struct ConfigFeature {
    /// Column name.
    pub name: String,
    /// The file it is read from.
    pub file: FactFile,
    /// Keys, first present wins (newer naming first, e.g. Cassandra 4.1's unit-suffixed keys).
    pub keys: Vec<FactKey>,
    /// How the value is read.
    pub kind: FactKind,
    /// For [`FactKind::Match`].
    pub pattern: Option<Regex>,
}

/// The metric name under which a configuration feature travels as a sample.
pub fn fact_metric(feature: &str) -> String {
    format!("opsadvisor_{feature}")
}

/// The parsed catalogue.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Features read from samples.
    pub base: Vec<BaseFeature>,
    /// Features computed from others, in dependency order.
    pub derived: Vec<DerivedFeature>,
    /// Features read from configuration files and host facts (also listed in `base`).
    pub config: Vec<ConfigFeature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    features: Vec<RawBase>,
    #[serde(default)]
    config: Vec<RawConfig>,
    #[serde(default)]
    derived: Vec<RawDerived>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    systems: Vec<System>,
    help: String,
    file: FactFile,
    keys: Vec<RawFactKey>,
    kind: FactKind,
    #[serde(default)]
    pattern: Option<String>,
}

/// `key`, or `{ key: key, unit: 1048576 }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawFactKey {
    Plain(String),
    Detailed { key: String, unit: f64 },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBase {
    name: String,
    systems: Vec<System>,
    help: String,
    from: Vec<RawAlternative>,
    #[serde(default = "default_agg")]
    agg: Agg,
    #[serde(default = "default_stat")]
    stat: Stat,
    #[serde(default)]
    scope: Scope,
    #[serde(default = "one")]
    scale: f64,
}

/// `'metric{labels}'`, or `{ metric: 'metric{labels}', stat: rate, scale: 1e-6 }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawAlternative {
    Plain(String),
    Detailed {
        metric: String,
        #[serde(default)]
        stat: Option<Stat>,
        #[serde(default)]
        scale: Option<f64>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDerived {
    name: String,
    systems: Vec<System>,
    help: String,
    expr: String,
}

fn default_agg() -> Agg {
    Agg::Sum
}
fn default_stat() -> Stat {
    Stat::Last
}
fn one() -> f64 {
    1.0
}

/// Columns every frame has besides catalogue features; `up` is the share of a node's
/// targets that answered in the round (0 when the node is down).
pub const KEY_COLUMNS: [&str; 4] = [expr::CLUSTER_COLUMN, "node", "timestamp_ms", "up"];

impl Catalog {
    /// Parses and checks a catalogue: selectors parse, names are unique, and every derived
    /// expression only reads features defined before it for the same systems.
    ///
    /// # Errors
    /// A message naming the feature and the problem.
    pub fn parse(yaml: &str) -> Result<Catalog, String> {
        let raw: RawCatalog = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
        let mut base = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for f in raw.features {
            if !seen.insert(f.name.clone()) {
                return Err(format!("feature '{}' defined twice", f.name));
            }
            let from =
                f.from
                    .iter()
                    .map(|a| match a {
                        RawAlternative::Plain(m) => Selector::parse(m)
                            .map(|selector| Alternative { selector, stat: None, scale: None }),
                        RawAlternative::Detailed { metric, stat, scale } => Selector::parse(metric)
                            .map(|selector| Alternative { selector, stat: *stat, scale: *scale }),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("feature '{}': {e}", f.name))?;
            base.push(BaseFeature {
                name: f.name,
                systems: f.systems,
                help: f.help,
                from,
                agg: f.agg,
                stat: f.stat,
                scope: f.scope,
                scale: f.scale,
            });
        }
        let mut config = Vec::new();
        for c in raw.config {
            if !seen.insert(c.name.clone()) {
                return Err(format!("feature '{}' defined twice", c.name));
            }
            if c.keys.is_empty() {
                return Err(format!("config feature '{}': no keys", c.name));
            }
            let pattern = match (c.kind, &c.pattern) {
                (FactKind::Match, Some(p)) => Some(
                    Regex::new(&format!("(?i)^(?:{p})$"))
                        .map_err(|e| format!("config feature '{}': bad pattern: {e}", c.name))?,
                ),
                (FactKind::Match, None) => {
                    return Err(format!("config feature '{}': kind match needs a pattern", c.name));
                }
                (_, Some(_)) => {
                    return Err(format!("config feature '{}': pattern needs kind match", c.name));
                }
                (_, None) => None,
            };
            let selector = Selector::parse(&fact_metric(&c.name))
                .map_err(|e| format!("config feature '{}': {e}", c.name))?;
            base.push(BaseFeature {
                name: c.name.clone(),
                systems: c.systems,
                help: c.help,
                from: vec![Alternative { selector, stat: None, scale: None }],
                agg: Agg::Max,
                stat: Stat::Last,
                scope: Scope::Node,
                scale: 1.0,
            });
            let keys = c
                .keys
                .into_iter()
                .map(|k| match k {
                    RawFactKey::Plain(key) => FactKey { key, unit: 1.0 },
                    RawFactKey::Detailed { key, unit } => FactKey { key, unit },
                })
                .collect();
            config.push(ConfigFeature { name: c.name, file: c.file, keys, kind: c.kind, pattern });
        }
        let mut catalog = Catalog { base, derived: Vec::new(), config };
        for d in raw.derived {
            if !seen.insert(d.name.clone()) {
                return Err(format!("feature '{}' defined twice", d.name));
            }
            let ast = expr::parse(&d.expr).map_err(|e| format!("feature '{}': {e}", d.name))?;
            for &system in &d.systems {
                let known = |c: &str| catalog.has_column(system, c);
                ast.check(&known)
                    .map_err(|e| format!("feature '{}' ({}): {e}", d.name, system.as_str()))?;
            }
            catalog.derived.push(DerivedFeature {
                name: d.name,
                systems: d.systems,
                help: d.help,
                expr: ast,
            });
        }
        Ok(catalog)
    }

    /// The built-in catalogue.
    ///
    /// # Panics
    /// Never in a released binary: a unit test parses the built-in file.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        #[allow(clippy::expect_used)]
        CATALOG.get_or_init(|| Catalog::parse(BUILTIN).expect("built-in catalog.yaml is valid"))
    }

    /// Whether frames of `system` have a column `name`.
    pub fn has_column(&self, system: System, name: &str) -> bool {
        KEY_COLUMNS.contains(&name) || self.columns(system).any(|c| c == name)
    }

    /// Feature column names of `system`, base then derived.
    pub fn columns(&self, system: System) -> impl Iterator<Item = &str> {
        self.base
            .iter()
            .filter(move |f| f.systems.contains(&system))
            .map(|f| f.name.as_str())
            .chain(
                self.derived
                    .iter()
                    .filter(move |f| f.systems.contains(&system))
                    .map(|f| f.name.as_str()),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_every_system_has_features() {
        let c = Catalog::parse(BUILTIN).unwrap();
        for s in System::ALL {
            assert!(c.columns(s).count() > 10, "{s:?}");
        }
    }

    #[test]
    fn selectors_match_like_promql() {
        let sel =
            Selector::parse(r#"jvm_gc_collection_seconds_sum{gc=~".*Old.*",area!="x"}"#).unwrap();
        let s = |gc: &str| {
            Sample::new("jvm_gc_collection_seconds_sum", vec![("gc".into(), gc.into())], 1.0)
        };
        assert!(sel.matches(&s("G1 Old Generation")));
        assert!(!sel.matches(&s("G1 Young Generation")));
        assert!(Selector::parse("x{a=b}").is_err());
        assert!(Selector::parse("x{a=~\"(\"}").is_err());
    }

    #[test]
    fn derived_feature_with_unknown_input_is_rejected() {
        let yaml =
            "features: []\nderived:\n  - {name: r, systems: [kafka], help: h, expr: 'a / b'}\n";
        let err = Catalog::parse(yaml).unwrap_err();
        assert!(err.contains("unknown column 'a'"), "{err}");
    }
}
