//! MNIST: the IDX file reader and the [`Mnist`] data config (`type = "Mnist"`, torchvision's
//! `datasets.MNIST` with `transforms.ToTensor()` + `transforms.Normalize((0.1307,), (0.3081,))`).
//!
//! IDX is the format of the original MNIST files (LeCun et al.): a big-endian header — magic
//! number `0x0000TTDD` (`TT` = 0x08 for unsigned bytes, `DD` = the number of dimensions; 2051
//! for images `[n, rows, cols]`, 2049 for labels `[n]`), then one big-endian `u32` per
//! dimension — followed by the values, row-major. Files may be gzip-compressed; compression is
//! detected by the gzip magic bytes (`1f 8b`), not by the file name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use std::io::Read;

use crate::config::{
    split_seed, DataConfig, DataContext, DataSplits, PredictRow, PredictRows, Task,
};
use crate::dataset::{Dataset, Input, InputKind, TensorDataset};
use crate::error::DataError;
use crate::files::open_maybe_gz;
use crate::files::read_maybe_gz;
use crate::image::splits::{image_splits, ImageSource};
use crate::image::{
    ImagePreprocessing, ImageSplitOptions, ImageStore, ImageTransforms, MemoryImages,
};
use crate::normalize::{MNIST_MEAN, MNIST_STD};
use crate::split::{check_fraction, random_split, split_generator, stratified_split};
use crate::transform::{sample_generator, Image, ImageShape, Normalize, Pipeline, Transform};

/// The IDX magic number of an unsigned-byte 3-d array (images).
pub const IDX_IMAGES_MAGIC: u32 = 2051;
/// The IDX magic number of an unsigned-byte 1-d array (labels).
pub const IDX_LABELS_MAGIC: u32 = 2049;

/// The MNIST file names without the optional `.gz` suffix: training images, training labels,
/// test images, test labels.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The stream of the split generator `train_subset` draws from.
const SUBSET_PURPOSE: u64 = 0x5355_4253; // "SUBS"

/// The images of an IDX image file (magic 2051): `count` images of `rows x cols` grey levels
/// `0..=255`, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// The number of images.
    pub count: usize,
    /// Rows per image (28 for MNIST).
    pub rows: usize,
    /// Columns per image (28 for MNIST).
    pub cols: usize,
    /// `count * rows * cols` pixels, image by image, row-major.
    pub pixels: Vec<u8>,
}

/// Parses an IDX header with the expected magic; returns its dimensions and the offset of the
/// data.
fn idx_header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    what: &str,
    note: &str,
) -> Result<(Vec<usize>, usize), DataError> {
    let ndim = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndim;
    if bytes.len() < 4 {
        return Err(DataError::parse(
            path,
            "byte 0",
            format!(
                "truncated IDX header: expected {header_len} bytes, found {}{note}",
                bytes.len()
            ),
        ));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(DataError::parse(
            path,
            "byte 0",
            format!(
                "wrong magic number: expected {magic} (0x{magic:08x}, IDX {what}), found {found} \
                 (0x{found:08x}){note}"
            ),
        ));
    }
    if bytes.len() < header_len {
        return Err(DataError::parse(
            path,
            format!("byte {}", bytes.len()),
            format!(
                "truncated IDX header: expected {header_len} bytes, found {}{note}",
                bytes.len()
            ),
        ));
    }
    let dims = (0..ndim)
        .map(|d| {
            let o = 4 + 4 * d;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    Ok((dims, header_len))
}

/// Checks that `bytes` holds exactly `expected` data bytes after the header.
fn check_data_len(
    path: &Path,
    bytes: &[u8],
    offset: usize,
    expected: Option<usize>,
    desc: &str,
    note: &str,
) -> Result<usize, DataError> {
    let found = bytes.len() - offset;
    let Some(expected) = expected else {
        return Err(DataError::parse(
            path,
            "byte 4",
            format!("header dimensions {desc} overflow{note}"),
        ));
    };
    if found < expected {
        return Err(DataError::parse(
            path,
            format!("byte {offset}"),
            format!("truncated data: expected {expected} bytes ({desc}), found {found}{note}"),
        ));
    }
    if found > expected {
        return Err(DataError::parse(
            path,
            format!("byte {}", offset + expected),
            format!(
                "{} unexpected bytes after the {expected} bytes of data ({desc}){note}",
                found - expected
            ),
        ));
    }
    Ok(expected)
}

fn gz_note(gz: bool) -> &'static str {
    if gz {
        " (offsets in the decompressed data)"
    } else {
        ""
    }
}

/// Reads an IDX image file (magic 2051), gzip-compressed or raw.
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read; [`DataError::Parse`] naming the file for
/// corrupt gzip data, a wrong magic number, or data shorter or longer than the header says
/// (with the byte offset and the expected and found lengths).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let (mut bytes, gz) = read_maybe_gz(path)?;
    let note = gz_note(gz);
    let (dims, offset) = idx_header(path, &bytes, IDX_IMAGES_MAGIC, "images", note)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    let expected = count.checked_mul(rows).and_then(|v| v.checked_mul(cols));
    let desc = format!("{count} images of {rows}x{cols}");
    check_data_len(path, &bytes, offset, expected, &desc, note)?;
    bytes.drain(..offset);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes,
    })
}

/// Reads an IDX label file (magic 2049), gzip-compressed or raw: one byte per item.
///
/// # Errors
/// As [`read_idx_images`].
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let (mut bytes, gz) = read_maybe_gz(path)?;
    let note = gz_note(gz);
    let (dims, offset) = idx_header(path, &bytes, IDX_LABELS_MAGIC, "labels", note)?;
    let desc = format!("{} labels", dims[0]);
    check_data_len(path, &bytes, offset, Some(dims[0]), &desc, note)?;
    bytes.drain(..offset);
    Ok(bytes)
}

/// `dir/name.gz` if it exists, else `dir/name`.
///
/// # Errors
/// [`DataError::Io`] naming both paths when neither exists.
pub fn find_idx_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(DataError::io(
        gz,
        format!("file not found (nor {})", raw.display()),
    ))
}

/// Reads an MNIST image file and its label file into a classification dataset of
/// `[1, rows, cols]` samples and 10 classes. Pixels become `x/255`, then
/// `(x/255 - 0.1307) / 0.3081` with `normalize` (torchvision's `ToTensor` + `Normalize`).
///
/// # Errors
/// As [`read_idx_images`], and [`DataError::Parse`] when the files hold different numbers of
/// items or a label is above 9 (naming the label file and the byte offset).
pub fn read_mnist(
    images: &Path,
    labels: &Path,
    normalize: bool,
) -> Result<TensorDataset, DataError> {
    let img = read_idx_images(images)?;
    let lab = read_idx_labels(labels)?;
    if lab.len() != img.count {
        return Err(DataError::parse(
            labels,
            "",
            format!(
                "{} labels for {} images in {}",
                lab.len(),
                img.count,
                images.display()
            ),
        ));
    }
    if let Some(i) = lab.iter().position(|&l| l > 9) {
        return Err(DataError::parse(
            labels,
            format!("byte {}", 8 + i),
            format!("label {} of item {i} is out of range 0..=9", lab[i]),
        ));
    }
    let pixel_map = PixelMap::new(normalize);
    let features: Vec<f32> = img.pixels.iter().map(|&p| pixel_map.apply(p)).collect();
    Ok(TensorDataset::classification(
        features,
        &[1, img.rows, img.cols],
        lab.into_iter().map(usize::from).collect(),
        10,
    ))
}

/// How a grey level `p` in `0..=255` becomes a model input: `(p / 255 - mean) / std`
/// (torchvision's `ToTensor()` then `Normalize((mean,), (std,))`). This is what a run's
/// `preprocessing.json` records for MNIST data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MnistPreprocessing {
    /// Always `"Mnist"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The format of this record (1).
    pub version: u32,
    /// The input shape `[1, rows, cols]`.
    pub shape: Vec<usize>,
    /// Subtracted after scaling to `[0, 1]` (0 without normalization).
    pub mean: f32,
    /// Divided by after centring (1 without normalization).
    pub std: f32,
    /// The class names, index order (`"0"` to `"9"`).
    pub classes: Vec<String>,
}

/// The affine map of grey levels to inputs.
#[derive(Clone, Copy, Debug)]
struct PixelMap {
    mean: f32,
    std: f32,
}

impl PixelMap {
    fn new(normalize: bool) -> Self {
        if normalize {
            PixelMap {
                mean: MNIST_MEAN,
                std: MNIST_STD,
            }
        } else {
            PixelMap {
                mean: 0.0,
                std: 1.0,
            }
        }
    }

    fn apply(self, p: u8) -> f32 {
        let x = f32::from(p) / 255.0;
        if self.mean == 0.0 && self.std == 1.0 {
            x
        } else {
            (x - self.mean) / self.std
        }
    }
}

/// The `[data]` section for MNIST-format digits (torchvision's `datasets.MNIST`): the
/// training and test files of a folder, a seeded (stratified) validation split of the training
/// set, and torchvision's normalization.
///
/// `path` holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each optionally with `.gz` (the
/// bundled `datasets/mnist-10k` or the original 60k/10k MNIST). Samples have feature shape
/// `[1, 28, 28]`; the task is classification into 10 classes named `"0"` to `"9"`.
///
/// ```toml
/// [data]
/// type = "Mnist"
/// path = "../../datasets/mnist-10k"   # relative to the experiment file
/// validation = 0.1      # hold out 10 % of the training set, stratified by digit
/// train_subset = 1000   # optional: train on 1000 digits only (an over-fitting experiment)
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mnist {
    /// The folder holding the four IDX files (relative paths are resolved with
    /// [`DataContext::resolve`]).
    pub path: PathBuf,
    /// Fraction of the training set held out for validation, in `[0, 1)`. Default `0.0`
    /// (no validation split).
    #[serde(default)]
    pub validation: f64,
    /// Split the validation set per digit, so it has the training set's class proportions.
    /// Default `true`.
    #[serde(default = "yes")]
    pub stratified: bool,
    /// Normalize pixels to `(x/255 - 0.1307) / 0.3081` (torchvision's MNIST mean/std);
    /// `false` gives `x/255` in `[0, 1]` (`ToTensor()` alone). Default `true`.
    #[serde(default = "yes")]
    pub normalize: bool,
    /// Use only the first `N` training samples after a seeded shuffle (before the validation
    /// split): a small training set to provoke over-fitting. Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_subset: Option<usize>,
    /// Load `t10k-*` as the test split (torchvision's `train=False`). Default `true`.
    #[serde(default = "yes")]
    pub test: bool,
    /// The seed of the validation split and `train_subset`. Default: the experiment's `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Transforms of training images (torchvision.transforms.v2 names: `RandomCrop`,
    /// `RandomAffine`, ...), applied to `[1, 28, 28]` images in `[0, 1]` as each batch is
    /// drawn, with draws from `(seed, epoch, sample)`. With `normalize = true`, a list
    /// without its own `Normalize` ends with `Normalize([0.1307], [0.3081])`. Default: none
    /// (the images are preprocessed once, in memory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub train_transforms: Vec<Box<dyn Transform>>,
    /// Transforms of validation, test and prediction images (same rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eval_transforms: Vec<Box<dyn Transform>>,
}

fn yes() -> bool {
    true
}

impl Mnist {
    /// The config with every default: no validation split, stratified, normalized, the full
    /// training set, the test split loaded.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Mnist {
            path: path.into(),
            validation: 0.0,
            stratified: true,
            normalize: true,
            train_subset: None,
            test: true,
            split_seed: None,
            train_transforms: Vec::new(),
            eval_transforms: Vec::new(),
        }
    }

    /// `true` when images go through transform lists (then the splits are
    /// [`ImageDataset`](crate::ImageDataset)s and `preprocessing.json` an
    /// [`ImagePreprocessing`]).
    pub fn has_transforms(&self) -> bool {
        !self.train_transforms.is_empty() || !self.eval_transforms.is_empty()
    }

    /// A transform list with `Normalize([0.1307], [0.3081])` added when `normalize` is on
    /// and the list has no `Normalize`: after the per-sample transforms, before the batch
    /// ones (MixUp, CutMix), which must come last.
    fn with_normalize(&self, list: &[Box<dyn Transform>]) -> Vec<Box<dyn Transform>> {
        let mut out = list.to_vec();
        if self.normalize && !list.iter().any(|t| t.typetag_name() == "Normalize") {
            let at = list.iter().position(|t| t.is_batch()).unwrap_or(list.len());
            out.insert(
                at,
                Box::new(Normalize {
                    mean: Some(vec![MNIST_MEAN]),
                    std: Some(vec![MNIST_STD]),
                    inplace: false,
                }),
            );
        }
        out
    }

    /// Loads the images as 8-bit pixels and splits them through the transform lists.
    fn load_with_transforms(&self, dir: &Path, ctx: &DataContext) -> Result<DataSplits, DataError> {
        let file = |i: usize| find_idx_file(dir, MNIST_FILES[i]);
        let read = |img: PathBuf, lab: PathBuf| -> Result<(MemoryImages, Vec<usize>), DataError> {
            let (raw, labels) = read_mnist_u8(&img, &lab)?;
            Ok((raw, labels))
        };
        let (train, train_labels) = read(file(0)?, file(1)?)?;
        let test = if self.test {
            let (t, l) = read(file(2)?, file(3)?)?;
            Some((Arc::new(t) as Arc<dyn ImageStore>, l))
        } else {
            None
        };
        let src = ImageSource {
            kind: "Mnist",
            train: Arc::new(train),
            train_labels,
            test,
            classes: (0..10).map(|d| d.to_string()).collect(),
            notes: Vec::new(),
        };
        let opts = ImageSplitOptions {
            validation: self.validation,
            stratified: self.stratified,
            train_subset: self.train_subset,
            split_seed: self.split_seed,
        };
        let (train_t, eval_t) = (
            self.with_normalize(&self.train_transforms),
            self.with_normalize(&self.eval_transforms),
        );
        let tf = ImageTransforms {
            train: &train_t,
            eval: &eval_t,
        };
        image_splits(src, &opts, tf, ctx)
    }
}

/// Reads MNIST images as 8-bit `[1, rows, cols]` images with their labels.
fn read_mnist_u8(images: &Path, labels: &Path) -> Result<(MemoryImages, Vec<usize>), DataError> {
    let raw = read_mnist(images, labels, false)?;
    let shape = raw.feature_shape().to_vec();
    let pixels = raw
        .features()
        .iter()
        .map(|&x| (x * 255.0).round() as u8)
        .collect();
    let labels = raw
        .targets()
        .labels()
        .expect("MNIST has class targets")
        .to_vec();
    let store = MemoryImages::new(
        [shape[0], shape[1], shape[2]],
        pixels,
        images.display().to_string(),
    );
    Ok((store, labels))
}

#[typetag::serde(name = "Mnist")]
impl DataConfig for Mnist {
    fn validate(&self) -> Result<(), DataError> {
        if self.path.as_os_str().is_empty() {
            return Err(DataError::config(
                "data.path",
                "must name the folder holding the MNIST files",
            ));
        }
        check_fraction("data.validation", self.validation)?;
        if self.train_subset == Some(0) {
            return Err(DataError::config(
                "data.train_subset",
                "must be >= 1 (or left out to use every training sample), got 0",
            ));
        }
        ImageTransforms {
            train: &self.train_transforms,
            eval: &self.eval_transforms,
        }
        .validate()
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.validate()?;
        let dir = ctx.resolve("data.path", &self.path)?;
        if !dir.is_dir() {
            return Err(DataError::io(
                &dir,
                "not a folder (expected the folder holding the MNIST files)",
            ));
        }
        if self.has_transforms() {
            return self.load_with_transforms(&dir, ctx);
        }
        let pre = match ctx.fitted_as::<MnistPreprocessing>()? {
            Some(p) => p,
            None => self.preprocessing(),
        };
        let map = PixelMap {
            mean: pre.mean,
            std: pre.std,
        };
        let file = |i: usize| find_idx_file(&dir, MNIST_FILES[i]);
        let mut train = read_mnist_with(&file(0)?, &file(1)?, map)?;
        let seed = split_seed(self.split_seed, ctx);
        if let Some(n) = self.train_subset {
            if n > train.len() {
                return Err(DataError::config(
                    "data.train_subset",
                    format!(
                        "{n} is more than the {} training samples in {}",
                        train.len(),
                        dir.display()
                    ),
                ));
            }
            let perm = split_generator(seed, SUBSET_PURPOSE).randperm(train.len());
            train = train.select(&perm[..n]);
        }
        let mut validation = None;
        if self.validation > 0.0 {
            let split = if self.stratified {
                let labels = train.targets().labels().expect("MNIST has class targets");
                stratified_split(labels, 10, self.validation, 0.0, seed)?
            } else {
                random_split(train.len(), self.validation, 0.0, seed)?
            };
            validation = Some(Arc::new(train.select(&split.validation)) as Arc<dyn Dataset>);
            train = train.select(&split.train);
        }
        let test = if self.test {
            Some(Arc::new(read_mnist_with(&file(2)?, &file(3)?, map)?) as Arc<dyn Dataset>)
        } else {
            None
        };
        Ok(DataSplits {
            train: Arc::new(train),
            validation,
            test,
            task: Task::Classification {
                num_classes: 10,
                class_names: pre.classes.clone(),
            },
            preprocessing: serde_json::to_value(&pre).expect("serializable"),
            notes: Vec::new(),
        })
    }

    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        vec![("data.path".to_string(), &mut self.path)]
    }

    fn predict_rows(
        &self,
        ctx: &DataContext,
        input: &Path,
    ) -> Result<Box<dyn PredictRows>, DataError> {
        if self.has_transforms() {
            let pre: ImagePreprocessing = ctx.fitted_as()?.ok_or_else(|| {
                DataError::Preprocessing("prediction needs the run's fitted preprocessing".into())
            })?;
            let eval = self.with_normalize(&self.eval_transforms);
            let shape = ImageShape::fixed(1, 28, 28);
            let p = Pipeline::new(
                "data.eval_transforms",
                &eval,
                shape,
                10,
                pre.normalize.as_ref(),
            )?;
            let raw = MnistPreprocessing {
                kind: "Mnist".into(),
                version: 1,
                shape: vec![1, 28, 28],
                mean: 0.0,
                std: 1.0,
                classes: pre.classes,
            };
            let mut rows = IdxRows::open(input, raw)?;
            rows.pipeline = Some(p);
            return Ok(Box::new(rows));
        }
        let pre: MnistPreprocessing = ctx.fitted_as()?.ok_or_else(|| {
            DataError::Preprocessing("prediction needs the run's fitted preprocessing".into())
        })?;
        Ok(Box::new(IdxRows::open(input, pre)?))
    }
}

impl Mnist {
    /// The input map this config applies (nothing is fitted: torchvision's constants).
    fn preprocessing(&self) -> MnistPreprocessing {
        let map = PixelMap::new(self.normalize);
        MnistPreprocessing {
            kind: "Mnist".into(),
            version: 1,
            shape: vec![1, 28, 28],
            mean: map.mean,
            std: map.std,
            classes: (0..10).map(|d| d.to_string()).collect(),
        }
    }
}

/// Reads images and labels with an explicit pixel map.
fn read_mnist_with(
    images: &Path,
    labels: &Path,
    map: PixelMap,
) -> Result<TensorDataset, DataError> {
    let raw = read_mnist(images, labels, false)?;
    if map.mean == 0.0 && map.std == 1.0 {
        return Ok(raw);
    }
    let mut ds = raw;
    for x in ds.features_mut() {
        *x = (*x - map.mean) / map.std;
    }
    Ok(ds)
}

/// Streams the images of an IDX image file (magic 2051) for prediction, one at a time.
struct IdxRows {
    reader: Box<dyn std::io::BufRead + Send>,
    file: PathBuf,
    pre: MnistPreprocessing,
    count: usize,
    next: usize,
    pixels: usize,
    /// The evaluation transforms, when the run used transform lists (then `pre` maps pixels
    /// to `[0, 1]`).
    pipeline: Option<Pipeline>,
}

impl IdxRows {
    fn open(path: &Path, pre: MnistPreprocessing) -> Result<Self, DataError> {
        let mut reader = open_maybe_gz(path)?;
        let mut head = [0u8; 16];
        reader.read_exact(&mut head).map_err(|_| {
            DataError::parse(path, "byte 0", "truncated IDX header: expected 16 bytes")
        })?;
        let (dims, _) = idx_header(path, &head, IDX_IMAGES_MAGIC, "images", "")?;
        let (count, rows, cols) = (dims[0], dims[1], dims[2]);
        if pre.shape.len() != 3 || [rows, cols] != pre.shape[1..] {
            return Err(DataError::parse(
                path,
                "byte 8",
                format!(
                    "images are {rows}x{cols}; the model was trained on {:?}",
                    &pre.shape[1..]
                ),
            ));
        }
        Ok(IdxRows {
            reader,
            file: path.to_path_buf(),
            pre,
            count,
            next: 0,
            pixels: rows * cols,
            pipeline: None,
        })
    }
}

impl Iterator for IdxRows {
    type Item = Result<PredictRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.count {
            return None;
        }
        let mut buf = vec![0u8; self.pixels];
        if let Err(e) = self.reader.read_exact(&mut buf) {
            self.next = self.count;
            return Some(Err(DataError::parse(
                &self.file,
                format!("byte {}", 16 + self.next * self.pixels),
                format!(
                    "truncated data: image {} of {} is incomplete ({e})",
                    self.next, self.count
                ),
            )));
        }
        let map = PixelMap {
            mean: self.pre.mean,
            std: self.pre.std,
        };
        let mut x: Vec<f32> = buf.iter().map(|&p| map.apply(p)).collect();
        if let Some(p) = &self.pipeline {
            let [c, h, w] = [1, self.pre.shape[1], self.pre.shape[2]];
            let img = Image::from_vec(c, h, w, x);
            match p.apply(img, &mut sample_generator(0, 0, self.next)) {
                Ok(out) => x = out.data,
                Err(e) => {
                    self.next = self.count;
                    return Some(Err(e));
                }
            }
        }
        let id = self.next.to_string();
        self.next += 1;
        Some(Ok(PredictRow {
            id,
            input: Input::Dense(std::borrow::Cow::Owned(x)),
        }))
    }
}

impl PredictRows for IdxRows {
    fn input_kind(&self) -> InputKind {
        let shape = match self.pipeline.as_ref().and_then(Pipeline::shape) {
            Some(s) => s.to_vec(),
            None => self.pre.shape.clone(),
        };
        InputKind::Dense { shape }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tuna-mnist-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_raw_idx() {
        let p = tmp(
            "img",
            &idx(2051, &[2, 2, 3], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]),
        );
        let img = read_idx_images(&p).unwrap();
        assert_eq!((img.count, img.rows, img.cols), (2, 2, 3));
        assert_eq!(img.pixels[11], 255);
        let l = tmp("lab", &idx(2049, &[2], &[3, 9]));
        assert_eq!(read_idx_labels(&l).unwrap(), vec![3, 9]);
        let ds = read_mnist(&p, &l, false).unwrap();
        assert_eq!(ds.feature_shape(), &[1, 2, 3]);
        assert_eq!(ds.get(1).input.as_dense()[5], 1.0);
        let ds = read_mnist(&p, &l, true).unwrap();
        assert!((ds.get(0).input.as_dense()[0] + MNIST_MEAN / MNIST_STD).abs() < 1e-6);
    }

    #[test]
    fn the_added_normalize_goes_before_batch_transforms() {
        crate::link();
        let mut m = Mnist::new("x");
        m.train_transforms = serde_json::from_str(
            r#"[{"type": "RandomHorizontalFlip"}, {"type": "MixUp", "alpha": 1.0}]"#,
        )
        .unwrap();
        let names: Vec<&str> = m
            .with_normalize(&m.train_transforms)
            .iter()
            .map(|t| t.typetag_name())
            .collect();
        assert_eq!(names, ["RandomHorizontalFlip", "Normalize", "MixUp"]);
        m.normalize = false;
        assert_eq!(m.with_normalize(&m.train_transforms).len(), 2);
    }

    #[test]
    fn header_errors() {
        let p = tmp("short", &[0, 0]);
        let e = read_idx_images(&p).unwrap_err().to_string();
        assert!(e.contains("byte 0: truncated IDX header"), "{e}");
        let p = tmp("short2", &idx(2051, &[1], &[]));
        let e = read_idx_images(&p).unwrap_err().to_string();
        assert!(
            e.contains("byte 8: truncated IDX header: expected 16 bytes, found 8"),
            "{e}"
        );
        let p = tmp("extra", &idx(2049, &[1], &[1, 2]));
        let e = read_idx_labels(&p).unwrap_err().to_string();
        assert!(e.contains("byte 9: 1 unexpected bytes"), "{e}");
    }

    #[test]
    fn validation_errors() {
        let mut m = Mnist::new("x");
        m.validation = 1.0;
        assert!(m
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("data.validation: "));
        let mut m = Mnist::new("x");
        m.train_subset = Some(0);
        assert!(m
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("data.train_subset: "));
        assert!(Mnist::new("").validate().is_err());
        Mnist::new("x").validate().unwrap();
    }
}
