//! TLS with a custom CA: a CA and server certificates are made at test time with the
//! `openssl` CLI (skipped, saying so, when it is absent) and served on 127.0.0.1 by a
//! rustls server. A cluster that trusts the CA scrapes fine; one that does not is down with
//! a reason naming the certificate; other clusters are unaffected.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{TempDir, serve_text};
use opsadvisor::config::Config;
use opsadvisor::sources;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::{self, pki_types::pem::PemObject};

/// A CA, and a server certificate it signed for `san` (e.g. `DNS:localhost,IP:127.0.0.1`).
fn make_certs(dir: &Path, san: &str) -> bool {
    common::make_ca(dir)
        && common::make_signed_cert(
            dir,
            "server",
            "opsadvisor test server",
            &format!("subjectAltName={san}"),
        )
}

/// Serves a fixed exposition over TLS with `dir`'s server certificate; returns the port.
async fn serve_tls(dir: &Path) -> u16 {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake: not an error here.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "cassandra_compaction_pendingtasks 42\n";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn cluster(name: &str, tls: &str, url: &str) -> String {
    format!(
        "  - name: {name}\n    system: cassandra\n{tls}    targets: [{{ node: {name}-1, metrics: '{url}' }}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_ca_is_trusted_only_where_configured() {
    let dir = TempDir::new("tls");
    if !make_certs(dir.path(), "DNS:localhost,IP:127.0.0.1") {
        eprintln!("skipped: the openssl CLI is not available to make test certificates");
        return;
    }
    let port = serve_tls(dir.path()).await;
    let https = format!("https://localhost:{port}/metrics");
    let plain = serve_text("cassandra_compaction_pendingtasks 7\n").await;
    let ca = dir.path().join("ca.pem");
    let ca = ca.display();
    let yaml = format!(
        "scrape: {{ interval: 50ms, timeout: 3s, samples: 2 }}\nclusters:\n{}{}{}{}{}",
        cluster("trusted", &format!("    tls: {{ ca_file: '{ca}' }}\n"), &https),
        cluster("untrusted", "", &https),
        cluster("plain", "", &plain),
        cluster("missing_ca", "    tls: { ca_file: /nonexistent/ca.pem }\n", &https),
        cluster("lab", "    tls: { insecure_skip_verify: true }\n", &https),
    );
    let config = Config::from_yaml(&yaml, Path::new("/")).unwrap();
    let client = sources::http_client(Duration::from_secs(3)).unwrap();
    let (snapshot, health) = sources::collect(&config, &client).await;
    let h = |c: &str| health.iter().find(|h| h.cluster == c).unwrap();
    assert!(h("trusted").up, "{:#?}", h("trusted"));
    assert!(h("plain").up, "{:#?}", h("plain"));
    assert!(h("lab").up, "{:#?}", h("lab"));
    let untrusted = h("untrusted");
    assert!(!untrusted.up);
    let reason = untrusted.error.clone().unwrap();
    eprintln!("untrusted: {reason}");
    assert!(
        reason.starts_with("TLS certificate rejected") && reason.contains("certificate"),
        "{reason}"
    );
    let missing = h("missing_ca").error.clone().unwrap();
    assert_eq!(missing, "tls: cannot read ca_file /nonexistent/ca.pem: entity not found");
    // The trusted cluster's data arrived.
    let trusted = snapshot.clusters.iter().find(|c| c.name == "trusted").unwrap();
    let point = trusted.nodes[0].sources[0].points.last().cloned().flatten().unwrap();
    assert_eq!(point.samples[0].value, 42.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_mismatch_is_named_and_can_be_allowed() {
    let dir = TempDir::new("tls-name");
    if !make_certs(dir.path(), "DNS:cass-1.db.internal") {
        eprintln!("skipped: the openssl CLI is not available to make test certificates");
        return;
    }
    let port = serve_tls(dir.path()).await;
    let url = format!("https://127.0.0.1:{port}/metrics");
    let ca = dir.path().join("ca.pem");
    let ca = ca.display();
    let yaml = format!(
        "scrape: {{ interval: 50ms, timeout: 3s, samples: 2 }}\nclusters:\n{}{}{}{}",
        cluster("strict", &format!("    tls: {{ ca_file: '{ca}' }}\n"), &url),
        cluster(
            "named",
            &format!("    tls: {{ ca_file: '{ca}', server_name: cass-1.db.internal }}\n"),
            &url
        ),
        cluster(
            "misnamed",
            &format!("    tls: {{ ca_file: '{ca}', server_name: cass-2.db.internal }}\n"),
            &url
        ),
        cluster(
            "by_ip",
            &format!("    tls: {{ ca_file: '{ca}', skip_hostname_verify: true }}\n"),
            &url
        ),
    );
    let config = Config::from_yaml(&yaml, Path::new("/")).unwrap();
    let client = sources::http_client(Duration::from_secs(3)).unwrap();
    let (_, health) = sources::collect(&config, &client).await;
    let strict = health.iter().find(|h| h.cluster == "strict").unwrap();
    let reason = strict.error.clone().unwrap();
    eprintln!("strict: {reason}");
    assert!(!strict.up && reason.contains("certificate"), "{reason}");
    let by_ip = health.iter().find(|h| h.cluster == "by_ip").unwrap();
    assert!(by_ip.up, "{by_ip:#?}");
    let named = health.iter().find(|h| h.cluster == "named").unwrap();
    assert!(named.up, "{named:#?}");
    let misnamed = health.iter().find(|h| h.cluster == "misnamed").unwrap();
    let reason = misnamed.error.clone().unwrap();
    eprintln!("misnamed: {reason}");
    assert!(!misnamed.up && reason.contains("certificate not valid for name"), "{reason}");
}

#[test]
fn conflicting_tls_settings_are_config_errors() {
    let yaml = "clusters:\n  - name: c\n    system: kafka\n    tls: { insecure_skip_verify: true, ca_file: ca.pem }\n    targets: [{ node: a, metrics: 'https://a:7071/metrics' }]\n";
    let issues = Config::from_yaml(yaml, Path::new("/")).unwrap_err();
    assert!(issues.iter().any(|i| i.path == "clusters[0].tls.insecure_skip_verify"), "{issues:?}");
    for (tls, field) in [
        ("{ server_name: db.internal }", "server_name"),
        ("{ skip_hostname_verify: true }", "skip_hostname_verify"),
        ("{ ca_file: ca.pem, server_name: 'not a name' }", "server_name"),
    ] {
        let yaml = format!(
            "clusters:\n  - name: c\n    system: kafka\n    tls: {tls}\n    targets: [{{ node: a, metrics: 'https://a:7071/metrics' }}]\n"
        );
        let issues = Config::from_yaml(&yaml, Path::new("/")).unwrap_err();
        assert!(
            issues.iter().any(|i| i.path == format!("clusters[0].tls.{field}")),
            "{tls}: {issues:?}"
        );
    }
    let yaml = "clusters:\n  - name: c\n    system: kafka\n    tls: { ca: x }\n    targets: [{ node: a, metrics: 'https://a:7071/metrics' }]\n";
    assert!(Config::from_yaml(yaml, Path::new("/")).is_err());
}
