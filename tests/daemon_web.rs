//! The daemon's web server as Prometheus-ecosystem users configure it: `--web.config.file`
//! (exporter-toolkit format: TLS, client certificates, bcrypt basic auth, security headers,
//! re-read when it changes), `--web.enable-lifecycle` with `/-/quit`, and
//! `--web.telemetry-path`. The real binary on 127.0.0.1; certificates are made at test time
//! with the `openssl` CLI (the TLS tests skip, saying so, when it is absent).

#![allow(clippy::unwrap_used)]

mod common;

use common::{KillOnDrop, TempDir, free_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `ca.pem`, a server certificate `server.pem`/`server.key` for localhost and 127.0.0.1, and
/// a client certificate `client.pem`/`client.key`, all signed by the CA.
fn make_certs(dir: &Path) -> bool {
    common::make_ca(dir)
        && common::make_signed_cert(
            dir,
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        )
        && common::make_signed_cert(dir, "client", "prometheus", "extendedKeyUsage=clientAuth")
}

/// A config scraping one broker that nothing serves (the web server is what is tested).
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("opsadvisor.yaml");
    std::fs::write(
        &path,
        "scrape: { interval: 200ms, timeout: 1s }\nclusters:\n  - name: k\n    system: kafka\n    targets: [{ node: b1, metrics: 'http://127.0.0.1:9/metrics' }]\n",
    )
    .unwrap();
    path
}

struct Daemon {
    child: KillOnDrop,
    log: PathBuf,
    port: u16,
}

fn spawn(dir: &Path, args: &[&str]) -> Daemon {
    let port = free_port();
    let log = dir.join(format!("daemon.{port}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(common::binary())
        .args(["daemon", "--config"])
        .arg(config(dir))
        .arg("--storage.path")
        .arg(dir.join("data"))
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    Daemon { child: KillOnDrop(child), log, port }
}

impl Daemon {
    /// Waits until `probe` answers `Some` (15 s at most).
    async fn wait_for<T>(&self, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(v) = probe().await {
                return v;
            }
            assert!(Instant::now() < end, "timed out; log:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit (15 s at most); its exit code.
    async fn exited(&mut self) -> Option<i32> {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = self.child.0.try_wait().unwrap() {
                return s.code();
            }
            assert!(Instant::now() < end, "the daemon did not exit; log:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A client trusting only the test CA, optionally presenting the client certificate.
fn client(dir: &Path, with_client_cert: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(5)).tls_certs_only([ca]);
    if with_client_cert {
        let mut pem = std::fs::read(dir.join("client.pem")).unwrap();
        pem.extend(std::fs::read(dir.join("client.key")).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

async fn status(req: reqwest::RequestBuilder) -> Option<u16> {
    req.send().await.ok().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_basic_auth_headers_reread_and_quit() {
    let dir = TempDir::new("web-https");
    if !make_certs(dir.path()) {
        eprintln!("skipped: the openssl CLI is not available to make test certificates");
        return;
    }
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS12\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n\
             basic_auth_users:\n  prometheus: '{hash}'\n"
        ),
    )
    .unwrap();
    let mut d = spawn(
        dir.path(),
        &[
            "--web.config.file",
            web.to_str().unwrap(),
            "--web.enable-lifecycle",
            "--web.telemetry-path",
            "/internal/metrics",
        ],
    );
    let https = client(dir.path(), false);
    let base = format!("https://localhost:{}", d.port);
    // Probes: open, over TLS with our CA, and carrying the configured header.
    let healthy =
        d.wait_for(async || https.get(format!("{base}/-/healthy")).send().await.ok()).await;
    assert_eq!(healthy.status().as_u16(), 200);
    assert_eq!(healthy.headers()["x-content-type-options"], "nosniff");

    // Plain HTTP on the TLS port is refused, as Go's net/http does; so is a client that does
    // not trust the CA.
    let plain = opsadvisor::sources::http_client(Duration::from_secs(5)).unwrap();
    let r = plain.get(format!("http://127.0.0.1:{}/-/healthy", d.port)).send().await;
    assert!(r.as_ref().map_or(true, |r| r.status().as_u16() == 400), "{r:?}");
    let r = plain.get(format!("{base}/-/healthy")).send().await;
    assert!(r.is_err(), "a client without the CA must not connect: {r:?}");

    // Basic auth: none or a wrong password is 401 with a Basic challenge; the right one 200.
    let api = format!("{base}/api/v1/targets");
    let r = https.get(&api).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"), "{r:?}");
    assert_eq!(status(https.get(&api).basic_auth("prometheus", Some("wrong"))).await, Some(401));
    assert_eq!(
        status(https.get(&api).basic_auth("nobody", Some("correct horse"))).await,
        Some(401)
    );
    let ok = https.get(&api).basic_auth("prometheus", Some("correct horse")).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.headers()["x-content-type-options"], "nosniff");

    // The telemetry path moved; /metrics is no longer served.
    let auth = |path: &str| {
        https.get(format!("{base}{path}")).basic_auth("prometheus", Some("correct horse"))
    };
    let metrics = auth("/internal/metrics").send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    assert!(metrics.text().await.unwrap().contains("opsadvisor_build_info"));
    assert_eq!(status(auth("/metrics")).await, Some(404));

    // The file is re-read when it changes: a new user works without a restart.
    let hash2 = bcrypt::hash("battery staple", 4).unwrap();
    let text = std::fs::read_to_string(&web).unwrap();
    std::fs::write(&web, format!("{text}  grafana: '{hash2}'\n")).unwrap();
    d.wait_for(async || {
        (status(https.get(&api).basic_auth("grafana", Some("battery staple"))).await == Some(200))
            .then_some(())
    })
    .await;

    // /-/quit needs credentials, then drains as SIGTERM does and exits 0.
    assert_eq!(status(https.post(format!("{base}/-/quit"))).await, Some(401));
    let r = https
        .post(format!("{base}/-/quit"))
        .basic_auth("prometheus", Some("correct horse"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(d.exited().await, Some(0), "{}", d.logs());
    let logs = d.logs();
    assert!(logs.contains("/-/quit") && logs.contains("Shutting down"), "{logs}");
    for secret in ["correct horse", "battery staple", &hash, &hash2] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_and_verified() {
    let dir = TempDir::new("web-mtls");
    if !make_certs(dir.path()) {
        eprintln!("skipped: the openssl CLI is not available to make test certificates");
        return;
    }
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
    )
    .unwrap();
    let d = spawn(dir.path(), &["--web.config.file", web.to_str().unwrap()]);
    let base = format!("https://localhost:{}", d.port);
    let with_cert = client(dir.path(), true);
    d.wait_for(async || status(with_cert.get(format!("{base}/-/healthy"))).await).await;
    assert_eq!(status(with_cert.get(format!("{base}/api/v1/targets"))).await, Some(200));
    let without = client(dir.path(), false);
    let r = without.get(format!("{base}/-/healthy")).send().await;
    assert!(r.is_err(), "no client certificate must mean no connection: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_is_forbidden_without_the_lifecycle_flag_and_metrics_stay_at_their_default() {
    let dir = TempDir::new("web-noquit");
    let d = spawn(dir.path(), &[]);
    let plain = opsadvisor::sources::http_client(Duration::from_secs(5)).unwrap();
    let base = format!("http://127.0.0.1:{}", d.port);
    d.wait_for(async || status(plain.get(format!("{base}/-/healthy"))).await).await;
    let r = plain.post(format!("{base}/-/quit")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.text().await.unwrap(), "Lifecycle API is not enabled.\n");
    assert_eq!(status(plain.get(format!("{base}/metrics"))).await, Some(200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(plain.get(format!("{base}/-/healthy"))).await, Some(200), "still running");
}

#[test]
fn a_bad_web_config_file_exits_78_naming_the_file_and_the_field() {
    let dir = TempDir::new("web-bad");
    let run = |web_text: &str| {
        let web = dir.path().join("bad-web.yml");
        std::fs::write(&web, web_text).unwrap();
        let out = Command::new(common::binary())
            .args(["daemon", "--config"])
            .arg(config(dir.path()))
            .arg("--storage.path")
            .arg(dir.path().join("data"))
            .args(["--web.listen-address", &format!("127.0.0.1:{}", free_port())])
            .arg("--web.config.file")
            .arg(&web)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for (text, field) in [
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n",
            "tls_server_config.cert_file",
        ),
        ("tls_server_config:\n  key_file: server.key\n", "tls_server_config.cert_file"),
        ("basic_auth_users:\n  alice: plaintext-password\n", "basic_auth_users.alice"),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allowall\n",
            "http_server_config.headers.X-Frame-Options",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "cipher_suites",
        ),
    ] {
        let (code, err) = run(text);
        assert_eq!(code, Some(78), "{text}: {err}");
        assert!(err.contains("bad-web.yml") && err.contains(field), "{text}: {err}");
        assert!(
            !err.contains("plaintext-password"),
            "a password in the file must not be echoed: {err}"
        );
    }
    // A telemetry path that collides with the API is a usage error (2).
    let out = Command::new(common::binary())
        .args(["daemon", "--config"])
        .arg(config(dir.path()))
        .args(["--web.telemetry-path", "/-/ready"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
