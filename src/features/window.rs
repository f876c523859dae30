//! Reading a feature over the scrape window: newest value, counter rate, gauge slope, max.
//!
//! Counter rates follow Prometheus's `rate()` on resets: a value lower than the previous
//! one means the counter restarted from zero, so the new value is all increase. Unlike
//! `rate()`, nothing is extrapolated to the window edges: with a handful of scrapes per
//! run, extrapolation would add more error than it removes.

use super::catalog::{Agg, BaseFeature, Selector, Stat};
use crate::sample::{Labels, Sample};
use crate::snapshot::SourceSeries;
use std::collections::HashMap;

/// Combines values of several series.
pub fn aggregate(agg: Agg, values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut n = 0usize;
    let mut acc: Option<f64> = None;
    for v in values.filter(|v| !v.is_nan()) {
        n += 1;
        acc = Some(match (agg, acc) {
            (_, None) => v,
            (Agg::Sum | Agg::Avg, Some(a)) => a + v,
            (Agg::Max, Some(a)) => a.max(v),
            (Agg::Min, Some(a)) => a.min(v),
            (Agg::Count, Some(a)) => a,
        });
    }
    match agg {
        Agg::Count => Some(n as f64),
        Agg::Avg => acc.map(|a| a / n as f64),
        _ => acc,
    }
}

fn matching<'a>(samples: &'a [Sample], sel: &'a Selector) -> impl Iterator<Item = &'a Sample> {
    samples.iter().filter(move |s| sel.matches(s))
}

/// Evaluates `feature` on `sources` at `round`, looking back `window_ms`.
///
/// The first selector alternative that matches anything at `round` in any source decides
/// both the dialect and the source, so one feature never mixes two exporters' numbers.
pub fn evaluate(
    feature: &BaseFeature,
    sources: &[SourceSeries],
    round: usize,
    window_ms: i64,
) -> Option<f64> {
    for alt in &feature.from {
        let sel = &alt.selector;
        for source in sources {
            let Some(now) = source.at(round) else { continue };
            if matching(&now.samples, sel).next().is_none() {
                continue;
            }
            let stat = alt.stat.unwrap_or(feature.stat);
            let value = match stat {
                Stat::Last => aggregate(feature.agg, matching(&now.samples, sel).map(|s| s.value)),
                Stat::Rate => rate(feature.agg, source, sel, round, now.timestamp_ms - window_ms),
                Stat::Slope | Stat::Max => {
                    let points: Vec<(f64, f64)> =
                        window(source, round, now.timestamp_ms - window_ms)
                            .filter_map(|(t, samples)| {
                                aggregate(feature.agg, matching(samples, sel).map(|s| s.value))
                                    .map(|v| (t, v))
                            })
                            .collect();
                    if stat == Stat::Max {
                        points.iter().map(|p| p.1).reduce(f64::max)
                    } else {
                        slope(&points)
                    }
                }
            };
            return value.map(|v| v * alt.scale.unwrap_or(feature.scale));
        }
    }
    None
}

/// Points of `source` up to `round` with timestamps at or after `since_ms`, as (seconds, samples).
fn window(
    source: &SourceSeries,
    round: usize,
    since_ms: i64,
) -> impl Iterator<Item = (f64, &[Sample])> {
    source.points[..=round.min(source.points.len().saturating_sub(1))]
        .iter()
        .flatten()
        .filter(move |p| p.timestamp_ms >= since_ms)
        .map(|p| (p.timestamp_ms as f64 / 1000.0, p.samples.as_slice()))
}

fn rate(
    agg: Agg,
    source: &SourceSeries,
    sel: &Selector,
    round: usize,
    since_ms: i64,
) -> Option<f64> {
    // Per series: (first t, last t, last value, accumulated increase), in the order the
    // series first appear, so the sum over series adds in the same order on every run (a
    // hash map's order differs between runs, and so would the last bits of the sum).
    let mut index: HashMap<&Labels, usize> = HashMap::new();
    let mut per_series: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (t, samples) in window(source, round, since_ms) {
        for s in matching(samples, sel) {
            match index.get(&s.labels) {
                Some(&i) => {
                    let (_, last_t, last_v, inc) = &mut per_series[i];
                    *inc += if s.value >= *last_v { s.value - *last_v } else { s.value };
                    *last_t = t;
                    *last_v = s.value;
                }
                None => {
                    index.insert(&s.labels, per_series.len());
                    per_series.push((t, t, s.value, 0.0));
                }
            }
        }
    }
    let rates = per_series
        .iter()
        .filter(|(first, last, ..)| last > first)
        .map(|(first, last, _, inc)| inc / (last - first))
        .collect::<Vec<_>>();
    if rates.is_empty() { None } else { aggregate(agg, rates.into_iter()) }
}

/// Least-squares slope of `(x, y)` points; `None` with fewer than two distinct x.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::catalog::{Alternative, Scope};
    use crate::snapshot::Point;

    fn series(values: &[(i64, f64)]) -> SourceSeries {
        SourceSeries {
            source: "test".into(),
            points: values
                .iter()
                .map(|&(t, v)| {
                    Some(Point {
                        timestamp_ms: t,
                        samples: vec![Sample::new("c_total", vec![("k".into(), "a".into())], v)],
                    })
                })
                .collect(),
        }
    }

    fn feature(stat: Stat) -> BaseFeature {
        BaseFeature {
            name: "f".into(),
            systems: vec![],
            help: String::new(),
            from: ["nope", "c_total"]
                .into_iter()
                .map(|m| Alternative {
                    selector: Selector::parse(m).unwrap(),
                    stat: None,
                    scale: None,
                })
                .collect(),
            agg: Agg::Sum,
            stat,
            scope: Scope::Node,
            scale: 1.0,
        }
    }

    #[test]
    fn counter_rate_survives_a_reset() {
        // 0 → 100 over 10 s, reset, then 50 over the next 10 s: 150 increase in 20 s.
        let s = series(&[(0, 0.0), (10_000, 100.0), (20_000, 50.0)]);
        assert_eq!(evaluate(&feature(Stat::Rate), &[s], 2, 60_000), Some(7.5));
    }

    #[test]
    fn rate_needs_two_points_and_respects_the_window() {
        let s = series(&[(0, 0.0), (10_000, 100.0), (20_000, 300.0)]);
        assert_eq!(evaluate(&feature(Stat::Rate), std::slice::from_ref(&s), 0, 60_000), None);
        assert_eq!(evaluate(&feature(Stat::Rate), &[s], 2, 10_000), Some(20.0));
    }

    #[test]
    fn slope_last_and_max_read_gauges() {
        let s = series(&[(0, 10.0), (1_000, 12.0), (2_000, 14.0)]);
        assert_eq!(evaluate(&feature(Stat::Slope), std::slice::from_ref(&s), 2, 60_000), Some(2.0));
        assert_eq!(evaluate(&feature(Stat::Last), std::slice::from_ref(&s), 1, 60_000), Some(12.0));
        assert_eq!(evaluate(&feature(Stat::Max), &[s], 2, 60_000), Some(14.0));
    }

    #[test]
    fn nan_samples_are_ignored_by_aggregation() {
        assert_eq!(aggregate(Agg::Avg, [1.0, f64::NAN, 3.0].into_iter()), Some(2.0));
        assert_eq!(aggregate(Agg::Count, [1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(aggregate(Agg::Max, std::iter::empty()), None);
    }
}
