//! Snapshot: everything the sources collected in one advise run, arranged by cluster and node.
//!
//! Scrapes happen in rounds: every target is scraped once per round. A target that failed
//! in a round has no point for it, and the rest of the round stands. Feature extraction
//! reads points by round, so a node's JMX exporter and node_exporter line up in time.

use crate::System;
use crate::sample::Sample;

/// One successful scrape of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// When the samples were valid: the exposition's own timestamps when it carried them,
    /// else the time the scrape completed.
    pub timestamp_ms: i64,
    /// What the target returned.
    pub samples: Vec<Sample>,
}

/// The points of one target, indexed by round (`None`: that round failed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceSeries {
    /// Where the points came from, for messages (URL without credentials).
    pub source: String,
    /// One entry per round.
    pub points: Vec<Option<Point>>,
}

/// The `source` of the series that carries a node's configuration files and host facts.
/// It is read like any other source, but says nothing about whether the node answered, so
/// it does not count towards `up` or the row's timestamp.
pub const FACTS_SOURCE: &str = "config files and host facts";

impl SourceSeries {
    /// Whether this is the facts series ([`FACTS_SOURCE`]).
    pub fn is_facts(&self) -> bool {
        self.source == FACTS_SOURCE
    }

    /// The point of round `round`, if that scrape succeeded.
    pub fn at(&self, round: usize) -> Option<&Point> {
        self.points.get(round).and_then(Option::as_ref)
    }
}

/// One node and the series its targets produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSnapshot {
    /// Node name.
    pub name: String,
    /// One series per target that describes this node.
    pub sources: Vec<SourceSeries>,
}

/// One cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSnapshot {
    /// Cluster name from the config.
    pub name: String,
    /// Its system.
    pub system: System,
    /// Its nodes, in config order.
    pub nodes: Vec<NodeSnapshot>,
    /// Series about the cluster as a whole (cluster health, consumer lag).
    pub cluster_sources: Vec<SourceSeries>,
}

/// Everything one run collected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Number of scrape rounds.
    pub rounds: usize,
    /// The clusters.
    pub clusters: Vec<ClusterSnapshot>,
}
