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

/// Every check of the research catalogue is either anchored by a shipped rule or listed in
/// rules/unrunnable.yaml with a reason, never both, and every anchor names a real check.
#[test]
fn every_catalogue_check_is_shipped_or_listed_as_not_run() {
    use opsadvisor::analyzers::rules::unrunnable;
    let set = RuleSet::builtin(Catalog::builtin());
    let anchored: std::collections::BTreeSet<String> =
        set.rules.iter().flat_map(unrunnable::anchors).collect();
    let not_run: Vec<String> = unrunnable::builtin().into_iter().map(|u| u.id).collect();
    let not_run_set: std::collections::BTreeSet<String> = not_run.iter().cloned().collect();
    assert_eq!(not_run.len(), not_run_set.len(), "an id is listed twice in unrunnable.yaml");
    let both: Vec<_> = anchored.intersection(&not_run_set).collect();
    assert!(both.is_empty(), "shipped and listed as not run: {both:?}");
    for a in &anchored {
        assert!(unrunnable::is_catalogue_id(a), "anchor '{a}' is not a catalogue id");
    }
    let catalogue =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/docs/checks-catalogue.md");
    let Ok(text) = std::fs::read_to_string(&catalogue) else {
        println!("skipped the completeness half: {} is absent", catalogue.display());
        return;
    };
    let ids: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(' ').next())
        .filter(|id| unrunnable::is_catalogue_id(id))
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 172, "the catalogue has 172 checks");
    let missing: Vec<_> =
        ids.iter().filter(|id| !anchored.contains(*id) && !not_run_set.contains(*id)).collect();
    assert!(missing.is_empty(), "neither shipped nor listed as not run: {missing:?}");
    let unknown: Vec<_> = anchored.union(&not_run_set).filter(|id| !ids.contains(*id)).collect();
    assert!(unknown.is_empty(), "not in the catalogue: {unknown:?}");
}
