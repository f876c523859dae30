//! The persistent outbox: SQLite in WAL mode; cycles commit with `synchronous=FULL`.
//!
//! Three tables:
//! - `notified` — per sink and fingerprint, the firing instance the sink was told about
//!   (`fired_at_ms` identifies the instance), or, for Alertmanager, a recently resolved
//!   one still being repeated. Transitions are computed against it, so a restart neither
//!   re-fires what was already sent nor forgets to resolve it.
//! - `outbox` — one row per notification, `UNIQUE (sink, dedup_key)` with
//!   `dedup_key = fingerprint/fired_at/kind[/time]`: a cycle replayed after a crash inserts
//!   nothing (`INSERT OR IGNORE`). Rows go `pending` → `done` | `dropped`, in the same
//!   database, so a row marked done is never sent again.
//! - `annotations` — the Grafana annotation id of each firing instance, written in the
//!   transaction that marks its fire row done, read by the resolve's PATCH.
//!
//! Ordering: a sink only ever takes, per fingerprint, its oldest pending row, so a resolve
//! never overtakes its fire. Finished rows are pruned after a day; counters survive in
//! `counters`.

use super::{Delivery, Kind, NotifyError, ResendPolicy};
use crate::findings::Finding;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// How long finished rows are kept (for inspection) before pruning.
const KEEP_FINISHED_MS: i64 = 24 * 3_600_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sink        TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    kind        TEXT NOT NULL,
    finding     TEXT NOT NULL,
    fired_at_ms INTEGER NOT NULL,
    event_ms    INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    due_ms      INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'pending',
    last_error  TEXT,
    finished_ms INTEGER,
    UNIQUE (sink, dedup_key)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (sink, status, fingerprint, id);
CREATE TABLE IF NOT EXISTS notified (
    sink             TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    state            TEXT NOT NULL,
    finding          TEXT NOT NULL,
    fired_at_ms      INTEGER NOT NULL,
    resolved_at_ms   INTEGER,
    last_enqueued_ms INTEGER NOT NULL,
    PRIMARY KEY (sink, fingerprint)
);
CREATE TABLE IF NOT EXISTS annotations (
    sink          TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    fired_at_ms   INTEGER NOT NULL,
    annotation_id INTEGER NOT NULL,
    PRIMARY KEY (sink, fingerprint, fired_at_ms)
);
CREATE TABLE IF NOT EXISTS counters (
    sink    TEXT NOT NULL,
    outcome TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (sink, outcome)
);
";

/// Delivery figures for one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// The sink's name (`slack[0]`, or its configured `name`).
    pub sink: String,
    /// Notifications waiting in the outbox.
    pub pending: u64,
    /// Notifications the sink accepted, since the outbox was created.
    pub delivered_total: u64,
    /// Notifications the sink rejected permanently and that were dropped.
    pub dropped_total: u64,
    /// Retryable failures (each try that failed).
    pub retries_total: u64,
}

/// What one sink should have been told after this cycle.
pub(crate) struct SinkPlan<'a> {
    pub(crate) name: &'a str,
    /// Findings firing now that the sink's route takes.
    pub(crate) firing: Vec<&'a Finding>,
    pub(crate) sends_resolved: bool,
    pub(crate) resend: Option<ResendPolicy>,
}

pub(crate) struct Outbox {
    conn: Connection,
    path: String,
}

struct NotifiedRow {
    state: String,
    finding: String,
    fired_at_ms: i64,
    resolved_at_ms: Option<i64>,
    last_enqueued_ms: i64,
}

impl Outbox {
    pub(crate) fn open(path: &Path) -> Result<Outbox, NotifyError> {
        let p = path.display().to_string();
        let err = |source| NotifyError::Db { path: p.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        // WAL: readers never block the writer. In WAL mode every commit survives a crash
        // of the process (kill -9); `synchronous` only decides what survives power loss.
        // Delivery marks commit with NORMAL (no fsync): losing one to power loss means
        // a resend, which the receiver deduplicates. A cycle's enqueue commits with FULL,
        // whose fsync also makes every earlier mark durable: a notification is never lost.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Outbox { conn, path: p })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> NotifyError + '_ {
        |source| NotifyError::Db { path: self.path.clone(), source }
    }

    /// Sinks with pending rows that are not in `known`, with their counts.
    pub(crate) fn orphaned(&self, known: &[&str]) -> Result<Vec<(String, i64)>, NotifyError> {
        let mut stmt = self
            .conn
            .prepare("SELECT sink, COUNT(*) FROM outbox WHERE status = 'pending' GROUP BY sink")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(rows.into_iter().filter(|(s, _)| !known.contains(&s.as_str())).collect())
    }

    /// Computes and enqueues one cycle's notifications in one transaction. `now_ms` is the
    /// evaluation time (event times, resend spacing); `wall_ms` is when rows become due.
    /// Returns how many rows were enqueued.
    pub(crate) fn apply_cycle(
        &mut self,
        now_ms: i64,
        wall_ms: i64,
        plans: &[SinkPlan<'_>],
        resolved: &[Finding],
    ) -> Result<usize, NotifyError> {
        let path = self.path.clone();
        let err = |source| NotifyError::Db { path: path.clone(), source };
        self.conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        let result = self.apply_cycle_tx(now_ms, wall_ms, plans, resolved);
        let reset = self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(err);
        let n = result?;
        reset?;
        Ok(n)
    }

    fn apply_cycle_tx(
        &mut self,
        now_ms: i64,
        wall_ms: i64,
        plans: &[SinkPlan<'_>],
        resolved: &[Finding],
    ) -> Result<usize, NotifyError> {
        let path = self.path.clone();
        let err = |source| NotifyError::Db { path: path.clone(), source };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let resolved_by_fp: BTreeMap<&str, &Finding> =
            resolved.iter().map(|f| (f.fingerprint.as_str(), f)).collect();
        let mut enqueued = 0;
        for plan in plans {
            let notified = load_notified(&tx, plan.name).map_err(err)?;
            let firing_fps: BTreeSet<&str> =
                plan.firing.iter().map(|f| f.fingerprint.as_str()).collect();
            // New firings.
            for f in &plan.firing {
                let already = notified.get(&f.fingerprint).is_some_and(|n| n.state == "firing");
                if already {
                    continue;
                }
                let json = to_json(f);
                tx.execute(
                    "INSERT OR REPLACE INTO notified
                       (sink, fingerprint, state, finding, fired_at_ms, resolved_at_ms, last_enqueued_ms)
                     VALUES (?1, ?2, 'firing', ?3, ?4, NULL, ?4)",
                    params![plan.name, f.fingerprint, json, now_ms],
                )
                .map_err(err)?;
                enqueued += enqueue(&tx, plan.name, Kind::Fire, f, &json, now_ms, now_ms, wall_ms)
                    .map_err(err)?;
            }
            // Resolutions: notified as firing, not firing (or not routed here) any more.
            for (fp, n) in &notified {
                if n.state != "firing" || firing_fps.contains(fp.as_str()) {
                    continue;
                }
                let json = match resolved_by_fp.get(fp.as_str()) {
                    Some(f) => to_json(f),
                    None => n.finding.clone(),
                };
                let finding: Finding = match serde_json::from_str(&json) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!(sink = %plan.name, fingerprint = %fp, error = %e, "Unreadable finding in the outbox; forgetting it.");
                        tx.execute(
                            "DELETE FROM notified WHERE sink = ?1 AND fingerprint = ?2",
                            params![plan.name, fp],
                        )
                        .map_err(err)?;
                        continue;
                    }
                };
                if plan.sends_resolved {
                    enqueued += enqueue(
                        &tx,
                        plan.name,
                        Kind::Resolve,
                        &finding,
                        &json,
                        n.fired_at_ms,
                        now_ms,
                        wall_ms,
                    )
                    .map_err(err)?;
                }
                if plan.resend.is_some() {
                    tx.execute(
                        "UPDATE notified SET state = 'resolved', resolved_at_ms = ?3,
                                last_enqueued_ms = ?3, finding = ?4
                         WHERE sink = ?1 AND fingerprint = ?2",
                        params![plan.name, fp, now_ms, json],
                    )
                    .map_err(err)?;
                } else {
                    tx.execute(
                        "DELETE FROM notified WHERE sink = ?1 AND fingerprint = ?2",
                        params![plan.name, fp],
                    )
                    .map_err(err)?;
                }
            }
            // Alertmanager resends, as Prometheus: firing every resend_delay; resolved
            // ones too, for resolved_retention after the resolve.
            if let Some(policy) = plan.resend {
                let notified = load_notified(&tx, plan.name).map_err(err)?;
                for (fp, n) in &notified {
                    if n.state == "resolved"
                        && now_ms - n.resolved_at_ms.unwrap_or(now_ms)
                            >= policy.resolved_retention_ms
                    {
                        tx.execute(
                            "DELETE FROM notified WHERE sink = ?1 AND fingerprint = ?2",
                            params![plan.name, fp],
                        )
                        .map_err(err)?;
                        continue;
                    }
                    if now_ms - n.last_enqueued_ms < policy.resend_delay_ms {
                        continue;
                    }
                    // While the sink is down one resend per alert waits, not one a minute.
                    let waiting: bool = tx
                        .query_row(
                            "SELECT EXISTS (SELECT 1 FROM outbox WHERE sink = ?1
                               AND fingerprint = ?2 AND status = 'pending')",
                            params![plan.name, fp],
                            |r| r.get(0),
                        )
                        .map_err(err)?;
                    if waiting {
                        continue;
                    }
                    let Ok(finding) = serde_json::from_str::<Finding>(&n.finding) else {
                        continue;
                    };
                    let kind =
                        if n.state == "firing" { Kind::Resend } else { Kind::ResendResolved };
                    let event = if kind == Kind::Resend {
                        now_ms
                    } else {
                        n.resolved_at_ms.unwrap_or(now_ms)
                    };
                    enqueued += enqueue_keyed(
                        &tx,
                        plan.name,
                        kind,
                        &finding,
                        &n.finding,
                        n.fired_at_ms,
                        event,
                        wall_ms,
                        &format!("{fp}/{}/{}/{now_ms}", n.fired_at_ms, kind.as_str()),
                    )
                    .map_err(err)?;
                    tx.execute(
                        "UPDATE notified SET last_enqueued_ms = ?3 WHERE sink = ?1 AND fingerprint = ?2",
                        params![plan.name, fp, now_ms],
                    )
                    .map_err(err)?;
                }
            }
        }
        tx.execute(
            "DELETE FROM outbox WHERE status != 'pending' AND finished_ms < ?1",
            params![wall_ms - KEEP_FINISHED_MS],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(enqueued)
    }

    /// Up to `limit` due rows of `sink`, each the oldest pending row of its fingerprint.
    pub(crate) fn next_due(
        &self,
        sink: &str,
        now_wall_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, NotifyError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.id, o.kind, o.finding, o.fired_at_ms, o.event_ms, o.attempts,
                        a.annotation_id
                 FROM outbox o
                 LEFT JOIN annotations a ON a.sink = o.sink AND a.fingerprint = o.fingerprint
                                        AND a.fired_at_ms = o.fired_at_ms
                 WHERE o.sink = ?1 AND o.status = 'pending' AND o.due_ms <= ?2
                   AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.sink = o.sink
                                   AND p.status = 'pending' AND p.fingerprint = o.fingerprint
                                   AND p.id < o.id)
                 ORDER BY o.id LIMIT ?3",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![sink, now_wall_ms, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (id, kind, finding, fired_at_ms, event_ms, attempts, annotation_id) in rows {
            let (Some(kind), Ok(finding)) =
                (Kind::parse(&kind), serde_json::from_str::<Finding>(&finding))
            else {
                tracing::error!(sink = %sink, id, "Unreadable outbox row; dropping it.");
                self.conn
                    .execute(
                        "UPDATE outbox SET status = 'dropped', last_error = 'unreadable row',
                                finished_ms = ?2 WHERE id = ?1",
                        params![id, now_wall_ms],
                    )
                    .map_err(self.err())?;
                continue;
            };
            out.push(Delivery {
                id,
                kind,
                finding,
                fired_at_ms,
                event_ms,
                attempts,
                annotation_id,
            });
        }
        Ok(out)
    }

    /// When the next pending row of `sink` becomes due.
    pub(crate) fn next_due_ms(&self, sink: &str) -> Result<Option<i64>, NotifyError> {
        self.conn
            .query_row(
                "SELECT MIN(due_ms) FROM outbox WHERE sink = ?1 AND status = 'pending'",
                params![sink],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    pub(crate) fn mark_attempt(&mut self, ids: &[i64]) -> Result<(), NotifyError> {
        let path = self.path.clone();
        let err = |source| NotifyError::Db { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        for id in ids {
            tx.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?1", params![id])
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Marks rows done; for a Grafana fire, records the annotation id in the same
    /// transaction; for a resolve, forgets it.
    pub(crate) fn mark_done(
        &mut self,
        sink: &str,
        batch: &[Delivery],
        annotation_id: Option<i64>,
        now_wall_ms: i64,
    ) -> Result<(), NotifyError> {
        let path = self.path.clone();
        let err = |source| NotifyError::Db { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        for d in batch {
            tx.execute(
                "UPDATE outbox SET status = 'done', finished_ms = ?2, last_error = NULL WHERE id = ?1",
                params![d.id, now_wall_ms],
            )
            .map_err(err)?;
            match (d.kind, annotation_id) {
                (Kind::Fire, Some(aid)) => {
                    tx.execute(
                        "INSERT OR REPLACE INTO annotations (sink, fingerprint, fired_at_ms, annotation_id)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![sink, d.finding.fingerprint, d.fired_at_ms, aid],
                    )
                    .map_err(err)?;
                }
                (Kind::Resolve, _) => {
                    tx.execute(
                        "DELETE FROM annotations WHERE sink = ?1 AND fingerprint = ?2 AND fired_at_ms = ?3",
                        params![sink, d.finding.fingerprint, d.fired_at_ms],
                    )
                    .map_err(err)?;
                }
                _ => {}
            }
        }
        bump(&tx, sink, "delivered", batch.len()).map_err(err)?;
        tx.commit().map_err(err)
    }

    pub(crate) fn mark_retry(
        &mut self,
        ids: &[i64],
        due_ms: i64,
        reason: &str,
    ) -> Result<(), NotifyError> {
        let path = self.path.clone();
        let err = |source| NotifyError::Db { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        let mut sink: Option<String> = None;
        for id in ids {
            tx.execute(
                "UPDATE outbox SET due_ms = ?2, last_error = ?3 WHERE id = ?1",
                params![id, due_ms, reason],
            )
            .map_err(err)?;
            if sink.is_none() {
                sink = tx
                    .query_row("SELECT sink FROM outbox WHERE id = ?1", params![id], |r| r.get(0))
                    .optional()
                    .map_err(err)?;
            }
        }
        if let Some(s) = sink {
            bump(&tx, &s, "retried", 1).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    pub(crate) fn mark_dropped(
        &mut self,
        sink: &str,
        ids: &[i64],
        reason: &str,
        now_wall_ms: i64,
    ) -> Result<(), NotifyError> {
        let path = self.path.clone();
        let err = |source| NotifyError::Db { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        for id in ids {
            tx.execute(
                "UPDATE outbox SET status = 'dropped', last_error = ?2, finished_ms = ?3 WHERE id = ?1",
                params![id, reason, now_wall_ms],
            )
            .map_err(err)?;
        }
        bump(&tx, sink, "dropped", ids.len()).map_err(err)?;
        tx.commit().map_err(err)
    }

    pub(crate) fn stats(&self, sinks: &[&str]) -> Result<Vec<SinkStats>, NotifyError> {
        let mut out = Vec::new();
        for sink in sinks {
            let pending: i64 = self
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM outbox WHERE sink = ?1 AND status = 'pending'",
                    params![sink],
                    |r| r.get(0),
                )
                .map_err(self.err())?;
            let counter = |outcome: &str| -> Result<u64, NotifyError> {
                let n: Option<i64> = self
                    .conn
                    .query_row(
                        "SELECT n FROM counters WHERE sink = ?1 AND outcome = ?2",
                        params![sink, outcome],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(self.err())?;
                Ok(n.unwrap_or(0) as u64)
            };
            out.push(SinkStats {
                sink: sink.to_string(),
                pending: pending as u64,
                delivered_total: counter("delivered")?,
                dropped_total: counter("dropped")?,
                retries_total: counter("retried")?,
            });
        }
        Ok(out)
    }
}

fn to_json(f: &Finding) -> String {
    serde_json::to_string(f).expect("a Finding always serialises")
}

fn load_notified(
    tx: &rusqlite::Transaction<'_>,
    sink: &str,
) -> rusqlite::Result<BTreeMap<String, NotifiedRow>> {
    let mut stmt = tx.prepare_cached(
        "SELECT fingerprint, state, finding, fired_at_ms, resolved_at_ms, last_enqueued_ms
         FROM notified WHERE sink = ?1",
    )?;
    let rows = stmt.query_map(params![sink], |r| {
        Ok((
            r.get::<_, String>(0)?,
            NotifiedRow {
                state: r.get(1)?,
                finding: r.get(2)?,
                fired_at_ms: r.get(3)?,
                resolved_at_ms: r.get(4)?,
                last_enqueued_ms: r.get(5)?,
            },
        ))
    })?;
    rows.collect()
}

#[allow(clippy::too_many_arguments)]
fn enqueue(
    tx: &rusqlite::Transaction<'_>,
    sink: &str,
    kind: Kind,
    f: &Finding,
    json: &str,
    fired_at_ms: i64,
    event_ms: i64,
    wall_ms: i64,
) -> rusqlite::Result<usize> {
    let key = format!("{}/{fired_at_ms}/{}", f.fingerprint, kind.as_str());
    enqueue_keyed(tx, sink, kind, f, json, fired_at_ms, event_ms, wall_ms, &key)
}

#[allow(clippy::too_many_arguments)]
fn enqueue_keyed(
    tx: &rusqlite::Transaction<'_>,
    sink: &str,
    kind: Kind,
    f: &Finding,
    json: &str,
    fired_at_ms: i64,
    event_ms: i64,
    wall_ms: i64,
    dedup_key: &str,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT OR IGNORE INTO outbox
           (sink, dedup_key, fingerprint, kind, finding, fired_at_ms, event_ms, created_ms, due_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            sink,
            dedup_key,
            f.fingerprint,
            kind.as_str(),
            json,
            fired_at_ms,
            event_ms,
            wall_ms
        ],
    )
}

fn bump(
    tx: &rusqlite::Transaction<'_>,
    sink: &str,
    outcome: &str,
    n: usize,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO counters (sink, outcome, n) VALUES (?1, ?2, ?3)
         ON CONFLICT (sink, outcome) DO UPDATE SET n = n + excluded.n",
        params![sink, outcome, n as i64],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::cloned_ref_to_slice_refs)]
    use super::*;
    use crate::System;
    use crate::findings::{Category, Severity, fingerprint};

    fn finding(id: &str) -> Finding {
        Finding {
            id: id.into(),
            fingerprint: fingerprint(id, System::Kafka, "prod", None),
            system: System::Kafka,
            cluster: "prod".into(),
            node: None,
            category: Category::Availability,
            severity: Severity::Critical,
            impact: vec![],
            analyzer: "rules".into(),
            symptom: format!("{id} is wrong"),
            cause: String::new(),
            resources: vec![],
            evidence: vec![],
            action: String::new(),
            docs_url: String::new(),
            advises: Vec::new(),
        }
    }

    struct Db {
        ob: Outbox,
        _dir: std::path::PathBuf,
    }

    fn open(tag: &str) -> Db {
        let dir =
            std::env::temp_dir().join(format!("opsadvisor-outbox-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Db { ob: Outbox::open(&dir.join("o.sqlite")).unwrap(), _dir: dir }
    }

    impl Drop for Db {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self._dir);
        }
    }

    fn cycle(
        ob: &mut Outbox,
        now: i64,
        firing: &[Finding],
        resolved: &[Finding],
        resend: Option<ResendPolicy>,
    ) -> usize {
        let plan =
            SinkPlan { name: "s", firing: firing.iter().collect(), sends_resolved: true, resend };
        ob.apply_cycle(now, now, &[plan], resolved).unwrap()
    }

    fn kinds(ob: &Outbox, now: i64) -> Vec<(String, Kind)> {
        ob.next_due("s", now, 100).unwrap().into_iter().map(|d| (d.finding.id, d.kind)).collect()
    }

    fn deliver_all(ob: &mut Outbox, now: i64) {
        loop {
            let due = ob.next_due("s", now, 100).unwrap();
            if due.is_empty() {
                return;
            }
            ob.mark_done("s", &due, None, now).unwrap();
        }
    }

    #[test]
    fn a_finding_fires_once_and_a_replayed_cycle_enqueues_nothing() {
        let mut db = open("once");
        let (a, b) = (finding("a"), finding("b"));
        assert_eq!(cycle(&mut db.ob, 1_000, &[a.clone()], &[], None), 1);
        assert_eq!(cycle(&mut db.ob, 1_000, &[a.clone()], &[], None), 0, "replay");
        assert_eq!(cycle(&mut db.ob, 2_000, &[a.clone(), b.clone()], &[], None), 1);
        assert_eq!(kinds(&db.ob, 2_000), vec![("a".into(), Kind::Fire), ("b".into(), Kind::Fire)]);
        assert_eq!(cycle(&mut db.ob, 3_000, &[b.clone()], &[a.clone()], None), 1);
        assert_eq!(cycle(&mut db.ob, 3_000, &[b.clone()], &[a.clone()], None), 0, "replay");
        // b disappeared without being listed as resolved: it resolves all the same.
        assert_eq!(cycle(&mut db.ob, 4_000, &[], &[], None), 1);
        assert_eq!(db.ob.stats(&["s"]).unwrap()[0].pending, 4);
        // A new firing of a is a new instance with its own dedup key.
        assert_eq!(cycle(&mut db.ob, 5_000, &[a.clone()], &[], None), 1);
    }

    #[test]
    fn a_resolve_never_overtakes_its_fire() {
        let mut db = open("order");
        let a = finding("a");
        cycle(&mut db.ob, 1_000, &[a.clone()], &[], None);
        cycle(&mut db.ob, 2_000, &[], &[a.clone()], None);
        assert_eq!(kinds(&db.ob, 10_000), vec![("a".into(), Kind::Fire)]);
        let fire = db.ob.next_due("s", 10_000, 1).unwrap();
        // The fire failed and waits: the resolve waits behind it.
        db.ob.mark_retry(&[fire[0].id], 20_000, "HTTP 503").unwrap();
        assert!(kinds(&db.ob, 10_000).is_empty());
        assert_eq!(db.ob.next_due_ms("s").unwrap(), Some(2_000));
        assert_eq!(kinds(&db.ob, 20_000), vec![("a".into(), Kind::Fire)]);
        db.ob.mark_done("s", &fire, None, 20_000).unwrap();
        assert_eq!(kinds(&db.ob, 20_000), vec![("a".into(), Kind::Resolve)]);
        let s = &db.ob.stats(&["s"]).unwrap()[0];
        assert_eq!((s.pending, s.delivered_total, s.retries_total), (1, 1, 1));
    }

    #[test]
    fn alertmanager_resends_firing_every_delay_and_resolved_for_fifteen_minutes() {
        let mut db = open("resend");
        let p = Some(ResendPolicy { resend_delay_ms: 60_000, resolved_retention_ms: 900_000 });
        let a = finding("a");
        assert_eq!(cycle(&mut db.ob, 0, &[a.clone()], &[], p), 1);
        assert_eq!(cycle(&mut db.ob, 30_000, &[a.clone()], &[], p), 0);
        // Fire still undelivered at 60 s: no resend piles up behind it.
        assert_eq!(cycle(&mut db.ob, 60_000, &[a.clone()], &[], p), 0);
        deliver_all(&mut db.ob, 60_000);
        assert_eq!(cycle(&mut db.ob, 61_000, &[a.clone()], &[], p), 1);
        assert_eq!(kinds(&db.ob, 61_000), vec![("a".into(), Kind::Resend)]);
        deliver_all(&mut db.ob, 61_000);
        assert_eq!(cycle(&mut db.ob, 90_000, &[a.clone()], &[], p), 0);
        assert_eq!(cycle(&mut db.ob, 121_000, &[a.clone()], &[], p), 1);
        deliver_all(&mut db.ob, 121_000);
        assert_eq!(cycle(&mut db.ob, 130_000, &[], &[a.clone()], p), 1);
        let due = db.ob.next_due("s", 130_000, 10).unwrap();
        assert_eq!((due[0].kind, due[0].event_ms, due[0].fired_at_ms), (Kind::Resolve, 130_000, 0));
        deliver_all(&mut db.ob, 130_000);
        assert_eq!(cycle(&mut db.ob, 190_000, &[], &[], p), 1);
        assert_eq!(kinds(&db.ob, 190_000), vec![("a".into(), Kind::ResendResolved)]);
        deliver_all(&mut db.ob, 190_000);
        // 15 minutes after the resolve it is forgotten.
        assert_eq!(cycle(&mut db.ob, 130_000 + 900_000, &[], &[], p), 0);
        assert_eq!(cycle(&mut db.ob, 130_000 + 960_000, &[], &[], p), 0);
    }

    #[test]
    fn grafana_annotation_ids_live_and_die_with_their_firing() {
        let mut db = open("annot");
        let a = finding("a");
        cycle(&mut db.ob, 1_000, &[a.clone()], &[], None);
        let fire = db.ob.next_due("s", 1_000, 1).unwrap();
        db.ob.mark_done("s", &fire, Some(42), 1_000).unwrap();
        cycle(&mut db.ob, 2_000, &[], &[a.clone()], None);
        let resolve = db.ob.next_due("s", 2_000, 1).unwrap();
        assert_eq!((resolve[0].kind, resolve[0].annotation_id), (Kind::Resolve, Some(42)));
        db.ob.mark_done("s", &resolve, None, 2_000).unwrap();
        let n: i64 =
            db.ob.conn.query_row("SELECT COUNT(*) FROM annotations", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
    }
}
