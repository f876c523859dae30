//! Which features of a dataset a classifier reads.
//!
//! Every feature of the frame except those that measure the node's size: bytes of RAM,
//! heap, disk and data, and counts of cores. A threshold learned on one of those is a
//! threshold on the hardware of the training profiles, and it misplaces nodes of a size
//! training never saw (the held-out hardware split). The catalogue gives each a ratio to the
//! node's own size instead (`heap_used_ratio`, `cpu_iowait_ratio`, `memory_available_ratio`,
//! `data_disk_fill_ratio_per_hour`, `storage_load_ratio`…), which means the same thing on
//! any node. Rules still read the raw features: an action names bytes and cores.
//!
//! A ratio to the node's size is not enough when the load does not grow with the node: the
//! same workload keeps a healthy 4-core node busier and slower than a healthy 16-core one,
//! and trees learned on the training sizes read a small healthy node's busy CPU and read
//! latency as a large node's fault (leave-one-profile-out on the training split showed
//! healthy `small` windows taken for `dropped_mutations`). So the catalogue also gives the
//! busy, I/O-wait, disk-time and latency gauges as a share of its peers' mean
//! (`cpu_busy_share_of_mean`, `write_latency_share_of_mean`…, and the disk fill rate as a
//! difference from it): the nodes of a cluster share hardware and workload, so a node that
//! stands out from its peers means the same at any size.
//!
//! For the same reason the Elasticsearch search and merge rates, and the search pool's size,
//! are not inputs: under the same search surge a larger node serves more searches per second
//! and rejects fewer (on the largest simulated profile, none). The classifier reads the
//! shares they make instead (`es_search_pool_busy_ratio`, `es_search_rejected_ratio`,
//! `es_merge_throttled_ratio`).

/// Features that measure the node's size (or scale with it) and are not classifier inputs.
pub const SIZE_DEPENDENT: &[&str] = &[
    "heap_used_bytes",
    "heap_max_bytes",
    "cpu_cores",
    "cpu_idle_cores",
    "cpu_iowait_cores",
    "cpu_steal_cores",
    "memory_total_bytes",
    "memory_available_bytes",
    "swap_total_bytes",
    "data_disk_size_bytes",
    "data_disk_avail_bytes",
    "data_disk_avail_slope_bytes_per_second",
    "disk_count",
    "nic_speed_bytes",
    "jvm_threads",
    "max_fds",
    "es_parent_breaker_ratio",
    "es_parent_breaker_limit_bytes",
    "storage_load_bytes",
    "storage_load_growth_bytes_per_second",
    "log_size_bytes",
    "ram_bytes",
    "host_memory_total_bytes",
    "heap_configured_bytes",
    "heap_target_bytes",
    "cfg_heap_max_bytes",
    "cfg_heap_initial_bytes",
    // Throughput and pool sizes that grow with the node (see the module comment).
    "es_search_completed_per_second",
    "es_search_rejected_per_second",
    "es_search_threads",
    "es_search_active",
    "es_merge_seconds_per_second",
    "es_merge_throttled_seconds_per_second",
];

/// Whether a classifier reads `feature`.
pub fn is_input(feature: &str) -> bool {
    !SIZE_DEPENDENT.contains(&feature)
}

/// The classifier inputs among `features`, in their order.
pub fn select(features: &[String]) -> Vec<String> {
    features.iter().filter(|f| is_input(f)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::catalog::Catalog;

    #[test]
    fn every_excluded_feature_exists_and_ratios_stay() {
        // A renamed feature would silently become an input again.
        let catalog = Catalog::builtin();
        let known = |n: &str| {
            catalog.base.iter().any(|b| b.name == n)
                || catalog.derived.iter().any(|d| d.name == n)
                || catalog.config.iter().any(|c| c.name == n)
        };
        for f in SIZE_DEPENDENT {
            assert!(known(f), "{f} is not in the catalogue");
        }
        let kept = select(&["heap_used_ratio".into(), "heap_used_bytes".into(), "up".into()]);
        assert_eq!(kept, vec!["heap_used_ratio".to_owned(), "up".to_owned()]);
    }
}
