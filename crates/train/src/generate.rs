//! Sampling text from a trained language model: start from `<bos>` and an optional prefix,
//! and repeatedly draw the next token from the softmax of the model's last output divided by
//! a temperature, until `<eos>` or a length limit (PyTorch's usual sampling loop,
//! `torch.multinomial(softmax(logits / T))`).

use tuna_autograd::{no_grad, Tape};
use tuna_data::{Batch, TextCodec};
use tuna_nn::Module;
use tuna_tensor::{Generator, Tensor};

use crate::error::TrainError;
use crate::trainer::step::forward;

/// How to sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// Samples to draw.
    pub n: usize,
    /// Divides the logits: below 1 sharper (1 = the model's distribution, near 0 = greedy).
    pub temperature: f64,
    /// Text every sample starts with.
    pub prefix: String,
    /// At most this many tokens per sample (`<bos>` and the prefix included).
    pub max_len: usize,
    /// The seed of the draws.
    pub seed: u64,
}

/// Draws `s.n` texts from `model` (in eval mode, without a graph).
///
/// # Errors
/// A temperature that is not positive, a codec without `<bos>`/`<eos>` (not a language
/// model's), or a prefix longer than `max_len`.
pub fn generate(
    model: &dyn Module,
    codec: &dyn TextCodec,
    s: &Sampling,
) -> Result<Vec<String>, TrainError> {
    if !(s.temperature.is_finite() && s.temperature > 0.0) {
        return Err(TrainError::Setup(format!(
            "--temperature must be > 0, got {}",
            s.temperature
        )));
    }
    let (Some(bos), Some(eos)) = (codec.bos_id(), codec.eos_id()) else {
        return Err(TrainError::Setup(
            "not a language model: the run's vocabulary has no <bos>/<eos> (train with \
             data.task = \"language_model\")"
                .into(),
        ));
    };
    let mut start = vec![bos];
    start.extend(codec.encode(&s.prefix));
    if start.len() >= s.max_len {
        return Err(TrainError::Setup(format!(
            "the prefix is {} tokens, more than --max-len {} allows",
            start.len() - 1,
            s.max_len
        )));
    }
    let gen = Generator::new(s.seed);
    let mut out = Vec::with_capacity(s.n);
    for i in 0..s.n {
        let mut g = gen.split(i as u64);
        let ids = sample_one(model, &start, eos, s, &mut g);
        out.push(codec.decode(&ids[1..]));
    }
    Ok(out)
}

fn sample_one(
    model: &dyn Module,
    start: &[i64],
    eos: i64,
    s: &Sampling,
    g: &mut Generator,
) -> Vec<i64> {
    let mut ids = start.to_vec();
    while ids.len() < s.max_len {
        let logits = no_grad(|| {
            let tape = Tape::new();
            let batch = Batch {
                inputs: Tensor::from_vec(ids.clone(), &[1, ids.len()]),
                lengths: Some(vec![ids.len()]),
                targets: Tensor::from_vec(vec![0i64], &[1]),
                index: 0,
            };
            forward(model, &tape, &batch).value()
        });
        let v = *logits.shape().last().unwrap_or(&1);
        let all = logits.to_vec_f64();
        let last = &all[all.len() - v..];
        let u = (g.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let next = draw(last, s.temperature, u) as i64;
        if next == eos {
            break;
        }
        ids.push(next);
    }
    ids
}

/// The index drawn from `softmax(logits / temperature)` with the uniform number `u`.
fn draw(logits: &[f64], temperature: f64, u: f64) -> usize {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = logits
        .iter()
        .map(|x| ((x - max) / temperature).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let mut acc = 0.0;
    for (i, x) in w.iter().enumerate() {
        acc += x / total;
        if u < acc {
            return i;
        }
    }
    w.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_follows_the_tempered_softmax() {
        let logits = [0.0, (3.0f64).ln()];
        // p = [0.25, 0.75]
        assert_eq!(draw(&logits, 1.0, 0.2), 0);
        assert_eq!(draw(&logits, 1.0, 0.3), 1);
        // a low temperature is nearly greedy
        assert_eq!(draw(&logits, 0.01, 0.999), 1);
        assert_eq!(draw(&logits, 0.01, 1e-9), 1);
    }
}
