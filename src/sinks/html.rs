//! The HTML report: one self-contained file (inline CSS and SVG, no script, no external
//! asset) that can be attached to a ticket or opened offline.
//!
//! Findings are grouped by cluster as in the other formats; next to each cluster's findings
//! come its capacity forecasts as SVG charts: the history, the forecast with its 80 %
//! interval, every limit as a horizontal line, and a marker on the day the forecast reaches
//! it. Forecasts behind a finding are shown first; the others are folded in a `<details>`.

use super::report::Report;
use crate::analyzers::capacity::{Chart, date};
use crate::findings::{Finding, Severity};
use std::fmt::Write as _;

const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 34.0;

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#1f2328;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.summary{color:#59636e;margin-bottom:16px}
.finding{border:1px solid #d0d7de;border-left:4px solid #8c959f;border-radius:6px;padding:8px 12px;margin:8px 0}
.finding.critical{border-left-color:#cf222e}.finding.warning{border-left-color:#bf8700}.finding.info{border-left-color:#0969da}
.sev{font-weight:600;text-transform:uppercase;font-size:12px;margin-right:6px}
.critical .sev{color:#cf222e}.warning .sev{color:#9a6700}.info .sev{color:#0969da}
.id{font-family:ui-monospace,monospace;font-weight:600}.meta{color:#59636e;font-size:12px}
.finding p{margin:4px 0}.label{color:#59636e}
figure{margin:12px 0;border:1px solid #d0d7de;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{width:100%;height:auto;max-width:720px;display:block}
svg text{font:11px system-ui,sans-serif;fill:#59636e}
.hist{fill:none;stroke:#0969da;stroke-width:1.5}.fc{fill:none;stroke:#8250df;stroke-width:1.5;stroke-dasharray:5 3}
.band{fill:#8250df;fill-opacity:.15;stroke:none}.now{stroke:#8c959f;stroke-dasharray:2 3}
.limit{stroke:#cf222e;stroke-width:1}.cross{stroke:#cf222e;stroke-dasharray:3 3}.axis{stroke:#d0d7de}
svg text.lim{fill:#cf222e}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #d0d7de;padding:2px 8px;text-align:left}
";

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the whole report.
pub fn render(report: &Report, summary: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>opsadvisor report</title><style>{CSS}</style></head><body>\
         <h1>opsadvisor advise</h1><div class=\"summary\">{}</div>",
        escape(summary)
    );
    // Clusters in report order: those with findings, then those with only forecasts.
    let mut clusters: Vec<(String, String)> = Vec::new();
    for f in &report.findings {
        let k = (f.system.as_str().to_string(), f.cluster.clone());
        if !clusters.contains(&k) {
            clusters.push(k);
        }
    }
    for c in &report.charts {
        let k = (c.system.as_str().to_string(), c.cluster.clone());
        if !clusters.contains(&k) {
            clusters.push(k);
        }
    }
    if clusters.is_empty() {
        out.push_str("<p>No findings: every check passed on the data collected.</p>");
    }
    for (system, cluster) in &clusters {
        let _ = write!(out, "<h2>{} / {}</h2>", escape(system), escape(cluster));
        let same = |s: &str, c: &str| s == system && c == cluster;
        for f in report.findings.iter().filter(|f| same(f.system.as_str(), &f.cluster)) {
            finding(&mut out, f);
        }
        let charts: Vec<&Chart> =
            report.charts.iter().filter(|c| same(c.system.as_str(), &c.cluster)).collect();
        for c in charts.iter().filter(|c| !c.findings.is_empty()) {
            chart(&mut out, c);
        }
        let rest: Vec<&&Chart> = charts.iter().filter(|c| c.findings.is_empty()).collect();
        if !rest.is_empty() {
            let _ = write!(out, "<details><summary>{} other forecast(s)</summary>", rest.len());
            for c in rest {
                chart(&mut out, c);
            }
            out.push_str("</details>");
        }
    }
    let bad: Vec<_> = report.targets.iter().filter(|t| t.error.is_some()).collect();
    if !bad.is_empty() {
        out.push_str("<h2>Targets with errors</h2><table><tr><th>cluster</th><th>node</th><th>url</th><th>error</th></tr>");
        for t in bad {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&t.cluster),
                escape(t.node.as_deref().unwrap_or("-")),
                escape(&t.url),
                escape(t.error.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}

fn finding(out: &mut String, f: &Finding) {
    let sev = match f.severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let node = f.node.as_deref().map_or("cluster-wide".to_string(), |n| format!("node {n}"));
    let _ = write!(
        out,
        "<div class=\"finding {sev}\" id=\"f-{fp}\"><span class=\"sev\">{sev}</span>\
         <span class=\"id\">{id}</span> <span class=\"meta\">{cat} · {node} · {analyzer} · fingerprint {fp}</span>\
         <p>{symptom}</p>",
        fp = escape(&f.fingerprint),
        id = escape(&f.id),
        cat = f.category.as_str(),
        node = escape(&node),
        analyzer = escape(&f.analyzer),
        symptom = escape(&f.symptom),
    );
    if !f.cause.is_empty() {
        let _ = write!(out, "<p><span class=\"label\">Cause:</span> {}</p>", escape(&f.cause));
    }
    let _ = write!(
        out,
        "<p><span class=\"label\">Action:</span> {}</p><p class=\"meta\"><a href=\"{}\">docs</a></p></div>",
        escape(&f.action),
        escape(&f.docs_url)
    );
}

fn fmt_axis(ratio: bool, v: f64) -> String {
    if ratio {
        format!("{:.0}%", v * 100.0)
    } else if v.abs() >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// One chart as inline SVG.
fn chart(out: &mut String, c: &Chart) {
    let ratio = c.metric.is_ratio();
    let (Some(t0), Some(t1)) = (
        c.history.first().map(|p| p.0),
        c.forecast.last().map(|p| p.t_ms).or(c.history.last().map(|p| p.0)),
    ) else {
        return;
    };
    let now = c.history.last().map_or(t0, |p| p.0);
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for v in c
        .history
        .iter()
        .map(|p| p.1)
        .chain(c.forecast.iter().flat_map(|p| [p.lo, p.hi]))
        .chain(c.thresholds.iter().map(|t| t.value))
    {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if hi <= lo || !hi.is_finite() || !lo.is_finite() {
        (lo, hi) = if lo.is_finite() { (lo - 0.5, lo + 0.5) } else { (0.0, 1.0) };
    }
    if ratio {
        // A wide interval far ahead must not squash what matters: the data and the limits.
        let limits = c.thresholds.iter().map(|t| t.value).fold(0.0, f64::max);
        let data = c.history.iter().map(|p| p.1).fold(0.0, f64::max);
        hi = hi.min(limits.max(data).max(0.05) * 1.1);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (if ratio { (lo - pad).max(0.0) } else { lo - pad }, hi + pad);
    let span = (t1 - t0).max(1) as f64;
    let x = |t: i64| LEFT + (t - t0) as f64 / span * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (hi - v.clamp(lo, hi)) / (hi - lo) * (H - TOP - BOTTOM);
    let title = format!("{} · {} ({})", c.node, c.metric.label(), c.cluster);
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption><svg class=\"chart\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" \
         role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(&title),
        escape(&title)
    );
    // Axes and y ticks.
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\"/>",
        b = H - BOTTOM,
        r = W - RIGHT
    );
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            y(v) + 4.0,
            fmt_axis(ratio, v)
        );
    }
    for (t, anchor) in [(t0, "start"), (now, "middle"), (t1, "end")] {
        if t != now && (x(t) - x(now)).abs() < 90.0 {
            continue; // would overlap the "now" label
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            x(t),
            H - BOTTOM + 14.0,
            if t == now { format!("now {}", date(t)) } else { date(t) }
        );
    }
    // Forecast band, then lines.
    if !c.forecast.is_empty() {
        let mut band = String::new();
        for p in &c.forecast {
            let _ = write!(band, "{:.1},{:.1} ", x(p.t_ms), y(p.hi));
        }
        for p in c.forecast.iter().rev() {
            let _ = write!(band, "{:.1},{:.1} ", x(p.t_ms), y(p.lo));
        }
        let _ = write!(out, "<polygon class=\"band\" points=\"{}\"/>", band.trim_end());
    }
    let hist: Vec<String> =
        c.history.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
    let _ = write!(out, "<polyline class=\"hist\" points=\"{}\"/>", hist.join(" "));
    if let Some(last) = c.history.last() {
        let fc: Vec<String> = std::iter::once(format!("{:.1},{:.1}", x(last.0), y(last.1)))
            .chain(c.forecast.iter().map(|p| format!("{:.1},{:.1}", x(p.t_ms), y(p.mean))))
            .collect();
        let _ = write!(out, "<polyline class=\"fc\" points=\"{}\"/>", fc.join(" "));
    }
    let _ = write!(
        out,
        "<line class=\"now\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{b}\"/>",
        x = x(now),
        b = H - BOTTOM
    );
    // Limits and the day each is reached.
    for th in c.thresholds.iter().filter(|t| t.value >= lo && t.value <= hi) {
        let ty = y(th.value);
        let _ = write!(
            out,
            "<line class=\"limit\" x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{r}\" y2=\"{ty:.1}\"/>",
            r = W - RIGHT
        );
        let label = match th.crossing_ms {
            Some(t) => {
                let _ = write!(
                    out,
                    "<line class=\"cross\" x1=\"{cx:.1}\" y1=\"{ty:.1}\" x2=\"{cx:.1}\" y2=\"{b}\"/>\
                     <circle cx=\"{cx:.1}\" cy=\"{ty:.1}\" r=\"3.5\" fill=\"#cf222e\"/>",
                    cx = x(t),
                    b = H - BOTTOM
                );
                format!("{} on {}", th.label, date(t))
            }
            None if th.passed => format!("{} (passed)", th.label),
            None => th.label.clone(),
        };
        let _ = write!(
            out,
            "<text class=\"lim\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT + 4.0,
            ty - 3.0,
            escape(&label)
        );
    }
    out.push_str("</svg></figure>");
}
