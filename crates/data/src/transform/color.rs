//! Colour and value transforms: `ColorJitter`, `RandomGrayscale`, `GaussianBlur` and
//! `Normalize` (torchvision.transforms.v2).

use serde::{Deserialize, Serialize};
use tuna_tensor::Generator;

use super::args::{check_probability, is_default, Range, Size};
use super::draw::{chance, uniform};
use super::image::{Image, ImageShape};
use super::kernels;
use super::pipeline::ChannelStats;
use super::Transform;
use crate::error::DataError;

/// `ColorJitter(brightness=None, contrast=None, saturation=None, hue=None)`: the four
/// adjustments in a random order, each with a factor uniform in its range (a number `x`
/// means `[max(0, 1 - x), 1 + x]`, for `hue` `[-x, x]` with `x <= 0.5`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorJitter {
    /// `brightness`: the factor multiplying every value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brightness: Option<Range>,
    /// `contrast`: the blend factor with the mean grey level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contrast: Option<Range>,
    /// `saturation`: the blend factor with the grayscale image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturation: Option<Range>,
    /// `hue`: the hue shift in turns, within `[-0.5, 0.5]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hue: Option<Range>,
}

impl ColorJitter {
    fn ranges(&self, field: &str) -> Result<[Option<[f64; 2]>; 4], DataError> {
        let f = |k: &str| format!("{field}.{k}");
        let around = |r: &Option<Range>, k: &str| r.map(|r| r.around_one(&f(k))).transpose();
        let hue = self.hue.map(|r| r.symmetric(&f("hue"))).transpose()?;
        if let Some(h) = hue {
            if h[0] < -0.5 || h[1] > 0.5 {
                return Err(DataError::config(
                    f("hue"),
                    format!("must lie within [-0.5, 0.5], got {h:?}"),
                ));
            }
        }
        Ok([
            around(&self.brightness, "brightness")?,
            around(&self.contrast, "contrast")?,
            around(&self.saturation, "saturation")?,
            hue,
        ])
    }
}

#[typetag::serde(name = "ColorJitter")]
impl Transform for ColorJitter {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        self.ranges(field).map(|_| ())
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        Ok(input)
    }

    fn apply(&self, mut image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        let ranges = self.ranges("ColorJitter")?;
        let order = gen.randperm(4);
        let factors: Vec<Option<f32>> = ranges
            .iter()
            .map(|r| r.map(|[lo, hi]| uniform(gen, lo, hi) as f32))
            .collect();
        for k in order {
            let Some(x) = factors[k] else { continue };
            match k {
                0 => kernels::adjust_brightness(&mut image, x),
                1 => kernels::adjust_contrast(&mut image, x),
                2 => kernels::adjust_saturation(&mut image, x),
                _ => kernels::adjust_hue(&mut image, x),
            }
        }
        Ok(image)
    }
}

/// `RandomGrayscale(p=0.1)`: with probability `p`, every channel becomes the luma
/// `0.2989 R + 0.587 G + 0.114 B` (the channel count is kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomGrayscale {
    /// `p` (default 0.1).
    #[serde(default = "tenth")]
    pub p: f64,
}

fn tenth() -> f64 {
    0.1
}

#[typetag::serde(name = "RandomGrayscale")]
impl Transform for RandomGrayscale {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        check_probability(&format!("{field}.p"), self.p)
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        Ok(input)
    }

    fn apply(&self, mut image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        if chance(gen, self.p) && image.channels == 3 {
            let gray = kernels::grayscale_plane(&image);
            for c in 0..3 {
                let p = image.plane();
                image.data[c * p..(c + 1) * p].copy_from_slice(&gray);
            }
        }
        Ok(image)
    }
}

/// `GaussianBlur(kernel_size, sigma=(0.1, 2.0))`: a Gaussian blur with `sigma` uniform in
/// its range, reflect-padded. `kernel_size` is an odd int or `[kx, ky]` (x first, as
/// torchvision).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianBlur {
    /// `kernel_size`: an odd int or `[kx, ky]`.
    pub kernel_size: Size,
    /// `sigma`: a fixed value or `[min, max]` (default `[0.1, 2.0]`).
    #[serde(default = "default_sigma")]
    pub sigma: Range,
}

fn default_sigma() -> Range {
    Range::Pair([0.1, 2.0])
}

impl GaussianBlur {
    fn sigma_range(&self) -> [f64; 2] {
        match self.sigma {
            Range::One(s) => [s, s],
            Range::Pair(p) => p,
        }
    }
}

#[typetag::serde(name = "GaussianBlur")]
impl Transform for GaussianBlur {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        let k = self.kernel_size.hw();
        if k.iter().any(|&v| v == 0 || v % 2 == 0) {
            return Err(DataError::config(
                format!("{field}.kernel_size"),
                format!("must be odd and positive, got {k:?}"),
            ));
        }
        let s = self.sigma_range();
        if !(s[0] > 0.0 && s[0] <= s[1]) {
            return Err(DataError::config(
                format!("{field}.sigma"),
                format!("must be positive with min <= max, got {s:?}"),
            ));
        }
        Ok(())
    }

    fn output_shape(&self, field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        let [kx, ky] = self.kernel_size.hw();
        if let (Some(h), Some(w)) = (input.height, input.width) {
            if kx / 2 >= w || ky / 2 >= h {
                return Err(DataError::config(
                    format!("{field}.kernel_size"),
                    format!("[{kx}, {ky}] needs reflect padding wider than the {h}x{w} image"),
                ));
            }
        }
        Ok(input)
    }

    fn apply(&self, image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        let [lo, hi] = self.sigma_range();
        let sigma = uniform(gen, lo, hi) as f32;
        let [kx, ky] = self.kernel_size.hw();
        Ok(kernels::gaussian_blur(
            &image,
            &kernels::gaussian_kernel(kx, sigma),
            &kernels::gaussian_kernel(ky, sigma),
        ))
    }
}

/// `Normalize(mean, std, inplace=False)`: `(x - mean[c]) / std[c]` per channel. Leave
/// `mean` and `std` out to have them fitted on the training split (per channel, over every
/// pixel of the decoded training images in `[0, 1]`) and saved in the run's
/// `preprocessing.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    /// `mean` per channel (or one for all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f32>>,
    /// `std` per channel (or one for all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f32>>,
    /// `inplace` (accepted for torchvision compatibility; Tuna always reuses the buffer).
    #[serde(default, skip_serializing_if = "is_default")]
    pub inplace: bool,
}

#[typetag::serde(name = "Normalize")]
impl Transform for Normalize {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        match (&self.mean, &self.std) {
            (Some(_), None) | (None, Some(_)) => Err(DataError::config(
                field,
                "give both mean and std, or neither (to fit them on the training split)",
            )),
            (Some(_), Some(s)) if s.iter().any(|v| !(*v > 0.0 && v.is_finite())) => {
                Err(DataError::config(
                    format!("{field}.std"),
                    format!("must be positive, got {s:?}"),
                ))
            }
            _ => Ok(()),
        }
    }

    fn output_shape(&self, field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        for (name, v) in [("mean", &self.mean), ("std", &self.std)] {
            if let Some(v) = v {
                if v.len() != 1 && v.len() != input.channels {
                    return Err(DataError::config(
                        format!("{field}.{name}"),
                        format!(
                            "has {} values for images of {} channel(s)",
                            v.len(),
                            input.channels
                        ),
                    ));
                }
            }
        }
        Ok(input)
    }

    fn apply(&self, mut image: Image, _gen: &mut Generator) -> Result<Image, DataError> {
        let (Some(mean), Some(std)) = (&self.mean, &self.std) else {
            return Err(DataError::config(
                "Normalize",
                "mean and std were neither given nor fitted",
            ));
        };
        let plane = image.plane();
        for (c, chunk) in image.data.chunks_mut(plane.max(1)).enumerate() {
            let m = mean[c.min(mean.len() - 1)];
            let s = std[c.min(std.len() - 1)];
            for v in chunk {
                *v = (*v - m) / s;
            }
        }
        Ok(image)
    }

    fn needs_fit(&self) -> bool {
        self.mean.is_none()
    }

    fn set_fitted(&mut self, stats: &ChannelStats) {
        if self.mean.is_none() {
            self.mean = Some(stats.mean.clone());
            self.std = Some(stats.std.clone());
        }
    }
}
