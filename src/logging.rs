//! Log output: `--log.format text|logfmt|json` on stderr, as the Prometheus ecosystem does.
//!
//! logfmt is written by a small formatter here (tracing-subscriber has none); JSON is
//! tracing-subscriber's, flattened so `msg` and fields sit at the top level, which is what
//! Loki and Elasticsearch users query. Secrets never reach a log call: URLs go through
//! `sources::redact` and credentials live only in `auth::Credentials`.

use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable (tracing-subscriber's default).
    Text,
    /// `ts=… level=info msg="…" key=value`, as Prometheus and Alertmanager print.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber writing to stderr with `filter` (an EnvFilter directive;
/// `RUST_LOG` wins when set).
pub fn init(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Logfmt => builder.event_format(Logfmt).init(),
        LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init()
        }
    }
}

/// The logfmt event formatter.
struct Logfmt;

#[derive(Default)]
struct Fields {
    msg: String,
    rest: String,
}

/// Quotes a logfmt value when it needs it.
fn value(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '"', '=', '\n', '\\']) {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, v: &str) {
        if field.name() == "message" {
            self.msg = v.to_string();
        } else {
            self.rest.push_str(&format!(" {}={}", field.name(), value(v)));
        }
    }

    fn record_debug(&mut self, field: &Field, v: &dyn fmt::Debug) {
        self.record_str(field, &format!("{v:?}"));
    }
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut f = Fields::default();
        event.record(&mut f);
        writeln!(
            writer,
            "ts={} level={} target={} msg={}{}",
            rfc3339_ms(crate::clock::now_ms()),
            meta.level().as_str().to_ascii_lowercase(),
            meta.target(),
            value(&f.msg),
            f.rest
        )
    }
}

use crate::clock::rfc3339_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_values_format_as_logfmt_expects() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_709_164_800_123), "2024-02-29T00:00:00.123Z");
        assert_eq!(value("plain"), "plain");
        assert_eq!(value("two words"), "\"two words\"");
        assert_eq!(value(""), "\"\"");
    }
}
