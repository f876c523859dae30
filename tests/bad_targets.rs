//! A bad target costs only itself: down, slow, non-200 and garbage targets are reported
//! with their reason while the good target's findings are unchanged.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use opsadvisor::config::Config;
use opsadvisor::pipeline;
use std::path::Path;
use std::time::Duration;

mod common;
use common::{TempDir, refused_url, serve};

/// A Cassandra node whose compaction backlog grows: a real exposition with HELP/TYPE.
fn good_exposition() -> String {
    "# HELP cassandra_compaction_pendingtasks Pending compactions\n\
     # TYPE cassandra_compaction_pendingtasks gauge\n\
     cassandra_compaction_pendingtasks 250\n\
     # TYPE jvm_memory_used_bytes gauge\n\
     jvm_memory_used_bytes{area=\"heap\"} 1e9\n\
     jvm_memory_max_bytes{area=\"heap\"} 8e9\n"
        .to_string()
}

fn config(urls: &[(&str, &str)], rules: &Path) -> Config {
    let mut yaml = format!(
        "scrape: {{ interval: 100ms, timeout: 300ms, samples: 3 }}\nrule_dirs: ['{}']\nclusters:\n  - name: c\n    system: cassandra\n    targets:\n",
        rules.display()
    );
    for (node, url) in urls {
        yaml.push_str(&format!("      - {{ node: {node}, metrics: '{url}' }}\n"));
    }
    Config::from_yaml(&yaml, Path::new("/")).unwrap()
}

fn rules_dir() -> TempDir {
    let dir = TempDir::new("bad_targets");
    std::fs::write(
        dir.path().join("r.yaml"),
        "groups:\n- name: g\n  system: cassandra\n  rules:\n  - id: backlog\n    expr: pending_compactions > 100\n    severity: warning\n    category: tuning\n    annotations: {symptom: '{{ pending_compactions }} pending on {{ node }}', action: a}\n",
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn bad_targets_are_reported_and_the_good_one_still_advises() {
    let good = serve(Router::new().route("/metrics", get(|| async { good_exposition() }))).await;
    let error = serve(
        Router::new()
            .route("/metrics", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") })),
    )
    .await;
    let garbage =
        serve(Router::new().route("/metrics", get(|| async { "this is { not an exposition\n" })))
            .await;
    let invalid_utf8 =
        serve(Router::new().route("/metrics", get(|| async { vec![0xffu8, 0xfe, b'\n'] }))).await;
    let slow = serve(Router::new().route(
        "/metrics",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            good_exposition()
        }),
    ))
    .await;
    let refused = refused_url().await;
    let rules = rules_dir();

    let alone = config(&[("good", &good)], rules.path());
    let rules_alone =
        pipeline::load_rules(&alone, opsadvisor::features::catalog::Catalog::builtin());
    assert!(rules_alone.errors.is_empty(), "{:?}", rules_alone.errors);
    let baseline = pipeline::advise(&alone, &rules_alone).await.unwrap();

    let mixed = config(
        &[
            ("good", &good),
            ("error", &error),
            ("garbage", &garbage),
            ("utf8", &invalid_utf8),
            ("slow", &slow),
            ("refused", &refused),
        ],
        rules.path(),
    );
    let report = pipeline::advise(&mixed, &rules_alone).await.unwrap();

    assert_eq!(
        report.findings, baseline.findings,
        "bad targets changed the good target's findings"
    );
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].node.as_deref(), Some("good"));
    assert_eq!(report.findings[0].symptom, "250 pending on good");

    let reason = |node: &str| {
        let t = report.targets.iter().find(|t| t.node.as_deref() == Some(node)).unwrap();
        assert!(!t.up, "{node} should be down");
        assert_eq!(t.scrapes_failed, 3);
        t.error.clone().unwrap()
    };
    assert_eq!(reason("error"), "HTTP 503");
    assert!(reason("garbage").starts_with("invalid exposition: line 1"), "{}", reason("garbage"));
    assert!(reason("utf8").starts_with("invalid exposition: line 1"), "{}", reason("utf8"));
    assert_eq!(reason("slow"), "timeout");
    assert!(reason("refused").starts_with("connection failed"), "{}", reason("refused"));
    assert!(report.targets.iter().find(|t| t.node.as_deref() == Some("good")).unwrap().up);
}

#[tokio::test]
async fn no_target_up_is_its_own_error() {
    let rules = rules_dir();
    let cfg = config(&[("a", &refused_url().await)], rules.path());
    let set = pipeline::load_rules(&cfg, opsadvisor::features::catalog::Catalog::builtin());
    let err = pipeline::advise(&cfg, &set).await.unwrap_err();
    assert!(matches!(err, opsadvisor::Error::NoTargetUp), "{err}");
    // A runtime failure (contracts §2.6); 3 means findings at or above --fail-on.
    assert_eq!(err.exit_code(), 1);
}

/// A target that sends more than `max_body_bytes`, or trickles its body past the timeout,
/// fails alone with the reason; the good target next to it still advises.
#[tokio::test]
async fn oversized_and_trickling_bodies_cost_only_their_target() {
    use axum::body::Body;
    let good = serve(Router::new().route("/metrics", get(|| async { good_exposition() }))).await;
    // 4 MiB of valid exposition against a 1 MiB cap, without Content-Length (chunked).
    let huge = serve(Router::new().route(
        "/metrics",
        get(|| async {
            let chunks = (0..64).map(|i| {
                let line = format!("filler_metric{{i=\"{i}\"}} 1\n");
                Ok::<_, std::io::Error>(line.repeat(65_536 / line.len()))
            });
            Body::from_stream(futures::stream::iter(chunks))
        }),
    ))
    .await;
    // One line every 200 ms: the 300 ms timeout runs out mid-body.
    let trickle = serve(Router::new().route(
        "/metrics",
        get(|| async {
            let stream = futures::stream::unfold(0, |i| async move {
                if i == 50 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                Some((Ok::<_, std::io::Error>(format!("slow_metric{{i=\"{i}\"}} 1\n")), i + 1))
            });
            Body::from_stream(stream)
        }),
    ))
    .await;
    let rules = rules_dir();
    let mut cfg = config(&[("good", &good), ("huge", &huge), ("trickle", &trickle)], rules.path());
    cfg.scrape.max_body_bytes = 1 << 20;
    let set = pipeline::load_rules(&cfg, opsadvisor::features::catalog::Catalog::builtin());
    let report = pipeline::advise(&cfg, &set).await.unwrap();
    assert_eq!(report.findings.len(), 1);
    let error = |node: &str| {
        report
            .targets
            .iter()
            .find(|t| t.node.as_deref() == Some(node))
            .unwrap()
            .error
            .clone()
            .unwrap_or_default()
    };
    assert_eq!(error("huge"), "body larger than 1048576 bytes");
    assert!(
        error("trickle").contains("timeout") || error("trickle").contains("reading body"),
        "{}",
        error("trickle")
    );
}

/// A gzip-encoded exposition (as exporters send when asked) is decompressed transparently.
#[tokio::test]
async fn gzip_encoded_bodies_are_read() {
    // gzip of "# TYPE cassandra_compaction_pendingtasks gauge\ncassandra_compaction_pendingtasks 250\n"
    const GZ: [u8; 73] = [
        31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 83, 86, 8, 137, 12, 112, 85, 72, 78, 44, 46, 78, 204, 75,
        41, 74, 140, 79, 206, 207, 45, 72, 76, 46, 201, 204, 207, 139, 47, 72, 205, 75, 201, 204,
        75, 47, 73, 44, 206, 46, 86, 72, 79, 44, 77, 79, 229, 34, 172, 206, 200, 212, 128, 11, 0,
        167, 14, 98, 190, 85, 0, 0, 0,
    ];
    let url = serve(Router::new().route(
        "/metrics",
        get(|headers: axum::http::HeaderMap| async move {
            let accepts = headers
                .get("accept-encoding")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("gzip"));
            assert!(accepts, "opsadvisor should ask for gzip");
            (
                [("content-encoding", "gzip"), ("content-type", "text/plain; version=0.0.4")],
                GZ.to_vec(),
            )
        }),
    ))
    .await;
    let rules = rules_dir();
    let cfg = config(&[("gz", &url)], rules.path());
    let set = pipeline::load_rules(&cfg, opsadvisor::features::catalog::Catalog::builtin());
    let report = pipeline::advise(&cfg, &set).await.unwrap();
    assert!(report.targets[0].up, "{:?}", report.targets[0]);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].symptom, "250 pending on gz");
}

/// A target that sends its headers and part of its body, then resets the connection
/// (SO_LINGER 0, so the kernel sends RST instead of FIN), fails alone with a reason that
/// names the reset; the good target's findings are what they are without it.
#[tokio::test]
async fn a_connection_reset_mid_body_costs_only_its_target() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let reset = format!("http://{}/metrics", listener.local_addr().unwrap());
    let resets = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = resets.clone();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "cassandra_compaction_pendingtasks 999\n".repeat(100);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
                    body.len() * 10
                );
                conn.write_all(head.as_bytes()).await.unwrap();
                conn.write_all(body.as_bytes()).await.unwrap();
                conn.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                conn.set_zero_linger().unwrap();
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                drop(conn); // RST
            });
        }
    });
    let good = serve(Router::new().route("/metrics", get(|| async { good_exposition() }))).await;
    let rules = rules_dir();
    let alone = config(&[("good", &good)], rules.path());
    let set = pipeline::load_rules(&alone, opsadvisor::features::catalog::Catalog::builtin());
    let baseline = pipeline::advise(&alone, &set).await.unwrap();
    let mixed = config(&[("good", &good), ("reset", &reset)], rules.path());
    let report = pipeline::advise(&mixed, &set).await.unwrap();
    assert_eq!(report.findings, baseline.findings, "the reset changed the good target's findings");
    assert_eq!(report.findings.len(), 1);
    let t = report.targets.iter().find(|t| t.node.as_deref() == Some("reset")).unwrap();
    assert!(!t.up);
    assert_eq!(t.scrapes_failed, 3);
    let e = t.error.clone().unwrap();
    eprintln!("reset target: {e}");
    assert!(e.starts_with("connection reset while reading body"), "{e}");
    assert!(resets.load(std::sync::atomic::Ordering::Relaxed) >= 3, "the server really reset");
}
