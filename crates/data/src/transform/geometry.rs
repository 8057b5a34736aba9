//! Geometric transforms: `Resize`, `CenterCrop`, `RandomCrop`, `RandomResizedCrop`, the
//! flips, `RandomRotation` and `RandomAffine` (torchvision.transforms.v2).

use serde::{Deserialize, Serialize};
use tuna_tensor::Generator;

use super::args::{
    check_ordered, check_probability, half, is_default, yes, Fill, Interpolation, Padding,
    PaddingMode, Range, Size,
};
use super::draw::{chance, randint, round_half_even, uniform};
use super::image::{Image, ImageShape};
use super::kernels;
use super::Transform;
use crate::error::DataError;

/// The `[height, width]` torchvision's `Resize(size, max_size)` gives an `h × w` image
/// (`_compute_resized_output_size`): an int matches the smaller edge and keeps the aspect
/// ratio (the longer edge `int(size · long / short)`, at most `max_size`).
pub fn resized_size(h: usize, w: usize, size: Size, max_size: Option<usize>) -> [usize; 2] {
    match size {
        Size::Pair(hw) => hw,
        Size::One(s) => {
            let (short, long) = if w <= h { (w, h) } else { (h, w) };
            let (mut new_short, mut new_long) =
                (s, (s as f64 * long as f64 / short as f64) as usize);
            if let Some(m) = max_size {
                if new_long > m {
                    new_short = (m as f64 * new_short as f64 / new_long as f64) as usize;
                    new_long = m;
                }
            }
            if w <= h {
                [new_long, new_short]
            } else {
                [new_short, new_long]
            }
        }
    }
}

/// `Resize(size, interpolation=BILINEAR, max_size=None, antialias=True)`: an int `size`
/// resizes the smaller edge to it keeping the aspect ratio, `[h, w]` resizes to exactly that.
/// Bilinear and bicubic are antialiased when shrinking (PIL's filters, as torchvision on
/// tensors); nearest takes `floor(dst · in/out)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resize {
    /// `size`: the smaller edge (int) or `[height, width]`.
    pub size: Size,
    /// `interpolation`: `"nearest"`, `"bilinear"` (default) or `"bicubic"`.
    #[serde(default)]
    pub interpolation: Interpolation,
    /// `max_size`: the longest the longer edge may be with an int `size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<usize>,
    /// `antialias` (default `true`).
    #[serde(default = "yes")]
    pub antialias: bool,
}

#[typetag::serde(name = "Resize")]
impl Transform for Resize {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        self.size.check(&format!("{field}.size"))?;
        match (self.size, self.max_size) {
            (Size::Pair(_), Some(_)) => Err(DataError::config(
                format!("{field}.max_size"),
                "only applies when size is one int (the smaller edge)",
            )),
            (Size::One(s), Some(m)) if m <= s => Err(DataError::config(
                format!("{field}.max_size"),
                format!("must be larger than size ({s}), got {m}"),
            )),
            _ => Ok(()),
        }
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        Ok(match (self.size, input.height, input.width) {
            (Size::Pair([h, w]), _, _) => ImageShape::fixed(input.channels, h, w),
            (s, Some(h), Some(w)) => {
                let [h, w] = resized_size(h, w, s, self.max_size);
                ImageShape::fixed(input.channels, h, w)
            }
            _ => ImageShape {
                channels: input.channels,
                height: None,
                width: None,
            },
        })
    }

    fn apply(&self, image: Image, _gen: &mut Generator) -> Result<Image, DataError> {
        let [h, w] = resized_size(image.height, image.width, self.size, self.max_size);
        Ok(kernels::resize(
            &image,
            h,
            w,
            self.interpolation,
            self.antialias,
        ))
    }
}

/// `CenterCrop(size)`: the central `size` crop (torchvision rounds the offset
/// `(H - h) / 2` half to even), zero-padded first when the image is smaller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenterCrop {
    /// `size`: an int (square) or `[height, width]`.
    pub size: Size,
}

#[typetag::serde(name = "CenterCrop")]
impl Transform for CenterCrop {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        self.size.check(&format!("{field}.size"))
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        let [h, w] = self.size.hw();
        Ok(ImageShape::fixed(input.channels, h, w))
    }

    fn apply(&self, image: Image, _gen: &mut Generator) -> Result<Image, DataError> {
        let [ch, cw] = self.size.hw();
        // torchvision pads (left/top get the floor of half the missing size) and then crops
        // at round((H - h) / 2): together one window
        let offset = |size: usize, crop: usize| -> i64 {
            if crop > size {
                -(((crop - size) / 2) as i64)
            } else {
                round_half_even((size - crop) as f64 / 2.0)
            }
        };
        let top = offset(image.height, ch);
        let left = offset(image.width, cw);
        Ok(kernels::crop(&image, top, left, ch, cw))
    }
}

/// `RandomCrop(size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant")`:
/// pads by `padding` (and, with `pad_if_needed`, up to the crop size), then crops `size` at
/// a uniformly drawn position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomCrop {
    /// `size`: an int (square) or `[height, width]`.
    pub size: Size,
    /// `padding`: an int, `[left/right, top/bottom]` or `[left, top, right, bottom]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<Padding>,
    /// `pad_if_needed`: pad an image smaller than the crop (default `false`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub pad_if_needed: bool,
    /// `fill` for `constant` padding (default 0).
    #[serde(default, skip_serializing_if = "is_default")]
    pub fill: Fill,
    /// `padding_mode`: `"constant"` (default), `"edge"`, `"reflect"` or `"symmetric"`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub padding_mode: PaddingMode,
}

impl RandomCrop {
    fn ltrb(&self) -> [usize; 4] {
        self.padding
            .as_ref()
            .and_then(|p| p.ltrb("").ok())
            .unwrap_or([0; 4])
    }

    /// The padding `[l, t, r, b]` for an `h × w` image, or the error torchvision raises.
    fn plan(&self, h: usize, w: usize) -> Result<[usize; 4], String> {
        let [mut l, mut t, mut r, mut b] = self.ltrb();
        let [ch, cw] = self.size.hw();
        let (mut ph, mut pw) = (h + t + b, w + l + r);
        if self.pad_if_needed {
            if ph < ch {
                let d = ch - ph;
                (t, b, ph) = (t + d, b + d, ph + 2 * d);
            }
            if pw < cw {
                let d = cw - pw;
                (l, r, pw) = (l + d, r + d, pw + 2 * d);
            }
        }
        if ph < ch || pw < cw {
            return Err(format!(
                "the crop size [{ch}, {cw}] is larger than the (padded) image size [{ph}, {pw}]; \
                 add padding, pad_if_needed = true, or a Resize before it"
            ));
        }
        Ok([l, t, r, b])
    }
}

#[typetag::serde(name = "RandomCrop")]
impl Transform for RandomCrop {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        self.size.check(&format!("{field}.size"))?;
        if let Some(p) = &self.padding {
            p.ltrb(&format!("{field}.padding"))?;
        }
        Ok(())
    }

    fn output_shape(&self, field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        self.fill
            .check_channels(&format!("{field}.fill"), input.channels)?;
        if let (Some(h), Some(w)) = (input.height, input.width) {
            self.plan(h, w).map_err(|e| DataError::config(field, e))?;
        }
        let [h, w] = self.size.hw();
        Ok(ImageShape::fixed(input.channels, h, w))
    }

    fn apply(&self, image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        let [l, t, r, b] = self
            .plan(image.height, image.width)
            .map_err(|e| DataError::config("RandomCrop", e))?;
        let [ch, cw] = self.size.hw();
        let (ph, pw) = (image.height + t + b, image.width + l + r);
        let top = if ph > ch {
            randint(gen, 0, (ph - ch + 1) as i64)
        } else {
            0
        };
        let left = if pw > cw {
            randint(gen, 0, (pw - cw + 1) as i64)
        } else {
            0
        };
        Ok(kernels::window(
            &image,
            top - t as i64,
            left - l as i64,
            ch,
            cw,
            self.padding_mode,
            &self.fill.values(),
        ))
    }
}

/// `RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3/4, 4/3), interpolation=BILINEAR,
/// antialias=True)`: a crop of random area (a `scale` fraction of the image) and aspect
/// ratio (log-uniform in `ratio`), resized to `size`; after 10 misses, the central crop
/// with the ratio clamped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomResizedCrop {
    /// `size`: an int (square) or `[height, width]`.
    pub size: Size,
    /// `scale`: the range of the crop's area as a fraction of the image's.
    #[serde(default = "default_crop_scale")]
    pub scale: [f64; 2],
    /// `ratio`: the range of the crop's width / height.
    #[serde(default = "default_crop_ratio")]
    pub ratio: [f64; 2],
    /// `interpolation` (default `"bilinear"`).
    #[serde(default)]
    pub interpolation: Interpolation,
    /// `antialias` (default `true`).
    #[serde(default = "yes")]
    pub antialias: bool,
}

fn default_crop_scale() -> [f64; 2] {
    [0.08, 1.0]
}

fn default_crop_ratio() -> [f64; 2] {
    [3.0 / 4.0, 4.0 / 3.0]
}

impl RandomResizedCrop {
    /// `(top, left, height, width)` of the crop (torchvision's `make_params`).
    pub fn params(&self, height: usize, width: usize, gen: &mut Generator) -> [usize; 4] {
        let area = (height * width) as f64;
        let log_ratio = [self.ratio[0].ln(), self.ratio[1].ln()];
        for _ in 0..10 {
            let target = area * uniform(gen, self.scale[0], self.scale[1]);
            let aspect = uniform(gen, log_ratio[0], log_ratio[1]).exp();
            let w = round_half_even((target * aspect).sqrt());
            let h = round_half_even((target / aspect).sqrt());
            if 0 < w && w as usize <= width && 0 < h && h as usize <= height {
                let (h, w) = (h as usize, w as usize);
                let i = randint(gen, 0, (height - h + 1) as i64) as usize;
                let j = randint(gen, 0, (width - w + 1) as i64) as usize;
                return [i, j, h, w];
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (lo, hi) = (
            self.ratio[0].min(self.ratio[1]),
            self.ratio[0].max(self.ratio[1]),
        );
        let (h, w) = if in_ratio < lo {
            (round_half_even(width as f64 / lo) as usize, width)
        } else if in_ratio > hi {
            (height, round_half_even(height as f64 * hi) as usize)
        } else {
            (height, width)
        };
        [(height - h) / 2, (width - w) / 2, h, w]
    }
}

#[typetag::serde(name = "RandomResizedCrop")]
impl Transform for RandomResizedCrop {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        self.size.check(&format!("{field}.size"))?;
        check_ordered(&format!("{field}.scale"), self.scale)?;
        check_ordered(&format!("{field}.ratio"), self.ratio)?;
        if self.scale[0] <= 0.0 || self.ratio[0] <= 0.0 {
            return Err(DataError::config(field, "scale and ratio must be positive"));
        }
        Ok(())
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        let [h, w] = self.size.hw();
        Ok(ImageShape::fixed(input.channels, h, w))
    }

    fn apply(&self, image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        let [top, left, h, w] = self.params(image.height, image.width, gen);
        let crop = kernels::crop(&image, top as i64, left as i64, h, w);
        let [oh, ow] = self.size.hw();
        Ok(kernels::resize(
            &crop,
            oh,
            ow,
            self.interpolation,
            self.antialias,
        ))
    }
}

/// `RandomHorizontalFlip(p=0.5)`: mirrors left-right with probability `p`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomHorizontalFlip {
    /// `p`: the probability of flipping (default 0.5).
    #[serde(default = "half")]
    pub p: f64,
}

#[typetag::serde(name = "RandomHorizontalFlip")]
impl Transform for RandomHorizontalFlip {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        check_probability(&format!("{field}.p"), self.p)
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        Ok(input)
    }

    fn apply(&self, mut image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        if chance(gen, self.p) {
            kernels::hflip(&mut image);
        }
        Ok(image)
    }
}

/// `RandomVerticalFlip(p=0.5)`: mirrors top-bottom with probability `p`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomVerticalFlip {
    /// `p`: the probability of flipping (default 0.5).
    #[serde(default = "half")]
    pub p: f64,
}

#[typetag::serde(name = "RandomVerticalFlip")]
impl Transform for RandomVerticalFlip {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        check_probability(&format!("{field}.p"), self.p)
    }

    fn output_shape(&self, _field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        Ok(input)
    }

    fn apply(&self, mut image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        if chance(gen, self.p) {
            kernels::vflip(&mut image);
        }
        Ok(image)
    }
}

/// `F.rotate(img, angle, interpolation, expand, center, fill)` on a float image: the
/// quarter-turn fast paths, else the affine warp.
pub fn rotate(
    image: &Image,
    angle: f64,
    interpolation: Interpolation,
    expand: bool,
    center: Option<[f64; 2]>,
    fill: &[f32],
) -> Image {
    let angle = angle.rem_euclid(360.0);
    if center.is_none() {
        let square = image.height == image.width;
        if angle == 0.0 {
            return image.clone();
        }
        if angle == 180.0 {
            return kernels::rot90(image, 2);
        }
        if expand || square {
            if angle == 90.0 {
                return kernels::rot90(image, 1);
            }
            if angle == 270.0 {
                return kernels::rot90(image, 3);
            }
        }
    }
    let c = relative_center(center, image);
    let m = kernels::inverse_affine_matrix(c, -angle, [0.0, 0.0], 1.0, [0.0, 0.0]);
    let size = if expand {
        kernels::affine_output_size(&m, image.height, image.width)
    } else {
        [image.height, image.width]
    };
    kernels::affine(image, &m, size, interpolation, fill)
}

/// A center in pixels made relative to the image centre (torchvision's `center_f`).
fn relative_center(center: Option<[f64; 2]>, image: &Image) -> [f64; 2] {
    center.map_or([0.0, 0.0], |[x, y]| {
        [x - image.width as f64 * 0.5, y - image.height as f64 * 0.5]
    })
}

/// `RandomRotation(degrees, interpolation=NEAREST, expand=False, center=None, fill=0)`:
/// rotates counter-clockwise by an angle uniform in `degrees` (a number `d` means
/// `[-d, d]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomRotation {
    /// `degrees`: `d` for `[-d, d]`, or `[min, max]`.
    pub degrees: Range,
    /// `interpolation`: `"nearest"` (default) or `"bilinear"`.
    #[serde(default = "nearest")]
    pub interpolation: Interpolation,
    /// `expand`: grow the output to hold the whole rotated image (default `false`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub expand: bool,
    /// `center`: `[x, y]` in pixels (default: the image centre).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<[f64; 2]>,
    /// `fill` for pixels from outside the image (default 0).
    #[serde(default, skip_serializing_if = "is_default")]
    pub fill: Fill,
}

fn nearest() -> Interpolation {
    Interpolation::Nearest
}

fn check_warp(field: &str, interp: Interpolation) -> Result<(), DataError> {
    if interp == Interpolation::Bicubic {
        return Err(DataError::config(
            format!("{field}.interpolation"),
            "must be \"nearest\" or \"bilinear\" (torchvision warps tensors with those two)",
        ));
    }
    Ok(())
}

#[typetag::serde(name = "RandomRotation")]
impl Transform for RandomRotation {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        self.degrees.symmetric(&format!("{field}.degrees"))?;
        check_warp(field, self.interpolation)
    }

    fn output_shape(&self, field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        self.fill
            .check_channels(&format!("{field}.fill"), input.channels)?;
        if self.expand {
            return Ok(ImageShape {
                channels: input.channels,
                height: None,
                width: None,
            });
        }
        Ok(input)
    }

    fn apply(&self, image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        let [lo, hi] = self.degrees.symmetric("degrees")?;
        let angle = uniform(gen, lo, hi);
        Ok(rotate(
            &image,
            angle,
            self.interpolation,
            self.expand,
            self.center,
            &self.fill.values(),
        ))
    }
}

/// A shear range: a number `s` (x shear in `[-s, s]`), `[min, max]` (x shear), or
/// `[x_min, x_max, y_min, y_max]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a number, or a list of 2 ([x_min, x_max]) or 4 ([x_min, x_max, y_min, y_max]) numbers"
)]
pub enum Shear {
    /// `[-s, s]` on x.
    One(f64),
    /// Two or four bounds.
    Many(Vec<f64>),
}

impl Shear {
    fn ranges(&self, field: &str) -> Result<[[f64; 2]; 2], DataError> {
        let r = match self {
            Shear::One(s) if *s >= 0.0 => [[-s, *s], [0.0, 0.0]],
            Shear::Many(v) if v.len() == 2 => [[v[0], v[1]], [0.0, 0.0]],
            Shear::Many(v) if v.len() == 4 => [[v[0], v[1]], [v[2], v[3]]],
            other => {
                return Err(DataError::config(
                    field,
                    format!("expected a number >= 0 or 2 or 4 bounds, got {other:?}"),
                ))
            }
        };
        check_ordered(field, r[0])?;
        check_ordered(field, r[1])?;
        Ok(r)
    }
}

/// `RandomAffine(degrees, translate=None, scale=None, shear=None, interpolation=NEAREST,
/// fill=0, center=None)`: a rotation uniform in `degrees`, a translation of up to
/// `translate · (W, H)` pixels (rounded), a scale uniform in `scale` and shears uniform in
/// `shear` (degrees), about the centre.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomAffine {
    /// `degrees`: `d` for `[-d, d]`, or `[min, max]` (0 for no rotation).
    pub degrees: Range,
    /// `translate`: the largest shifts as fractions `[of the width, of the height]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translate: Option<[f64; 2]>,
    /// `scale`: `[min, max]` of the zoom factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<[f64; 2]>,
    /// `shear` in degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shear: Option<Shear>,
    /// `interpolation`: `"nearest"` (default) or `"bilinear"`.
    #[serde(default = "nearest")]
    pub interpolation: Interpolation,
    /// `fill` for pixels from outside the image (default 0).
    #[serde(default, skip_serializing_if = "is_default")]
    pub fill: Fill,
    /// `center`: `[x, y]` in pixels (default: the image centre).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<[f64; 2]>,
}

/// Parameters of one affine warp (torchvision's `F.affine` arguments).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineParams {
    /// Rotation in degrees (counter-clockwise as displayed).
    pub angle: f64,
    /// Shift in pixels `[x, y]`.
    pub translate: [f64; 2],
    /// Zoom factor.
    pub scale: f64,
    /// Shears `[x, y]` in degrees.
    pub shear: [f64; 2],
}

/// `F.affine(img, angle, translate, scale, shear, interpolation, fill, center)` on a float
/// image.
pub fn affine(
    image: &Image,
    p: AffineParams,
    interpolation: Interpolation,
    fill: &[f32],
    center: Option<[f64; 2]>,
) -> Image {
    let c = relative_center(center, image);
    let m = kernels::inverse_affine_matrix(c, p.angle, p.translate, p.scale, p.shear);
    kernels::affine(image, &m, [image.height, image.width], interpolation, fill)
}

impl RandomAffine {
    /// Draws the warp for an `h × w` image (torchvision's `make_params`).
    ///
    /// # Errors
    /// An invalid range.
    pub fn params(
        &self,
        h: usize,
        w: usize,
        gen: &mut Generator,
    ) -> Result<AffineParams, DataError> {
        let [lo, hi] = self.degrees.symmetric("degrees")?;
        let angle = uniform(gen, lo, hi);
        let translate = match self.translate {
            Some([fx, fy]) => {
                let (mx, my) = (fx * w as f64, fy * h as f64);
                let tx = round_half_even(uniform(gen, -mx, mx));
                let ty = round_half_even(uniform(gen, -my, my));
                [tx as f64, ty as f64]
            }
            None => [0.0, 0.0],
        };
        let scale = self.scale.map_or(1.0, |[a, b]| uniform(gen, a, b));
        let mut shear = [0.0, 0.0];
        if let Some(s) = &self.shear {
            let [x, y] = s.ranges("shear")?;
            shear[0] = uniform(gen, x[0], x[1]);
            if matches!(s, Shear::Many(v) if v.len() == 4) {
                shear[1] = uniform(gen, y[0], y[1]);
            }
        }
        Ok(AffineParams {
            angle,
            translate,
            scale,
            shear,
        })
    }
}

#[typetag::serde(name = "RandomAffine")]
impl Transform for RandomAffine {
    fn validate(&self, field: &str) -> Result<(), DataError> {
        self.degrees.symmetric(&format!("{field}.degrees"))?;
        if let Some(t) = self.translate {
            if t.iter().any(|v| !(0.0..=1.0).contains(v)) {
                return Err(DataError::config(
                    format!("{field}.translate"),
                    format!("fractions must be in [0, 1], got {t:?}"),
                ));
            }
        }
        if let Some(s) = self.scale {
            check_ordered(&format!("{field}.scale"), s)?;
            if s[0] <= 0.0 {
                return Err(DataError::config(
                    format!("{field}.scale"),
                    format!("must be positive, got {s:?}"),
                ));
            }
        }
        if let Some(s) = &self.shear {
            s.ranges(&format!("{field}.shear"))?;
        }
        check_warp(field, self.interpolation)
    }

    fn output_shape(&self, field: &str, input: ImageShape) -> Result<ImageShape, DataError> {
        self.fill
            .check_channels(&format!("{field}.fill"), input.channels)?;
        Ok(input)
    }

    fn apply(&self, image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        let p = self.params(image.height, image.width, gen)?;
        Ok(affine(
            &image,
            p,
            self.interpolation,
            &self.fill.values(),
            self.center,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resized_size_matches_torchvision() {
        assert_eq!(resized_size(40, 30, Size::One(15), None), [20, 15]);
        assert_eq!(resized_size(30, 40, Size::One(15), None), [15, 20]);
        assert_eq!(resized_size(30, 100, Size::One(15), Some(40)), [12, 40]);
        assert_eq!(resized_size(7, 9, Size::Pair([3, 4]), None), [3, 4]);
    }

    #[test]
    fn random_resized_crop_stays_inside() {
        let t = RandomResizedCrop {
            size: Size::One(8),
            scale: default_crop_scale(),
            ratio: default_crop_ratio(),
            interpolation: Interpolation::Bilinear,
            antialias: true,
        };
        for i in 0..200 {
            let mut g = Generator::new(i);
            let [top, left, h, w] = t.params(13, 29, &mut g);
            assert!(h >= 1 && w >= 1 && top + h <= 13 && left + w <= 29);
        }
    }

    #[test]
    fn random_crop_errors_name_the_sizes() {
        let t = RandomCrop {
            size: Size::One(30),
            padding: None,
            pad_if_needed: false,
            fill: Fill::default(),
            padding_mode: PaddingMode::Constant,
        };
        let e = t
            .output_shape("data.train_transforms[0]", ImageShape::fixed(1, 28, 28))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("data.train_transforms[0]: the crop size [30, 30] is larger than"),
            "{e}"
        );
    }
}
