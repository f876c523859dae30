//! `advise --format html`: one self-contained page whose SVG charts render in a real browser.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Measures every chart outside a folded `<details>` after layout and writes
/// `charts:drawn:markers` into the DOM, where `--dump-dom` shows it.
const PROBE: &str = r#"<script>
const charts = [...document.querySelectorAll('svg.chart')].filter(s => !s.closest('details'));
const drawn = charts.filter(s => {
  const r = s.getBoundingClientRect();
  const h = s.querySelector('polyline.hist'), b = s.querySelector('polygon.band');
  return r.width > 200 && r.height > 60 && h && h.getBBox().width > 0 && b && b.getBBox().width > 0;
});
const markers = charts.filter(s => s.querySelector('circle')).length;
document.body.setAttribute('data-probe', charts.length + ':' + drawn.length + ':' + markers);
</script></body>"#;

#[test]
fn demo_html_report_is_self_contained_and_its_charts_render_in_chromium() {
    let out = Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
        .args(["advise", "--demo", "--format", "html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..200.min(html.len())]);
    // Self-contained: no script, no stylesheet or image fetched from anywhere.
    for banned in ["<script", "<link", " src=", "url(", "@import"] {
        assert!(!html.contains(banned), "report contains {banned}");
    }
    // The demo's capacity finding, next to its chart with the watermark lines.
    assert!(html.contains("capacity_es_disk_high_watermark"), "no capacity finding");
    assert!(html.contains("es-logs-2 · data disk used"), "no chart for es-logs-2's disk");
    assert!(html.contains("90% high watermark on 20"), "no crossing date on the chart");

    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipping the browser check: {CHROMIUM} is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("opsadvisor-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, html.replacen("</body>", PROBE, 1)).unwrap();
    let dom = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            // No calls home: on a closed network they are refused connections that slow the start.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--window-size=1200,2000",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let probe = dom
        .split("data-probe=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("the probe did not run: {}", &dom[..300.min(dom.len())]));
    let n: Vec<usize> = probe.split(':').map(|v| v.parse().unwrap()).collect();
    assert!(n[0] >= 1, "no chart next to a finding: {probe}");
    assert_eq!(n[0], n[1], "charts without a drawn history or band (charts:drawn:markers) {probe}");
    assert!(n[2] >= 1, "no crossing marker: {probe}");
}
