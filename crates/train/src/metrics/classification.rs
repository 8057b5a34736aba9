//! Classification statistics: a confusion matrix and top-k hit counts.

use super::Metric;

/// `a > b` with NaN above everything (`torch.argmax`/`torch.topk` treat NaN as the largest).
fn greater(a: f64, b: f64) -> bool {
    match (a.is_nan(), b.is_nan()) {
        (true, false) => true,
        (false, false) => a > b,
        _ => false,
    }
}

/// `a == b` with NaN equal to NaN.
fn tied(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The rank of class `t` in `scores` (0 = the highest), ties broken by lower index first:
/// `#{j : s_j > s_t} + #{j < t : s_j = s_t}`. Class `t` is in the top k iff `rank < k`, and
/// it is the argmax iff `rank == 0`.
pub(super) fn rank(scores: &[f64], t: usize) -> usize {
    let st = scores[t];
    scores
        .iter()
        .enumerate()
        .filter(|&(j, &s)| greater(s, st) || (j < t && tied(s, st)))
        .count()
}

/// The predicted class: the first index of the largest score (NaN largest).
pub(super) fn argmax(scores: &[f64]) -> usize {
    let mut best = 0;
    for (j, &s) in scores.iter().enumerate().skip(1) {
        if greater(s, scores[best]) {
            best = j;
        }
    }
    best
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct ClassCounts {
    num_classes: usize,
    /// Row-major `[true][predicted]`.
    confusion: Vec<u64>,
    /// `(k, hits)` per requested top-k metric.
    top_k: Vec<(usize, u64)>,
}

impl ClassCounts {
    pub(super) fn new(num_classes: usize, ks: Vec<usize>) -> Self {
        ClassCounts {
            num_classes,
            confusion: vec![0; num_classes * num_classes],
            top_k: ks.into_iter().map(|k| (k, 0)).collect(),
        }
    }

    pub(super) fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// `scores` is `[batch, num_classes]` row-major, `targets` checked class indices.
    pub(super) fn update(&mut self, scores: &[f64], targets: &[usize]) {
        let c = self.num_classes;
        if c == 0 {
            return;
        }
        for (row, &t) in scores.chunks_exact(c).zip(targets) {
            self.confusion[t * c + argmax(row)] += 1;
            if !self.top_k.is_empty() {
                let r = rank(row, t);
                for (k, hits) in &mut self.top_k {
                    if r < *k {
                        *hits += 1;
                    }
                }
            }
        }
    }

    pub(super) fn merge(&mut self, other: &ClassCounts) {
        for (a, b) in self.confusion.iter_mut().zip(&other.confusion) {
            *a += b;
        }
        for ((_, a), (_, b)) in self.top_k.iter_mut().zip(&other.top_k) {
            *a += b;
        }
    }

    pub(super) fn samples(&self) -> u64 {
        self.confusion.iter().sum()
    }

    pub(super) fn matrix(&self) -> Vec<Vec<u64>> {
        if self.num_classes == 0 {
            return Vec::new();
        }
        self.confusion
            .chunks_exact(self.num_classes)
            .map(<[u64]>::to_vec)
            .collect()
    }

    /// The macro mean of `per_class(tp, predicted, true)` over the classes seen in the
    /// targets or the predictions.
    fn macro_mean(&self, per_class: impl Fn(f64, f64, f64) -> f64) -> f64 {
        let c = self.num_classes;
        let (mut sum, mut seen) = (0.0, 0usize);
        for k in 0..c {
            let tp = self.confusion[k * c + k] as f64;
            let truly: u64 = self.confusion[k * c..(k + 1) * c].iter().sum();
            let predicted: u64 = (0..c).map(|i| self.confusion[i * c + k]).sum();
            if truly + predicted > 0 {
                sum += per_class(tp, predicted as f64, truly as f64);
                seen += 1;
            }
        }
        sum / seen as f64
    }

    pub(super) fn value(&self, metric: Metric) -> f64 {
        let n = self.samples();
        if n == 0 {
            return f64::NAN;
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let c = self.num_classes;
        match metric {
            Metric::Accuracy => {
                (0..c).map(|k| self.confusion[k * c + k]).sum::<u64>() as f64 / n as f64
            }
            Metric::TopKAccuracy { k } => {
                let hits = self
                    .top_k
                    .iter()
                    .find(|(kk, _)| *kk == k)
                    .map_or(0, |(_, h)| *h);
                hits as f64 / n as f64
            }
            Metric::Precision => self.macro_mean(|tp, pred, _| ratio(tp, pred)),
            Metric::Recall => self.macro_mean(|tp, _, truly| ratio(tp, truly)),
            Metric::F1 => self.macro_mean(|tp, pred, truly| ratio(2.0 * tp, pred + truly)),
            _ => f64::NAN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_and_argmax_break_ties_by_lower_index_and_nan_is_largest() {
        let s = [1.0, 3.0, 3.0, 0.0];
        assert_eq!(argmax(&s), 1);
        assert_eq!([0, 1, 2, 3].map(|t| rank(&s, t)), [2, 0, 1, 3]);
        let s = [1.0, f64::NAN, 5.0, f64::NAN];
        assert_eq!(argmax(&s), 1);
        assert_eq!([0, 1, 2, 3].map(|t| rank(&s, t)), [3, 0, 2, 1]);
    }
}
