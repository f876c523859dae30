//! Helpers shared by integration tests: tiny loopback exporters and scratch directories.

#![allow(dead_code, clippy::unwrap_used)]

use axum::Router;
use axum::routing::get;

/// Serves `router` on 127.0.0.1 and returns the `/metrics` URL.
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/metrics")
}

/// Serves a fixed exposition at `/metrics`.
pub(crate) async fn serve_text(body: &'static str) -> String {
    serve(Router::new().route("/metrics", get(move || async move { body }))).await
}

/// A URL on a port nothing listens on.
pub(crate) async fn refused_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/metrics")
}

/// The binary under test, pinned once per test process: a rebuild sharing the target
/// directory may replace the original while the tests run. A hard link keeps the built file
/// without writing a copy; a copy being written while a parallel test forks makes that
/// child hold it open for writing, and running it then fails with "Text file busy"
/// (`notify_kill` failed so in a CI run). A copy only where linking is not possible.
pub(crate) fn binary() -> &'static std::path::Path {
    static PINNED: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PINNED.get_or_init(|| {
        let pinned = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("opsadvisor-{}", std::process::id()));
        let _ = std::fs::remove_file(&pinned);
        if std::fs::hard_link(env!("CARGO_BIN_EXE_opsadvisor"), &pinned).is_err() {
            std::fs::copy(env!("CARGO_BIN_EXE_opsadvisor"), &pinned).unwrap();
        }
        pinned
    })
}

/// A directory removed on drop.
pub(crate) struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A fresh directory named after `tag`, the process and a counter (tests run in
    /// parallel threads of one process).
    pub(crate) fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("opsadvisor-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed and reaped when the test ends, pass or fail.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `url` until it answers 2xx, for up to 10 s; whether it did.
pub(crate) async fn wait_until_ok(url: &str) -> bool {
    let client = opsadvisor::sources::http_client(std::time::Duration::from_secs(2)).unwrap();
    for _ in 0..100 {
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// Debian's `prometheus` on a free loopback port, scraping every endpoint of a simulated
/// cluster as job `cassandra`, each target labelled `node` and `exporter` (`node` or `jmx`)
/// plus `extra_labels` (e.g. `"cluster: cass, "`). `global` is the `global:` block's body,
/// `job_options` extra keys of the job (e.g. `"honor_timestamps: false"`). Returns the
/// process (killed on drop) and its URL once it is ready.
pub(crate) async fn prometheus_scraping(
    dir: &std::path::Path,
    endpoints: &[opsadvisor::simulate::Endpoint],
    global: &str,
    job_options: &str,
    extra_labels: &str,
) -> (KillOnDrop, String) {
    let (process, port) = start_prometheus(dir, endpoints, global, job_options, extra_labels, &[]);
    let url = format!("http://127.0.0.1:{port}");
    assert!(wait_until_ok(&format!("{url}/-/ready")).await, "prometheus did not become ready");
    (process, url)
}

/// [`prometheus_scraping`]'s Prometheus with `extra_args`, started but not waited for (a
/// `--web.config.file` may need TLS or credentials to ask whether it is ready); its port.
pub(crate) fn start_prometheus(
    dir: &std::path::Path,
    endpoints: &[opsadvisor::simulate::Endpoint],
    global: &str,
    job_options: &str,
    extra_labels: &str,
    extra_args: &[String],
) -> (KillOnDrop, u16) {
    let mut scrape = format!("global: {{ {global} }}\nscrape_configs:\n  - job_name: cassandra\n");
    if !job_options.is_empty() {
        scrape.push_str(&format!("    {job_options}\n"));
    }
    scrape.push_str("    static_configs:\n");
    for e in endpoints {
        let host = e.url.trim_start_matches("http://").trim_end_matches("/metrics");
        let node = e.node.clone().unwrap_or_default();
        let kind = if matches!(e.kind, opsadvisor::simulate::EndpointKind::NodeExporter) {
            "node"
        } else {
            "jmx"
        };
        scrape.push_str(&format!(
            "      - {{ targets: ['{host}'], labels: {{ {extra_labels}node: '{node}', exporter: {kind} }} }}\n"
        ));
    }
    std::fs::write(dir.join("prometheus.yml"), scrape).unwrap();
    let port = free_port();
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra_args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (KillOnDrop(child), port)
}

/// A 4-node Cassandra cluster simulated 15 minutes in and served 300× fast, with `fault` on
/// cass-2 if any, and the config that scrapes it 6 times 200 ms apart.
pub(crate) async fn cassandra_sim(
    fault: Option<opsadvisor::simulate::Fault>,
) -> (opsadvisor::simulate::SimServer, opsadvisor::config::Config) {
    use opsadvisor::simulate::{ClusterSpec, FaultSpec, HardwareProfile, SimSpec, Simulator};
    let mut cluster =
        ClusterSpec::new("cass", opsadvisor::System::Cassandra, 4, HardwareProfile::medium());
    if let Some(f) = fault {
        cluster = cluster.with_fault(FaultSpec::new(f, Some("cass-2")));
    }
    let mut sim = Simulator::new(SimSpec { clusters: vec![cluster], ..SimSpec::demo(3) }).unwrap();
    sim.advance(std::time::Duration::from_secs(15 * 60));
    let server = opsadvisor::simulate::serve(sim, 300.0).await.unwrap();
    let config = opsadvisor::cli::config_for(
        &server,
        opsadvisor::config::ScrapeConfig {
            interval: "200ms".into(),
            timeout: "2s".into(),
            samples: 6,
            ..opsadvisor::config::ScrapeConfig::default()
        },
    );
    (server, config)
}

/// Runs the `openssl` CLI in `dir`; false when it is absent or fails (TLS tests then skip).
pub(crate) fn openssl(dir: &std::path::Path, args: &[&str]) -> bool {
    std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A test CA in `dir` (`ca.pem`, `ca.key`) made with the `openssl` CLI.
pub(crate) fn make_ca(dir: &std::path::Path) -> bool {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=opsadvisor test CA",
        ],
    )
}

/// `NAME.pem` / `NAME.key` in `dir`, for common name `cn` with the x509v3 extension line
/// `ext` (e.g. `subjectAltName=DNS:localhost,IP:127.0.0.1`), signed by [`make_ca`]'s CA.
pub(crate) fn make_signed_cert(dir: &std::path::Path, name: &str, cn: &str, ext: &str) -> bool {
    std::fs::write(dir.join(format!("{name}.cnf")), format!("{ext}\n")).unwrap();
    let (key, csr, pem, cnf) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.cnf"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={cn}"),
        ],
    ) && openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &cnf,
        ],
    )
}
