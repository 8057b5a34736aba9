//! In-place updates (PyTorch's trailing-underscore methods). They write into this tensor's
//! buffer, copying it first only if another tensor shares it, so no other tensor observes
//! the change.

use crate::dtype::FloatElement;
use crate::error::{or_panic, Result, TensorError};
use crate::strided::walk;
use crate::tensor::Tensor;
use crate::with_float;

impl Tensor {
    fn inplace_zip<T: FloatElement>(
        &mut self,
        op: &'static str,
        other: &Tensor,
        f: impl Fn(T, T) -> T,
    ) -> Result<()> {
        let other = other.to_dtype(self.dtype());
        let ol = other
            .layout()
            .expand(self.shape())
            .map_err(|_| TensorError::Broadcast {
                op,
                lhs: self.shape().to_vec(),
                rhs: other.shape().to_vec(),
            })?;
        let src_all = other.typed::<T>(op);
        let shape = self.shape().to_vec();
        let dst = self.data_mut::<T>();
        if let Some(r) = ol.contiguous_range() {
            for (d, &s) in dst.iter_mut().zip(&src_all[r]) {
                *d = f(*d, s);
            }
        } else {
            let mut i = 0;
            walk(&shape, [ol.strides()], [ol.offset()], |[o]| {
                dst[i] = f(dst[i], src_all[o]);
                i += 1;
            });
        }
        Ok(())
    }

    /// `self += alpha * other` in place, `other` broadcast to this shape
    /// (`tensor.add_(other, alpha=alpha)`): the SGD update.
    ///
    /// # Panics
    /// If `other` does not broadcast to this tensor's shape or the tensor is not float.
    #[track_caller]
    pub fn add_scaled_(&mut self, other: &Tensor, alpha: f64) {
        or_panic(with_float!(self.dtype(), "add_", T => {
            let a = T::of(alpha);
            or_panic(self.inplace_zip::<T>("add_", other, move |x, y| x + a * y))
        }))
    }

    /// `self += other` in place (`tensor.add_(other)`).
    ///
    /// # Panics
    /// If `other` does not broadcast to this tensor's shape or the tensor is not float.
    #[track_caller]
    pub fn add_(&mut self, other: &Tensor) {
        or_panic(
            with_float!(self.dtype(), "add_", T => or_panic(self.inplace_zip::<T>("add_", other, |x, y| x + y))),
        )
    }

    /// `self *= other` in place (`tensor.mul_(other)`).
    ///
    /// # Panics
    /// If `other` does not broadcast to this tensor's shape or the tensor is not float.
    #[track_caller]
    pub fn mul_(&mut self, other: &Tensor) {
        or_panic(
            with_float!(self.dtype(), "mul_", T => or_panic(self.inplace_zip::<T>("mul_", other, |x, y| x * y))),
        )
    }

    /// `self *= s` in place (`tensor.mul_(s)`).
    ///
    /// # Panics
    /// If the tensor is not float.
    #[track_caller]
    pub fn mul_scalar_(&mut self, s: f64) {
        or_panic(with_float!(self.dtype(), "mul_", T => {
            let s = T::of(s);
            self.data_mut::<T>().iter_mut().for_each(|x| *x *= s);
        }))
    }

    /// Sets every element to `value` (`tensor.fill_(value)`).
    pub fn fill_(&mut self, value: f64) {
        crate::with_dtype!(self.dtype(), T => {
            let v = <T as crate::Element>::from_f64(value);
            self.data_mut::<T>().iter_mut().for_each(|x| *x = v);
        })
    }

    /// Copies `src` (broadcast to this shape, converted to this dtype) into this tensor
    /// (`tensor.copy_(src)`).
    ///
    /// # Panics
    /// If `src` does not broadcast to this tensor's shape.
    #[track_caller]
    pub fn copy_(&mut self, src: &Tensor) {
        let src = src.to_dtype(self.dtype()).expand(self.shape()).contiguous();
        crate::with_dtype!(self.dtype(), T => {
            let s = src.as_slice::<T>().expect("contiguous").to_vec();
            self.data_mut::<T>().copy_from_slice(&s);
        })
    }

    /// Fallible `self += alpha * other`.
    ///
    /// # Errors
    /// If `other` does not broadcast to this tensor's shape or the tensor is not float.
    pub fn try_add_scaled_(&mut self, other: &Tensor, alpha: f64) -> Result<()> {
        with_float!(self.dtype(), "add_", T => {
            let a = T::of(alpha);
            self.inplace_zip::<T>("add_", other, move |x, y| x + a * y)?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inplace_update_does_not_leak_into_clones() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
        let mut b = a.clone();
        b.add_scaled_(&Tensor::from_vec(vec![1.0f32], &[1]), -0.5);
        assert_eq!(a.to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
        assert_eq!(b.to_vec::<f32>(), vec![0.5, 1.5, 2.5]);
        let mut c = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).t();
        c.mul_scalar_(2.0);
        assert_eq!(c.to_vec::<f64>(), vec![2.0, 6.0, 4.0, 8.0]);
    }
}
