//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use tuna_data::{DataContext, Dataset, Target};

/// The repository root (the tests run with cwd = crates/data).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A context resolving paths against the repository root.
pub fn ctx(seed: u64) -> DataContext {
    DataContext {
        base_dirs: vec![repo_root()],
        seed,
        fitted: None,
    }
}

/// A fresh, empty temporary folder unique to this test process and call.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tuna-data-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The class index of every sample.
pub fn labels(ds: &dyn Dataset) -> Vec<usize> {
    (0..ds.len())
        .map(|i| match ds.get(i).target {
            Target::Class(c) => c,
            _ => panic!("not a classification dataset"),
        })
        .collect()
}

/// Samples per class.
pub fn class_counts(ds: &dyn Dataset, num_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; num_classes];
    for l in labels(ds) {
        counts[l] += 1;
    }
    counts
}

/// Per-feature mean and population std over a dataset.
pub fn feature_stats(ds: &dyn Dataset) -> (Vec<f64>, Vec<f64>) {
    let per: usize = ds.input_kind().sample_shape().iter().product();
    let n = ds.len() as f64;
    let mut mean = vec![0.0; per];
    for i in 0..ds.len() {
        for (m, &x) in mean.iter_mut().zip(ds.get(i).input.as_dense().iter()) {
            *m += f64::from(x) / n;
        }
    }
    let mut var = vec![0.0; per];
    for i in 0..ds.len() {
        for ((v, &x), m) in var
            .iter_mut()
            .zip(ds.get(i).input.as_dense().iter())
            .zip(&mean)
        {
            *v += (f64::from(x) - m).powi(2) / n;
        }
    }
    (mean, var.into_iter().map(f64::sqrt).collect())
}
