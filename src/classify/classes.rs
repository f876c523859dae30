//! What each class means to an operator (`classes.yaml`, compiled in): the recommendation,
//! category, severity and docs of a classifier finding, and the rules that recognise the
//! same condition.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::findings::{Category, Severity};
use crate::simulate::Fault;

/// The shipped class book.
pub const BUILTIN: &str = include_str!("classes.yaml");

/// One class (a fault id).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassInfo {
    /// Kind of advice.
    pub category: Category,
    /// Severity of a confident finding.
    pub severity: Severity,
    /// Rules that recognise the condition.
    pub rules: Vec<String>,
    /// What to do.
    pub action: String,
    /// Where to read more.
    pub docs_url: String,
}

/// Every class's entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassBook {
    /// By fault id.
    pub classes: BTreeMap<String, ClassInfo>,
}

impl ClassBook {
    /// The built-in book.
    ///
    /// # Errors
    /// A message if the YAML is wrong or a fault has no entry (both caught by the tests).
    pub fn builtin() -> Result<ClassBook, String> {
        let book: ClassBook =
            serde_norway::from_str(BUILTIN).map_err(|e| format!("classes.yaml: {e}"))?;
        for f in Fault::ALL {
            if !book.classes.contains_key(f.as_str()) {
                return Err(format!("classes.yaml: no entry for `{f}`"));
            }
        }
        Ok(book)
    }

    /// The fault ids a rule indicates.
    pub fn classes_of_rule<'a>(&'a self, rule: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.classes
            .iter()
            .filter(move |(_, c)| c.rules.iter().any(|r| r == rule))
            .map(|(k, _)| k.as_str())
    }

    /// Whether a fault id labels every node of its cluster.
    pub fn whole_cluster(&self, class: &str) -> bool {
        class.parse::<Fault>().is_ok_and(super::dataset::labels_whole_cluster)
    }

    /// The entries of each part of a (possibly compound) label.
    pub fn parts<'a>(&'a self, label: &'a str) -> Vec<(&'a str, Option<&'a ClassInfo>)> {
        label.split('+').map(|p| (p, self.classes.get(p))).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::analyzers::rules::RuleSet;
    use crate::features::catalog::Catalog;

    #[test]
    fn every_fault_has_an_entry_whose_rules_exist() {
        let book = ClassBook::builtin().unwrap();
        let rules = RuleSet::builtin(Catalog::builtin());
        for (class, info) in &book.classes {
            assert!(class.parse::<Fault>().is_ok(), "{class} is not a fault id");
            assert!(!info.rules.is_empty() && !info.action.is_empty(), "{class}");
            for r in &info.rules {
                assert!(rules.rules.iter().any(|x| &x.id == r), "{class}: unknown rule {r}");
            }
        }
    }
}
