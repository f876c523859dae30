//! The forecaster: robust trend + daily/weekly seasonality + empirical prediction intervals.
//!
//! Real capacity series (disk used, CPU, heap, bytes in) are noisy, have level shifts,
//! spikes, gaps and a daily cycle. Least squares over a short window (Prometheus's
//! `predict_linear`) extrapolates whatever the noise did last; Holt-Winters fitted by
//! squared error chases spikes and can run away with its trend. This model is built from
//! medians so that one spike or one short outage moves nothing:
//!
//! 1. **Seasonality.** A baseline is drawn through the medians of whole-period blocks, and
//!    the seasonal profile is, per phase of the day (and of the week when there are two
//!    weeks of data), the median of the detrended values over the last cycles, lightly
//!    smoothed. A profile that does not explain at least 10 % of the detrended spread is
//!    dropped rather than extrapolated.
//! 2. **Trend.** Theil–Sen: the median of pairwise slopes between block medians of the
//!    deseasonalized series, with the spread of those slopes as its uncertainty.
//! 3. **Level.** The median of the most recent deseasonalized values. How recent, and
//!    whether to extrapolate the trend at all, is chosen per horizon by rolling-origin
//!    validation inside the history itself (the smallest mean absolute error wins).
//! 4. **Interval.** Empirical 10th/90th percentiles of the same in-history errors at that
//!    horizon (an 80 % interval), widened by the slope's uncertainty beyond the history.
//!
//! Everything is plain Rust over `f64` slices; a fit of two weeks at 5-minute resolution
//! takes a few milliseconds.

use std::cmp::Ordering;

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// Why a series cannot be forecast.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    /// Fewer usable points than the model needs.
    #[error("not enough history: {got} usable point(s), at least {need} needed")]
    NotEnoughHistory {
        /// Finite points found.
        got: usize,
        /// Points required.
        need: usize,
    },
    /// All timestamps are equal, so no step can be inferred.
    #[error("timestamps do not advance: cannot infer the sampling step")]
    NoStep,
}

/// Points needed before anything is forecast.
pub const MIN_POINTS: usize = 6;

/// A regularly sampled series: `values[i]` is the value at `start_ms + i * step_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Time of the first value, Unix milliseconds.
    pub start_ms: i64,
    /// Sampling step, milliseconds.
    pub step_ms: i64,
    /// Values; gaps have been filled by linear interpolation.
    pub values: Vec<f64>,
}

impl Series {
    /// Regularizes `(timestamp_ms, value)` points: sorts them, drops non-finite values,
    /// infers the step as the median spacing (unless `step_ms` is given), keeps the last
    /// value of each step and fills gaps linearly.
    ///
    /// # Errors
    /// Fewer than [`MIN_POINTS`] finite points, or no positive spacing.
    pub fn regular(points: &[(i64, f64)], step_ms: Option<i64>) -> Result<Series, ForecastError> {
        let mut pts: Vec<(i64, f64)> =
            points.iter().copied().filter(|(_, v)| v.is_finite()).collect();
        if pts.len() < MIN_POINTS {
            return Err(ForecastError::NotEnoughHistory { got: pts.len(), need: MIN_POINTS });
        }
        pts.sort_by_key(|p| p.0);
        let step = match step_ms {
            Some(s) if s > 0 => s,
            _ => {
                let mut gaps: Vec<f64> =
                    pts.windows(2).map(|w| (w[1].0 - w[0].0) as f64).filter(|g| *g > 0.0).collect();
                if gaps.is_empty() {
                    return Err(ForecastError::NoStep);
                }
                median(&mut gaps).round().max(1.0) as i64
            }
        };
        let start = pts[0].0;
        let last = pts[pts.len() - 1].0;
        let n = usize::try_from((last - start) / step).unwrap_or(0) + 1;
        let mut slots: Vec<Option<f64>> = vec![None; n];
        for (t, v) in pts {
            let i = usize::try_from(((t - start) as f64 / step as f64).round() as i64)
                .unwrap_or(0)
                .min(n - 1);
            slots[i] = Some(v);
        }
        let known = slots.iter().filter(|s| s.is_some()).count();
        if known < MIN_POINTS {
            return Err(ForecastError::NotEnoughHistory { got: known, need: MIN_POINTS });
        }
        let mut values = vec![0.0; n];
        let mut prev: Option<(usize, f64)> = None;
        for i in 0..n {
            if let Some(v) = slots[i] {
                if let Some((j, pv)) = prev {
                    for (k, slot) in values.iter_mut().enumerate().take(i).skip(j + 1) {
                        *slot = pv + (v - pv) * (k - j) as f64 / (i - j) as f64;
                    }
                } else {
                    values[..i].fill(v);
                }
                values[i] = v;
                prev = Some((i, v));
            }
        }
        if let Some((j, pv)) = prev {
            values[j + 1..].fill(pv);
        }
        Ok(Series { start_ms: start, step_ms: step, values })
    }

    /// Time of the last value.
    pub fn end_ms(&self) -> i64 {
        self.start_ms + (self.values.len() as i64 - 1) * self.step_ms
    }
}

/// A prediction at one horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// When, Unix milliseconds.
    pub t_ms: i64,
    /// Point forecast (what minimises absolute error).
    pub mean: f64,
    /// Lower bound of the 80 % interval.
    pub lo: f64,
    /// Upper bound of the 80 % interval.
    pub hi: f64,
}

/// The day a forecast crosses a threshold, with the interval's earliest and latest day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    /// When the point forecast crosses, Unix milliseconds.
    pub t_ms: i64,
    /// When the upper band crosses (the pessimistic date).
    pub earliest_ms: i64,
    /// When the lower band crosses, `None` if not within the horizon searched.
    pub latest_ms: Option<i64>,
}

/// How the level and trend are combined; chosen per horizon by in-history validation.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Choice {
    level_window: usize,
    trend: bool,
}

/// A fitted model of one series.
#[derive(Debug, Clone)]
pub struct Model {
    series: Series,
    /// Daily profile (empty when not significant), indexed by step within the day.
    daily: Vec<f64>,
    /// Weekly profile on top of the daily one (empty when not used).
    weekly: Vec<f64>,
    /// Deseasonalized series.
    x: Vec<f64>,
    /// Theil–Sen slope per step and its 10th/90th percentile.
    slope: f64,
    slope_lo: f64,
    slope_hi: f64,
    choices: Vec<Choice>,
}

impl Model {
    /// Fits the model to `series`.
    ///
    /// # Errors
    /// Fewer than [`MIN_POINTS`] values.
    pub fn fit(series: Series) -> Result<Model, ForecastError> {
        let n = series.values.len();
        if n < MIN_POINTS {
            return Err(ForecastError::NotEnoughHistory { got: n, need: MIN_POINTS });
        }
        let step = series.step_ms.max(1);
        let y = &series.values;
        let day = usize::try_from(DAY_MS / step).unwrap_or(0);
        let week = usize::try_from(WEEK_MS / step).unwrap_or(0);
        let phase0 = usize::try_from(series.start_ms.rem_euclid(WEEK_MS) / step).unwrap_or(0);

        let mut daily = Vec::new();
        let mut weekly = Vec::new();
        let mut x = y.clone();
        if day >= 4 && n >= 2 * day {
            let base = block_baseline(y, day);
            let detrended: Vec<f64> = y.iter().zip(&base).map(|(a, b)| a - b).collect();
            if let Some(p) = profile(&detrended, day, phase0 % day, 6) {
                daily = p;
                for (i, v) in x.iter_mut().enumerate() {
                    *v -= daily[(phase0 + i) % day];
                }
            }
            if week >= 4 && n >= 2 * week {
                let base = block_baseline(&x, week);
                let rest: Vec<f64> = x.iter().zip(&base).map(|(a, b)| a - b).collect();
                if let Some(p) = profile(&rest, week, phase0 % week, 4) {
                    weekly = p;
                    for (i, v) in x.iter_mut().enumerate() {
                        *v -= weekly[(phase0 + i) % week];
                    }
                }
            }
        }
        let (slope, slope_lo, slope_hi) = theil_sen(&x, if daily.is_empty() { 0 } else { day });
        let mut m =
            Model { series, daily, weekly, x, slope, slope_lo, slope_hi, choices: Vec::new() };
        m.choices = m.candidate_choices();
        Ok(m)
    }

    /// The series the model was fitted to.
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// Whether a daily cycle was found and is extrapolated.
    pub fn has_daily_cycle(&self) -> bool {
        !self.daily.is_empty()
    }

    /// Trend per day of the deseasonalized series (Theil–Sen).
    pub fn slope_per_day(&self) -> f64 {
        self.slope * (DAY_MS as f64 / self.series.step_ms as f64)
    }

    fn seasonal(&self, i: usize) -> f64 {
        let step = self.series.step_ms.max(1);
        let phase0 = usize::try_from(self.series.start_ms.rem_euclid(WEEK_MS) / step).unwrap_or(0);
        let mut s = 0.0;
        if !self.daily.is_empty() {
            s += self.daily[(phase0 + i) % self.daily.len()];
        }
        if !self.weekly.is_empty() {
            s += self.weekly[(phase0 + i) % self.weekly.len()];
        }
        s
    }

    fn candidate_choices(&self) -> Vec<Choice> {
        let n = self.x.len();
        let step = self.series.step_ms.max(1) as f64;
        let mut windows: Vec<usize> = [1.0, 3.0, 12.0, 24.0]
            .iter()
            .map(|h| ((h * 3_600_000.0 / step).round() as usize).clamp(1, (n / 3).max(1)))
            .collect();
        windows.push(3.min(n));
        windows.sort_unstable();
        windows.dedup();
        let mut out = Vec::new();
        for w in windows {
            out.push(Choice { level_window: w, trend: false });
            out.push(Choice { level_window: w, trend: true });
        }
        out
    }

    /// The level of the deseasonalized series at index `o`, from the `w` values ending there.
    fn level_at(&self, o: usize, c: Choice) -> f64 {
        let w = c.level_window.min(o + 1).max(1);
        let mut tail: Vec<f64> = self.x[o + 1 - w..=o].to_vec();
        let med = median(&mut tail);
        if c.trend { med + self.slope * (w as f64 - 1.0) / 2.0 } else { med }
    }

    fn point(&self, o: usize, h: usize, c: Choice) -> f64 {
        let trend = if c.trend { self.slope * h as f64 } else { 0.0 };
        self.level_at(o, c) + trend + self.seasonal(o + h)
    }

    /// Errors `actual - forecast` at horizon `h` from up to 48 origins inside the history.
    fn errors(&self, h: usize, c: Choice) -> Vec<f64> {
        let n = self.x.len();
        let first = c.level_window.max(n / 3);
        if n <= h + first + 1 {
            return Vec::new();
        }
        let last = n - 1 - h;
        let count = (last - first + 1).min(48);
        (0..count)
            .map(|k| last - k * (last - first) / count.max(1))
            .map(|o| self.series.values[o + h] - self.point(o, h, c))
            .collect()
    }

    /// The configuration with the smallest in-history MAE at `h` (or at the longest
    /// horizon the history can validate).
    fn choose(&self, h: usize) -> (Choice, Vec<f64>) {
        let n = self.x.len();
        let hv = h.min(n.saturating_sub(2) / 2).max(1);
        let mut best: Option<(f64, Choice, Vec<f64>)> = None;
        for &c in &self.choices {
            let e = self.errors(hv, c);
            if e.is_empty() {
                continue;
            }
            let mae = e.iter().map(|v| v.abs()).sum::<f64>() / e.len() as f64;
            if best.as_ref().is_none_or(|(b, ..)| mae < *b - 1e-12) {
                best = Some((mae, c, e));
            }
        }
        match best {
            Some((_, c, e)) => (c, e),
            None => (Choice { level_window: 3.min(n), trend: true }, Vec::new()),
        }
    }

    /// The forecast `h` steps after the last value.
    pub fn predict(&self, h: usize) -> Prediction {
        let (c, e) = self.choose(h);
        self.predict_with(h, c, &e)
    }

    fn predict_with(&self, h: usize, c: Choice, errors: &[f64]) -> Prediction {
        let n = self.x.len();
        let mean = self.point(n - 1, h, c);
        let validated = h.min(n.saturating_sub(2) / 2).max(1);
        let (mut lo, mut hi) = if errors.len() >= 4 {
            let mut e = errors.to_vec();
            (quantile(&mut e, 0.1), quantile(&mut e, 0.9))
        } else {
            let spread = mad(&self.x) * 1.28;
            (-spread, spread)
        };
        if h > validated {
            // Beyond what the history can validate: widen like a random walk, plus the slope's
            // own uncertainty (which the validation did not see).
            let k = (h as f64 / validated as f64).sqrt();
            lo *= k;
            hi *= k;
            if c.trend {
                lo += (self.slope_lo - self.slope).min(0.0) * h as f64;
                hi += (self.slope_hi - self.slope).max(0.0) * h as f64;
            }
        }
        Prediction {
            t_ms: self.series.end_ms() + h as i64 * self.series.step_ms,
            mean,
            lo: mean + lo.min(0.0),
            hi: mean + hi.max(0.0),
        }
    }

    /// The forecast path at `steps` evenly spaced horizons up to `horizon_ms`, using the
    /// configuration chosen for the whole horizon (so the path is one consistent model).
    /// In-history errors are computed at a few horizons only, each point using those of the
    /// nearest validated horizon at or beyond it (the wider interval).
    pub fn path(&self, horizon_ms: i64, steps: usize) -> Vec<Prediction> {
        let step = self.series.step_ms.max(1);
        let h_max = usize::try_from(horizon_ms / step).unwrap_or(0).max(1);
        let (c, _) = self.choose(h_max);
        let validated = self.x.len().saturating_sub(2) / 2;
        let mut checkpoints: Vec<usize> = (0..8)
            .map(|k| ((validated.max(1) as f64).powf((k + 1) as f64 / 8.0)).round() as usize)
            .map(|h| h.clamp(1, validated.max(1)))
            .collect();
        checkpoints.dedup();
        let errors: Vec<(usize, Vec<f64>)> =
            checkpoints.iter().map(|&h| (h, self.errors(h, c))).collect();
        let steps = steps.max(1);
        (1..=steps)
            .map(|k| {
                let h = (h_max * k / steps).max(1);
                let e = errors
                    .iter()
                    .find(|(ch, _)| *ch >= h)
                    .or(errors.last())
                    .map_or(&[][..], |(_, e)| e.as_slice());
                self.predict_with(h, c, e)
            })
            .collect()
    }

    /// When the forecast first reaches `threshold` (rising) within `horizon_ms`, searched at
    /// `resolution` points; `None` if neither the point forecast nor the upper band does.
    pub fn crossing(&self, threshold: f64, horizon_ms: i64, resolution: usize) -> Option<Crossing> {
        let path = self.path(horizon_ms, resolution);
        let first = |f: &dyn Fn(&Prediction) -> f64| path.iter().find(|p| f(p) >= threshold);
        let earliest = first(&|p| p.hi)?.t_ms;
        let mid = first(&|p| p.mean);
        let late = first(&|p| p.lo);
        Some(Crossing {
            t_ms: mid.map_or(horizon_ms + self.series.end_ms(), |p| p.t_ms),
            earliest_ms: earliest,
            latest_ms: late.map(|p| p.t_ms),
        })
        .filter(|_| mid.is_some() || earliest <= self.series.end_ms() + horizon_ms)
    }
}

/// Linear interpolation between the medians of consecutive whole blocks of `period`.
fn block_baseline(y: &[f64], period: usize) -> Vec<f64> {
    let n = y.len();
    let blocks = n / period;
    // Align blocks to the end so the most recent data is a whole block.
    let offset = n - blocks * period;
    let centers: Vec<(f64, f64)> = (0..blocks)
        .map(|b| {
            let s = offset + b * period;
            let mut v = y[s..s + period].to_vec();
            (s as f64 + (period as f64 - 1.0) / 2.0, median(&mut v))
        })
        .collect();
    (0..n)
        .map(|i| {
            let t = i as f64;
            match centers.iter().position(|c| c.0 >= t) {
                Some(0) => centers[0].1,
                Some(k) => {
                    let (a, b) = (centers[k - 1], centers[k]);
                    a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0)
                }
                None => centers.last().map_or(0.0, |c| c.1),
            }
        })
        .collect()
}

/// The seasonal profile of `d` (detrended) with `period` steps, from the last `cycles`
/// cycles; `None` if it explains less than 10 % of the absolute spread of `d`.
fn profile(d: &[f64], period: usize, phase0: usize, cycles: usize) -> Option<Vec<f64>> {
    let n = d.len();
    let start = n.saturating_sub(cycles * period);
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); period];
    for (i, v) in d.iter().enumerate().skip(start) {
        buckets[(phase0 + i) % period].push(*v);
    }
    let raw: Vec<f64> =
        buckets.iter_mut().map(|b| if b.is_empty() { 0.0 } else { median(b) }).collect();
    // Circular moving average over ±half-width; a 1/48 of the period (30 min in a day).
    let half = (period / 96).max(1);
    let mut p: Vec<f64> = (0..period)
        .map(|k| {
            let s: f64 = (0..=2 * half).map(|j| raw[(k + period + j - half) % period]).sum();
            s / (2 * half + 1) as f64
        })
        .collect();
    let mean = p.iter().sum::<f64>() / period as f64;
    p.iter_mut().for_each(|v| *v -= mean);
    let before: f64 = d[start..].iter().map(|v| v.abs()).sum();
    let after: f64 =
        d.iter().enumerate().skip(start).map(|(i, v)| (v - p[(phase0 + i) % period]).abs()).sum();
    (before > 0.0 && after < 0.9 * before).then_some(p)
}

/// Theil–Sen slope per step of `x` over medians of blocks (of a day when there is a daily
/// cycle, else of about a twelfth of the series), with its 10th and 90th percentile.
fn theil_sen(x: &[f64], day: usize) -> (f64, f64, f64) {
    let n = x.len();
    let block = if day > 0 { day.min(n / 3).max(1) } else { (n / 12).max(1) };
    let blocks = (n / block).min(28);
    if blocks < 2 {
        return (0.0, 0.0, 0.0);
    }
    let offset = n - blocks * block;
    let pts: Vec<(f64, f64)> = (0..blocks)
        .map(|b| {
            let s = offset + b * block;
            let mut v = x[s..s + block].to_vec();
            (s as f64 + (block as f64 - 1.0) / 2.0, median(&mut v))
        })
        .collect();
    let mut slopes = Vec::new();
    for i in 0..pts.len() {
        for j in i + 1..pts.len() {
            slopes.push((pts[j].1 - pts[i].1) / (pts[j].0 - pts[i].0));
        }
    }
    let mid = median(&mut slopes.clone());
    (mid, quantile(&mut slopes.clone(), 0.1), quantile(&mut slopes, 0.9))
}

fn cmp(a: &f64, b: &f64) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

/// Median (reorders `v`); 0 for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    quantile(v, 0.5)
}

/// Linear-interpolated quantile `q` in 0..=1 (reorders `v`); 0 for an empty slice.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    if i + 1 < v.len() { v[i] + (v[i + 1] - v[i]) * f } else { v[i] }
}

fn mad(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    let m = median(&mut v);
    let mut d: Vec<f64> = x.iter().map(|a| (a - m).abs()).collect();
    median(&mut d) * 1.4826
}

/// Prometheus's `predict_linear`: the least-squares line through `points` (ms, value),
/// evaluated `horizon_ms` after `at_ms`. The baseline of the backtest.
pub fn predict_linear(points: &[(i64, f64)], at_ms: i64, horizon_ms: i64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    for &(t, v) in points {
        let x = (t - at_ms) as f64 / 1000.0;
        sx += x;
        sy += v;
        sxx += x * x;
        sxy += x * v;
    }
    let cov = sxy - sx * sy / n;
    let var = sxx - sx * sx / n;
    let slope = if var == 0.0 { 0.0 } else { cov / var };
    let intercept = sy / n - slope * sx / n;
    Some(intercept + slope * horizon_ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const STEP: i64 = 300_000; // 5 minutes

    fn series(n: usize, f: impl Fn(usize) -> f64) -> Series {
        Series { start_ms: 0, step_ms: STEP, values: (0..n).map(f).collect() }
    }

    fn daily(i: usize) -> f64 {
        (i as f64 / 288.0 * std::f64::consts::TAU).sin()
    }

    /// Deterministic noise in [-1, 1].
    fn noise(i: usize) -> f64 {
        let mut z = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef;
        z ^= z >> 29;
        z = z.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^= z >> 32;
        (z % 20_001) as f64 / 10_000.0 - 1.0
    }

    #[test]
    fn regular_sorts_fills_gaps_and_drops_nan() {
        let pts = vec![
            (0, 1.0),
            (600, 3.0),
            (300, 2.0),
            (1500, 6.0),
            (900, f64::NAN),
            (1800, 7.0),
            (2100, 8.0),
            (2400, 9.0),
        ];
        let s = Series::regular(&pts, None).unwrap();
        assert_eq!(s.step_ms, 300);
        assert_eq!(s.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert!(matches!(
            Series::regular(&pts[..3], None),
            Err(ForecastError::NotEnoughHistory { got: 3, need: 6 })
        ));
        assert_eq!(Series::regular(&[(5, 1.0); 7], None), Err(ForecastError::NoStep));
    }

    #[test]
    fn learns_a_daily_cycle_and_a_trend() {
        // 7 days: level 50, +2/day, daily amplitude 10, noise ±1.
        let y = |i: usize| 50.0 + 2.0 * i as f64 / 288.0 + 10.0 * daily(i) + noise(i);
        let m = Model::fit(series(7 * 288, y)).unwrap();
        assert!(m.has_daily_cycle());
        assert!((m.slope_per_day() - 2.0).abs() < 0.3, "slope {}", m.slope_per_day());
        for h in [12, 72, 288] {
            let p = m.predict(h);
            let truth = y(7 * 288 - 1 + h) - noise(7 * 288 - 1 + h);
            assert!((p.mean - truth).abs() < 2.0, "h={h}: {} vs {truth}", p.mean);
            assert!(p.lo <= truth && truth <= p.hi, "h={h}: {truth} outside {}..{}", p.lo, p.hi);
        }
    }

    #[test]
    fn spikes_do_not_move_the_forecast() {
        // Flat at 10 with a huge spike in the last hour: least squares over the last 6 h
        // would extrapolate it; the model must not.
        let y = |i: usize| if i >= 3 * 288 - 6 { 90.0 } else { 10.0 + 0.5 * noise(i) };
        let m = Model::fit(series(3 * 288, y)).unwrap();
        let p = m.predict(288);
        assert!((p.mean - 10.0).abs() < 3.0, "forecast {}", p.mean);
        let pts: Vec<(i64, f64)> =
            (3 * 288 - 72..3 * 288).map(|i| (i as i64 * STEP, y(i))).collect();
        let pl = predict_linear(&pts, (3 * 288 - 1) as i64 * STEP, 86_400_000).unwrap();
        assert!(pl > 50.0, "predict_linear {pl}");
    }

    #[test]
    fn no_cycle_is_invented_in_noise() {
        let m = Model::fit(series(4 * 288, |i| 5.0 + noise(i))).unwrap();
        assert!(!m.has_daily_cycle());
        assert!((m.predict(288).mean - 5.0).abs() < 0.5);
    }

    #[test]
    fn crossing_dates_bracket_the_true_day() {
        // Disk used ratio 0.60 growing 0.01/day with a small daily wiggle: 0.85 in 25 days.
        let y = |i: usize| 0.60 + 0.01 * i as f64 / 288.0 + 0.003 * daily(i) + 0.001 * noise(i);
        let n = 5 * 288;
        let m = Model::fit(series(n, y)).unwrap();
        let c = m.crossing(0.85, 90 * DAY_MS, 360).unwrap();
        let end = (n as i64 - 1) * STEP;
        let days = (c.t_ms - end) as f64 / DAY_MS as f64;
        assert!((days - 20.0).abs() < 2.0, "crossing in {days} days");
        assert!(c.earliest_ms <= c.t_ms);
        assert!(c.latest_ms.is_none_or(|l| l >= c.t_ms));
        assert!(m.crossing(2.0, 90 * DAY_MS, 360).is_none());
    }

    #[test]
    fn predict_linear_matches_least_squares() {
        let pts = [(0, 1.0), (1000, 3.0), (2000, 5.0)];
        assert_eq!(predict_linear(&pts, 2000, 1000), Some(7.0));
        assert_eq!(predict_linear(&pts[..1], 0, 1000), None);
    }
}
