//! Support bundles: `capture` records raw fetches; `advise --bundle` replays them offline
//! with the same result as the live analysis of the same fetches; secrets stay out.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{TempDir, serve_text};
use opsadvisor::cli::config_for;
use opsadvisor::config::{Config, ScrapeConfig};
use opsadvisor::features::catalog::Catalog;
use opsadvisor::pipeline;
use opsadvisor::simulate::{SimSpec, Simulator, serve};
use opsadvisor::sources::{self, bundle};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_replays_to_the_same_report_as_live() {
    let server = serve(Simulator::new(SimSpec::demo(9)).unwrap(), 120.0).await.unwrap();
    let config = config_for(
        &server,
        ScrapeConfig {
            interval: "500ms".into(),
            timeout: "2s".into(),
            samples: 5,
            ..ScrapeConfig::default()
        },
    );
    let client = sources::http_client(Duration::from_secs(2)).unwrap();
    let rounds = sources::fetch_rounds(&config, &client).await;
    drop(server); // from here on, only the bundle exists
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    let live = pipeline::advise_rounds(&config, &rules, &rounds).await.unwrap();
    assert!(live.findings.len() >= 3, "{:#?}", live.findings);

    let dir = TempDir::new("bundle");
    bundle::write(dir.path(), &config, &rounds, 0).unwrap();
    let (replayed_config, replayed_rounds) = bundle::read(dir.path()).unwrap();
    assert_eq!(replayed_rounds.raws, rounds.raws, "bodies and times survive the round trip");
    let replayed =
        pipeline::advise_rounds(&replayed_config, &rules, &replayed_rounds).await.unwrap();
    assert_eq!(replayed.findings, live.findings);
    assert_eq!(
        serde_json::to_value(&replayed.targets).unwrap(),
        serde_json::to_value(&live.targets).unwrap()
    );
}

#[tokio::test]
async fn a_bundle_keeps_no_credentials_and_records_failures() {
    let good = serve_text("cassandra_compaction_pendingtasks 250\n").await;
    let with_secret = good.replace("http://", "http://admin:hunter2@") + "?token=s3cr3t";
    let down = common::refused_url().await;
    let yaml = format!(
        "scrape: {{ interval: 50ms, timeout: 500ms, samples: 2 }}\nclusters:\n  - name: c\n    system: cassandra\n    targets:\n      - {{ node: a, metrics: '{with_secret}' }}\n      - {{ node: b, metrics: '{down}' }}\n"
    );
    let config = Config::from_yaml(&yaml, std::path::Path::new("/")).unwrap();
    let client = sources::http_client(Duration::from_secs(1)).unwrap();
    let rounds = sources::fetch_rounds(&config, &client).await;
    let dir = TempDir::new("bundle-secrets");
    bundle::write(dir.path(), &config, &rounds, 0).unwrap();
    let mut all = String::new();
    for entry in walk(dir.path()) {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    assert!(!all.contains("hunter2") && !all.contains("s3cr3t") && !all.contains("admin"), "{all}");
    let (_, replayed) = bundle::read(dir.path()).unwrap();
    assert!(replayed.raws[0].iter().all(Result::is_ok));
    assert!(
        replayed.raws[1].iter().all(|r| r.as_ref().unwrap_err().starts_with("connection failed"))
    );
    // A damaged bundle is an error naming the file, not a panic.
    std::fs::write(dir.path().join("targets/0/1.json"), "{").unwrap();
    let err = bundle::read(dir.path()).unwrap_err();
    assert!(err.path.ends_with("targets/0/1.json"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
