//! The rules engine: YAML rule packs, compiled once, evaluated vectorised over frames.
//!
//! A rule pack looks like a Prometheus rule file: groups of rules, each with an `id`, an
//! `expr` over feature columns, a `for` duration, a severity and templated annotations.
//! Every rule of a system is compiled into polars expressions and the whole set is
//! evaluated in one pass over the system's frame. A bad rule file is reported with its
//! path and line and skipped; the other files still load.

pub mod expr;
pub mod template;
pub mod unittest;
pub mod unrunnable;

use crate::System;
use crate::config::parse_duration;
use crate::features::FeatureFrame;
use crate::features::catalog::Catalog;
use crate::findings::conflicts::Advice;
use crate::findings::{Category, Evidence, Impact, Severity};
use expr::Ast;
use polars::prelude::{DataType, Expr, IntoLazy, col};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use template::Part;

/// The docs page used when a rule names none.
pub const DEFAULT_DOCS_URL: &str =
    "https://github.com/opsadvisor/opsadvisor/blob/main/docs/checks.md";

/// A rule file that could not be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct RuleError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line of the problem (the rule's `id:` line when the problem is in a rule).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Whether a rule speaks about nodes or whole clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RuleScope {
    /// One finding per matching node.
    #[default]
    Node,
    /// One finding per cluster with any matching row; `node` is null.
    Cluster,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    /// One system…
    #[serde(default)]
    system: Option<System>,
    /// …or several: shared JVM and host rules are written once.
    #[serde(default)]
    systems: Vec<System>,
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    severity: Severity,
    category: Category,
    #[serde(default)]
    impact: Vec<Impact>,
    #[serde(default)]
    scope: RuleScope,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    advises: RawAdvises,
    annotations: RawAnnotations,
}

/// `advises: {setting: heap, direction: up}` or a list of those.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum RawAdvises {
    #[default]
    None,
    One(Advice),
    Many(Vec<Advice>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnnotations {
    symptom: String,
    #[serde(default)]
    cause: Option<String>,
    action: String,
    #[serde(default)]
    docs_url: Option<String>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique check id, snake_case, naming the problem state.
    pub id: String,
    /// Group it came from.
    pub group: String,
    /// System whose frame it reads.
    pub system: System,
    /// The condition as written.
    pub expr_text: String,
    /// The parsed condition.
    pub expr: Ast,
    /// How long the condition must hold before the rule fires.
    pub for_: Duration,
    /// How long a fired rule keeps firing after the condition clears.
    pub keep_firing_for: Duration,
    /// Severity of its findings.
    pub severity: Severity,
    /// Category of its findings.
    pub category: Category,
    /// What its findings put at risk (from `impact:`, or from the category).
    pub impact: Vec<Impact>,
    /// Node or cluster findings.
    pub scope: RuleScope,
    /// Extra labels (e.g. `anchor: CAS-006`).
    pub labels: BTreeMap<String, String>,
    /// Settings its action changes and which way (`advises:`).
    pub advises: Vec<Advice>,
    /// `symptom` template.
    pub symptom: Vec<Part>,
    /// `cause` template (empty when the rule names none).
    pub cause: Vec<Part>,
    /// `action` template.
    pub action: Vec<Part>,
    /// Docs link.
    pub docs_url: String,
    /// Where it was defined.
    pub file: PathBuf,
    /// Line of its `id:`.
    pub line: usize,
}

impl Rule {
    /// The annotation templates in render order: symptom, cause, action.
    fn templates(&self) -> impl Iterator<Item = &Part> {
        self.symptom.iter().chain(&self.cause).chain(&self.action)
    }
}

/// Every rule loaded, and the files that failed.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Usable rules, in file order.
    pub rules: Vec<Rule>,
    /// Problems found while loading; the affected files were skipped.
    pub errors: Vec<RuleError>,
}

impl RuleSet {
    /// Loads every `*.yaml`/`*.yml` file under `paths` (files or directories, not
    /// recursing into `tests/`). A file with any problem is skipped as a whole, so a pack
    /// never runs half-loaded.
    pub fn load(paths: &[PathBuf], catalog: &Catalog) -> RuleSet {
        let mut set = RuleSet::default();
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                match std::fs::read_dir(p) {
                    Ok(entries) => {
                        let mut found: Vec<PathBuf> = entries
                            .filter_map(Result::ok)
                            .map(|e| e.path())
                            .filter(|f| f.is_file() && is_yaml(f))
                            .collect();
                        found.sort();
                        files.extend(found);
                    }
                    Err(e) => set.errors.push(RuleError {
                        file: p.clone(),
                        line: 0,
                        message: e.to_string(),
                    }),
                }
            } else {
                files.push(p.clone());
            }
        }
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => match parse_file(&file, &text, catalog) {
                    Ok(rules) => set.rules.extend(rules),
                    Err(errs) => set.errors.extend(errs),
                },
                Err(e) => set.errors.push(RuleError { file, line: 0, message: e.to_string() }),
            }
        }
        set.check_unique_ids();
        set
    }

    fn check_unique_ids(&mut self) {
        let mut seen: BTreeMap<(String, System), (PathBuf, usize)> = BTreeMap::new();
        let mut dups = Vec::new();
        self.rules.retain(|r| match seen.get(&(r.id.clone(), r.system)) {
            Some((f, l)) => {
                dups.push(RuleError {
                    file: r.file.clone(),
                    line: r.line,
                    message: format!(
                        "duplicate rule id '{}' for {} (first defined at {}:{l}); this one is skipped",
                        r.id,
                        r.system.as_str(),
                        f.display()
                    ),
                });
                false
            }
            None => {
                seen.insert((r.id.clone(), r.system), (r.file.clone(), r.line));
                true
            }
        });
        self.errors.extend(dups);
    }
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        && !p.to_string_lossy().ends_with(".test.yaml")
        && p.file_name().is_none_or(|n| n != unrunnable::FILE_NAME)
}

/// Parses one rule file's text; every problem in it is returned.
///
/// # Errors
/// Every problem found, each with file and line.
pub fn parse_file(file: &Path, text: &str, catalog: &Catalog) -> Result<Vec<Rule>, Vec<RuleError>> {
    let err = |line: usize, message: String| RuleError { file: file.to_path_buf(), line, message };
    let raw: RawFile = serde_norway::from_str(text)
        .map_err(|e| vec![err(e.location().map_or(0, |l| l.line()), e.to_string())])?;
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for g in raw.groups {
        let systems: Vec<System> = g.system.into_iter().chain(g.systems.iter().copied()).collect();
        if systems.is_empty() {
            errors.push(err(
                line_of_key(text, &g.name),
                format!("group {}: needs `system` or `systems`", g.name),
            ));
        }
        for (system, r) in systems.iter().flat_map(|s| g.rules.iter().map(move |r| (*s, r))) {
            let line = line_of(text, &r.id);
            let known = |c: &str| catalog.has_column(system, c);
            let compiled = (|| -> Result<Rule, String> {
                if r.id.is_empty()
                    || !r
                        .id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(format!("rule id '{}' must be snake_case", r.id));
                }
                let ast = expr::parse(&r.expr).map_err(|e| format!("rule {}: expr: {e}", r.id))?;
                match ast.check(&known) {
                    Ok(expr::Type::Bool) => {}
                    Ok(expr::Type::Num) => {
                        return Err(format!(
                            "rule {}: expr is a number, not a condition (missing a comparison?)",
                            r.id
                        ));
                    }
                    Err(e) => {
                        return Err(format!("rule {}: expr ({}): {e}", r.id, system.as_str()));
                    }
                }
                let dur = |field: &str, v: &Option<String>| {
                    v.as_deref()
                        .map_or(Ok(Duration::ZERO), parse_duration)
                        .map_err(|e| format!("rule {}: {field}: {e}", r.id))
                };
                Ok(Rule {
                    for_: dur("for", &r.for_)?,
                    keep_firing_for: dur("keep_firing_for", &r.keep_firing_for)?,
                    symptom: template::parse(&r.annotations.symptom, &known)
                        .map_err(|e| format!("rule {}: symptom: {e}", r.id))?,
                    cause: template::parse(
                        r.annotations.cause.as_deref().unwrap_or_default(),
                        &known,
                    )
                    .map_err(|e| format!("rule {}: cause: {e}", r.id))?,
                    action: template::parse(&r.annotations.action, &known)
                        .map_err(|e| format!("rule {}: action: {e}", r.id))?,
                    docs_url: r
                        .annotations
                        .docs_url
                        .clone()
                        .unwrap_or_else(|| DEFAULT_DOCS_URL.into()),
                    id: r.id.clone(),
                    group: g.name.clone(),
                    system,
                    expr_text: r.expr.clone(),
                    expr: ast,
                    severity: r.severity,
                    category: r.category,
                    impact: if r.impact.is_empty() {
                        vec![Impact::default_for(r.category)]
                    } else {
                        r.impact.clone()
                    },
                    scope: r.scope,
                    labels: r.labels.clone(),
                    advises: match &r.advises {
                        RawAdvises::None => Vec::new(),
                        RawAdvises::One(a) => vec![a.clone()],
                        RawAdvises::Many(v) => v.clone(),
                    },
                    file: file.to_path_buf(),
                    line,
                })
            })();
            match compiled {
                Ok(rule) => rules.push(rule),
                Err(message) => errors.push(err(line, message)),
            }
        }
    }
    if errors.is_empty() { Ok(rules) } else { Err(errors) }
}

/// The 1-based line of `id: <id>` in `text`, or 0.
fn line_of(text: &str, id: &str) -> usize {
    line_with(text, "id:", id)
}

fn line_of_key(text: &str, name: &str) -> usize {
    line_with(text, "name:", name)
}

fn line_with(text: &str, key: &str, value: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix(key)
                .is_some_and(|v| v.trim().trim_matches(|c| c == '"' || c == '\'') == value)
        })
        .map_or(0, |i| i + 1)
}

/// One rule matching one row (or one cluster) of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Index of the rule in the evaluated slice.
    pub rule: usize,
    /// Cluster name.
    pub cluster: String,
    /// Node name, `None` for cluster-scoped rules.
    pub node: Option<String>,
    /// Data time of the row, milliseconds.
    pub timestamp_ms: i64,
    /// Rendered symptom.
    pub symptom: String,
    /// Rendered cause.
    pub cause: String,
    /// Rendered action.
    pub action: String,
    /// Values compared with thresholds.
    pub evidence: Vec<Evidence>,
}

/// Evaluates `rules` (those of `frame.system` are used) over `frame` in one polars pass.
///
/// # Errors
/// A polars error; rules are type-checked at load, so this means a bug.
pub fn evaluate(
    rules: &[Rule],
    frame: &FeatureFrame,
) -> Result<Vec<Match>, polars::prelude::PolarsError> {
    let mut exprs: Vec<Expr> = vec![col("cluster"), col("node"), col("timestamp_ms")];
    let mut plan = Vec::new(); // per rule: (index, thresholds, template value count)
    for (i, rule) in rules.iter().enumerate().filter(|(_, r)| r.system == frame.system) {
        exprs.push(rule.expr.to_polars().fill_null(false).alias(format!("r{i}")));
        let thresholds = rule.expr.thresholds();
        for (k, (lhs, _, rhs)) in thresholds.iter().enumerate() {
            exprs.push(lhs.to_polars().cast(DataType::Float64).alias(format!("r{i}e{k}")));
            exprs.push(rhs.to_polars().cast(DataType::Float64).alias(format!("r{i}h{k}")));
        }
        let mut n = 0;
        for part in rule.templates() {
            if let Part::Value(ast, _) = part {
                exprs.push(ast.to_polars().cast(DataType::Float64).alias(format!("r{i}t{n}")));
                n += 1;
            }
        }
        plan.push((i, thresholds));
    }
    if plan.is_empty() || frame.height() == 0 {
        return Ok(Vec::new());
    }
    let out = frame.df.clone().lazy().select(exprs).collect()?;
    let out = FeatureFrame { system: frame.system, df: out };
    let clusters = out.str_column("cluster").unwrap_or_default();
    let nodes = out.str_column("node").unwrap_or_default();
    let ts = out.f64_column("timestamp_ms").unwrap_or_default();
    let mut matches = Vec::new();
    // Columns are read only at firing rows: on a healthy fleet that is a handful of rows,
    // so the cost stays with the vectorised pass above.
    let f64_col =
        |name: String| -> Result<polars::prelude::Float64Chunked, polars::prelude::PolarsError> {
            Ok(out.df.column(&name)?.f64()?.clone())
        };
    let value_at =
        |c: &polars::prelude::Float64Chunked, row: usize| c.get(row).filter(|v| !v.is_nan());
    for (i, thresholds) in plan {
        let rule = &rules[i];
        let fired = out.df.column(&format!("r{i}"))?.bool()?.clone();
        let firing_rows: Vec<usize> = fired
            .iter()
            .enumerate()
            .filter(|(_, v)| *v == Some(true))
            .map(|(row, _)| row)
            .collect();
        if firing_rows.is_empty() {
            continue;
        }
        let ev_cols = (0..thresholds.len())
            .map(|k| Ok((f64_col(format!("r{i}e{k}"))?, f64_col(format!("r{i}h{k}"))?)))
            .collect::<Result<Vec<_>, polars::prelude::PolarsError>>()?;
        let tpl_count = rule.templates().filter(|p| matches!(p, Part::Value(..))).count();
        let tpl_cols =
            (0..tpl_count).map(|k| f64_col(format!("r{i}t{k}"))).collect::<Result<Vec<_>, _>>()?;
        let mut clusters_done = std::collections::BTreeSet::new();
        for row in firing_rows {
            if rule.scope == RuleScope::Cluster && !clusters_done.insert(clusters[row].clone()) {
                continue;
            }
            let mut values = tpl_cols.iter().map(|c| value_at(c, row));
            let mut render = |parts: &[Part]| {
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(t) => t.clone(),
                        Part::Key(k) if k == "node" => nodes[row].clone(),
                        Part::Key(_) => clusters[row].clone(),
                        Part::Value(_, fmt) => {
                            template::format_value(values.next().flatten(), *fmt)
                        }
                    })
                    .collect::<String>()
            };
            let symptom = render(&rule.symptom);
            let cause = render(&rule.cause);
            let action = render(&rule.action);
            let evidence = thresholds
                .iter()
                .zip(&ev_cols)
                .map(|((lhs, op, _), (value, threshold))| Evidence {
                    feature: lhs.to_string(),
                    value: value_at(value, row),
                    op: op.as_str().into(),
                    threshold: value_at(threshold, row),
                })
                .collect();
            matches.push(Match {
                rule: i,
                cluster: clusters[row].clone(),
                node: (rule.scope == RuleScope::Node).then(|| nodes[row].clone()),
                timestamp_ms: ts[row].map_or(0, |t| t as i64),
                symptom,
                cause,
                action,
                evidence,
            });
        }
    }
    Ok(matches)
}

/// The rule packs shipped in `rules/`, compiled into the binary so `advise --demo` works
/// from anywhere. A config's `rule_dirs` replaces them.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    ("rules/cassandra.yaml", include_str!("../../../rules/cassandra.yaml")),
    ("rules/kafka.yaml", include_str!("../../../rules/kafka.yaml")),
    ("rules/elasticsearch.yaml", include_str!("../../../rules/elasticsearch.yaml")),
    ("rules/host.yaml", include_str!("../../../rules/host.yaml")),
    ("rules/config.yaml", include_str!("../../../rules/config.yaml")),
];

impl RuleSet {
    /// The built-in packs.
    pub fn builtin(catalog: &Catalog) -> RuleSet {
        let mut set = RuleSet::default();
        for (name, text) in BUILTIN_PACKS {
            match parse_file(Path::new(name), text, catalog) {
                Ok(rules) => set.rules.extend(rules),
                Err(errs) => set.errors.extend(errs),
            }
        }
        set.check_unique_ids();
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_packs_load_without_errors() {
        let set = RuleSet::builtin(Catalog::builtin());
        assert!(set.errors.is_empty(), "{:#?}", set.errors);
        assert!(set.rules.len() >= 18, "only {} rules", set.rules.len());
    }

    #[test]
    fn rule_errors_name_file_line_and_column() {
        let text = "groups:\n- name: g\n  system: kafka\n  rules:\n  - id: ok_rule\n    expr: leader_count > 1\n    severity: info\n    category: tuning\n    annotations: {symptom: s, action: a}\n  - id: bad_rule\n    expr: leeder_count > 1\n    severity: info\n    category: tuning\n    annotations: {symptom: s, action: a}\n";
        let errs = parse_file(Path::new("x.yaml"), text, Catalog::builtin()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "x.yaml:10: rule bad_rule: expr (kafka): unknown column 'leeder_count'"
        );
        let errs = parse_file(
            Path::new("y.yaml"),
            "groups:\n- name: g\n  sistem: kafka\n",
            Catalog::builtin(),
        )
        .unwrap_err();
        assert_eq!(errs[0].line, 3, "{errs:?}");
    }
}
