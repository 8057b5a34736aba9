//! Image transforms: `typetag` plugins named and parameterized as
//! `torchvision.transforms.v2` (`Resize`, `CenterCrop`, `RandomCrop`, `RandomResizedCrop`,
//! `RandomHorizontalFlip`, `RandomVerticalFlip`, `RandomRotation`, `RandomAffine`,
//! `ColorJitter`, `RandomGrayscale`, `GaussianBlur`, `Normalize`, `RandomErasing`, and the
//! batch-level `MixUp` and `CutMix`), and the [`Pipeline`] that runs a list of them.
//!
//! An image enters a list as a float `[C, H, W]` image in `[0, 1]` (torchvision's
//! `ToImage()` + `ToDtype(torch.float32, scale=True)`), so a list never starts with
//! `ToTensor`. Every random draw of sample `i` in epoch `e` comes from a generator that is a
//! pure function of `(seed, e, i)` ([`sample_generator`]), and a batch transform's from
//! `(seed, e, batch index)`: a resumed run sees exactly the augmented samples an uninterrupted
//! one would. The deterministic kernels compute what torchvision's functional kernels compute
//! on a float32 image (checked against torchvision on fixed inputs in `tests/`).
//!
//! ```
//! use tuna_data::transform::{sample_generator, Image, ImageShape, Pipeline, Transform};
//!
//! let list: Vec<Box<dyn Transform>> = toml::from_str::<toml::Table>(r#"
//!     t = [
//!       { type = "RandomCrop", size = 28, padding = 4, padding_mode = "reflect" },
//!       { type = "RandomHorizontalFlip" },
//!       { type = "Normalize", mean = [0.5], std = [0.25] },
//!     ]
//! "#).unwrap()["t"].clone().try_into().unwrap();
//! let p = Pipeline::new("data.train_transforms", &list, ImageShape::fixed(1, 28, 28), 10, None)
//!     .unwrap();
//! assert_eq!(p.shape(), Some([1, 28, 28]));
//! let img = Image::zeros(1, 28, 28);
//! let a = p.apply(img.clone(), &mut sample_generator(0, 3, 17)).unwrap();
//! let b = p.apply(img, &mut sample_generator(0, 3, 17)).unwrap();
//! assert_eq!(a, b); // the same (seed, epoch, index): the same augmentation
//! assert!(a.data.iter().all(|&v| v == -2.0)); // (0 - 0.5) / 0.25
//! ```

mod args;
mod color;
mod draw;
mod erase;
mod geometry;
mod image;
pub mod kernels;
mod mix;
mod pipeline;

use std::fmt::Debug;

use dyn_clone::DynClone;
use tuna_tensor::Generator;

use crate::error::DataError;

pub use args::{Fill, Interpolation, Padding, PaddingMode, Range, Size};
pub use color::{ColorJitter, GaussianBlur, Normalize, RandomGrayscale};
pub use draw::{batch_generator, sample_generator};
pub use erase::{ErasingValue, RandomErasing};
pub use geometry::{
    affine, resized_size, rotate, AffineParams, CenterCrop, RandomAffine, RandomCrop,
    RandomHorizontalFlip, RandomResizedCrop, RandomRotation, RandomVerticalFlip, Resize, Shear,
};
pub use image::{Image, ImageShape};
pub use mix::{CutMix, MixUp};
pub use pipeline::{ChannelStats, Pipeline, StatsAccumulator};

/// A batch of images with one-hot (or already mixed) soft targets, as the batch-level
/// transforms ([`MixUp`], [`CutMix`]) take it.
#[derive(Debug)]
pub struct ImageBatch<'a> {
    /// `[batch, C, H, W]` values, row-major.
    pub images: &'a mut [f32],
    /// `[C, H, W]` of one image.
    pub shape: [usize; 3],
    /// `[batch, classes]` class probabilities, row-major.
    pub targets: &'a mut [f32],
    /// The number of classes.
    pub classes: usize,
}

impl ImageBatch<'_> {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.targets.len() / self.classes.max(1)
    }

    /// `true` for a batch without images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An image transform in an experiment file's `train_transforms` / `eval_transforms` list
/// (`{ type = "RandomCrop", size = 32, padding = 4 }`), named and parameterized as in
/// `torchvision.transforms.v2`.
///
/// Register your own with `#[typetag::serde(name = "MyTransform")] impl Transform for ...`.
#[typetag::serde(tag = "type")]
pub trait Transform: DynClone + Debug + Send + Sync {
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks the arguments; `field` is the transform's place (`data.train_transforms[1]`).
    ///
    /// # Errors
    /// [`DataError::Config`] naming `field` and the argument.
    fn validate(&self, field: &str) -> Result<(), DataError>;

    /// The shape of the output for an input of `input` (height or width `None` when they
    /// vary from image to image).
    ///
    /// # Errors
    /// An input this transform cannot take (a crop larger than a fixed-size image, a fill
    /// with the wrong number of channels), naming `field`.
    fn output_shape(&self, field: &str, input: ImageShape) -> Result<ImageShape, DataError>;

    /// Transforms one image, drawing its random parameters from `gen` (a batch transform
    /// returns the image unchanged here).
    ///
    /// # Errors
    /// An image this transform cannot take (smaller than a crop without padding).
    fn apply(&self, image: Image, gen: &mut Generator) -> Result<Image, DataError>;

    /// `true` for transforms of whole batches (`MixUp`, `CutMix`): the loader applies them
    /// after collating, in [`Transform::apply_batch`], and targets become class
    /// probabilities. They come last in a list.
    fn is_batch(&self) -> bool {
        false
    }

    /// Transforms a batch (batch transforms only; the default leaves it unchanged).
    fn apply_batch(&self, batch: &mut ImageBatch<'_>, gen: &mut Generator) {
        let _ = (batch, gen);
    }

    /// Fills what the data decides and the config may leave out (`MixUp`'s `num_classes`),
    /// checking a given value against it.
    ///
    /// # Errors
    /// A given value that contradicts the data, naming `field`.
    fn fill_from_data(&mut self, field: &str, num_classes: usize) -> Result<(), DataError> {
        let _ = (field, num_classes);
        Ok(())
    }

    /// `true` when the transform needs statistics fitted on the training split
    /// (`Normalize` without `mean` and `std`).
    fn needs_fit(&self) -> bool {
        false
    }

    /// Takes the fitted statistics (see [`Transform::needs_fit`]).
    fn set_fitted(&mut self, stats: &ChannelStats) {
        let _ = stats;
    }
}

dyn_clone::clone_trait_object!(Transform);
