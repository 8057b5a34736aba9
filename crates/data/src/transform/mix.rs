//! Batch-level `MixUp` and `CutMix` (torchvision.transforms.v2): each image is mixed with its
//! neighbour in the batch (the batch rolled by one), and the one-hot targets with the same
//! weight, so targets become class probabilities (which `CrossEntropyLoss` takes).

use serde::{Deserialize, Serialize};
use tuna_tensor::Generator;

use super::draw::{beta, randint};
use super::image::{Image, ImageShape};
use super::kernels::{mix_rows, paste_box};
use super::{ImageBatch, Transform};
use crate::error::DataError;

fn one() -> f64 {
    1.0
}

fn check_mix(field: &str, alpha: f64) -> Result<(), DataError> {
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(DataError::config(
            format!("{field}.alpha"),
            format!("must be positive, got {alpha}"),
        ));
    }
    Ok(())
}

fn fill_classes(field: &str, own: &mut Option<usize>, data: usize) -> Result<(), DataError> {
    match own {
        Some(n) if *n != data => Err(DataError::config(
            format!("{field}.num_classes"),
            format!("is {n} but the data has {data} classes (leave it out to take the data's)"),
        )),
        _ => {
            *own = Some(data);
            Ok(())
        }
    }
}

/// `MixUp(alpha=1.0, num_classes=None)`: `λ ~ Beta(alpha, alpha)` per batch; images and
/// one-hot targets become `λ·x + (1 − λ)·x_rolled`. `num_classes` is filled from the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixUp {
    /// `alpha` of the Beta distribution (default 1).
    #[serde(default = "one")]
    pub alpha: f64,
    /// `num_classes` (default: the data's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_classes: Option<usize>,
}

#[typetag::serde(name = "MixUp")]
impl Transform for MixUp {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        check_mix(field, self.alpha)
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        Ok(input)
    }

    fn apply(&self, image: Image, _gen: &mut Generator) -> Result<Image, DataError> {
        Ok(image)
    }

    fn is_batch(&self) -> bool {
        true
    }

    fn apply_batch(&self, batch: &mut ImageBatch<'_>, gen: &mut Generator) {
        let lam = beta(gen, self.alpha) as f32;
        let per: usize = batch.shape.iter().product();
        mix_rows(batch.images, per, lam);
        mix_rows(batch.targets, batch.classes, lam);
    }

    fn fill_from_data(&mut self, field: &str, num_classes: usize) -> Result<(), DataError> {
        fill_classes(field, &mut self.num_classes, num_classes)
    }
}

/// `CutMix(alpha=1.0, num_classes=None)`: `λ ~ Beta(alpha, alpha)` per batch; a box of area
/// about `(1 − λ)·H·W` centred at a uniform pixel (clipped to the image) is pasted from the
/// rolled batch, and the targets mixed with `λ = 1 − box area / (H·W)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutMix {
    /// `alpha` of the Beta distribution (default 1).
    #[serde(default = "one")]
    pub alpha: f64,
    /// `num_classes` (default: the data's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_classes: Option<usize>,
}

impl CutMix {
    /// The box `[x1, y1, x2, y2]` and the adjusted λ for `h × w` images (torchvision's
    /// `make_params`).
    pub fn params(&self, h: usize, w: usize, gen: &mut Generator) -> ([usize; 4], f64) {
        let lam = beta(gen, self.alpha);
        let rx = randint(gen, 0, w as i64);
        let ry = randint(gen, 0, h as i64);
        let r = 0.5 * (1.0 - lam).sqrt();
        let (rw, rh) = ((r * w as f64) as i64, (r * h as f64) as i64);
        let x1 = (rx - rw).max(0) as usize;
        let y1 = (ry - rh).max(0) as usize;
        let x2 = (rx + rw).min(w as i64) as usize;
        let y2 = (ry + rh).min(h as i64) as usize;
        let lam = 1.0 - ((x2 - x1) * (y2 - y1)) as f64 / (w * h) as f64;
        ([x1, y1, x2, y2], lam)
    }
}

#[typetag::serde(name = "CutMix")]
impl Transform for CutMix {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        check_mix(field, self.alpha)
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        Ok(input)
    }

    fn apply(&self, image: Image, _gen: &mut Generator) -> Result<Image, DataError> {
        Ok(image)
    }

    fn is_batch(&self) -> bool {
        true
    }

    fn apply_batch(&self, batch: &mut ImageBatch<'_>, gen: &mut Generator) {
        let [c, h, w] = batch.shape;
        let ([x1, y1, x2, y2], lam) = self.params(h, w, gen);
        paste_box(batch.images, [c, h, w], [x1, y1, x2, y2]);
        mix_rows(batch.targets, batch.classes, lam as f32);
    }

    fn fill_from_data(&mut self, field: &str, num_classes: usize) -> Result<(), DataError> {
        fill_classes(field, &mut self.num_classes, num_classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixup_mixes_with_the_previous_row() {
        let mut v = vec![1.0, 0.0, 0.0, 1.0, 0.5, 0.5];
        mix_rows(&mut v, 2, 0.75);
        assert_eq!(v, vec![0.875, 0.125, 0.25, 0.75, 0.375, 0.625]);
    }

    #[test]
    fn cutmix_targets_still_sum_to_one() {
        let t = CutMix {
            alpha: 1.0,
            num_classes: Some(3),
        };
        let mut images = vec![0.0f32; 4 * 8 * 8];
        for (i, v) in images.iter_mut().enumerate() {
            *v = (i / 64) as f32;
        }
        let mut targets = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let mut b = ImageBatch {
            images: &mut images,
            shape: [1, 8, 8],
            targets: &mut targets,
            classes: 3,
        };
        t.apply_batch(&mut b, &mut Generator::new(5));
        for row in targets.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        // image 1 received pixels of image 0 in the box, in proportion to its target
        let from0 = images[64..128].iter().filter(|&&v| v == 0.0).count() as f32 / 64.0;
        assert!((targets[3] - from0).abs() < 1e-6, "{targets:?} {from0}");
    }
}
