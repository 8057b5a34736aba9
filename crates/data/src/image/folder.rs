//! [`ImageFolder`]: a user's own images, one sub-folder per class (torchvision's
//! `datasets.ImageFolder`), decoded lazily through the `image` crate (PNG, JPEG, BMP, WebP)
//! with an optional in-memory cache of decoded images.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use super::dataset::ImageStore;
use super::splits::{
    image_splits, ImagePreprocessing, ImageSource, ImageSplitOptions, ImageTransforms,
};
use crate::config::{DataConfig, DataContext, DataSplits, PredictRow, PredictRows};
use crate::dataset::{Input, InputKind};
use crate::error::DataError;
use crate::transform::{sample_generator, Image, Pipeline, Transform};

/// The file extensions read as images (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "webp"];

/// The colour mode images are converted to (PIL's `convert(mode)`): `"L"` (grayscale, one
/// channel, ITU-R 601-2 luma) or `"RGB"` (three channels, the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColorMode {
    /// One channel.
    #[serde(rename = "L")]
    L,
    /// Three channels.
    #[default]
    #[serde(rename = "RGB")]
    Rgb,
}

impl ColorMode {
    fn channels(self) -> usize {
        match self {
            ColorMode::L => 1,
            ColorMode::Rgb => 3,
        }
    }
}

/// What to do with a file that cannot be read as an image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop with an error naming the file (the default). Headers are read when loading;
    /// a file whose data is truncated is found when a batch first needs it.
    #[default]
    Raise,
    /// Leave the file out: every file is decoded once when loading (filling the cache), and
    /// the run's notes count the files left out and name the first.
    Skip,
}

/// Decodes the image file at `path` into `mode`: `[C, H, W]` planar 8-bit pixels and
/// `[height, width]`.
///
/// # Errors
/// [`DataError::Io`] for an unreadable file, [`DataError::Parse`] naming the file for data
/// that is not a PNG, JPEG, BMP or WebP image, or is truncated.
pub fn decode_image(path: &Path, mode: ColorMode) -> Result<(Vec<u8>, [usize; 2]), DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let img = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .decode()
        .map_err(|e| DataError::parse(path, "", format!("cannot decode the image: {e}")))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let pixels = match mode {
        ColorMode::L => img.into_luma8().into_raw(),
        ColorMode::Rgb => {
            let hwc = img.into_rgb8().into_raw();
            let plane = h * w;
            let mut chw = vec![0u8; 3 * plane];
            for (i, px) in hwc.chunks_exact(3).enumerate() {
                chw[i] = px[0];
                chw[plane + i] = px[1];
                chw[2 * plane + i] = px[2];
            }
            chw
        }
    };
    Ok((pixels, [h, w]))
}

/// `[height, width]` from the file's header, without decoding the pixels.
fn header_size(path: &Path) -> Result<[usize; 2], DataError> {
    let (w, h) = image::ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .into_dimensions()
        .map_err(|e| DataError::parse(path, "", format!("not a readable image: {e}")))?;
    Ok([h as usize, w as usize])
}

/// Image files decoded when loaded, the first decoded ones kept in memory while they fit in
/// the cache budget (a pure speed-up: a cached image is the same as a decoded one).
#[derive(Debug)]
pub struct FileImages {
    paths: Vec<PathBuf>,
    sizes: Vec<[usize; 2]>,
    mode: ColorMode,
    cache: Vec<OnceLock<Arc<[u8]>>>,
    budget: AtomicUsize,
}

impl FileImages {
    /// `paths` with their `sizes`, read in `mode`, caching up to `cache_bytes` of pixels.
    pub fn new(
        paths: Vec<PathBuf>,
        sizes: Vec<[usize; 2]>,
        mode: ColorMode,
        cache_bytes: usize,
    ) -> Self {
        let cache = (0..paths.len()).map(|_| OnceLock::new()).collect();
        FileImages {
            paths,
            sizes,
            mode,
            cache,
            budget: AtomicUsize::new(cache_bytes),
        }
    }

    /// The files.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    fn keep(&self, index: usize, pixels: Vec<u8>) {
        let n = pixels.len();
        let took = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(n))
            .is_ok();
        if took && self.cache[index].set(pixels.into()).is_err() {
            self.budget.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl ImageStore for FileImages {
    fn len(&self) -> usize {
        self.paths.len()
    }

    fn channels(&self) -> usize {
        self.mode.channels()
    }

    fn size(&self, index: usize) -> [usize; 2] {
        self.sizes[index]
    }

    fn load(&self, index: usize) -> Result<Image, DataError> {
        let c = self.mode.channels();
        let [h, w] = self.sizes[index];
        if let Some(px) = self.cache[index].get() {
            return Ok(Image::from_u8(c, h, w, px));
        }
        let path = &self.paths[index];
        let (px, size) = decode_image(path, self.mode)?;
        if size != [h, w] {
            return Err(DataError::parse(
                path,
                "",
                format!(
                    "the image is now {}x{}, but was {h}x{w} when the data was loaded",
                    size[0], size[1]
                ),
            ));
        }
        let img = Image::from_u8(c, h, w, &px);
        self.keep(index, px);
        Ok(img)
    }

    fn describe(&self, index: usize) -> String {
        self.paths[index].display().to_string()
    }
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every image file under `dir`, recursively, in sorted order.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(image_files(&p)?);
        } else if is_image(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// The class folders of `root` (sorted names) and every image with its class index.
fn scan(root: &Path, field: &str) -> Result<(Vec<String>, Vec<(PathBuf, usize)>), DataError> {
    let mut classes: Vec<String> = std::fs::read_dir(root)
        .map_err(|e| DataError::io(root, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(DataError::config(
            field,
            format!(
                "{} holds no class folder: ImageFolder expects one sub-folder per class \
                 (root/cat/1.png, root/dog/2.png)",
                root.display()
            ),
        ));
    }
    let mut files = Vec::new();
    for (k, c) in classes.iter().enumerate() {
        let found = image_files(&root.join(c))?;
        if found.is_empty() {
            return Err(DataError::config(
                field,
                format!(
                    "class folder {} holds no image (.{})",
                    root.join(c).display(),
                    IMAGE_EXTENSIONS.join(", .")
                ),
            ));
        }
        files.extend(found.into_iter().map(|p| (p, k)));
    }
    Ok((classes, files))
}

/// The `[data]` section for a folder of images, one sub-folder per class (torchvision's
/// `datasets.ImageFolder`: class index = position of the folder name in sorted order).
/// Images are decoded when a batch needs them, in `mode`, as `[C, H, W]` in `[0, 1]`; images
/// of different sizes need a `Resize` to `[height, width]` or a crop in both transform lists.
///
/// ```toml
/// [data]
/// type = "ImageFolder"
/// path = "photos/train"          # photos/train/cat/001.jpg, photos/train/dog/002.png, ...
/// test_path = "photos/test"      # optional, same class folders
/// mode = "RGB"
/// validation = 0.1
/// train_transforms = [
///   { type = "RandomResizedCrop", size = 64 },
///   { type = "RandomHorizontalFlip" },
///   { type = "Normalize" },      # mean/std fitted on the training images
/// ]
/// eval_transforms = [
///   { type = "Resize", size = 72 },
///   { type = "CenterCrop", size = 64 },
///   { type = "Normalize" },
/// ]
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolder {
    /// The root of the training images (class sub-folders).
    pub path: PathBuf,
    /// The root of the test images (the same class folders), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<PathBuf>,
    /// `"RGB"` (default) or `"L"` (grayscale).
    #[serde(default)]
    pub mode: ColorMode,
    /// Fraction of the training images held out for validation, in `[0, 1)` (default 0).
    #[serde(default)]
    pub validation: f64,
    /// Split the validation set per class (default `true`).
    #[serde(default = "yes")]
    pub stratified: bool,
    /// Train on this many training images (a seeded choice). Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_subset: Option<usize>,
    /// The seed of the validation split and `train_subset` (default: the experiment's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Transforms of training images, in order (torchvision.transforms.v2 names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub train_transforms: Vec<Box<dyn Transform>>,
    /// Transforms of validation, test and prediction images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eval_transforms: Vec<Box<dyn Transform>>,
    /// The most decoded pixels kept in memory, in MiB (default 256; 0 decodes every time).
    #[serde(default = "default_cache")]
    pub cache_mib: usize,
    /// `"raise"` (default) or `"skip"` for files that cannot be read as images.
    #[serde(default)]
    pub on_error: OnError,
}

fn yes() -> bool {
    true
}

fn default_cache() -> usize {
    256
}

impl ImageFolder {
    /// The config with every default for the images under `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        serde_json::from_value(serde_json::json!({ "path": path.into() })).expect("defaults")
    }

    fn transforms(&self) -> ImageTransforms<'_> {
        ImageTransforms {
            train: &self.train_transforms,
            eval: &self.eval_transforms,
        }
    }

    /// Scans a root and reads every header (or, with `on_error = "skip"`, decodes every
    /// file), leaving out unreadable files when skipping.
    fn open(
        &self,
        root: &Path,
        field: &str,
        notes: &mut Vec<String>,
    ) -> Result<(Vec<String>, FileImages, Vec<usize>), DataError> {
        let (classes, files) = scan(root, field)?;
        let checked = check_files(&files, self.mode, self.on_error);
        let (mut paths, mut sizes, mut labels, mut kept) = (vec![], vec![], vec![], vec![]);
        let mut bad: Vec<DataError> = Vec::new();
        for ((path, label), r) in files.into_iter().zip(checked) {
            match r {
                Ok((size, px)) => {
                    paths.push(path);
                    sizes.push(size);
                    labels.push(label);
                    kept.push(px);
                }
                Err(e) if self.on_error == OnError::Raise => return Err(e),
                Err(e) => bad.push(e),
            }
        }
        if let Some(first) = bad.first() {
            notes.push(format!(
                "{field}: skipped {} file(s) that cannot be read as images (on_error = \"skip\"); \
                 the first: {first}",
                bad.len()
            ));
        }
        let store = FileImages::new(paths, sizes, self.mode, self.cache_mib << 20);
        for (i, px) in kept.into_iter().enumerate() {
            if let Some(px) = px {
                store.keep(i, px);
            }
        }
        Ok((classes, store, labels))
    }
}

/// Reads each file's header (or decodes it, when skipping bad files), on the run's threads.
fn check_files(
    files: &[(PathBuf, usize)],
    mode: ColorMode,
    on_error: OnError,
) -> Vec<Result<([usize; 2], Option<Vec<u8>>), DataError>> {
    let check = |p: &Path| match on_error {
        OnError::Raise => header_size(p).map(|s| (s, None)),
        OnError::Skip => decode_image(p, mode).map(|(px, s)| (s, Some(px))),
    };
    let threads = tuna_tensor::num_threads().clamp(1, 16);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|(p, _)| check(p)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("image header thread panicked"))
            .collect()
    })
}

#[typetag::serde(name = "ImageFolder")]
impl DataConfig for ImageFolder {
    fn validate(&self) -> Result<(), DataError> {
        if self.path.as_os_str().is_empty() {
            return Err(DataError::config(
                "data.path",
                "must name the folder holding one sub-folder per class",
            ));
        }
        ImageSplitOptions {
            validation: self.validation,
            stratified: self.stratified,
            train_subset: self.train_subset,
            split_seed: self.split_seed,
        }
        .validate()?;
        self.transforms().validate()
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.validate()?;
        let root = ctx.resolve("data.path", &self.path)?;
        let mut notes = Vec::new();
        let (classes, train, train_labels) = self.open(&root, "data.path", &mut notes)?;
        let test = match &self.test_path {
            Some(p) => {
                let dir = ctx.resolve("data.test_path", p)?;
                let (tc, store, labels) = self.open(&dir, "data.test_path", &mut notes)?;
                let labels = remap_classes(&tc, &classes, labels, &dir)?;
                Some((Arc::new(store) as Arc<dyn ImageStore>, labels))
            }
            None => None,
        };
        let src = ImageSource {
            kind: "ImageFolder",
            train: Arc::new(train),
            train_labels,
            test,
            classes,
            notes,
        };
        let opts = ImageSplitOptions {
            validation: self.validation,
            stratified: self.stratified,
            train_subset: self.train_subset,
            split_seed: self.split_seed,
        };
        image_splits(src, &opts, self.transforms(), ctx)
    }

    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        let mut v = vec![("data.path".to_string(), &mut self.path)];
        if let Some(p) = &mut self.test_path {
            v.push(("data.test_path".to_string(), p));
        }
        v
    }

    fn predict_rows(
        &self,
        ctx: &DataContext,
        input: &Path,
    ) -> Result<Box<dyn PredictRows>, DataError> {
        let pre: ImagePreprocessing = ctx.fitted_as()?.ok_or_else(|| {
            DataError::Preprocessing("prediction needs the run's fitted preprocessing".into())
        })?;
        let files = if input.is_dir() {
            image_files(input)?
        } else {
            vec![input.to_path_buf()]
        };
        let shape = crate::transform::ImageShape {
            channels: self.mode.channels(),
            height: None,
            width: None,
        };
        let k = pre.classes.len();
        let pipeline = Pipeline::new(
            "data.eval_transforms",
            &self.eval_transforms,
            shape,
            k,
            pre.normalize.as_ref(),
        )?;
        Ok(Box::new(FileRows {
            files,
            next: 0,
            mode: self.mode,
            pipeline,
            shape: pre.shape,
        }))
    }
}

/// Maps test labels (indices into `test_classes`) to the training classes by name.
fn remap_classes(
    test_classes: &[String],
    classes: &[String],
    labels: Vec<usize>,
    dir: &Path,
) -> Result<Vec<usize>, DataError> {
    let map: Vec<usize> = test_classes
        .iter()
        .map(|c| {
            classes.iter().position(|t| t == c).ok_or_else(|| {
                DataError::config(
                    "data.test_path",
                    format!(
                        "{} has a class folder `{c}` that the training images do not have \
                         (training classes: {classes:?})",
                        dir.display()
                    ),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(labels.into_iter().map(|l| map[l]).collect())
}

/// Image files read one at a time for `tuna predict`, through the evaluation transforms.
struct FileRows {
    files: Vec<PathBuf>,
    next: usize,
    mode: ColorMode,
    pipeline: Pipeline,
    shape: Vec<usize>,
}

impl Iterator for FileRows {
    type Item = Result<PredictRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.files.get(self.next)?.clone();
        let i = self.next;
        self.next += 1;
        let row = (|| {
            let (px, [h, w]) = decode_image(&path, self.mode)?;
            let img = Image::from_u8(self.mode.channels(), h, w, &px);
            let out = self
                .pipeline
                .apply(img, &mut sample_generator(0, 0, i))
                .map_err(|e| DataError::parse(&path, "", e.to_string()))?;
            if out.shape().to_vec() != self.shape {
                return Err(DataError::parse(
                    &path,
                    "",
                    format!(
                        "is {:?} after the evaluation transforms; the model takes {:?}",
                        out.shape(),
                        self.shape
                    ),
                ));
            }
            Ok(PredictRow {
                id: path.display().to_string(),
                input: Input::Dense(out.data.into()),
            })
        })();
        Some(row)
    }
}

impl PredictRows for FileRows {
    fn input_kind(&self) -> InputKind {
        InputKind::Dense {
            shape: self.shape.clone(),
        }
    }
}
