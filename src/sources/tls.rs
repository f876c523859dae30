//! TLS settings per cluster: a private CA, the name to verify, or (for a lab) no
//! verification at all.
//!
//! Clusters inside a company network are usually served with certificates from a private CA
//! that no system trust store knows. `tls.ca_file` makes that CA (a PEM bundle) the trusted
//! roots for the cluster's targets only; other clusters keep the default trust. A CA file
//! that is missing or holds no certificate fails only that cluster's targets, naming the file.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// `tls:` of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) that signed the targets' certificates. As in
    /// Prometheus's `tls_config`, these become the only trusted roots for the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Verify the targets' certificates against this name instead of the URL's host (as
    /// Prometheus's `server_name`): targets addressed by IP whose certificate names a host.
    /// The chain is verified against `ca_file`, which is therefore required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Accept certificates whose names do not match at all. The chain is still verified
    /// against `ca_file`, which is therefore required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_hostname_verify: bool,
    /// Accept any certificate (no verification at all). For labs only: it lets anyone on
    /// the path read and change the metrics.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    /// Problems with the settings, as (field, message).
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.insecure_skip_verify {
            if self.ca_file.is_some() || self.skip_hostname_verify || self.server_name.is_some() {
                out.push((
                    "insecure_skip_verify",
                    "verifies nothing, so ca_file, server_name and skip_hostname_verify would be ignored; set one"
                        .into(),
                ));
            }
            return out;
        }
        for (field, set) in [
            ("skip_hostname_verify", self.skip_hostname_verify),
            ("server_name", self.server_name.is_some()),
        ] {
            if set && self.ca_file.is_none() {
                out.push((
                    field,
                    "needs ca_file: the chain is verified against a private CA".into(),
                ));
            }
        }
        if self.skip_hostname_verify && self.server_name.is_some() {
            out.push((
                "server_name",
                "skip_hostname_verify checks no name; set one of them".into(),
            ));
        }
        if let Some(name) = &self.server_name
            && ServerName::try_from(name.as_str()).is_err()
        {
            out.push(("server_name", format!("'{name}' is not a DNS name or IP address")));
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
        let pem = match &self.ca_file {
            Some(path) => Some((
                path,
                std::fs::read(path)
                    .map_err(|e| format!("tls: cannot read ca_file {path}: {}", e.kind()))?,
            )),
            None => None,
        };
        if let (Some(name), Some((path, pem))) = (&self.server_name, &pem) {
            let config = fixed_name_config(name, path, pem)?;
            b = b.tls_backend_preconfigured(config);
        } else if let Some((path, pem)) = &pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
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

/// A rustls client config whose verifier checks the chain against the CA in `pem` and the
/// leaf against `name`, whatever host the URL names.
fn fixed_name_config(name: &str, path: &str, pem: &[u8]) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let bad = |e: &dyn std::fmt::Display| format!("tls: ca_file {path}: {e}");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(format!("tls: ca_file {path} holds no PEM certificate"));
    }
    let name = ServerName::try_from(name.to_string())
        .map_err(|_| format!("tls: server_name '{name}' is not a DNS name or IP address"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|e| bad(&e))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(FixedName { inner, name }))
        .with_no_client_auth();
    Ok(config)
}

/// Full WebPKI verification, with the name taken from the config instead of the URL.
#[derive(Debug)]
struct FixedName {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _url_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
