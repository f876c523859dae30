//! opsadvisor: an operations advisor for Apache Cassandra, Apache Kafka and Elasticsearch.
//!
//! ```text
//! sources ──► snapshot ──► features ──► analyzers ──► findings ──► sinks
//! (scrape,    (by cluster,  (polars     (rules       (fingerprint, (report)
//!  ES REST)    node, round)  frames)     engine)      lifecycle)
//! ```
//!
//! # Layout
//! - [`sources`]: fetch expositions and REST responses, turn them into [`sample::Sample`]s.
//! - [`snapshot`]: samples arranged by cluster, node and scrape round.
//! - [`features`]: one polars frame per system and round; the catalogue maps metric names.
//! - [`analyzers`]: the rules engine and classifier findings; pure, no I/O.
//! - [`classify`]: labelled datasets, the tree and forest learners, model cards, shipped models.
//! - [`findings`]: the finding model, fingerprints and the pending → firing lifecycle.
//! - [`sinks`]: the report.
//! - [`simulate`]: simulated clusters for the demo, tests and training data.
//! - [`pipeline`]: wires the stages together for one `advise` run.
//! - [`daemon`]: the long-running sidecar: the pipeline every interval over a rolling window,
//!   persistent finding lifecycle, HTTP API, own metrics.
//! - [`logging`]: `--log.format text|logfmt|json`.

pub mod analyzers;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod error;
pub mod features;
pub mod findings;
pub mod logging;
pub mod pipeline;
pub mod sample;
pub mod simulate;
pub mod sinks;
pub mod snapshot;
pub mod sources;

pub use error::{Error, Result};

/// The data systems opsadvisor advises on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum System {
    /// Apache Cassandra.
    Cassandra,
    /// Apache Kafka.
    Kafka,
    /// Elasticsearch.
    Elasticsearch,
}

impl System {
    /// Every system, in report order.
    pub const ALL: [System; 3] = [System::Cassandra, System::Kafka, System::Elasticsearch];

    /// The lowercase name used in config, rules and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Cassandra => "cassandra",
            System::Kafka => "kafka",
            System::Elasticsearch => "elasticsearch",
        }
    }
}
