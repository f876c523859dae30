//! The command line: `advise`, `daemon`, `simulate`, `check config`, `check rules`.
//!
//! Thin by design: parse arguments, call the library, print, map errors to exit codes.

use crate::analyzers::rules::{self, RuleSet};
use crate::classify::model::Algo;
use crate::classify::store::Classifiers;
use crate::config::{ClusterConfig, Config, ScrapeConfig, TargetConfig};
use crate::features::catalog::Catalog;
use crate::findings::Severity;
use crate::simulate::{self, EndpointKind, SimServer, SimSpec, Simulator};
use crate::sinks::report::ReportFormat;
use crate::{Error, Result, pipeline};
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// opsadvisor: the operations expert for Cassandra, Kafka and Elasticsearch.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Log filter for stderr (e.g. `warn`, `opsadvisor=debug`); RUST_LOG also works.
    /// Default: `info` for `daemon`, `error` otherwise.
    #[arg(long, visible_alias = "log.level", global = true)]
    pub log_level: Option<String>,
    /// Log format on stderr. Default: `logfmt` for `daemon`, `text` otherwise.
    #[arg(long = "log.format", global = true, value_enum)]
    pub log_format: Option<crate::logging::LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether this is a one-shot command, which SIGINT and SIGTERM end at once with exit
    /// 130 and 143 (contracts §2.6); the daemon and the simulator's server drain instead.
    pub fn is_one_shot(&self) -> bool {
        match &self.command {
            Command::Daemon(_) => false,
            Command::Simulate(args) => args.dataset.is_some(),
            _ => true,
        }
    }

    /// The log format and filter, with the defaults of the chosen command: a daemon logs
    /// `info` as logfmt, one-shot commands only errors as text.
    pub fn logging(&self) -> (crate::logging::LogFormat, String) {
        let daemon = matches!(self.command, Command::Daemon(_));
        let format = self.log_format.unwrap_or(if daemon {
            crate::logging::LogFormat::Logfmt
        } else {
            crate::logging::LogFormat::Text
        });
        let level =
            self.log_level.clone().unwrap_or_else(|| if daemon { "info" } else { "error" }.into());
        (format, level)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scrape the clusters, run every check, and print findings.
    Advise(AdviseArgs),
    /// Run as a long-lived sidecar: scrape every interval, track findings, serve HTTP.
    Daemon(DaemonArgs),
    /// Serve simulated clusters on 127.0.0.1 until interrupted.
    Simulate(SimulateArgs),
    /// Record every target's raw responses for a while into a support bundle.
    Capture(CaptureArgs),
    /// Validate files without running anything.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Run unit tests.
    #[command(subcommand)]
    Test(TestCommand),
    /// List what opsadvisor knows.
    #[command(subcommand)]
    List(ListCommand),
    /// Forecast a `timestamp,value` CSV from rolling origins (what the backtest calls).
    Forecast(ForecastArgs),
    /// Train a classifier on a dataset from `simulate --dataset`; writes the model and MODEL.md.
    Train(TrainArgs),
    /// Recompute a model card's numbers from the model and the dataset (prints MODEL.md).
    Eval(EvalArgs),
    /// Leave-one-episode-out evaluation of the learner on labelled anomaly episodes from
    /// outside the project (the D-Bot PostgreSQL set: `../shared/datasets/dbgpt_dbot`).
    EvalEpisodes(EvalEpisodesArgs),
}

/// `forecast` options: rolling-origin forecasts of one CSV series, printed as CSV
/// `origin,horizon_s,forecast,lo,hi` (origin as the CSV wrote it).
#[derive(Debug, clap::Args)]
pub struct ForecastArgs {
    /// The series: a header line, then `timestamp,value` rows; timestamps as
    /// `2014-02-14 14:30:00` (UTC), RFC 3339, or Unix seconds.
    #[arg(long)]
    pub csv: PathBuf,
    /// Horizons to forecast, comma-separated Prometheus durations.
    #[arg(long, default_value = "1h,6h,24h", value_delimiter = ',')]
    pub horizons: Vec<String>,
    /// History before the first origin.
    #[arg(long, default_value = "3d")]
    pub min_history: String,
    /// History the model sees at each origin (older points are dropped).
    #[arg(long, default_value = "7d")]
    pub max_history: String,
    /// Time between two origins.
    #[arg(long, default_value = "12h")]
    pub every: String,
}

/// `train` options: on a simulated dataset (`--dataset`), or on the user's own incidents
/// over a Prometheus history (`--prometheus URL --labels incidents.csv`).
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The system to train for (with `--prometheus`, worked out from the labels if omitted).
    #[arg(long, required_unless_present = "prometheus")]
    pub system: Option<crate::System>,
    /// Dataset directory written by `simulate --dataset`.
    #[arg(long, required_unless_present = "prometheus", conflicts_with = "prometheus")]
    pub dataset: Option<PathBuf>,
    /// Prometheus HTTP API base URL to read the history from (train on your own incidents).
    #[arg(long, requires = "labels")]
    pub prometheus: Option<String>,
    /// incidents.csv: cluster,node,start,end,label (RFC 3339 or Unix seconds; empty node = every node).
    #[arg(long, requires = "prometheus")]
    pub labels: Option<PathBuf>,
    /// YAML with the `auth:` and `tls:` blocks (as a cluster's in the config) to reach
    /// `--prometheus` with; relative paths resolve against the file's directory.
    #[arg(long = "http.config.file", alias = "http-config-file", requires = "prometheus")]
    pub http_config_file: Option<PathBuf>,
    /// Extra label matchers for the series, without braces, e.g. `job="cassandra"`.
    #[arg(long, default_value = "")]
    pub selector: String,
    /// The label naming a node (`instance` loses its `:port`).
    #[arg(long, default_value = "instance")]
    pub node_label: String,
    /// The label naming a cluster (the CSV's `cluster`); empty if the selector picks one cluster.
    #[arg(long, default_value = "cluster")]
    pub cluster_label: String,
    /// History start (RFC 3339 or Unix seconds). Default: 6 h before the first incident.
    #[arg(long)]
    pub from: Option<String>,
    /// History end. Default: 6 h after the last incident, or now if earlier.
    #[arg(long)]
    pub to: Option<String>,
    /// Resolution of the history.
    #[arg(long, default_value = "1m")]
    pub step: String,
    /// Time between two windows of a node.
    #[arg(long, default_value = "5m")]
    pub every: String,
    /// Learner.
    #[arg(long, value_enum, default_value = "forest")]
    pub algo: crate::classify::model::Algo,
    /// Models directory: writes `<out>/<system>/<algo>/{model.json,MODEL.md}`.
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
    /// Override the number of trees (forest).
    #[arg(long)]
    pub trees: Option<usize>,
    /// Override the features tried per split (default: all for a tree, √p for a forest).
    #[arg(long)]
    pub max_features: Option<usize>,
    /// Override the maximum depth.
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Override the minimum rows per leaf.
    #[arg(long)]
    pub min_samples_leaf: Option<usize>,
    /// Also print timings and held-out scores as one JSON object on stdout (for the bench).
    #[arg(long)]
    pub report_json: bool,
}

/// `eval` options.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A model directory (holding `model.json`) or file.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset directory written by `simulate --dataset`.
    #[arg(long)]
    pub dataset: PathBuf,
    /// `markdown` prints MODEL.md; `json` the same scores, confusion matrices and the
    /// feature importance as one object (what the notebooks read).
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: EvalFormat,
}

/// Output of `eval` and `eval-episodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    /// Human-readable Markdown.
    Markdown,
    /// One JSON object.
    Json,
}

/// `eval-episodes` options.
#[derive(Debug, clap::Args)]
pub struct EvalEpisodesArgs {
    /// The episodes file, or the directory holding `testing_set_62_with_metrics.json`.
    pub path: PathBuf,
    /// Learner.
    #[arg(long, value_enum, default_value = "forest")]
    pub algo: crate::classify::model::Algo,
    /// Which metrics become features: `all`, or only those `common` to every episode.
    #[arg(long, value_enum, default_value = "all")]
    pub metrics: crate::classify::episodes::MetricSet,
    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: EvalFormat,
}

/// `list` subcommands.
#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Every shipped check: id, system, category, severity, `for`, condition and anchor.
    Checks {
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: ListFormat,
    },
}

/// Formats of `list checks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// A markdown table (what `docs/checks.md` holds).
    Markdown,
    /// A JSON array.
    Json,
}

/// `test` subcommands.
#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run rule unit tests (`promtool test rules` format): files, or directories of `*.test.yaml`.
    Rules {
        /// Test files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `advise` options.
#[derive(Debug, clap::Args)]
pub struct AdviseArgs {
    /// Config file (YAML).
    #[arg(long, required_unless_present_any = ["demo", "bundle"], conflicts_with = "demo")]
    pub config: Option<PathBuf>,
    /// Advise against a built-in simulation (Cassandra, Kafka and Elasticsearch with faults).
    #[arg(long, conflicts_with = "bundle")]
    pub demo: bool,
    /// Advise offline from a support bundle written by `capture`.
    #[arg(long, conflicts_with = "config")]
    pub bundle: Option<PathBuf>,
    /// Seed of the demo simulation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Exit 3 when a finding at or above this severity fires.
    #[arg(long, default_value = "critical")]
    pub fail_on: Severity,
    /// Instead of the report, print the request each configured notification sink would
    /// receive for this run's findings (method, URL and headers without secrets, JSON body;
    /// `--format json` for one JSON object). Nothing is sent and no outbox is touched; the
    /// exit code is the same as without it.
    #[arg(long)]
    pub dry_run: bool,
    /// Classifiers: `forest` (default) or `tree` models, or `off` for rules alone.
    #[arg(long, value_enum, default_value = "forest")]
    pub classifier: ClassifierChoice,
    /// Read models from `DIR/<system>/<classifier>/model.json` instead of the shipped ones.
    #[arg(long)]
    pub models: Option<PathBuf>,
}

/// Which classifiers `advise` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassifierChoice {
    /// Random forests.
    Forest,
    /// Single decision trees (explained by their decision path).
    Tree,
    /// None: rules alone.
    Off,
}

/// `daemon` options. Flag names follow the Prometheus exporters' (`--web.*`, `--storage.*`).
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Config file (YAML); re-read on SIGHUP and `POST /-/reload`.
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    pub config: Option<PathBuf>,
    /// Run against the built-in simulation (Cassandra, Kafka and Elasticsearch with faults).
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo simulation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where the HTTP API listens. 9646: unclaimed in Prometheus's default-port registry
    /// next to the exporters' range; loopback by default so nothing is exposed by accident.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9646")]
    pub listen_address: String,
    /// A file holding the bearer token the API requires (trailing whitespace ignored).
    /// Alternatively set `OPSADVISOR_WEB_TOKEN`. Probes (`/-/healthy`, `/-/ready`) are open.
    #[arg(long = "web.bearer-token-file")]
    pub bearer_token_file: Option<PathBuf>,
    /// TLS, basic auth and security headers for the API, in the Prometheus exporter-toolkit
    /// format (`tls_server_config`, `basic_auth_users`, `http_server_config.headers`);
    /// checked at start (exit 78 when invalid), re-read when it or a file it names changes.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    /// Allow `POST /-/quit` to stop the daemon (drains as SIGTERM), as in Prometheus.
    /// `/-/reload` is always enabled (behind the API's credentials).
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// Path under which the daemon's own metrics are served.
    #[arg(long = "web.telemetry-path", default_value = "/metrics", value_parser = parse_telemetry_path)]
    pub telemetry_path: String,
    /// Directory of the state database (finding lifecycle and history).
    #[arg(long = "storage.path", default_value = "./data")]
    pub storage_path: PathBuf,
    /// Classifiers: `forest` (default) or `tree` models, or `off` for rules alone.
    #[arg(long, value_enum, default_value = "forest")]
    pub classifier: ClassifierChoice,
    /// Read models from `DIR/<system>/<classifier>/model.json` instead of the shipped ones;
    /// re-read on reload (a refused model never replaces a running one).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// On SIGTERM, how long queued notifications may still be delivered before exiting
    /// (what is left stays queued for the next start). Keep it under the supervisor's grace
    /// period with room for the running cycle: the systemd unit allows 20 s, Kubernetes 30 s.
    #[arg(long = "shutdown.flush-timeout", default_value = "15s", value_parser = parse_flag_duration)]
    pub flush_timeout: std::time::Duration,
}

/// A path of its own: absolute, no route syntax, and not one of the API's other routes.
fn parse_telemetry_path(s: &str) -> std::result::Result<String, String> {
    if !s.starts_with('/') || s.len() < 2 {
        return Err("must start with '/' and name a path other than '/'".into());
    }
    if s.contains(['{', '}', '*', '?', '#', ' ']) {
        return Err("must be a plain path (no '{', '}', '*', '?', '#' or spaces)".into());
    }
    if crate::daemon::http::RESERVED_PATHS.contains(&s) || s.starts_with("/api/v1/findings/") {
        return Err(format!("{s} is one of the API's own routes"));
    }
    Ok(s.to_string())
}

fn parse_flag_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    crate::config::parse_duration(s)
}

/// `capture` options.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Config file (YAML).
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    pub config: Option<PathBuf>,
    /// Capture the built-in simulation.
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo simulation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How long to record, e.g. `2m`; scrapes are `scrape.interval` apart (at least 2).
    #[arg(long, default_value = "1m")]
    pub duration: String,
    /// The bundle directory to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// `simulate` options.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Simulation spec (YAML); default: the demo clusters.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated seconds per wall-clock second.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Simulated history to produce before serving, e.g. `1h`.
    #[arg(long, default_value = "0s")]
    pub warmup: String,
    /// Write an opsadvisor config for the served endpoints to this file.
    #[arg(long)]
    pub write_config: Option<PathBuf>,
    /// Instead of serving, write a labelled dataset into this directory (in-process,
    /// fast-forwarded; see datasets/README.md).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Dataset: simulated hours per scenario.
    #[arg(long, default_value_t = 2.0)]
    pub hours: f64,
    /// Dataset: training hardware profiles (presets); default small, medium, large.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Dataset: systems to generate; default all.
    #[arg(long = "system")]
    pub systems: Vec<crate::System>,
}

/// `check` subcommands.
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Lint a Prometheus exposition as `promtool check metrics` does: exit 1 with
    /// `line N: reason` when it does not parse, 3 when it parses with lint warnings, 0 when clean.
    Metrics {
        /// A file, an http(s) URL, or `-` for standard input.
        source: String,
        /// Parse as OpenMetrics regardless of Content-Type or a final `# EOF`.
        #[arg(long)]
        openmetrics: bool,
    },
    /// Validate a config file; every problem is listed with its path.
    Config {
        /// The file.
        file: PathBuf,
    },
    /// Validate rule files; problems name file:line and the column or expression.
    Rules {
        /// Rule files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs a parsed command; returns the process exit code.
///
/// # Errors
/// Any [`Error`]; `main` prints it and maps it to an exit code.
pub async fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Advise(args) => advise(args).await,
        Command::Daemon(args) => daemon(args).await,
        Command::Simulate(args) if args.dataset.is_some() => dataset(&args),
        Command::Simulate(args) => simulate(args).await,
        Command::Train(args) if args.prometheus.is_some() => train_incidents(&args).await,
        Command::Train(args) => train(&args),
        Command::Eval(args) => eval(&args),
        Command::EvalEpisodes(args) => eval_episodes(&args),
        Command::Capture(args) => capture(args).await,
        Command::Check(CheckCommand::Metrics { source, openmetrics }) => {
            check_metrics(&source, openmetrics).await
        }
        Command::Check(CheckCommand::Config { file }) => {
            let config = Config::load(&file)?;
            // Check ids and threshold overrides must match the rules that will run.
            let rules = pipeline::load_rules(&config, Catalog::builtin());
            pipeline::customize(&config, rules.rules).map_err(|issues| {
                crate::config::ConfigError { file: file.display().to_string(), issues }
            })?;
            println!("{}: OK", file.display());
            Ok(0)
        }
        Command::Test(TestCommand::Rules { files }) => test_rules(&files),
        Command::Forecast(args) => forecast_csv(&args),
        Command::List(ListCommand::Checks { format }) => {
            print!("{}", list_checks(format));
            Ok(0)
        }
        Command::Check(CheckCommand::Rules { files }) => {
            let set = RuleSet::load(&files, Catalog::builtin());
            for e in &set.errors {
                eprintln!("{e}");
            }
            println!("{} rule(s) OK, {} problem(s)", set.rules.len(), set.errors.len());
            // 1, as `promtool check rules`; 2 is for bad flags.
            Ok(u8::from(!set.errors.is_empty()))
        }
    }
}

/// The catalogue of checks, as `docs/checks.md` holds it: every shipped rule with its
/// catalogue anchors, then the catalogue checks not run and why (`rules/unrunnable.yaml`).
pub fn list_checks(format: ListFormat) -> String {
    use crate::analyzers::rules::unrunnable;
    let set = RuleSet::builtin(Catalog::builtin());
    let mut rules: Vec<&rules::Rule> = set.rules.iter().collect();
    rules.sort_by(|a, b| (a.system, &a.id).cmp(&(b.system, &b.id)));
    let not_run = unrunnable::builtin();
    let anchored: std::collections::BTreeSet<String> =
        rules.iter().flat_map(|r| unrunnable::anchors(r)).collect();
    let advises = |r: &rules::Rule| {
        r.advises
            .iter()
            .map(|a| format!("{} {}", a.setting, a.direction.verb()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match format {
        ListFormat::Json => {
            let shipped: Vec<serde_json::Value> = rules
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id, "system": r.system, "category": r.category, "severity": r.severity,
                        "impact": r.impact, "for": crate::config::format_duration(r.for_), "expr": r.expr_text,
                        "anchors": unrunnable::anchors(r), "advises": r.advises, "docs_url": r.docs_url,
                    })
                })
                .collect();
            let doc = serde_json::json!({ "shipped": shipped, "not_run": not_run });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        ListFormat::Markdown => {
            let mut out = format!(
                "# Checks\n\nGenerated by `opsadvisor list checks --format markdown`; CI fails when this file is stale.\n\
                 Anchors refer to the catalogue of checks the best tools run (OpsCenter, Elastic health report/AutoOps, \
                 Cruise Control, awesome-prometheus-alerts, ...). {} catalogue checks are shipped as {} rules; \
                 {} are not run yet, each with the reason, at the end.\n\n\
                 `advises` names the setting a check's action changes; when two findings on one node push a setting \
                 in opposite directions, the report keeps the more urgent one and lists the other as set aside.\n\n\
                 | id | system | category | severity | impact | for | condition | advises | anchor |\n|---|---|---|---|---|---|---|---|---|\n",
                anchored.len(),
                rules.len(),
                not_run.len()
            );
            for r in rules {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} | {} | `{}` | {} | {} |\n",
                    r.id,
                    r.system.as_str(),
                    r.category.as_str(),
                    r.severity.as_str(),
                    r.impact.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", "),
                    crate::config::format_duration(r.for_),
                    r.expr_text.replace('|', "\\|"),
                    advises(r),
                    unrunnable::anchors(r).join(", ")
                ));
            }
            out.push_str(
                "\n## Catalogue checks not run yet\n\n| id | system | why not |\n|---|---|---|\n",
            );
            for u in &not_run {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    u.id,
                    u.system,
                    u.reason.replace('|', "\\|")
                ));
            }
            out
        }
    }
}

async fn check_metrics(source: &str, force_openmetrics: bool) -> Result<u8> {
    use crate::sources::exposition::{self, Format};
    let (content_type, body) = if source.starts_with("http://") || source.starts_with("https://") {
        let client = crate::sources::http_client(std::time::Duration::from_secs(30))?;
        let resp =
            client.get(source).header("Accept", exposition::ACCEPT_HEADER).send().await.map_err(
                |e| {
                    Error::Usage(format!("{}: {}", crate::sources::redact(source), e.without_url()))
                },
            )?;
        if !resp.status().is_success() {
            return Err(Error::Usage(format!(
                "{}: HTTP {}",
                crate::sources::redact(source),
                resp.status().as_u16()
            )));
        }
        let ct =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.bytes().await.map_err(|e| {
            Error::Usage(format!("{}: {}", crate::sources::redact(source), e.without_url()))
        })?;
        (ct, body.to_vec())
    } else if source == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|source| Error::Io { path: "(stdin)".into(), source })?;
        (None, buf)
    } else {
        (
            None,
            std::fs::read(source).map_err(|e| Error::Io { path: source.to_string(), source: e })?,
        )
    };
    let format = if force_openmetrics {
        Format::OpenMetrics
    } else {
        exposition::detect_format(content_type.as_deref(), &body)
    };
    match exposition::parse(&body, format) {
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
        Ok(parsed) if parsed.warnings.is_empty() => Ok(0),
        Ok(parsed) => {
            for w in &parsed.warnings {
                eprintln!("line {}: {}", w.line, w.message);
            }
            Ok(3)
        }
    }
}

fn forecast_csv(args: &ForecastArgs) -> Result<u8> {
    use crate::analyzers::capacity::forecast::{Model, Series};
    let dur = |s: &str| -> Result<i64> {
        let d = crate::config::parse_duration(s).map_err(Error::Usage)?;
        Ok(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    };
    let horizons: Vec<i64> = args.horizons.iter().map(|h| dur(h)).collect::<Result<_>>()?;
    let (min_h, max_h, every) =
        (dur(&args.min_history)?, dur(&args.max_history)?, dur(&args.every)?.max(1));
    let path = args.csv.display().to_string();
    let text = std::fs::read_to_string(&args.csv)
        .map_err(|source| Error::Io { path: path.clone(), source })?;
    let mut rows: Vec<(String, i64, f64)> = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let Some((ts, v)) = line.split_once(',') else { continue };
        let bad = |what: &str| Error::Usage(format!("{path}:{}: {what}", i + 1));
        let t = parse_csv_time(ts.trim()).ok_or_else(|| bad("invalid timestamp"))?;
        let v: f64 = v.trim().parse().map_err(|_| bad("invalid value"))?;
        rows.push((ts.trim().to_string(), t, v));
    }
    let points: Vec<(i64, f64)> = rows.iter().map(|r| (r.1, r.2)).collect();
    let Some(first) = points.first().map(|p| p.0) else {
        return Err(Error::Usage(format!("{path}: no rows")));
    };
    let last = points.last().map_or(first, |p| p.0);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "origin,horizon_s,forecast,lo,hi");
    let mut origin = first + min_h;
    while origin <= last {
        // The origin is the last observed point at or before `origin`.
        let end = points.partition_point(|p| p.0 <= origin);
        let start = points.partition_point(|p| p.0 <= origin - max_h);
        if end > 0
            && let Ok(model) = Series::regular(&points[start..end], None).and_then(Model::fit)
        {
            let step = model.series().step_ms;
            for &h in &horizons {
                let p = model.predict(usize::try_from((h / step).max(1)).unwrap_or(1));
                let _ =
                    writeln!(out, "{},{},{},{},{}", rows[end - 1].0, h / 1000, p.mean, p.lo, p.hi);
            }
        }
        origin += every;
    }
    Ok(0)
}

fn parse_csv_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return Some((secs * 1000.0) as i64);
    }
    let iso = if s.contains('T') { s.to_string() } else { s.replacen(' ', "T", 1) };
    let iso = if iso.ends_with('Z') { iso } else { format!("{iso}Z") };
    crate::config::parse_utc_timestamp(&iso).ok()
}

fn test_rules(paths: &[PathBuf]) -> Result<u8> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p)
                .map_err(|source| Error::Io { path: p.display().to_string(), source })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(std::result::Result::ok)
                .map(|e| e.path())
                .filter(|f| f.to_string_lossy().ends_with(".test.yaml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let (mut passed, mut failed) = (0, 0);
    for f in &files {
        let r = rules::unittest::run_file(f, Catalog::builtin());
        for msg in &r.failures {
            eprintln!("FAILED {msg}");
        }
        println!("{}: {} passed, {} failed", f.display(), r.passed, r.failures.len());
        passed += r.passed;
        failed += r.failures.len();
    }
    println!("rule tests: {passed} passed, {failed} failed");
    Ok(u8::from(failed > 0 || files.is_empty()))
}

/// The config to run with, and the simulator behind it for `--demo` (keep it alive).
async fn config_or_demo(
    config: &Option<PathBuf>,
    seed: u64,
) -> Result<(Config, Option<SimServer>)> {
    match config {
        Some(path) => Ok((Config::load(path)?, None)),
        None => {
            let server = simulate::serve(Simulator::new(SimSpec::demo(seed))?, DEMO_SPEED).await?;
            Ok((demo_config(&server), Some(server)))
        }
    }
}

/// The API token: from `--web.bearer-token-file`, else `OPSADVISOR_WEB_TOKEN`.
fn bearer_token(file: Option<&PathBuf>) -> Result<Option<String>> {
    let token = match file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?
                .trim()
                .to_string(),
        ),
        None => std::env::var("OPSADVISOR_WEB_TOKEN").ok().map(|t| t.trim().to_string()),
    };
    match token {
        Some(t) if t.is_empty() => Err(Error::Usage(
            "the bearer token is empty (--web.bearer-token-file or OPSADVISOR_WEB_TOKEN)".into(),
        )),
        t => Ok(t),
    }
}

async fn daemon(args: DaemonArgs) -> Result<u8> {
    use crate::daemon::{ConfigSource, Daemon, DaemonOptions, WebOptions, web_config::WebConfig};
    let web_config = match &args.web_config_file {
        Some(path) => Some(std::sync::Arc::new(
            WebConfig::load(path).map_err(|e| Error::DaemonConfig(Box::new(e.into())))?,
        )),
        None => None,
    };
    let options = DaemonOptions {
        listen_address: args.listen_address.clone(),
        storage_path: args.storage_path.clone(),
        bearer_token: bearer_token(args.bearer_token_file.as_ref())?,
        models: model_source(args.classifier, args.models.clone()),
        web: WebOptions {
            config: web_config,
            enable_lifecycle: args.enable_lifecycle,
            telemetry_path: args.telemetry_path.clone(),
        },
    };
    // The simulator must outlive the daemon: keep it bound here.
    let (source, _server) = match &args.config {
        Some(path) => (ConfigSource::File(path.clone()), None),
        None => {
            let server =
                simulate::serve(Simulator::new(SimSpec::demo(args.seed))?, DEMO_SPEED).await?;
            (ConfigSource::Fixed(Box::new(demo_config(&server))), Some(server))
        }
    };
    let mut daemon = Daemon::new(source, options).map_err(|e| match e {
        e @ (Error::Config(_) | Error::ConfigIssues(_) | Error::Usage(_)) => {
            Error::DaemonConfig(Box::new(e))
        }
        e => e,
    })?;
    // Notifications: the outbox lives beside the state; it is fed every cycle's outcome and
    // delivers until the daemon drains, so a SIGTERM loses nothing already decided. A reload
    // that changes the `notifications:` section swaps the sinks (see `Supervisor`).
    let notifier = crate::sinks::notify::Supervisor::start(
        daemon.storage_path(),
        &daemon.config().notifications,
    )
    .map_err(|e| Error::DaemonConfig(Box::new(Error::Usage(e.to_string()))))?;
    let notifier = std::sync::Arc::new(notifier);
    let metrics_source = std::sync::Arc::clone(&notifier);
    daemon.add_metrics(move || metrics_source.notifier().metrics_text().unwrap_or_default());
    let mut outcomes = daemon.subscribe();
    let feeder = std::sync::Arc::clone(&notifier);
    let feeding = tokio::spawn(async move {
        while let Some(o) = outcomes.recv().await {
            if let Err(e) = feeder.notifier().on_cycle(o.now_ms, &o.firing, &o.resolved) {
                tracing::error!(error = %e, "Could not record this cycle's notifications.");
            }
        }
    });
    let mut changes = daemon.watch_notifications();
    let reconfigurer = std::sync::Arc::clone(&notifier);
    let reconfiguring = tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let config = changes.borrow_and_update().clone();
            if let Err(e) = reconfigurer.reconfigure(&config).await {
                tracing::error!(error = %e, "New notification sinks refused; keeping the running ones.");
            }
        }
    });
    daemon.run().await?;
    // The last cycles' outcomes are recorded (the channel closed with the loop), then what
    // is queued is delivered for up to --shutdown.flush-timeout; the rest stays in the
    // outbox for the next start.
    let _ = feeding.await;
    reconfiguring.abort();
    if !notifier.shutdown(args.flush_timeout).await {
        let left: u64 =
            notifier.notifier().stats().map_or(0, |s| s.iter().map(|s| s.pending).sum());
        tracing::warn!(
            pending = left,
            "Notifications not delivered by the flush deadline stay queued for the next start."
        );
    }
    Ok(0)
}

async fn capture(args: CaptureArgs) -> Result<u8> {
    let (mut config, _server) = config_or_demo(&args.config, args.seed).await?;
    let duration = crate::config::parse_duration(&args.duration).map_err(Error::Usage)?;
    let interval = config.interval().as_millis().max(1);
    config.scrape.samples =
        usize::try_from(duration.as_millis() / interval + 1).unwrap_or(usize::MAX).max(2);
    let client = crate::sources::http_client(config.timeout())?;
    let rounds = crate::sources::fetch_rounds(&config, &client).await;
    crate::sources::bundle::write(&args.out, &config, &rounds, crate::clock::now_ms())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let failed = rounds.raws.iter().flatten().filter(|r| r.is_err()).count();
    eprintln!(
        "Wrote {} fetches of {} targets ({failed} failed) to {}.",
        rounds.raws.iter().map(Vec::len).sum::<usize>(),
        rounds.targets.len(),
        args.out.display()
    );
    Ok(0)
}

async fn advise(args: AdviseArgs) -> Result<u8> {
    if let Some(dir) = &args.bundle {
        let (config, rounds) =
            crate::sources::bundle::read(dir).map_err(|e| Error::Usage(e.to_string()))?;
        let rules = pipeline::load_rules(&config, Catalog::builtin());
        let report = pipeline::advise_rounds(&config, &rules, &rounds).await?;
        return print_outcome(&report, &config, &args);
    }
    let (config, _server, recorded) = match &args.config {
        Some(path) => (Config::load(path)?, None, None),
        None => {
            let (server, recorded) = demo_with_history(args.seed).await?;
            (demo_config(&server), Some(server), Some(recorded))
        }
    };
    let rules = pipeline::load_rules(&config, Catalog::builtin());
    let classifiers = classifiers(&args);
    for r in &classifiers.refused {
        eprintln!("opsadvisor: {r}");
    }
    let report = pipeline::advise_recorded_with(&config, &rules, recorded, &classifiers)
        .await
        .map_err(|e| match (e, &args.config) {
            (Error::ConfigIssues(issues), Some(path)) => {
                Error::Config(crate::config::ConfigError {
                    file: path.display().to_string(),
                    issues,
                })
            }
            (e, _) => e,
        })?;
    print_outcome(&report, &config, &args)
}

/// Days of history the demo records before serving, for the capacity forecasts.
const DEMO_HISTORY_MS: i64 = 7 * 86_400_000;

/// Spacing of the demo's recorded history: eight points a day still show the daily cycle,
/// and keep the recording (rendering and parsing every page) well under a second (release).
const DEMO_HISTORY_EVERY_MS: i64 = 3 * 3_600_000;

/// The demo simulation with a week of recorded hourly history before it starts serving:
/// the simulation starts a week earlier, fast-forwards through the week recording what each
/// target would have answered, then warms up and serves as usual. Faults keep their start
/// relative to the served part, except the growing Elasticsearch archive, which has been
/// growing all week.
async fn demo_with_history(seed: u64) -> Result<(SimServer, crate::sources::Rounds)> {
    let mut spec = SimSpec::demo(seed);
    let warmup_ms = (spec.warmup_s * 1000.0) as i64;
    spec.start_ms -= DEMO_HISTORY_MS;
    spec.warmup_s = 0.0;
    for c in &mut spec.clusters {
        for f in &mut c.faults {
            if f.fault != simulate::Fault::DiskLowWatermark {
                f.start_s += DEMO_HISTORY_MS as f64 / 1000.0;
            }
        }
    }
    let live_start = spec.start_ms + DEMO_HISTORY_MS;
    let mut sim = Simulator::new(spec)?;
    let (sim, recorded) = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let targets = simulate::record::targets(&sim);
        let recorded =
            simulate::record::record(&mut sim, &targets, live_start, DEMO_HISTORY_EVERY_MS);
        tracing::debug!(elapsed_ms = started.elapsed().as_millis(), "Demo history recorded.");
        sim.advance_to(live_start + warmup_ms);
        tracing::debug!(elapsed_ms = started.elapsed().as_millis(), "Demo warmed up.");
        (sim, recorded)
    })
    .await
    .map_err(|e| Error::Internal(format!("demo history task failed: {e}")))?;
    Ok((simulate::serve(sim, DEMO_SPEED).await?, recorded))
}

/// Prints the report (or, with `--dry-run`, the notifications it would cause); returns the
/// exit code `--fail-on` asks for: 3 when a finding at or above it fires, else 0.
fn print_outcome(
    report: &crate::sinks::report::Report,
    config: &Config,
    args: &AdviseArgs,
) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        let plan = crate::sinks::notify::dry_run::plan(
            &config.notifications,
            &report.findings,
            crate::clock::now_ms(),
        )
        .map_err(|e| Error::Usage(e.to_string()))?;
        let text = match args.format {
            ReportFormat::Json => {
                serde_json::to_string_pretty(&plan).map_err(|e| Error::Internal(e.to_string()))?
                    + "\n"
            }
            _ => plan.render_text(),
        };
        let _ = out.write_all(text.as_bytes());
        for e in &plan.errors {
            eprintln!("opsadvisor: dry run: sink {}: {}", e.sink, e.error);
        }
        eprintln!(
            "opsadvisor: dry run: {} finding(s), {} request(s) to {} sink(s); nothing was sent.",
            report.findings.len(),
            plan.requests.len(),
            plan.requests.iter().map(|r| &r.sink).collect::<std::collections::BTreeSet<_>>().len()
        );
    } else {
        let color = args.format == ReportFormat::Text && std::io::stdout().is_terminal();
        let _ = out.write_all(report.render(args.format, color).as_bytes());
    }
    Ok(if report.findings.iter().any(|f| f.severity >= args.fail_on) { 3 } else { 0 })
}

/// Simulated seconds per wall second in the demo: 0.5 s between scrapes is one simulated
/// minute, so six scrapes cover five minutes of cluster time in three seconds.
const DEMO_SPEED: f64 = 120.0;

/// An opsadvisor config for the endpoints a simulator serves.
pub fn config_for(server: &SimServer, scrape: ScrapeConfig) -> Config {
    let mut clusters: Vec<ClusterConfig> = Vec::new();
    for e in &server.endpoints {
        let idx = match clusters.iter().position(|c| c.name == e.cluster) {
            Some(i) => i,
            None => {
                clusters.push(ClusterConfig {
                    name: e.cluster.clone(),
                    system: e.system,
                    elasticsearch: None,
                    elasticsearch_exporter: None,
                    kafka_exporter: None,
                    prometheus: None,
                    auth: None,
                    tls: None,
                    targets: Vec::new(),
                    config_files: None,
                    file_sd: Vec::new(),
                    disabled_checks: Vec::new(),
                    thresholds: Default::default(),
                    capacity: Default::default(),
                });
                clusters.len() - 1
            }
        };
        let c = &mut clusters[idx];
        match (&e.kind, &e.node) {
            (EndpointKind::Elasticsearch, _) => c.elasticsearch = Some(e.url.clone()),
            (EndpointKind::KafkaExporter, _) => c.kafka_exporter = Some(e.url.clone()),
            (kind, Some(node)) => {
                let t = match c.targets.iter().position(|t| &t.node == node) {
                    Some(i) => &mut c.targets[i],
                    None => {
                        c.targets.push(TargetConfig {
                            node: node.clone(),
                            metrics: None,
                            node_exporter: None,
                            jolokia: None,
                            config_files: None,
                        });
                        let last = c.targets.len() - 1;
                        &mut c.targets[last]
                    }
                };
                match kind {
                    EndpointKind::Jmx => t.metrics = Some(e.url.clone()),
                    EndpointKind::Jolokia => t.jolokia = Some(e.url.clone()),
                    _ => t.node_exporter = Some(e.url.clone()),
                }
            }
            (_, None) => {}
        }
    }
    Config { scrape, clusters, ..Config::default() }
}

fn demo_config(server: &SimServer) -> Config {
    config_for(
        server,
        ScrapeConfig {
            interval: "500ms".into(),
            timeout: "2s".into(),
            samples: 6,
            ..ScrapeConfig::default()
        },
    )
}

async fn simulate(args: SimulateArgs) -> Result<u8> {
    let spec = match &args.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            serde_norway::from_str::<SimSpec>(&text)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?
        }
        None => SimSpec::demo(args.seed),
    };
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(Error::Usage(format!("--speed must be a positive number, got {}", args.speed)));
    }
    let warmup = crate::config::parse_duration(&args.warmup).map_err(Error::Usage)?;
    let mut sim = Simulator::new(spec)?;
    sim.advance(warmup);
    let server = simulate::serve(sim, args.speed).await?;
    let config = config_for(&server, ScrapeConfig::default());
    let yaml = serde_norway::to_string(&config).map_err(|e| Error::Usage(e.to_string()))?;
    match &args.write_config {
        Some(path) => std::fs::write(path, &yaml)
            .map_err(|source| Error::Io { path: path.display().to_string(), source })?,
        None => println!("{yaml}"),
    }
    eprintln!("Serving {} endpoints on 127.0.0.1; Ctrl-C to stop.", server.endpoints.len());
    let _ = tokio::signal::ctrl_c().await;
    drop(server);
    Ok(0)
}

/// The classifiers `advise` was asked for.
fn classifiers(args: &AdviseArgs) -> Classifiers {
    model_source(args.classifier, args.models.clone()).load()
}

/// `--classifier` and `--models`, as `advise` and the daemon read them.
fn model_source(
    choice: ClassifierChoice,
    dir: Option<PathBuf>,
) -> crate::daemon::models::ModelSource {
    let algo = match choice {
        ClassifierChoice::Off => None,
        ClassifierChoice::Forest => Some(Algo::Forest),
        ClassifierChoice::Tree => Some(Algo::Tree),
    };
    crate::daemon::models::ModelSource { algo, dir }
}

/// A one-line progress indicator on stderr (only on a terminal, so logs stay clean).
fn progress_line(what: &'static str) -> impl Fn(usize, usize) + Sync {
    let tty = std::io::stderr().is_terminal();
    move |done, total| {
        if tty {
            eprint!("\r{what}: {done}/{total}");
            if done == total {
                eprintln!();
            }
        }
    }
}

fn dataset(args: &SimulateArgs) -> Result<u8> {
    use crate::classify::{dataset, io};
    let Some(out) = &args.dataset else { return Ok(2) };
    let mut spec = dataset::DatasetSpec::new(args.hours, args.seed);
    if !args.profiles.is_empty() {
        spec.profiles = args
            .profiles
            .iter()
            .map(|p| {
                crate::simulate::HardwareProfile::preset(p).ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown --profile `{p}` (known: {})",
                        crate::simulate::HardwareProfile::PRESETS.join(", ")
                    ))
                })
            })
            .collect::<Result<_>>()?;
    }
    if !args.systems.is_empty() {
        spec.systems = args.systems.clone();
    }
    let started = std::time::Instant::now();
    let sets = dataset::generate(&spec, Catalog::builtin(), &progress_line("scenarios"))?;
    let mut command = format!(
        "opsadvisor simulate --dataset {} --hours {} --seed {}",
        out.display(),
        args.hours,
        args.seed
    );
    for p in &args.profiles {
        command.push_str(&format!(" --profile {p}"));
    }
    for s in &args.systems {
        command.push_str(&format!(" --system {}", s.as_str()));
    }
    let manifest = io::write_dir(out, &sets, &command, args.seed, args.hours)?;
    for (system, m) in &manifest.systems {
        let rows: usize = m.rows.values().flat_map(|c| c.values()).sum();
        eprintln!("{system}: {rows} rows, {} features", m.features.len());
    }
    eprintln!("Wrote {} in {:.1} s.", out.display(), started.elapsed().as_secs_f64());
    Ok(0)
}

fn model_dir(out: &std::path::Path, system: crate::System, algo: Algo) -> PathBuf {
    out.join(system.as_str()).join(algo.as_str())
}

/// `train --prometheus URL --labels FILE`: see `classify::incidents`.
async fn train_incidents(args: &TrainArgs) -> Result<u8> {
    use crate::classify::incidents;
    let (Some(url), Some(labels)) = (&args.prometheus, &args.labels) else { return Ok(2) };
    let text = std::fs::read_to_string(labels)
        .map_err(|source| Error::Io { path: labels.display().to_string(), source })?;
    let (system, list) =
        incidents::parse_incidents(&text, &labels.display().to_string(), args.system)?;
    let time = |flag: &str, v: &Option<String>, default: i64| -> Result<i64> {
        v.as_deref().map_or(Ok(default), |t| {
            incidents::parse_time(t).map_err(|e| Error::Usage(format!("--{flag}: {e}")))
        })
    };
    let duration = |flag: &str, v: &str| -> Result<i64> {
        crate::config::parse_duration(v)
            .map(|d| d.as_millis() as i64)
            .map_err(|e| Error::Usage(format!("--{flag}: {e}")))
    };
    const MARGIN_MS: i64 = 6 * 3_600_000;
    let first = list.iter().map(|i| i.start_ms).min().unwrap_or(0);
    let last = list.iter().map(|i| i.end_ms).max().unwrap_or(0);
    let spec = incidents::HistorySpec {
        url: url.clone(),
        selector: args.selector.clone(),
        node_label: args.node_label.clone(),
        cluster_label: args.cluster_label.clone(),
        from_ms: time("from", &args.from, first - MARGIN_MS)?,
        to_ms: time("to", &args.to, (last + MARGIN_MS).min(crate::clock::now_ms()))?,
        step_ms: duration("step", &args.step)?,
        every_ms: duration("every", &args.every)?,
    };
    let command = format!(
        "opsadvisor train --prometheus {} --labels {} --system {} --from {} --to {} --step {} --every {} --algo {}",
        crate::sources::redact(url),
        labels.display(),
        system.as_str(),
        crate::clock::rfc3339_ms(spec.from_ms),
        crate::clock::rfc3339_ms(spec.to_ms),
        args.step,
        args.every,
        args.algo.as_str()
    );
    let http = match &args.http_config_file {
        Some(path) => {
            crate::sources::http_config::HttpConfig::load(path).map_err(Error::HttpConfig)?
        }
        None => crate::sources::http_config::HttpConfig::default(),
    };
    let (client, credentials) =
        http.connect(std::time::Duration::from_secs(120)).map_err(Error::HttpConfig)?;
    let started = std::time::Instant::now();
    let history =
        incidents::pull(&client, credentials.as_ref(), &spec, system, &list, Catalog::builtin())
            .await?;
    let pulled_s = started.elapsed().as_secs_f64();
    let t = incidents::train(
        &history,
        &spec,
        system,
        &list,
        args.algo,
        &args.out,
        &command,
        Catalog::builtin(),
    )?;
    for e in &t.evals {
        eprintln!(
            "{}: {} rows, macro-F1 {:.3} (rules {:.3})",
            e.split, e.model.rows, e.model.macro_f1, e.rules.macro_f1
        );
        if e.model.classes.iter().all(|c| c.support == 0 || c.label == "healthy") {
            eprintln!(
                "opsadvisor: note: no incident falls in the held-out last quarter of the time, so \
                 it measures false alarms only; move --to past a later incident to score recall"
            );
        }
    }
    if t.evals.is_empty() {
        eprintln!("opsadvisor: note: no held-out windows; widen --from/--to");
    }
    eprintln!(
        "Read {} cluster(s) in {pulled_s:.1} s; trained {} {} on {} rows; wrote {}.",
        history.len(),
        system.as_str(),
        args.algo.as_str(),
        t.dataset.split("train").len(),
        t.model_dir.display()
    );
    Ok(0)
}

/// Rows per second of `predict` (which returns how many rows it predicted), the best of three
/// timings of at least 1 M rows each, as `benches/classifier_vs_sklearn.py` times
/// scikit-learn: a slow spell of a shared machine then spoils one timing, not the figure.
fn best_rate(predict: &dyn Fn() -> usize) -> f64 {
    (0..3)
        .map(|_| {
            let started = std::time::Instant::now();
            let mut rows = 0usize;
            while rows < 1_000_000 {
                let n = predict();
                if n == 0 {
                    return 0.0;
                }
                rows += n;
            }
            rows as f64 / started.elapsed().as_secs_f64().max(1e-9)
        })
        .fold(0.0, f64::max)
}

fn train(args: &TrainArgs) -> Result<u8> {
    use crate::classify::{card, io};
    let (Some(system), Some(dataset)) = (args.system, &args.dataset) else {
        return Err(Error::Usage("train needs --system and --dataset, or --prometheus".into()));
    };
    let (d, hash) = io::read_dir(dataset, system)?;
    let started = std::time::Instant::now();
    let overridden = args.trees.is_some()
        || args.max_features.is_some()
        || args.max_depth.is_some()
        || args.min_samples_leaf.is_some();
    let mut params = crate::classify::model::Params::default_for(args.algo, d.features.len());
    params.trees = args.trees.unwrap_or(params.trees).max(1);
    params.tree.max_features = args.max_features.or(params.tree.max_features);
    params.tree.max_depth = args.max_depth.unwrap_or(params.tree.max_depth);
    params.tree.min_samples_leaf = args.min_samples_leaf.unwrap_or(params.tree.min_samples_leaf);
    let model = card::train(
        &d,
        system,
        args.algo,
        if overridden {
            card::Hyper::Fixed(params)
        } else {
            card::Hyper::Select(card::candidates(args.algo, d.features.len()))
        },
        &hash,
        Catalog::builtin(),
        &progress_line("trees"),
    )?;
    let fit_s = started.elapsed().as_secs_f64();
    let evals = card::evaluate(&model, &d, Catalog::builtin())?;
    let dir = model_dir(&args.out, system, args.algo);
    std::fs::create_dir_all(&dir)
        .map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|source| Error::Io { path: path.display().to_string(), source })
    };
    write("model.json", model.to_json())?;
    let counts: Vec<(String, usize)> = d.split("train").class_counts().into_iter().collect();
    write("MODEL.md", card::render(&model, &evals, dataset, &counts))?;
    for e in &evals {
        eprintln!(
            "{}: macro-F1 {:.3} (rules {:.3}); compound exact match {:.3} (rules {:.3}, {} rows)",
            e.split,
            e.model.macro_f1,
            e.rules.macro_f1,
            e.compound_model,
            e.compound_rules,
            e.compound_rows
        );
    }
    if args.report_json {
        // Fit time of the final model alone (without the hyperparameter selection), as
        // scikit-learn's `fit` is timed with fixed hyperparameters.
        let started = std::time::Instant::now();
        let refit = card::train(
            &d,
            system,
            args.algo,
            card::Hyper::Fixed(model.params),
            &hash,
            Catalog::builtin(),
            &|_, _| {},
        )?;
        let fit_s = started.elapsed().as_secs_f64();
        debug_assert_eq!(refit.trees.len(), model.trees.len());
        // Prediction throughput over the held-out rows, repeated to at least 1 M rows, on
        // two threads and on one (one core's rate, less disturbed by a loaded machine).
        let held = d.select(|i| d.split[i] != "train");
        let cols = card::model_columns(&model, &held);
        let rows_per_second =
            |threads: usize| best_rate(&|| model.predict_on(&cols, threads).len());
        let (two, one) = (rows_per_second(2), rows_per_second(1));
        let splits: serde_json::Map<String, serde_json::Value> =
            evals.iter().map(|e| (e.split.clone(), serde_json::json!(e.model.macro_f1))).collect();
        println!(
            "{}",
            serde_json::json!({
                "system": system.as_str(), "algo": args.algo.as_str(),
                "train_rows": d.split("train").len(), "fit_seconds": fit_s,
                "rows_per_second": two,
                "rows_per_second_one_thread": one,
                "macro_f1": splits,
            })
        );
    }
    eprintln!(
        "Trained {} {} on {} rows in {fit_s:.2} s; wrote {}.",
        system.as_str(),
        args.algo.as_str(),
        d.split("train").len(),
        dir.display()
    );
    Ok(0)
}

fn eval(args: &EvalArgs) -> Result<u8> {
    use crate::classify::{card, io, model::Model};
    let path = if args.model.is_dir() { args.model.join("model.json") } else { args.model.clone() };
    let text = std::fs::read_to_string(&path)
        .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    let model = Model::from_json(&text, &path.display().to_string())?;
    model
        .schema
        .check(Catalog::builtin(), model.system)
        .map_err(|why| Error::Usage(format!("{}: {why}", path.display())))?;
    let (d, hash) = io::read_dir(&args.dataset, model.system)?;
    if hash != model.data_hash {
        eprintln!(
            "opsadvisor: note: dataset hash {hash} differs from the model's training data {}",
            model.data_hash
        );
    }
    let evals = card::evaluate(&model, &d, Catalog::builtin())?;
    let counts: Vec<(String, usize)> = d.split("train").class_counts().into_iter().collect();
    match args.format {
        EvalFormat::Markdown => print!("{}", card::render(&model, &evals, &args.dataset, &counts)),
        EvalFormat::Json => println!(
            "{}",
            serde_json::json!({
                "system": model.system.as_str(), "algo": model.algo.as_str(),
                "data_hash": model.data_hash, "dataset_hash": hash,
                "train_counts": counts.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                "splits": evals, "importance": model.importance(),
            })
        ),
    }
    Ok(0)
}

fn eval_episodes(args: &EvalEpisodesArgs) -> Result<u8> {
    use crate::classify::episodes;
    let list = episodes::load(&args.path)?;
    let r = episodes::leave_one_out(&list, args.algo, args.metrics)?;
    match args.format {
        EvalFormat::Markdown => print!("{}", r.to_markdown(&args.path.display().to_string())),
        EvalFormat::Json => {
            println!("{}", serde_json::to_string(&r).map_err(|e| Error::Internal(e.to_string()))?)
        }
    }
    Ok(0)
}
