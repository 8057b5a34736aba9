//! Image data: where images come from ([`ImageStore`]: in-memory 8-bit pixels for MNIST and
//! CIFAR, image files decoded lazily for [`ImageFolder`]), the [`ImageDataset`] that runs a
//! transform [`Pipeline`] on each sample as a batch needs it, and the split/preprocessing
//! logic the image data plugins share.
//!
//! One data → model path: an image sample is `Input::Dense` of its post-transform shape
//! `[C, H, W]`, so images batch as `[batch, C, H, W]` f32 tensors like MNIST always did.

mod cifar;
mod dataset;
#[cfg(feature = "images")]
mod export;
#[cfg(feature = "images")]
mod folder;
pub(crate) mod splits;

pub use cifar::{read_cifar, Cifar10, Cifar100, CifarLabel};
pub use dataset::{ImageDataset, ImageStore, MemoryImages};
#[cfg(feature = "images")]
pub use export::{export_image_folder, write_png};
#[cfg(feature = "images")]
pub use folder::{decode_image, ColorMode, FileImages, ImageFolder, OnError, IMAGE_EXTENSIONS};
pub use splits::{ImagePreprocessing, ImageSplitOptions, ImageTransforms};

#[cfg(doc)]
use crate::transform::Pipeline;
