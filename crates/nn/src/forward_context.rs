//! [`ForwardContext`]: what a batch carries besides its input tensor (the real length of
//! each padded sample), passed down a model by [`Module::forward_with`](crate::Module::forward_with).

use std::sync::Arc;

use tuna_tensor::{DType, Tensor};

use crate::error::NnError;

/// What a batch carries besides its input tensor, for the layers that need it.
///
/// `lengths[i]` is the number of real positions of sample `i`; samples are padded at the
/// **end** (positions `lengths[i]..L` are padding). Without lengths every position is real
/// and every layer computes what [`Module::forward`](crate::Module::forward) computes.
///
/// The layers honour it as PyTorch code does by hand:
/// * recurrent layers ([`Rnn`](crate::Rnn), [`Lstm`](crate::Lstm), [`Gru`](crate::Gru)) as
///   `pack_padded_sequence(x, lengths, enforce_sorted=False)` → layer → `pad_packed_sequence`;
/// * attention ([`MultiheadAttention`](crate::MultiheadAttention),
///   [`TransformerEncoderLayer`](crate::TransformerEncoderLayer),
///   [`TransformerEncoder`](crate::TransformerEncoder)) with [`ForwardContext::padding_mask`]
///   as `key_padding_mask` / `src_key_padding_mask`;
/// * [`SequencePool`](crate::SequencePool) pools over the real positions only.
///
/// ```
/// use tuna_nn::ForwardContext;
///
/// let ctx = ForwardContext::with_lengths(vec![3, 1]);
/// let mask = ctx.padding_mask(2, 3).unwrap(); // true = padding
/// assert_eq!(mask.to_vec::<bool>(), [false, false, false, false, true, true]);
/// assert!(ForwardContext::new().padding_mask(2, 3).is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardContext {
    /// The real length of each sample of the batch (`None`: every position is real).
    pub lengths: Option<Arc<[usize]>>,
}

impl ForwardContext {
    /// A context without lengths: every position is real.
    pub fn new() -> Self {
        ForwardContext::default()
    }

    /// A context for a batch padded at the end, where sample `i` has `lengths[i]` real
    /// positions.
    pub fn with_lengths(lengths: impl Into<Arc<[usize]>>) -> Self {
        ForwardContext {
            lengths: Some(lengths.into()),
        }
    }

    /// The per-sample lengths, if any.
    pub fn lengths(&self) -> Option<&[usize]> {
        self.lengths.as_deref()
    }

    /// Checks that the lengths fit a batch of `batch` samples padded to `max_len`: one per
    /// sample, each in `1..=max_len` (PyTorch's `pack_padded_sequence` rejects empty
    /// samples too).
    ///
    /// # Errors
    /// [`NnError::Lengths`] saying which length is wrong.
    pub fn check(&self, batch: usize, max_len: usize) -> Result<(), NnError> {
        let Some(lengths) = self.lengths() else {
            return Ok(());
        };
        if lengths.len() != batch {
            return Err(NnError::Lengths(format!(
                "{} lengths for a batch of {batch} samples",
                lengths.len()
            )));
        }
        match lengths.iter().position(|&l| l == 0 || l > max_len) {
            Some(i) => Err(NnError::Lengths(format!(
                "sample {i} has length {}; lengths must be in 1..={max_len} (the padded length)",
                lengths[i]
            ))),
            None => Ok(()),
        }
    }

    /// The lengths, checked against a batch of `batch` samples padded to `max_len`.
    ///
    /// # Panics
    /// If they do not fit (see [`ForwardContext::check`]); `layer` names the caller.
    #[track_caller]
    pub(crate) fn checked_lengths(
        &self,
        layer: &str,
        batch: usize,
        max_len: usize,
    ) -> Option<&[usize]> {
        if let Err(e) = self.check(batch, max_len) {
            panic!("{layer}: {e}");
        }
        self.lengths()
    }

    /// The padding mask `[batch, max_len]`, bool, **`true` = padding** (PyTorch's
    /// `src_key_padding_mask` / `key_padding_mask` convention); `None` without lengths.
    ///
    /// # Panics
    /// If the lengths do not fit (see [`ForwardContext::check`]).
    #[track_caller]
    pub fn padding_mask(&self, batch: usize, max_len: usize) -> Option<Tensor> {
        let lengths = self.checked_lengths("ForwardContext", batch, max_len)?;
        let data: Vec<bool> = lengths
            .iter()
            .flat_map(|&l| (0..max_len).map(move |t| t >= l))
            .collect();
        Some(Tensor::from_vec(data, &[batch, max_len]))
    }

    /// The real-token mask `[batch, max_len]`, **`1`/`true` = a real position**: bool if
    /// `dtype` is [`DType::Bool`], else 1.0 / 0.0 in `dtype` (to multiply by); `None` without
    /// lengths.
    ///
    /// # Panics
    /// If the lengths do not fit (see [`ForwardContext::check`]).
    #[track_caller]
    pub fn token_mask(&self, batch: usize, max_len: usize, dtype: DType) -> Option<Tensor> {
        let lengths = self.checked_lengths("ForwardContext", batch, max_len)?;
        let real = |l: usize| (0..max_len).map(move |t| t < l);
        Some(if dtype == DType::Bool {
            let data: Vec<bool> = lengths.iter().flat_map(|&l| real(l)).collect();
            Tensor::from_vec(data, &[batch, max_len])
        } else {
            let data: Vec<f64> = lengths
                .iter()
                .flat_map(|&l| real(l).map(|r| if r { 1.0 } else { 0.0 }))
                .collect();
            Tensor::from_vec(data, &[batch, max_len]).to_dtype(dtype)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_mark_the_padding_at_the_end() {
        let ctx = ForwardContext::with_lengths(vec![2, 3, 1]);
        let pad = ctx.padding_mask(3, 3).unwrap();
        assert_eq!(pad.shape(), [3, 3]);
        assert_eq!(
            pad.to_vec::<bool>(),
            [false, false, true, false, false, false, false, true, true]
        );
        let real = ctx.token_mask(3, 3, DType::F32).unwrap();
        assert_eq!(real.dtype(), DType::F32);
        assert_eq!(
            real.to_vec::<f32>(),
            [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
        );
        let real = ctx.token_mask(3, 4, DType::Bool).unwrap();
        assert_eq!(real.to_vec::<bool>()[..4], [true, true, false, false]);
        let none = ForwardContext::new();
        assert!(none.padding_mask(3, 3).is_none() && none.token_mask(3, 3, DType::F32).is_none());
    }

    #[test]
    fn lengths_that_do_not_fit_are_errors() {
        let ctx = ForwardContext::with_lengths(vec![2, 0]);
        let e = ctx.check(2, 3).unwrap_err().to_string();
        assert!(
            e.contains("sample 1 has length 0") && e.contains("1..=3"),
            "{e}"
        );
        let e = ctx.check(3, 3).unwrap_err().to_string();
        assert!(e.contains("2 lengths for a batch of 3"), "{e}");
        let e = ForwardContext::with_lengths(vec![4])
            .check(1, 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("length 4"), "{e}");
        assert!(ForwardContext::new().check(5, 1).is_ok());
    }

    #[test]
    #[should_panic(expected = "sample 0 has length 5")]
    fn a_mask_for_lengths_that_do_not_fit_panics() {
        ForwardContext::with_lengths(vec![5]).padding_mask(1, 4);
    }
}
