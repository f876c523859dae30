//! Sinks: where findings go. The CLI report, the HTML report, and the notification sinks
//! (Slack, PagerDuty, Grafana, Alertmanager) behind a persistent outbox, which the daemon feeds.

pub mod html;
pub mod notify;
pub mod report;
