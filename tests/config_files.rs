//! The config-file source on realistic sample files (tests/data/config): cassandra.yaml in
//! 4.1 and 3.11 naming, JVM options files and an ES jvm.options.d directory, Kafka's
//! server.properties, elasticsearch.yml, and a fake host root with /proc and /sys. Then the
//! whole path: facts → features → rules → contradiction resolution.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use opsadvisor::System;
use opsadvisor::analyzers::{self, rules::RuleSet};
use opsadvisor::config::Config;
use opsadvisor::features::{self, catalog::Catalog};
use opsadvisor::findings::conflicts;
use opsadvisor::sample::Sample;
use opsadvisor::snapshot::{ClusterSnapshot, NodeSnapshot, Point, Snapshot, SourceSeries};
use opsadvisor::sources::config_files::{self, ConfigFilesConfig, Facts};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config").join(rel)
}

fn value(facts: &Facts, feature: &str) -> Option<f64> {
    let name = format!("opsadvisor_{feature}");
    facts.samples.iter().find(|s| s.name == name).map(|s| s.value)
}

fn cassandra_files() -> ConfigFilesConfig {
    ConfigFilesConfig {
        cassandra_yaml: Some(data("cassandra.yaml")),
        jvm_options: vec![data("jvm.options"), data("jvm17-server.options")],
        host_root: Some(data("host")),
        pid_file: Some(data("host/run/cassandra.pid")),
        ..Default::default()
    }
}

#[test]
fn cassandra_4_1_files_and_host_facts_become_features() {
    let f = config_files::read(&cassandra_files(), Catalog::builtin(), System::Cassandra);
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    assert_eq!(f.read.len(), 3, "{:?}", f.read);
    let v = |name| value(&f, name);
    assert_eq!(v("cfg_cassandra_yaml_read"), Some(1.0));
    assert_eq!(v("cfg_concurrent_compactors"), Some(16.0));
    assert_eq!(v("cfg_concurrent_reads"), Some(32.0));
    assert_eq!(v("cfg_compaction_throughput_bytes_per_second"), Some(64.0 * 1024.0 * 1024.0));
    assert_eq!(v("cfg_num_tokens"), Some(256.0));
    assert_eq!(v("cfg_allocate_tokens_rf"), None, "key not in the file: absent");
    assert_eq!(v("cfg_auto_snapshot"), Some(0.0));
    assert_eq!(v("cfg_simple_snitch"), Some(1.0));
    assert_eq!(v("cfg_internode_encryption_off"), Some(1.0));
    assert_eq!(v("cfg_client_encryption"), Some(0.0));
    assert_eq!(v("cfg_allow_all_authenticator"), Some(1.0));
    assert_eq!(v("cfg_batch_size_fail_threshold_bytes"), Some(500.0 * 1024.0));
    assert_eq!(v("cfg_data_directories"), Some(2.0));
    // JVM options: the later file's -Xmx, both files' flags.
    assert_eq!(v("cfg_jvm_options_read"), Some(1.0));
    assert_eq!(v("cfg_heap_initial_bytes"), Some(4.0 * GIB));
    assert_eq!(v("cfg_heap_max_bytes"), Some(8.0 * GIB));
    assert_eq!(v("cfg_exit_on_oom"), None);
    // Host: sysctls, /proc/swaps, meminfo, read-ahead (loop devices ignored), THP, limits.
    assert_eq!(v("host_swappiness"), Some(60.0));
    assert_eq!(v("host_max_map_count"), Some(65530.0));
    assert_eq!(v("host_swap_active_bytes"), Some(2_097_148.0 * 1024.0));
    assert_eq!(v("host_memory_total_bytes"), Some(32_778_520.0 * 1024.0));
    assert_eq!(v("host_read_ahead_kb_max"), Some(4096.0));
    assert_eq!(v("host_ssd_read_ahead_kb_max"), Some(4096.0));
    assert_eq!(v("host_rotational_disks"), Some(1.0));
    assert_eq!(v("host_thp_always"), Some(0.0), "madvise is in force, not always");
    assert_eq!(v("host_nofile_limit"), Some(1024.0));
    assert_eq!(v("host_nproc_limit"), Some(4096.0));
    // Kafka's and ES's features are not produced for a Cassandra node.
    assert_eq!(v("cfg_num_io_threads"), None);
}

#[test]
fn cassandra_3_11_naming_reads_units_from_the_key_names() {
    let files = ConfigFilesConfig {
        cassandra_yaml: Some(data("cassandra-3.11.yaml")),
        ..Default::default()
    };
    let f = config_files::read(&files, Catalog::builtin(), System::Cassandra);
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    let v = |name| value(&f, name);
    assert_eq!(v("cfg_compaction_throughput_bytes_per_second"), Some(16.0 * 1024.0 * 1024.0));
    assert_eq!(v("cfg_batch_size_fail_threshold_bytes"), Some(50.0 * 1024.0));
    assert_eq!(v("cfg_simple_snitch"), Some(0.0));
    assert_eq!(v("cfg_allow_all_authenticator"), Some(0.0));
    assert_eq!(v("cfg_allocate_tokens_rf"), Some(3.0));
    assert_eq!(v("cfg_internode_encryption_off"), Some(0.0));
    assert_eq!(v("cfg_client_encryption"), Some(1.0));
    assert_eq!(v("host_swappiness"), None, "no host root configured: no host facts");
}

#[test]
fn kafka_and_elasticsearch_files_become_features() {
    let kafka = ConfigFilesConfig {
        server_properties: Some(data("server.properties")),
        ..Default::default()
    };
    let f = config_files::read(&kafka, Catalog::builtin(), System::Kafka);
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    let v = |name| value(&f, name);
    assert_eq!(v("cfg_num_io_threads"), Some(8.0));
    assert_eq!(v("cfg_num_network_threads"), Some(3.0));
    assert_eq!(v("cfg_default_replication_factor"), Some(3.0));
    assert_eq!(v("cfg_min_insync_replicas"), Some(1.0));
    assert_eq!(v("cfg_unclean_leader_election"), Some(1.0));
    assert_eq!(v("cfg_log_flush_interval_messages"), Some(10000.0));
    assert_eq!(v("cfg_auto_create_topics"), None, "left at its default");

    let es = ConfigFilesConfig {
        elasticsearch_yml: Some(data("elasticsearch.yml")),
        jvm_options: vec![data("es-jvm.options.d")],
        ..Default::default()
    };
    let f = config_files::read(&es, Catalog::builtin(), System::Elasticsearch);
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    let v = |name| value(&f, name);
    assert_eq!(v("cfg_memory_lock"), Some(0.0));
    assert_eq!(v("cfg_destructive_requires_name"), Some(0.0), "nested form meets the dotted key");
    assert_eq!(v("cfg_heap_max_bytes"), Some(16.0 * GIB));
    assert_eq!(v("cfg_exit_on_oom"), Some(1.0), "read from the second file of the directory");
}

#[test]
fn unreadable_and_broken_files_are_named_and_the_rest_still_counts() {
    let files = ConfigFilesConfig {
        // A directory where a file is expected cannot be read, even as root.
        cassandra_yaml: Some(data("host")),
        jvm_options: vec![data("missing-jvm.options"), data("jvm17-server.options")],
        server_properties: None,
        elasticsearch_yml: None,
        host_root: Some(data("host")),
        pid_file: Some(data("host/run/no-such.pid")),
    };
    let f = config_files::read(&files, Catalog::builtin(), System::Cassandra);
    let errors = f.errors.join("\n");
    assert!(errors.contains(&format!("{}: cannot read", data("host").display())), "{errors}");
    assert!(errors.contains("missing-jvm.options: cannot read"), "{errors}");
    assert!(errors.contains("no-such.pid: cannot read"), "{errors}");
    assert_eq!(value(&f, "cfg_heap_max_bytes"), Some(8.0 * GIB), "the readable file still counts");
    assert_eq!(value(&f, "host_max_map_count"), Some(65530.0));
    assert_eq!(value(&f, "cfg_concurrent_compactors"), None);

    let broken =
        ConfigFilesConfig { cassandra_yaml: Some(data("broken.yaml")), ..Default::default() };
    let f = config_files::read(&broken, Catalog::builtin(), System::Cassandra);
    assert_eq!(f.errors.len(), 1, "{:?}", f.errors);
    assert!(f.errors[0].contains("broken.yaml: cannot parse"), "{:?}", f.errors);
    assert!(f.samples.is_empty());
}

#[test]
fn a_key_with_a_value_of_the_wrong_kind_is_an_error_naming_file_and_key() {
    let dir = std::env::temp_dir().join(format!("opsadvisor-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("server.properties");
    std::fs::write(&path, "num.io.threads=eight\nnum.network.threads=3\n").unwrap();
    let files = ConfigFilesConfig { server_properties: Some(path.clone()), ..Default::default() };
    let f = config_files::read(&files, Catalog::builtin(), System::Kafka);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        f.errors,
        vec![format!("{}: num.io.threads: 'eight' is not a number", path.display())]
    );
    assert_eq!(value(&f, "cfg_num_network_threads"), Some(3.0));
}

#[test]
fn config_files_merge_cluster_and_node_settings_and_resolve_relative_paths() {
    let yaml = r#"
clusters:
  - name: c
    system: cassandra
    config_files: { cassandra_yaml: conf/cassandra.yaml, host_root: / }
    targets:
      - { node: n1, metrics: "http://127.0.0.1:1/metrics" }
      - node: n2
        metrics: "http://127.0.0.1:2/metrics"
        config_files: { cassandra_yaml: /etc/n2/cassandra.yaml, jvm_options: [/etc/n2/jvm.options] }
"#;
    let config = Config::from_yaml(yaml, Path::new("/srv/opsadvisor")).unwrap();
    let c = &config.clusters[0];
    let n1 = ConfigFilesConfig::merged(c.config_files.as_ref(), c.targets[0].config_files.as_ref());
    let n2 = ConfigFilesConfig::merged(c.config_files.as_ref(), c.targets[1].config_files.as_ref());
    assert_eq!(n1.cassandra_yaml, Some(PathBuf::from("/srv/opsadvisor/conf/cassandra.yaml")));
    assert_eq!(n1.host_root, Some(PathBuf::from("/")));
    assert_eq!(n2.cassandra_yaml, Some(PathBuf::from("/etc/n2/cassandra.yaml")));
    assert_eq!(n2.jvm_options, vec![PathBuf::from("/etc/n2/jvm.options")]);
    assert_eq!(n2.host_root, Some(PathBuf::from("/")), "inherited from the cluster");

    let bad = yaml.replace("host_root: /", "host_rot: /");
    let issues = Config::from_yaml(&bad, Path::new("/")).unwrap_err();
    assert!(issues.iter().any(|i| i.message.contains("host_rot")), "{issues:?}");
}

fn round(t: i64, cpu_idle: f64, pending: f64) -> Option<Point> {
    let mut samples = vec![Sample::new("cassandra_compaction_pendingtasks", vec![], pending)];
    for cpu in 0..4 {
        samples.push(Sample::new(
            "node_cpu_seconds_total",
            vec![("cpu".into(), cpu.to_string().into()), ("mode".into(), "idle".into())],
            cpu_idle,
        ));
    }
    samples.push(Sample::new(
        "node_disk_io_time_seconds_total",
        vec![("device".into(), "nvme0n1".into())],
        cpu_idle / 2.0,
    ));
    Some(Point { timestamp_ms: t, samples })
}

/// Facts flow through features and the shipped rules; a node whose targets are all down
/// stays down although its facts were read; and the two findings that disagree on
/// concurrent_compactors are resolved to one.
#[test]
fn facts_reach_the_shipped_rules_and_contradictory_advice_is_resolved() {
    let rounds = 6;
    let up = SourceSeries {
        source: "http://n1/metrics".into(),
        points: (0..rounds).map(|r| round(r as i64 * 60_000, r as f64 * 50.0, 500.0)).collect(),
    };
    let down = SourceSeries { source: "http://n2/metrics".into(), points: vec![None; rounds] };
    let mut snapshot = Snapshot {
        rounds,
        clusters: vec![ClusterSnapshot {
            name: "c".into(),
            system: System::Cassandra,
            nodes: vec![
                NodeSnapshot { name: "n1".into(), sources: vec![up] },
                NodeSnapshot { name: "n2".into(), sources: vec![down] },
            ],
            cluster_sources: vec![],
        }],
    };
    let facts = config_files::read(&cassandra_files(), Catalog::builtin(), System::Cassandra);
    let by_node: BTreeMap<(String, String), Facts> = [
        (("c".to_string(), "n1".to_string()), facts.clone()),
        (("c".to_string(), "n2".to_string()), facts),
    ]
    .into_iter()
    .collect();
    config_files::attach(&mut snapshot, &by_node);

    let frames = features::extract(&snapshot, Catalog::builtin(), 600_000).unwrap();
    let last = &frames[rounds - 1][0];
    assert_eq!(
        last.f64_column("up").unwrap(),
        vec![Some(1.0), Some(0.0)],
        "facts are not a target"
    );
    assert_eq!(last.f64_column("cfg_concurrent_compactors").unwrap(), vec![Some(16.0), Some(16.0)]);

    let rules = RuleSet::builtin(Catalog::builtin());
    let firing = analyzers::analyze(&frames, &rules.rules).unwrap().firing;
    let ids = |node: &str, fs: &[opsadvisor::findings::Finding]| -> Vec<String> {
        let mut v: Vec<String> =
            fs.iter().filter(|f| f.node.as_deref() == Some(node)).map(|f| f.id.clone()).collect();
        v.sort();
        v
    };
    let n1 = ids("n1", &firing);
    for expected in [
        "cassandra_compaction_backlog",
        "cassandra_concurrent_compactors_too_high",
        "cassandra_simple_snitch",
        "cassandra_authentication_off",
        "cassandra_jvm_no_oom_exit",
        "jvm_heap_min_max_differ",
        "cassandra_swap_enabled",
        "cassandra_max_map_count_low",
        "cassandra_read_ahead_high",
        "cassandra_process_limits_low",
        "cassandra_num_tokens_unsuited",
        "cassandra_auto_snapshot_disabled",
        "cassandra_encryption_off",
        "cassandra_batch_fail_threshold_raised",
    ] {
        assert!(n1.contains(&expected.to_string()), "{expected} missing from {n1:?}");
    }
    assert!(ids("n2", &firing).contains(&"cassandra_node_down".to_string()));
    let too_high =
        firing.iter().find(|f| f.id == "cassandra_concurrent_compactors_too_high").unwrap();
    assert!(
        too_high.action.contains("Set concurrent_compactors to 2 "),
        "computed from 4 cores and 1 disk: {}",
        too_high.action
    );

    let (kept, set_aside) = conflicts::resolve(firing);
    let n1_kept = ids("n1", &kept);
    assert!(n1_kept.contains(&"cassandra_concurrent_compactors_too_high".to_string()));
    assert!(!n1_kept.contains(&"cassandra_compaction_backlog".to_string()));
    let aside: Vec<_> = set_aside.iter().filter(|s| s.node.as_deref() == Some("n1")).collect();
    assert_eq!(aside.len(), 1, "{set_aside:?}");
    assert_eq!(aside[0].id, "cassandra_compaction_backlog");
    assert_eq!(aside[0].setting, "concurrent_compactors");
    assert_eq!(aside[0].kept, "cassandra_concurrent_compactors_too_high");
    assert!(aside[0].reason.contains("2 measured conditions, this on 1"), "{}", aside[0].reason);
}

#[test]
fn kafka_retention_is_read_in_kafkas_order_ms_then_minutes_then_hours() {
    let dir = std::env::temp_dir().join(format!("opsadvisor-retention-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let read = |text: &str| {
        let path = dir.join("server.properties");
        std::fs::write(&path, text).unwrap();
        let files = ConfigFilesConfig { server_properties: Some(path), ..Default::default() };
        config_files::read(&files, Catalog::builtin(), System::Kafka)
    };
    let f =
        read("log.retention.hours=72\nlog.retention.ms=3600000\nlog.retention.bytes=1073741824\n");
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    assert_eq!(value(&f, "cfg_log_retention_seconds"), Some(3600.0));
    assert_eq!(value(&f, "cfg_log_retention_bytes"), Some(1_073_741_824.0));
    let f = read("log.retention.hours=72\n");
    assert_eq!(value(&f, "cfg_log_retention_seconds"), Some(72.0 * 3600.0));
    assert_eq!(value(&f, "cfg_log_retention_bytes"), None);
    let f = read("log.retention.minutes=90\nlog.retention.hours=72\n");
    assert_eq!(value(&f, "cfg_log_retention_seconds"), Some(5400.0));
    // -1: no time limit (a negative number the capacity analyzer reads as unlimited).
    let f = read("log.retention.ms=-1\n");
    assert!(value(&f, "cfg_log_retention_seconds").unwrap() < 0.0);
    std::fs::remove_dir_all(&dir).unwrap();
}
