//! Prometheus-style durations: `500ms`, `15s`, `5m`, `1h30m`, `7d`.

use std::time::Duration;

/// Parses a Prometheus duration string.
///
/// # Errors
/// A message naming the bad input.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration '{s}' (expected e.g. 500ms, 15s, 5m, 1h30m)");
    if s.is_empty() {
        return Err(bad());
    }
    let mut total_ms: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total_ms = total_ms.checked_add(n * factor).ok_or_else(bad)?;
    }
    u64::try_from(total_ms).map(Duration::from_millis).map_err(|_| bad())
}

/// Formats a duration the way Prometheus prints one (`1h30m`, `15s`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in
        [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)]
    {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Parses a UTC time, `2026-12-01T08:00:00Z` or `2026-12-01`, into Unix milliseconds.
///
/// # Errors
/// A message naming the bad input.
pub fn parse_utc_timestamp(s: &str) -> Result<i64, String> {
    let bad =
        || format!("invalid time '{s}' (expected e.g. 2026-12-01T08:00:00Z or 2026-12-01, UTC)");
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (s, None),
    };
    let num = |x: &str| x.parse::<i64>().map_err(|_| bad());
    let mut d = date.split('-');
    let (y, m, day) = match (d.next(), d.next(), d.next(), d.next()) {
        (Some(y), Some(m), Some(day), None) if y.len() == 4 => (num(y)?, num(m)?, num(day)?),
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let (hh, mm, ss) = match time {
        None => (0, 0, 0),
        Some(t) => {
            let mut p = t.split(':');
            match (p.next(), p.next(), p.next(), p.next()) {
                (Some(h), Some(mi), Some(se), None) => (num(h)?, num(mi)?, num(se)?),
                _ => return Err(bad()),
            }
        }
    };
    if hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_prometheus_durations() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        for bad in ["", "15", "1.5s", "s", "5 m", "10x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_utc_timestamps() {
        assert_eq!(parse_utc_timestamp("1970-01-01"), Ok(0));
        assert_eq!(parse_utc_timestamp("2026-11-22T08:00:00Z"), Ok(1_795_334_400_000));
        assert_eq!(parse_utc_timestamp("2000-03-01T00:00:01Z"), Ok(951_868_801_000));
        for bad in ["2026-13-01", "2026-11-22T08:00:00", "22/11/2026", "2026-11-22T25:00:00Z"] {
            assert!(parse_utc_timestamp(bad).is_err(), "{bad}");
        }
    }
}
