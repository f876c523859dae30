//! One `advise` run: collect → extract → analyze → report.

use crate::analyzers::{self, rules::Rule, rules::RuleSet};
use crate::config::Config;
use crate::features::{self, catalog::Catalog};
use crate::findings::Finding;
use crate::findings::sort_for_report;
use crate::sinks::report::Report;
use crate::snapshot::Snapshot;
use crate::sources;
use crate::{Error, Result};

/// How far back rates and slopes look: the whole run, capped at 10 minutes of data time,
/// like a `[10m]` range in PromQL.
pub const MAX_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Loads the rules a config asks for: its `rule_dirs`, or the built-in packs.
pub fn load_rules(config: &Config, catalog: &Catalog) -> RuleSet {
    if config.rule_dirs.is_empty() {
        RuleSet::builtin(catalog)
    } else {
        RuleSet::load(&config.rule_dirs, catalog)
    }
}

/// Scrapes every target of `config`, evaluates `rules`, and builds the report.
///
/// # Errors
/// [`Error::NoTargetUp`] when no target answered at all; an internal polars error.
pub async fn advise(config: &Config, rules: &RuleSet) -> Result<Report> {
    let client = sources::http_client(config.timeout())?;
    let (snapshot, targets) = sources::collect(config, &client).await;
    if !targets.iter().any(|t| t.scrapes_ok > 0) {
        return Err(Error::NoTargetUp);
    }
    let mut findings = evaluate(snapshot, rules.rules.clone()).await?;
    sort_for_report(&mut findings);
    Ok(Report {
        targets,
        findings,
        rule_errors: rules.errors.iter().map(ToString::to_string).collect(),
    })
}

/// Features and rules are CPU work (and polars may block): run them on a blocking thread so
/// the async runtime, whichever flavour the caller uses, keeps serving.
async fn evaluate(snapshot: Snapshot, rules: Vec<Rule>) -> Result<Vec<Finding>> {
    tokio::task::spawn_blocking(move || -> Result<Vec<Finding>> {
        let rounds = features::extract(&snapshot, Catalog::builtin(), MAX_WINDOW_MS)?;
        Ok(analyzers::analyze(&rounds, &rules)?.firing)
    })
    .await
    .map_err(|e| Error::Internal(format!("evaluation task failed: {e}")))?
}
