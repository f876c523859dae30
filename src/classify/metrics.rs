//! Per-class precision, recall, F1 and the confusion matrix, as scikit-learn computes them
//! (`classification_report`, macro average over the labels seen in truth or predictions), so
//! the bench compares like with like.

use serde::Serialize;

/// Scores of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// The label.
    pub label: String,
    /// Of the rows predicted as this class, the share that were.
    pub precision: f64,
    /// Of the rows of this class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows of this class.
    pub support: usize,
}

/// Evaluation of predictions against truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Labels in matrix order (sorted).
    pub labels: Vec<String>,
    /// `matrix[truth][predicted]` row counts.
    pub matrix: Vec<Vec<usize>>,
    /// Per label.
    pub classes: Vec<ClassScore>,
    /// Unweighted mean F1 over `labels`.
    pub macro_f1: f64,
    /// Share of rows predicted exactly.
    pub accuracy: f64,
    /// Rows.
    pub rows: usize,
}

/// Scores `predicted` against `truth` (same length).
pub fn evaluate(truth: &[String], predicted: &[String]) -> Report {
    let mut labels: Vec<String> = truth.iter().chain(predicted).cloned().collect();
    labels.sort();
    labels.dedup();
    let k = labels.len();
    let index = |l: &String| labels.binary_search(l).unwrap_or(0);
    let mut matrix = vec![vec![0usize; k]; k];
    for (t, p) in truth.iter().zip(predicted) {
        matrix[index(t)][index(p)] += 1;
    }
    let classes: Vec<ClassScore> = (0..k)
        .map(|c| {
            let tp = matrix[c][c] as f64;
            let support: usize = matrix[c].iter().sum();
            let predicted_c: usize = matrix.iter().map(|r| r[c]).sum();
            let precision = if predicted_c > 0 { tp / predicted_c as f64 } else { 0.0 };
            let recall = if support > 0 { tp / support as f64 } else { 0.0 };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScore { label: labels[c].clone(), precision, recall, f1, support }
        })
        .collect();
    let macro_f1 = if k > 0 { classes.iter().map(|c| c.f1).sum::<f64>() / k as f64 } else { 0.0 };
    let correct: usize = (0..k).map(|c| matrix[c][c]).sum();
    let rows = truth.len();
    Report {
        labels,
        matrix,
        classes,
        macro_f1,
        accuracy: if rows > 0 { correct as f64 / rows as f64 } else { 0.0 },
        rows,
    }
}

impl Report {
    /// Markdown: the per-class table, then the confusion matrix.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "macro-F1 **{:.3}**, accuracy {:.3}, {} rows\n",
            self.macro_f1, self.accuracy, self.rows
        );
        s.push_str("| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n");
        for c in &self.classes {
            let _ = writeln!(
                s,
                "| {} | {:.3} | {:.3} | {:.3} | {} |",
                c.label, c.precision, c.recall, c.f1, c.support
            );
        }
        s.push_str("\nConfusion matrix (rows: truth, columns: predicted; columns numbered as the rows):\n\n| truth \\ predicted |");
        for i in 0..self.labels.len() {
            let _ = write!(s, " {i} |");
        }
        s.push_str("\n|---|");
        s.push_str(&"---|".repeat(self.labels.len()));
        s.push('\n');
        for (i, (l, row)) in self.labels.iter().zip(&self.matrix).enumerate() {
            let _ = write!(s, "| {i} {l} |");
            for v in row {
                let _ = write!(s, " {v} |");
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn matches_sklearn_on_a_small_example() {
        // sklearn: precision_recall_fscore_support(["a","a","b","c"], ["a","b","b","b"])
        // → a: p=1 r=.5 f=.667; b: p=.333 r=1 f=.5; c: 0 0 0; macro F1 = .3889
        let r = evaluate(&v(&["a", "a", "b", "c"]), &v(&["a", "b", "b", "b"]));
        assert_eq!(r.labels, v(&["a", "b", "c"]));
        assert_eq!(r.matrix, vec![vec![1, 1, 0], vec![0, 1, 0], vec![0, 1, 0]]);
        assert!((r.classes[0].f1 - 2.0 / 3.0).abs() < 1e-9);
        assert!((r.classes[1].precision - 1.0 / 3.0).abs() < 1e-9);
        assert!((r.macro_f1 - 0.388_888_9).abs() < 1e-6);
        assert!((r.accuracy - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_label_only_predicted_counts_in_the_macro_average() {
        let r = evaluate(&v(&["a", "a"]), &v(&["a", "z"]));
        assert_eq!(r.labels.len(), 2);
        assert!((r.macro_f1 - (2.0 / 3.0) / 2.0).abs() < 1e-9);
    }
}
