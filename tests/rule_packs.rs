//! The shipped rule packs: they load cleanly, their unit tests pass, and every rule has a
//! test where it fires and one where it stays quiet.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use opsadvisor::analyzers::rules::{RuleSet, unittest};
use opsadvisor::features::catalog::Catalog;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn every_shipped_rule_is_tested_firing_and_quiet() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/tests");
    let mut coverage: BTreeMap<String, unittest::Coverage> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut passed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".test.yaml") {
            continue;
        }
        let r = unittest::run_file(&path, Catalog::builtin());
        failures.extend(r.failures);
        passed += r.passed;
        for (id, c) in r.coverage {
            let e = coverage.entry(id).or_default();
            e.fires |= c.fires;
            e.quiet |= c.quiet;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed >= 40, "only {passed} assertions ran");
    let set = RuleSet::builtin(Catalog::builtin());
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let untested: Vec<String> = set
        .rules
        .iter()
        .filter(|r| coverage.get(&r.id).is_none_or(|c| !(c.fires && c.quiet)))
        .map(|r| format!("{} ({:?})", r.id, coverage.get(&r.id)))
        .collect();
    assert!(untested.is_empty(), "rules without a firing and a quiet test: {untested:#?}");
}

#[test]
fn the_shipped_packs_on_disk_are_the_builtin_ones() {
    let builtin = RuleSet::builtin(Catalog::builtin());
    let on_disk =
        RuleSet::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")], Catalog::builtin());
    assert!(on_disk.errors.is_empty(), "{:?}", on_disk.errors);
    let ids = |s: &RuleSet| {
        s.rules.iter().map(|r| (r.id.clone(), r.system)).collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(ids(&builtin), ids(&on_disk));
}

#[test]
fn docs_checks_md_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/checks.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = opsadvisor::cli::list_checks(opsadvisor::cli::ListFormat::Markdown);
    assert!(
        on_disk == generated,
        "docs/checks.md is stale: run `cargo run -- list checks --format markdown > docs/checks.md`"
    );
}
