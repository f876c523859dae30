//! Datasets on disk: Parquet (polars, zstd) for the full data, CSV for a small sample a
//! person can read, and the `manifest.json` that says how they were made.
//!
//! Layout of a dataset directory:
//!
//! ```text
//! OUT/manifest.json                 command, seed, hours, per system: features, rows per split and class
//! OUT/<system>/dataset.parquet      every row of every split (column `split`)
//! OUT/<system>/sample.csv           up to 5 rows per class and split
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::{
    Column, DataFrame, DataType, ParquetCompression, ParquetReader, ParquetWriter, SerReader,
};
use serde::{Deserialize, Serialize};

use super::ClassifyError;
use super::dataset::{Dataset, META_COLUMNS};
use crate::System;

/// How a dataset directory was made, and what is in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format marker: `opsadvisor-dataset/1`.
    pub format: String,
    /// The command that made it.
    pub command: String,
    /// Base seed.
    pub seed: u64,
    /// Simulated hours per scenario.
    pub hours: f64,
    /// Per system.
    pub systems: BTreeMap<String, SystemManifest>,
}

/// One system's dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemManifest {
    /// Feature columns, in order.
    pub features: Vec<String>,
    /// FNV-1a of the Parquet file's bytes, 16 hex digits.
    pub data_hash: String,
    /// Rows per split and class.
    pub rows: BTreeMap<String, BTreeMap<String, usize>>,
}

/// Format marker of [`Manifest`].
pub const FORMAT: &str = "opsadvisor-dataset/1";

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ClassifyError + '_ {
    move |source| ClassifyError::Io { path: path.display().to_string(), source }
}

/// FNV-1a 64 of `bytes` as 16 hex digits: the data hash in manifests and model cards.
pub fn hash_bytes(bytes: &[u8]) -> String {
    use std::hash::Hasher;
    let mut h = fnv::FnvHasher::default();
    h.write(bytes);
    format!("{:016x}", h.finish())
}

fn to_frame(d: &Dataset) -> Result<DataFrame, ClassifyError> {
    let mut cols = vec![
        Column::new("split".into(), d.split.clone()),
        Column::new("seed".into(), d.seed.clone()),
        Column::new("profile".into(), d.profile.clone()),
        Column::new("cluster".into(), d.cluster.clone()),
        Column::new("node".into(), d.node.clone()),
        Column::new("timestamp_ms".into(), d.timestamp_ms.clone()),
        Column::new("label".into(), d.labels.clone()),
    ];
    for (name, values) in d.features.iter().zip(&d.columns) {
        let v: Vec<Option<f64>> = values.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
        cols.push(Column::new(name.as_str().into(), v));
    }
    Ok(DataFrame::new_infer_height(cols)?)
}

/// Writes `d` as Parquet (zstd); returns the data hash of the file.
///
/// # Errors
/// The file cannot be written.
pub fn write_parquet(d: &Dataset, path: &Path) -> Result<String, ClassifyError> {
    let mut df = to_frame(d)?;
    let file = File::create(path).map_err(io_err(path))?;
    ParquetWriter::new(file).with_compression(ParquetCompression::Zstd(None)).finish(&mut df)?;
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(hash_bytes(&bytes))
}

/// Reads a dataset written by [`write_parquet`]; returns it and its data hash.
///
/// # Errors
/// The file is missing, is not Parquet, or lacks the metadata columns.
pub fn read_parquet(path: &Path, system: System) -> Result<(Dataset, String), ClassifyError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let hash = hash_bytes(&bytes);
    let df = ParquetReader::new(std::io::Cursor::new(bytes)).finish().map_err(|e| {
        ClassifyError::Data(format!("{}: not a readable Parquet dataset: {e}", path.display()))
    })?;
    let missing = |c: &str| {
        ClassifyError::Data(format!(
            "{}: column `{c}` missing or of the wrong type",
            path.display()
        ))
    };
    let strings = |c: &str| -> Result<Vec<String>, ClassifyError> {
        let col = df.column(c).map_err(|_| missing(c))?;
        Ok(col.str().map_err(|_| missing(c))?.iter().map(|v| v.unwrap_or("").to_owned()).collect())
    };
    let ints = |c: &str| -> Result<Vec<i64>, ClassifyError> {
        let col = df.column(c).map_err(|_| missing(c))?.cast(&DataType::Int64)?;
        Ok(col.i64().map_err(|_| missing(c))?.iter().map(|v| v.unwrap_or(0)).collect())
    };
    let features: Vec<String> = df
        .get_column_names()
        .into_iter()
        .map(|n| n.to_string())
        .filter(|n| !META_COLUMNS.contains(&n.as_str()))
        .collect();
    let mut columns = Vec::with_capacity(features.len());
    for f in &features {
        let col = df.column(f).map_err(|_| missing(f))?.cast(&DataType::Float64)?;
        columns.push(
            col.f64().map_err(|_| missing(f))?.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
        );
    }
    let d = Dataset {
        system: Some(system),
        features,
        columns,
        split: strings("split")?,
        seed: ints("seed")?.into_iter().map(|v| v as u64).collect(),
        profile: strings("profile")?,
        cluster: strings("cluster")?,
        node: strings("node")?,
        timestamp_ms: ints("timestamp_ms")?,
        labels: strings("label")?,
    };
    Ok((d, hash))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.into() }
}

/// Writes `d` as CSV (header, then one line per row; missing values are empty fields).
///
/// # Errors
/// The file cannot be written.
pub fn write_csv(d: &Dataset, path: &Path) -> Result<(), ClassifyError> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let header: Vec<String> = META_COLUMNS
        .iter()
        .map(|s| (*s).to_owned())
        .chain(d.features.iter().map(|f| csv_field(f)))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for i in 0..d.len() {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{}",
            csv_field(&d.split[i]),
            d.seed[i],
            csv_field(&d.profile[i]),
            csv_field(&d.cluster[i]),
            csv_field(&d.node[i]),
            d.timestamp_ms[i],
            csv_field(&d.labels[i])
        );
        for c in &d.columns {
            out.push(',');
            if !c[i].is_nan() {
                let _ = write!(out, "{}", c[i]);
            }
        }
        out.push('\n');
    }
    std::fs::write(path, out).map_err(io_err(path))
}

/// Up to `per_class` rows of each (split, class): the human-readable sample.
pub fn sample(d: &Dataset, per_class: usize) -> Dataset {
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let keep: Vec<bool> = (0..d.len())
        .map(|i| {
            let n = seen.entry((d.split[i].clone(), d.labels[i].clone())).or_insert(0);
            *n += 1;
            *n <= per_class
        })
        .collect();
    d.select(|i| keep[i])
}

/// Writes every dataset into `dir` with its sample and the manifest.
///
/// # Errors
/// A file cannot be written.
pub fn write_dir(
    dir: &Path,
    datasets: &[Dataset],
    command: &str,
    seed: u64,
    hours: f64,
) -> Result<Manifest, ClassifyError> {
    let mut manifest = Manifest {
        format: FORMAT.into(),
        command: command.into(),
        seed,
        hours,
        systems: BTreeMap::new(),
    };
    for d in datasets {
        let Some(system) = d.system else { continue };
        let sub = dir.join(system.as_str());
        std::fs::create_dir_all(&sub).map_err(io_err(&sub))?;
        let data_hash = write_parquet(d, &sub.join("dataset.parquet"))?;
        write_csv(&sample(d, 5), &sub.join("sample.csv"))?;
        let mut rows: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for (s, l) in d.split.iter().zip(&d.labels) {
            *rows.entry(s.clone()).or_default().entry(l.clone()).or_insert(0) += 1;
        }
        manifest.systems.insert(
            system.as_str().into(),
            SystemManifest { features: d.features.clone(), data_hash, rows },
        );
    }
    let path = dir.join("manifest.json");
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| ClassifyError::Data(format!("manifest: {e}")))?;
    std::fs::write(&path, json + "\n").map_err(io_err(&path))?;
    Ok(manifest)
}

/// Reads `DIR/<system>/dataset.parquet`; returns the dataset and its data hash.
///
/// # Errors
/// As [`read_parquet`].
pub fn read_dir(dir: &Path, system: System) -> Result<(Dataset, String), ClassifyError> {
    read_parquet(&dir.join(system.as_str()).join("dataset.parquet"), system)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tiny() -> Dataset {
        Dataset {
            system: Some(System::Kafka),
            features: vec!["up".into(), "lag".into()],
            columns: vec![vec![1.0, 0.0, 1.0], vec![2.5, f64::NAN, 1e9]],
            split: vec!["train".into(), "train".into(), "heldout_seeds".into()],
            seed: vec![1, 1, 101],
            profile: vec!["small".into(); 3],
            cluster: vec!["k".into(); 3],
            node: vec!["k-1".into(), "k-2".into(), "k,3".into()],
            timestamp_ms: vec![1, 2, 3],
            labels: vec!["healthy".into(), "a+b".into(), "a".into()],
        }
    }

    #[test]
    fn parquet_round_trips_rows_and_missing_values() {
        let dir = std::env::temp_dir().join(format!("opsadvisor-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.parquet");
        let d = tiny();
        let hash = write_parquet(&d, &path).unwrap();
        let (back, hash2) = read_parquet(&path, System::Kafka).unwrap();
        assert_eq!(hash, hash2);
        assert!(back.columns[1][1].is_nan());
        let mut a = back.clone();
        let mut b = d.clone();
        a.columns[1][1] = 0.0;
        b.columns[1][1] = 0.0;
        assert_eq!(a, b);
        write_csv(&d, &dir.join("s.csv")).unwrap();
        let csv = std::fs::read_to_string(dir.join("s.csv")).unwrap();
        assert!(csv.starts_with("split,seed,profile,cluster,node,timestamp_ms,label,up,lag\n"));
        assert!(csv.contains("train,1,small,k,k-2,2,a+b,0,\n"), "{csv}");
        assert!(csv.contains("\"k,3\""), "{csv}");
        let err = read_parquet(&dir.join("s.csv"), System::Kafka).unwrap_err().to_string();
        assert!(err.contains("s.csv: not a readable Parquet dataset"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_sample_keeps_a_few_rows_per_split_and_class() {
        let mut d = tiny();
        for _ in 0..3 {
            d.append(tiny()).unwrap();
        }
        let s = sample(&d, 2);
        assert_eq!(s.len(), 6);
    }
}
