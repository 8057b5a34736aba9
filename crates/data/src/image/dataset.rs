//! [`ImageStore`] (where images come from) and [`ImageDataset`] (images with labels and a
//! transform pipeline, transformed when a batch needs them).

use std::borrow::Cow;
use std::fmt::Debug;
use std::sync::Arc;

use tuna_tensor::Tensor;

use crate::dataset::{Dataset, Input, InputKind, Sample, Target, TargetKind};
use crate::error::DataError;
use crate::loader::Batch;
use crate::transform::{batch_generator, sample_generator, Image, ImageShape, Pipeline};

/// A collection of images, read on demand (`load` is called from loader worker threads).
pub trait ImageStore: Debug + Send + Sync {
    /// The number of images.
    fn len(&self) -> usize;

    /// `true` when there is no image.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels of every image (1 or 3).
    fn channels(&self) -> usize;

    /// `[height, width]` of image `index` (known without decoding it).
    fn size(&self, index: usize) -> [usize; 2];

    /// Image `index` in `[0, 1]` (`[C, H, W]`).
    ///
    /// # Errors
    /// An image that cannot be read or decoded, naming its file.
    fn load(&self, index: usize) -> Result<Image, DataError>;

    /// What names image `index` in messages (its file, or file and record).
    fn describe(&self, index: usize) -> String;

    /// The shape every image has, with height and width `None` when they differ.
    fn shape(&self) -> ImageShape {
        let c = self.channels();
        if self.is_empty() {
            return ImageShape {
                channels: c,
                height: None,
                width: None,
            };
        }
        let [h, w] = self.size(0);
        let same = (1..self.len()).all(|i| self.size(i) == [h, w]);
        if same {
            ImageShape::fixed(c, h, w)
        } else {
            ImageShape {
                channels: c,
                height: None,
                width: None,
            }
        }
    }

    /// Two images of different sizes, described, if there are any (for the error that asks
    /// for a `Resize`).
    fn size_mismatch(&self) -> Option<(String, [usize; 2], String, [usize; 2])> {
        let first = self.size(0);
        (1..self.len())
            .find(|&i| self.size(i) != first)
            .map(|i| (self.describe(0), first, self.describe(i), self.size(i)))
    }
}

/// Images of one size held as 8-bit pixels, `[C, H, W]` planar, one after the other (MNIST,
/// CIFAR).
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryImages {
    shape: [usize; 3],
    pixels: Vec<u8>,
    /// Names images in messages: `"{source}, image {i}"`.
    source: String,
}

impl MemoryImages {
    /// `pixels.len() / (c·h·w)` images of `shape` `[c, h, w]` read from `source`.
    ///
    /// # Panics
    /// If the length is not a multiple of the image size.
    pub fn new(shape: [usize; 3], pixels: Vec<u8>, source: impl Into<String>) -> Self {
        let per: usize = shape.iter().product();
        assert!(
            per > 0 && pixels.len() % per == 0,
            "MemoryImages: {} bytes are not whole images of {shape:?}",
            pixels.len()
        );
        MemoryImages {
            shape,
            pixels,
            source: source.into(),
        }
    }

    /// The pixels of image `index`.
    pub fn pixels(&self, index: usize) -> &[u8] {
        let per: usize = self.shape.iter().product();
        &self.pixels[index * per..(index + 1) * per]
    }

    /// The pixels of every image.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// Appends the images of `other` (same shape).
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn extend(&mut self, other: &MemoryImages) {
        assert_eq!(
            self.shape, other.shape,
            "MemoryImages::extend: shapes differ"
        );
        self.pixels.extend_from_slice(&other.pixels);
    }
}

impl ImageStore for MemoryImages {
    fn len(&self) -> usize {
        self.pixels.len() / self.shape.iter().product::<usize>()
    }

    fn channels(&self) -> usize {
        self.shape[0]
    }

    fn size(&self, _index: usize) -> [usize; 2] {
        [self.shape[1], self.shape[2]]
    }

    fn load(&self, index: usize) -> Result<Image, DataError> {
        let [c, h, w] = self.shape;
        Ok(Image::from_u8(c, h, w, self.pixels(index)))
    }

    fn describe(&self, index: usize) -> String {
        format!("{}, image {index}", self.source)
    }

    fn shape(&self) -> ImageShape {
        let [c, h, w] = self.shape;
        ImageShape::fixed(c, h, w)
    }
}

/// Labelled images with a transform pipeline: sample `i` of epoch `e` is image
/// `indices[i]` of the store, transformed with draws from `(seed, e, i)`
/// ([`sample_generator`]); the pipeline's batch transforms (MixUp, CutMix) run on collated
/// batches.
#[derive(Clone, Debug)]
pub struct ImageDataset {
    store: Arc<dyn ImageStore>,
    indices: Vec<usize>,
    labels: Vec<usize>,
    num_classes: usize,
    pipeline: Arc<Pipeline>,
    shape: [usize; 3],
    seed: u64,
}

impl ImageDataset {
    /// Images `indices` of `store` with their `labels`, transformed by `pipeline` (whose
    /// output shape must be fixed), drawing from `seed`.
    ///
    /// # Errors
    /// [`DataError::Config`] when the pipeline's output size varies with the image size
    /// (naming two images of different sizes and the field), or a label out of range.
    pub fn new(
        store: Arc<dyn ImageStore>,
        indices: Vec<usize>,
        labels: Vec<usize>,
        num_classes: usize,
        pipeline: Pipeline,
        field: &str,
        seed: u64,
    ) -> Result<Self, DataError> {
        assert_eq!(
            indices.len(),
            labels.len(),
            "ImageDataset: one label per image"
        );
        if let Some(&bad) = labels.iter().find(|&&l| l >= num_classes) {
            return Err(DataError::config(
                field,
                format!("label {bad} is out of range for {num_classes} classes"),
            ));
        }
        let Some(shape) = pipeline.shape() else {
            return Err(varying_sizes(&*store, field));
        };
        Ok(ImageDataset {
            store,
            indices,
            labels,
            num_classes,
            pipeline: Arc::new(pipeline),
            shape,
            seed,
        })
    }

    /// The store the images come from.
    pub fn store(&self) -> &Arc<dyn ImageStore> {
        &self.store
    }

    /// The label of each sample.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The untransformed image of sample `index` (what [`crate::transform::ChannelStats`]
    /// are fitted on).
    ///
    /// # Errors
    /// An image that cannot be read.
    pub fn raw(&self, index: usize) -> Result<Image, DataError> {
        self.store.load(self.indices[index])
    }

    /// The samples at `positions`, in that order, with the same store and pipeline.
    pub fn select(&self, positions: &[usize]) -> ImageDataset {
        ImageDataset {
            indices: positions.iter().map(|&p| self.indices[p]).collect(),
            labels: positions.iter().map(|&p| self.labels[p]).collect(),
            ..self.clone()
        }
    }

    /// The same samples with another pipeline (evaluation transforms for a validation split).
    ///
    /// # Errors
    /// As [`ImageDataset::new`].
    pub fn with_pipeline(&self, pipeline: Pipeline, field: &str) -> Result<Self, DataError> {
        ImageDataset::new(
            self.store.clone(),
            self.indices.clone(),
            self.labels.clone(),
            self.num_classes,
            pipeline,
            field,
            self.seed,
        )
    }

    fn transformed(&self, index: usize, epoch: usize) -> Result<Image, DataError> {
        let at = self.indices[index];
        let img = self.store.load(at)?;
        let mut gen = sample_generator(self.seed, epoch, index);
        let named = |e: DataError| DataError::parse(self.store.describe(at), "", e.to_string());
        let out = self.pipeline.apply(img, &mut gen).map_err(named)?;
        if out.shape() != self.shape {
            return Err(DataError::parse(
                self.store.describe(at),
                "",
                format!(
                    "the transforms give a {:?} image, but the batch needs {:?}: images of other \
                     sizes need a Resize to [height, width] or a crop",
                    out.shape(),
                    self.shape
                ),
            ));
        }
        Ok(out)
    }
}

/// The error for images whose transformed size varies.
fn varying_sizes(store: &dyn ImageStore, field: &str) -> DataError {
    let detail = store
        .size_mismatch()
        .map(|(a, sa, b, sb)| format!(" ({a} is {}x{}, {b} is {}x{})", sa[0], sa[1], sb[0], sb[1]))
        .unwrap_or_default();
    DataError::config(
        field,
        format!(
            "the images have different sizes{detail}, so they cannot be batched: add a \
             {{ type = \"Resize\", size = [height, width] }}, a CenterCrop, a RandomCrop or a \
             RandomResizedCrop"
        ),
    )
}

impl Dataset for ImageDataset {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn input_kind(&self) -> InputKind {
        InputKind::Dense {
            shape: self.shape.to_vec(),
        }
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Class {
            num_classes: self.num_classes,
        }
    }

    fn get(&self, index: usize) -> Sample<'_> {
        self.fetch(index, 0)
            .unwrap_or_else(|e| panic!("ImageDataset: {e}"))
    }

    fn fetch(&self, index: usize, epoch: usize) -> Result<Sample<'_>, DataError> {
        let img = self.transformed(index, epoch)?;
        Ok(Sample {
            input: Input::Dense(Cow::Owned(img.data)),
            target: Target::Class(self.labels[index]),
        })
    }

    fn transform_batch(&self, batch: &mut Batch, epoch: usize) {
        if !self.pipeline.mixes_targets() || batch.targets.shape().len() != 1 {
            return;
        }
        let mut images = batch.inputs.to_vec::<f32>();
        let labels = batch.targets.to_vec::<i64>();
        let mut gen = batch_generator(self.seed, epoch, batch.index);
        if let Some(t) = self
            .pipeline
            .apply_batch(&mut images, self.shape, &labels, &mut gen)
        {
            let n = labels.len();
            batch.inputs = Tensor::from_vec(images, batch.inputs.shape());
            batch.targets = Tensor::from_vec(t, &[n, self.num_classes]);
        }
    }

    fn mixes_targets(&self) -> bool {
        self.pipeline.mixes_targets()
    }
}
