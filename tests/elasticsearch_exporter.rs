//! Elasticsearch read two ways gives the same features: the REST API converted by
//! opsadvisor, and Debian's `prometheus-elasticsearch-exporter` (started here on 127.0.0.1
//! against the simulator's ES API) scraped as an exposition. Skips when the exporter is not
//! installed (`.ci/run` installs it).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{KillOnDrop, free_port, wait_until_ok};

use opsadvisor::System;
use opsadvisor::config::Config;
use opsadvisor::features::{self, catalog::Catalog};
use opsadvisor::simulate::{
    ClusterSpec, Fault, FaultSpec, HardwareProfile, SimSpec, Simulator, serve,
};
use opsadvisor::sources;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

async fn last_frame(config: &Config) -> features::FeatureFrame {
    let client = sources::http_client(Duration::from_secs(5)).unwrap();
    let (snapshot, health) = sources::collect(config, &client).await;
    assert!(health.iter().all(|t| t.up), "{health:#?}");
    tokio::task::spawn_blocking(move || {
        features::extract(&snapshot, Catalog::builtin(), 600_000)
            .unwrap()
            .pop()
            .unwrap()
            .pop()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_and_elasticsearch_exporter_give_the_same_features() {
    let exporter_bin = "prometheus-elasticsearch-exporter";
    if Command::new(exporter_bin).arg("--version").output().is_err() {
        eprintln!("skipped: {exporter_bin} is not installed (apt-get install {exporter_bin})");
        return;
    }
    // A frozen simulation (its clock barely moves), so both reads see the same state.
    let cluster = ClusterSpec::new("es", System::Elasticsearch, 3, HardwareProfile::medium())
        .with_fault(FaultSpec::new(Fault::DiskLowWatermark, Some("es-2")))
        .with_fault(FaultSpec::new(Fault::UnassignedShardsYellow, None));
    let spec = SimSpec { clusters: vec![cluster], ..SimSpec::demo(5) };
    let server = serve(Simulator::new(spec).unwrap(), 1e-6).await.unwrap();
    let es_url = server.endpoints.iter().find(|e| e.node.is_none()).unwrap().url.clone();

    let port = free_port();
    let child = Command::new(exporter_bin)
        .arg(format!("--es.uri={es_url}"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(["--es.all", "--es.cluster_settings"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _exporter = KillOnDrop(child);
    let exporter_url = format!("http://127.0.0.1:{port}/metrics");
    assert!(wait_until_ok(&exporter_url).await, "the exporter did not come up");

    let yaml = |field: &str, url: &str| {
        format!(
            "scrape: {{ interval: 100ms, timeout: 5s, samples: 2 }}\nclusters:\n  - name: es\n    system: elasticsearch\n    {field}: '{url}'\n"
        )
    };
    let rest =
        last_frame(&Config::from_yaml(&yaml("elasticsearch", &es_url), Path::new("/")).unwrap())
            .await;
    let exporter = last_frame(
        &Config::from_yaml(&yaml("elasticsearch_exporter", &exporter_url), Path::new("/")).unwrap(),
    )
    .await;

    assert_eq!(rest.str_column("node"), exporter.str_column("node"));
    let mut compared = Vec::new();
    for column in Catalog::builtin().columns(System::Elasticsearch) {
        let (a, b) = (rest.f64_column(column).unwrap(), exporter.f64_column(column).unwrap());
        for (row, (x, y)) in a.iter().zip(&b).enumerate() {
            if let (Some(x), Some(y)) = (x, y) {
                assert!(
                    (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                    "{column} row {row}: REST {x} vs exporter {y}"
                );
            }
        }
        if a.iter().zip(&b).any(|(x, y)| x.is_some() && y.is_some()) {
            compared.push(column);
        }
    }
    for must in [
        "heap_used_ratio",
        "data_disk_used_ratio",
        "es_status_yellow",
        "es_status_red",
        "es_unassigned_shards",
        "es_search_queue",
        "fd_used_ratio",
        "es_indexing_throttled",
        "es_search_pool_busy_ratio",
    ] {
        assert!(
            compared.contains(&must),
            "{must} not available on both paths; compared: {compared:?}"
        );
    }
    eprintln!("compared on both paths: {} columns: {compared:?}", compared.len());
    // The fault shows on both paths: es-2 past the low watermark, the cluster yellow.
    let used = exporter.f64_column("data_disk_used_ratio").unwrap();
    let nodes = exporter.str_column("node").unwrap();
    let es2 = nodes.iter().position(|n| n == "es-2").unwrap();
    assert!(used[es2].unwrap() > 0.85, "{used:?}");
    assert_eq!(exporter.f64_column("es_status_yellow").unwrap()[es2], Some(1.0));
    drop(server);
}
