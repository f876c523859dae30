//! Keeps one [`Notifier`] delivering and replaces it when a reload changes the
//! `notifications:` section, so SIGHUP applies sink changes as it applies rule changes.
//!
//! The swap never loses or doubles a notification: the new notifier opens the same outbox,
//! the old delivery loops stop (a send in flight finishes and is recorded) before the new
//! ones start, and a sink that stays configured under the same name keeps its queue and what
//! it was already told. A sink removed by the reload keeps its pending rows in the outbox
//! (logged) until it is configured again.

use super::{NotificationsConfig, Notifier, NotifyError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a replaced notifier may take to finish the send in flight.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A delivery task and the switch that stops it.
struct Delivery {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Delivery {
    fn spawn(notifier: &Arc<Notifier>) -> Delivery {
        let (stop, stopped) = watch::channel(false);
        let deliverer = Arc::clone(notifier);
        let task = tokio::spawn(async move { deliverer.run(stopped).await });
        Delivery { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(STOP_GRACE, self.task).await;
    }
}

/// Owns the delivering [`Notifier`]; share it behind an `Arc`. Call from a tokio runtime.
pub struct Supervisor {
    dir: PathBuf,
    current: Mutex<Arc<Notifier>>,
    delivery: tokio::sync::Mutex<Option<Delivery>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Opens the outbox under `dir` for `config`'s sinks and starts delivering.
    ///
    /// # Errors
    /// As [`Notifier::open`].
    pub fn start(dir: &Path, config: &NotificationsConfig) -> Result<Supervisor, NotifyError> {
        let notifier = Arc::new(Notifier::open(dir, config)?);
        let delivery = Delivery::spawn(&notifier);
        Ok(Supervisor {
            dir: dir.to_path_buf(),
            current: Mutex::new(notifier),
            delivery: tokio::sync::Mutex::new(Some(delivery)),
        })
    }

    /// The notifier in use now: feed it cycles, read its metrics. During a swap this is
    /// still the old one, which writes to the same outbox the new one delivers from.
    pub fn notifier(&self) -> Arc<Notifier> {
        Arc::clone(&self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces the sinks with `config`'s. If the new notifier cannot be opened, the running
    /// one stays and the error is returned.
    ///
    /// # Errors
    /// As [`Notifier::open`].
    pub async fn reconfigure(&self, config: &NotificationsConfig) -> Result<(), NotifyError> {
        let next = Arc::new(Notifier::open(&self.dir, config)?);
        let mut delivery = self.delivery.lock().await;
        if let Some(old) = delivery.take() {
            old.stop().await;
        }
        tracing::info!(sinks = ?next.sink_names(), "Notification sinks reloaded.");
        *delivery = Some(Delivery::spawn(&next));
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = next;
        Ok(())
    }

    /// Delivers what is queued for up to `flush_timeout`, then stops delivery. Whether the
    /// outbox emptied; what is left stays queued for the next start.
    pub async fn shutdown(&self, flush_timeout: Duration) -> bool {
        let flushed = flush(&self.notifier(), flush_timeout).await;
        if let Some(delivery) = self.delivery.lock().await.take() {
            delivery.stop().await;
        }
        flushed
    }
}

/// Waits until every sink's queue is empty or `timeout` passed; whether it emptied.
async fn flush(notifier: &Notifier, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match notifier.stats() {
            Ok(stats) if stats.iter().all(|s| s.pending == 0) => return true,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "Reading the outbox failed; not waiting for the flush.");
                return false;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
