//! Sinks: where findings go. For now the CLI report; the notification sinks (Slack,
//! PagerDuty, Grafana, Alertmanager) join here with the daemon.

pub mod html;
pub mod report;
