//! TLS settings per cluster: a private CA, or (for a lab) no verification at all.
//!
//! Clusters inside a company network are usually served with certificates from a private CA
//! that no system trust store knows. `tls.ca_file` adds that CA (a PEM bundle) to the roots
//! for the cluster's targets only; other clusters keep the default trust. A CA file that is
//! missing or holds no certificate fails only that cluster's targets, naming the file.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `tls:` of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) that signed the targets' certificates. As in
    /// Prometheus's `tls_config`, these become the only trusted roots for the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Accept any certificate (no verification at all). For labs only: it lets anyone on
    /// the path read and change the metrics.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    /// Accept certificates whose names do not match the URL's host (e.g. targets addressed
    /// by IP with certificates issued for names). The chain is still verified against
    /// `ca_file`, which is therefore required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_hostname_verify: bool,
}

impl TlsConfig {
    /// Problems with the settings, as (field, message).
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.skip_hostname_verify && self.ca_file.is_none() && !self.insecure_skip_verify {
            out.push((
                "skip_hostname_verify",
                "needs ca_file: only a private CA's chain may stand in for the name check".into(),
            ));
        }
        if self.insecure_skip_verify && (self.ca_file.is_some() || self.skip_hostname_verify) {
            out.push((
                "insecure_skip_verify",
                "verifies nothing, so ca_file and skip_hostname_verify would be ignored; set one"
                    .into(),
            ));
        }
        out
    }

    /// An HTTP client for this cluster: [`super::http_client`]'s settings plus these.
    /// Settings that [`TlsConfig::validate`] rejects never reach here from a loaded config.
    ///
    /// # Errors
    /// The CA file that cannot be read or holds no PEM certificate, by name.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, String> {
        let mut b = super::client_builder(timeout);
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("tls: cannot read ca_file {path}: {}", e.kind()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("tls: ca_file {path} is not a PEM certificate bundle: {e}"))?;
            if certs.is_empty() {
                return Err(format!("tls: ca_file {path} holds no PEM certificate"));
            }
            b = b.tls_certs_only(certs);
        }
        if self.insecure_skip_verify {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        if self.skip_hostname_verify {
            b = b.tls_danger_accept_invalid_hostnames(true);
        }
        b.build().map_err(|e| format!("tls: cannot set up the TLS client: {e}"))
    }
}
