//! What a run folder's durability costs: a whole 100-epoch run on a 178-row, 13-feature table
//! (the size of UCI wine) and the shipped iris example, each
//! - `no_folder`: no run folder at all (nothing written),
//! - `every_epoch`: a run folder with `last.ckpt` (and `best.ckpt` when the best epoch moved)
//!   written and fsynced after every epoch (`checkpoint_min_seconds = 0`, the behaviour before
//!   the throttle),
//! - `default`: a run folder with the shipped settings (`checkpoint_min_seconds = 10`: the best
//!   weights stay in memory and go to disk with the next `last.ckpt`).
//!
//! `(folder − no_folder) / folder` bounds the share of wall time spent writing the run folder
//! (checkpoints, metrics, weights, figures). The numbers are in the Running-experiments chapter.
//!
//! `cargo bench --bench checkpoint_io`

#![allow(missing_docs)] // criterion_group! generates undocumented items

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::path::{Path, PathBuf};
use tuna::train::{Experiment, RunDir, Trainer};

/// A 178 × 13 table with 3 classes whose means differ, written once as CSV.
fn wine_sized_table(dir: &Path) -> PathBuf {
    let path = dir.join("table178.csv");
    let x = support::uniform(7, 178 * 13, -1.0, 1.0);
    let y = support::labels(8, 178, 3);
    let mut csv = String::new();
    for (r, label) in y.iter().enumerate() {
        for c in 0..13 {
            let shift = if c % 3 == *label as usize { 1.0 } else { 0.0 };
            csv.push_str(&format!("{},", x[r * 13 + c] + shift));
        }
        csv.push_str(&format!("{label}\n"));
    }
    std::fs::write(&path, csv).expect("write table");
    path
}

fn table_experiment(csv: &Path) -> String {
    format!(
        r#"
seed = 0
[data]
type = "Csv"
path = "{}"
header = false
label = 13
validation = 0.2
standardize = true
[loader]
batch_size = 16
shuffle = true
[model]
type = "Sequential"
layers = [
  {{ type = "Linear", in_features = 13, out_features = 32 }},
  {{ type = "ReLU" }},
  {{ type = "Linear", in_features = 32, out_features = 3 }},
]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "Adam"
lr = 0.001
[train]
epochs = 100
"#,
        csv.display()
    )
}

fn trainer(config: &Path, min_seconds: Option<f64>, folder: Option<&Path>) -> Trainer {
    let mut set = vec!["train.test=false".to_string()];
    if let Some(s) = min_seconds {
        set.push(format!("train.checkpoint_min_seconds={s}"));
    }
    let exp = Experiment::load(config, &set).expect("config");
    let ctx = exp.data_context();
    let mut t = Trainer::new(exp, &ctx).expect("trainer");
    if let Some(dir) = folder {
        let _ = std::fs::remove_dir_all(dir);
        t.set_run_dir(RunDir::create(dir).expect("run folder"))
            .expect("set run folder");
    }
    t
}

/// The median over 5 runs of `checkpoint_seconds / wall_seconds` from the run's summary.
fn checkpoint_share(config: &Path, min_seconds: Option<f64>, folder: Option<&Path>) -> f64 {
    let mut shares: Vec<f64> = (0..5)
        .map(|_| {
            let s = trainer(config, min_seconds, folder).fit().expect("fit");
            s.checkpoint_seconds / s.wall_seconds
        })
        .collect();
    shares.sort_by(f64::total_cmp);
    shares[2]
}

fn bench(c: &mut Criterion) {
    tuna::link_all();
    tuna::tensor::set_num_threads(1);
    let scratch = std::env::temp_dir().join(format!("tuna-bench-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let table = scratch.join("table178.toml");
    std::fs::write(&table, table_experiment(&wine_sized_table(&scratch))).expect("config");
    let iris = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/configs/iris.toml"
    ));
    let run = scratch.join("run");
    for (group, config) in [("table178_100_epochs", &table), ("iris_example", &iris)] {
        let mut g = c.benchmark_group(group);
        g.sample_size(10);
        let variants: [(&str, Option<f64>, Option<&Path>); 3] = [
            ("no_folder", None, None),
            ("every_epoch", Some(0.0), Some(&run)),
            ("default", None, Some(&run)),
        ];
        for (name, min_seconds, folder) in variants {
            g.bench_function(name, |b| {
                b.iter_batched(
                    || trainer(config, min_seconds, folder),
                    |mut t| t.fit().expect("fit"),
                    BatchSize::PerIteration,
                )
            });
        }
        g.finish();
        for (name, min_seconds, folder) in &variants[1..] {
            println!(
                "{group}/{name}: checkpoint writing {:.1} % of wall time (median of 5 runs)",
                checkpoint_share(config, *min_seconds, *folder) * 100.0
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

criterion_group!(benches, bench);
criterion_main!(benches);
