//! The crate-level error and the exit codes the CLI maps it to.

use crate::config::ConfigError;

/// Everything that can stop an opsadvisor command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file has problems.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config does not fit the rules (unknown check id, override of a missing threshold).
    #[error("config: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    ConfigIssues(Vec<crate::config::ConfigIssue>),
    /// A usage error the CLI found.
    #[error("{0}")]
    Usage(String),
    /// No target could be scraped at all.
    #[error("no target could be scraped")]
    NoTargetUp,
    /// The simulator could not start.
    #[error("simulator: {0}")]
    Simulator(#[from] crate::simulate::SimError),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
    /// Evaluating features or rules failed: a bug, reported as such.
    #[error("internal error evaluating features or rules: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    /// A dataset, training or model problem.
    #[error(transparent)]
    Classify(#[from] crate::classify::ClassifyError),
    /// A bug: a worker task panicked.
    #[error("internal error: {0}")]
    Internal(String),
    /// An `--http.config.file` that is invalid, or whose CA file or secret cannot be read.
    #[error("--http.config.file {0}")]
    HttpConfig(String),
    /// The `--web.config.file` is invalid.
    #[error(transparent)]
    WebConfig(#[from] crate::daemon::web_config::WebConfigError),
    /// The daemon's state store failed.
    #[error(transparent)]
    State(#[from] crate::daemon::state::StoreError),
    /// The daemon cannot start with this config or these rules (exit 78, `EX_CONFIG`, as
    /// contracts §2.6 asks of a daemon start).
    #[error("{0}")]
    DaemonConfig(Box<Error>),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The process exit code (contracts §2.6): 2 for usage errors, 78 (`EX_CONFIG`) when a
    /// config file (or the daemon's web config) is invalid, 1 for runtime failures such as
    /// no target answering. (3 is not an error: `advise` found something at or above
    /// `--fail-on`.)
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Config(_)
            | Error::ConfigIssues(_)
            | Error::WebConfig(_)
            | Error::HttpConfig(_)
            | Error::DaemonConfig(_) => 78,
            _ => 1,
        }
    }
}
