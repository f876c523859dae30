//! The classifiers the daemon runs: where they come from (`--classifier`, `--models DIR`),
//! and how a reload replaces them.
//!
//! Each system's model is its own unit. At start a refused model (unreadable, invalid, or
//! trained on another feature schema) is logged and that system is judged by the rules
//! alone, as `advise` does. On reload (SIGHUP, `POST /-/reload`) a model that loads replaces
//! the running one, a refused one never does: the running model of that system stays, the
//! refusal is logged and the reload reports failure, so a half-copied model file cannot
//! silence a classifier that worked a moment ago.

use crate::classify::model::Algo;
use crate::classify::store::{self, Classifiers};
use crate::features::catalog::Catalog;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the classifiers come from; fixed for the daemon's life (flags, not config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSource {
    /// Which models: `None` runs the rules alone (`--classifier off`).
    pub algo: Option<Algo>,
    /// `--models DIR`: `DIR/<system>/<algo>/model.json`, re-read on reload. Without it, the
    /// forests compiled into the binary (or `models/` for trees).
    pub dir: Option<PathBuf>,
}

impl Default for ModelSource {
    /// The shipped forests, as `advise` uses by default.
    fn default() -> Self {
        ModelSource { algo: Some(Algo::Forest), dir: None }
    }
}

impl ModelSource {
    /// Loads the models; refusals are in [`Classifiers::refused`].
    pub fn load(&self) -> Classifiers {
        match (self.algo, &self.dir) {
            (None, _) => Classifiers::none(),
            (Some(algo), Some(dir)) => Classifiers::load_dir(dir, algo, Catalog::builtin()),
            (Some(Algo::Forest), None) => store::shipped().clone(),
            (Some(algo), None) => {
                Classifiers::load_dir(Path::new("models"), algo, Catalog::builtin())
            }
        }
    }

    /// The models to run after a reload, given the running ones: every model that loads, and
    /// for a system whose new model was refused, the running model. The refusals come back
    /// as the error (with what was kept), the merged set in both cases.
    pub fn reload(&self, running: &Classifiers) -> (Classifiers, Result<(), String>) {
        let mut fresh = self.load();
        if fresh.refused.is_empty() {
            return (fresh, Ok(()));
        }
        let mut kept = Vec::new();
        for old in &running.models {
            if fresh.for_system(old.system).is_none() {
                fresh.models.push(Arc::clone(old));
                kept.push(old.system.as_str());
            }
        }
        let mut why = fresh.refused.join("; ");
        if !kept.is_empty() {
            why.push_str(&format!("; keeping the running model for {}", kept.join(", ")));
        }
        fresh.refused.clear();
        (fresh, Err(why))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::System;

    fn tree_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("opsadvisor-models-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kafka = dir.join("kafka/tree");
        std::fs::create_dir_all(&kafka).unwrap();
        let shipped =
            concat!(env!("CARGO_MANIFEST_DIR"), "/models/kafka/tree/model.json").to_string();
        std::fs::copy(shipped, kafka.join("model.json")).unwrap();
        dir
    }

    #[test]
    fn a_refused_model_on_reload_keeps_the_running_one_and_says_so() {
        let dir = tree_dir("reload");
        let source = ModelSource { algo: Some(Algo::Tree), dir: Some(dir.clone()) };
        let running = source.load();
        assert!(running.refused.is_empty(), "{:?}", running.refused);
        assert!(running.for_system(System::Kafka).is_some());

        // A model file cut short (a copy in progress): refused, the running model stays.
        let path = dir.join("kafka/tree/model.json");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let (next, verdict) = source.reload(&running);
        let why = verdict.unwrap_err();
        assert!(why.contains("kafka/tree/model.json"), "{why}");
        assert!(why.ends_with("keeping the running model for kafka"), "{why}");
        assert!(Arc::ptr_eq(&next.models[0], &running.models[0]));

        // Trained on another feature schema: refused the same way.
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["schema"]["hash"] = "0123456789abcdef".into();
        std::fs::write(&path, v.to_string()).unwrap();
        let (next, verdict) = source.reload(&running);
        assert!(verdict.unwrap_err().contains("feature schema hash 0123456789abcdef differs"));
        assert!(Arc::ptr_eq(&next.models[0], &running.models[0]));

        // A valid model replaces it.
        std::fs::write(&path, &text).unwrap();
        let (next, verdict) = source.reload(&running);
        assert!(verdict.is_ok());
        assert!(!Arc::ptr_eq(&next.models[0], &running.models[0]));
        assert_eq!(next.models.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn classifier_off_loads_nothing_and_the_default_is_the_shipped_forests() {
        assert!(ModelSource { algo: None, dir: None }.load().models.is_empty());
        let shipped = ModelSource::default().load();
        assert_eq!(shipped.models.len(), 3, "{:?}", shipped.refused);
    }
}
