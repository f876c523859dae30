//! Configuration files and host facts: the settings metrics do not show.
//!
//! A sidecar can read what the server was started with: `cassandra.yaml`, the JVM options
//! files, Kafka's `server.properties`, `elasticsearch.yml`, and the host's sysctls, swap,
//! block-device read-ahead, transparent huge pages and the process's open-file limit. Each
//! file is parsed into flat `key → text` pairs; which keys matter and how their text becomes a
//! number is data, the `config:` section of the feature catalogue. Every feature read
//! becomes a sample named `opsadvisor_<feature>`, so rules, rule unit tests and a
//! node_exporter textfile collector all meet on the same series.
//!
//! A missing file or key yields no feature (a comparison with it is false, so nothing
//! fires). A file that exists but cannot be read or parsed is an error naming the path and
//! the reason; every other file and target of the run still counts.

use crate::System;
use crate::features::catalog::{Catalog, ConfigFeature, FactFile, FactKind, fact_metric};
use crate::sample::Sample;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a node's configuration files are, on the disk opsadvisor runs on.
///
/// Set on a cluster (applies to every node) and/or on a target (its fields win).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFilesConfig {
    /// Cassandra's `cassandra.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cassandra_yaml: Option<PathBuf>,
    /// JVM options files in the order the start script reads them (`jvm.options`,
    /// `jvm17-server.options`, …); a directory means its `*.options` files (ES `jvm.options.d`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jvm_options: Vec<PathBuf>,
    /// Kafka's `server.properties`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_properties: Option<PathBuf>,
    /// Elasticsearch's `elasticsearch.yml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch_yml: Option<PathBuf>,
    /// Root under which `/proc` and `/sys` are read for host facts (`/` on the node itself,
    /// a mount of the host's root in a container); host facts are not read when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_root: Option<PathBuf>,
    /// The server's pid file, for the process's own limits (`/proc/<pid>/limits`), read
    /// under `host_root`'s `/proc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<PathBuf>,
}

impl ConfigFilesConfig {
    /// Whether nothing is configured.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `node`'s settings over `cluster`'s, field by field.
    pub fn merged(cluster: Option<&Self>, node: Option<&Self>) -> Self {
        let c = cluster.cloned().unwrap_or_default();
        let Some(n) = node else { return c };
        Self {
            cassandra_yaml: n.cassandra_yaml.clone().or(c.cassandra_yaml),
            jvm_options: if n.jvm_options.is_empty() {
                c.jvm_options
            } else {
                n.jvm_options.clone()
            },
            server_properties: n.server_properties.clone().or(c.server_properties),
            elasticsearch_yml: n.elasticsearch_yml.clone().or(c.elasticsearch_yml),
            host_root: n.host_root.clone().or(c.host_root),
            pid_file: n.pid_file.clone().or(c.pid_file),
        }
    }

    /// Relative paths resolved against `base` (the config file's directory).
    pub fn resolved(mut self, base: &Path) -> Self {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in self
            .cassandra_yaml
            .iter_mut()
            .chain(self.jvm_options.iter_mut())
            .chain(self.server_properties.iter_mut())
            .chain(self.elasticsearch_yml.iter_mut())
            .chain(self.host_root.iter_mut())
            .chain(self.pid_file.iter_mut())
        {
            fix(p);
        }
        self
    }
}

/// What reading one node's files gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// One `opsadvisor_<feature>` sample per feature found.
    pub samples: Vec<Sample>,
    /// Problems, each naming the path (and key) and the reason.
    pub errors: Vec<String>,
    /// Files that were read, for the report.
    pub read: Vec<String>,
}

/// The key present (value 1) in every file that was read, so rules can tell a key left at
/// its default from a file opsadvisor never saw.
pub const READ_KEY: &str = "(read)";

/// Flat `key → value text` pairs of one file.
pub type Flat = BTreeMap<String, String>;

/// Reads the configuration files of every node of `config` that names some: the facts by
/// (cluster, node), and one health entry per node (errors name the path and the reason).
pub fn read_all(
    config: &crate::config::Config,
    catalog: &Catalog,
) -> (BTreeMap<(String, String), Facts>, Vec<super::TargetHealth>) {
    let mut all = BTreeMap::new();
    let mut health = Vec::new();
    for c in &config.clusters {
        for t in &c.targets {
            let files = ConfigFilesConfig::merged(c.config_files.as_ref(), t.config_files.as_ref());
            if files.is_empty() {
                continue;
            }
            let facts = read(&files, catalog, c.system);
            for e in &facts.errors {
                tracing::warn!(cluster = %c.name, node = %t.node, error = %e, "Config file problem.");
            }
            health.push(super::TargetHealth {
                cluster: c.name.clone(),
                node: Some(t.node.clone()),
                kind: super::TargetKind::ConfigFiles,
                url: if facts.read.is_empty() {
                    "(none read)".into()
                } else {
                    facts.read.join(", ")
                },
                up: facts.errors.is_empty(),
                error: (!facts.errors.is_empty()).then(|| facts.errors.join("; ")),
                scrapes_ok: usize::from(!facts.read.is_empty() || files.host_root.is_some()),
                scrapes_failed: facts.errors.len(),
                partial: Vec::new(),
            });
            all.insert((c.name.clone(), t.node.clone()), facts);
        }
    }
    (all, health)
}

/// Adds each node's facts to `snapshot` as a [`FACTS_SOURCE`] series with the same samples
/// in every round (files are read once per run).
pub fn attach(snapshot: &mut crate::snapshot::Snapshot, facts: &BTreeMap<(String, String), Facts>) {
    use crate::snapshot::{FACTS_SOURCE, Point, SourceSeries};
    for c in &mut snapshot.clusters {
        for n in &mut c.nodes {
            let Some(f) = facts.get(&(c.name.clone(), n.name.clone())) else { continue };
            if f.samples.is_empty() {
                continue;
            }
            let points = (0..snapshot.rounds)
                .map(|round| {
                    let ts =
                        n.sources.iter().filter_map(|s| s.at(round)).map(|p| p.timestamp_ms).max();
                    Some(Point { timestamp_ms: ts.unwrap_or(0), samples: f.samples.clone() })
                })
                .collect();
            n.sources.push(SourceSeries { source: FACTS_SOURCE.into(), points });
        }
    }
}

/// Reads `files` and turns the keys the catalogue names for `system` into samples.
pub fn read(files: &ConfigFilesConfig, catalog: &Catalog, system: System) -> Facts {
    let mut facts = Facts::default();
    let mut flats: BTreeMap<FactFile, (String, Flat)> = BTreeMap::new();
    let mut one = |kind: FactFile, path: &Path, parse: fn(&str) -> Result<Flat, String>| {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => match parse(&text) {
                Ok(mut flat) => {
                    flat.insert(READ_KEY.into(), "1".into());
                    facts.read.push(shown.clone());
                    flats.insert(kind, (shown, flat));
                }
                Err(e) => facts.errors.push(format!("{shown}: cannot parse: {e}")),
            },
            Err(e) => facts.errors.push(format!("{shown}: cannot read: {e}")),
        }
    };
    if let Some(p) = &files.cassandra_yaml {
        one(FactFile::CassandraYaml, p, flatten_yaml);
    }
    if let Some(p) = &files.server_properties {
        one(FactFile::ServerProperties, p, parse_properties);
    }
    if let Some(p) = &files.elasticsearch_yml {
        one(FactFile::ElasticsearchYml, p, flatten_yaml);
    }
    if !files.jvm_options.is_empty() {
        let (flat, read, errors) = read_jvm_options(&files.jvm_options);
        facts.errors.extend(errors);
        if !read.is_empty() {
            let mut flat = flat;
            flat.insert(READ_KEY.into(), "1".into());
            flats.insert(FactFile::JvmOptions, (read.join(", "), flat));
            facts.read.extend(read);
        }
    }
    if let Some(root) = &files.host_root {
        let (flat, errors) = host_facts(root, files.pid_file.as_deref());
        facts.errors.extend(errors);
        flats.insert(FactFile::Host, (format!("host facts under {}", root.display()), flat));
    }
    for f in catalog
        .config
        .iter()
        .filter(|f| catalog.base.iter().any(|b| b.name == f.name && b.systems.contains(&system)))
    {
        let Some((path, flat)) = flats.get(&f.file) else { continue };
        let Some((key, raw)) =
            f.keys.iter().find_map(|k| flat.get(&k.key).map(|v| (k, v.as_str())))
        else {
            continue;
        };
        match convert(f, raw, key.unit) {
            Ok(v) => facts.samples.push(Sample::new(fact_metric(&f.name), Vec::new(), v)),
            Err(e) => facts.errors.push(format!("{path}: {}: '{raw}' {e}", key.key)),
        }
    }
    facts
}

/// Reads a value's text as the feature's kind says.
///
/// # Errors
/// Why the text is not of that kind (`is not a size`).
pub fn convert(f: &ConfigFeature, raw: &str, unit: f64) -> Result<f64, String> {
    let t = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    match f.kind {
        FactKind::Number => t.parse::<f64>().map_err(|_| "is not a number".to_string()),
        FactKind::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "enabled" => Ok(1.0),
            "false" | "no" | "off" | "0" | "disabled" => Ok(0.0),
            _ => Err("is not a boolean".into()),
        },
        FactKind::Bytes => parse_bytes(t, unit).ok_or_else(|| "is not a size".into()),
        FactKind::Seconds => parse_seconds(t, unit).ok_or_else(|| "is not a duration".into()),
        FactKind::Match => {
            Ok(if f.pattern.as_ref().is_some_and(|p| p.is_match(t)) { 1.0 } else { 0.0 })
        }
    }
}

fn split_number(t: &str) -> Option<(f64, String)> {
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let n = t[..end].parse::<f64>().ok()?;
    Some((n, t[end..].trim().to_ascii_lowercase()))
}

/// `4G`, `512m`, `64MiB`, `16KiB/s`, `1024`: JVM and Cassandra sizes are binary.
fn parse_bytes(t: &str, unit: f64) -> Option<f64> {
    let (n, suffix) = split_number(t)?;
    let suffix = suffix.trim_end_matches("/s");
    let f = match suffix {
        "" => unit,
        "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0_f64.powi(4),
        _ => return None,
    };
    Some(n * f)
}

/// `200ms`, `10s`, `3h`, `10m` (minutes, as in Cassandra 4.1), `2d`; bare numbers × `unit`.
fn parse_seconds(t: &str, unit: f64) -> Option<f64> {
    let (n, suffix) = split_number(t)?;
    let f = match suffix.as_str() {
        "" => unit,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(n * f)
}

/// YAML mappings flattened with dots; a sequence also gives `<key>.len`. Dotted keys as
/// `elasticsearch.yml` allows them (`bootstrap.memory_lock: true`) meet their nested form.
///
/// # Errors
/// The YAML parser's message, with its line.
pub fn flatten_yaml(text: &str) -> Result<Flat, String> {
    let v: serde_norway::Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Flat::new();
    if !v.is_null() && !v.is_mapping() {
        return Err("expected a mapping at the top".into());
    }
    flatten_into(&v, "", &mut out);
    Ok(out)
}

fn flatten_into(v: &serde_norway::Value, prefix: &str, out: &mut Flat) {
    use serde_norway::Value;
    let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let k = match k {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                flatten_into(v, &join(&k), out);
            }
        }
        Value::Sequence(s) => {
            out.insert(format!("{prefix}.len"), s.len().to_string());
            for (i, v) in s.iter().enumerate() {
                flatten_into(v, &join(&i.to_string()), out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        Value::Number(n) => {
            out.insert(prefix.to_string(), n.to_string());
        }
        Value::Bool(b) => {
            out.insert(prefix.to_string(), b.to_string());
        }
        Value::Tagged(t) => flatten_into(&t.value, prefix, out),
        Value::Null => {}
    }
}

/// Java properties: `key=value` or `key: value`, `#`/`!` comments, `\` continuations.
///
/// # Errors
/// A line that has no separator, with its number.
pub fn parse_properties(text: &str) -> Result<Flat, String> {
    let mut out = Flat::new();
    let mut pending = String::new();
    let mut first_line = 0;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if pending.is_empty() && (l.is_empty() || l.starts_with('#') || l.starts_with('!')) {
            continue;
        }
        if pending.is_empty() {
            first_line = i + 1;
        }
        if let Some(cont) = l.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(l);
        let entry = std::mem::take(&mut pending);
        let Some(sep) = entry.find(['=', ':']) else {
            return Err(format!("line {first_line}: no '=' in '{entry}'"));
        };
        out.insert(entry[..sep].trim().to_string(), entry[sep + 1..].trim().to_string());
    }
    Ok(out)
}

/// One JVM options file: `-Xmx4G` → `Xmx`, `-XX:+UseG1GC` → `UseG1GC = true`,
/// `-XX:MaxGCPauseMillis=200` → `MaxGCPauseMillis`, `-Dfoo=bar` → `D.foo`. Version prefixes
/// (`17-:`, `8-10:`) are dropped: a later line wins, as the JVM lets the last flag win.
pub fn parse_jvm_options(text: &str, out: &mut Flat) {
    for line in text.lines() {
        let mut l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some((range, rest)) = l.split_once(':')
            && !range.is_empty()
            && range.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        {
            l = rest.trim();
        }
        for flag in l.split_whitespace() {
            if let Some(xx) = flag.strip_prefix("-XX:") {
                if let Some(name) = xx.strip_prefix('+') {
                    out.insert(name.to_string(), "true".into());
                } else if let Some(name) = xx.strip_prefix('-') {
                    out.insert(name.to_string(), "false".into());
                } else if let Some((k, v)) = xx.split_once('=') {
                    out.insert(k.to_string(), v.to_string());
                }
            } else if let Some(d) = flag.strip_prefix("-D") {
                let (k, v) = d.split_once('=').unwrap_or((d, "true"));
                out.insert(format!("D.{k}"), v.to_string());
            } else if let Some(x) = flag.strip_prefix("-X") {
                for key in ["mx", "ms", "mn", "ss"] {
                    if let Some(v) = x.strip_prefix(key) {
                        out.insert(format!("X{key}"), v.to_string());
                    }
                }
            }
        }
    }
}

fn read_jvm_options(paths: &[PathBuf]) -> (Flat, Vec<String>, Vec<String>) {
    let mut flat = Flat::new();
    let mut read = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let files = if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(entries) => {
                    let mut v: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|f| f.extension().is_some_and(|e| e == "options"))
                        .collect();
                    v.sort();
                    v
                }
                Err(e) => {
                    errors.push(format!("{}: cannot read directory: {e}", p.display()));
                    continue;
                }
            }
        } else {
            vec![p.clone()]
        };
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => {
                    parse_jvm_options(&text, &mut flat);
                    read.push(f.display().to_string());
                }
                Err(e) => errors.push(format!("{}: cannot read: {e}", f.display())),
            }
        }
    }
    (flat, read, errors)
}

/// Host facts under `root`: what `sysctl`, `swapon`, `blockdev --getra`, the THP switch and
/// `prlimit` would show. A fact whose file does not exist is absent; one that cannot be
/// read or parsed is an error.
pub fn host_facts(root: &Path, pid_file: Option<&Path>) -> (Flat, Vec<String>) {
    let mut out = Flat::new();
    let errors = std::cell::RefCell::new(Vec::new());
    let read = |rel: &str| -> Option<String> {
        let p = root.join(rel);
        match std::fs::read_to_string(&p) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                errors.borrow_mut().push(format!("{}: cannot read: {e}", p.display()));
                None
            }
        }
    };
    for (key, rel) in [
        ("vm.swappiness", "proc/sys/vm/swappiness"),
        ("vm.max_map_count", "proc/sys/vm/max_map_count"),
        ("fs.file-max", "proc/sys/fs/file-max"),
    ] {
        if let Some(t) = read(rel) {
            out.insert(key.into(), t.trim().to_string());
        }
    }
    if let Some(t) = read("proc/swaps") {
        // Filename Type Size(KiB) Used Priority; the first line is the header.
        let sizes: Vec<f64> = t
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(2)?.parse::<f64>().ok())
            .collect();
        out.insert("swap.active_kb".into(), sizes.iter().sum::<f64>().to_string());
        out.insert("swap.devices".into(), sizes.len().to_string());
    }
    if let Some(t) = read("proc/meminfo")
        && let Some(kb) = t.lines().find_map(|l| {
            l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse::<f64>().ok()
        })
    {
        out.insert("mem.total_kb".into(), kb.to_string());
    }
    if let Some(t) = read("sys/kernel/mm/transparent_hugepage/enabled") {
        // "always [madvise] never": the bracketed word is the mode in force.
        if let Some(mode) =
            t.split_whitespace().find_map(|w| w.strip_prefix('[')?.strip_suffix(']'))
        {
            out.insert("thp.enabled".into(), mode.to_string());
        }
    }
    let (mut ra_max, mut ra_ssd_max, mut devices, mut rotational) =
        (None::<f64>, None::<f64>, 0, 0);
    if let Ok(entries) = std::fs::read_dir(root.join("sys/block")) {
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        names.sort();
        for dev in names.iter().filter(|d| {
            !["loop", "ram", "sr", "zram", "dm-", "md"].iter().any(|p| d.starts_with(p))
        }) {
            let Some(ra) = read(&format!("sys/block/{dev}/queue/read_ahead_kb")) else { continue };
            let Ok(ra) = ra.trim().parse::<f64>() else {
                errors.borrow_mut().push(format!(
                    "{}: read_ahead_kb '{}' is not a number",
                    dev,
                    ra.trim()
                ));
                continue;
            };
            devices += 1;
            ra_max = Some(ra_max.map_or(ra, |m: f64| m.max(ra)));
            let rot = read(&format!("sys/block/{dev}/queue/rotational"));
            if rot.as_deref().map(str::trim) == Some("1") {
                rotational += 1;
            } else if rot.is_some() {
                ra_ssd_max = Some(ra_ssd_max.map_or(ra, |m: f64| m.max(ra)));
            }
        }
    }
    if let Some(v) = ra_max {
        out.insert("block.read_ahead_kb_max".into(), v.to_string());
        out.insert("block.devices".into(), devices.to_string());
        out.insert("block.rotational".into(), rotational.to_string());
    }
    if let Some(v) = ra_ssd_max {
        out.insert("block.ssd_read_ahead_kb_max".into(), v.to_string());
    }
    if let Some(pf) = pid_file {
        match std::fs::read_to_string(pf) {
            Ok(pid) => match pid.trim().parse::<u32>() {
                Ok(pid) => {
                    if let Some(limits) = read(&format!("proc/{pid}/limits")) {
                        for (key, label) in [
                            ("process.nofile", "Max open files"),
                            ("process.nproc", "Max processes"),
                        ] {
                            if let Some(soft) = limits.lines().find_map(|l| {
                                l.strip_prefix(label)?.split_whitespace().next().map(str::to_string)
                            }) {
                                // "unlimited" has no number: treat as the largest limit.
                                let v = if soft == "unlimited" { "1e18".to_string() } else { soft };
                                out.insert(key.into(), v);
                            }
                        }
                    }
                }
                Err(_) => errors.borrow_mut().push(format!(
                    "{}: '{}' is not a pid",
                    pf.display(),
                    pid.trim()
                )),
            },
            Err(e) => errors.borrow_mut().push(format!("{}: cannot read: {e}", pf.display())),
        }
    }
    (out, errors.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_and_durations_read_like_the_jvm_and_cassandra() {
        assert_eq!(parse_bytes("4G", 1.0), Some(4.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("512m", 1.0), Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("64MiB/s", 1.0), Some(64.0 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("16", 1024.0 * 1024.0), Some(16.0 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("lots", 1.0), None);
        assert_eq!(parse_seconds("200ms", 1.0), Some(0.2));
        assert_eq!(parse_seconds("10m", 1.0), Some(600.0));
        assert_eq!(parse_seconds("864000", 1.0), Some(864000.0));
    }

    #[test]
    fn jvm_options_flags_become_keys_and_the_last_flag_wins() {
        let mut f = Flat::new();
        parse_jvm_options(
            "# comment\n-Xms4G\n-Xmx4G\n8-10:-XX:+UseParNewGC\n17-:-XX:+UseG1GC\n-XX:MaxGCPauseMillis=300\n-XX:-UseBiasedLocking\n-Dcassandra.x=1\n-Xmx8G\n",
            &mut f,
        );
        assert_eq!(f["Xms"], "4G");
        assert_eq!(f["Xmx"], "8G");
        assert_eq!(f["UseG1GC"], "true");
        assert_eq!(f["UseBiasedLocking"], "false");
        assert_eq!(f["MaxGCPauseMillis"], "300");
        assert_eq!(f["D.cassandra.x"], "1");
    }

    #[test]
    fn properties_and_yaml_flatten() {
        let p = parse_properties("# c\nnum.io.threads=8\nlog.dirs = /a,\\\n  /b\nx: y\n").unwrap();
        assert_eq!(p["num.io.threads"], "8");
        assert_eq!(p["log.dirs"], "/a,/b");
        assert_eq!(p["x"], "y");
        assert!(parse_properties("novalue\n").unwrap_err().contains("line 1"));
        let y = flatten_yaml("a:\n  b: 1\n  c: [x, y]\nbootstrap.memory_lock: true\n").unwrap();
        assert_eq!(y["a.b"], "1");
        assert_eq!(y["a.c.len"], "2");
        assert_eq!(y["bootstrap.memory_lock"], "true");
        assert!(flatten_yaml("a: [\n").is_err());
    }
}
