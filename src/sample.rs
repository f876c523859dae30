//! Samples: the plain-Rust contract between sources and features.
//!
//! Every source (a Prometheus text scrape, the Elasticsearch REST API, later Jolokia and the
//! Prometheus HTTP API) turns what it read into [`Sample`]s named as the well-known exporters
//! name them. Feature extraction only ever sees samples, so a new source never touches it.
//! This module deliberately knows nothing about polars.

/// Label pairs of one series, sorted by label name, without the metric name.
pub type Labels = Vec<(String, String)>;

/// One value of one series at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `cassandra_compaction_pendingtasks`.
    pub name: String,
    /// Labels sorted by name.
    pub labels: Labels,
    /// The value; NaN and ±Inf are legal, as in the exposition formats.
    pub value: f64,
    /// Milliseconds since the Unix epoch when the exposition carried a timestamp.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// A sample without a timestamp; `labels` need not be sorted.
    pub fn new(name: impl Into<String>, mut labels: Labels, value: f64) -> Self {
        labels.sort();
        Self { name: name.into(), labels, value, timestamp_ms: None }
    }

    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}
