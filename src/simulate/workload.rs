//! Shared building blocks of the models: seeded random streams, noise, the daily load cycle,
//! fault ramps and small numeric helpers.
//!
//! Everything random in the simulator comes from a ChaCha stream derived from the spec's seed
//! and a stable name (cluster, node), so the same seed always produces byte-identical output
//! and adding a cluster does not perturb the others.

use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// The random stream type used everywhere in the simulator.
pub(crate) type SimRng = ChaCha8Rng;

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// A random stream for `parts` (e.g. cluster and node name) under `seed`.
pub(crate) fn rng_for(seed: u64, parts: &[&str]) -> SimRng {
    // FNV-1a over the parts, separated so ("ab","c") != ("a","bc").
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    SimRng::seed_from_u64(seed ^ h.rotate_left(17))
}

/// A stable private IP for node `i` of `cluster` (10.x.y.z, distinct per cluster).
pub(crate) fn node_ip(cluster: &str, i: usize) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in cluster.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("10.{}.{}.{}", 16 + h % 200, (h >> 8) % 250, 11 + i % 240)
}

/// Cassandra's EstimatedHistogram bucket offsets (1, 2, 3, …, each ~1.2× the previous).
/// Percentiles Cassandra reports are always one of these.
pub(crate) fn cassandra_bucket(v: f64) -> f64 {
    if v <= 0.0 {
        return 0.0;
    }
    let mut b: f64 = 1.0;
    while b < v && b < 1e13 {
        let next = (b * 1.2).round();
        b = if next <= b { b + 1.0 } else { next };
    }
    b
}

/// A standard normal deviate (Box-Muller).
pub(crate) fn gauss(rng: &mut SimRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A uniform deviate in `[lo, hi)`.
pub(crate) fn uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Poisson-like event count for a mean `lambda` (normal approximation above 30).
pub(crate) fn events(rng: &mut SimRng, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * gauss(rng)).round().max(0.0);
    }
    // Knuth's method: fine for small means.
    let l = (-lambda).exp();
    let mut k = 0.0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1.0;
    }
}

/// Mean-reverting noise (discrete Ornstein-Uhlenbeck): wanders around 0 with standard
/// deviation `sigma` and a correlation time of `tau_s` seconds.
#[derive(Debug, Clone)]
pub(crate) struct Ar1 {
    value: f64,
    sigma: f64,
    tau_s: f64,
}

impl Ar1 {
    pub(crate) fn new(sigma: f64, tau_s: f64) -> Ar1 {
        Ar1 { value: 0.0, sigma, tau_s }
    }

    /// Advances by `dt_s` seconds and returns the new value.
    pub(crate) fn step(&mut self, rng: &mut SimRng, dt_s: f64) -> f64 {
        let a = (-dt_s / self.tau_s).exp();
        self.value = a * self.value + self.sigma * (1.0 - a * a).sqrt() * gauss(rng);
        self.value
    }

    pub(crate) fn value(&self) -> f64 {
        self.value
    }
}

/// The daily load cycle: 1.0 on average, peaking at 1.35 at 14:00 UTC and bottoming at 0.65
/// at 02:00 UTC.
pub(crate) fn diurnal(t_ms: i64) -> f64 {
    let hour = t_ms.rem_euclid(DAY_MS) as f64 / 3_600_000.0;
    1.0 + 0.35 * (std::f64::consts::TAU * (hour - 8.0) / 24.0).sin()
}

/// How far a fault has developed: 0 before it starts, rising linearly to `severity` over
/// `ramp_s` seconds.
pub(crate) fn ramp(now_ms: i64, start_ms: i64, ramp_s: f64, severity: f64) -> f64 {
    if now_ms < start_ms {
        return 0.0;
    }
    let s = (now_ms - start_ms) as f64 / 1000.0;
    severity * (s / ramp_s).min(1.0)
}

/// Seconds since a fault started (0 before).
pub(crate) fn since_s(now_ms: i64, start_ms: i64) -> f64 {
    ((now_ms - start_ms) as f64 / 1000.0).max(0.0)
}

/// Queue length of a busy server pool at utilisation `rho` (an M/M/1-style `rho²/(1-rho)`
/// scaled by `scale`, clamped so it stays finite).
pub(crate) fn queue_len(rho: f64, scale: f64) -> f64 {
    let r = rho.clamp(0.0, 0.995);
    scale * r * r / (1.0 - r)
}

pub(crate) use crate::clock::civil_date;

/// Renders a byte count the way Elasticsearch's human-readable fields do (`36.4mb`, `208b`).
pub(crate) fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["b", "kb", "mb", "gb", "tb", "pb"];
    let mut v = bytes.max(0.0);
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{}{}", v as u64, UNITS[0])
    } else {
        let s = format!("{v:.1}");
        let s = s.strip_suffix(".0").unwrap_or(&s).to_owned();
        format!("{s}{}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cassandra_buckets_follow_estimated_histogram_offsets() {
        let got: Vec<f64> =
            [0.5, 9.0, 1000.0, 1109.0].iter().map(|v| cassandra_bucket(*v)).collect();
        assert_eq!(got, vec![1.0, 10.0, 1109.0, 1109.0]);
    }

    #[test]
    fn civil_date_matches_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(1_767_225_600_000), (2026, 1, 1));
        assert_eq!(civil_date(1_709_164_800_000), (2024, 2, 29));
    }

    #[test]
    fn human_bytes_matches_elasticsearch_style() {
        assert_eq!(human_bytes(208.0), "208b");
        assert_eq!(human_bytes(36.4 * 1024.0 * 1024.0), "36.4mb");
        assert_eq!(human_bytes(752.0 * 1024.0 * 1024.0), "752mb");
    }

    #[test]
    fn diurnal_cycle_peaks_in_the_afternoon() {
        let h = 3_600_000;
        assert!((diurnal(14 * h) - 1.35).abs() < 1e-9);
        assert!((diurnal(2 * h) - 0.65).abs() < 1e-9);
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = rng_for(7, &["c", "n1"]);
        let mut b = rng_for(7, &["c", "n1"]);
        let mut c = rng_for(7, &["c", "n2"]);
        let (x, y, z) = (gauss(&mut a), gauss(&mut b), gauss(&mut c));
        assert_eq!(x.to_bits(), y.to_bits());
        assert_ne!(x.to_bits(), z.to_bits());
    }
}
