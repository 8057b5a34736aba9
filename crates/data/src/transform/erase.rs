//! `RandomErasing` (torchvision.transforms.v2).

use serde::{Deserialize, Serialize};
use tuna_tensor::Generator;

use super::args::{check_ordered, check_probability, half, is_default};
use super::draw::{chance, normal, randint, round_half_even, uniform};
use super::image::{Image, ImageShape};
use super::kernels;
use super::Transform;
use crate::error::DataError;

/// What `RandomErasing` writes into the erased box: a number, one per channel, or
/// `"random"` (standard normal values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a number, a list of numbers (one per channel) or \"random\""
)]
pub enum ErasingValue {
    /// The same value everywhere.
    One(f32),
    /// One value per channel.
    Many(Vec<f32>),
    /// `"random"`: i.i.d. standard normal values.
    Random(String),
}

impl Default for ErasingValue {
    fn default() -> Self {
        ErasingValue::One(0.0)
    }
}

/// `RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False)`:
/// with probability `p`, a box of random area (a `scale` fraction of the image) and aspect
/// ratio (log-uniform in `ratio`) is overwritten with `value`; nothing is erased when 10
/// draws miss. Usually placed after `Normalize`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomErasing {
    /// `p` (default 0.5).
    #[serde(default = "half")]
    pub p: f64,
    /// `scale`: the box's area as a fraction of the image's.
    #[serde(default = "default_scale")]
    pub scale: [f64; 2],
    /// `ratio`: the box's height / width range.
    #[serde(default = "default_ratio")]
    pub ratio: [f64; 2],
    /// `value` (default 0).
    #[serde(default, skip_serializing_if = "is_default")]
    pub value: ErasingValue,
    /// `inplace` (accepted for torchvision compatibility).
    #[serde(default, skip_serializing_if = "is_default")]
    pub inplace: bool,
}

fn default_scale() -> [f64; 2] {
    [0.02, 0.33]
}

fn default_ratio() -> [f64; 2] {
    [0.3, 3.3]
}

impl RandomErasing {
    /// `(top, left, height, width)` of the box for an `h × w` image, or `None` (torchvision's
    /// `make_params` after the `p` draw).
    pub fn params(&self, h: usize, w: usize, gen: &mut Generator) -> Option<[usize; 4]> {
        let area = (h * w) as f64;
        let log_ratio = [self.ratio[0].ln(), self.ratio[1].ln()];
        for _ in 0..10 {
            let erase = area * uniform(gen, self.scale[0], self.scale[1]);
            let aspect = uniform(gen, log_ratio[0], log_ratio[1]).exp();
            let eh = round_half_even((erase * aspect).sqrt());
            let ew = round_half_even((erase / aspect).sqrt());
            if !(eh < h as i64 && ew < w as i64) {
                continue;
            }
            let (eh, ew) = (eh.max(0) as usize, ew.max(0) as usize);
            let i = randint(gen, 0, (h - eh + 1) as i64) as usize;
            let j = randint(gen, 0, (w - ew + 1) as i64) as usize;
            return Some([i, j, eh, ew]);
        }
        None
    }
}

#[typetag::serde(name = "RandomErasing")]
impl Transform for RandomErasing {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        check_probability(&format!("{field}.p"), self.p)?;
        check_ordered(&format!("{field}.scale"), self.scale)?;
        check_ordered(&format!("{field}.ratio"), self.ratio)?;
        if !(0.0..=1.0).contains(&self.scale[0]) || self.scale[1] > 1.0 {
            return Err(DataError::config(
                format!("{field}.scale"),
                format!("must lie within [0, 1], got {:?}", self.scale),
            ));
        }
        if self.ratio[0] <= 0.0 {
            return Err(DataError::config(
                format!("{field}.ratio"),
                format!("must be positive, got {:?}", self.ratio),
            ));
        }
        if let ErasingValue::Random(s) = &self.value {
            if s != "random" {
                return Err(DataError::config(
                    format!("{field}.value"),
                    format!("a string value must be \"random\", got {s:?}"),
                ));
            }
        }
        Ok(())
    }

    fn output_shape(&self, field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        if let ErasingValue::Many(v) = &self.value {
            if v.len() != 1 && v.len() != input.channels {
                return Err(DataError::config(
                    format!("{field}.value"),
                    format!(
                        "has {} values for images of {} channel(s)",
                        v.len(),
                        input.channels
                    ),
                ));
            }
        }
        Ok(input)
    }

    fn apply(&self, mut image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        if !chance(gen, self.p) {
            return Ok(image);
        }
        let Some([top, left, eh, ew]) = self.params(image.height, image.width, gen) else {
            return Ok(image);
        };
        let fixed = match &self.value {
            ErasingValue::One(v) => Some(vec![*v]),
            ErasingValue::Many(v) => Some(v.clone()),
            ErasingValue::Random(_) => None,
        };
        match fixed {
            Some(v) => kernels::erase(&mut image, top, left, eh, ew, &v),
            None => {
                let (h, w) = (image.height, image.width);
                for c in 0..image.channels {
                    for y in top..top + eh {
                        for x in left..left + ew {
                            image.data[(c * h + y) * w + x] = normal(gen);
                        }
                    }
                }
            }
        }
        Ok(image)
    }
}
