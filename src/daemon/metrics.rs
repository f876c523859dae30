//! The daemon's own metrics, in the Prometheus text format (0.0.4), for `/metrics`.
//!
//! Written by hand: a dozen families do not justify a metrics crate, and the output is
//! checked by our own `check metrics` parser in the tests. Names follow writing_exporters.md:
//! `opsadvisor_` prefix, base units, `_total` only on counters; the reload gauges mirror
//! Prometheus's and Alertmanager's so the same alerts work.

use crate::sources::TargetKind;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Why a scrape failed, as a bounded label value (never the free-text error).
pub fn error_reason(error: &str) -> &'static str {
    let e = error.to_ascii_lowercase();
    if e.contains("timeout") || e.contains("timed out") {
        "timeout"
    } else if e.contains("connection") || e.contains("connect") {
        "connection"
    } else if e.starts_with("http ") || e.contains(": http ") {
        "http_status"
    } else if e.contains("larger than") {
        "body_too_large"
    } else if e.contains("invalid exposition") || e.contains("not understood") {
        "parse"
    } else if e.contains("env")
        || e.contains("secret")
        || e.contains("password")
        || e.contains("token")
    {
        "auth"
    } else {
        "other"
    }
}

/// One target's last scrape.
#[derive(Debug, Clone)]
pub struct TargetSample {
    /// Cluster name.
    pub cluster: String,
    /// Node name (empty for cluster-wide targets).
    pub node: String,
    /// What it is.
    pub kind: TargetKind,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// How long the last scrape took, seconds.
    pub duration_s: f64,
}

/// Everything `/metrics` shows, updated by the loop after each cycle.
#[derive(Debug, Clone, Default)]
pub struct SelfMetrics {
    /// Per target, last scrape.
    pub targets: Vec<TargetSample>,
    /// Failed scrapes by (cluster, node, reason), since start.
    pub scrape_errors: BTreeMap<(String, String, &'static str), u64>,
    /// Tracked findings by (state, severity, system).
    pub findings: BTreeMap<(&'static str, &'static str, &'static str), u64>,
    /// Duration of the last feature extraction and rule evaluation, seconds.
    pub evaluation_duration_s: f64,
    /// Duration of the last whole cycle (scrape, evaluate, persist), seconds.
    pub cycle_duration_s: f64,
    /// Completed cycles since start.
    pub cycles_total: u64,
    /// Unix seconds of the last cycle that evaluated the rules.
    pub last_evaluation_s: f64,
    /// Rounds in the rolling window.
    pub window_rounds: usize,
    /// Samples held in the rolling window.
    pub window_samples: usize,
    /// Rules loaded.
    pub rules: usize,
    /// Whether the last reload attempt succeeded.
    pub reload_ok: bool,
    /// Unix seconds of the last successful (re)load.
    pub reload_success_s: f64,
    /// Failed state-store writes since start.
    pub store_errors_total: u64,
    /// Classifier models in use, as (system, algo).
    pub models: Vec<(&'static str, &'static str)>,
}

fn kind_str(k: TargetKind) -> &'static str {
    match k {
        TargetKind::Metrics => "metrics",
        TargetKind::NodeExporter => "node_exporter",
        TargetKind::KafkaExporter => "kafka_exporter",
        TargetKind::Elasticsearch => "elasticsearch",
        TargetKind::Prometheus => "prometheus",
        TargetKind::ElasticsearchExporter => "elasticsearch_exporter",
        TargetKind::Jolokia => "jolokia",
        TargetKind::ConfigFiles => "config_files",
    }
}

/// Escapes a label value as the text format requires.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

impl SelfMetrics {
    /// The exposition.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(256 + self.targets.len() * 200);
        header(&mut o, "opsadvisor_build_info", "gauge", "Always 1; labels carry the version.");
        let _ = writeln!(o, "opsadvisor_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        header(
            &mut o,
            "opsadvisor_target_up",
            "gauge",
            "1 if the last scrape of the target succeeded.",
        );
        for t in &self.targets {
            let _ = writeln!(
                o,
                "opsadvisor_target_up{{cluster=\"{}\",node=\"{}\",kind=\"{}\"}} {}",
                esc(&t.cluster),
                esc(&t.node),
                kind_str(t.kind),
                u8::from(t.up)
            );
        }
        header(
            &mut o,
            "opsadvisor_scrape_duration_seconds",
            "gauge",
            "Duration of the last scrape of the target.",
        );
        for t in &self.targets {
            let _ = writeln!(
                o,
                "opsadvisor_scrape_duration_seconds{{cluster=\"{}\",node=\"{}\",kind=\"{}\"}} {}",
                esc(&t.cluster),
                esc(&t.node),
                kind_str(t.kind),
                t.duration_s
            );
        }
        header(&mut o, "opsadvisor_scrape_errors_total", "counter", "Failed scrapes by reason.");
        for ((cluster, node, reason), n) in &self.scrape_errors {
            let _ = writeln!(
                o,
                "opsadvisor_scrape_errors_total{{cluster=\"{}\",node=\"{}\",reason=\"{reason}\"}} {n}",
                esc(cluster),
                esc(node)
            );
        }
        header(&mut o, "opsadvisor_findings", "gauge", "Tracked findings by lifecycle state.");
        for ((state, severity, system), n) in &self.findings {
            let _ = writeln!(
                o,
                "opsadvisor_findings{{state=\"{state}\",severity=\"{severity}\",system=\"{system}\"}} {n}"
            );
        }
        let gauges: [(&str, &str, f64); 9] = [
            (
                "opsadvisor_evaluation_duration_seconds",
                "Duration of the last feature extraction and rule evaluation.",
                self.evaluation_duration_s,
            ),
            (
                "opsadvisor_cycle_duration_seconds",
                "Duration of the last cycle: scrape, evaluate, persist.",
                self.cycle_duration_s,
            ),
            (
                "opsadvisor_last_evaluation_timestamp_seconds",
                "When the rules were last evaluated, Unix seconds.",
                self.last_evaluation_s,
            ),
            (
                "opsadvisor_window_rounds",
                "Scrape rounds held in the rolling window.",
                self.window_rounds as f64,
            ),
            (
                "opsadvisor_window_samples",
                "Samples held in the rolling window.",
                self.window_samples as f64,
            ),
            ("opsadvisor_rules", "Rules loaded.", self.rules as f64),
            (
                "opsadvisor_config_last_reload_successful",
                "Whether the last configuration reload attempt was successful.",
                f64::from(u8::from(self.reload_ok)),
            ),
            (
                "opsadvisor_config_last_reload_success_timestamp_seconds",
                "Timestamp of the last successful configuration reload.",
                self.reload_success_s,
            ),
            (
                "opsadvisor_state_store_errors_total",
                "Failed writes to the state store.",
                self.store_errors_total as f64,
            ),
        ];
        for (name, help, v) in gauges {
            let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
            header(&mut o, name, kind, help);
            let _ = writeln!(o, "{name} {v}");
        }
        header(
            &mut o,
            "opsadvisor_classifier_model",
            "gauge",
            "1 for each classifier model in use (a system without one is judged by rules alone).",
        );
        for (system, algo) in &self.models {
            let _ =
                writeln!(o, "opsadvisor_classifier_model{{system=\"{system}\",algo=\"{algo}\"}} 1");
        }
        header(&mut o, "opsadvisor_cycles_total", "counter", "Completed cycles since start.");
        let _ = writeln!(o, "opsadvisor_cycles_total {}", self.cycles_total);
        process(&mut o);
        o
    }
}

/// The standard `process_*` metrics on Linux, read from /proc (absent elsewhere).
fn process(o: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the ")" that ends the command name: utime is the 12th, stime the 13th,
    // rss (pages) the 22nd.
    let Some((_, rest)) = stat.rsplit_once(')') else { return };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    // Linux's USER_HZ is 100 on every architecture it exports to user space; pages are 4 KiB
    // on the platforms we ship for.
    if let (Some(utime), Some(stime)) = (num(11), num(12)) {
        header(
            o,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        let _ = writeln!(o, "process_cpu_seconds_total {}", (utime + stime) / 100.0);
    }
    if let Some(rss) = num(21) {
        header(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        let _ = writeln!(o, "process_resident_memory_bytes {}", rss * 4096.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_a_small_closed_set() {
        assert_eq!(error_reason("timeout"), "timeout");
        assert_eq!(
            error_reason("connection failed: Connection refused (os error 111)"),
            "connection"
        );
        assert_eq!(error_reason("HTTP 503"), "http_status");
        assert_eq!(error_reason("body larger than 10 bytes"), "body_too_large");
        assert_eq!(error_reason("invalid exposition: line 3: bad"), "parse");
    }

    #[test]
    fn the_exposition_parses_without_lint_warnings() {
        let mut m = SelfMetrics::default();
        m.targets.push(TargetSample {
            cluster: "a\"b".into(),
            node: "n1".into(),
            kind: TargetKind::Metrics,
            up: true,
            duration_s: 0.25,
        });
        m.scrape_errors.insert(("a\"b".into(), "n1".into(), "timeout"), 2);
        m.findings.insert(("firing", "critical", "kafka"), 3);
        m.models.push(("kafka", "forest"));
        let text = m.render();
        let parsed = crate::sources::exposition::parse(
            text.as_bytes(),
            crate::sources::exposition::Format::Text,
        )
        .unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let up = parsed.samples.iter().find(|s| s.name == "opsadvisor_target_up").unwrap();
        assert_eq!(up.label("cluster"), Some("a\"b"));
    }
}
