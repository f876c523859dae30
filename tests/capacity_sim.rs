//! Capacity planning end to end on the simulator: days of history recorded in-process, then
//! `advise` scrapes the served cluster and forecasts from both, as `advise --demo` does.
//! These prove that the thresholds come from what the cluster itself reports.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use opsadvisor::System;
use opsadvisor::analyzers::capacity::limits::Metric;
use opsadvisor::cli::config_for;
use opsadvisor::config::ScrapeConfig;
use opsadvisor::features::catalog::Catalog;
use opsadvisor::findings::Finding;
use opsadvisor::pipeline;
use opsadvisor::simulate::{
    ClusterSpec, EsSettingsSpec, Fault, FaultSpec, HardwareProfile, SimSpec, Simulator, record,
    serve,
};
use opsadvisor::sinks::report::Report;
use opsadvisor::sources::TargetKind;

const DAY_MS: i64 = 86_400_000;

/// A 3-node Elasticsearch cluster whose `es-2` holds a slowly growing archive at about 88 %
/// used, with `settings`; a recorded week (as the demo records), then two live scrapes.
async fn advise_es(settings: EsSettingsSpec) -> Report {
    let mut spec = SimSpec::demo(3);
    let mut c = ClusterSpec::new("es", System::Elasticsearch, 3, HardwareProfile::medium());
    c.faults.push(FaultSpec::new(Fault::DiskLowWatermark, Some("es-2")));
    c.es_settings = settings;
    spec.clusters = vec![c];
    spec.warmup_s = 0.0;
    let live_start = spec.start_ms + 7 * DAY_MS;
    let mut sim = Simulator::new(spec).unwrap();
    let targets = record::targets(&sim);
    let recorded = record::record(&mut sim, &targets, live_start, 3 * 3_600_000);
    let server = serve(sim, 300.0).await.unwrap();
    let config = config_for(
        &server,
        ScrapeConfig {
            interval: "200ms".into(),
            timeout: "2s".into(),
            samples: 2,
            ..ScrapeConfig::default()
        },
    );
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    pipeline::advise_recorded(&config, &rules, Some(recorded)).await.unwrap()
}

fn watermark_finding(r: &Report) -> &Finding {
    r.findings
        .iter()
        .find(|f| f.id.starts_with("capacity_es_disk_") && f.node.as_deref() == Some("es-2"))
        .unwrap_or_else(|| panic!("no watermark forecast for es-2: {:#?}", r.findings))
}

fn days_until(f: &Finding) -> f64 {
    f.evidence.iter().find(|e| e.feature == "days_until").and_then(|e| e.value).unwrap()
}

/// The disk limits drawn on es-2's chart: what the forecast was compared with.
fn disk_limits(r: &Report) -> Vec<(String, f64)> {
    let chart = r
        .charts
        .iter()
        .find(|c| c.node == "es-2" && c.metric == Metric::Disk)
        .expect("a disk chart for es-2");
    chart
        .thresholds
        .iter()
        .map(|t| (t.label.clone(), (t.value * 1000.0).round() / 1000.0))
        .collect()
}

fn set(level: &str, v: &str) -> (String, String) {
    (format!("cluster.routing.allocation.disk.watermark.{level}"), v.to_string())
}

#[tokio::test]
async fn the_clusters_transient_watermark_overrides_persistent_and_defaults() {
    let r = advise_es(EsSettingsSpec {
        persistent: [set("high", "90.5%")].into(),
        transient: [set("high", "0.895")].into(),
        reject_include_defaults: false,
    })
    .await;
    assert_eq!(
        disk_limits(&r),
        [
            ("85% low watermark".to_string(), 0.85),
            ("89.5% high watermark".to_string(), 0.895),
            ("95% flood stage watermark".to_string(), 0.95),
        ]
    );
    let f = watermark_finding(&r);
    assert_eq!(f.id, "capacity_es_disk_high_watermark", "{}", f.symptom);
    assert!(f.symptom.contains("89.5% high watermark"), "{}", f.symptom);
    assert!(
        f.cause.contains("watermark.high = 89.5%, from the cluster's transient"),
        "{}",
        f.cause
    );
    assert_eq!(f.evidence[0].threshold, Some(0.895));
    assert!(days_until(f) < 30.0, "{}", f.symptom);
}

#[tokio::test]
async fn free_space_watermarks_on_a_cluster_that_rejects_include_defaults() {
    // Elasticsearch before 6.4 answers include_defaults with 400: the explicit settings are
    // read without it, live and in the recorded history, and nothing is reported missing.
    let r = advise_es(EsSettingsSpec {
        persistent: [set("low", "300gb"), set("high", "215gb"), set("flood_stage", "100gb")].into(),
        transient: Default::default(),
        reject_include_defaults: true,
    })
    .await;
    let es = r.targets.iter().find(|t| t.kind == TargetKind::Elasticsearch).unwrap();
    assert!(es.up && es.partial.is_empty(), "{es:?}");
    // The free-space floors as used ratios of es-2's data filesystem (2 × 1 TiB disks, a
    // little less once formatted).
    let limits: Vec<f64> = disk_limits(&r).into_iter().map(|l| l.1).collect();
    let size_gib = 2028.0;
    for (got, free) in limits.iter().zip([300.0, 215.0, 100.0]) {
        assert!((got - (1.0 - free / size_gib)).abs() < 0.002, "{limits:?}");
    }
    let f = watermark_finding(&r);
    assert_eq!(f.id, "capacity_es_disk_high_watermark", "{}", f.symptom);
    assert!(
        f.symptom.contains("high watermark (215 GiB free of 2028 GiB, 89.4% used)"),
        "{}",
        f.symptom
    );
    assert!(f.cause.contains("= 215 GiB free space, from the cluster's persistent"), "{}", f.cause);
}
