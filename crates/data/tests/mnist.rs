//! The bundled MNIST-10k through the `Mnist` config, raw and gzip IDX files, and every
//! corrupt-file error.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::{class_counts, ctx, feature_stats, labels, repo_root, temp_dir};
use tuna_data::{
    read_idx_images, read_idx_labels, read_mnist, DataConfig, Mnist, Task, MNIST_FILES, MNIST_MEAN,
    MNIST_STD,
};

const TRAIN_COUNTS: [usize; 10] = [805, 896, 797, 811, 789, 695, 805, 859, 767, 776];
const TEST_COUNTS: [usize; 10] = [196, 231, 194, 221, 191, 168, 209, 211, 177, 202];

fn bundled() -> PathBuf {
    repo_root().join("datasets/mnist-10k")
}

#[test]
fn loads_bundled_mnist() {
    let splits = Mnist::new("datasets/mnist-10k").load(&ctx(0)).unwrap();
    assert_eq!(splits.train.len(), 8000);
    assert!(splits.validation.is_none());
    let test = splits.test.as_ref().unwrap();
    assert_eq!(test.len(), 2000);
    assert_eq!(splits.train.input_kind().sample_shape(), &[1, 28, 28]);
    assert_eq!(class_counts(&*splits.train, 10), TRAIN_COUNTS);
    assert_eq!(class_counts(&**test, 10), TEST_COUNTS);
    match &splits.task {
        Task::Classification {
            num_classes,
            class_names,
        } => {
            assert_eq!(*num_classes, 10);
            let expected: Vec<String> = (0..10).map(|d| d.to_string()).collect();
            assert_eq!(class_names, &expected);
        }
        t => panic!("{t:?}"),
    }
    // normalized: background pixels are (0 - 0.1307) / 0.3081, ink up to (1 - 0.1307) / 0.3081
    let (mean, _) = feature_stats(&*splits.train);
    let overall = mean.iter().sum::<f64>() / mean.len() as f64;
    assert!(overall.abs() < 0.1, "normalized pixel mean {overall}");
    let s = splits.train.get(0);
    let lo = -MNIST_MEAN / MNIST_STD;
    let hi = (1.0 - MNIST_MEAN) / MNIST_STD;
    assert!(s
        .input
        .as_dense()
        .iter()
        .all(|&x| x >= lo - 1e-6 && x <= hi + 1e-6));
    assert!((s.input.as_dense()[0] - lo).abs() < 1e-6);
}

#[test]
fn unnormalized_pixels_in_unit_interval() {
    let mut m = Mnist::new("datasets/mnist-10k");
    m.normalize = false;
    m.test = false;
    let splits = m.load(&ctx(0)).unwrap();
    assert!(splits.test.is_none());
    let mut max = 0.0f32;
    for i in 0..100 {
        for &x in splits.train.get(i).input.as_dense().iter() {
            assert!((0.0..=1.0).contains(&x));
            // grey levels are k/255 exactly
            assert!(((x * 255.0).round() - x * 255.0).abs() < 1e-4);
            max = max.max(x);
        }
    }
    assert_eq!(max, 1.0);
    // torchvision's constants are the full MNIST statistics; this subset is close to them
    let (mean, std) = feature_stats(&*splits.train);
    let m = mean.iter().sum::<f64>() / mean.len() as f64;
    assert!((m - f64::from(MNIST_MEAN)).abs() < 0.01, "mean {m}");
    assert!(std.iter().any(|&s| s > 0.3));
}

#[test]
fn stratified_validation_split() {
    let mut m = Mnist::new("datasets/mnist-10k");
    m.validation = 0.1;
    let splits = m.load(&ctx(3)).unwrap();
    let val = splits.validation.as_ref().unwrap();
    assert_eq!(splits.train.len() + val.len(), 8000);
    assert_eq!(val.len(), 800);
    let vc = class_counts(&**val, 10);
    for (c, (&v, &all)) in vc.iter().zip(&TRAIN_COUNTS).enumerate() {
        let expected = all as f64 * 0.1;
        assert!(
            (v as f64 - expected).abs() <= 1.0,
            "class {c}: {v} vs {expected}"
        );
    }
    // the same seed gives the same split; another seed another one
    let again = m.load(&ctx(3)).unwrap();
    assert_eq!(
        labels(&**again.validation.as_ref().unwrap()),
        labels(&**val)
    );
    let other = m.load(&ctx(4)).unwrap();
    let a: Vec<f32> = val.get(0).input.as_dense().to_vec();
    let b: Vec<f32> = other
        .validation
        .as_ref()
        .unwrap()
        .get(0)
        .input
        .as_dense()
        .to_vec();
    assert_ne!(a, b);
    // non-stratified: same size
    m.stratified = false;
    let plain = m.load(&ctx(3)).unwrap();
    assert_eq!(plain.validation.unwrap().len(), 800);
}

#[test]
fn train_subset_is_seeded_prefix() {
    let mut m = Mnist::new("datasets/mnist-10k");
    m.train_subset = Some(500);
    m.validation = 0.2;
    m.test = false;
    let a = m.load(&ctx(1)).unwrap();
    assert_eq!(a.train.len(), 400);
    assert_eq!(a.validation.as_ref().unwrap().len(), 100);
    let b = m.load(&ctx(1)).unwrap();
    assert_eq!(labels(&*a.train), labels(&*b.train));
    m.train_subset = Some(9000);
    let e = m.load(&ctx(1)).unwrap_err().to_string();
    assert!(
        e.starts_with("data.train_subset: 9000 is more than the 8000"),
        "{e}"
    );
}

/// Decompresses the bundled files into a folder without `.gz`.
fn raw_copy() -> PathBuf {
    let dir = temp_dir("raw");
    for name in MNIST_FILES {
        let mut gz = Vec::new();
        std::fs::File::open(bundled().join(format!("{name}.gz")))
            .unwrap()
            .read_to_end(&mut gz)
            .unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        std::fs::write(dir.join(name), raw).unwrap();
    }
    dir
}

#[test]
fn raw_files_read_like_gzip() {
    let dir = raw_copy();
    let raw = Mnist::new(&dir).load(&ctx(0)).unwrap();
    let gz = Mnist::new("datasets/mnist-10k").load(&ctx(0)).unwrap();
    assert_eq!(labels(&*raw.train), labels(&*gz.train));
    assert_eq!(
        raw.train.get(123).input.as_dense(),
        gz.train.get(123).input.as_dense()
    );
    let imgs = read_idx_images(&dir.join(MNIST_FILES[0])).unwrap();
    assert_eq!((imgs.count, imgs.rows, imgs.cols), (8000, 28, 28));
    assert_eq!(imgs.pixels.len(), 8000 * 784);
    assert_eq!(
        read_idx_labels(&dir.join(MNIST_FILES[1])).unwrap().len(),
        8000
    );
}

#[test]
fn gzip_detected_by_magic_not_name() {
    let dir = temp_dir("magic");
    // gzip content under a name without .gz
    let p = dir.join("labels.idx");
    std::fs::copy(bundled().join("t10k-labels-idx1-ubyte.gz"), &p).unwrap();
    assert_eq!(read_idx_labels(&p).unwrap().len(), 2000);
    // raw content under a .gz name
    let raw = raw_copy().join("t10k-labels-idx1-ubyte");
    let q = dir.join("labels.gz");
    std::fs::copy(raw, &q).unwrap();
    assert_eq!(read_idx_labels(&q).unwrap().len(), 2000);
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn truncated_images_name_file_offset_and_lengths() {
    let dir = temp_dir("trunc");
    let p = write(&dir, "imgs", &idx(2051, &[3, 28, 28], &[0; 784 * 2 + 10]));
    let e = read_idx_images(&p).unwrap_err().to_string();
    assert!(e.starts_with(&p.display().to_string()), "{e}");
    assert!(
        e.contains("byte 16: truncated data: expected 2352 bytes (3 images of 28x28), found 1578"),
        "{e}"
    );
    // the same inside gzip: offsets refer to the decompressed data
    let q = write(&dir, "imgs.gz", &gzip(&idx(2051, &[3, 28, 28], &[0; 100])));
    let e = read_idx_images(&q).unwrap_err().to_string();
    assert!(e.contains("imgs.gz: byte 16: truncated data"), "{e}");
    assert!(e.contains("decompressed"), "{e}");
    // a truncated gzip stream
    let full = gzip(&idx(2049, &[1000], &[1; 1000]));
    let r = write(&dir, "cut.gz", &full[..full.len() / 2]);
    let e = read_idx_labels(&r).unwrap_err().to_string();
    assert!(e.starts_with(&r.display().to_string()), "{e}");
    assert!(e.contains("corrupt gzip data"), "{e}");
}

#[test]
fn wrong_magic() {
    let dir = temp_dir("magic-bad");
    let p = write(&dir, "labels-as-images", &idx(2049, &[2], &[1, 2]));
    let e = read_idx_images(&p).unwrap_err().to_string();
    assert!(e.starts_with(&p.display().to_string()), "{e}");
    assert!(
        e.contains(
            "byte 0: wrong magic number: expected 2051 (0x00000803, IDX images), found 2049"
        ),
        "{e}"
    );
    let p = write(&dir, "text.idx", b"hello, this is not IDX at all");
    let e = read_idx_labels(&p).unwrap_err().to_string();
    assert!(
        e.contains("text.idx: byte 0: wrong magic number: expected 2049"),
        "{e}"
    );
}

#[test]
fn gzip_garbage() {
    let dir = temp_dir("gzgarbage");
    let mut bytes = vec![0x1f, 0x8b, 8, 0];
    bytes.extend((0..200u32).map(|i| (i * 37 % 251) as u8));
    let p = write(&dir, "train-images-idx3-ubyte.gz", &bytes);
    let e = read_idx_images(&p).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: corrupt gzip data", p.display())),
        "{e}"
    );
}

#[test]
fn count_mismatch_and_bad_label() {
    let dir = temp_dir("labels");
    let imgs = write(&dir, "imgs", &idx(2051, &[2, 2, 2], &[0; 8]));
    let labs = write(&dir, "labs", &idx(2049, &[3], &[1, 2, 3]));
    let e = read_mnist(&imgs, &labs, true).unwrap_err().to_string();
    assert!(e.starts_with(&labs.display().to_string()), "{e}");
    assert!(e.contains("3 labels for 2 images in"), "{e}");
    let labs = write(&dir, "labs2", &idx(2049, &[2], &[4, 10]));
    let e = read_mnist(&imgs, &labs, true).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: byte 9: label 10 of item 1 is out of range 0..=9",
            labs.display()
        )
    );
}

#[test]
fn missing_files_named() {
    let dir = temp_dir("missing");
    let e = Mnist::new(&dir).load(&ctx(0)).unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz: file not found"),
        "{e}"
    );
    assert!(e.contains("train-images-idx3-ubyte)"), "{e}");
    let e = Mnist::new(dir.join("nope"))
        .load(&ctx(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope not found; looked in "), "{e}");
    // test files missing only matters with test = true
    for name in &MNIST_FILES[..2] {
        std::fs::copy(
            bundled().join(format!("{name}.gz")),
            dir.join(format!("{name}.gz")),
        )
        .unwrap();
    }
    let e = Mnist::new(&dir).load(&ctx(0)).unwrap_err().to_string();
    assert!(
        e.contains("t10k-images-idx3-ubyte.gz: file not found"),
        "{e}"
    );
    let mut m = Mnist::new(&dir);
    m.test = false;
    assert_eq!(m.load(&ctx(0)).unwrap().train.len(), 8000);
}
