//! `opsadvisor forecast`: the backtest's entry point reads a CSV and forecasts from rolling
//! origins; bad rows are named by file and line.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::process::Command;

fn run(csv: &str, args: &[&str]) -> (i32, String, String) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("forecast-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("s{}.csv", csv.len()));
    std::fs::write(&path, csv).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
        .args(["forecast", "--csv", path.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn forecasts_a_trend_from_each_origin() {
    // 5 days at 5 minutes: 100 + 10 per day.
    let mut csv = String::from("timestamp,value\n");
    for i in 0..5 * 288 {
        let (d, m) = (i / 288, (i % 288) * 5);
        csv += &format!(
            "2014-02-{:02} {:02}:{:02}:00,{}\n",
            14 + d,
            m / 60,
            m % 60,
            100.0 + 10.0 * i as f64 / 288.0
        );
    }
    let (code, out, err) =
        run(&csv, &["--min-history", "3d", "--every", "12h", "--horizons", "1h,24h"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split(',').collect()).collect();
    // Origins at 3d, 3.5d, 4d, 4.5d (the last one within the data), two horizons each.
    assert_eq!(rows.len(), 8, "{out}");
    assert_eq!(rows[0][0], "2014-02-17 00:00:00");
    for r in &rows {
        let origin_day = (r[0][8..10].parse::<f64>().unwrap() - 14.0)
            + r[0][11..13].parse::<f64>().unwrap() / 24.0;
        let h_days = r[1].parse::<f64>().unwrap() / 86_400.0;
        let truth = 100.0 + 10.0 * (origin_day + h_days);
        let f: f64 = r[2].parse().unwrap();
        assert!((f - truth).abs() < 0.5, "{r:?}: forecast {f}, truth {truth}");
        let (lo, hi): (f64, f64) = (r[3].parse().unwrap(), r[4].parse().unwrap());
        assert!(lo <= f && f <= hi, "{r:?}");
    }
}

#[test]
fn a_bad_row_is_named() {
    let (code, _, err) = run("timestamp,value\n2014-02-14 00:00:00,1\nyesterday,2\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("s.csv:3: invalid timestamp") || err.contains(":3: invalid timestamp"),
        "{err}"
    );
}
