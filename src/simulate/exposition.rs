//! A tiny writer for the Prometheus text exposition format 0.0.4.
//!
//! The simulator renders every exporter page through this writer so that all of them share one
//! set of rules: a `# HELP` and `# TYPE` line before the first sample of each family, label names
//! sorted (as client_java 1.x and the Go client do), label values escaped, and every sample
//! stamped with the simulated clock in milliseconds. The timestamp is what lets a scraper rate a
//! fast-forwarded simulation correctly.

use std::fmt::Write as _;

/// The `# TYPE` of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Summary,
    Untyped,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
            Kind::Untyped => "untyped",
        }
    }
}

/// Builds one exposition page in memory.
pub(crate) struct TextWriter {
    buf: String,
    /// `" <ts_ms>\n"`, appended to every sample.
    ts_suffix: String,
}

/// More labels than any simulated series carries.
const MAX_LABELS: usize = 8;

impl TextWriter {
    /// Starts a page whose samples all carry `ts_ms`.
    pub(crate) fn new(ts_ms: i64) -> TextWriter {
        TextWriter { buf: String::with_capacity(32 * 1024), ts_suffix: format!(" {ts_ms}\n") }
    }

    /// Writes the `# HELP` and `# TYPE` lines of a family. Call once, before its samples.
    pub(crate) fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        for (tag, text) in [("# HELP ", help.as_str()), ("# TYPE ", kind.as_str())] {
            self.buf.push_str(tag);
            self.buf.push_str(name);
            self.buf.push(' ');
            self.buf.push_str(text);
            self.buf.push('\n');
        }
    }

    /// Writes one sample. Labels are written sorted by name; empty label values are dropped,
    /// as jmx_exporter does.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.buf.push_str(name);
        // At most a handful of labels: sort references in a fixed array, no allocation.
        let mut sorted: [(&str, &str); MAX_LABELS] = [("", ""); MAX_LABELS];
        let mut n = 0;
        for &(k, v) in labels {
            if !v.is_empty() && n < MAX_LABELS {
                sorted[n] = (k, v);
                n += 1;
            }
        }
        if n > 0 {
            let sorted = &mut sorted[..n];
            sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
            self.buf.push('{');
            for (i, (k, v)) in sorted.iter().enumerate() {
                if i > 0 {
                    self.buf.push(',');
                }
                self.buf.push_str(k);
                self.buf.push_str("=\"");
                escape_label_value(&mut self.buf, v);
                self.buf.push('"');
            }
            self.buf.push('}');
        }
        self.buf.push(' ');
        push_value(&mut self.buf, value);
        self.buf.push_str(&self.ts_suffix);
    }

    /// Shorthand for a family with a single unlabelled sample.
    pub(crate) fn single(&mut self, name: &str, help: &str, kind: Kind, value: f64) {
        self.family(name, help, kind);
        self.sample(name, &[], value);
    }

    /// Returns the finished page.
    pub(crate) fn finish(self) -> String {
        self.buf
    }
}

fn escape_label_value(buf: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '"' => buf.push_str("\\\""),
            '\n' => buf.push_str("\\n"),
            c => buf.push(c),
        }
    }
}

/// Formats a float the way Prometheus parsers accept it (`NaN`, `+Inf`, `-Inf`, or a
/// plain decimal/exponent number). Whole numbers print without a fraction.
fn push_value(buf: &mut String, v: f64) {
    if v.is_nan() {
        buf.push_str("NaN");
    } else if v.is_infinite() {
        buf.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        write!(buf, "{}", v as i64).expect("writing to a String cannot fail");
    } else {
        write!(buf, "{v}").expect("writing to a String cannot fail");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_sorted_escaped_labels_and_timestamps() {
        let mut w = TextWriter::new(1_000);
        w.family("x_total", "An \"x\".", Kind::Counter);
        w.sample("x_total", &[("z", "1"), ("a", "q\"\\\n"), ("empty", "")], 2.5);
        w.single("y", "Y.", Kind::Gauge, 3.0);
        let page = w.finish();
        assert_eq!(
            page,
            "# HELP x_total An \"x\".\n# TYPE x_total counter\n\
             x_total{a=\"q\\\"\\\\\\n\",z=\"1\"} 2.5 1000\n\
             # HELP y Y.\n# TYPE y gauge\ny 3 1000\n"
        );
    }

    #[test]
    fn formats_special_values() {
        let mut s = String::new();
        push_value(&mut s, f64::NAN);
        s.push(' ');
        push_value(&mut s, f64::INFINITY);
        s.push(' ');
        push_value(&mut s, 1e20);
        s.push(' ');
        push_value(&mut s, -0.125);
        assert_eq!(s, "NaN +Inf 100000000000000000000 -0.125");
    }
}
