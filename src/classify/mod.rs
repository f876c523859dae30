//! Classifiers: labelled datasets from the simulator, a decision tree and a random forest
//! learned on them, their model cards, and loading shipped models for `advise`.
//!
//! - [`dataset`]: simulate scenarios in-process and label every node's windows.
//! - [`io`]: datasets on disk (Parquet + a CSV sample + manifest).
//! - [`tree`], [`model`]: the learner (histogram CART; one tree or a forest) and its file;
//!   [`flat`]: its trees flattened for fast batch prediction.
//! - [`inputs`]: which features a model reads (ratios, not the node's size).
//! - [`schema`]: the feature schema a model names, checked against the running catalogue.
//! - [`metrics`], [`baseline`], [`card`]: held-out evaluation, the rules-only baseline and
//!   `MODEL.md`.
//! - [`classes`]: what each class means to an operator (`classes.yaml`).
//! - [`store`]: the models shipped in `models/`, loaded when `advise` starts.
//! - [`episodes`]: leave-one-episode-out on outside anomaly episodes (D-Bot PostgreSQL).
//! - [`incidents`]: training on the user's own incidents over a Prometheus history.

pub mod baseline;
pub mod card;
pub mod classes;
pub mod dataset;
pub mod episodes;
pub mod flat;
pub mod incidents;
pub mod inputs;
pub mod io;
pub mod metrics;
pub mod model;
pub mod schema;
pub mod store;
pub mod tree;

/// Why a dataset, training or model step failed.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The data is not usable (named in the message).
    #[error("dataset: {0}")]
    Data(String),
    /// A model file is not usable (named in the message).
    #[error("model: {0}")]
    Model(String),
    /// Prometheus could not give the history (named in the message).
    #[error("prometheus: {0}")]
    Source(String),
    /// The simulator refused a scenario (a bug in the scenario list).
    #[error("simulator: {0}")]
    Simulator(#[from] crate::simulate::SimError),
    /// polars failed (a bug, or an unreadable file).
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}
