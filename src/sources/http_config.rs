//! `--http.config.file` (as promtool's): how a one-off command reaches an HTTP API that sits
//! behind authentication or a private CA, with no opsadvisor config around it.
//!
//! The file holds the very `auth:` and `tls:` blocks a cluster takes in the config, so one
//! way of writing credentials serves both; secrets still come from env vars or files, never
//! from this file's text. Relative paths in it resolve against the file's directory, as in
//! Prometheus's own `--web.config.file` and `http_config`.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::auth::{AuthConfig, Credentials};
use super::tls::TlsConfig;

/// The file's contents: both blocks optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Basic or bearer auth, as a cluster's `auth:`.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Trusted CA and server name, as a cluster's `tls:`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

impl HttpConfig {
    /// Reads and checks `path`.
    ///
    /// # Errors
    /// The file that cannot be read, is not YAML of this shape, or whose settings conflict,
    /// naming the file and the field.
    pub fn load(path: &Path) -> Result<HttpConfig, String> {
        let name = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
        let mut config: HttpConfig =
            serde_norway::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        let mut problems: Vec<String> = Vec::new();
        if let Some(a) = &config.auth {
            problems.extend(a.validate().into_iter().map(|(f, m)| format!("{f}: {m}")));
        }
        if let Some(t) = &config.tls {
            problems.extend(t.validate().into_iter().map(|(f, m)| format!("tls.{f}: {m}")));
        }
        if !problems.is_empty() {
            return Err(format!("{name}: {}", problems.join("; ")));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut Option<String>| {
            if let Some(s) = p.as_mut()
                && Path::new(s.as_str()).is_relative()
            {
                *s = base.join(&*s).display().to_string();
            }
        };
        if let Some(a) = config.auth.as_mut() {
            resolve(&mut a.password_file);
            resolve(&mut a.bearer_token_file);
        }
        if let Some(t) = config.tls.as_mut() {
            resolve(&mut t.ca_file);
        }
        Ok(config)
    }

    /// The client (with `tls:` if set) and the credentials read now.
    ///
    /// # Errors
    /// A CA file or secret that cannot be read, by name (never a secret's value).
    pub fn connect(
        &self,
        timeout: Duration,
    ) -> Result<(reqwest::Client, Option<Credentials>), String> {
        let client = match &self.tls {
            Some(tls) => tls.client(timeout)?,
            None => super::http_client(timeout)
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))?,
        };
        let credentials = match &self.auth {
            Some(a) => a.resolve()?,
            None => None,
        };
        Ok((client, credentials))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(text: &str) -> Result<HttpConfig, String> {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("opsadvisor-httpcfg-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("http.yml");
        std::fs::write(&path, text).unwrap();
        let got = HttpConfig::load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        got
    }

    #[test]
    fn relative_paths_resolve_against_the_file_and_absolute_ones_stay() {
        let c =
            load("auth: {username: u, password_file: pw}\ntls: {ca_file: /etc/ca.pem}\n").unwrap();
        let pw = c.auth.unwrap().password_file.unwrap();
        assert!(pw.contains("opsadvisor-httpcfg-") && pw.ends_with("/pw"), "{pw}");
        assert_eq!(c.tls.unwrap().ca_file.as_deref(), Some("/etc/ca.pem"));
    }

    #[test]
    fn unknown_fields_and_conflicting_settings_are_refused_with_the_file_and_field() {
        let e = load("auth: {username: u, password: hunter2}\n").unwrap_err();
        assert!(e.contains("http.yml") && e.contains("password"), "{e}");
        let e = load("tls: {server_name: db.example}\n").unwrap_err();
        assert!(e.contains("tls.server_name") && e.contains("ca_file"), "{e}");
        let e = load("auth: {username: u}\n").unwrap_err();
        assert!(e.contains("password_env or password_file"), "{e}");
        let e = load("basic_auth: {username: u}\n").unwrap_err();
        assert!(e.contains("basic_auth"), "{e}");
    }
}
