//! `--web.config.file`: TLS, basic auth and security headers for the HTTP API, in the format
//! of the Prometheus exporter-toolkit (`docs/web-configuration.md`), so a file written for
//! node_exporter or Prometheus works here unchanged:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.pem            # relative paths are relative to this file
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default), VerifyClientCertIfGiven
//!   client_ca_file: clients-ca.pem
//!   min_version: TLS12               # TLS12 (default) or TLS13; rustls never offers less than 1.2
//! http_server_config:
//!   headers: { Strict-Transport-Security: max-age=31536000 }
//! basic_auth_users:
//!   prometheus: $2y$10$...           # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Why this shape:
//! - The file is re-read when it (or a certificate, key or CA file it names) changes, checked
//!   by modification time and size on every request and every TLS handshake, as exporter-toolkit
//!   re-reads it on every request: certificates rotate and users come and go without a restart,
//!   and an unchanged file costs a few `stat` calls. A file that turns invalid fails closed
//!   (HTTP 500 and a failed handshake, with the reason logged), as exporter-toolkit does.
//! - Everything is checked at start ([`WebConfig::load`]), so a bad file stops the daemon with
//!   exit 78 naming the file and the field instead of failing the first request.
//! - Fields exporter-toolkit knows but opsadvisor does not implement (`cipher_suites`,
//!   `rate_limit`, `client_allowed_sans`, client-certificate modes that skip verification…)
//!   are errors, never silently ignored: a security setting that does nothing is worse than none.
//! - bcrypt is slow by design (tens of milliseconds per check at cost 10), so a successful
//!   check is remembered under a digest of user, hash and password (as exporter-toolkit's
//!   cache does, there with SHA-256; here 128 bits of SipHash with secret per-process keys,
//!   which no one outside the process can compute, so no dependency is needed), and checks
//!   run one at a time off the async threads: a flood of wrong passwords costs at most one core.

use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A problem with the web config file: the file, the field (dotted path) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("web config file {file}: {field}: {message}")]
pub struct WebConfigError {
    /// The web config file.
    pub file: String,
    /// The field, e.g. `tls_server_config.cert_file`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The file as written (exporter-toolkit field names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    tls_server_config: Option<TlsFileConfig>,
    #[serde(default)]
    http_server_config: HttpFileConfig,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFileConfig {
    #[serde(default)]
    cert_file: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<String>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFileConfig {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    http2: Option<bool>,
}

/// The settings in force, built from a valid file.
#[derive(Debug)]
pub struct WebSettings {
    /// TLS to serve with, if `tls_server_config` is set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Users and their bcrypt hashes; empty means no basic auth.
    pub users: BTreeMap<String, String>,
    /// Headers added to every response.
    pub headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
    /// The files read, with their stamps when read: a change to any of them reloads.
    stamps: Vec<(PathBuf, Stamp)>,
}

/// Modification time and size: what tells a changed file without reading it.
type Stamp = Option<(SystemTime, u64)>;

/// Every file a web config was read from, with its stamp then.
type Stamps = Vec<(PathBuf, Stamp)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The web config file and the settings last read from it.
#[derive(Debug)]
pub struct WebConfig {
    path: PathBuf,
    current: Mutex<Arc<WebSettings>>,
    /// The last error, so a broken file is logged once per change rather than per request.
    broken: Mutex<Option<(Stamps, WebConfigError)>>,
    /// Keyed digests of (user, hash, password) for checks that succeeded.
    verified: Mutex<HashSet<[u64; 2]>>,
    /// The secret keys of those digests (random per process).
    keys: [std::collections::hash_map::RandomState; 2],
    /// One bcrypt check at a time.
    bcrypt_gate: tokio::sync::Semaphore,
}

/// At most this many remembered successful checks; the set is cleared when full.
const VERIFIED_MAX: usize = 256;

/// Headers exporter-toolkit lets a web config set (and only these), with the values it allows.
const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

impl WebConfig {
    /// Reads and checks the file, its certificates, keys and CA, and the bcrypt hashes.
    ///
    /// # Errors
    /// The first problem, naming the file and the field.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let settings = read_settings(path)?;
        Ok(WebConfig {
            path: path.to_path_buf(),
            current: Mutex::new(Arc::new(settings)),
            broken: Mutex::new(None),
            verified: Mutex::new(HashSet::new()),
            keys: [Default::default(), Default::default()],
            bcrypt_gate: tokio::sync::Semaphore::new(1),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings in force now: re-read if the file or a file it names changed.
    ///
    /// # Errors
    /// The changed file is invalid (logged once per change); callers fail closed.
    pub fn current(&self) -> Result<Arc<WebSettings>, WebConfigError> {
        let running = Arc::clone(&self.current.lock().unwrap_or_else(|p| p.into_inner()));
        let mut now: Vec<(PathBuf, Stamp)> = Vec::with_capacity(running.stamps.len());
        now.push((self.path.clone(), stamp(&self.path)));
        now.extend(running.stamps.iter().skip(1).map(|(p, _)| (p.clone(), stamp(p))));
        if now == running.stamps {
            return Ok(running);
        }
        let mut broken = self.broken.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, e)) = broken.as_ref()
            && *at == now
        {
            return Err(e.clone());
        }
        match read_settings(&self.path) {
            Ok(settings) => {
                let settings = Arc::new(settings);
                *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&settings);
                *broken = None;
                tracing::info!(file = %self.path.display(), "Web config file reloaded.");
                Ok(settings)
            }
            Err(e) => {
                tracing::error!(error = %e, "Web config file changed and is invalid: refusing requests until it is fixed.");
                *broken = Some((now, e.clone()));
                Err(e)
            }
        }
    }

    fn cache_key(&self, user: &str, hash: &str, password: &str) -> [u64; 2] {
        use std::hash::BuildHasher;
        let parts = (user, hash, password);
        [self.keys[0].hash_one(parts), self.keys[1].hash_one(parts)]
    }

    /// Whether `user` with `password` is one of `settings`' users. Never logs either.
    pub async fn check_user(&self, settings: &WebSettings, user: &str, password: &str) -> bool {
        let known = settings.users.get(user);
        // An unknown user is checked against another user's hash (and refused whatever the
        // result), so the answer takes as long and tells nothing about which names exist.
        let Some(hash) = known.or_else(|| settings.users.values().next()).cloned() else {
            return false;
        };
        let key = self.cache_key(user, &hash, password);
        if known.is_some() && self.verified.lock().unwrap_or_else(|p| p.into_inner()).contains(&key)
        {
            return true;
        }
        let Ok(_permit) = self.bcrypt_gate.acquire().await else { return false };
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .is_ok_and(|r| r.unwrap_or(false));
        if ok && known.is_some() {
            let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
            verified.insert(key);
            return true;
        }
        false
    }
}

/// Reads, checks and builds everything the file says.
fn read_settings(path: &Path) -> Result<WebSettings, WebConfigError> {
    let file = path.display().to_string();
    let err = |field: &str, message: String| WebConfigError {
        file: file.clone(),
        field: field.to_string(),
        message,
    };
    let before = stamp(path);
    let text = std::fs::read_to_string(path).map_err(|e| err("(file)", e.to_string()))?;
    let parsed: FileConfig = if text.trim().is_empty() {
        FileConfig::default()
    } else {
        serde_norway::from_str(&text).map_err(|e| {
            // serde_norway says where: "tls_server_config: unknown field `x` … at line 3".
            let msg = e.to_string();
            match msg.split_once(": ") {
                Some((field, rest)) if !field.contains(' ') => err(field, rest.to_string()),
                _ => err("(yaml)", msg),
            }
        })?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut stamps = vec![(path.to_path_buf(), before)];
    let tls = match &parsed.tls_server_config {
        Some(t) => Some(Arc::new(build_tls(t, dir, &err, &mut stamps)?)),
        None => None,
    };
    if parsed.http_server_config.http2 == Some(true) {
        return Err(err(
            "http_server_config.http2",
            "opsadvisor serves HTTP/1.1 only; remove it or set it to false".into(),
        ));
    }
    let mut headers = Vec::new();
    for (name, value) in &parsed.http_server_config.headers {
        let field = format!("http_server_config.headers.{name}");
        let Some(known) = ALLOWED_HEADERS.iter().find(|h| h.eq_ignore_ascii_case(name)) else {
            return Err(err(
                &field,
                format!(
                    "this header cannot be configured (allowed: {})",
                    ALLOWED_HEADERS.join(", ")
                ),
            ));
        };
        let lower = value.to_ascii_lowercase();
        if *known == "X-Frame-Options" && lower != "deny" && lower != "sameorigin" {
            return Err(err(&field, format!("invalid value '{value}' (deny or sameorigin)")));
        }
        if *known == "X-Content-Type-Options" && lower != "nosniff" {
            return Err(err(&field, format!("invalid value '{value}' (nosniff)")));
        }
        let value = axum::http::HeaderValue::from_str(value)
            .map_err(|e| err(&field, format!("invalid header value: {e}")))?;
        headers.push((axum::http::HeaderName::from_static(header_static(known)), value));
    }
    for (user, hash) in &parsed.basic_auth_users {
        let field = format!("basic_auth_users.{user}");
        if user.contains(':') || user.is_empty() {
            return Err(err(&field, "a user name must be non-empty and contain no ':'".into()));
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(err(
                &field,
                "not a bcrypt hash (the file holds hashes, never passwords: htpasswd -nBC 10 \"\" | tr -d ':\\n')".into(),
            ));
        }
    }
    Ok(WebSettings { tls, users: parsed.basic_auth_users, headers, stamps })
}

/// The lower-case static name of an allowed header (`HeaderName::from_static` wants lower case).
fn header_static(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Frame-Options" => "x-frame-options",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

fn tls_version(
    v: &str,
    field: &str,
    err: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<u8, WebConfigError> {
    match v {
        "TLS10" => Ok(0),
        "TLS11" => Ok(1),
        "TLS12" => Ok(2),
        "TLS13" => Ok(3),
        _ => Err(err(field, format!("unknown TLS version '{v}' (TLS10, TLS11, TLS12 or TLS13)"))),
    }
}

fn build_tls(
    t: &TlsFileConfig,
    dir: &Path,
    err: &dyn Fn(&str, String) -> WebConfigError,
    stamps: &mut Vec<(PathBuf, Stamp)>,
) -> Result<rustls::ServerConfig, WebConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut resolve = |field: &str, value: &Option<String>| -> Result<PathBuf, WebConfigError> {
        let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) else {
            return Err(err(field, "required when tls_server_config is set".into()));
        };
        let p = dir.join(v);
        stamps.push((p.clone(), stamp(&p)));
        Ok(p)
    };
    let cert_path = resolve("tls_server_config.cert_file", &t.cert_file)?;
    let key_path = resolve("tls_server_config.key_file", &t.key_file)?;
    let ca_path = match &t.client_ca_file {
        Some(_) => Some(resolve("tls_server_config.client_ca_file", &t.client_ca_file)?),
        None => None,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| err("tls_server_config.cert_file", format!("{}: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err(err(
            "tls_server_config.cert_file",
            format!("{}: no PEM certificate in it", cert_path.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| err("tls_server_config.key_file", format!("{}: {e}", key_path.display())))?;
    let min = match &t.min_version {
        Some(v) => tls_version(v, "tls_server_config.min_version", err)?,
        None => 2,
    };
    let max = match &t.max_version {
        Some(v) => tls_version(v, "tls_server_config.max_version", err)?,
        None => 3,
    };
    if max < 2 {
        return Err(err(
            "tls_server_config.max_version",
            "rustls serves TLS 1.2 and 1.3 only; the maximum must be TLS12 or TLS13".into(),
        ));
    }
    if min > max {
        return Err(err("tls_server_config.min_version", "is above max_version".into()));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(2u8, &rustls::version::TLS12), (3, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let auth_type = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let field = "tls_server_config.client_auth_type";
    let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = match auth_type {
        "NoClientCert" => {
            if ca_path.is_some() {
                return Err(err(
                    "tls_server_config.client_ca_file",
                    "set, but client_auth_type is NoClientCert: client certificates would not be checked".into(),
                ));
            }
            rustls::server::WebPkiClientVerifier::no_client_auth()
        }
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let Some(ca_path) = &ca_path else {
                return Err(err(
                    "tls_server_config.client_ca_file",
                    format!("required with client_auth_type {auth_type}"),
                ));
            };
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(ca_path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    err("tls_server_config.client_ca_file", format!("{}: {e}", ca_path.display()))
                })?;
            let (added, _) = roots.add_parsable_certificates(cas);
            if added == 0 {
                return Err(err(
                    "tls_server_config.client_ca_file",
                    format!("{}: no usable CA certificate in it", ca_path.display()),
                ));
            }
            let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::clone(&provider),
            );
            let builder = if auth_type == "VerifyClientCertIfGiven" {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder.build().map_err(|e| err(field, e.to_string()))?
        }
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(err(
                field,
                format!(
                    "{auth_type} accepts client certificates without verifying them and is not supported; \
                     use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
                ),
            ));
        }
        other => {
            return Err(err(
                field,
                format!(
                    "unknown value '{other}' (NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                ),
            ));
        }
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| err("tls_server_config.min_version", e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| {
            err(
                "tls_server_config.key_file",
                format!(
                    "{} does not fit cert_file {}: {e}",
                    key_path.display(),
                    cert_path.display()
                ),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loaded config and its directory, removed when the test drops it (not before:
    /// [`WebConfig::current`] looks at the file again).
    #[derive(Debug)]
    struct Loaded(WebConfig, std::path::PathBuf);

    impl std::ops::Deref for Loaded {
        type Target = WebConfig;
        fn deref(&self) -> &WebConfig {
            &self.0
        }
    }

    impl Drop for Loaded {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }

    fn load(text: &str) -> Result<Loaded, WebConfigError> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("opsadvisor-webcfg-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("web.yml");
        std::fs::write(&p, text).unwrap();
        match WebConfig::load(&p) {
            Ok(w) => Ok(Loaded(w, dir)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    #[test]
    fn an_empty_file_serves_plain_http_without_auth() {
        let w = load("").unwrap();
        let s = w.current().unwrap();
        assert!(s.tls.is_none() && s.users.is_empty() && s.headers.is_empty());
    }

    #[test]
    fn every_problem_names_the_field() {
        let field = |text: &str| load(text).unwrap_err().field;
        assert_eq!(field("basic_auth_users:\n  alice: plain-password\n"), "basic_auth_users.alice");
        assert_eq!(field("tls_server_config:\n  key_file: k.pem\n"), "tls_server_config.cert_file");
        assert_eq!(
            field("tls_server_config:\n  cert_file: nope.pem\n  key_file: nope.key\n"),
            "tls_server_config.cert_file"
        );
        assert_eq!(
            field("http_server_config:\n  headers:\n    X-Frame-Options: allow\n"),
            "http_server_config.headers.X-Frame-Options"
        );
        assert_eq!(
            field("http_server_config:\n  headers:\n    Server: me\n"),
            "http_server_config.headers.Server"
        );
        let e = load("tls_server_config:\n  cipher_suites: [x]\n").unwrap_err();
        assert!(e.to_string().contains("cipher_suites"), "{e}");
        let e = load("rate_limit: { interval: 1s }\n").unwrap_err();
        assert!(e.to_string().contains("rate_limit"), "{e}");
    }

    #[test]
    fn headers_are_case_insensitive_and_checked() {
        let w = load("http_server_config:\n  headers:\n    x-content-type-options: nosniff\n    Strict-Transport-Security: max-age=3600\n").unwrap();
        let s = w.current().unwrap();
        let names: Vec<&str> = s.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["strict-transport-security", "x-content-type-options"]);
    }

    #[tokio::test]
    async fn bcrypt_users_are_checked_and_remembered() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let w = load(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let s = w.current().unwrap();
        assert!(w.check_user(&s, "alice", "s3cret").await);
        assert!(!w.check_user(&s, "alice", "s3creT").await);
        assert!(!w.check_user(&s, "bob", "s3cret").await);
        assert_eq!(w.verified.lock().unwrap().len(), 1);
        assert!(w.check_user(&s, "alice", "s3cret").await);
    }

    #[test]
    fn a_changed_file_is_reread_and_a_broken_one_fails_closed() {
        let w = load("").unwrap();
        let hash = bcrypt::hash("pw", 4).unwrap();
        // A different size, so the change shows even within one mtime tick.
        std::fs::write(w.path(), format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        assert_eq!(w.current().unwrap().users.len(), 1);
        std::fs::write(w.path(), "basic_auth_users: [nope, this, is, a, list]\n").unwrap();
        let e = w.current().unwrap_err();
        assert_eq!(e.field, "basic_auth_users", "{e}");
        assert!(w.current().is_err(), "still broken: still refused");
    }
}
