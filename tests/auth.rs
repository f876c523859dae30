//! Targets behind basic or bearer auth, with secrets from files and environment variables;
//! a missing secret fails only its cluster's targets; no secret reaches a report.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use common::{TempDir, serve};
use opsadvisor::config::Config;
use opsadvisor::features::catalog::Catalog;
use opsadvisor::pipeline;
use opsadvisor::sinks::report::ReportFormat;

async fn guarded(expected: &'static str) -> String {
    serve(Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| async move {
            let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected);
            if ok {
                (StatusCode::OK, "cassandra_compaction_pendingtasks 7\n")
            } else {
                (StatusCode::UNAUTHORIZED, "")
            }
        }),
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_and_bearer_secrets_come_from_files_and_env_and_never_show() {
    // "monitor:pa55word" in base64.
    let basic = guarded("Basic bW9uaXRvcjpwYTU1d29yZA==").await;
    let bearer = guarded("Bearer t0ken-xyz").await;
    let missing = guarded("Bearer whatever").await;
    let dir = TempDir::new("auth");
    let pw_file = dir.path().join("password");
    std::fs::write(&pw_file, "pa55word\n").unwrap();
    let var = "OPSADVISOR_TEST_BEARER";
    let yaml = format!(
        "scrape: {{ interval: 50ms, timeout: 1s, samples: 2 }}\nclusters:\n\
         - name: a\n  system: cassandra\n  auth: {{ username: monitor, password_file: '{}' }}\n  targets: [{{ node: n, metrics: '{basic}' }}]\n\
         - name: b\n  system: cassandra\n  auth: {{ bearer_token_env: {var} }}\n  targets: [{{ node: n, metrics: '{bearer}' }}]\n\
         - name: c\n  system: cassandra\n  auth: {{ bearer_token_env: {var}_UNSET }}\n  targets: [{{ node: n, metrics: '{missing}' }}]\n",
        pw_file.display()
    );
    let config_path = dir.path().join("opsadvisor.yaml");
    std::fs::write(&config_path, &yaml).unwrap();
    // The environment variable is given to a child process: setting it in this
    // multi-threaded test would need `unsafe`, which the crate forbids.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
            .args([
                "advise",
                "--config",
                config_path.to_str().unwrap(),
                "--format",
                "json",
                "--log-level",
                "debug",
            ])
            .env(var, "t0ken-xyz")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let health = |c: &str| {
        v["targets"].as_array().unwrap().iter().find(|t| t["cluster"] == c).unwrap().clone()
    };
    assert_eq!(health("a")["up"], true, "{}", health("a"));
    assert_eq!(health("b")["up"], true, "{}", health("b"));
    assert_eq!(health("c")["up"], false);
    assert_eq!(health("c")["error"], format!("auth: environment variable {var}_UNSET is not set"));
    // Not in the report, not in the debug logs.
    for text in [&stdout, &stderr] {
        assert!(!text.contains("pa55word") && !text.contains("t0ken-xyz"), "{text}");
    }
    // And not in the library's own view of the config.
    let config = Config::from_yaml(&yaml, std::path::Path::new("/")).unwrap();
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    let report = pipeline::advise(&config, &rules).await.unwrap();
    for text in [report.render(ReportFormat::Text, false), format!("{config:?}")] {
        assert!(!text.contains("pa55word") && !text.contains("t0ken-xyz"), "{text}");
    }
}
