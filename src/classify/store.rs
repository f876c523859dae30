//! The classifiers `advise` uses: the models shipped in `models/<system>/forest/` (compiled
//! into the binary), or those of a directory given with `--models DIR`.
//!
//! A model whose feature schema does not match the running catalogue is refused with a
//! message saying why; the other systems' models still load, and a system without a usable
//! model is advised by the rules alone.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::model::{Algo, Model};
use crate::features::catalog::Catalog;

/// The shipped models: (path for messages, JSON).
const BUILTIN: &[(&str, &str)] = &[
    (
        "models/cassandra/forest/model.json",
        include_str!("../../models/cassandra/forest/model.json"),
    ),
    ("models/kafka/forest/model.json", include_str!("../../models/kafka/forest/model.json")),
    (
        "models/elasticsearch/forest/model.json",
        include_str!("../../models/elasticsearch/forest/model.json"),
    ),
];

/// Models ready to use, and the ones refused.
#[derive(Debug, Clone, Default)]
pub struct Classifiers {
    /// At most one per system (shared: a forest is megabytes, and each advise evaluation
    /// hands the classifiers to a worker thread).
    pub models: Vec<Arc<Model>>,
    /// Why a model was refused: `path: reason`.
    pub refused: Vec<String>,
}

impl Classifiers {
    /// No classifiers: rules alone.
    pub fn none() -> Classifiers {
        Classifiers::default()
    }

    /// Adds `model` unless its schema does not match `catalog` (then records why).
    pub fn offer(&mut self, source: &str, model: Model, catalog: &Catalog) {
        match model.schema.check(catalog, model.system) {
            Ok(()) => {
                self.models.retain(|m| m.system != model.system);
                self.models.push(Arc::new(model));
            }
            Err(why) => self.refused.push(format!(
                "{source}: refused, {why}; {} is advised by rules alone",
                model.system.as_str()
            )),
        }
    }

    /// Parses and offers a model file's text.
    pub fn offer_json(&mut self, source: &str, text: &str, catalog: &Catalog) {
        match Model::from_json(text, source) {
            Ok(m) => self.offer(source, m, catalog),
            Err(e) => self.refused.push(e.to_string()),
        }
    }

    /// The shipped forests.
    pub fn builtin(catalog: &Catalog) -> Classifiers {
        let mut c = Classifiers::none();
        for (path, text) in BUILTIN {
            c.offer_json(path, text, catalog);
        }
        c
    }

    /// `DIR/<system>/<algo>/model.json` for every system present.
    pub fn load_dir(dir: &Path, algo: Algo, catalog: &Catalog) -> Classifiers {
        let mut c = Classifiers::none();
        for system in crate::System::ALL {
            let path = dir.join(system.as_str()).join(algo.as_str()).join("model.json");
            match std::fs::read_to_string(&path) {
                Ok(text) => c.offer_json(&path.display().to_string(), &text, catalog),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => c.refused.push(format!("{}: {e}", path.display())),
            }
        }
        c
    }

    /// The model for `system`, if one loaded.
    pub fn for_system(&self, system: crate::System) -> Option<&Model> {
        self.models.iter().find(|m| m.system == system).map(AsRef::as_ref)
    }
}

/// The shipped models, parsed once per process (refusals are logged once).
pub fn shipped() -> &'static Classifiers {
    static SHIPPED: OnceLock<Classifiers> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let c = Classifiers::builtin(Catalog::builtin());
        for r in &c.refused {
            tracing::warn!("{r}");
        }
        c
    })
}
