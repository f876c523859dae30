//! Leave-one-episode-out evaluation on labelled anomaly episodes from outside the project:
//! the D-Bot (DB-GPT) PostgreSQL set in `../shared/datasets/dbgpt_dbot`, 62 episodes with
//! metric series (`opsadvisor eval-episodes DIR`).
//!
//! PostgreSQL is not one of opsadvisor's systems, so this cannot use the feature catalogue:
//! it is a generic check of the learner, "a window of metrics → its cause", on data no one
//! here made. Each episode becomes one row: for every metric series of the episode, its
//! mean, standard deviation, minimum, maximum and last-minus-first change; a metric the
//! episode lacks is missing (NaN), as a feature an exporter lacks is in a frame.
//!
//! Ground truth is the episode's `anomaly_trigger` (the anomaly scripts that were run,
//! joined with `+` in sorted order when two ran together), not its free-text `labels`: the
//! trigger is what was injected, and in two episodes the text names another cause (a VACUUM
//! run labelled "INSERT_LARGE_DATA" and "highly concurrent commits or inserts").
//! [`Episode::text_agrees`] reports those.
//!
//! Which metrics an episode carries is itself a hint: the upstream authors kept only the
//! series they found abnormal. [`MetricSet::Common`] uses only the metrics every episode
//! has, which removes that hint; both scores are reported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ClassifyError;
use super::metrics::{self, Report};
use super::model::{Algo, Model, Params, TrainSet};
use super::schema::{FeatureSchema, SCHEMA_VERSION};

/// The file of the D-Bot set that has metrics.
pub const EPISODES_FILE: &str = "testing_set_62_with_metrics.json";
/// Summary statistics computed for every metric series, in column order.
pub const STATS: [&str; 5] = ["mean", "std", "min", "max", "delta"];

/// One labelled episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    /// Its key in the file.
    pub id: String,
    /// Ground truth: the sorted `anomaly_trigger` names joined by `+`.
    pub label: String,
    /// The free-text labels, as written.
    pub text_labels: Vec<String>,
    /// Metric series by name (the group prefix dropped: names are unique across groups).
    pub series: BTreeMap<String, Vec<f64>>,
}

impl Episode {
    /// Whether the free-text labels name the same causes as the trigger (see the module docs
    /// for the phrase → trigger mapping).
    pub fn text_agrees(&self) -> bool {
        let mut from_text: Vec<String> = self.text_labels.iter().map(|t| text_cause(t)).collect();
        from_text.sort();
        from_text.dedup();
        let mut trigger: Vec<&str> = self.label.split('+').collect();
        trigger.sort_unstable();
        // A trigger pair whose text names only the first cause still agrees on that cause.
        from_text.iter().all(|c| trigger.contains(&c.as_str()))
    }
}

/// The trigger a free-text label describes: the D-Bot phrases, or the trigger name itself
/// written with spaces.
fn text_cause(text: &str) -> String {
    match text.trim() {
        "highly deletes" => "VACUUM".into(),
        "too many indexes" => "REDUNDANT_INDEX".into(),
        "highly concurrent updates" => "LOCK_CONTENTION".into(),
        "highly concurrent commits or highly concurrent inserts" => "INSERT_LARGE_DATA".into(),
        "missing indexes" => "MISSING_INDEXES".into(),
        other => other.to_ascii_uppercase().replace(' ', "_"),
    }
}

#[derive(serde::Deserialize)]
struct RawEpisode {
    anomaly_trigger: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    exceptions: BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>>,
}

/// Reads the episodes of `path`: the D-Bot JSON file, or the directory holding
/// [`EPISODES_FILE`]. Episodes without any metric series are skipped.
///
/// # Errors
/// The file cannot be read, is not a JSON object of episodes, or an episode has no trigger.
pub fn load(path: &Path) -> Result<Vec<Episode>, ClassifyError> {
    let file: PathBuf = if path.is_dir() { path.join(EPISODES_FILE) } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&file)
        .map_err(|source| ClassifyError::Io { path: file.display().to_string(), source })?;
    parse(&text, &file.display().to_string())
}

/// Parses an episodes file's text (see [`load`]); `source` names it in messages.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, source: &str) -> Result<Vec<Episode>, ClassifyError> {
    let raw: BTreeMap<String, RawEpisode> = serde_json::from_str(text).map_err(|e| {
        ClassifyError::Data(format!("{source}: not a JSON object of D-Bot episodes: {e}"))
    })?;
    let mut out = Vec::new();
    for (id, r) in raw {
        if r.anomaly_trigger.is_empty() || r.anomaly_trigger.iter().any(|t| t.trim().is_empty()) {
            return Err(ClassifyError::Data(format!(
                "{source}: episode {id} has an empty anomaly_trigger"
            )));
        }
        let mut trig: Vec<&str> = r.anomaly_trigger.iter().map(|t| t.trim()).collect();
        trig.sort_unstable();
        trig.dedup();
        let series: BTreeMap<String, Vec<f64>> = r
            .exceptions
            .into_values()
            .flatten()
            .map(|(name, v)| (name, v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect()))
            .collect();
        if series.is_empty() {
            continue;
        }
        out.push(Episode { id, label: trig.join("+"), text_labels: r.labels, series });
    }
    // Keys are "0".."61": order them as numbers where they are.
    out.sort_by_key(|e| (e.id.parse::<u64>().unwrap_or(u64::MAX), e.id.clone()));
    if out.is_empty() {
        return Err(ClassifyError::Data(format!("{source}: no episode has metric series")));
    }
    Ok(out)
}

/// Which metrics become features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum MetricSet {
    /// Every metric any episode has (missing where an episode lacks it).
    All,
    /// Only the metrics every episode has: which series an episode carries says nothing.
    Common,
}

/// Mean, standard deviation, min, max and last − first of the finite values of `v`.
fn stats(v: &[f64]) -> [f64; 5] {
    let x: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if x.is_empty() {
        return [f64::NAN; 5];
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n;
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    [mean, var.sqrt(), min, max, x[x.len() - 1] - x[0]]
}

/// Feature names (`metric:stat`) and one column per feature, one value per episode.
pub fn features(episodes: &[Episode], set: MetricSet) -> (Vec<String>, Vec<Vec<f64>>) {
    let all: BTreeSet<&str> =
        episodes.iter().flat_map(|e| e.series.keys().map(String::as_str)).collect();
    let metrics: Vec<&str> = all
        .into_iter()
        .filter(|m| set == MetricSet::All || episodes.iter().all(|e| e.series.contains_key(*m)))
        .collect();
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for m in metrics {
        let per: Vec<[f64; 5]> =
            episodes.iter().map(|e| e.series.get(m).map_or([f64::NAN; 5], |v| stats(v))).collect();
        for (k, stat) in STATS.iter().enumerate() {
            names.push(format!("{m}:{stat}"));
            columns.push(per.iter().map(|s| s[k]).collect());
        }
    }
    (names, columns)
}

/// The result of a leave-one-episode-out run.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeEval {
    /// Learner.
    pub algo: Algo,
    /// Which metrics were features.
    pub metrics: MetricSet,
    /// Number of features.
    pub features: usize,
    /// Episodes.
    pub episodes: usize,
    /// Ground truth of each episode, in file order.
    pub truth: Vec<String>,
    /// The prediction of each episode by the model trained on all the others.
    pub predicted: Vec<String>,
    /// The model's scores.
    pub model: Report,
    /// Predicting the majority class of the other episodes (the honest leave-one-out
    /// baseline; with two near-equal top classes it is always wrong, see the README).
    pub majority: Report,
    /// Predicting the majority class of all episodes for every one (a constant guess that
    /// has seen the held-out label: an upper bound for any constant).
    pub majority_all: Report,
    /// The majority class of all episodes.
    pub majority_class: String,
    /// Episodes whose free-text labels name another cause than the trigger.
    pub text_disagrees: Vec<String>,
    /// Features by mean impurity decrease in the model trained on every episode, highest first.
    pub importance: Vec<(String, f64)>,
}

/// Trains `algo` on every episode but one and predicts that one, for each episode.
///
/// # Errors
/// Fewer than two episodes or classes.
pub fn leave_one_out(
    episodes: &[Episode],
    algo: Algo,
    set: MetricSet,
) -> Result<EpisodeEval, ClassifyError> {
    if episodes.len() < 2 {
        return Err(ClassifyError::Data("leave-one-out needs at least two episodes".into()));
    }
    let (names, columns) = features(episodes, set);
    if names.is_empty() {
        return Err(ClassifyError::Data("no metric is present in every episode".into()));
    }
    // Not one of opsadvisor's systems: the schema names the features, and the model is
    // never saved, so the system field is a placeholder no one reads.
    let schema = FeatureSchema { version: SCHEMA_VERSION, hash: String::new(), features: names };
    let params = Params::default_for(algo, schema.features.len());
    let truth: Vec<String> = episodes.iter().map(|e| e.label.clone()).collect();
    let fit = |rows: &[usize]| -> Result<Option<Model>, ClassifyError> {
        let classes: Vec<String> =
            rows.iter().map(|&i| truth[i].clone()).collect::<BTreeSet<_>>().into_iter().collect();
        if classes.len() < 2 {
            return Ok(None);
        }
        let cols: Vec<Vec<f64>> =
            columns.iter().map(|c| rows.iter().map(|&i| c[i]).collect()).collect();
        let y: Vec<u16> =
            rows.iter().map(|&i| classes.binary_search(&truth[i]).unwrap_or(0) as u16).collect();
        let data = TrainSet { columns: &cols, y: &y, classes: &classes };
        Model::fit(
            crate::System::Cassandra,
            algo,
            schema.clone(),
            &data,
            params,
            String::new(),
            &|_, _| {},
        )
        .map(Some)
    };
    let mut predicted = Vec::with_capacity(episodes.len());
    let mut majority = Vec::with_capacity(episodes.len());
    for held in 0..episodes.len() {
        let rows: Vec<usize> = (0..episodes.len()).filter(|&i| i != held).collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &rows {
            *counts.entry(truth[i].as_str()).or_default() += 1;
        }
        // Ties go to the first label in sorted order.
        let top = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(l, _)| *l);
        majority.push(top.unwrap_or_default().to_owned());
        predicted.push(match fit(&rows)? {
            Some(m) => {
                let p = m.predict_proba(&|f| columns[f][held]);
                m.classes[super::model::argmax(&p)].clone()
            }
            None => majority[held].clone(),
        });
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &truth {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    let top = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(l, _)| *l);
    let constant = vec![top.unwrap_or_default().to_owned(); truth.len()];
    let all: Vec<usize> = (0..episodes.len()).collect();
    let importance = match fit(&all)? {
        Some(m) => m.importance(),
        None => Vec::new(),
    };
    Ok(EpisodeEval {
        algo,
        metrics: set,
        features: schema.features.len(),
        episodes: episodes.len(),
        model: metrics::evaluate(&truth, &predicted),
        majority: metrics::evaluate(&truth, &majority),
        majority_all: metrics::evaluate(&truth, &constant),
        majority_class: constant.first().cloned().unwrap_or_default(),
        truth,
        predicted,
        text_disagrees: episodes
            .iter()
            .filter(|e| !e.text_agrees())
            .map(|e| e.id.clone())
            .collect(),
        importance,
    })
}

impl EpisodeEval {
    /// A Markdown report: what was run, the scores, the baseline.
    pub fn to_markdown(&self, source: &str) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Leave-one-episode-out: {source}\n\n{} episodes, {} features ({} metrics × {}), learner {}, metrics {}. \
             Ground truth: `anomaly_trigger`; the free-text labels disagree on episode(s) {}.\n",
            self.episodes,
            self.features,
            self.features / STATS.len(),
            STATS.join("/"),
            self.algo.as_str(),
            match self.metrics {
                MetricSet::All => "all (missing where an episode lacks one)",
                MetricSet::Common => "common to every episode",
            },
            if self.text_disagrees.is_empty() {
                "none".to_owned()
            } else {
                self.text_disagrees.join(", ")
            }
        );
        s.push_str("## Model\n\n");
        s.push_str(&self.model.to_markdown());
        let _ = writeln!(
            s,
            "\n## Baselines\n\n- majority class of the other episodes: accuracy {:.3}, macro-F1 {:.3}\n\
             - majority class of all episodes (`{}`), for every episode: accuracy {:.3}, macro-F1 {:.3}",
            self.majority.accuracy,
            self.majority.macro_f1,
            self.majority_class,
            self.majority_all.accuracy,
            self.majority_all.macro_f1
        );
        s.push_str("\n## Most important features (model on every episode)\n\n");
        for (f, v) in self.importance.iter().take(10) {
            let _ = writeln!(s, "- `{f}`: {v:.3}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Six episodes of two causes that a metric tells apart, one with a null sample and a
    /// free-text label that disagrees, one without metrics.
    const TINY: &str = r#"{
      "0": {"anomaly_trigger": ["VACUUM"], "labels": ["highly deletes"],
            "exceptions": {"cpu": {"node_procs_running": [1, 2, 100, 120]}, "io": {"node_disk_io_now": [1, 1, 1, 1]}}},
      "1": {"anomaly_trigger": ["VACUUM"], "labels": ["INSERT_LARGE_DATA"],
            "exceptions": {"cpu": {"node_procs_running": [2, null, 90, 110]}, "io": {"node_disk_io_now": [1, 2, 1, 1]}}},
      "2": {"anomaly_trigger": ["VACUUM"], "labels": ["highly deletes"],
            "exceptions": {"cpu": {"node_procs_running": [1, 3, 95, 130]}, "io": {"node_disk_io_now": [2, 1, 1, 1]}}},
      "10": {"anomaly_trigger": ["FETCH_LARGE_DATA", "CORRELATED_SUBQUERY"], "labels": ["FETCH_LARGE_DATA", "CORRELATED SUBQUERY"],
            "exceptions": {"cpu": {"node_procs_running": [1, 1, 2, 1]}, "io": {"node_disk_io_now": [30, 40, 35, 50]}}},
      "11": {"anomaly_trigger": ["CORRELATED_SUBQUERY", "FETCH_LARGE_DATA"], "labels": ["FETCH_LARGE_DATA"],
            "exceptions": {"cpu": {"node_procs_running": [2, 1, 1, 1]}, "io": {"node_disk_io_now": [31, 45, 38, 52]}, "memory": {"node_memory_Buffers_bytes": [5, 5]}}},
      "12": {"anomaly_trigger": ["FETCH_LARGE_DATA", "CORRELATED_SUBQUERY"], "labels": [],
            "exceptions": {"cpu": {"node_procs_running": [1, 2, 1, 2]}, "io": {"node_disk_io_now": [29, 41, 36, 48]}}},
      "13": {"anomaly_trigger": ["VACUUM"], "labels": [], "exceptions": {}}
    }"#;

    #[test]
    fn the_loader_reads_triggers_series_and_missing_samples() {
        let eps = parse(TINY, "tiny.json").unwrap();
        assert_eq!(eps.len(), 6, "the episode without metrics is skipped");
        assert_eq!(
            eps.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["0", "1", "2", "10", "11", "12"]
        );
        assert_eq!(eps[3].label, "CORRELATED_SUBQUERY+FETCH_LARGE_DATA");
        assert_eq!(eps[4].label, eps[3].label, "trigger order does not matter");
        assert!(eps[1].series["node_procs_running"][1].is_nan());
        assert!(!eps[1].text_agrees());
        assert!(eps[0].text_agrees() && eps[3].text_agrees() && eps[4].text_agrees());
        let (names, cols) = features(&eps, MetricSet::All);
        assert_eq!(names.len(), 3 * STATS.len());
        let mean = names.iter().position(|n| n == "node_procs_running:mean").unwrap();
        assert!((cols[mean][1] - 202.0 / 3.0).abs() < 1e-9, "null samples are left out");
        let delta = names.iter().position(|n| n == "node_procs_running:delta").unwrap();
        assert_eq!(cols[delta][0], 119.0);
        let buffers = names.iter().position(|n| n == "node_memory_Buffers_bytes:mean").unwrap();
        assert!(cols[buffers][0].is_nan() && cols[buffers][4] == 5.0);
        let (common, _) = features(&eps, MetricSet::Common);
        assert_eq!(common.len(), 2 * STATS.len(), "a metric one episode lacks is not common");
    }

    #[test]
    fn leave_one_out_learns_separable_causes_and_reports_the_baseline() {
        let eps = parse(TINY, "tiny.json").unwrap();
        let r = leave_one_out(&eps, Algo::Forest, MetricSet::Common).unwrap();
        assert_eq!(r.model.accuracy, 1.0, "{:?}", r.predicted);
        // Each held-out episode leaves its own class in the minority: majority is always wrong.
        assert_eq!(r.majority.accuracy, 0.0);
        assert_eq!(r.majority_all.accuracy, 0.5, "three of six are the constant's class");
        assert_eq!(r.text_disagrees, vec!["1".to_string()]);
        assert!(!r.importance.is_empty());
        let md = r.to_markdown("tiny");
        assert!(md.contains("Ground truth: `anomaly_trigger`"), "{md}");
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let e = parse("[1,2]", "x.json").unwrap_err().to_string();
        assert!(e.starts_with("dataset: x.json: not a JSON object of D-Bot episodes"), "{e}");
        let e = parse(r#"{"0": {"anomaly_trigger": []}}"#, "x.json").unwrap_err().to_string();
        assert_eq!(e, "dataset: x.json: episode 0 has an empty anomaly_trigger");
        let e = load(Path::new("/nonexistent-dir/episodes.json")).unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent-dir/episodes.json: "), "{e}");
    }
}
