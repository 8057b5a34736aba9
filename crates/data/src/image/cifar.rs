//! CIFAR-10 and CIFAR-100 from the binary version users download
//! (`cifar-10-binary.tar.gz`, `cifar-100-binary.tar.gz`): torchvision's `datasets.CIFAR10` and
//! `CIFAR100` as `[3, 32, 32]` images.
//!
//! A CIFAR-10 file (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`) is a sequence
//! of 3073-byte records: the label byte (0–9), then 1024 red, 1024 green and 1024 blue
//! bytes, each plane row-major. A CIFAR-100 file (`train.bin`, `test.bin`) has two label bytes
//! (coarse 0–19, fine 0–99) before the 3072 pixel bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::dataset::{ImageStore, MemoryImages};
use super::splits::{image_splits, ImageSource, ImageSplitOptions, ImageTransforms};
use crate::config::{DataConfig, DataContext, DataSplits};
use crate::error::DataError;
use crate::files::read_maybe_gz;
use crate::transform::Transform;

/// Pixel bytes of one CIFAR image (`3 · 32 · 32`).
const PIXELS: usize = 3 * 32 * 32;

/// torchvision's CIFAR-10 class names (also in `batches.meta.txt`).
const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Reads one CIFAR binary file: records of `label_bytes` label bytes and 3072 pixel bytes;
/// the label is byte `label_index` of the record and must be below `num_classes`.
///
/// # Errors
/// [`DataError::Io`] for an unreadable file; [`DataError::Parse`] naming the file and the
/// byte offset for a length that is not a whole number of records or a label out of range.
pub fn read_cifar(
    path: &Path,
    label_bytes: usize,
    label_index: usize,
    num_classes: usize,
) -> Result<(MemoryImages, Vec<usize>), DataError> {
    let (bytes, _) = read_maybe_gz(path)?;
    let record = label_bytes + PIXELS;
    if bytes.is_empty() || bytes.len() % record != 0 {
        let whole = bytes.len() / record * record;
        return Err(DataError::parse(
            path,
            format!("byte {whole}"),
            format!(
                "truncated or not a CIFAR file: {} bytes is not a whole number of {record}-byte \
                 records ({label_bytes} label byte(s) + 3072 pixels)",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / record;
    let mut pixels = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for (i, r) in bytes.chunks_exact(record).enumerate() {
        let l = usize::from(r[label_index]);
        if l >= num_classes {
            return Err(DataError::parse(
                path,
                format!("byte {}", i * record + label_index),
                format!("label {l} of record {i} is out of range 0..{num_classes}"),
            ));
        }
        labels.push(l);
        pixels.extend_from_slice(&r[label_bytes..]);
    }
    let source = path.display().to_string();
    Ok((MemoryImages::new([3, 32, 32], pixels, source), labels))
}

fn yes() -> bool {
    true
}

/// Reads and concatenates several CIFAR files.
fn read_all(
    dir: &Path,
    names: &[String],
    label_bytes: usize,
    label_index: usize,
    num_classes: usize,
) -> Result<(MemoryImages, Vec<usize>), DataError> {
    let (mut pixels, mut all_labels) = (Vec::new(), Vec::new());
    let mut source = String::new();
    for name in names {
        let path = find_file(dir, name)?;
        let (imgs, labels) = read_cifar(&path, label_bytes, label_index, num_classes)?;
        pixels.extend(imgs.into_pixels());
        all_labels.extend(labels);
        source = if names.len() > 1 {
            format!("{} ({})", dir.display(), names.join(", "))
        } else {
            path.display().to_string()
        };
    }
    Ok((MemoryImages::new([3, 32, 32], pixels, source), all_labels))
}

/// `dir/name` or `dir/name.gz`.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let p = dir.join(name);
    if p.is_file() {
        return Ok(p);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::io(
        p,
        "file not found (expected the CIFAR binary files in this folder)",
    ))
}

/// Class names from a names file (one per line), if present with `n` names.
fn read_names(dir: &Path, file: &str, n: usize) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    (names.len() == n).then_some(names)
}

fn resolve_dir(ctx: &DataContext, path: &Path) -> Result<PathBuf, DataError> {
    let dir = ctx.resolve("data.path", path)?;
    if !dir.is_dir() {
        return Err(DataError::io(
            &dir,
            "not a folder (expected the folder holding the CIFAR .bin files)",
        ));
    }
    Ok(dir)
}

macro_rules! cifar_fields {
    ($(#[$m:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The folder holding the binary files (relative paths are resolved with
            /// [`DataContext::resolve`]).
            pub path: PathBuf,
            /// Fraction of the training images held out for validation, in `[0, 1)`
            /// (default 0).
            #[serde(default)]
            pub validation: f64,
            /// Split the validation set per class (default `true`).
            #[serde(default = "yes")]
            pub stratified: bool,
            /// Train on this many training images (a seeded choice, before the validation
            /// split). Default: all.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub train_subset: Option<usize>,
            /// Load the test file as the test split (torchvision's `train=False`); default
            /// `true`.
            #[serde(default = "yes")]
            pub test: bool,
            /// The seed of the validation split and `train_subset` (default: the
            /// experiment's).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub split_seed: Option<u64>,
            /// Transforms of training images, in order (torchvision.transforms.v2 names).
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub train_transforms: Vec<Box<dyn Transform>>,
            /// Transforms of validation, test and prediction images.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub eval_transforms: Vec<Box<dyn Transform>>,
            $($extra)*
        }

        impl $name {
            /// The config with every default for the files in `path`.
            pub fn new(path: impl Into<PathBuf>) -> Self {
                serde_json::from_value(serde_json::json!({ "path": path.into() }))
                    .expect("defaults")
            }

            fn options(&self) -> ImageSplitOptions {
                ImageSplitOptions {
                    validation: self.validation,
                    stratified: self.stratified,
                    train_subset: self.train_subset,
                    split_seed: self.split_seed,
                }
            }

            fn transforms(&self) -> ImageTransforms<'_> {
                ImageTransforms {
                    train: &self.train_transforms,
                    eval: &self.eval_transforms,
                }
            }

            fn check(&self) -> Result<(), DataError> {
                if self.path.as_os_str().is_empty() {
                    return Err(DataError::config(
                        "data.path",
                        "must name the folder holding the CIFAR .bin files",
                    ));
                }
                self.options().validate()?;
                self.transforms().validate()
            }
        }
    };
}

cifar_fields! {
    /// The `[data]` section for CIFAR-10's binary files (torchvision's `datasets.CIFAR10`):
    /// `data_batch_1.bin` … `data_batch_5.bin` for training, `test_batch.bin` for testing,
    /// class names from `batches.meta.txt`. Images are `[3, 32, 32]` in `[0, 1]` before the
    /// transforms.
    ///
    /// ```toml
    /// [data]
    /// type = "Cifar10"
    /// path = "cifar-10-batches-bin"
    /// validation = 0.1
    /// train_transforms = [
    ///   { type = "RandomCrop", size = 32, padding = 4 },
    ///   { type = "RandomHorizontalFlip" },
    ///   { type = "Normalize", mean = [0.4914, 0.4822, 0.4465], std = [0.2470, 0.2435, 0.2616] },
    /// ]
    /// eval_transforms = [
    ///   { type = "Normalize", mean = [0.4914, 0.4822, 0.4465], std = [0.2470, 0.2435, 0.2616] },
    /// ]
    /// ```
    Cifar10 {}
}

/// Which CIFAR-100 label to learn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CifarLabel {
    /// The 100 fine classes (torchvision's `CIFAR100` targets).
    #[default]
    Fine,
    /// The 20 coarse superclasses.
    Coarse,
}

cifar_fields! {
    /// The `[data]` section for CIFAR-100's binary files (torchvision's
    /// `datasets.CIFAR100`): `train.bin` and `test.bin`, class names from
    /// `fine_label_names.txt` / `coarse_label_names.txt`.
    Cifar100 {
        /// `"fine"` (100 classes, the default) or `"coarse"` (20 superclasses).
        #[serde(default)]
        pub label_mode: CifarLabel,
    }
}

#[typetag::serde(name = "Cifar10")]
impl DataConfig for Cifar10 {
    fn validate(&self) -> Result<(), DataError> {
        self.check()
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.check()?;
        let dir = resolve_dir(ctx, &self.path)?;
        let names: Vec<String> = (1..=5).map(|i| format!("data_batch_{i}.bin")).collect();
        let (train, train_labels) = read_all(&dir, &names, 1, 0, 10)?;
        let test = if self.test {
            let (t, l) = read_all(&dir, &["test_batch.bin".to_string()], 1, 0, 10)?;
            Some((Arc::new(t) as Arc<dyn ImageStore>, l))
        } else {
            None
        };
        let classes = read_names(&dir, "batches.meta.txt", 10)
            .unwrap_or_else(|| CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect());
        let src = ImageSource {
            kind: "Cifar10",
            train: Arc::new(train),
            train_labels,
            test,
            classes,
            notes: Vec::new(),
        };
        image_splits(src, &self.options(), self.transforms(), ctx)
    }

    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        vec![("data.path".to_string(), &mut self.path)]
    }
}

#[typetag::serde(name = "Cifar100")]
impl DataConfig for Cifar100 {
    fn validate(&self) -> Result<(), DataError> {
        self.check()
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.check()?;
        let dir = resolve_dir(ctx, &self.path)?;
        let (index, k, names_file) = match self.label_mode {
            CifarLabel::Fine => (1, 100, "fine_label_names.txt"),
            CifarLabel::Coarse => (0, 20, "coarse_label_names.txt"),
        };
        let (train, train_labels) = read_all(&dir, &["train.bin".to_string()], 2, index, k)?;
        let test = if self.test {
            let (t, l) = read_all(&dir, &["test.bin".to_string()], 2, index, k)?;
            Some((Arc::new(t) as Arc<dyn ImageStore>, l))
        } else {
            None
        };
        let classes = read_names(&dir, names_file, k)
            .unwrap_or_else(|| (0..k).map(|i| i.to_string()).collect());
        let src = ImageSource {
            kind: "Cifar100",
            train: Arc::new(train),
            train_labels,
            test,
            classes,
            notes: Vec::new(),
        };
        image_splits(src, &self.options(), self.transforms(), ctx)
    }

    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        vec![("data.path".to_string(), &mut self.path)]
    }
}
