//! Regression statistics: per output, the absolute and squared error sums and the targets'
//! running mean and sum of squared deviations (Welford; Chan et al. to merge).

use super::Metric;

#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Column {
    /// `Σ |ŷ - y|`.
    abs: f64,
    /// `Σ (ŷ - y)²`.
    sq: f64,
    /// The targets' mean so far.
    mean: f64,
    /// `Σ (y - mean)²` so far: exactly 0 for a constant column.
    m2: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct RegressionStats {
    n: u64,
    columns: Vec<Column>,
}

impl RegressionStats {
    pub(super) fn new(outputs: usize) -> Self {
        RegressionStats {
            n: 0,
            columns: vec![Column::default(); outputs],
        }
    }

    pub(super) fn outputs(&self) -> usize {
        self.columns.len()
    }

    pub(super) fn samples(&self) -> u64 {
        self.n
    }

    /// `predictions` and `targets` are `[batch, outputs]` row-major.
    pub(super) fn update(&mut self, predictions: &[f64], targets: &[f64]) {
        let k = self.columns.len();
        if k == 0 {
            return;
        }
        for (p, y) in predictions.chunks_exact(k).zip(targets.chunks_exact(k)) {
            self.n += 1;
            let n = self.n as f64;
            for ((col, &p), &y) in self.columns.iter_mut().zip(p).zip(y) {
                let e = p - y;
                col.abs += e.abs();
                col.sq += e * e;
                let delta = y - col.mean;
                col.mean += delta / n;
                col.m2 += delta * (y - col.mean);
            }
        }
    }

    pub(super) fn merge(&mut self, other: &RegressionStats) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            // Copy rather than scale: keeps a constant column's mean exact (m2 exactly 0).
            self.n = other.n;
            self.columns.clone_from(&other.columns);
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            let delta = b.mean - a.mean;
            a.abs += b.abs;
            a.sq += b.sq;
            a.mean += delta * nb / n;
            a.m2 += b.m2 + delta * delta * na * nb / n;
        }
        self.n += other.n;
    }

    pub(super) fn value(&self, metric: Metric) -> f64 {
        if self.n == 0 || self.columns.is_empty() {
            return f64::NAN;
        }
        let n = self.n as f64;
        let mean = |f: &dyn Fn(&Column) -> f64| {
            self.columns.iter().map(f).sum::<f64>() / self.columns.len() as f64
        };
        match metric {
            Metric::Mae => mean(&|c| c.abs / n),
            Metric::Rmse => mean(&|c| (c.sq / n).sqrt()),
            Metric::R2 if self.n < 2 => f64::NAN,
            Metric::R2 => mean(&|c| {
                if c.m2 != 0.0 {
                    1.0 - c.sq / c.m2
                } else if c.sq == 0.0 {
                    1.0
                } else {
                    0.0
                }
            }),
            _ => f64::NAN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_constant_columns_stay_constant() {
        let mut parts = Vec::new();
        for n in [0, 3, 7, 1] {
            let mut s = RegressionStats::new(1);
            s.update(&vec![0.2; n], &vec![0.1; n]);
            parts.push(s);
        }
        let mut all = RegressionStats::new(1);
        for p in &parts {
            all.merge(p);
        }
        assert_eq!(all.samples(), 11);
        assert_eq!(all.columns[0].m2, 0.0);
        assert_eq!(all.value(Metric::R2), 0.0);
        let mut exact = RegressionStats::new(1);
        exact.update(&[0.1; 5], &[0.1; 5]);
        assert_eq!(exact.value(Metric::R2), 1.0);
    }
}
