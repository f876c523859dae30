//! Property: samples rendered as an exposition parse back to the same samples, in both the
//! text format and OpenMetrics: names, label values with every escape (`\\`, `"`, newline,
//! any Unicode), every float including NaN and ±Inf, and millisecond timestamps.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use opsadvisor::sample::Sample;
use opsadvisor::sources::exposition::{Format, parse};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const RESERVED: [&str; 8] =
    ["_total", "_created", "_count", "_sum", "_bucket", "_info", "_gcount", "_gsum"];

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
        .prop_filter("no type suffixes", |n| !RESERVED.iter().any(|s| n.ends_with(s)))
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (-1e6f64..1e6),
        (0i64..1_000_000).prop_map(|i| i as f64),
    ]
}

/// Families: name → series, each with distinct label sets.
fn families() -> impl Strategy<Value = BTreeMap<String, Vec<Sample>>> {
    let labels = prop::collection::btree_map("[a-zA-Z][a-zA-Z0-9_]{0,8}", "\\PC{0,12}", 0..4);
    let series = (labels, value(), prop::option::of(0i64..10_000_000_000_000));
    prop::collection::btree_map(name(), prop::collection::vec(series, 1..4), 1..6).prop_map(|m| {
        m.into_iter()
            .map(|(n, series)| {
                let mut seen = std::collections::BTreeSet::new();
                let samples = series
                    .into_iter()
                    .filter(|(l, _, _)| seen.insert(l.clone()))
                    .map(|(l, v, ts)| Sample {
                        name: n.as_str().into(),
                        labels: opsadvisor::sample::labels(l),
                        value: v,
                        timestamp_ms: ts,
                    })
                    .collect();
                (n, samples)
            })
            .collect()
    })
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}

fn render(families: &BTreeMap<String, Vec<Sample>>, format: Format) -> String {
    let mut out = String::new();
    for (name, samples) in families {
        let _ = writeln!(out, "# TYPE {name} gauge");
        for s in samples {
            out.push_str(name);
            if !s.labels.is_empty() {
                let l: Vec<String> =
                    s.labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                let _ = write!(out, "{{{}}}", l.join(","));
            }
            let _ = write!(out, " {}", float(s.value));
            match (s.timestamp_ms, format) {
                (Some(ts), Format::Text) => {
                    let _ = write!(out, " {ts}");
                }
                (Some(ts), Format::OpenMetrics) => {
                    let _ = write!(out, " {}.{:03}", ts / 1000, ts % 1000);
                }
                (None, _) => {}
            }
            out.push('\n');
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn same(a: &Sample, b: &Sample) -> bool {
    a.name == b.name
        && a.labels == b.labels
        && a.timestamp_ms == b.timestamp_ms
        && (a.value.to_bits() == b.value.to_bits() || (a.value.is_nan() && b.value.is_nan()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rendered_samples_parse_back_identically(families in families()) {
        let want: Vec<&Sample> = families.values().flatten().collect();
        for format in [Format::Text, Format::OpenMetrics] {
            let text = render(&families, format);
            let parsed = parse(text.as_bytes(), format);
            prop_assert!(parsed.is_ok(), "{format:?}: {:?}\n{text}", parsed.err());
            let got = parsed.unwrap().samples;
            prop_assert_eq!(got.len(), want.len(), "{:?}\n{}", format, text);
            for (g, w) in got.iter().zip(&want) {
                prop_assert!(same(g, w), "{format:?}: got {g:?}, want {w:?}\n{text}");
            }
        }
    }
}
