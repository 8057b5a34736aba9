//! [`Standardizer`]: per-feature standardization `x' = (x - mean) / std`, fitted on the
//! training split only and applied to every split (scikit-learn's `StandardScaler`,
//! torchvision's `transforms.Normalize` with fixed statistics).

use crate::dataset::{Dataset, TensorDataset};

/// The mean of the MNIST training images' pixels scaled to `[0, 1]` (torchvision's
/// `Normalize((0.1307,), (0.3081,))`).
pub const MNIST_MEAN: f32 = 0.1307;

/// The standard deviation of the MNIST training images' pixels scaled to `[0, 1]`
/// (torchvision's `Normalize((0.1307,), (0.3081,))`).
pub const MNIST_STD: f32 = 0.3081;

/// Per-feature affine standardization `x'_j = (x_j - mean_j) / std_j`, one `(mean, std)`
/// pair per element of a sample's flattened features.
///
/// [`Standardizer::fit`] computes the statistics on one dataset (the training split: fitting
/// on validation or test data leaks them into training); [`Standardizer::apply`] rewrites any
/// dataset with them. Equivalent to scikit-learn's
/// `StandardScaler().fit(train).transform(x)` (population std, `ddof = 0`; a constant
/// feature gets `std = 1`, so it becomes 0 instead of NaN).
///
/// ```
/// use tuna_data::{Standardizer, TensorDataset};
/// let mut train = TensorDataset::classification(vec![1.0, 10.0, 3.0, 10.0], &[2], vec![0, 1], 2);
/// let st = Standardizer::fit(&train);
/// assert_eq!(st.mean, vec![2.0, 10.0]);
/// assert_eq!(st.std, vec![1.0, 1.0]); // second feature constant: std 1
/// st.apply(&mut train);
/// assert_eq!(train.features(), &[-1.0, 0.0, 1.0, 0.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    /// Per-feature means (length: the product of the feature shape).
    pub mean: Vec<f32>,
    /// Per-feature standard deviations, all positive.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// A standardizer with the given statistics.
    ///
    /// # Panics
    /// If the lengths differ or a `std` is not positive and finite.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Self {
        assert_eq!(
            mean.len(),
            std.len(),
            "Standardizer: {} means for {} stds",
            mean.len(),
            std.len()
        );
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            panic!("Standardizer: std must be positive and finite, got {s}");
        }
        Standardizer { mean, std }
    }

    /// The same `mean` and `std` for each of `features` features (torchvision's
    /// `Normalize((mean,), (std,))` on a one-channel image): e.g.
    /// `Standardizer::uniform(MNIST_MEAN, MNIST_STD, 784)`.
    pub fn uniform(mean: f32, std: f32, features: usize) -> Self {
        Self::new(vec![mean; features], vec![std; features])
    }

    /// Per-feature mean and population standard deviation of `dataset` (accumulated in f64);
    /// a feature whose std is 0 (or that the dataset has no sample of) gets std 1.
    pub fn fit(dataset: &dyn Dataset) -> Self {
        let per: usize = dataset.input_kind().dense_len().unwrap_or(0);
        let n = dataset.len();
        let mut sum = vec![0.0f64; per];
        for i in 0..n {
            for (s, &x) in sum.iter_mut().zip(dataset.get(i).input.as_dense().iter()) {
                *s += f64::from(x);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n.max(1) as f64).collect();
        let mut sq = vec![0.0f64; per];
        for i in 0..n {
            for ((s, &x), m) in sq
                .iter_mut()
                .zip(dataset.get(i).input.as_dense().iter())
                .zip(&mean)
            {
                let d = f64::from(x) - m;
                *s += d * d;
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let sd = (s / n.max(1) as f64).sqrt() as f32;
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// Standardizes `features` in place: a buffer of whole samples, row-major.
    ///
    /// # Panics
    /// If the buffer length is not a multiple of the number of features.
    pub fn apply_slice(&self, features: &mut [f32]) {
        let per = self.mean.len();
        if per == 0 {
            return;
        }
        assert_eq!(
            features.len() % per,
            0,
            "Standardizer: {} values are not whole samples of {per} features",
            features.len()
        );
        let inv: Vec<f32> = self.std.iter().map(|s| 1.0 / s).collect();
        for row in features.chunks_exact_mut(per) {
            for ((x, m), r) in row.iter_mut().zip(&self.mean).zip(&inv) {
                *x = (*x - m) * r;
            }
        }
    }

    /// Standardizes every sample of `dataset` in place.
    ///
    /// # Panics
    /// If the dataset's samples do not have as many features as this standardizer.
    pub fn apply(&self, dataset: &mut TensorDataset) {
        let per: usize = dataset.feature_shape().iter().product();
        assert_eq!(
            per,
            self.mean.len(),
            "Standardizer: fitted on {} features, dataset has {per}",
            self.mean.len()
        );
        self.apply_slice(dataset.features_mut());
    }

    /// The inverse map `x = x' · std + mean`, in place.
    pub fn invert_slice(&self, features: &mut [f32]) {
        let per = self.mean.len();
        if per == 0 {
            return;
        }
        for row in features.chunks_exact_mut(per) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = *x * s + m;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_apply_invert() {
        let mut ds =
            TensorDataset::regression(vec![1.0, 2.0, 3.0, 6.0, 5.0, 10.0], &[2], vec![0.0; 3], 1);
        let st = Standardizer::fit(&ds);
        assert!((st.mean[0] - 3.0).abs() < 1e-6 && (st.mean[1] - 6.0).abs() < 1e-6);
        let sd0 = (8.0f32 / 3.0).sqrt();
        assert!((st.std[0] - sd0).abs() < 1e-6);
        st.apply(&mut ds);
        let f = ds.features().to_vec();
        assert!((f[0] + 2.0 / sd0).abs() < 1e-6);
        let mut back = f.clone();
        st.invert_slice(&mut back);
        for (a, b) in back.iter().zip([1.0, 2.0, 3.0, 6.0, 5.0, 10.0]) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn empty_dataset_fits_identity() {
        let ds = TensorDataset::classification(vec![], &[3], vec![], 2);
        let st = Standardizer::fit(&ds);
        assert_eq!(st.mean, vec![0.0; 3]);
        assert_eq!(st.std, vec![1.0; 3]);
    }

    #[test]
    #[should_panic(expected = "std must be positive")]
    fn zero_std_rejected() {
        Standardizer::uniform(0.0, 0.0, 2);
    }
}
