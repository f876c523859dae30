//! The JVM model shared by Cassandra, Kafka and Elasticsearch nodes, and the JVM/process part
//! of a jmx_exporter 1.x agent page.
//!
//! The heap is a G1-like two-generation model. The server allocates bytes; when the young
//! generation fills, a young collection runs and a share of the survivors is promoted to the
//! old generation. When the old generation reaches its trigger (the initiating heap occupancy,
//! or just above the live set when the live set is large) an old collection brings it back to
//! the live set. GC pause lengths grow with the live set. A healthy node keeps its live set
//! near a third of the heap, so GC costs well under 1 % of wall-clock time; a node under memory
//! pressure keeps ~90 % of the heap live, so old collections run back to back and GC eats more
//! than 10 % of the wall clock.

use super::exposition::{Kind, TextWriter};
use super::host::{GIB, round3};
use super::workload::{SimRng, gauss};

/// What the server asks of its JVM during one step.
#[derive(Debug, Clone)]
pub(crate) struct JvmLoad {
    /// Bytes allocated per second.
    pub(crate) alloc_bps: f64,
    /// Live data the application retains, as a share of the maximum heap.
    pub(crate) live_target: f64,
    /// Share of young-collection survivors promoted to the old generation.
    pub(crate) promotion: f64,
    /// Young generation size as a share of the maximum heap.
    pub(crate) young_share: f64,
    /// Live threads.
    pub(crate) threads: f64,
    /// Open file descriptors.
    pub(crate) open_fds: f64,
    /// CPU used by the process, in cores.
    pub(crate) cpu_cores: f64,
}

/// A simulated JVM.
#[derive(Debug, Clone)]
pub(crate) struct Jvm {
    heap_max: f64,
    live: f64,
    old_used: f64,
    young_cap: f64,
    young_gcs: f64,
    young_time: f64,
    old_gcs: f64,
    old_time: f64,
    gc_share: f64,
    threads: f64,
    threads_peak: f64,
    threads_started: f64,
    open_fds: f64,
    max_fds: f64,
    cpu_seconds: f64,
    start_time_s: f64,
    nonheap: f64,
    classes: f64,
    direct_bytes: f64,
}

impl Jvm {
    /// A JVM with `heap_max` bytes of heap, started `uptime_s` seconds before `start_ms`.
    pub(crate) fn new(
        heap_max: f64,
        max_fds: f64,
        start_ms: i64,
        uptime_s: f64,
        rng: &mut SimRng,
    ) -> Jvm {
        let live = 0.30 + 0.02 * gauss(rng);
        Jvm {
            heap_max,
            live,
            old_used: heap_max * (live + 0.05),
            young_cap: heap_max * 0.2,
            young_gcs: (uptime_s * 0.08).floor(),
            young_time: uptime_s * 0.08 * 0.02,
            old_gcs: (uptime_s / 600.0).floor(),
            old_time: uptime_s / 600.0 * 0.2,
            gc_share: 0.002,
            threads: 150.0,
            threads_peak: 160.0,
            threads_started: (uptime_s * 0.05).floor() + 200.0,
            open_fds: 300.0,
            max_fds,
            cpu_seconds: uptime_s * 0.8,
            start_time_s: (start_ms as f64 / 1000.0 - uptime_s).floor(),
            nonheap: 180e6 + 20e6 * gauss(rng).abs(),
            classes: 9_000.0 + (500.0 * gauss(rng).abs()).floor(),
            direct_bytes: 64e6,
        }
    }

    /// Integrates `dt_s` seconds of `load`.
    pub(crate) fn step(&mut self, dt_s: f64, load: &JvmLoad, rng: &mut SimRng) {
        // The live set follows the application's retained data with a few minutes' lag.
        let a = (-dt_s / 180.0).exp();
        self.live = a * self.live + (1.0 - a) * load.live_target.clamp(0.05, 0.97);
        let young_target = self.heap_max * load.young_share.clamp(0.02, 0.5);
        self.young_cap += (young_target - self.young_cap) * (1.0 - a);

        let size_factor = (self.heap_max / (8.0 * GIB)).sqrt();
        let young_pause =
            (0.008 + 0.02 * size_factor * (0.5 + self.live)) * (1.0 + 0.1 * gauss(rng));
        let old_pause =
            (0.12 + 0.45 * self.live * self.live * size_factor) * (1.0 + 0.1 * gauss(rng));

        let allocated = load.alloc_bps.max(0.0) * dt_s;
        let young = allocated / self.young_cap.max(1.0);
        self.young_gcs += young;
        self.young_time += young * young_pause.max(0.001);
        self.old_used += allocated * load.promotion.clamp(0.0, 1.0);

        let live_bytes = self.live * self.heap_max;
        let trigger = (0.45 * self.heap_max).max(live_bytes + 0.012 * self.heap_max);
        let mut old_now = 0.0;
        let mut guard = 0;
        while self.old_used >= trigger && guard < 1_000 {
            self.old_used = live_bytes + (self.old_used - trigger);
            self.old_gcs += 1.0;
            self.old_time += old_pause.max(0.01);
            old_now += 1.0;
            guard += 1;
        }
        if guard >= 1_000 {
            self.old_used = live_bytes;
        }
        self.old_used = self.old_used.max(live_bytes);
        // Averaged over ~2 minutes, like the decaying reservoirs behind latency percentiles:
        // one 200 ms pause every few minutes must not move a p99, GC back to back must.
        let share = ((young * young_pause + old_now * old_pause) / dt_s).clamp(0.0, 1.0);
        let w = (-dt_s / 120.0).exp();
        self.gc_share = w * self.gc_share + (1.0 - w) * share;

        self.threads = load.threads.round();
        self.threads_peak = self.threads_peak.max(self.threads);
        self.threads_started += (0.05 * dt_s * (1.0 + gauss(rng).abs())).round();
        self.open_fds = load.open_fds.round();
        self.cpu_seconds += load.cpu_cores.max(0.0) * dt_s;
    }

    /// Young-generation bytes in use right now (sawtooth between collections).
    fn young_used(&self) -> f64 {
        self.young_cap * self.young_gcs.fract()
    }

    /// Heap bytes in use.
    pub(crate) fn heap_used(&self) -> f64 {
        (self.old_used + self.young_used() + 0.01 * self.heap_max).min(self.heap_max)
    }

    /// Maximum heap bytes.
    pub(crate) fn heap_max(&self) -> f64 {
        self.heap_max
    }

    /// Old-generation bytes in use.
    pub(crate) fn old_used(&self) -> f64 {
        self.old_used
    }

    /// Young-generation bytes in use (eden).
    pub(crate) fn eden_used(&self) -> f64 {
        self.young_used()
    }

    /// Share of wall-clock time spent in GC pauses, averaged over the last ~2 minutes.
    pub(crate) fn gc_share(&self) -> f64 {
        self.gc_share
    }

    /// Cumulative (young count, young seconds, old count, old seconds).
    pub(crate) fn gc_totals(&self) -> (f64, f64, f64, f64) {
        (self.young_gcs.floor(), self.young_time, self.old_gcs, self.old_time)
    }

    /// Non-heap bytes in use.
    pub(crate) fn nonheap(&self) -> f64 {
        self.nonheap
    }

    /// Live threads and peak.
    pub(crate) fn threads(&self) -> (f64, f64) {
        (self.threads, self.threads_peak)
    }

    /// Open and maximum file descriptors.
    pub(crate) fn fds(&self) -> (f64, f64) {
        (self.open_fds, self.max_fds)
    }

    /// Resident memory estimate: heap committed + non-heap + direct buffers + native overhead.
    pub(crate) fn rss(&self) -> f64 {
        self.heap_max + self.nonheap + self.direct_bytes + 300e6
    }

    /// Writes the JVM, process and jmx_exporter self metrics of a jmx_exporter 1.x agent.
    pub(crate) fn render_agent(&self, w: &mut TextWriter) {
        let heap_used = self.heap_used().floor();
        let eden = self.young_used().floor();
        let survivor = (0.01 * self.heap_max).floor();
        w.family("jmx_exporter_build_info", "JMX Exporter build information", Kind::Gauge);
        w.sample(
            "jmx_exporter_build_info",
            &[("name", "jmx_prometheus_javaagent"), ("version", "1.0.1")],
            1.0,
        );
        w.single(
            "jmx_scrape_duration_seconds",
            "Time this JMX scrape took, in seconds.",
            Kind::Gauge,
            0.042,
        );
        w.single("jmx_scrape_error", "Non-zero if this scrape failed.", Kind::Gauge, 0.0);
        w.single(
            "jmx_scrape_cached_beans",
            "Number of beans with their matching rule cached",
            Kind::Gauge,
            0.0,
        );

        let mem: [(&str, &str, f64, f64); 4] = [
            (
                "jvm_memory_committed_bytes",
                "Committed (bytes) of a given JVM memory area.",
                self.heap_max,
                self.nonheap * 1.05,
            ),
            (
                "jvm_memory_init_bytes",
                "Initial bytes of a given JVM memory area.",
                self.heap_max,
                7_667_712.0,
            ),
            (
                "jvm_memory_max_bytes",
                "Max (bytes) of a given JVM memory area.",
                self.heap_max,
                -1.0,
            ),
            (
                "jvm_memory_used_bytes",
                "Used bytes of a given JVM memory area.",
                heap_used,
                self.nonheap.floor(),
            ),
        ];
        for (name, help, heap, nonheap) in mem {
            w.family(name, help, Kind::Gauge);
            w.sample(name, &[("area", "heap")], heap.floor());
            w.sample(name, &[("area", "nonheap")], nonheap.floor());
        }
        let pools: [(&str, f64, f64); 6] = [
            ("CodeHeap 'non-nmethods'", 2_400_000.0, 5_836_800.0),
            ("Compressed Class Space", (self.nonheap * 0.08).floor(), 1_073_741_824.0),
            ("G1 Eden Space", eden, -1.0),
            ("G1 Old Gen", self.old_used.floor(), self.heap_max),
            ("G1 Survivor Space", survivor, -1.0),
            ("Metaspace", (self.nonheap * 0.55).floor(), -1.0),
        ];
        w.family("jvm_memory_pool_max_bytes", "Max bytes of a given JVM memory pool.", Kind::Gauge);
        for (pool, _, max) in pools {
            w.sample("jvm_memory_pool_max_bytes", &[("pool", pool)], max);
        }
        w.family(
            "jvm_memory_pool_used_bytes",
            "Used bytes of a given JVM memory pool.",
            Kind::Gauge,
        );
        for (pool, used, _) in pools {
            w.sample("jvm_memory_pool_used_bytes", &[("pool", pool)], used);
        }
        w.single(
            "jvm_memory_objects_pending_finalization",
            "The number of objects waiting in the finalizer queue.",
            Kind::Gauge,
            0.0,
        );
        w.family(
            "jvm_buffer_pool_capacity_bytes",
            "Bytes capacity of a given JVM buffer pool.",
            Kind::Gauge,
        );
        w.sample("jvm_buffer_pool_capacity_bytes", &[("pool", "direct")], self.direct_bytes);
        w.sample("jvm_buffer_pool_capacity_bytes", &[("pool", "mapped")], 0.0);
        w.family(
            "jvm_buffer_pool_used_bytes",
            "Used bytes of a given JVM buffer pool.",
            Kind::Gauge,
        );
        w.sample("jvm_buffer_pool_used_bytes", &[("pool", "direct")], self.direct_bytes);
        w.sample("jvm_buffer_pool_used_bytes", &[("pool", "mapped")], 0.0);

        let (yc, yt, oc, ot) = self.gc_totals();
        w.family(
            "jvm_gc_collection_seconds",
            "Time spent in a given JVM garbage collector in seconds.",
            Kind::Summary,
        );
        w.sample("jvm_gc_collection_seconds_count", &[("gc", "G1 Young Generation")], yc);
        w.sample("jvm_gc_collection_seconds_sum", &[("gc", "G1 Young Generation")], round3(yt));
        w.sample("jvm_gc_collection_seconds_count", &[("gc", "G1 Old Generation")], oc);
        w.sample("jvm_gc_collection_seconds_sum", &[("gc", "G1 Old Generation")], round3(ot));

        w.single("jvm_threads_current", "Current thread count of a JVM", Kind::Gauge, self.threads);
        w.single(
            "jvm_threads_daemon",
            "Daemon thread count of a JVM",
            Kind::Gauge,
            (self.threads * 0.85).floor(),
        );
        w.single("jvm_threads_peak", "Peak thread count of a JVM", Kind::Gauge, self.threads_peak);
        w.single(
            "jvm_threads_started_total",
            "Started thread count of a JVM",
            Kind::Counter,
            self.threads_started,
        );
        w.single(
            "jvm_threads_deadlocked",
            "Cycles of JVM-threads that are in deadlock waiting to acquire object monitors or ownable synchronizers",
            Kind::Gauge,
            0.0,
        );
        w.single(
            "jvm_threads_deadlocked_monitor",
            "Cycles of JVM-threads that are in deadlock waiting to acquire object monitors",
            Kind::Gauge,
            0.0,
        );
        w.family("jvm_threads_state", "Current count of threads by state", Kind::Gauge);
        let t = self.threads;
        let runnable = (t * 0.12).floor();
        let timed = (t * 0.30).floor();
        for (state, v) in [
            ("BLOCKED", 0.0),
            ("NEW", 0.0),
            ("RUNNABLE", runnable),
            ("TERMINATED", 0.0),
            ("TIMED_WAITING", timed),
            ("UNKNOWN", 0.0),
            ("WAITING", t - runnable - timed),
        ] {
            w.sample("jvm_threads_state", &[("state", state)], v);
        }
        w.single(
            "jvm_classes_currently_loaded",
            "The number of classes that are currently loaded in the JVM",
            Kind::Gauge,
            self.classes,
        );
        w.single(
            "jvm_classes_loaded_total",
            "The total number of classes that have been loaded since the JVM has started execution",
            Kind::Counter,
            self.classes + 120.0,
        );
        w.single(
            "jvm_classes_unloaded_total",
            "The total number of classes that have been unloaded since the JVM has started execution",
            Kind::Counter,
            120.0,
        );
        w.family("jvm_runtime_info", "JVM runtime info", Kind::Gauge);
        w.sample(
            "jvm_runtime_info",
            &[
                ("runtime", "OpenJDK Runtime Environment"),
                ("vendor", "Eclipse Adoptium"),
                ("version", "17.0.12+7"),
            ],
            1.0,
        );

        w.single(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            Kind::Counter,
            round3(self.cpu_seconds),
        );
        w.single(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Kind::Gauge,
            self.start_time_s,
        );
        w.single(
            "process_open_fds",
            "Number of open file descriptors.",
            Kind::Gauge,
            self.open_fds,
        );
        w.single(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            Kind::Gauge,
            self.max_fds,
        );
        w.single(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            Kind::Gauge,
            (self.rss() * 1.6).floor(),
        );
        w.single(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            Kind::Gauge,
            (self.heap_used() + self.nonheap + self.direct_bytes + 300e6).floor(),
        );
    }
}
