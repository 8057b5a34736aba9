//! The learning curves annotated with a diagnosis (best epoch, over-fitting start).

use tuna_plot::{Figure, Marker};

use super::Diagnosis;
use crate::curves::learning_curves;
use crate::record::EpochRecord;

/// [`learning_curves`] with a marker at the best epoch and at each finding's marked epochs
/// (`overfitting starts`).
pub fn annotated_curves(records: &[EpochRecord], diagnosis: &Diagnosis, title: &str) -> Figure {
    let mut fig = learning_curves(records, title);
    let mut marks: Vec<(usize, String)> = diagnosis
        .findings
        .iter()
        .flat_map(|f| f.marks.iter().cloned())
        .collect();
    if let Some(b) = diagnosis.best_epoch {
        if !marks.iter().any(|(e, l)| *e == b && l == "best epoch") {
            marks.push((b, "best epoch".into()));
        }
    }
    for (e, label) in marks {
        fig = fig.with_marker(Marker::new(e as f64, label));
    }
    fig
}
