//! The image data plugins on small generated files: CIFAR-10/100 records read back pixel for
//! pixel (labels, fine/coarse, class names, truncated files), and ImageFolder's classes,
//! errors (different sizes, unreadable files, `on_error = "skip"`) and parallel loading that
//! gives the serial batches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tuna_data::{DataConfig, DataContext, DataLoader, DataSplits, Dataset, Task};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tuna-data-images-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn load(json: serde_json::Value) -> Result<DataSplits, String> {
    tuna_data::link();
    let cfg: Box<dyn DataConfig> = serde_json::from_value(json).map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.to_string())?;
    cfg.load(&DataContext::new(0)).map_err(|e| e.to_string())
}

/// Pixel byte `k` of record `r` (deterministic, covers 0..=255).
fn pixel(r: usize, k: usize) -> u8 {
    ((r * 7919 + k * 31) % 256) as u8
}

/// A CIFAR file of `n` records with `labels(r)` as label bytes.
fn write_cifar(path: &Path, n: usize, labels: impl Fn(usize) -> Vec<u8>) {
    let mut bytes = Vec::new();
    for r in 0..n {
        bytes.extend(labels(r));
        bytes.extend((0..3072).map(|k| pixel(r, k)));
    }
    std::fs::write(path, bytes).unwrap();
}

fn task_classes(s: &DataSplits) -> Vec<String> {
    match &s.task {
        Task::Classification { class_names, .. } => class_names.clone(),
        t => panic!("not classification: {t:?}"),
    }
}

#[test]
fn cifar10_records_are_read_back_exactly_with_torchvision_class_names() {
    let dir = scratch("cifar10");
    for i in 1..=5 {
        write_cifar(&dir.join(format!("data_batch_{i}.bin")), 4, |r| {
            vec![((i + r) % 10) as u8]
        });
    }
    write_cifar(&dir.join("test_batch.bin"), 3, |r| vec![r as u8]);
    let s = load(serde_json::json!({ "type": "Cifar10", "path": dir })).unwrap();
    assert_eq!(s.train.len(), 20);
    assert_eq!(s.test.as_ref().unwrap().len(), 3);
    assert_eq!(task_classes(&s)[0], "airplane");
    assert_eq!(task_classes(&s)[9], "truck");
    // without transforms a sample is the record's pixels / 255, planar [3, 32, 32]
    let test = s.test.as_ref().unwrap();
    let sample = test.get(2);
    let x = sample.input.as_dense();
    assert_eq!(x.len(), 3072);
    for k in [0usize, 1023, 1024, 2047, 3071] {
        assert!(
            (x[k] - f32::from(pixel(2, k)) / 255.0).abs() < 1e-6,
            "pixel {k}"
        );
    }
    assert_eq!(sample.target, tuna_data::Target::Class(2));

    // a truncated file is named with the offset of its last whole record
    let f = dir.join("data_batch_3.bin");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes.truncate(3073 * 2 + 100);
    std::fs::write(&f, bytes).unwrap();
    let e = load(serde_json::json!({ "type": "Cifar10", "path": dir })).unwrap_err();
    assert!(
        e.contains("data_batch_3.bin") && e.contains("byte 6146"),
        "{e}"
    );
}

#[test]
fn cifar100_takes_fine_or_coarse_labels_and_rejects_labels_out_of_range() {
    let dir = scratch("cifar100");
    write_cifar(&dir.join("train.bin"), 6, |r| {
        vec![(r % 20) as u8, (r * 17 % 100) as u8]
    });
    write_cifar(&dir.join("test.bin"), 2, |r| vec![r as u8, 50 + r as u8]);
    let fine = load(serde_json::json!({ "type": "Cifar100", "path": dir })).unwrap();
    let coarse = load(serde_json::json!({
        "type": "Cifar100", "path": dir, "label_mode": "coarse"
    }))
    .unwrap();
    assert_eq!(task_classes(&fine).len(), 100);
    assert_eq!(task_classes(&coarse).len(), 20);
    assert_eq!(fine.train.get(5).target, tuna_data::Target::Class(85));
    assert_eq!(coarse.train.get(5).target, tuna_data::Target::Class(5));

    write_cifar(&dir.join("test.bin"), 2, |_| vec![0, 100]);
    let e = load(serde_json::json!({ "type": "Cifar100", "path": dir })).unwrap_err();
    assert!(e.contains("test.bin") && e.contains("100"), "{e}");
}

#[cfg(feature = "images")]
mod folder {
    use super::*;
    use tuna_data::image::write_png;

    /// `root/<class>/<n>.png`, `side`x`side` grayscale, pixel value `10 · n + class`.
    fn image_folder(root: &Path, classes: &[&str], per_class: usize, side: usize) {
        for (c, name) in classes.iter().enumerate() {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            for n in 0..per_class {
                let v = (10 * n + c) as u8;
                write_png(
                    &dir.join(format!("{n}.png")),
                    1,
                    side,
                    side,
                    &vec![v; side * side],
                )
                .unwrap();
            }
        }
    }

    fn folder(root: &Path, extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({ "type": "ImageFolder", "path": root, "mode": "L" });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    }

    #[test]
    fn classes_are_the_sorted_folder_names_and_pixels_come_back() {
        let root = scratch("folder");
        image_folder(&root, &["zebra", "apple", "mango"], 3, 4);
        let s = load(folder(&root, serde_json::json!({}))).unwrap();
        assert_eq!(task_classes(&s), ["apple", "mango", "zebra"]);
        assert_eq!(s.train.len(), 9);
        for i in 0..9 {
            let sample = s.train.get(i);
            let tuna_data::Target::Class(k) = sample.target else {
                panic!()
            };
            // folder "apple" was written as class 1, "mango" 2, "zebra" 0
            let written = [1usize, 2, 0][k];
            let v = sample.input.as_dense()[0] * 255.0;
            assert_eq!((v.round() as usize) % 10, written, "sample {i}");
        }
    }

    #[test]
    fn images_of_different_sizes_need_a_resize_and_the_error_names_them() {
        let root = scratch("sizes");
        image_folder(&root, &["a", "b"], 2, 4);
        write_png(&root.join("b/big.png"), 1, 6, 5, &[9; 30]).unwrap();
        let e = load(folder(&root, serde_json::json!({}))).unwrap_err();
        assert!(
            e.contains("different sizes") && e.contains("big.png") && e.contains("6x5"),
            "{e}"
        );
        assert!(e.contains("Resize"), "{e}");
        let ok = load(folder(
            &root,
            serde_json::json!({ "train_transforms": [{ "type": "Resize", "size": [4, 4] }] }),
        ))
        .unwrap();
        assert_eq!(ok.train.len(), 5);
        assert_eq!(ok.train.input_kind().sample_shape(), [1, 4, 4]);
    }

    #[test]
    fn an_unreadable_file_is_named_or_skipped_with_a_count() {
        let root = scratch("broken");
        image_folder(&root, &["a", "b"], 3, 4);
        std::fs::write(root.join("a/broken.png"), b"\x89PNG not really").unwrap();
        let e = load(folder(&root, serde_json::json!({}))).unwrap_err();
        assert!(e.contains("broken.png"), "{e}");
        let s = load(folder(&root, serde_json::json!({ "on_error": "skip" }))).unwrap();
        assert_eq!(s.train.len(), 6);
        assert!(
            s.notes.iter().any(|n| n.contains("skipped 1 file")),
            "{:?}",
            s.notes
        );
    }

    #[test]
    fn worker_threads_give_the_serial_batches_with_augmentation() {
        let root = scratch("workers");
        image_folder(&root, &["a", "b", "c"], 20, 8);
        let s = load(folder(
            &root,
            serde_json::json!({ "cache_mib": 0, "train_transforms": [
                { "type": "RandomCrop", "size": 8, "padding": 2 },
                { "type": "RandomHorizontalFlip" },
                { "type": "RandomErasing", "p": 0.5 }
            ] }),
        ))
        .unwrap();
        let data: Arc<dyn Dataset> = s.train.clone();
        let serial = DataLoader::new(data.clone(), 7, true, false, 3);
        let parallel = DataLoader::new(data, 7, true, false, 3).with_workers(2, 2);
        for epoch in [0, 1, 5] {
            let a: Vec<_> = serial
                .try_epoch_from(epoch, 0)
                .map(Result::unwrap)
                .collect();
            let b: Vec<_> = parallel
                .try_epoch_from(epoch, 0)
                .map(Result::unwrap)
                .collect();
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(
                    x.inputs.to_vec::<f32>(),
                    y.inputs.to_vec::<f32>(),
                    "epoch {epoch}"
                );
                assert_eq!(x.targets.to_vec::<i64>(), y.targets.to_vec::<i64>());
            }
        }
        let e0: Vec<f32> = serial
            .try_epoch_from(0, 0)
            .next()
            .unwrap()
            .unwrap()
            .inputs
            .to_vec();
        let e1: Vec<f32> = serial
            .try_epoch_from(1, 0)
            .next()
            .unwrap()
            .unwrap()
            .inputs
            .to_vec();
        assert_ne!(e0, e1, "each epoch draws anew");
    }
}
