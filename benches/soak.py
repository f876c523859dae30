#!/usr/bin/env python3
"""Soak: the daemon against ~1,000 simulated targets at 15 s for a bounded time.

Reports the daemon's CPU (% of one core, from /proc utime+stime over the measured
period), peak RSS (VmHWM) and steady RSS (the highest RSS once the rolling window is
full: 10 minutes of data, so run for --duration 900 or more to see it), and the same for
Debian's `prometheus` scraping the same targets in the same run when it is installed: a
peer doing comparable scrape work. The simulator runs in its own process and is not
measured. Every --every seconds a line of the RSS timeline is printed; at the end, each
process's anonymous vs file-backed resident memory (/proc/PID/smaps_rollup).

    cargo build --release --bin opsadvisor
    python3 benches/soak.py                     # 1,000 targets, 15 s, 3 minutes
    python3 benches/soak.py --duration 900      # until the window is full, and 5 minutes more
    python3 benches/soak.py --targets 200 --duration 60 --bin target/debug/opsadvisor
    # Experiments in the same run, against the same targets: another daemon per --variant,
    # with environment variables and/or another binary.
    python3 benches/soak.py --variant arena2:MALLOC_ARENA_MAX=2 --variant old:bin=/tmp/opsadvisor-old

Target (issue 7): < 5% of one core and < 256 MB for the daemon.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def rss_mb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out.get("VmRSS", 0.0), out.get("VmHWM", 0.0)


def smaps(pid):
    """Resident memory by kind, MB: anonymous (the heap) and file-backed (the binary)."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key = line.split(":")[0]
                if key in ("Rss", "Anonymous", "Pss_File"):
                    out[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def spec_for(targets):
    """Cassandra and Kafka clusters of 25 nodes (2 targets each: JMX exporter and
    node_exporter; Kafka adds its kafka_exporter) plus one Elasticsearch cluster."""
    lines = ["seed: 7", "clusters:", "  - { name: es-0, system: elasticsearch, count: 5 }"]
    n, i = 6, 0
    while n < targets:
        system = "cassandra" if i % 2 == 0 else "kafka"
        nodes = min(25, max(1, (targets - n) // 2))
        lines.append(f"  - {{ name: {system[:4]}-{i}, system: {system}, count: {nodes} }}")
        n += 2 * nodes + (1 if system == "kafka" else 0)
        i += 1
    return "\n".join(lines) + "\n"


def scrape_urls(config_text):
    urls = []
    for line in config_text.splitlines():
        line = line.strip()
        for key in ("metrics:", "node_exporter:", "kafka_exporter:", "- metrics:"):
            if line.startswith(key):
                urls.append(line.split(":", 1)[1].strip().strip("'\""))
    return urls


def wait_http(url, secs=60):
    end = time.time() + secs
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=180, help="measured seconds (after warm-up)")
    ap.add_argument("--warmup", type=float, default=35, help="seconds before measuring")
    ap.add_argument("--interval", default="15s")
    ap.add_argument("--bin", default="target/release/opsadvisor")
    ap.add_argument("--no-peer", action="store_true", help="do not run prometheus alongside")
    ap.add_argument("--every", type=float, default=60, help="seconds between timeline lines")
    ap.add_argument("--variant", action="append", default=[],
                    help="LABEL[:bin=PATH][:KEY=VALUE...]: one more daemon, same targets")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs) and print it")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="opsadvisor-soak-")
    procs = []
    try:
        with open(f"{work}/spec.yaml", "w") as f:
            f.write(spec_for(args.targets))
        sim = subprocess.Popen(
            [args.bin, "simulate", "--spec", f"{work}/spec.yaml", "--write-config", f"{work}/sim.yaml"],
            stdout=subprocess.DEVNULL, stderr=open(f"{work}/sim.log", "w"))
        procs.append(sim)
        for _ in range(600):
            if os.path.exists(f"{work}/sim.yaml") and os.path.getsize(f"{work}/sim.yaml") > 0:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        text = open(f"{work}/sim.yaml").read()
        text = text.replace("interval: 15s", f"interval: {args.interval}")
        with open(f"{work}/opsadvisor.yaml", "w") as f:
            f.write(text)
        urls = scrape_urls(text)
        n_targets = len(urls) + text.count("elasticsearch: http")

        ports = {}
        measured = {}

        def start_daemon(label, binary, env):
            port = free_port()
            d = f"{work}/data-{len(ports)}"
            proc = subprocess.Popen(
                [binary, "daemon", "--config", f"{work}/opsadvisor.yaml", "--storage.path", d,
                 "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warn"],
                stdout=subprocess.DEVNULL, stderr=open(f"{d}.log", "w"), env={**os.environ, **env})
            procs.append(proc)
            measured[label] = proc.pid
            ports[label] = port

        start_daemon("opsadvisor daemon", args.bin, {})
        for v in args.variant:
            label, *settings = v.split(":")
            binary, env = args.bin, {}
            for kv in settings:
                k, _, val = kv.partition("=")
                if k == "bin":
                    binary = val
                else:
                    env[k] = val
            start_daemon(f"daemon {label}", binary, env)
        port = ports["opsadvisor daemon"]

        prom_bin = shutil.which("prometheus")
        if prom_bin and not args.no_peer:
            pport = free_port()
            targets = ",".join(f"'{u.split('://', 1)[1].split('/', 1)[0]}'" for u in urls)
            with open(f"{work}/prometheus.yml", "w") as f:
                f.write(f"global: {{ scrape_interval: {args.interval}, scrape_timeout: 10s }}\n"
                        f"scrape_configs:\n  - job_name: soak\n    static_configs: [{{ targets: [{targets}] }}]\n")
            prom = subprocess.Popen(
                [prom_bin, f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/prom",
                 f"--web.listen-address=127.0.0.1:{pport}"],
                stdout=subprocess.DEVNULL, stderr=open(f"{work}/prometheus.log", "w"))
            procs.append(prom)
            measured["prometheus (peer)"] = prom.pid

        for label, p in ports.items():
            if not wait_http(f"http://127.0.0.1:{p}/-/ready", 120):
                print(f"{label} never became ready; log:\n" + open(f"{work}/data-0.log").read()[-3000:])
                return 1
        time.sleep(args.warmup)
        load0 = os.getloadavg()
        t_start = time.time()
        start = {k: (cpu_seconds(p), time.time()) for k, p in measured.items()}
        rss_max = {k: 0.0 for k in measured}
        steady = {k: 0.0 for k in measured}  # highest RSS since the window filled
        full_at = None
        labels = list(measured)
        print("timeline (RSS MB): seconds, " + ", ".join(labels) + ", window rounds, window samples")
        end = time.time() + args.duration
        next_line = time.time()
        while time.time() < end:
            for k, p in measured.items():
                rss_max[k] = max(rss_max[k], rss_mb(p)[0])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                    text = r.read().decode()
            except OSError:
                text = ""
            rounds = metric(text, "opsadvisor_window_rounds")
            # Full: the oldest kept round is 10 minutes old (the bound in daemon::MAX_WINDOW_MS).
            if full_at is None and time.time() - t_start + args.warmup >= 600 + 2 * 15:
                full_at = time.time() - t_start
            if full_at is not None:
                for k, p in measured.items():
                    steady[k] = max(steady[k], rss_mb(p)[0])
            if time.time() >= next_line:
                row = ", ".join(f"{rss_mb(p)[0]:.0f}" for p in measured.values())
                print(f"  {time.time() - t_start:5.0f}, {row}, {rounds}, "
                      f"{metric(text, 'opsadvisor_window_samples')}", flush=True)
                next_line += args.every
            time.sleep(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        load1 = os.getloadavg()
        print(f"targets: {n_targets} ({len(urls)} expositions + ES REST), interval {args.interval}, "
              f"measured {args.duration:.0f} s after {args.warmup:.0f} s warm-up, {os.cpu_count()} cores, "
              f"load average {load0[0]:.2f} at start, {load1[0]:.2f} at end")
        print(f"{'process':<22} {'CPU % of one core':>18} {'RSS now MB':>11} {'peak RSS (VmHWM) MB':>20} "
              f"{'steady RSS MB':>14} {'anon MB':>8} {'file MB':>8}")
        for k, p in measured.items():
            c0, t0 = start[k]
            cpu = 100 * (cpu_seconds(p) - c0) / (time.time() - t0)
            now, hwm = rss_mb(p)
            m = smaps(p)
            st = f"{steady[k]:.1f}" if full_at is not None else "not full"
            print(f"{k:<22} {cpu:>18.2f} {now:>11.1f} {max(hwm, rss_max[k]):>20.1f} {st:>14} "
                  f"{m.get('Anonymous', 0):>8.1f} {m.get('Pss_File', 0):>8.1f}")
        if full_at is not None:
            print(f"  steady: from {full_at:.0f} s (the window holds 10 minutes of rounds from then on)")
        keep = ("opsadvisor_cycle_duration_seconds", "opsadvisor_evaluation_duration_seconds",
                "opsadvisor_window_rounds", "opsadvisor_window_samples", "opsadvisor_cycles_total")
        for line in metrics.splitlines():
            if line.startswith(keep):
                print("  " + line)
        up = sum(1 for l in metrics.splitlines() if l.startswith("opsadvisor_target_up{") and l.endswith(" 1"))
        print(f"  targets up: {up}")
        return 0
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.keep:
            print(f"scratch directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
