//! Learning-curve plots of a run: what a run folder's `curves.svg` / `curves.png` show.
//!
//! ```
//! use tuna_train::{curves::learning_curves, EpochRecord};
//!
//! let records: Vec<EpochRecord> = (1..=3)
//!     .map(|e| {
//!         let mut r = EpochRecord::new(e);
//!         r.set("train_loss", 1.0 / e as f64);
//!         r.set("val_loss", 1.2 / e as f64);
//!         r.set("lr", 0.1);
//!         r
//!     })
//!     .collect();
//! let figure = learning_curves(&records, "mnist-mlp");
//! assert_eq!(figure.panels.len(), 2); // loss, lr
//! assert!(figure.to_svg().contains(">validation</text>"));
//! ```

use std::collections::BTreeSet;

use tuna_plot::{Figure, Panel, Series};

use crate::record::EpochRecord;

/// The series name of `train_<metric>` values.
pub const TRAIN: &str = "train";
/// The series name of `val_<metric>` values.
pub const VALIDATION: &str = "validation";

/// The learning curves of `records` (one per epoch, in order), x = epoch:
///
/// - a `loss` panel (y from 0) with `train_loss` and `val_loss` as "train" and "validation";
/// - one panel per other metric found in the records (`train_<m>` / `val_<m>`), sorted by
///   name;
/// - an `lr` panel, on a log scale when the learning rate spans more than a factor of 10.
///
/// A key missing from some epochs, or a NaN value (a diverged loss), is a gap in its line;
/// a series that never appears is left out (a run without validation has train lines only),
/// and so is a panel with no series. Keys other than `train_*`, `val_*` and `lr` (`seconds`)
/// are not plotted. Markers ("best epoch") can be added to the result with
/// [`Figure::with_marker`].
///
/// No records give a figure without panels, titled `"<title> (no epochs recorded)"`, which
/// still renders to SVG and PNG: a run that stopped before its first epoch ended still gets
/// a (blank) curves file rather than an error. The x axis is ticked at whole epochs.
pub fn learning_curves(records: &[EpochRecord], title: &str) -> Figure {
    if records.is_empty() {
        return Figure::new(
            &format!("{title} (no epochs recorded)"),
            "epoch",
            Vec::new(),
        );
    }
    let epochs: Vec<f64> = records.iter().map(|r| r.epoch as f64).collect();
    let column = |key: &str| -> Option<Vec<f64>> {
        records.iter().any(|r| r.get(key).is_some()).then(|| {
            records
                .iter()
                .map(|r| r.get(key).unwrap_or(f64::NAN))
                .collect()
        })
    };

    let mut metrics: BTreeSet<&str> = BTreeSet::new();
    for r in records {
        for key in r.values.keys() {
            if let Some(m) = key
                .strip_prefix("train_")
                .or_else(|| key.strip_prefix("val_"))
            {
                metrics.insert(m);
            }
        }
    }
    let loss_first = metrics
        .contains("loss")
        .then_some("loss")
        .into_iter()
        .chain(metrics.iter().copied().filter(|m| *m != "loss"));

    let mut panels = Vec::new();
    for metric in loss_first {
        let mut panel = Panel::new(metric).from_zero(metric == "loss");
        for (prefix, name) in [("train_", TRAIN), ("val_", VALIDATION)] {
            if let Some(y) = column(&format!("{prefix}{metric}")) {
                panel = panel.with_series(Series::new(name, epochs.clone(), y));
            }
        }
        panels.push(panel);
    }
    if let Some(lr) = column("lr") {
        let positive = lr.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
        let (lo, hi) = positive.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let log = hi > 10.0 * lo;
        panels.push(
            Panel::new("lr")
                .with_series(Series::new("lr", epochs, lr))
                .from_zero(!log)
                .log_y(log),
        );
    }
    Figure::new(title, "epoch", panels).integer_x(true)
}
