//! Next-token statistics of a language model: exact-match counts and the summed negative
//! log-likelihood of the real tokens (padding, [`IGNORE_INDEX`], skipped).

use tuna_data::IGNORE_INDEX;

use super::Metric;

/// Running counts over real next tokens.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct TokenStats {
    vocab_size: usize,
    tokens: u64,
    correct: u64,
    nll: f64,
}

impl TokenStats {
    pub(super) fn new(vocab_size: usize) -> Self {
        TokenStats {
            vocab_size,
            tokens: 0,
            correct: 0,
            nll: 0.0,
        }
    }

    pub(super) fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    pub(super) fn samples(&self) -> u64 {
        self.tokens
    }

    /// Adds `scores` (`[rows, vocab]` row-major) for `targets` (one id per row, or
    /// [`IGNORE_INDEX`]).
    pub(super) fn update(&mut self, scores: &[f64], targets: &[i64]) {
        let v = self.vocab_size;
        for (row, &t) in scores.chunks_exact(v).zip(targets) {
            if t == IGNORE_INDEX || t < 0 || t as usize >= v {
                continue;
            }
            let t = t as usize;
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
            self.nll += lse - row[t];
            // argmax, ties to the lower index (torch.argmax)
            let arg = row
                .iter()
                .enumerate()
                .fold(0, |best, (i, &x)| if x > row[best] { i } else { best });
            self.correct += u64::from(arg == t);
            self.tokens += 1;
        }
    }

    pub(super) fn value(&self, metric: Metric) -> f64 {
        if self.tokens == 0 {
            return f64::NAN;
        }
        match metric {
            Metric::Perplexity => (self.nll / self.tokens as f64).exp(),
            Metric::Accuracy => self.correct as f64 / self.tokens as f64,
            _ => f64::NAN,
        }
    }

    pub(super) fn merge(&mut self, other: &TokenStats) {
        self.tokens += other.tokens;
        self.correct += other.correct;
        self.nll += other.nll;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perplexity_and_accuracy_skip_padding() {
        let mut s = TokenStats::new(2);
        // uniform scores: nll ln 2 per token -> perplexity 2
        s.update(&[0.0, 0.0, 5.0, 1.0, 9.0, 9.0], &[1, 0, IGNORE_INDEX]);
        assert_eq!(s.samples(), 2);
        let p = s.value(Metric::Perplexity);
        let expected = ((2f64.ln() + (1.0 + (-4f64).exp()).ln()) / 2.0).exp();
        assert!((p - expected).abs() < 1e-12, "{p}");
        // row 0 ties -> class 0 (wrong), row 1 -> class 0 (right)
        assert_eq!(s.value(Metric::Accuracy), 0.5);
    }
}
