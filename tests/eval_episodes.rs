//! `opsadvisor eval-episodes` on the real D-Bot PostgreSQL episodes in
//! `../shared/datasets/dbgpt_dbot` (not copied into the repository): the learner must beat
//! the majority class by a wide margin under leave-one-episode-out. Skips when the shared
//! data is absent.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::PathBuf;
use std::process::Command;

#[test]
fn leave_one_episode_out_on_dbot_beats_the_majority_class() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/dbgpt_dbot");
    if !dir.join("testing_set_62_with_metrics.json").is_file() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_opsadvisor"))
        .args(["eval-episodes", "--format", "json", "--metrics", "common"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["episodes"], 62);
    assert_eq!(r["text_disagrees"], serde_json::json!(["2", "31"]));
    let acc = r["model"]["accuracy"].as_f64().unwrap();
    let constant = r["majority_all"]["accuracy"].as_f64().unwrap();
    eprintln!("accuracy {acc:.3}, majority of all {constant:.3}");
    assert!((constant - 17.0 / 62.0).abs() < 1e-9, "VACUUM is the majority: {constant}");
    assert!(acc >= 0.75 && acc > constant + 0.3, "accuracy {acc}");
}
