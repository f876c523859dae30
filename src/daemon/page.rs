//! The landing page at `/`: current findings and targets as one self-contained HTML page.
//!
//! Server-rendered with no script, stylesheet or font from anywhere else, so it works
//! behind a kubectl port-forward on an air-gapped cluster. It links to `/metrics` and the
//! API, as exporters' landing pages do. Every dynamic string is HTML-escaped.

use super::{FindingView, TargetView};
use crate::clock::rfc3339_ms;
use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Renders the page.
pub fn render(findings: &[FindingView], targets: &[TargetView], ready: bool) -> String {
    let mut o = String::with_capacity(4096 + findings.len() * 600);
    let firing = findings.iter().filter(|f| f.state == "firing").count();
    let down = targets.iter().filter(|t| !t.up).count();
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>opsadvisor</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}
table{{border-collapse:collapse;width:100%;margin-bottom:1.5rem}}
th,td{{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}}
th{{background:#f4f4f4}}
.critical{{color:#b00020;font-weight:600}} .warning{{color:#a15c00}} .info{{color:#555}}
.pending{{color:#777;font-style:italic}} .down{{color:#b00020}}
</style></head><body>
<h1>opsadvisor <small>{version}</small></h1>
<p id="summary">{firing} firing, {pending} pending; {ntargets} targets, {down} down{notready}.
<a href="/metrics">/metrics</a> · <a href="/api/v1/findings">/api/v1/findings</a> · <a href="/api/v1/targets">/api/v1/targets</a></p>
<h2>Findings</h2>
"#,
        version = env!("CARGO_PKG_VERSION"),
        pending = findings.len() - firing,
        ntargets = targets.len(),
        notready = if ready { "" } else { "; first cycle not finished yet" },
    );
    if findings.is_empty() {
        o.push_str("<p id=\"no-findings\">Nothing to report.</p>\n");
    } else {
        o.push_str(
            "<table id=\"findings\"><thead><tr><th>State</th><th>Severity</th><th>Check</th><th>Cluster</th><th>Node</th><th>Symptom</th><th>Action</th><th>Active since</th></tr></thead><tbody>\n",
        );
        for f in findings {
            let x = &f.finding;
            let _ = writeln!(
                o,
                "<tr data-fingerprint=\"{fp}\"><td class=\"{state}\">{state}</td><td class=\"{sev}\">{sev}</td><td><a href=\"/api/v1/findings/{fp}\">{id}</a></td><td>{cluster}</td><td>{node}</td><td>{symptom}</td><td>{action}</td><td>{since}</td></tr>",
                fp = esc(&x.fingerprint),
                state = f.state,
                sev = x.severity.as_str(),
                id = esc(&x.id),
                cluster = esc(&x.cluster),
                node = esc(x.node.as_deref().unwrap_or("")),
                symptom = esc(&x.symptom),
                action = esc(&x.action),
                since = rfc3339_ms(f.active_since_ms),
            );
        }
        o.push_str("</tbody></table>\n");
    }
    o.push_str("<h2>Targets</h2>\n<table id=\"targets\"><thead><tr><th>Cluster</th><th>Node</th><th>Kind</th><th>URL</th><th>Up</th><th>Error</th></tr></thead><tbody>\n");
    for t in targets {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&t.cluster),
            esc(t.node.as_deref().unwrap_or("")),
            esc(&serde_json::to_value(t.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()),
            esc(&t.url),
            if t.up { "up" } else { "down" },
            if t.up { "up" } else { "down" },
            esc(t.error.as_deref().unwrap_or("")),
        );
    }
    o.push_str("</tbody></table>\n</body></html>\n");
    o
}
