//! [`Pipeline`]: a checked transform list (per-sample transforms, then batch transforms), with
//! fitted statistics filled in and its output shape known before any image is read.

use serde::{Deserialize, Serialize};
use tuna_tensor::Generator;

use super::image::{Image, ImageShape};
use super::{ImageBatch, Transform};
use crate::error::DataError;

/// Per-channel mean and standard deviation of images in `[0, 1]`, fitted on the training
/// split for a `Normalize` without `mean` and `std`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// Per-channel means.
    pub mean: Vec<f32>,
    /// Per-channel population standard deviations (1 where a channel is constant).
    pub std: Vec<f32>,
}

impl ChannelStats {
    /// Accumulates per-channel sums over `images` (f64 sums of `x` and `x²`).
    pub fn fit<'a>(channels: usize, images: impl Iterator<Item = &'a Image>) -> Self {
        let mut acc = StatsAccumulator::new(channels);
        for img in images {
            acc.add(img);
        }
        acc.finish()
    }
}

/// Running per-channel sums for [`ChannelStats`].
#[derive(Clone, Debug)]
pub struct StatsAccumulator {
    sum: Vec<f64>,
    sq: Vec<f64>,
    count: f64,
}

impl StatsAccumulator {
    /// Empty sums for `channels` channels.
    pub fn new(channels: usize) -> Self {
        StatsAccumulator {
            sum: vec![0.0; channels],
            sq: vec![0.0; channels],
            count: 0.0,
        }
    }

    /// Adds an image.
    pub fn add(&mut self, img: &Image) {
        for c in 0..self.sum.len().min(img.channels) {
            for &v in img.channel(c) {
                let v = f64::from(v);
                self.sum[c] += v;
                self.sq[c] += v * v;
            }
        }
        self.count += img.plane() as f64;
    }

    /// Adds another accumulator's sums.
    pub fn merge(&mut self, other: &StatsAccumulator) {
        for (a, b) in self.sum.iter_mut().zip(&other.sum) {
            *a += b;
        }
        for (a, b) in self.sq.iter_mut().zip(&other.sq) {
            *a += b;
        }
        self.count += other.count;
    }

    /// The statistics.
    pub fn finish(&self) -> ChannelStats {
        let n = self.count.max(1.0);
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let std = self
            .sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let var = (q / n - m * m).max(0.0);
                if var > 0.0 {
                    var.sqrt() as f32
                } else {
                    1.0
                }
            })
            .collect();
        ChannelStats {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }
}

/// A checked list of transforms: the per-sample ones in order, then the batch ones
/// (`MixUp`, `CutMix`), which torchvision applies after the `DataLoader`.
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    sample: Vec<Box<dyn Transform>>,
    batch: Vec<Box<dyn Transform>>,
    shape: Option<[usize; 3]>,
    planned: Option<ImageShape>,
    num_classes: usize,
}

impl Pipeline {
    /// Checks `list` (the experiment file's `field`, e.g. `data.train_transforms`) for images
    /// of `input` and `num_classes` classes, fills fitted statistics (`Normalize` without
    /// mean/std takes `stats`) and the data's class count, and plans the output shape.
    ///
    /// # Errors
    /// An invalid transform, a batch transform before a per-sample one, an input the list
    /// cannot take, or a `Normalize` to fit without `stats`; each naming `field[i]`.
    pub fn new(
        field: &str,
        list: &[Box<dyn Transform>],
        input: ImageShape,
        num_classes: usize,
        stats: Option<&ChannelStats>,
    ) -> Result<Pipeline, DataError> {
        let mut p = Pipeline {
            num_classes,
            ..Pipeline::default()
        };
        let mut shape = input;
        for (i, t) in list.iter().enumerate() {
            let f = format!("{field}[{i}]");
            t.validate(&f)?;
            let mut t = t.clone();
            if t.needs_fit() {
                let s = stats.ok_or_else(|| {
                    DataError::config(&f, "has no mean and std to fit on this data")
                })?;
                t.set_fitted(s);
            }
            t.fill_from_data(&f, num_classes)?;
            shape = t.output_shape(&f, shape)?;
            if t.is_batch() {
                p.batch.push(t);
            } else if !p.batch.is_empty() {
                return Err(DataError::config(
                    &f,
                    "a per-sample transform cannot follow MixUp or CutMix: batch transforms come last",
                ));
            } else {
                p.sample.push(t);
            }
        }
        p.shape = shape.dims();
        p.planned = Some(shape);
        Ok(p)
    }

    /// `true` when some transform needs statistics fitted on the training split.
    pub fn needs_fit(list: &[Box<dyn Transform>]) -> bool {
        list.iter().any(|t| t.needs_fit())
    }

    /// The output shape `[C, H, W]`, or `None` when it varies with the input image's size.
    pub fn shape(&self) -> Option<[usize; 3]> {
        self.shape
    }

    /// The planned output shape, with unknown sides.
    pub fn planned(&self) -> Option<ImageShape> {
        self.planned
    }

    /// `true` when the list has no transform at all.
    pub fn is_empty(&self) -> bool {
        self.sample.is_empty() && self.batch.is_empty()
    }

    /// `true` when batch transforms turn targets into class probabilities.
    pub fn mixes_targets(&self) -> bool {
        !self.batch.is_empty()
    }

    /// Runs the per-sample transforms on `image`, drawing from `gen`.
    ///
    /// # Errors
    /// An image a transform cannot take.
    pub fn apply(&self, image: Image, gen: &mut Generator) -> Result<Image, DataError> {
        self.sample
            .iter()
            .try_fold(image, |img, t| t.apply(img, gen))
    }

    /// Runs the batch transforms on `[batch, C, H, W]` `images` with class `labels`, and
    /// returns the soft targets `[batch, num_classes]` (`None` without batch transforms).
    pub fn apply_batch(
        &self,
        images: &mut [f32],
        shape: [usize; 3],
        labels: &[i64],
        gen: &mut Generator,
    ) -> Option<Vec<f32>> {
        if self.batch.is_empty() {
            return None;
        }
        let k = self.num_classes;
        let mut targets = vec![0.0f32; labels.len() * k];
        for (row, &l) in targets.chunks_mut(k.max(1)).zip(labels) {
            if let Some(v) = row.get_mut(l as usize) {
                *v = 1.0;
            }
        }
        let mut batch = ImageBatch {
            images,
            shape,
            targets: &mut targets,
            classes: k,
        };
        for t in &self.batch {
            t.apply_batch(&mut batch, gen);
        }
        Some(targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Vec<Box<dyn Transform>> {
        let t: toml::Table = toml::from_str(&format!("t = {text}")).unwrap();
        t["t"].clone().try_into().unwrap()
    }

    #[test]
    fn plans_shapes_and_fills_stats() {
        let l = list(
            r#"[{ type = "Resize", size = 16 }, { type = "CenterCrop", size = [12, 14] }, { type = "Normalize" }]"#,
        );
        let stats = ChannelStats {
            mean: vec![0.5; 3],
            std: vec![0.25; 3],
        };
        let unknown = ImageShape {
            channels: 3,
            height: None,
            width: None,
        };
        let p = Pipeline::new("data.eval_transforms", &l, unknown, 10, Some(&stats)).unwrap();
        assert_eq!(p.shape(), Some([3, 12, 14]));
        let out = p
            .apply(Image::zeros(3, 20, 30), &mut Generator::new(0))
            .unwrap();
        assert_eq!(out.shape(), [3, 12, 14]);
        assert!(out.data.iter().all(|&v| v == -2.0));
        let e = Pipeline::new("data.eval_transforms", &l, unknown, 10, None).unwrap_err();
        assert!(
            e.to_string().starts_with("data.eval_transforms[2]: "),
            "{e}"
        );
        let p = Pipeline::new("x", &l[..1], unknown, 10, None).unwrap();
        assert_eq!(p.shape(), None);
    }

    #[test]
    fn batch_transforms_come_last_and_fill_classes() {
        let l = list(r#"[{ type = "MixUp" }, { type = "RandomHorizontalFlip" }]"#);
        let e = Pipeline::new(
            "data.train_transforms",
            &l,
            ImageShape::fixed(1, 4, 4),
            3,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("data.train_transforms[1]: a per-sample"),
            "{e}"
        );
        let l = list(r#"[{ type = "CutMix", num_classes = 5 }]"#);
        let e = Pipeline::new("t", &l, ImageShape::fixed(1, 4, 4), 3, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t[0].num_classes: is 5 but the data has 3 classes"),
            "{e}"
        );
    }

    #[test]
    fn channel_stats() {
        let a = Image::from_vec(2, 1, 2, vec![0.0, 1.0, 0.5, 0.5]);
        let s = ChannelStats::fit(2, [a].iter());
        assert_eq!(s.mean, vec![0.5, 0.5]);
        assert_eq!(s.std, vec![0.5, 1.0]);
    }
}
