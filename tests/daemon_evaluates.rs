//! The daemon judges what `advise` judges: classifier findings for an injected fault, and
//! the configuration files and host facts (re-read on reload). The daemon runs in-process,
//! cycle by cycle, against the simulator; `tests/prometheus_source.rs` covers `prometheus:`
//! clusters against Debian's Prometheus.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::TempDir;
use opsadvisor::config::Config;
use opsadvisor::daemon::models::ModelSource;
use opsadvisor::daemon::{ConfigSource, CycleOutcome, Daemon, DaemonOptions};
use opsadvisor::findings::Finding;
use opsadvisor::simulate::Fault;
use opsadvisor::sources::config_files::ConfigFilesConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn daemon(config: Config, storage: &std::path::Path, models: ModelSource) -> Daemon {
    let options = DaemonOptions {
        listen_address: "127.0.0.1:0".into(),
        storage_path: storage.to_path_buf(),
        bearer_token: None,
        models,
        web: Default::default(),
    };
    Daemon::new(ConfigSource::Fixed(Box::new(config)), options).unwrap()
}

/// Runs cycles 200 ms apart until `done` holds for an outcome, for up to `secs` seconds;
/// the last outcome.
async fn cycle_until(
    d: &mut Daemon,
    secs: u64,
    done: impl Fn(&CycleOutcome) -> bool,
) -> Arc<CycleOutcome> {
    let start = Instant::now();
    let mut last = Arc::new(CycleOutcome::default());
    while start.elapsed() < Duration::from_secs(secs) {
        if let Some(o) = d.cycle().await {
            last = o;
            if done(&last) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

fn on<'a>(fs: &'a [Finding], id: &str, node: &str) -> Option<&'a Finding> {
    fs.iter().find(|f| f.id == id && f.node.as_deref() == Some(node))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_fires_a_classifier_finding_for_an_injected_fault() {
    let (server, config) = common::cassandra_sim(Some(Fault::CompactionBacklog)).await;
    let dir = TempDir::new("daemon-classifier");
    let mut d = daemon(config, dir.path(), ModelSource::default());
    // The class fires at the first evaluation; the rule after its `for` (2 simulated minutes).
    let o = cycle_until(&mut d, 15, |o| {
        on(&o.firing, "classifier_compaction_backlog", "cass-2").is_some()
            && on(&o.firing, "cassandra_compaction_backlog", "cass-2").is_some()
    })
    .await;
    let f = on(&o.firing, "classifier_compaction_backlog", "cass-2")
        .unwrap_or_else(|| panic!("no classifier finding: {:#?}", o.firing));
    assert_eq!(f.analyzer, "classifier");
    assert!(f.symptom.contains('%'), "the class probability is given: {}", f.symptom);
    assert!(f.action.contains("concurrent_compactors"), "{}", f.action);
    // The rules still run beside the classifier.
    assert!(on(&o.firing, "cassandra_compaction_backlog", "cass-2").is_some(), "{:#?}", o.firing);

    // The same daemon with the classifiers off reports the rule, not the class.
    let dir = TempDir::new("daemon-classifier-off");
    let (_server2, config) = common::cassandra_sim(Some(Fault::CompactionBacklog)).await;
    let mut d = daemon(config, dir.path(), ModelSource { algo: None, dir: None });
    let o = cycle_until(&mut d, 15, |o| {
        on(&o.firing, "cassandra_compaction_backlog", "cass-2").is_some()
    })
    .await;
    assert!(on(&o.firing, "cassandra_compaction_backlog", "cass-2").is_some(), "{:#?}", o.firing);
    assert!(o.firing.iter().all(|f| f.analyzer != "classifier"), "{:#?}", o.firing);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_facts_reach_the_rules_and_a_reload_reads_them_again() {
    let (_server, mut config) = common::cassandra_sim(None).await;
    let dir = TempDir::new("daemon-facts");
    let yaml = dir.path().join("cassandra.yaml");
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/config/cassandra.yaml"
    ))
    .unwrap();
    assert!(original.contains("authenticator: AllowAllAuthenticator"));
    std::fs::write(&yaml, &original).unwrap();
    config.clusters[0].config_files =
        Some(ConfigFilesConfig { cassandra_yaml: Some(yaml.clone()), ..Default::default() });
    let mut d = daemon(config, &dir.path().join("state"), ModelSource { algo: None, dir: None });

    let everywhere = |o: &CycleOutcome| {
        (1..=4)
            .all(|n| on(&o.firing, "cassandra_authentication_off", &format!("cass-{n}")).is_some())
    };
    let o = cycle_until(&mut d, 10, everywhere).await;
    assert!(everywhere(&o), "{:#?}", o.firing);

    // The file is fixed; a reload reads it again and the finding resolves.
    std::fs::write(
        &yaml,
        original.replace(
            "authenticator: AllowAllAuthenticator",
            "authenticator: PasswordAuthenticator",
        ),
    )
    .unwrap();
    d.reload("test").unwrap();
    let mut resolved = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && resolved.len() < 4 {
        if let Some(o) = d.cycle().await {
            resolved.extend(
                o.resolved.iter().filter(|f| f.id == "cassandra_authentication_off").cloned(),
            );
            assert!(
                o.firing.iter().all(|f| f.id != "cassandra_authentication_off")
                    || resolved.is_empty()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(resolved.len(), 4, "every node's finding resolved after the fix");
}
