//! `DataLoader`: seeded, resumable, complete epochs with the right shapes and dtypes.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use tuna_data::{Batch, DataConfig, DataLoader, Dataset, LoaderConfig, Mnist, TensorDataset};
use tuna_tensor::DType;

/// `n` samples of shape [2] whose first feature is the sample's index.
fn indexed(n: usize) -> Arc<dyn Dataset> {
    let features = (0..n).flat_map(|i| [i as f32, -(i as f32)]).collect();
    let labels = (0..n).map(|i| i % 3).collect();
    Arc::new(TensorDataset::classification(features, &[2], labels, 3))
}

fn ids(b: &Batch) -> Vec<usize> {
    b.inputs
        .to_vec::<f32>()
        .chunks(2)
        .map(|r| r[0] as usize)
        .collect()
}

fn epoch_ids(l: &DataLoader, e: usize) -> Vec<Vec<usize>> {
    l.epoch(e).map(|b| ids(&b)).collect()
}

#[test]
fn same_seed_same_batches_other_epoch_other_order() {
    let ds = indexed(50);
    let a = DataLoader::new(ds.clone(), 8, true, false, 42);
    let b = DataLoader::new(ds.clone(), 8, true, false, 42);
    assert_eq!(epoch_ids(&a, 0), epoch_ids(&b, 0));
    assert_eq!(epoch_ids(&a, 3), epoch_ids(&b, 3));
    assert_ne!(epoch_ids(&a, 0), epoch_ids(&a, 1));
    let c = DataLoader::new(ds, 8, true, false, 43);
    assert_ne!(epoch_ids(&a, 0), epoch_ids(&c, 0));
    // the order of epoch 5 does not depend on epochs 0..5 having been drawn
    let fresh = DataLoader::new(indexed(50), 8, true, false, 42);
    assert_eq!(epoch_ids(&fresh, 5), epoch_ids(&a, 5));
}

#[test]
fn no_shuffle_is_in_order() {
    let l = DataLoader::new(indexed(10), 4, false, false, 0);
    assert_eq!(
        epoch_ids(&l, 7),
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
    );
}

#[test]
fn epoch_from_skips_batches() {
    let l = DataLoader::new(indexed(37), 5, true, false, 9);
    let all: Vec<Batch> = l.epoch(2).collect();
    for k in 0..=all.len() {
        let rest: Vec<Batch> = l.epoch_from(2, k).collect();
        assert_eq!(rest.len(), all.len() - k);
        for (r, a) in rest.iter().zip(&all[k..]) {
            assert_eq!(r.index, a.index);
            assert_eq!(r.inputs, a.inputs);
            assert_eq!(r.targets, a.targets);
        }
    }
    assert_eq!(l.epoch_from(2, 100).count(), 0);
}

#[test]
fn drop_last() {
    let keep = DataLoader::new(indexed(10), 4, true, false, 0);
    let drop = DataLoader::new(indexed(10), 4, true, true, 0);
    assert_eq!(keep.batches_per_epoch(), 3);
    assert_eq!(drop.batches_per_epoch(), 2);
    assert_eq!(drop.samples_per_epoch(), 8);
    let sizes: Vec<usize> = keep.epoch(0).map(|b| b.len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
    let sizes: Vec<usize> = drop.epoch(0).map(|b| b.len()).collect();
    assert_eq!(sizes, vec![4, 4]);
    // dropping does not change which samples come first
    assert_eq!(epoch_ids(&keep, 0)[..2], epoch_ids(&drop, 0)[..]);
    assert_eq!(drop.epoch(0).len(), 2);
}

#[test]
fn batch_shapes_and_dtypes() {
    let l = DataLoader::new(indexed(10), 4, false, false, 0);
    let b = l.epoch(0).next().unwrap();
    assert_eq!(b.inputs.shape(), &[4, 2]);
    assert_eq!(b.inputs.dtype(), DType::F32);
    assert_eq!(b.targets.shape(), &[4]);
    assert_eq!(b.targets.dtype(), DType::I64);
    assert_eq!(b.targets.to_vec::<i64>(), vec![0, 1, 2, 0]);
    assert_eq!(b.index, 0);

    let reg = Arc::new(TensorDataset::regression(
        (0..12).map(|v| v as f32).collect(),
        &[3],
        (0..8).map(|v| v as f32).collect(),
        2,
    ));
    let l = DataLoader::new(reg, 3, false, false, 0);
    let b: Vec<Batch> = l.epoch(0).collect();
    assert_eq!(b[0].inputs.shape(), &[3, 3]);
    assert_eq!(b[0].targets.shape(), &[3, 2]);
    assert_eq!(b[0].targets.dtype(), DType::F32);
    assert_eq!(b[1].targets.to_vec::<f32>(), vec![6.0, 7.0]);
    assert_eq!(b[1].index, 1);

    let mnist = Mnist::new("datasets/mnist-10k")
        .load(&common::ctx(0))
        .unwrap();
    let cfg = LoaderConfig {
        batch_size: 64,
        shuffle: true,
        ..LoaderConfig::default()
    };
    let l = DataLoader::train(mnist.train.clone(), &cfg, 0);
    let b = l.epoch(0).next().unwrap();
    assert_eq!(b.inputs.shape(), &[64, 1, 28, 28]);
    assert_eq!(b.targets.shape(), &[64]);
    assert_eq!(l.batches_per_epoch(), 125);
    let e = DataLoader::eval(mnist.test.unwrap(), &cfg);
    assert_eq!(e.batch_size(), 64);
    assert_eq!(e.epoch(0).map(|b| b.len()).sum::<usize>(), 2000);
}

#[test]
fn loader_config_validation() {
    let c: LoaderConfig = toml::from_str("batch_size = 0").unwrap();
    assert_eq!(
        c.validate().unwrap_err().to_string(),
        "loader.batch_size: must be >= 1, got 0"
    );
    assert!(toml::from_str::<LoaderConfig>("batch_size = 2\nshufle = true").is_err());
    let c: LoaderConfig = toml::from_str("batch_size = 32\nshuffle = true").unwrap();
    assert_eq!(c.resolved_eval_batch_size(), 32);
    let c: LoaderConfig = toml::from_str("batch_size = 32\neval_batch_size = 256").unwrap();
    assert_eq!(c.resolved_eval_batch_size(), 256);
}

proptest! {
    #[test]
    fn every_epoch_is_a_permutation(
        n in 1usize..200,
        batch in 1usize..40,
        seed in any::<u64>(),
        epoch in 0usize..1000,
        shuffle in any::<bool>(),
    ) {
        let l = DataLoader::new(indexed(n), batch, shuffle, false, seed);
        let mut seen: Vec<usize> = l.epoch(epoch).flat_map(|b| ids(&b)).collect();
        prop_assert_eq!(seen.len(), n);
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
        // and the batches carry matching targets
        for b in l.epoch(epoch) {
            let t = b.targets.to_vec::<i64>();
            for (i, id) in ids(&b).into_iter().enumerate() {
                prop_assert_eq!(t[i] as usize, id % 3);
            }
        }
    }

    #[test]
    fn drop_last_epoch_has_no_duplicates(
        n in 1usize..200,
        batch in 1usize..40,
        seed in any::<u64>(),
    ) {
        let l = DataLoader::new(indexed(n), batch, true, true, seed);
        let mut seen: Vec<usize> = l.epoch(0).flat_map(|b| ids(&b)).collect();
        prop_assert_eq!(seen.len(), (n / batch) * batch);
        seen.sort_unstable();
        seen.dedup();
        prop_assert_eq!(seen.len(), (n / batch) * batch);
    }
}
