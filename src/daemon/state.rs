//! The daemon's state store: the lifecycle of every tracked finding and the history of its
//! transitions, in SQLite (WAL) under `--storage.path`.
//!
//! Why SQLite: a restart must resume where the daemon stopped (a firing finding stays firing
//! with the same active-since, without waiting `for` again), and a crash mid-write must not
//! corrupt what was saved. One transaction per cycle keeps the file consistent with a cycle
//! boundary; WAL lets the HTTP API read history while the loop writes.

use crate::findings::Finding;
use crate::findings::lifecycle::{State, Tracked, Transition};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Transitions kept in the history, oldest dropped first: bounds the file on a flapping fleet.
const MAX_HISTORY_ROWS: i64 = 100_000;

/// A problem with the state store; names the database file.
#[derive(Debug, thiserror::Error)]
#[error("state store {path}: {message}")]
pub struct StoreError {
    /// The database file (or the directory that could not be created).
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// One past state change of a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// Data time of the evaluation, Unix ms.
    pub at_ms: i64,
    /// The state before: `inactive`, `pending` or `firing`.
    pub from: String,
    /// The state after: `pending`, `firing` or `inactive` (resolved).
    pub to: String,
}

/// The SQLite-backed store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn state_name(s: Option<State>) -> &'static str {
    s.map_or("inactive", State::as_str)
}

impl Store {
    /// Opens (creating) `state.db` under `dir`.
    ///
    /// # Errors
    /// The directory cannot be created or the database cannot be opened or migrated.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError {
            path: dir.display().to_string(),
            message: format!("cannot create the storage directory: {e}"),
        })?;
        let path = dir.join("state.db");
        let err = |e: rusqlite::Error| StoreError {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        // NORMAL in WAL mode: a power cut may lose the last cycle, never corrupts.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS findings (
                 fingerprint TEXT PRIMARY KEY,
                 state TEXT NOT NULL,
                 tracked TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS transitions (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 fingerprint TEXT NOT NULL,
                 at_ms INTEGER NOT NULL,
                 from_state TEXT NOT NULL,
                 to_state TEXT NOT NULL,
                 finding TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS transitions_fp ON transitions (fingerprint, id);",
        )
        .map_err(err)?;
        Ok(Store { conn, path })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError { path: self.path.display().to_string(), message: e.to_string() }
    }

    /// Every tracked finding saved by the last run. Rows that do not decode (a newer or
    /// damaged file) are skipped with a warning rather than stopping the daemon.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn load(&self) -> Result<Vec<Tracked>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT fingerprint, tracked FROM findings ORDER BY fingerprint")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (fp, json) = row.map_err(|e| self.err(e))?;
            match serde_json::from_str::<Tracked>(&json) {
                Ok(t) => out.push(t),
                Err(e) => {
                    tracing::warn!(finding = %fp, error = %e, "Skipping an unreadable saved finding.")
                }
            }
        }
        Ok(out)
    }

    /// Saves one cycle in one transaction: the current state of `tracked` (every finding
    /// active or held this cycle), removal of resolved fingerprints, and `transitions`.
    ///
    /// # Errors
    /// The write failed; nothing of this cycle is saved then.
    pub fn save_cycle<'a>(
        &mut self,
        tracked: impl IntoIterator<Item = &'a Tracked>,
        transitions: &[Transition],
    ) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let err = |e: rusqlite::Error| StoreError { path: path.clone(), message: e.to_string() };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO findings (fingerprint, state, tracked) VALUES (?1, ?2, ?3)
                     ON CONFLICT(fingerprint) DO UPDATE SET state = ?2, tracked = ?3",
                )
                .map_err(err)?;
            for t in tracked {
                let json = serde_json::to_string(t)
                    .map_err(|e| StoreError { path: path.clone(), message: e.to_string() })?;
                upsert
                    .execute(params![t.finding.fingerprint, t.state.as_str(), json])
                    .map_err(err)?;
            }
            let mut delete =
                tx.prepare_cached("DELETE FROM findings WHERE fingerprint = ?1").map_err(err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO transitions (fingerprint, at_ms, from_state, to_state, finding)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(err)?;
            for t in transitions {
                if t.to.is_none() {
                    delete.execute(params![t.finding.fingerprint]).map_err(err)?;
                }
                let json = serde_json::to_string(&t.finding)
                    .map_err(|e| StoreError { path: path.clone(), message: e.to_string() })?;
                insert
                    .execute(params![
                        t.finding.fingerprint,
                        t.at_ms,
                        state_name(t.from),
                        state_name(t.to),
                        json
                    ])
                    .map_err(err)?;
            }
            if !transitions.is_empty() {
                tx.execute(
                    "DELETE FROM transitions WHERE id <= (SELECT MAX(id) FROM transitions) - ?1",
                    params![MAX_HISTORY_ROWS],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// The transitions of one fingerprint, oldest first (at most `limit`, the newest).
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn history(
        &self,
        fingerprint: &str,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT at_ms, from_state, to_state FROM transitions
                 WHERE fingerprint = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![fingerprint, limit], |r| {
                Ok(HistoryEntry { at_ms: r.get(0)?, from: r.get(1)?, to: r.get(2)? })
            })
            .map_err(|e| self.err(e))?;
        let mut out: Vec<HistoryEntry> = rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?;
        out.reverse();
        Ok(out)
    }

    /// The finding as its newest transition recorded it: how the API shows a finding that
    /// has resolved and is no longer tracked.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn last_recorded(&self, fingerprint: &str) -> Result<Option<Finding>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT finding FROM transitions WHERE fingerprint = ?1 ORDER BY id DESC LIMIT 1",
                params![fingerprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Folds the write-ahead log into the database file: done at shutdown so the directory
    /// is one self-contained file when the daemon is not running.
    pub fn checkpoint(&self) {
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!(error = %e, "WAL checkpoint failed.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::lifecycle::{Active, Lifecycle};
    use crate::findings::{Category, Severity};
    use std::time::Duration;

    fn active(fp: &str) -> Active {
        Active {
            finding: Finding {
                id: "x".into(),
                fingerprint: fp.into(),
                system: crate::System::Kafka,
                cluster: "c".into(),
                node: None,
                category: Category::Tuning,
                severity: Severity::Warning,
                impact: vec![],
                analyzer: "rules".into(),
                symptom: "s".into(),
                cause: String::new(),
                resources: vec![],
                evidence: vec![],
                action: String::new(),
                docs_url: String::new(),
                advises: vec![],
            },
            for_: Duration::from_secs(60),
            keep_firing_for: Duration::ZERO,
        }
    }

    #[test]
    fn a_saved_lifecycle_reloads_with_its_history() {
        let dir = std::env::temp_dir().join(format!("opsadvisor-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut l = Lifecycle::default();
        {
            let mut store = Store::open(&dir).unwrap();
            for (now, act) in
                [(0, vec![active("a"), active("b")]), (60_000, vec![active("a")]), (90_000, vec![])]
            {
                let t = l.observe_transitions(now, act);
                store.save_cycle(l.entries(), &t).unwrap();
            }
            store.checkpoint();
        }
        let store = Store::open(&dir).unwrap();
        assert!(store.load().unwrap().is_empty(), "a resolved at 90s, b at 60s");
        let h = store.history("a", 10).unwrap();
        let states: Vec<(&str, &str)> =
            h.iter().map(|e| (e.from.as_str(), e.to.as_str())).collect();
        assert_eq!(
            states,
            [("inactive", "pending"), ("pending", "firing"), ("firing", "inactive")]
        );
        assert_eq!(store.last_recorded("a").unwrap().unwrap().symptom, "s");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
