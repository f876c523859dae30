//! The feature schema a model was trained on, and the check that the running catalogue
//! still computes the same features.
//!
//! The hash covers, for each feature the model reads and in its order, the name and the
//! catalogue's definition (selectors, stat, aggregation, scope and scale of a base feature;
//! the expression of a derived one), plus [`SCHEMA_VERSION`]. Help texts do not count, and
//! features added to the catalogue later do not break a model; a changed definition does,
//! because the model's thresholds were learned on the old numbers.

use serde::{Deserialize, Serialize};
use std::hash::Hasher;

use crate::System;
use crate::features::catalog::Catalog;

/// Bumped when feature extraction changes in a way the catalogue does not show (window
/// handling, rates): every model trained before is then refused.
pub const SCHEMA_VERSION: u32 = 1;

/// Features, in order, with the version and hash of their definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// [`SCHEMA_VERSION`] at training.
    pub version: u32,
    /// FNV-1a over the definitions, 16 hex digits.
    pub hash: String,
    /// Feature names in model column order.
    pub features: Vec<String>,
}

/// The definition of `name` in `catalog` for `system`, as text; `None` if it has none.
fn definition(catalog: &Catalog, system: System, name: &str) -> Option<String> {
    if name == "up" {
        return Some("up: share of the node's targets that answered".into());
    }
    if let Some(b) = catalog.base.iter().find(|b| b.name == name && b.systems.contains(&system)) {
        let from: Vec<String> =
            b.from.iter().map(|a| format!("{:?}|{:?}|{:?}", a.selector, a.stat, a.scale)).collect();
        return Some(format!(
            "{}:{:?}:{:?}:{:?}:{}:{}",
            b.name,
            b.agg,
            b.stat,
            b.scope,
            b.scale,
            from.join(";")
        ));
    }
    catalog
        .derived
        .iter()
        .find(|d| d.name == name && d.systems.contains(&system))
        .map(|d| format!("{}={:?}", d.name, d.expr))
}

impl FeatureSchema {
    /// The schema of `features` as the running catalogue defines them.
    ///
    /// # Errors
    /// The names of features the catalogue does not define for `system`.
    pub fn current(
        catalog: &Catalog,
        system: System,
        features: &[String],
    ) -> Result<FeatureSchema, Vec<String>> {
        let mut h = fnv::FnvHasher::default();
        h.write(&SCHEMA_VERSION.to_le_bytes());
        let mut unknown = Vec::new();
        for f in features {
            match definition(catalog, system, f) {
                Some(d) => {
                    h.write(d.as_bytes());
                    h.write(&[0xff]);
                }
                None => unknown.push(f.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(unknown);
        }
        Ok(FeatureSchema {
            version: SCHEMA_VERSION,
            hash: format!("{:016x}", h.finish()),
            features: features.to_vec(),
        })
    }

    /// Whether the running catalogue computes these features as they were at training.
    ///
    /// # Errors
    /// A sentence saying what differs.
    pub fn check(&self, catalog: &Catalog, system: System) -> Result<(), String> {
        if self.version != SCHEMA_VERSION {
            return Err(format!(
                "feature schema version {} (this build computes version {SCHEMA_VERSION})",
                self.version
            ));
        }
        match FeatureSchema::current(catalog, system, &self.features) {
            Err(unknown) => Err(format!(
                "the catalogue no longer defines {} for {}",
                unknown.join(", "),
                system.as_str()
            )),
            Ok(now) if now.hash != self.hash => Err(format!(
                "feature schema hash {} differs from this build's {} (a feature's definition changed)",
                self.hash, now.hash
            )),
            Ok(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_schema_matches_itself_and_refuses_changes() {
        let catalog = Catalog::builtin();
        let features: Vec<String> =
            ["up", "pending_compactions", "heap_used_ratio"].map(String::from).to_vec();
        let s = FeatureSchema::current(catalog, System::Cassandra, &features).unwrap();
        assert!(s.check(catalog, System::Cassandra).is_ok());
        // Same names, another order: different columns for the trees.
        let mut swapped = features.clone();
        swapped.swap(1, 2);
        assert_ne!(
            FeatureSchema::current(catalog, System::Cassandra, &swapped).unwrap().hash,
            s.hash
        );
        let mut stale = s.clone();
        stale.hash = "0000000000000000".into();
        let err = stale.check(catalog, System::Cassandra).unwrap_err();
        assert!(err.contains("differs from this build's"), "{err}");
        let mut gone = s.clone();
        gone.features.push("no_such_feature".into());
        let err = gone.check(catalog, System::Cassandra).unwrap_err();
        assert!(err.contains("no longer defines no_such_feature"), "{err}");
        let mut old = s;
        old.version = 0;
        assert!(old.check(catalog, System::Cassandra).unwrap_err().contains("version 0"));
    }
}
