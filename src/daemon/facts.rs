//! Configuration files and host facts in the daemon: read as `advise` reads them
//! ([`crate::sources::config_files`]), but not every cycle.
//!
//! Settings change rarely and only by someone editing a file or a sysctl, while a cycle
//! runs every few seconds. The facts are read at start, after every reload, and again once
//! [`FACTS_EVERY`] has passed; each cycle's round carries the last facts read, so rules
//! compare them with live metrics exactly as in `advise`. Reading costs a few small files
//! per node, well under a millisecond each; statting them every cycle to catch a change
//! sooner would cost about as much as reading them.

use crate::config::Config;
use crate::features::catalog::Catalog;
use crate::snapshot::Snapshot;
use crate::sources::TargetHealth;
use crate::sources::config_files::{self, Facts};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often the files are read again without a reload.
pub const FACTS_EVERY: Duration = Duration::from_secs(60);

/// The facts last read, and when.
#[derive(Debug, Default)]
pub struct FactsCache {
    facts: BTreeMap<(String, String), Facts>,
    health: Vec<TargetHealth>,
    read_at: Option<Instant>,
}

impl FactsCache {
    /// Reads the files again when `force` (a reload), when never read, or when
    /// [`FACTS_EVERY`] has passed. Whether it read.
    pub fn refresh(&mut self, config: &Config, force: bool) -> bool {
        let due = self.read_at.is_none_or(|t| t.elapsed() >= FACTS_EVERY);
        if !(force || due) {
            return false;
        }
        let (facts, health) = config_files::read_all(config, Catalog::builtin());
        self.facts = facts;
        self.health = health;
        self.read_at = Some(Instant::now());
        true
    }

    /// Adds the facts to every node of `snapshot` that has some.
    pub fn attach(&self, snapshot: &mut Snapshot) {
        if !self.facts.is_empty() {
            config_files::attach(snapshot, &self.facts);
        }
    }

    /// One health entry per node with configured files (the `config_files` targets).
    pub fn health(&self) -> &[TargetHealth] {
        &self.health
    }
}
