//! Rules engine throughput: 300 rules over a 10,000-node frame (issue target: < 100 ms).
//!
//! The rules are the shipped Cassandra and host rules, cloned with new ids until there are
//! 300, so the mix of thresholds, cluster aggregates and templates is the real one. 1% of
//! the nodes are anomalous (random values), the rest healthy, so about 100 nodes trip rules
//! and their findings are rendered, as on a real fleet. The peer
//! in the same run is the cost of building the frame itself (derived features included),
//! which every evaluation needs anyway.

use criterion::{Criterion, criterion_group, criterion_main};
use opsadvisor::System;
use opsadvisor::analyzers::rules::{self, RuleSet};
use opsadvisor::features::{catalog::Catalog, synthetic_frame};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let shipped: Vec<rules::Rule> = RuleSet::builtin(catalog)
        .rules
        .into_iter()
        .filter(|r| r.system == System::Cassandra)
        .collect();
    let rules: Vec<rules::Rule> = (0..300)
        .map(|i| {
            let mut r = shipped[i % shipped.len()].clone();
            r.id = format!("{}_{i}", r.id);
            r
        })
        .collect();
    let frame = synthetic_frame(System::Cassandra, 10_000, 100, 0.01, catalog).expect("frame");
    let mut group = c.benchmark_group("rules_10k_nodes");
    group.sample_size(20);
    group.bench_function("evaluate_300_rules", |b| {
        b.iter(|| black_box(rules::evaluate(&rules, &frame).expect("evaluate")))
    });
    group.bench_function("build_frame_peer", |b| {
        b.iter(|| {
            black_box(
                synthetic_frame(System::Cassandra, 10_000, 100, 0.01, catalog).expect("frame"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
