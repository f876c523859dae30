//! Credentials for targets: HTTP basic or bearer auth, with secrets read from environment
//! variables or files (the Kubernetes-secret way), never from the config text itself.
//!
//! Secrets are read at every run, so a rotated file or variable takes effect without a
//! restart. A missing secret fails only the targets that need it, with a message naming
//! the variable or file, never the value. [`Credentials`] prints as `<redacted>`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How a cluster's targets authenticate. Exactly one way may be configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Basic auth user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Environment variable holding the basic auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// File holding the basic auth password (trailing newline ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    /// Environment variable holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
    /// File holding a bearer token (trailing newline ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
}

/// Resolved credentials. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl AuthConfig {
    /// Problems with the settings, as (field, message).
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let password = self.password_env.is_some() as u8 + self.password_file.is_some() as u8;
        let bearer = self.bearer_token_env.is_some() as u8 + self.bearer_token_file.is_some() as u8;
        if password > 1 || bearer > 1 {
            out.push((
                "auth",
                "set a secret either from an env var or from a file, not both".into(),
            ));
        }
        if password > 0 && bearer > 0 {
            out.push(("auth", "choose basic (username + password) or bearer, not both".into()));
        }
        if password > 0 && self.username.is_none() {
            out.push(("auth.username", "basic auth needs a username".into()));
        }
        if self.username.is_some() && password == 0 {
            out.push(("auth", "basic auth needs password_env or password_file".into()));
        }
        out
    }

    /// Reads the secret now.
    ///
    /// # Errors
    /// Names the variable or file that could not be read, never a value.
    pub fn resolve(&self) -> Result<Option<Credentials>, String> {
        let read =
            |env: &Option<String>, file: &Option<String>| -> Result<Option<String>, String> {
                if let Some(var) = env {
                    return std::env::var(var)
                        .map(Some)
                        .map_err(|_| format!("auth: environment variable {var} is not set"));
                }
                if let Some(path) = file {
                    return std::fs::read_to_string(path)
                        .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                        .map_err(|e| format!("auth: cannot read {path}: {}", e.kind()));
                }
                Ok(None)
            };
        if let Some(token) = read(&self.bearer_token_env, &self.bearer_token_file)? {
            return Ok(Some(Credentials::Bearer(token)));
        }
        match (&self.username, read(&self.password_env, &self.password_file)?) {
            (Some(username), Some(password)) => {
                Ok(Some(Credentials::Basic { username: username.clone(), password }))
            }
            _ => Ok(None),
        }
    }
}

/// Adds `credentials` to a request.
pub fn apply(
    req: reqwest::RequestBuilder,
    credentials: Option<&Credentials>,
) -> reqwest::RequestBuilder {
    match credentials {
        Some(Credentials::Basic { username, password }) => req.basic_auth(username, Some(password)),
        Some(Credentials::Bearer(token)) => req.bearer_auth(token),
        None => req,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print() {
        let c = Credentials::Bearer("s3cr3t".into());
        assert_eq!(format!("{c:?}"), "<redacted>");
        assert!(!format!("{:?}", Some(c)).contains("s3cr3t"));
    }

    #[test]
    fn missing_secrets_name_the_source_not_the_value() {
        let a = AuthConfig {
            bearer_token_env: Some("OPSADVISOR_TEST_UNSET_VAR".into()),
            ..AuthConfig::default()
        };
        assert_eq!(
            a.resolve().unwrap_err(),
            "auth: environment variable OPSADVISOR_TEST_UNSET_VAR is not set"
        );
        let a = AuthConfig {
            username: Some("u".into()),
            password_file: Some("/nonexistent/pw".into()),
            ..AuthConfig::default()
        };
        assert!(a.resolve().unwrap_err().starts_with("auth: cannot read /nonexistent/pw"));
        let a = AuthConfig { username: Some("u".into()), ..AuthConfig::default() };
        assert!(!a.validate().is_empty());
    }
}
