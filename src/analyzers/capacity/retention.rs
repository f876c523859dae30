//! Kafka retention against the disk: how much log a broker holds once retention starts
//! deleting, and whether that fits.
//!
//! A Kafka broker's logs grow until the oldest segment is older than `log.retention.ms`
//! (or a partition exceeds `log.retention.bytes`); only then does deletion balance the
//! writes. The steady state is therefore the broker's write rate times the retention time,
//! or `retention.bytes` times its partitions, whichever is smaller. When that is more than
//! the disk (or Cruise Control's 0.8 disk threshold), the broker will get there: the disk
//! fills before retention deletes anything, and Kafka takes the log directory offline. The
//! date comes from the forecast of the log size itself; this module only says whether, and
//! by how much, retention is set too long for the disk.
//!
//! Topic-level overrides (`retention.ms` per topic) are not visible in server.properties:
//! a log that has stopped growing is at its real steady state, whatever the broker default
//! implies, so the forecast (flat) then finds no date and nothing is reported.

use super::limits::{Limit, Metric};

/// Kafka's `log.retention.hours` default.
pub const DEFAULT_RETENTION_S: f64 = 168.0 * 3600.0;

/// What one broker's facts and series say about its retention.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Retention {
    /// `log.retention.{ms,minutes,hours}` in seconds; `None` when unlimited (`-1`).
    pub retention_s: Option<f64>,
    /// Whether the retention time is Kafka's default (the key is absent from the file).
    pub default_time: bool,
    /// `log.retention.bytes` per partition; `None` when unlimited (the default, `-1`).
    pub retention_bytes: Option<f64>,
    /// Partition replicas on the broker.
    pub partitions: f64,
    /// Bytes written to the broker's logs per second: produce bytes in (leaders) times the
    /// replicas it holds per partition it leads.
    pub write_bytes_per_s: f64,
    /// Replicas per led partition used for `write_bytes_per_s`.
    pub replication: f64,
    /// Brokers the cluster needs for every broker's steady state to fit, when more than it has.
    pub brokers_needed: Option<(usize, usize)>,
}

impl Retention {
    /// The log bytes the broker settles at, `None` when nothing limits it.
    pub fn steady_bytes(&self) -> Option<f64> {
        let by_time = self.retention_s.map(|s| self.write_bytes_per_s * s);
        let by_size = self.retention_bytes.map(|b| b * self.partitions.max(1.0));
        match (by_time, by_size) {
            (Some(t), Some(b)) => Some(t.min(b)),
            (t, b) => t.or(b),
        }
    }
}

fn gib(bytes: f64) -> String {
    let g = bytes / 1_073_741_824.0;
    if g >= 100.0 { format!("{g:.0} GiB") } else { format!("{g:.1} GiB") }
}

fn mib_s(bytes_per_s: f64) -> String {
    format!("{:.2} MiB/s", bytes_per_s / 1_048_576.0)
}

fn hours(s: f64) -> String {
    let h = s / 3600.0;
    if h >= 10.0 { format!("{h:.0} h") } else { format!("{h:.1} h") }
}

/// The limit a broker's log size is forecast against, when its retention does not fit
/// `target` of a `disk_bytes` disk; `None` when it fits (or nothing is known).
pub fn limit(r: &Retention, disk_bytes: f64, target: f64) -> Option<Limit> {
    if !(disk_bytes > 0.0 && r.write_bytes_per_s >= 0.0) {
        return None;
    }
    let limit = target * disk_bytes;
    let steady = r.steady_bytes();
    if steady.is_some_and(|s| s <= limit) {
        return None;
    }
    let time = match (r.retention_s, r.default_time) {
        (Some(s), true) => format!("log.retention.hours = {} (Kafka's default)", hours(s)),
        (Some(s), false) => format!("log.retention = {}", hours(s)),
        (None, _) => "no time limit (log.retention.ms = -1)".to_string(),
    };
    let size = match r.retention_bytes {
        Some(b) => format!("log.retention.bytes = {} × {:.0} partitions", gib(b), r.partitions),
        None => "no size limit".to_string(),
    };
    let implied = match steady {
        Some(s) => format!("{} of logs once retention starts deleting", gib(s)),
        None => "logs that grow without end".to_string(),
    };
    let over_disk = steady.is_none_or(|s| s > disk_bytes);
    let consequence = if over_disk {
        format!(
            "retention implies {implied}, more than the {} disk: it fills before retention deletes anything, Kafka takes the log directory offline and its partitions go offline or under-replicated",
            gib(disk_bytes)
        )
    } else {
        format!(
            "retention implies {implied}, past the {:.0}% disk capacity threshold: no room left to move a failed broker's replicas or to reassign partitions",
            target * 100.0
        )
    };
    let mut options = Vec::new();
    if r.write_bytes_per_s > 0.0 {
        let fits_s = limit / r.write_bytes_per_s;
        options.push(format!(
            "lower log.retention.hours to {:.0} (at {} written, that keeps the logs under {})",
            (fits_s / 3600.0).floor().max(1.0),
            mib_s(r.write_bytes_per_s),
            gib(limit)
        ));
    }
    if let Some((needed, have)) = r.brokers_needed {
        let add = needed.saturating_sub(have);
        options.push(format!(
            "add {add} broker{} and reassign partitions ({needed} brokers hold the cluster's steady state under the threshold)",
            if add == 1 { "" } else { "s" }
        ));
    }
    if let Some(s) = steady {
        options.push(format!("grow the log disk to at least {}", gib(s / target)));
    }
    Some(Limit {
        id: "capacity_kafka_retention",
        metric: Metric::LogSize,
        value: limit,
        name: format!(
            "{:.0}% of the {} log disk ({})",
            target * 100.0,
            gib(disk_bytes),
            gib(limit)
        ),
        consequence,
        action: options.join(", or "),
        docs_url: "https://kafka.apache.org/documentation/#brokerconfigs_log.retention.hours",
        basis: Some(format!(
            "steady state = write rate {} (bytes in × {:.1} replicas per led partition) × {time}, capped by {size}",
            mib_s(r.write_bytes_per_s),
            r.replication
        )),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GIB: f64 = 1_073_741_824.0;

    fn broker(write_mib_s: f64, retention_h: Option<f64>, bytes_gib: Option<f64>) -> Retention {
        Retention {
            retention_s: retention_h.map(|h| h * 3600.0),
            default_time: retention_h == Some(168.0),
            retention_bytes: bytes_gib.map(|g| g * GIB),
            partitions: 300.0,
            write_bytes_per_s: write_mib_s * 1_048_576.0,
            replication: 3.0,
            brokers_needed: None,
        }
    }

    #[test]
    fn steady_state_is_the_smaller_of_time_and_size() {
        // 1.5 MiB/s for a week: 885.9 GiB; 1 GiB per partition × 300: 300 GiB.
        let r = broker(1.5, Some(168.0), None);
        assert!((r.steady_bytes().unwrap() / GIB - 885.9).abs() < 0.1);
        assert_eq!(broker(1.5, Some(168.0), Some(1.0)).steady_bytes(), Some(300.0 * GIB));
        assert_eq!(broker(1.5, None, Some(1.0)).steady_bytes(), Some(300.0 * GIB));
        assert_eq!(broker(1.5, None, None).steady_bytes(), None);
    }

    #[test]
    fn a_week_at_this_rate_does_not_fit_80_percent_of_a_terabyte() {
        let l = limit(&broker(1.5, Some(168.0), None), 1000.0 * GIB, 0.8).unwrap();
        assert_eq!(l.value, 800.0 * GIB);
        assert!(l.consequence.contains("886 GiB of logs"), "{}", l.consequence);
        assert!(
            l.consequence.contains("past the 80% disk capacity threshold"),
            "{}",
            l.consequence
        );
        // 800 GiB / 1.5 MiB/s = 151.7 h.
        assert!(l.action.starts_with("lower log.retention.hours to 151 "), "{}", l.action);
        assert!(l.action.contains("grow the log disk to at least 1107 GiB"), "{}", l.action);
        assert!(l.basis.unwrap().contains("(Kafka's default)"));
        // Past the whole disk, the consequence is the disk filling.
        let l = limit(&broker(3.0, Some(168.0), None), 1000.0 * GIB, 0.8).unwrap();
        assert!(l.consequence.contains("log directory offline"), "{}", l.consequence);
        // No retention at all never fits.
        assert!(limit(&broker(0.1, None, None), 1000.0 * GIB, 0.8).is_some());
    }

    #[test]
    fn a_retention_that_fits_is_no_limit() {
        assert!(limit(&broker(1.5, Some(72.0), None), 1000.0 * GIB, 0.8).is_none());
        assert!(limit(&broker(1.5, Some(168.0), Some(1.0)), 1000.0 * GIB, 0.8).is_none());
        // Unknown disk: nothing to compare with.
        assert!(limit(&broker(1.5, Some(168.0), None), 0.0, 0.8).is_none());
    }
}
