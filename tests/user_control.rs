//! User control over checks: per-cluster thresholds, disabled checks, snoozes, and config
//! mistakes about them reported by path.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{TempDir, serve_text};
use opsadvisor::config::Config;
use opsadvisor::features::catalog::Catalog;
use opsadvisor::pipeline;
use opsadvisor::sinks::report::Report;
use std::path::Path;

const BACKLOG: &str = "cassandra_compaction_pendingtasks 250\n";

async fn run(extra_top: &str, per_cluster: &[&str]) -> Result<Report, opsadvisor::Error> {
    let mut yaml =
        format!("scrape: {{ interval: 50ms, timeout: 1s, samples: 2 }}\n{extra_top}\nclusters:\n");
    for (i, extra) in per_cluster.iter().enumerate() {
        let url = serve_text(BACKLOG).await;
        yaml.push_str(&format!(
            "  - name: c{i}\n    system: cassandra\n{extra}    targets: [{{ node: n1, metrics: '{url}' }}]\n"
        ));
    }
    let config = Config::from_yaml(&yaml, Path::new("/")).unwrap();
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    pipeline::advise(&config, &rules).await
}

fn backlog_clusters(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.id == "cassandra_compaction_backlog")
        .map(|f| f.cluster.clone())
        .collect()
}

// `for: 2m` needs data time; with two scrapes 50 ms apart the rule is only pending, so these
// tests use a rule directory whose backlog rule has no `for`.
fn rules_without_for() -> TempDir {
    let dir = TempDir::new("user_control");
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/cassandra.yaml"))
            .unwrap();
    std::fs::write(dir.path().join("cassandra.yaml"), text.replace("for: 2m", "for: 0s")).unwrap();
    dir
}

#[tokio::test]
async fn a_cluster_threshold_override_applies_to_that_cluster_only() {
    let dir = rules_without_for();
    let top = format!("rule_dirs: ['{}']", dir.path().display());
    let r = run(
        &top,
        &["    thresholds: { cassandra_compaction_backlog: { pending_compactions: 300 } }\n", ""],
    )
    .await
    .unwrap();
    assert_eq!(backlog_clusters(&r), ["c1"]);
    let r = run(
        &top,
        &["    thresholds: { cassandra_compaction_backlog: { pending_compactions: 200 } }\n", ""],
    )
    .await
    .unwrap();
    assert_eq!(backlog_clusters(&r), ["c0", "c1"]);
    // The evidence shows the threshold that applied on each cluster.
    let thresholds: Vec<Option<f64>> = r
        .findings
        .iter()
        .filter(|f| f.id == "cassandra_compaction_backlog")
        .map(|f| f.evidence[0].threshold)
        .collect();
    assert_eq!(thresholds, [Some(200.0), Some(100.0)]);
}

#[tokio::test]
async fn disabled_checks_are_not_reported() {
    let dir = rules_without_for();
    let top = format!("rule_dirs: ['{}']", dir.path().display());
    let r =
        run(&top, &["    disabled_checks: [cassandra_compaction_backlog]\n", ""]).await.unwrap();
    assert_eq!(backlog_clusters(&r), ["c1"]);
    let top = format!("{top}\nchecks: {{ disabled: [cassandra_compaction_backlog] }}");
    let r = run(&top, &["", ""]).await.unwrap();
    assert!(backlog_clusters(&r).is_empty());
}

#[tokio::test]
async fn a_snooze_hides_a_finding_until_it_expires() {
    let dir = rules_without_for();
    let top = format!("rule_dirs: ['{}']", dir.path().display());
    let fp = opsadvisor::findings::fingerprint(
        "cassandra_compaction_backlog",
        opsadvisor::System::Cassandra,
        "c0",
        Some("n1"),
    );
    let snooze = |until: &str| {
        format!(
            "{top}\nchecks: {{ snoozed: [{{ fingerprint: '{fp}', until: '{until}', reason: 'tuning on Monday' }}] }}"
        )
    };
    let r = run(&snooze("2999-01-01"), &["", ""]).await.unwrap();
    assert_eq!(backlog_clusters(&r), ["c1"]);
    assert_eq!(r.snoozed.len(), 1);
    assert_eq!(r.snoozed[0].fingerprint, fp);
    assert_eq!(r.snoozed[0].reason, "tuning on Monday");
    let r = run(&snooze("2000-01-01T00:00:00Z"), &["", ""]).await.unwrap();
    assert_eq!(backlog_clusters(&r), ["c0", "c1"]);
    assert!(r.snoozed.is_empty());
}

#[tokio::test]
async fn mistakes_about_checks_are_config_errors_with_paths() {
    let err = run(
        "checks: { disabled: [no_such_check] }",
        &["    thresholds: { cassandra_compaction_backlog: { pending_compactoins: 1 } }\n    disabled_checks: [nope]\n"],
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    // An invalid config (contracts §2.6: EX_CONFIG).
    assert_eq!(err.exit_code(), 78);
    assert!(text.contains("checks.disabled[0]: unknown check 'no_such_check'"), "{text}");
    assert!(text.contains("clusters[0].disabled_checks[0]: unknown check 'nope'"), "{text}");
    assert!(
        text.contains("clusters[0].thresholds.cassandra_compaction_backlog.pending_compactoins: 'pending_compactoins' is not compared with a number"),
        "{text}"
    );
    let bad = Config::from_yaml(
        "checks: { snoozed: [{ fingerprint: xyz, until: tomorrow }] }\nclusters: [{ name: a, system: kafka, targets: [{ node: b, metrics: 'http://x:1/m' }] }]\n",
        Path::new("/"),
    )
    .unwrap_err();
    let text: Vec<String> = bad.iter().map(ToString::to_string).collect();
    assert!(text.iter().any(|t| t.starts_with("checks.snoozed[0].fingerprint")), "{text:?}");
    assert!(text.iter().any(|t| t.starts_with("checks.snoozed[0].until")), "{text:?}");
}
