//! The `advise` report: text for a terminal, markdown for a ticket, JSON for machines,
//! HTML (`super::html`) for a page with charts.
//!
//! The JSON shape is a public contract documented in the README: one object with
//! `targets` (each target's health) and `findings` (the finding objects), plus
//! `rule_errors` (rule files that could not be loaded).

use crate::findings::{Finding, Severity};
use crate::sources::TargetHealth;
use serde::Serialize;
use std::fmt::Write as _;

/// Output formats of `advise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Human-readable, coloured on a terminal.
    Text,
    /// GitHub-flavoured markdown.
    Markdown,
    /// One JSON object.
    Json,
    /// One self-contained HTML page with the capacity forecasts as SVG charts.
    Html,
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Health of every target.
    pub targets: Vec<TargetHealth>,
    /// Firing findings, sorted by cluster, severity, id and node.
    pub findings: Vec<Finding>,
    /// Findings hidden by a snooze in the config, until it expires.
    pub snoozed: Vec<SnoozedFinding>,
    /// Rule files that failed to load (the others ran).
    pub rule_errors: Vec<String>,
    /// Capacity forecasts, plotted by the HTML report (not part of the JSON contract).
    #[serde(skip)]
    pub charts: Vec<crate::analyzers::capacity::Chart>,
    /// Findings left out because a more urgent finding advises the opposite change to the
    /// same setting, each with the kept check and the reason.
    pub set_aside: Vec<crate::findings::conflicts::SetAside>,
}

/// A finding a snooze hid: enough to find it again and to know when it comes back.
#[derive(Debug, Clone, Serialize)]
pub struct SnoozedFinding {
    /// Its fingerprint.
    pub fingerprint: String,
    /// Its check.
    pub id: String,
    /// Its cluster.
    pub cluster: String,
    /// Its node.
    pub node: Option<String>,
    /// When the snooze ends.
    pub until: String,
    /// Why it was snoozed.
    pub reason: String,
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Critical => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
        };
        self.paint(code, &s.as_str().to_uppercase())
    }
}

impl Report {
    /// Renders the report. `color` adds ANSI colours to text output only.
    pub fn render(&self, format: ReportFormat, color: bool) -> String {
        match format {
            ReportFormat::Json => {
                serde_json::to_string_pretty(self)
                    .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
                    + "\n"
            }
            ReportFormat::Text => self.text(&Style { color }),
            ReportFormat::Markdown => self.markdown(),
            ReportFormat::Html => super::html::render(self, &self.summary()),
        }
    }

    fn groups(&self) -> Vec<(&str, &str, Vec<&Finding>)> {
        let mut out: Vec<(&str, &str, Vec<&Finding>)> = Vec::new();
        for f in &self.findings {
            match out.last_mut() {
                Some((sys, cl, v)) if *sys == f.system.as_str() && *cl == f.cluster => v.push(f),
                _ => out.push((f.system.as_str(), &f.cluster, vec![f])),
            }
        }
        out
    }

    fn summary(&self) -> String {
        let up = self.targets.iter().filter(|t| t.up).count();
        let count = |s| self.findings.iter().filter(|f| f.severity == s).count();
        format!(
            "{} finding(s): {} critical, {} warning, {} info; {up}/{} targets up",
            self.findings.len(),
            count(Severity::Critical),
            count(Severity::Warning),
            count(Severity::Info),
            self.targets.len()
        )
    }

    fn text(&self, st: &Style) -> String {
        let mut out = String::new();
        let _ =
            writeln!(out, "{}\n", st.paint("1", &format!("opsadvisor advise: {}", self.summary())));
        for (system, cluster, findings) in self.groups() {
            let _ = writeln!(out, "{}", st.paint("1", &format!("{system} / {cluster}")));
            let mut last = None;
            for f in findings {
                if last != Some(f.severity) {
                    let _ = writeln!(out, "  {}", st.severity(f.severity));
                    last = Some(f.severity);
                }
                let node =
                    f.node.as_deref().map_or("cluster-wide".to_string(), |n| format!("node {n}"));
                let _ = writeln!(
                    out,
                    "    {} [{}; impact: {}] {node}",
                    st.paint("1", &f.id),
                    f.category.as_str(),
                    impact_text(&f.impact)
                );
                let _ = writeln!(out, "      {}", f.symptom);
                if !f.cause.is_empty() {
                    let _ = writeln!(out, "      cause: {}", f.cause);
                }
                if !f.evidence.is_empty() {
                    let ev: Vec<String> = f.evidence.iter().map(evidence_text).collect();
                    let _ = writeln!(out, "      evidence: {}", ev.join("; "));
                }
                let _ = writeln!(out, "      action: {}", f.action);
                let _ = writeln!(out, "      docs: {}  fingerprint: {}", f.docs_url, f.fingerprint);
            }
            out.push('\n');
        }
        if self.findings.is_empty() {
            out.push_str("No findings: every check passed on the data collected.\n\n");
        }
        if !self.snoozed.is_empty() {
            let _ = writeln!(out, "Snoozed ({}):", self.snoozed.len());
            for s in &self.snoozed {
                let _ = writeln!(
                    out,
                    "  {} {} {} until {}: {}",
                    s.id,
                    s.cluster,
                    s.node.as_deref().unwrap_or("cluster-wide"),
                    s.until,
                    s.reason
                );
            }
            out.push('\n');
        }
        if !self.set_aside.is_empty() {
            let _ = writeln!(out, "Set aside as contradictory ({}):", self.set_aside.len());
            for s in &self.set_aside {
                let _ = writeln!(
                    out,
                    "  {} {} {}: {}",
                    s.id,
                    s.cluster,
                    s.node.as_deref().unwrap_or("cluster-wide"),
                    s.reason
                );
            }
            out.push('\n');
        }
        self.problems(&mut out, "Targets with errors:", "  ");
        out
    }

    fn problems(&self, out: &mut String, heading: &str, indent: &str) {
        let bad: Vec<&TargetHealth> = self.targets.iter().filter(|t| t.error.is_some()).collect();
        if !bad.is_empty() {
            let _ = writeln!(out, "{heading}");
            for t in bad {
                let _ = writeln!(
                    out,
                    "{indent}{} {} {:?} {} ({}/{} scrapes failed): {}",
                    t.cluster,
                    t.node.as_deref().unwrap_or("-"),
                    t.kind,
                    t.url,
                    t.scrapes_failed,
                    t.scrapes_ok + t.scrapes_failed,
                    t.error.as_deref().unwrap_or("")
                );
            }
            out.push('\n');
        }
        let partial: Vec<&TargetHealth> =
            self.targets.iter().filter(|t| t.up && !t.partial.is_empty()).collect();
        if !partial.is_empty() {
            let _ = writeln!(out, "{}", heading.replace("with errors", "with partial data"));
            for t in partial {
                let node = t.node.as_deref().unwrap_or("-");
                for p in &t.partial {
                    let _ =
                        writeln!(out, "{indent}{} {node} {:?} {}: {p}", t.cluster, t.kind, t.url);
                }
            }
            out.push('\n');
        }
        if !self.rule_errors.is_empty() {
            let _ = writeln!(out, "Rule files skipped:");
            for e in &self.rule_errors {
                let _ = writeln!(out, "{indent}{e}");
            }
        }
    }

    fn markdown(&self) -> String {
        let mut out = format!("# opsadvisor advise\n\n{}\n\n", self.summary());
        for (system, cluster, findings) in self.groups() {
            let _ = writeln!(out, "## {system} / {cluster}\n");
            for f in findings {
                let node =
                    f.node.as_deref().map_or("cluster-wide".to_string(), |n| format!("node `{n}`"));
                let _ = writeln!(
                    out,
                    "- **{}** `{}` ({}; impact: {}; {node})\n  - {}{}\n  - Evidence: {}\n  - Action: {}\n  - [Docs]({}) · fingerprint `{}`",
                    f.severity.as_str().to_uppercase(),
                    f.id,
                    f.category.as_str(),
                    impact_text(&f.impact),
                    f.symptom,
                    if f.cause.is_empty() {
                        String::new()
                    } else {
                        format!("\n  - Cause: {}", f.cause)
                    },
                    f.evidence.iter().map(evidence_text).collect::<Vec<_>>().join("; "),
                    f.action,
                    f.docs_url,
                    f.fingerprint
                );
            }
            out.push('\n');
        }
        if !self.set_aside.is_empty() {
            let _ = writeln!(out, "## Set aside as contradictory\n");
            for s in &self.set_aside {
                let _ = writeln!(
                    out,
                    "- `{}` ({}, {}): {}",
                    s.id,
                    s.cluster,
                    s.node.as_deref().unwrap_or("cluster-wide"),
                    s.reason
                );
            }
            out.push('\n');
        }
        self.problems(&mut out, "## Targets with errors\n", "- ");
        out
    }
}

fn impact_text(impact: &[crate::findings::Impact]) -> String {
    impact.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ")
}

fn evidence_text(e: &crate::findings::Evidence) -> String {
    let v = crate::analyzers::rules::template::format_value(
        e.value,
        crate::analyzers::rules::template::Format::Number,
    );
    let t = crate::analyzers::rules::template::format_value(
        e.threshold,
        crate::analyzers::rules::template::Format::Number,
    );
    format!("{} = {v} ({} {t})", e.feature, e.op)
}
