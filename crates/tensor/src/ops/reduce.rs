//! Reductions over any set of dimensions (`sum`, `mean`, `amax`, `var`, `logsumexp`, ...),
//! arg-reductions, and the numerically stable `softmax` / `log_softmax`.

#[allow(unused_imports)]
use num_traits::{Float, FloatConst, One, Zero};
use smallvec::SmallVec;

use crate::dtype::{Element, FloatElement};
use crate::error::{or_panic, Result, TensorError};
use crate::layout::{normalize_dim, normalize_dims, Dims};
use crate::strided::walk;
use crate::tensor::Tensor;
use crate::with_float;

/// Sorted, de-duplicated reduced dims (all dims when `dims` is empty) and the output shape.
pub(crate) fn reduced_shape(
    op: &'static str,
    shape: &[usize],
    dims: &[isize],
    keepdim: bool,
) -> Result<(Dims, Dims)> {
    let red = normalize_dims(op, dims, shape.len())?;
    let mut out: Dims = SmallVec::new();
    for (i, &s) in shape.iter().enumerate() {
        if red.contains(&i) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(s);
        }
    }
    Ok((red, out))
}

/// Folds each group of reduced elements with `fold` (seeded by `init`) then maps the
/// accumulator with `finish(acc, count)`. Walks the input once, never copying it.
fn reduce_generic<T: Element, A: Copy, U: Element>(
    x: &Tensor,
    red: &[usize],
    out_shape: &[usize],
    init: A,
    fold: impl Fn(A, T, usize) -> A,
    finish: impl Fn(A, usize) -> U,
) -> Tensor {
    let data = x.typed::<T>("reduce");
    let rank = x.rank();
    let count: usize = red.iter().map(|&d| x.shape()[d]).product();
    // view with kept dims first, reduced dims last
    let mut perm: Vec<isize> = (0..rank)
        .filter(|d| !red.contains(d))
        .map(|d| d as isize)
        .collect();
    perm.extend(red.iter().map(|&d| d as isize));
    let v = x.permute(&perm);
    let n_out: usize = out_shape.iter().product();
    let mut out = Vec::with_capacity(n_out);
    if count == 0 {
        out.resize(n_out, finish(init, 0));
        return Tensor::from_vec(out, out_shape);
    }
    let mut acc = init;
    let mut k = 0;
    walk(v.shape(), [v.strides()], [v.layout().offset()], |[o]| {
        acc = fold(acc, data[o], k);
        k += 1;
        if k == count {
            out.push(finish(acc, count));
            acc = init;
            k = 0;
        }
    });
    Tensor::from_vec(out, out_shape)
}

/// Sum of a contiguous slice with 8 independent accumulators (vectorizes, and is more accurate
/// than one running sum).
fn sum_slice<T: FloatElement>(s: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i] + c[i];
        }
    }
    let mut total =
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in rest {
        total = total + x;
    }
    total
}

fn sum_kernel<T: FloatElement>(x: &Tensor, red: &[usize], out_shape: &[usize]) -> Tensor {
    let rank = x.rank();
    if let Some(r) = x.layout().contiguous_range() {
        let data = &x.typed::<T>("sum")[r];
        let k = red.len();
        // reducing the trailing dims: each output is a contiguous chunk
        if red.iter().enumerate().all(|(i, &d)| d == rank - k + i) {
            let inner: usize = x.shape()[rank - k..].iter().product();
            if inner > 0 {
                let out: Vec<T> = data.chunks_exact(inner).map(sum_slice).collect();
                return Tensor::from_vec(out, out_shape);
            }
        }
        // reducing the leading dims: accumulate rows
        if red.iter().enumerate().all(|(i, &d)| d == i) {
            let outer: usize = x.shape()[..k].iter().product();
            let inner: usize = x.shape()[k..].iter().product();
            let mut out = vec![T::zero(); inner];
            for row in 0..outer {
                let src = &data[row * inner..(row + 1) * inner];
                for (o, &v) in out.iter_mut().zip(src) {
                    *o = *o + v;
                }
            }
            return Tensor::from_vec(out, out_shape);
        }
        if let Some(out) = sum_outer_and_inner(data, x.shape(), red) {
            return Tensor::from_vec(out, out_shape);
        }
        if let Some(out) = sum_middle(data, x.shape(), red) {
            return Tensor::from_vec(out, out_shape);
        }
    }
    reduce_generic::<T, T, T>(x, red, out_shape, T::zero(), |a, v, _| a + v, |a, _| a)
}

/// Sum of contiguous `data` of `shape` over leading and trailing dims `red` around one kept
/// middle block (batch norm's `[N, C, H, W]` over `0, 2, 3`): `out[m] = Σ_o Σ_i x[o, m, i]`,
/// each contiguous inner run summed as a slice. `None` when the kept dims are not one block
/// or there is no trailing dim to reduce.
fn sum_outer_and_inner<T: FloatElement>(
    data: &[T],
    shape: &[usize],
    red: &[usize],
) -> Option<Vec<T>> {
    let rank = shape.len();
    let kept: Vec<usize> = (0..rank).filter(|d| !red.contains(d)).collect();
    let (&a, &b) = (kept.first()?, kept.last()?);
    if kept.len() != b - a + 1 || b + 1 == rank {
        return None;
    }
    let outer: usize = shape[..a].iter().product();
    let mid: usize = shape[a..=b].iter().product();
    let inner: usize = shape[b + 1..].iter().product();
    if inner == 0 || mid == 0 {
        return None;
    }
    let mut out = vec![T::zero(); mid];
    for block in data.chunks_exact(mid * inner).take(outer) {
        for (acc, run) in out.iter_mut().zip(block.chunks_exact(inner)) {
            *acc = *acc + sum_slice(run);
        }
    }
    Some(out)
}

/// Sum of contiguous `data` of `shape` over one block of middle dims `red` with kept dims on
/// both sides (a sequence pool's `[N, L, D]` over `1`): `out[o, i] = Σ_m x[o, m, i]`, rows
/// accumulated in order, so each output adds its inputs in the same order as the strided walk.
/// `None` when `red` is not such a block.
fn sum_middle<T: FloatElement>(data: &[T], shape: &[usize], red: &[usize]) -> Option<Vec<T>> {
    let (&a, &b) = (red.first()?, red.last()?);
    if a == 0 || red.len() != b - a + 1 || b + 1 >= shape.len() {
        return None;
    }
    let mid: usize = shape[a..=b].iter().product();
    let inner: usize = shape[b + 1..].iter().product();
    if inner == 0 || mid == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / mid);
    for block in data.chunks_exact(mid * inner) {
        let start = out.len();
        out.resize(start + inner, T::zero());
        for run in block.chunks_exact(inner) {
            for (o, &v) in out[start..].iter_mut().zip(run) {
                *o = *o + v;
            }
        }
    }
    Some(out)
}

impl Tensor {
    /// Sum over `dims` (all dims if empty), keeping them as size 1 if `keepdim`
    /// (`torch.sum(x, dim, keepdim)`).
    ///
    /// # Panics
    /// If a dim is out of range or the tensor is not float.
    #[track_caller]
    pub fn sum_dims(&self, dims: &[isize], keepdim: bool) -> Tensor {
        or_panic(self.try_sum_dims(dims, keepdim))
    }

    /// Fallible [`Tensor::sum_dims`].
    ///
    /// # Errors
    /// If a dim is out of range or the tensor is not float.
    pub fn try_sum_dims(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let (red, out) = reduced_shape("sum", self.shape(), dims, keepdim)?;
        with_float!(self.dtype(), "sum", T => sum_kernel::<T>(self, &red, &out))
    }

    /// Sum of all elements as a 0-d tensor (`torch.sum(x)`).
    #[track_caller]
    pub fn sum(&self) -> Tensor {
        self.sum_dims(&[], false)
    }

    /// Mean over `dims` (all if empty), PyTorch `torch.mean(x, dim, keepdim)`.
    ///
    /// # Panics
    /// If a dim is out of range or the tensor is not float.
    #[track_caller]
    pub fn mean_dims(&self, dims: &[isize], keepdim: bool) -> Tensor {
        or_panic(self.try_mean_dims(dims, keepdim))
    }

    /// Fallible [`Tensor::mean_dims`].
    ///
    /// # Errors
    /// If a dim is out of range or the tensor is not float.
    pub fn try_mean_dims(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let (red, _) = reduced_shape("mean", self.shape(), dims, keepdim)?;
        let n: usize = red.iter().map(|&d| self.shape()[d]).product();
        Ok(self.try_sum_dims(dims, keepdim)?.mul_scalar(1.0 / n as f64))
    }

    /// Mean of all elements as a 0-d tensor (`torch.mean(x)`).
    #[track_caller]
    pub fn mean(&self) -> Tensor {
        self.mean_dims(&[], false)
    }

    /// Maximum over `dims` (all if empty); NaN propagates (`torch.amax`).
    ///
    /// # Panics
    /// If a dim is out of range, the tensor is not float, or a reduced dim is empty.
    #[track_caller]
    pub fn amax(&self, dims: &[isize], keepdim: bool) -> Tensor {
        or_panic(self.try_amax(dims, keepdim))
    }

    /// Fallible [`Tensor::amax`].
    ///
    /// # Errors
    /// If a dim is out of range, the tensor is not float, or a reduced dim is empty.
    pub fn try_amax(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.extreme("amax", dims, keepdim, true)
    }

    /// Minimum over `dims` (all if empty); NaN propagates (`torch.amin`).
    ///
    /// # Panics
    /// If a dim is out of range, the tensor is not float, or a reduced dim is empty.
    #[track_caller]
    pub fn amin(&self, dims: &[isize], keepdim: bool) -> Tensor {
        or_panic(self.try_amin(dims, keepdim))
    }

    /// Fallible [`Tensor::amin`].
    ///
    /// # Errors
    /// If a dim is out of range, the tensor is not float, or a reduced dim is empty.
    pub fn try_amin(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.extreme("amin", dims, keepdim, false)
    }

    /// Maximum of all elements as a 0-d tensor (`torch.max(x)`).
    #[track_caller]
    pub fn max(&self) -> Tensor {
        self.amax(&[], false)
    }

    /// Minimum of all elements as a 0-d tensor (`torch.min(x)`).
    #[track_caller]
    pub fn min(&self) -> Tensor {
        self.amin(&[], false)
    }

    fn extreme(
        &self,
        op: &'static str,
        dims: &[isize],
        keepdim: bool,
        is_max: bool,
    ) -> Result<Tensor> {
        let (red, out) = reduced_shape(op, self.shape(), dims, keepdim)?;
        self.check_nonempty(op, &red)?;
        with_float!(self.dtype(), op, T => {
            let init = if is_max { T::neg_infinity() } else { T::infinity() };
            let pick = |a: T, v: T| {
                if a.is_nan() || v.is_nan() {
                    T::nan()
                } else if (is_max && v > a) || (!is_max && v < a) {
                    v
                } else {
                    a
                }
            };
            // over the trailing dims of contiguous data: each output folds one chunk
            let rank = self.rank();
            let trailing = red.iter().enumerate().all(|(i, &d)| d == rank - red.len() + i);
            match self.layout().contiguous_range() {
                Some(r) if trailing && !red.is_empty() => {
                    let inner: usize = self.shape()[rank - red.len()..].iter().product();
                    let data = &self.typed::<T>(op)[r];
                    let out_data: Vec<T> =
                        data.chunks_exact(inner).map(|c| c.iter().fold(init, |a, &v| pick(a, v))).collect();
                    Tensor::from_vec(out_data, &out)
                }
                _ => reduce_generic::<T, T, T>(self, &red, &out, init, |a, v, _| pick(a, v), |a, _| a),
            }
        })
    }

    /// An error if a reduced dim is empty (a max over nothing has no value).
    fn check_nonempty(&self, op: &'static str, red: &[usize]) -> Result<()> {
        if red.iter().all(|&d| self.shape()[d] > 0) {
            Ok(())
        } else {
            Err(TensorError::invalid(
                op,
                format!(
                    "cannot reduce over an empty dimension (shape {:?})",
                    self.shape()
                ),
            ))
        }
    }

    /// Maximum along `dim` with the index of the first maximal element
    /// (`torch.max(x, dim, keepdim)` returning `(values, indices)`; indices are i64).
    ///
    /// # Panics
    /// If `dim` is out of range, the dim is empty, or the tensor is not float.
    #[track_caller]
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        or_panic(self.try_max_dim(dim, keepdim))
    }

    /// Fallible [`Tensor::max_dim`].
    ///
    /// # Errors
    /// If `dim` is out of range, the dim is empty, or the tensor is not float.
    pub fn try_max_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.arg_extreme("max", dim, keepdim, true)
    }

    /// Minimum along `dim` with the index of the first minimal element
    /// (`torch.min(x, dim, keepdim)`).
    ///
    /// # Panics
    /// If `dim` is out of range, the dim is empty, or the tensor is not float.
    #[track_caller]
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        or_panic(self.try_min_dim(dim, keepdim))
    }

    /// Fallible [`Tensor::min_dim`].
    ///
    /// # Errors
    /// If `dim` is out of range, the dim is empty, or the tensor is not float.
    pub fn try_min_dim(&self, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.arg_extreme("min", dim, keepdim, false)
    }

    /// Index of the maximum along `dim`, as i64 (`torch.argmax(x, dim, keepdim)`).
    #[track_caller]
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Tensor {
        self.max_dim(dim, keepdim).1
    }

    /// Index of the minimum along `dim`, as i64 (`torch.argmin(x, dim, keepdim)`).
    #[track_caller]
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Tensor {
        self.min_dim(dim, keepdim).1
    }

    fn arg_extreme(
        &self,
        op: &'static str,
        dim: isize,
        keepdim: bool,
        is_max: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (red, out) = reduced_shape(op, self.shape(), &[dim], keepdim)?;
        self.check_nonempty(op, &red)?;
        with_float!(self.dtype(), op, T => {
            let init = (if is_max { T::neg_infinity() } else { T::infinity() }, 0usize, false);
            let better = move |a: (T, usize, bool), v: T, k: usize| {
                if !a.2 || (!a.0.is_nan() && (v.is_nan() || (is_max && v > a.0) || (!is_max && v < a.0))) {
                    (v, k, true)
                } else {
                    a
                }
            };
            let values = reduce_generic::<T, _, T>(self, &red, &out, init, better, |a, _| a.0);
            let indices = reduce_generic::<T, _, i64>(self, &red, &out, init, better, |a, _| a.1 as i64);
            (values, indices)
        })
    }

    /// Variance over `dims` (all if empty) with `correction` (1 = unbiased), PyTorch
    /// `torch.var(x, dim, correction=, keepdim=)`: `sum((x - mean)^2) / max(0, N - correction)`.
    ///
    /// # Panics
    /// If a dim is out of range or the tensor is not float.
    #[track_caller]
    pub fn var_dims(&self, dims: &[isize], correction: f64, keepdim: bool) -> Tensor {
        or_panic(self.try_var_dims(dims, correction, keepdim))
    }

    /// Fallible [`Tensor::var_dims`].
    ///
    /// # Errors
    /// If a dim is out of range or the tensor is not float.
    pub fn try_var_dims(&self, dims: &[isize], correction: f64, keepdim: bool) -> Result<Tensor> {
        let (red, _) = reduced_shape("var", self.shape(), dims, keepdim)?;
        let n: usize = red.iter().map(|&d| self.shape()[d]).product();
        let centered = self.try_sub(&self.try_mean_dims(dims, true)?)?;
        let denom = (n as f64 - correction).max(0.0);
        Ok(centered
            .square()
            .sum_dims(dims, keepdim)
            .mul_scalar(1.0 / denom))
    }

    /// Standard deviation: `sqrt(var_dims(...))` (`torch.std`).
    #[track_caller]
    pub fn std_dims(&self, dims: &[isize], correction: f64, keepdim: bool) -> Tensor {
        self.var_dims(dims, correction, keepdim).sqrt()
    }

    /// `log(sum(exp(x)))` over `dims`, computed stably by subtracting the maximum
    /// (`torch.logsumexp`). All `-inf` inputs give `-inf`.
    ///
    /// # Panics
    /// If a dim is out of range or the tensor is not float.
    #[track_caller]
    pub fn logsumexp(&self, dims: &[isize], keepdim: bool) -> Tensor {
        or_panic(self.try_logsumexp(dims, keepdim))
    }

    /// Fallible [`Tensor::logsumexp`].
    ///
    /// # Errors
    /// If a dim is out of range, a reduced dim is empty, or the tensor is not float.
    pub fn try_logsumexp(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let (_, out) = reduced_shape("logsumexp", self.shape(), dims, keepdim)?;
        let m = self.extreme("logsumexp", dims, true, true)?;
        let m = m.map_f64(|v| if v.is_infinite() { 0.0 } else { v });
        let s = self.sub(&m).exp().sum_dims(dims, true).log().add(&m);
        Ok(if keepdim { s } else { s.reshape_to(&out) })
    }

    /// Softmax along `dim`: `exp(x - max) / sum(exp(x - max))` (`F.softmax(x, dim)`).
    ///
    /// # Panics
    /// If `dim` is out of range or the tensor is not float.
    #[track_caller]
    pub fn softmax(&self, dim: isize) -> Tensor {
        or_panic(self.softmax_impl(dim, false))
    }

    /// Fallible [`Tensor::softmax`].
    ///
    /// # Errors
    /// If `dim` is out of range or the tensor is not float.
    pub fn try_softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_impl(dim, false)
    }

    /// Log-softmax along `dim`: `x - logsumexp(x)` (`F.log_softmax(x, dim)`).
    ///
    /// # Panics
    /// If `dim` is out of range or the tensor is not float.
    #[track_caller]
    pub fn log_softmax(&self, dim: isize) -> Tensor {
        or_panic(self.softmax_impl(dim, true))
    }

    /// Fallible [`Tensor::log_softmax`].
    ///
    /// # Errors
    /// If `dim` is out of range or the tensor is not float.
    pub fn try_log_softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_impl(dim, true)
    }

    fn softmax_impl(&self, dim: isize, log: bool) -> Result<Tensor> {
        let op = if log { "log_softmax" } else { "softmax" };
        let d = normalize_dim(op, dim, self.rank())?;
        if !self.dtype().is_float() {
            return Err(TensorError::DType {
                op,
                expected: "a floating-point tensor (f32 or f64)",
                got: self.dtype(),
            });
        }
        if self.rank() == 0 {
            return Ok(if log {
                self.zeros_like()
            } else {
                self.ones_like()
            });
        }
        // Move `dim` last, run the row kernel on contiguous rows, move it back.
        let last = self.rank() - 1;
        let moved = if d == last {
            self.clone()
        } else {
            self.transpose(d as isize, -1)
        };
        let rows = moved.contiguous();
        let n = rows.shape()[last];
        let out = with_float!(self.dtype(), op, T => {
            let src = rows.as_slice::<T>().expect("contiguous");
            let mut out = crate::pool::filled(src.len(), T::zero());
            if n > 0 {
                for (o, x) in out.chunks_exact_mut(n).zip(src.chunks_exact(n)) {
                    softmax_row(x, o, log);
                }
            }
            Tensor::from_vec(out, rows.shape())
        })?;
        Ok(if d == last {
            out
        } else {
            out.transpose(d as isize, -1).contiguous()
        })
    }
}

fn softmax_row<T: FloatElement>(x: &[T], out: &mut [T], log: bool) {
    let m = x.iter().fold(
        T::neg_infinity(),
        |a, &v| if v > a || v.is_nan() { v } else { a },
    );
    let m = if m.is_infinite() { T::zero() } else { m };
    let mut s = T::zero();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - m).exp();
        s = s + *o;
    }
    if log {
        let ls = s.ln();
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v - m - ls;
        }
    } else {
        let inv = T::one() / s;
        for o in out.iter_mut() {
            *o = *o * inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    fn t(v: &[f64], s: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), s)
    }

    #[test]
    fn the_outer_and_inner_fast_path_agrees_with_the_generic_walk() {
        let mut g = crate::Generator::new(7);
        for (shape, dims) in [
            (vec![5usize, 3, 7, 9], vec![0isize, 2, 3]),
            (vec![4, 2, 3, 17], vec![0, 3]),
            (vec![2, 3, 4, 5], vec![2, 3, 0]),
            (vec![1, 6, 1], vec![0, 2]),
            (vec![3, 2, 5, 2], vec![0, 1, 3]),
        ] {
            let x = Tensor::randn(&shape, DType::F64, &mut g);
            let fast = x.sum_dims(&dims, false);
            // a permuted copy is not contiguous in the reduced order: the generic walk
            let (red, out) = reduced_shape("sum", x.shape(), &dims, false).unwrap();
            let slow =
                reduce_generic::<f64, f64, f64>(&x, &red, &out, 0.0, |a, v, _| a + v, |a, _| a);
            assert_eq!(fast.shape(), slow.shape(), "{shape:?} {dims:?}");
            for (a, b) in fast.to_vec::<f64>().iter().zip(slow.to_vec::<f64>()) {
                assert!(
                    (a - b).abs() < 1e-12 * (1.0 + b.abs()),
                    "{shape:?} {dims:?}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn the_middle_block_fast_path_gives_the_generic_walks_bits() {
        let mut g = crate::Generator::new(11);
        for (shape, dims) in [
            (vec![4usize, 7, 5], vec![1isize]),
            (vec![3, 2, 6, 4, 2], vec![1, 2]),
            (vec![2, 5, 1, 3], vec![1, 2]),
            (vec![1, 9, 8], vec![1]),
        ] {
            let x = Tensor::randn(&shape, DType::F32, &mut g);
            let (red, out) = reduced_shape("sum", x.shape(), &dims, false).unwrap();
            let data = x.to_vec::<f32>();
            assert!(
                sum_middle(&data, x.shape(), &red).is_some(),
                "{shape:?} {dims:?}"
            );
            let slow =
                reduce_generic::<f32, f32, f32>(&x, &red, &out, 0.0, |a, v, _| a + v, |a, _| a);
            assert_eq!(
                x.sum_dims(&dims, false).to_vec::<f32>(),
                slow.to_vec::<f32>()
            );
        }
        assert_eq!(sum_middle(&[0.0f32; 6], &[2, 3], &[1]), None);
        assert_eq!(sum_middle(&[0.0f32; 24], &[2, 3, 4], &[0, 1]), None);
    }

    #[test]
    fn sums_over_any_dims() {
        let x = t(&(0..24).map(|v| v as f64).collect::<Vec<_>>(), &[2, 3, 4]);
        assert_eq!(x.sum().item(), 276.0);
        assert_eq!(x.sum_dims(&[0], false).shape(), &[3, 4]);
        assert_eq!(x.sum_dims(&[0], false).get(&[1, 2]), 6.0 + 18.0);
        assert_eq!(x.sum_dims(&[0, 2], true).shape(), &[1, 3, 1]);
        assert_eq!(
            x.sum_dims(&[0, 2], true).to_vec::<f64>(),
            vec![60.0, 92.0, 124.0]
        );
        assert_eq!(
            x.t().sum_dims(&[-1], false).to_vec::<f64>(),
            x.sum_dims(&[1], false).to_vec::<f64>()
        );
    }

    #[test]
    fn max_with_indices_and_var() {
        let x = t(&[1.0, 5.0, 5.0, 2.0, -1.0, 0.0], &[2, 3]);
        let (v, i) = x.max_dim(1, false);
        assert_eq!(v.to_vec::<f64>(), vec![5.0, 2.0]);
        assert_eq!(i.to_vec::<i64>(), vec![1, 0]);
        assert_eq!(i.dtype(), DType::I64);
        let var = x.var_dims(&[1], 1.0, false).to_vec::<f64>();
        assert!((var[0] - 16.0 / 3.0 * 1.0).abs() < 1e-12);
    }

    #[test]
    fn softmax_is_stable_and_normalized() {
        let x = t(&[1000.0, 1001.0, 1002.0], &[1, 3]);
        let s = x.softmax(-1).to_vec::<f64>();
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let ls = x.log_softmax(1).to_vec::<f64>();
        assert!((ls[2] - (-(1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln())).abs() < 1e-12);
        let lse = x.logsumexp(&[1], false).item();
        assert!((lse - (1002.0 + (1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln())).abs() < 1e-9);
    }
}
