//! The host model behind every simulated node, and its node_exporter page.
//!
//! A node's server process tells the host what it demands each step (CPU cores, disk
//! operations and bytes, network bytes, bytes stored on the data filesystem, resident memory,
//! and how much slower than normal its disks are). The host turns that into the counters and
//! gauges node_exporter would report: per-core CPU time by mode, load averages, memory, disk
//! latency and busy time from a simple queueing model of each device, filesystem space and
//! network traffic. The process reads back the disk latency and CPU saturation, so a slow disk
//! or a busy CPU feeds into the system's own latencies one step later.

use super::exposition::{Kind, TextWriter};
use super::workload::{Ar1, SimRng, gauss};
use super::{DiskKind, HardwareProfile};

/// CPU modes in node_exporter's order of appearance.
const MODES: [&str; 8] = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"];

/// What the server process asks of its host during one step. Rates are per second.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostLoad {
    /// CPU demanded in user mode, in cores (may exceed the core count: the excess queues).
    pub(crate) cpu_user: f64,
    /// CPU demanded in kernel mode, in cores.
    pub(crate) cpu_system: f64,
    /// Read operations per second on the data filesystem.
    pub(crate) read_iops: f64,
    /// Write operations per second on the data filesystem.
    pub(crate) write_iops: f64,
    /// Bytes read per second from the data filesystem.
    pub(crate) read_bps: f64,
    /// Bytes written per second to the data filesystem.
    pub(crate) write_bps: f64,
    /// Network bytes received per second.
    pub(crate) net_rx_bps: f64,
    /// Network bytes sent per second.
    pub(crate) net_tx_bps: f64,
    /// Bytes the server keeps on the data filesystem.
    pub(crate) data_bytes: f64,
    /// Resident memory of the server process (heap + off-heap), bytes.
    pub(crate) rss_bytes: f64,
    /// Multiplier on the data disks' service time (1 = healthy).
    pub(crate) disk_slowdown: f64,
}

/// One block device's cumulative statistics.
#[derive(Debug, Clone)]
struct Disk {
    name: String,
    reads: f64,
    writes: f64,
    read_bytes: f64,
    written_bytes: f64,
    read_time: f64,
    write_time: f64,
    io_time: f64,
    io_time_weighted: f64,
    io_now: f64,
}

impl Disk {
    fn new(name: String, rng: &mut SimRng, uptime_s: f64) -> Disk {
        // Start with plausible history so counters are not all zero.
        let f = uptime_s * (0.5 + 0.1 * gauss(rng).abs());
        Disk {
            name,
            reads: (f * 40.0).floor(),
            writes: (f * 60.0).floor(),
            read_bytes: (f * 40.0 * 16_384.0).floor(),
            written_bytes: (f * 60.0 * 32_768.0).floor(),
            read_time: f * 40.0 * 0.0002,
            write_time: f * 60.0 * 0.0001,
            io_time: f * 0.02,
            io_time_weighted: f * 0.02,
            io_now: 0.0,
        }
    }
}

/// Outputs of a host step that the server process feeds back into its own latencies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HostFeedback {
    /// Mean read latency of the data disks, seconds.
    pub(crate) read_latency_s: f64,
    /// Mean write latency of the data disks, seconds.
    pub(crate) write_latency_s: f64,
    /// Busy share of all CPU cores, 0..1.
    pub(crate) cpu_busy: f64,
}

/// A simulated machine.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    hostname: String,
    ip: String,
    profile: HardwareProfile,
    mountpoint: String,
    data_device: String,
    root_device: String,
    cpu: Vec<[f64; 8]>,
    core_weight: Vec<f64>,
    load: [f64; 3],
    disks: Vec<Disk>,
    root_disk: Disk,
    data_fs_size: f64,
    data_used: f64,
    root_fs_size: f64,
    root_used: f64,
    mem_available: f64,
    mem_free: f64,
    mem_cached: f64,
    mem_buffers: f64,
    net_rx: f64,
    net_tx: f64,
    net_rx_packets: f64,
    net_tx_packets: f64,
    ctx_switches: f64,
    interrupts: f64,
    pgmajfault: f64,
    boot_time_s: f64,
    clock_offset: Ar1,
    feedback: HostFeedback,
}

impl Host {
    /// A host named `hostname` whose server keeps its data under `mountpoint`.
    pub(crate) fn new(
        hostname: &str,
        ip: String,
        profile: &HardwareProfile,
        mountpoint: &str,
        start_ms: i64,
        rng: &mut SimRng,
    ) -> Host {
        let uptime_s = 86_400.0 * (20.0 + 10.0 * gauss(rng).abs());
        let (root, data_prefix, first) = match profile.disk_kind {
            DiskKind::Ssd => ("nvme0n1", "nvme", 1),
            DiskKind::Hdd => ("sda", "sd", 1),
        };
        let disk_name = |i: u32| match profile.disk_kind {
            DiskKind::Ssd => format!("{data_prefix}{}n1", first + i),
            DiskKind::Hdd => format!("{data_prefix}{}", (b'b' + i as u8) as char),
        };
        let disks: Vec<Disk> =
            (0..profile.disks).map(|i| Disk::new(disk_name(i), rng, uptime_s)).collect();
        let data_device = if profile.disks > 1 {
            "/dev/md0".to_owned()
        } else {
            format!("/dev/{}", disks.first().map_or("sdb", |d| d.name.as_str()))
        };
        let root_device = match profile.disk_kind {
            DiskKind::Ssd => "/dev/nvme0n1p1".to_owned(),
            DiskKind::Hdd => "/dev/sda1".to_owned(),
        };
        let cores = profile.cores.max(1) as usize;
        let core_weight: Vec<f64> =
            (0..cores).map(|i| 1.0 + 0.12 * (i as f64 * 1.7).sin()).collect();
        let mean_w = core_weight.iter().sum::<f64>() / cores as f64;
        let core_weight = core_weight.into_iter().map(|w| w / mean_w).collect();
        let cpu = (0..cores)
            .map(|_| {
                let busy = 0.2 + 0.05 * gauss(rng);
                let mut c = [0.0; 8];
                c[0] = uptime_s * (0.78 - busy * 0.2);
                c[1] = uptime_s * 0.004;
                c[2] = 0.0;
                c[3] = uptime_s * 0.0005;
                c[4] = uptime_s * 0.006;
                c[5] = uptime_s * 0.002;
                c[6] = uptime_s * busy * 0.2;
                c[7] = uptime_s * busy * 0.8;
                c
            })
            .collect();
        let root_fs_size = blocks(64.0 * GIB * 0.98);
        Host {
            hostname: hostname.to_owned(),
            ip,
            profile: profile.clone(),
            mountpoint: mountpoint.to_owned(),
            data_device,
            root_device,
            cpu,
            core_weight,
            load: [0.5; 3],
            root_disk: Disk::new(root.to_owned(), rng, uptime_s * 0.05),
            disks,
            data_fs_size: blocks(profile.disks as f64 * profile.disk_bytes as f64 * 0.99),
            data_used: 0.0,
            root_fs_size,
            root_used: root_fs_size * (0.30 + 0.05 * gauss(rng).abs()),
            mem_available: profile.ram_bytes as f64 * 0.6,
            mem_free: profile.ram_bytes as f64 * 0.05,
            mem_cached: profile.ram_bytes as f64 * 0.5,
            mem_buffers: profile.ram_bytes as f64 * 0.01,
            net_rx: uptime_s * 2e6,
            net_tx: uptime_s * 2e6,
            net_rx_packets: uptime_s * 2e6 / 1200.0,
            net_tx_packets: uptime_s * 2e6 / 1200.0,
            ctx_switches: uptime_s * 5000.0,
            interrupts: uptime_s * 3000.0,
            pgmajfault: uptime_s * 0.2,
            boot_time_s: (start_ms as f64 / 1000.0 - uptime_s).floor(),
            clock_offset: Ar1::new(0.0008, 600.0),
            feedback: HostFeedback {
                read_latency_s: 0.0002,
                write_latency_s: 0.0001,
                ..Default::default()
            },
        }
    }

    /// The hardware this host runs on.
    pub(crate) fn profile(&self) -> &HardwareProfile {
        &self.profile
    }

    /// The host's IP address (used in Cassandra peer labels and Elasticsearch `ip` fields).
    /// Link speed of eth0, bytes per second, as the cloud instance sizes go: up to 4 cores
    /// 1 GbE, up to 16 cores 10 GbE, bigger hosts 25 GbE. (node_exporter reports no speed
    /// for `lo`, so neither does the simulator.)
    pub(crate) fn nic_speed_bytes(&self) -> f64 {
        match self.profile.cores {
            0..=4 => 125_000_000.0,
            5..=16 => 1_250_000_000.0,
            _ => 3_125_000_000.0,
        }
    }

    pub(crate) fn ip(&self) -> &str {
        &self.ip
    }

    /// Size of the data filesystem, bytes.
    pub(crate) fn data_fs_size(&self) -> f64 {
        self.data_fs_size
    }

    /// Bytes available on the data filesystem.
    pub(crate) fn data_fs_avail(&self) -> f64 {
        blocks((self.data_fs_size - self.data_used).max(0.0))
    }

    /// Path and device of the data filesystem.
    pub(crate) fn data_mount(&self) -> (&str, &str) {
        (&self.mountpoint, &self.data_device)
    }

    /// Host memory figures: (total, free, available).
    pub(crate) fn memory(&self) -> (f64, f64, f64) {
        (self.profile.ram_bytes as f64, self.mem_free, self.mem_available)
    }

    /// One-minute load average.
    pub(crate) fn load_averages(&self) -> [f64; 3] {
        self.load
    }

    /// Latest feedback (disk latency, CPU busy) for the server's own model.
    pub(crate) fn feedback(&self) -> HostFeedback {
        self.feedback
    }

    /// Integrates `dt_s` seconds of `load`.
    pub(crate) fn step(&mut self, dt_s: f64, load: &HostLoad, rng: &mut SimRng) {
        let cores = self.cpu.len() as f64;
        let (svc_r, svc_w, par) = match self.profile.disk_kind {
            DiskKind::Ssd => (0.000_12, 0.000_05, 8.0),
            DiskKind::Hdd => (0.008, 0.004, 1.0),
        };
        let slow = load.disk_slowdown.max(1.0);
        let n = self.disks.len().max(1) as f64;
        let (lr, lw) = (load.read_iops.max(0.0) / n, load.write_iops.max(0.0) / n);
        let rho = ((lr * svc_r + lw * svc_w) * slow / par).min(0.97);
        let lat_r = svc_r * slow / (1.0 - rho);
        let lat_w = svc_w * slow / (1.0 - rho);
        let depth = lr * lat_r + lw * lat_w;
        let busy = (1.0 - (-depth).exp()).min(0.999);
        for d in &mut self.disks {
            let j = 1.0 + 0.03 * gauss(rng);
            d.reads += (lr * dt_s * j).round().max(0.0);
            d.writes += (lw * dt_s * j).round().max(0.0);
            d.read_bytes += (load.read_bps.max(0.0) / n * dt_s * j).round().max(0.0);
            d.written_bytes += (load.write_bps.max(0.0) / n * dt_s * j).round().max(0.0);
            d.read_time += lr * dt_s * j * lat_r;
            d.write_time += lw * dt_s * j * lat_w;
            d.io_time += busy * dt_s;
            d.io_time_weighted += depth * dt_s;
            d.io_now = (depth * (1.0 + 0.2 * gauss(rng))).round().max(0.0);
        }
        let root_w = 4.0 + gauss(rng).abs();
        self.root_disk.writes += (root_w * dt_s).round();
        self.root_disk.written_bytes += (root_w * dt_s * 8192.0).round();
        self.root_disk.write_time += root_w * dt_s * 0.0003;
        self.root_disk.io_time += root_w * 0.0003 * dt_s;
        self.root_disk.io_time_weighted += root_w * 0.0003 * dt_s;

        // CPU: demand beyond the cores queues (and shows up in the load average).
        let demand = (load.cpu_user + load.cpu_system).max(0.0) + 0.05;
        let used = demand.min(cores * 0.995);
        let user_share = if demand > 0.0 { load.cpu_user.max(0.0) / demand } else { 0.8 };
        let per_core = used / cores;
        let iowait = (1.0 - per_core).max(0.0) * 0.15 * busy;
        for (c, w) in self.cpu.iter_mut().zip(&self.core_weight) {
            let b = (per_core * w * (1.0 + 0.03 * gauss(rng))).clamp(0.0, 0.995);
            let user = b * user_share;
            let system = b - user;
            let irq = 0.0005;
            let softirq = 0.004 + 0.002 * per_core;
            let steal = 0.0015;
            let nice = 0.0002;
            let io = iowait.min((1.0 - b - irq - softirq - steal - nice).max(0.0));
            let idle = (1.0 - b - io - irq - softirq - steal - nice).max(0.0);
            for (i, v) in [idle, io, irq, nice, softirq, steal, system, user].iter().enumerate() {
                c[i] += v * dt_s;
            }
        }
        let runnable = demand + depth;
        for (l, tau) in self.load.iter_mut().zip([60.0, 300.0, 900.0]) {
            let a = (-dt_s / tau).exp();
            *l = a * *l + (1.0 - a) * runnable;
        }

        // Memory: what the process does not hold is mostly page cache.
        let ram = self.profile.ram_bytes as f64;
        let kernel = 0.4 * GIB + 0.02 * ram;
        let rest = (ram - load.rss_bytes - kernel).max(0.02 * ram);
        self.mem_free = (0.04 * ram).min(rest) * (1.0 + 0.05 * gauss(rng)).max(0.5);
        self.mem_buffers = 0.01 * ram;
        self.mem_cached = (rest - self.mem_free - self.mem_buffers).max(0.0);
        self.mem_available = (self.mem_free + 0.92 * self.mem_cached + self.mem_buffers).min(ram);

        self.data_used = load.data_bytes.clamp(0.0, self.data_fs_size);
        self.root_used += 2_000.0 * dt_s;

        let rx = load.net_rx_bps.max(0.0) * dt_s;
        let tx = load.net_tx_bps.max(0.0) * dt_s;
        self.net_rx += rx.round();
        self.net_tx += tx.round();
        self.net_rx_packets += (rx / 1100.0).round();
        self.net_tx_packets += (tx / 1100.0).round();
        self.ctx_switches += ((2_000.0 + 15_000.0 * used) * dt_s).round();
        self.interrupts += ((1_500.0 + 8_000.0 * used) * dt_s).round();
        self.pgmajfault += (0.05 * dt_s * (1.0 + gauss(rng).abs())).round();
        self.clock_offset.step(rng, dt_s);

        self.feedback =
            HostFeedback { read_latency_s: lat_r, write_latency_s: lat_w, cpu_busy: used / cores };
    }

    /// Renders the node_exporter page at `ts_ms`.
    pub(crate) fn render(&self, ts_ms: i64) -> String {
        let mut w = TextWriter::new(ts_ms);
        w.family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Kind::Counter);
        for (i, c) in self.cpu.iter().enumerate() {
            let cpu = i.to_string();
            for (m, v) in MODES.iter().zip(c) {
                w.sample("node_cpu_seconds_total", &[("cpu", &cpu), ("mode", m)], round2(*v));
            }
        }
        w.single("node_load1", "1m load average.", Kind::Gauge, round2(self.load[0]));
        w.single("node_load5", "5m load average.", Kind::Gauge, round2(self.load[1]));
        w.single("node_load15", "15m load average.", Kind::Gauge, round2(self.load[2]));

        let ram = self.profile.ram_bytes as f64;
        let swap = self.profile.swap_bytes as f64;
        let mem: [(&str, &str, f64); 7] = [
            ("MemAvailable", "MemAvailable", self.mem_available),
            ("Buffers", "Buffers", self.mem_buffers),
            ("Cached", "Cached", self.mem_cached),
            ("MemFree", "MemFree", self.mem_free),
            ("MemTotal", "MemTotal", ram),
            ("SwapFree", "SwapFree", swap),
            ("SwapTotal", "SwapTotal", swap),
        ];
        for (field, help, v) in mem {
            let name = format!("node_memory_{field}_bytes");
            w.single(
                &name,
                &format!("Memory information field {help}_bytes."),
                Kind::Gauge,
                (v / 4096.0).floor() * 4096.0,
            );
        }

        let run_size = (ram / 10.0 / 4096.0).floor() * 4096.0;
        let data_avail = self.data_fs_avail().floor();
        let root_avail = blocks((self.root_fs_size * 0.95 - self.root_used).max(0.0));
        let files = (self.data_fs_size / 65_536.0).floor();
        let fs = [
            Fs {
                device: &self.root_device,
                fstype: "ext4",
                mountpoint: "/",
                size: self.root_fs_size,
                free: blocks(self.root_fs_size - self.root_used),
                avail: root_avail,
                files: 4_194_304.0,
                files_free: 3_800_000.0,
            },
            Fs {
                device: "tmpfs",
                fstype: "tmpfs",
                mountpoint: "/run",
                size: run_size,
                free: run_size - 1_200_128.0,
                avail: run_size - 1_200_128.0,
                files: 1e6,
                files_free: 998_900.0,
            },
            Fs {
                device: &self.data_device,
                fstype: "xfs",
                mountpoint: &self.mountpoint,
                size: self.data_fs_size,
                free: data_avail,
                avail: data_avail,
                files,
                files_free: files - 20_000.0,
            },
        ];
        type FsField = fn(&Fs<'_>) -> f64;
        let fs_metrics: [(&str, &str, FsField); 6] = [
            (
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                |f| f.avail,
            ),
            ("node_filesystem_files", "Filesystem total file nodes.", |f| f.files),
            ("node_filesystem_files_free", "Filesystem total free file nodes.", |f| f.files_free),
            ("node_filesystem_free_bytes", "Filesystem free space in bytes.", |f| f.free),
            ("node_filesystem_readonly", "Filesystem read-only status.", |_| 0.0),
            ("node_filesystem_size_bytes", "Filesystem size in bytes.", |f| f.size),
        ];
        for (name, help, get) in fs_metrics {
            w.family(name, help, Kind::Gauge);
            for f in &fs {
                let labels =
                    [("device", f.device), ("fstype", f.fstype), ("mountpoint", f.mountpoint)];
                w.sample(name, &labels, get(f));
            }
        }

        let disks: Vec<&Disk> = std::iter::once(&self.root_disk).chain(&self.disks).collect();
        type DiskField = fn(&Disk) -> f64;
        let disk_metrics: [(&str, &str, Kind, DiskField); 9] = [
            ("node_disk_io_now", "The number of I/Os currently in progress.", Kind::Gauge, |d| {
                d.io_now
            }),
            (
                "node_disk_io_time_seconds_total",
                "Total seconds spent doing I/Os.",
                Kind::Counter,
                |d| round3(d.io_time),
            ),
            (
                "node_disk_io_time_weighted_seconds_total",
                "The weighted # of seconds spent doing I/Os.",
                Kind::Counter,
                |d| round3(d.io_time_weighted),
            ),
            (
                "node_disk_read_bytes_total",
                "The total number of bytes read successfully.",
                Kind::Counter,
                |d| d.read_bytes,
            ),
            (
                "node_disk_read_time_seconds_total",
                "The total number of seconds spent by all reads.",
                Kind::Counter,
                |d| round3(d.read_time),
            ),
            (
                "node_disk_reads_completed_total",
                "The total number of reads completed successfully.",
                Kind::Counter,
                |d| d.reads,
            ),
            (
                "node_disk_write_time_seconds_total",
                "This is the total number of seconds spent by all writes.",
                Kind::Counter,
                |d| round3(d.write_time),
            ),
            (
                "node_disk_writes_completed_total",
                "The total number of writes completed successfully.",
                Kind::Counter,
                |d| d.writes,
            ),
            (
                "node_disk_written_bytes_total",
                "The total number of bytes written successfully.",
                Kind::Counter,
                |d| d.written_bytes,
            ),
        ];
        for (name, help, kind, f) in disk_metrics {
            w.family(name, help, kind);
            for d in &disks {
                w.sample(name, &[("device", &d.name)], f(d));
            }
        }

        let nets: [(&str, &str, Kind, f64, f64); 7] = [
            (
                "node_network_receive_bytes_total",
                "Network device statistic receive_bytes.",
                Kind::Counter,
                self.net_rx,
                self.net_rx * 0.001,
            ),
            (
                "node_network_receive_drop_total",
                "Network device statistic receive_drop.",
                Kind::Counter,
                0.0,
                0.0,
            ),
            (
                "node_network_receive_errs_total",
                "Network device statistic receive_errs.",
                Kind::Counter,
                0.0,
                0.0,
            ),
            (
                "node_network_receive_packets_total",
                "Network device statistic receive_packets.",
                Kind::Counter,
                self.net_rx_packets,
                self.net_rx_packets * 0.001,
            ),
            (
                "node_network_speed_bytes",
                "Network device property: speed_bytes",
                Kind::Gauge,
                self.nic_speed_bytes(),
                0.0,
            ),
            (
                "node_network_transmit_bytes_total",
                "Network device statistic transmit_bytes.",
                Kind::Counter,
                self.net_tx,
                self.net_tx * 0.001,
            ),
            (
                "node_network_transmit_packets_total",
                "Network device statistic transmit_packets.",
                Kind::Counter,
                self.net_tx_packets,
                self.net_tx_packets * 0.001,
            ),
        ];
        for (name, help, kind, eth, lo) in nets {
            w.family(name, help, kind);
            w.sample(name, &[("device", "eth0")], eth.floor());
            if name != "node_network_speed_bytes" {
                w.sample(name, &[("device", "lo")], lo.floor());
            }
        }

        w.single(
            "node_context_switches_total",
            "Total number of context switches.",
            Kind::Counter,
            self.ctx_switches,
        );
        w.single(
            "node_intr_total",
            "Total number of interrupts serviced.",
            Kind::Counter,
            self.interrupts,
        );
        w.single(
            "node_vmstat_pgmajfault",
            "/proc/vmstat information field pgmajfault.",
            Kind::Untyped,
            self.pgmajfault,
        );
        w.single(
            "node_vmstat_oom_kill",
            "/proc/vmstat information field oom_kill.",
            Kind::Untyped,
            0.0,
        );
        w.single(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            Kind::Gauge,
            4_000.0 + (self.load[0] * 100.0).floor(),
        );
        w.single(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            Kind::Gauge,
            9_223_372_036_854_775_807.0,
        );
        w.single(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            Kind::Gauge,
            800.0 + (self.load[0] * 40.0).floor(),
        );
        w.single(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            Kind::Gauge,
            262_144.0,
        );
        w.single(
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            Kind::Gauge,
            round6(self.clock_offset.value()),
        );
        w.single("node_timex_maxerror_seconds", "Maximum error in seconds.", Kind::Gauge, 0.0105);
        w.single(
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            Kind::Gauge,
            1.0,
        );
        w.single(
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            Kind::Gauge,
            self.boot_time_s,
        );
        w.single(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            Kind::Gauge,
            ts_ms as f64 / 1000.0,
        );
        w.family(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            Kind::Gauge,
        );
        w.sample(
            "node_uname_info",
            &[
                ("domainname", "(none)"),
                ("machine", "x86_64"),
                ("nodename", &self.hostname),
                ("release", "6.1.0-28-amd64"),
                ("sysname", "Linux"),
                ("version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)"),
            ],
            1.0,
        );
        w.family(
            "node_exporter_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.",
            Kind::Gauge,
        );
        w.sample(
            "node_exporter_build_info",
            &[
                ("branch", "HEAD"),
                ("goarch", "amd64"),
                ("goos", "linux"),
                ("goversion", "go1.22.5"),
                ("revision", "unknown"),
                ("version", "1.8.2"),
            ],
            1.0,
        );
        w.finish()
    }
}

/// One mounted filesystem as node_exporter reports it.
struct Fs<'a> {
    device: &'a str,
    fstype: &'a str,
    mountpoint: &'a str,
    size: f64,
    free: f64,
    avail: f64,
    files: f64,
    files_free: f64,
}

/// Rounds bytes down to whole 4 KiB filesystem blocks.
fn blocks(bytes: f64) -> f64 {
    (bytes / 4096.0).floor() * 4096.0
}

/// A gibibyte.
pub(crate) const GIB: f64 = 1_073_741_824.0;

/// Rounds to 2 decimals (keeps pages compact; counters stay monotonic because rounding is
/// monotonic).
pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Rounds to 3 decimals.
pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Rounds to 6 decimals.
pub(crate) fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
