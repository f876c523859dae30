#!/usr/bin/env python3
"""Rolling-origin backtest of opsadvisor's forecaster on real CloudWatch series (NAB).

For every series in ../shared/datasets/nab/data/realAWSCloudwatch, origins start after 3 days
of history and move by 12 h; at each origin every model sees at most the last 7 days and
forecasts 1 h, 6 h and 24 h ahead. The error is the absolute difference with the value
observed at origin + horizon; MAE is averaged over origins, per series and horizon.

Models:
  ours            `opsadvisor forecast --csv FILE` (robust seasonal trend, src/analyzers/capacity)
  predict_linear  Prometheus's predict_linear(v[W], h): least squares over the last W,
                  evaluated h after the origin; W = 6h (the usual alert form), and the best of
                  W in {1h, 6h, 24h} per series and horizon as an oracle
  holt_winters    statsmodels ExponentialSmoothing, additive trend and additive daily
                  seasonality (288 steps of 5 min) fitted by maximum likelihood on the same
                  7 days; plain additive Holt when less than two days are available

Usage: python3 benches/forecast_backtest.py [--bin PATH] [--data DIR] [--json OUT]
Needs numpy, pandas and statsmodels (pip install statsmodels).
"""
import argparse
import io
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HORIZONS = [3600, 6 * 3600, 24 * 3600]


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for profile in ("release", "debug"):
        p = os.path.join(target, profile, "opsadvisor")
        if os.path.exists(p):
            return p
    sys.exit("no opsadvisor binary: cargo build --release (or pass --bin)")


def ours(binary, path):
    out = subprocess.run(
        [binary, "forecast", "--csv", path, "--horizons", "1h,6h,24h",
         "--min-history", "3d", "--max-history", "7d", "--every", "12h"],
        check=True, capture_output=True, text=True).stdout
    df = pd.read_csv(io.StringIO(out))
    df["origin"] = pd.to_datetime(df["origin"])
    return df


def predict_linear(s, origin, window_s, horizon_s):
    w = s[(s.index > origin - pd.Timedelta(seconds=window_s)) & (s.index <= origin)]
    if len(w) < 2:
        return np.nan
    x = (w.index - origin).total_seconds().to_numpy()
    y = w.to_numpy()
    xm, ym = x.mean(), y.mean()
    var = ((x - xm) ** 2).sum()
    slope = 0.0 if var == 0 else ((x - xm) * (y - ym)).sum() / var
    return ym - slope * xm + slope * horizon_s


def holt_winters(s, origin, horizons_steps):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    w = s[(s.index > origin - pd.Timedelta(days=7)) & (s.index <= origin)]
    w = w.asfreq("5min").interpolate()
    y = w.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if len(y) >= 2 * 288:
                fit = ExponentialSmoothing(y, trend="add", seasonal="add",
                                           seasonal_periods=288).fit()
            else:
                fit = ExponentialSmoothing(y, trend="add").fit()
            fc = fit.forecast(max(horizons_steps))
            return [fc[h - 1] for h in horizons_steps]
        except Exception:  # a failed fit counts as a naive forecast
            return [y[-1]] * len(horizons_steps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=None)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "datasets", "nab",
                                                  "data", "realAWSCloudwatch"))
    ap.add_argument("--json", default=None, help="write per-series MAEs here")
    args = ap.parse_args()
    binary = args.bin or default_bin()
    files = sorted(f for f in os.listdir(args.data) if f.endswith(".csv"))
    results = []
    for f in files:
        path = os.path.join(args.data, f)
        s = pd.read_csv(path, parse_dates=["timestamp"]).set_index("timestamp")["value"]
        s = s[~s.index.duplicated(keep="last")].sort_index()
        fc = ours(binary, path)
        errs = {h: {"ours": [], "pl6h": [], "pl1h": [], "pl24h": [], "hw": []} for h in HORIZONS}
        for origin, rows in fc.groupby("origin"):
            hw = holt_winters(s, origin, [h // 300 for h in HORIZONS])
            for (h, hwv) in zip(HORIZONS, hw):
                target = origin + pd.Timedelta(seconds=h)
                after = s[s.index >= target]
                if after.empty or (after.index[0] - target) > pd.Timedelta(minutes=10):
                    continue
                actual = after.iloc[0]
                o = rows[rows["horizon_s"] == h]["forecast"].iloc[0]
                e = errs[h]
                e["ours"].append(abs(actual - o))
                e["hw"].append(abs(actual - hwv))
                for name, w in (("pl1h", 3600), ("pl6h", 21600), ("pl24h", 86400)):
                    e[name].append(abs(actual - predict_linear(s, origin, w, h)))
        row = {"series": f}
        for h in HORIZONS:
            for k, v in errs[h].items():
                row[f"{k}@{h // 3600}h"] = float(np.nanmean(v)) if v else float("nan")
            row[f"n@{h // 3600}h"] = len(errs[h]["ours"])
        results.append(row)
        print(f"{f:48s} " + "  ".join(
            f"{h // 3600:>2}h ours {row[f'ours@{h // 3600}h']:.4g} pl {row[f'pl6h@{h // 3600}h']:.4g} "
            f"hw {row[f'hw@{h // 3600}h']:.4g}" for h in HORIZONS), flush=True)
    print()
    print("horizon | series | ours < predict_linear[6h] | ours < best predict_linear window | "
          "ours < Holt-Winters | ours < both (6h, HW) | ours < all three | median MAE ratio ours/HW")
    for h in HORIZONS:
        k = f"{h // 3600}h"
        rows = [r for r in results if r[f"n@{k}"] > 0]
        beat_pl = sum(r[f"ours@{k}"] < r[f"pl6h@{k}"] for r in rows)
        best_pl = [min(r[f"pl1h@{k}"], r[f"pl6h@{k}"], r[f"pl24h@{k}"]) for r in rows]
        beat_best = sum(r[f"ours@{k}"] < b for r, b in zip(rows, best_pl))
        beat_hw = sum(r[f"ours@{k}"] < r[f"hw@{k}"] for r in rows)
        both = sum(r[f"ours@{k}"] < r[f"pl6h@{k}"] and r[f"ours@{k}"] < r[f"hw@{k}"] for r in rows)
        allthree = sum(r[f"ours@{k}"] < b and r[f"ours@{k}"] < r[f"hw@{k}"] for r, b in zip(rows, best_pl))
        ratio = np.median([r[f"ours@{k}"] / r[f"hw@{k}"] for r in rows if r[f"hw@{k}"] > 0])
        n = len(rows)
        print(f"{k:>7} | {n} | {beat_pl} ({100 * beat_pl / n:.0f}%) | {beat_best} ({100 * beat_best / n:.0f}%) | "
              f"{beat_hw} ({100 * beat_hw / n:.0f}%) | {both} ({100 * both / n:.0f}%) | "
              f"{allthree} ({100 * allthree / n:.0f}%) | {ratio:.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
