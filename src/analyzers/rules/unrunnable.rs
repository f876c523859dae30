//! The catalogue checks opsadvisor does not run, with the reason (`rules/unrunnable.yaml`).
//!
//! The check catalogue (`checks-catalogue.md`) lists what the best tools check. Every entry
//! is either anchored by a shipped rule (`labels: {anchor: CAS-006}`, several anchors
//! separated by commas) or listed in this data file with what input it lacks, so
//! `opsadvisor list checks` can say honestly what is and is not covered.

use super::Rule;
use serde::{Deserialize, Serialize};

/// The file name of the list in a rules directory; rule loading skips it.
pub const FILE_NAME: &str = "unrunnable.yaml";

/// The list shipped with opsadvisor.
pub const BUILTIN: &str = include_str!("../../../rules/unrunnable.yaml");

/// One catalogue check that is not run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Unrunnable {
    /// Catalogue id, e.g. `CAS-028`.
    pub id: String,
    /// `cassandra`, `kafka`, `elasticsearch`, or `all` for JVM and host checks.
    pub system: String,
    /// What input it needs that opsadvisor does not read.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    unrunnable: Vec<Unrunnable>,
}

/// Parses the list.
///
/// # Errors
/// The YAML error, or an entry with a malformed id, an unknown system or no reason.
pub fn parse(text: &str) -> Result<Vec<Unrunnable>, String> {
    let raw: RawFile = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    for u in &raw.unrunnable {
        if !is_catalogue_id(&u.id) {
            return Err(format!("'{}' is not a catalogue id like CAS-001", u.id));
        }
        if !["cassandra", "kafka", "elasticsearch", "all"].contains(&u.system.as_str()) {
            return Err(format!("{}: unknown system '{}'", u.id, u.system));
        }
        if u.reason.trim().is_empty() {
            return Err(format!("{}: a reason is required", u.id));
        }
    }
    Ok(raw.unrunnable)
}

/// The built-in list.
///
/// # Panics
/// Never in a released binary: a unit test parses the built-in file.
pub fn builtin() -> Vec<Unrunnable> {
    #[allow(clippy::expect_used)]
    parse(BUILTIN).expect("built-in rules/unrunnable.yaml is valid")
}

/// `CAS-001`, `KAF-049`, `ES-046`, `JVM-013`, `HOST-020`.
pub fn is_catalogue_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(p, n)| {
        ["CAS", "KAF", "ES", "JVM", "HOST"].contains(&p)
            && n.len() == 3
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The catalogue ids a rule is anchored to (`anchor: "JVM-004, ES-042"`).
pub fn anchors(rule: &Rule) -> Vec<String> {
    rule.labels
        .get("anchor")
        .map(|a| a.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builtin_list_parses_and_bad_entries_are_named() {
        assert!(builtin().len() > 10);
        let e =
            parse("unrunnable:\n  - { id: CAS-1, system: cassandra, reason: x }\n").unwrap_err();
        assert!(e.contains("'CAS-1' is not a catalogue id"), "{e}");
        let e = parse("unrunnable:\n  - { id: CAS-001, system: redis, reason: x }\n").unwrap_err();
        assert!(e.contains("unknown system 'redis'"), "{e}");
        let e = parse("unrunnable:\n  - { id: CAS-001, system: all, reason: ' ' }\n").unwrap_err();
        assert!(e.contains("a reason is required"), "{e}");
    }
}
