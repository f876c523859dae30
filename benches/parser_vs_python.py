#!/usr/bin/env python3
"""Exposition parsing: opsadvisor's parser vs Python prometheus_client, same inputs, one run.

Inputs: the 190 KB real Prometheus scrape from ../shared (alltypes.237mfs.prom.txt, with its
final '# EOF' removed so both parse it as text format) and a ~20 MB synthetic jmx_exporter-like
exposition generated here. Prints MB/s for each (wall clock, and per CPU-second the parsing
thread ran, which is the one-core figure on a loaded machine), the load average, and the ratio.
Then the daemon's production path on the same inputs: `parse_keeping` with the filter of the
built-in feature catalogue (every line validated and linted, only catalogue series built).

    pip install prometheus_client   # 0.26 measured
    python3 benches/parser_vs_python.py
"""
import os, random, subprocess, sys, tempfile, time

from prometheus_client.parser import text_string_to_metric_families

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "..", "shared", "fixtures", "real", "prometheus-textparse",
                    "model", "textparse", "testdata", "alltypes.237mfs.prom.txt")


def synthetic(path, target_bytes=20_000_000):
    rnd = random.Random(7)
    pools = ["MutationStage", "ReadStage", "CompactionExecutor", "Native-Transport-Requests"]
    with open(path, "w") as f:
        n = 0
        fam = 0
        while n < target_bytes:
            name = f"cassandra_table_metric_{fam}"
            f.write(f"# HELP {name} Synthetic table metric {fam}.\n# TYPE {name} gauge\n")
            for ks in range(4):
                for t in range(25):
                    line = (f'{name}{{keyspace="ks{ks}",table="t{t}",pool="{rnd.choice(pools)}",'
                            f'quantile="0.99"}} {rnd.random() * 1e6:.6g}\n')
                    f.write(line)
                    n += len(line)
            fam += 1


def python_mbps(path):
    text = open(path).read()
    best = float("inf")
    reps = max(1, int(5_000_000 / len(text)))
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            count = sum(len(fam.samples) for fam in text_string_to_metric_families(text))
        best = min(best, (time.perf_counter() - t) / reps)
    return count, len(text.encode()) / best / 1e6


def main():
    if not os.path.exists(REAL):
        sys.exit(f"missing {REAL} (../shared is needed for the real scrape)")
    tmp = tempfile.mkdtemp()
    real = os.path.join(tmp, "real.prom")
    with open(REAL) as src, open(real, "w") as dst:
        dst.write("".join(l for l in src if l.strip() != "# EOF"))
    synth = os.path.join(tmp, "synthetic.prom")
    synthetic(synth)
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "parse_throughput", "--", real, synth],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rust = {l.split("\t")[0]: l.split("\t") for l in out.strip().splitlines()}
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'input':<12} {'bytes':>10} {'samples':>8} {'opsadvisor MB/s':>16} {'(per CPU-second)':>17} "
          f"{'prometheus_client MB/s':>23} {'ratio':>7}")
    inputs = [("real 190KB", real), ("synth 20MB", synth)]
    for label, path in inputs:
        _, size, samples, _, mbps, cpu_mbps = rust[path][:6]
        py_samples, py_mbps = python_mbps(path)
        assert int(samples) == py_samples, (label, samples, py_samples)
        print(f"{label:<12} {int(size):>10} {int(samples):>8} {float(mbps):>16.1f} {float(cpu_mbps):>17.1f} "
              f"{py_mbps:>23.1f} {float(mbps) / py_mbps:>6.1f}x")
    print("daemon path: parse_keeping with the built-in catalogue's filter")
    print(f"{'input':<12} {'bytes':>10} {'kept':>8} {'opsadvisor MB/s':>16} {'(per CPU-second)':>17}")
    for label, path in inputs:
        size, kept, mbps, cpu_mbps = rust[path][1], rust[path][6], rust[path][8], rust[path][9]
        print(f"{label:<12} {int(size):>10} {int(kept):>8} {float(mbps):>16.1f} {float(cpu_mbps):>17.1f}")


if __name__ == "__main__":
    main()
