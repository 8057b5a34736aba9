//! Argument types the transforms share, written as torchvision takes them: a size is an int or
//! `[h, w]`, a range a number or `[min, max]`, a padding 1, 2 or 4 ints, a fill a number or one
//! per channel.

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// How pixels are interpolated (torchvision's `InterpolationMode`, by its lower-case value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// `InterpolationMode.NEAREST` (`floor(dst · in/out)` for resizing, rounding for affine
    /// warps).
    Nearest,
    /// `InterpolationMode.BILINEAR`.
    #[default]
    Bilinear,
    /// `InterpolationMode.BICUBIC`.
    Bicubic,
}

/// How a pad fills the border (torchvision's `padding_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaddingMode {
    /// The `fill` value.
    #[default]
    Constant,
    /// The border pixel repeated.
    Edge,
    /// Mirrored without repeating the border (`[3, 2, | 1, 2, 3]`).
    Reflect,
    /// Mirrored repeating the border (`[2, 1, | 1, 2, 3]`).
    Symmetric,
}

/// An output size: an int (square, or for `Resize` the smaller edge) or `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "an integer or a list [height, width] of two integers"
)]
pub enum Size {
    /// One number.
    One(usize),
    /// `[height, width]`.
    Pair([usize; 2]),
}

impl Size {
    /// `[height, width]` (an int is square).
    pub fn hw(self) -> [usize; 2] {
        match self {
            Size::One(s) => [s, s],
            Size::Pair(p) => p,
        }
    }

    /// Checks that every side is at least 1.
    ///
    /// # Errors
    /// [`DataError::Config`] naming `field`.
    pub fn check(self, field: &str) -> Result<(), DataError> {
        if self.hw().contains(&0) {
            return Err(DataError::config(
                field,
                format!("sizes must be >= 1, got {self:?}"),
            ));
        }
        Ok(())
    }
}

/// A range of a random parameter: a number `x` (torchvision turns it into a symmetric range
/// that each transform documents) or `[min, max]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a number or a list [min, max] of two numbers")]
pub enum Range {
    /// One number.
    One(f64),
    /// `[min, max]`.
    Pair([f64; 2]),
}

impl Range {
    /// `[-x, x]` for a number (which must be >= 0), `[min, max]` as given.
    ///
    /// # Errors
    /// A negative number, or `min > max`, naming `field`.
    pub fn symmetric(self, field: &str) -> Result<[f64; 2], DataError> {
        let r = match self {
            Range::One(x) if x < 0.0 => {
                return Err(DataError::config(
                    field,
                    format!("a single number must be >= 0, got {x}"),
                ))
            }
            Range::One(x) => [-x, x],
            Range::Pair(p) => p,
        };
        check_ordered(field, r)?;
        Ok(r)
    }

    /// `[max(0, 1 - x), 1 + x]` for a number, `[min, max]` as given (ColorJitter's
    /// brightness, contrast and saturation).
    ///
    /// # Errors
    /// A negative number, or `min > max`, naming `field`.
    pub fn around_one(self, field: &str) -> Result<[f64; 2], DataError> {
        let r = match self {
            Range::One(x) if x < 0.0 => {
                return Err(DataError::config(field, format!("must be >= 0, got {x}")))
            }
            Range::One(x) => [(1.0 - x).max(0.0), 1.0 + x],
            Range::Pair(p) => p,
        };
        check_ordered(field, r)?;
        if r[0] < 0.0 {
            return Err(DataError::config(
                field,
                format!("factors must be >= 0, got {r:?}"),
            ));
        }
        Ok(r)
    }
}

/// Checks `min <= max` and that both are finite.
///
/// # Errors
/// [`DataError::Config`] naming `field`.
pub fn check_ordered(field: &str, r: [f64; 2]) -> Result<(), DataError> {
    if !(r[0].is_finite() && r[1].is_finite() && r[0] <= r[1]) {
        return Err(DataError::config(
            field,
            format!("expected [min, max] with finite min <= max, got {r:?}"),
        ));
    }
    Ok(())
}

/// Checks that `p` is a probability.
///
/// # Errors
/// [`DataError::Config`] naming `field`.
pub fn check_probability(field: &str, p: f64) -> Result<(), DataError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(DataError::config(
            field,
            format!("must be a probability in [0, 1], got {p}"),
        ));
    }
    Ok(())
}

/// A padding: one int for every side, `[left/right, top/bottom]`, or
/// `[left, top, right, bottom]` (torchvision's `padding`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "an integer, or a list of 2 ([left/right, top/bottom]) or 4 ([left, top, right, bottom]) integers"
)]
pub enum Padding {
    /// The same on every side.
    One(usize),
    /// One per side in one of the torchvision forms.
    Many(Vec<usize>),
}

impl Padding {
    /// `[left, top, right, bottom]`.
    ///
    /// # Errors
    /// A list of a length other than 2 or 4, naming `field`.
    pub fn ltrb(&self, field: &str) -> Result<[usize; 4], DataError> {
        match self {
            Padding::One(p) => Ok([*p; 4]),
            Padding::Many(v) => match v.as_slice() {
                [x, y] => Ok([*x, *y, *x, *y]),
                [l, t, r, b] => Ok([*l, *t, *r, *b]),
                _ => Err(DataError::config(
                    field,
                    format!("expected 1, 2 or 4 values, got {}", v.len()),
                )),
            },
        }
    }
}

/// A fill value: one number for every channel or one per channel (torchvision's `fill`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a number or a list of numbers, one per channel")]
pub enum Fill {
    /// The same for every channel.
    One(f32),
    /// One per channel.
    Many(Vec<f32>),
}

impl Default for Fill {
    fn default() -> Self {
        Fill::One(0.0)
    }
}

impl Fill {
    /// The values, one or one per channel.
    pub fn values(&self) -> Vec<f32> {
        match self {
            Fill::One(v) => vec![*v],
            Fill::Many(v) => v.clone(),
        }
    }

    /// Checks that a per-channel fill has `channels` values.
    ///
    /// # Errors
    /// [`DataError::Config`] naming `field`.
    pub fn check_channels(&self, field: &str, channels: usize) -> Result<(), DataError> {
        match self {
            Fill::Many(v) if v.len() != 1 && v.len() != channels => Err(DataError::config(
                field,
                format!(
                    "has {} values for images of {channels} channel(s): give one, or one per channel",
                    v.len()
                ),
            )),
            _ => Ok(()),
        }
    }
}

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn half() -> f64 {
    0.5
}
