//! Writing into regions of a tensor (out of place): the inverses of slicing views.

use crate::error::{or_panic, Result, TensorError};
use crate::layout::{normalize_dim, Layout};
use crate::strided::walk;
use crate::tensor::Tensor;
use crate::with_dtype;

impl Tensor {
    /// A copy of this tensor with `self[..., start:end:step, ...] = src` on `dim`
    /// (`torch.slice_scatter(input, src, dim, start, end, step)`); the backward of slicing.
    ///
    /// # Panics
    /// If `src` does not have the slice's shape or the dtypes differ.
    #[track_caller]
    pub fn slice_scatter(
        &self,
        src: &Tensor,
        dim: isize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Tensor {
        or_panic(self.try_slice_scatter(src, dim, start, end, step))
    }

    /// Fallible [`Tensor::slice_scatter`].
    ///
    /// # Errors
    /// If `src` does not have the slice's shape, `dim` is out of range, or the dtypes differ.
    pub fn try_slice_scatter(
        &self,
        src: &Tensor,
        dim: isize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Result<Tensor> {
        normalize_dim("slice_scatter", dim, self.rank())?;
        if src.dtype() != self.dtype() {
            return Err(TensorError::DType {
                op: "slice_scatter",
                expected: "src with the input's dtype",
                got: src.dtype(),
            });
        }
        let mut out = self.copy_contiguous();
        let region = Layout::contiguous(self.shape()).slice(dim, start, end, step)?;
        if region.shape() != src.shape() {
            return Err(TensorError::ShapeMismatch {
                op: "slice_scatter",
                lhs: region.shape().to_vec(),
                rhs: src.shape().to_vec(),
                expected: "src to have the shape of the slice".into(),
            });
        }
        with_dtype!(self.dtype(), T => {
            let s = src.typed::<T>("slice_scatter");
            let d = out.data_mut::<T>();
            walk(region.shape(), [region.strides(), src.strides()], [region.offset(), src.layout().offset()], |[o, i]| d[o] = s[i]);
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    #[test]
    fn scatters_a_strided_slice() {
        let z = Tensor::zeros(&[2, 5], DType::F32);
        let src = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
        let out = z.slice_scatter(&src, 1, 1, 5, 2);
        assert_eq!(
            out.to_vec::<f32>(),
            vec![0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 4.0, 0.0]
        );
        assert!(z.try_slice_scatter(&src, 1, 0, 5, 1).is_err());
    }
}
