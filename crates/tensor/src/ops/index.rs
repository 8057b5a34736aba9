//! Indexing, joining, splitting and construction: `index_select`/`index_add`,
//! `gather`/`scatter`/`scatter_add`, `cat`/`stack`, `split`/`chunk`, `one_hot`, `arange`,
//! `linspace`, `eye`, `tril`/`triu`.
//!
//! Index tensors are `i64`. Negative indices are rejected (PyTorch rejects them for every op
//! here) and out-of-range indices give [`TensorError::IndexOutOfRange`]; indices are validated
//! before any data is touched. Kernels copy whole rows with `copy_from_slice` when the
//! operands are contiguous and walk strided views otherwise.

use crate::dtype::{DType, Element};
use crate::error::{or_panic, Result, TensorError};
use crate::layout::{contiguous_strides, normalize_dim, Dims, Layout};
use crate::strided::walk;
use crate::tensor::Tensor;
use crate::with_dtype;

/// Element addition as the accumulating ops (`index_add`, `scatter_add`) need it: wrapping for
/// `i64` (PyTorch's integer overflow wraps) and logical or for `bool` (PyTorch's bool add).
pub(crate) trait Accumulate: Element {
    /// `self + other`.
    fn accumulate(self, other: Self) -> Self;
}

impl Accumulate for f32 {
    fn accumulate(self, other: Self) -> Self {
        self + other
    }
}

impl Accumulate for f64 {
    fn accumulate(self, other: Self) -> Self {
        self + other
    }
}

impl Accumulate for i64 {
    fn accumulate(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
}

impl Accumulate for bool {
    fn accumulate(self, other: Self) -> Self {
        self || other
    }
}

/// Fails unless `index` is an `i64` tensor.
fn expect_index(op: &'static str, index: &Tensor) -> Result<()> {
    if index.dtype() != DType::I64 {
        return Err(TensorError::DType {
            op,
            expected: "an i64 index tensor",
            got: index.dtype(),
        });
    }
    Ok(())
}

/// Fails unless `other` has `dtype`.
fn expect_same_dtype(op: &'static str, dtype: DType, other: &Tensor, what: &str) -> Result<()> {
    if other.dtype() != dtype {
        return Err(TensorError::invalid(
            op,
            format!(
                "expected {what} to have the dtype of self ({dtype}), got {}",
                other.dtype()
            ),
        ));
    }
    Ok(())
}

/// Checks every index lies in `0..size`.
fn validate_indices(op: &'static str, idx: &[i64], size: usize) -> Result<()> {
    match idx.iter().find(|&&i| i < 0 || i as u64 >= size as u64) {
        Some(&index) => Err(TensorError::IndexOutOfRange { op, index, size }),
        None => Ok(()),
    }
}

/// `(outer, size, inner)`: the products of the dims before `dim`, the size of `dim`, and the
/// product of the dims after it.
fn split_at_dim(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    (
        shape[..dim].iter().product(),
        shape[dim],
        shape[dim + 1..].iter().product(),
    )
}

fn index_select_kernel<T: Element>(
    x: &Tensor,
    d: usize,
    idx: &[i64],
    out_shape: &[usize],
) -> Result<Tensor> {
    let data = x.typed::<T>("index_select");
    let (outer, size, inner) = split_at_dim(x.shape(), d);
    let n = idx.len();
    if let Some(r) = x.layout().contiguous_range() {
        let src = &data[r];
        let mut out = Vec::with_capacity(outer * n * inner);
        for o in 0..outer {
            let base = o * size * inner;
            for &i in idx {
                let s = base + i as usize * inner;
                out.extend_from_slice(&src[s..s + inner]);
            }
        }
        return Tensor::try_from_vec(out, out_shape);
    }
    let mut out = vec![T::default(); outer * n * inner];
    let out_layout = Layout::contiguous(out_shape);
    for (j, &i) in idx.iter().enumerate() {
        let sv = x.layout().narrow(d as isize, i as usize, 1)?;
        let dv = out_layout.narrow(d as isize, j, 1)?;
        walk(
            sv.shape(),
            [sv.strides(), dv.strides()],
            [sv.offset(), dv.offset()],
            |[s, o]| out[o] = data[s],
        );
    }
    Tensor::try_from_vec(out, out_shape)
}

fn index_add_kernel<T: Accumulate>(
    x: &Tensor,
    d: usize,
    idx: &[i64],
    source: &Tensor,
) -> Result<Tensor> {
    let mut out = x.contiguous_data::<T>().into_owned();
    let src = source.contiguous_data::<T>();
    let (outer, size, inner) = split_at_dim(x.shape(), d);
    let n = idx.len();
    for o in 0..outer {
        for (j, &i) in idx.iter().enumerate() {
            let dst = &mut out[(o * size + i as usize) * inner..][..inner];
            let row = &src[(o * n + j) * inner..][..inner];
            for (a, &b) in dst.iter_mut().zip(row) {
                *a = a.accumulate(b);
            }
        }
    }
    Tensor::try_from_vec(out, x.shape())
}

fn gather_kernel<T: Element>(x: &Tensor, d: usize, index: &Tensor, idx: &[i64]) -> Result<Tensor> {
    let data = x.typed::<T>("gather");
    let stride_d = x.strides()[d];
    let mut xs: Dims = Dims::from_slice(x.strides());
    xs[d] = 0;
    let mut out = Vec::with_capacity(index.numel());
    let mut k = 0;
    walk(index.shape(), [&xs], [x.layout().offset()], |[o]| {
        out.push(data[o + idx[k] as usize * stride_d]);
        k += 1;
    });
    Tensor::try_from_vec(out, index.shape())
}

fn scatter_kernel<T: Accumulate>(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    idx: &[i64],
    src: &Tensor,
    accumulate: bool,
) -> Result<Tensor> {
    let mut out = x.contiguous_data::<T>().into_owned();
    let mut os = contiguous_strides(x.shape());
    let stride_d = os[d];
    os[d] = 0;
    let sd = src.typed::<T>("scatter");
    let mut k = 0;
    walk(
        index.shape(),
        [src.strides(), &os],
        [src.layout().offset(), 0],
        |[s, o]| {
            let p = o + idx[k] as usize * stride_d;
            k += 1;
            out[p] = if accumulate {
                out[p].accumulate(sd[s])
            } else {
                sd[s]
            };
        },
    );
    Tensor::try_from_vec(out, x.shape())
}

fn cat_kernel<T: Element>(tensors: &[&Tensor], d: usize, out_shape: &[usize]) -> Result<Tensor> {
    let (outer, out_size, inner) = split_at_dim(out_shape, d);
    let total = outer * out_size * inner;
    if outer == 1 && tensors.iter().all(|t| t.is_contiguous()) {
        // memcpy each operand in turn
        let mut out = Vec::with_capacity(total);
        for t in tensors {
            out.extend_from_slice(&t.contiguous_data::<T>());
        }
        return Tensor::try_from_vec(out, out_shape);
    }
    let mut out = vec![T::default(); total];
    let out_layout = Layout::contiguous(out_shape);
    let mut off = 0;
    for t in tensors {
        let len = t.shape()[d];
        let data = t.typed::<T>("cat");
        if let Some(r) = t.layout().contiguous_range() {
            let src = &data[r];
            let chunk = len * inner;
            if chunk > 0 {
                for (o, row) in src.chunks_exact(chunk).enumerate() {
                    let start = (o * out_size + off) * inner;
                    out[start..start + chunk].copy_from_slice(row);
                }
            }
        } else {
            let ov = out_layout.narrow(d as isize, off, len)?;
            walk(
                t.shape(),
                [t.strides(), ov.strides()],
                [t.layout().offset(), ov.offset()],
                |[s, o]| out[o] = data[s],
            );
        }
        off += len;
    }
    Tensor::try_from_vec(out, out_shape)
}

fn tri_kernel<T: Element>(x: &Tensor, diagonal: i64, lower: bool) -> Result<Tensor> {
    let mut out = x.contiguous_data::<T>().into_owned();
    let r = x.rank();
    let (rows, cols) = (x.shape()[r - 2], x.shape()[r - 1]);
    if rows * cols > 0 {
        for m in out.chunks_exact_mut(rows * cols) {
            for i in 0..rows {
                for j in 0..cols {
                    let k = j as i64 - i as i64;
                    let keep = if lower { k <= diagonal } else { k >= diagonal };
                    if !keep {
                        m[i * cols + j] = T::default();
                    }
                }
            }
        }
    }
    Tensor::try_from_vec(out, x.shape())
}

impl Tensor {
    // ----------------------------------------------------------------------------------------
    // index_select / index_add

    /// Selects the entries `index[j]` of dimension `dim`: `out.select(dim, j) ==
    /// self.select(dim, index[j])` (`torch.index_select(self, dim, index)`). Repeated indices
    /// repeat rows. Works for every dtype; a contiguous input on dim 0 is copied row by row.
    ///
    /// # Panics
    /// See [`Tensor::try_index_select`].
    #[track_caller]
    pub fn index_select(&self, dim: isize, index: &Tensor) -> Tensor {
        or_panic(self.try_index_select(dim, index))
    }

    /// Fallible [`Tensor::index_select`].
    ///
    /// # Errors
    /// If `index` is not a 0-d or 1-d `i64` tensor, `dim` is out of range, or an index is
    /// negative or not below `self.size(dim)`.
    pub fn try_index_select(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        const OP: &str = "index_select";
        expect_index(OP, index)?;
        if index.rank() > 1 {
            return Err(TensorError::invalid(
                OP,
                format!("index must be 0-d or 1-d, got shape {:?}", index.shape()),
            ));
        }
        let idx = index.contiguous_data::<i64>();
        if self.rank() == 0 {
            normalize_dim(OP, dim, 0)?;
            if idx.len() != 1 {
                return Err(TensorError::invalid(
                    OP,
                    format!("a 0-d input takes exactly one index, got {}", idx.len()),
                ));
            }
            validate_indices(OP, &idx, 1)?;
            return Ok(self.clone());
        }
        let d = normalize_dim(OP, dim, self.rank())?;
        validate_indices(OP, &idx, self.shape()[d])?;
        let mut out_shape = self.shape().to_vec();
        out_shape[d] = idx.len();
        with_dtype!(self.dtype(), T => index_select_kernel::<T>(self, d, &idx, &out_shape))
    }

    /// Adds the slices of `source` along `dim` into the entries `index` of `self`, accumulating
    /// repeated indices: `out.select(dim, index[j]) += source.select(dim, j)`
    /// (`self.index_add(dim, index, source)`, the backward of [`Tensor::index_select`]).
    /// For `bool` tensors the addition is logical or, as in PyTorch.
    ///
    /// # Panics
    /// See [`Tensor::try_index_add`].
    #[track_caller]
    pub fn index_add(&self, dim: isize, index: &Tensor, source: &Tensor) -> Tensor {
        or_panic(self.try_index_add(dim, index, source))
    }

    /// Fallible [`Tensor::index_add`].
    ///
    /// # Errors
    /// If `index` is not a 0-d or 1-d `i64` tensor, an index is out of range, `source` has a
    /// different dtype, or `source`'s shape is not `self`'s with `dim` of size `index.numel()`.
    pub fn try_index_add(&self, dim: isize, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        const OP: &str = "index_add";
        expect_index(OP, index)?;
        expect_same_dtype(OP, self.dtype(), source, "source")?;
        if index.rank() > 1 {
            return Err(TensorError::invalid(
                OP,
                format!("index must be 0-d or 1-d, got shape {:?}", index.shape()),
            ));
        }
        if self.rank() == 0 {
            normalize_dim(OP, dim, 0)?;
            let (x, s) = (self.reshape_to(&[1]), source.reshape_to(&[source.numel()]));
            return Ok(x
                .try_index_add(0, &index.reshape_to(&[index.numel()]), &s)?
                .reshape_to(&[]));
        }
        let d = normalize_dim(OP, dim, self.rank())?;
        let idx = index.contiguous_data::<i64>();
        let mut expected = self.shape().to_vec();
        expected[d] = idx.len();
        if source.shape() != expected.as_slice() {
            return Err(TensorError::ShapeMismatch {
                op: OP,
                lhs: self.shape().to_vec(),
                rhs: source.shape().to_vec(),
                expected: format!("source of shape {expected:?} (self's shape with dim {d} of size index.numel())"),
            });
        }
        validate_indices(OP, &idx, self.shape()[d])?;
        with_dtype!(self.dtype(), T => index_add_kernel::<T>(self, d, &idx, source))
    }

    // ----------------------------------------------------------------------------------------
    // gather / scatter

    /// Checks ranks and sizes shared by gather and scatter and returns the normalized dim and
    /// the validated indices.
    fn gather_scatter_check<'a>(
        &self,
        op: &'static str,
        dim: isize,
        index: &'a Tensor,
        src: Option<&Tensor>,
    ) -> Result<(usize, std::borrow::Cow<'a, [i64]>)> {
        expect_index(op, index)?;
        if index.rank() != self.rank() {
            return Err(TensorError::ShapeMismatch {
                op,
                lhs: self.shape().to_vec(),
                rhs: index.shape().to_vec(),
                expected: "index with the same number of dimensions as self".into(),
            });
        }
        let d = normalize_dim(op, dim, self.rank())?;
        for k in 0..self.rank() {
            if k != d && index.shape()[k] > self.shape()[k] {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: self.shape().to_vec(),
                    rhs: index.shape().to_vec(),
                    expected: format!("index.size({k}) <= self.size({k}) for every dim but {d}"),
                });
            }
        }
        if let Some(src) = src {
            expect_same_dtype(op, self.dtype(), src, "src")?;
            if src.rank() != index.rank()
                || index.shape().iter().zip(src.shape()).any(|(i, s)| i > s)
            {
                return Err(TensorError::ShapeMismatch {
                    op,
                    lhs: src.shape().to_vec(),
                    rhs: index.shape().to_vec(),
                    expected: "src of the same rank as index and at least its size in every dim"
                        .into(),
                });
            }
        }
        let idx = index.contiguous_data::<i64>();
        let size = self.shape().get(d).copied().unwrap_or(1);
        validate_indices(op, &idx, size)?;
        Ok((d, idx))
    }

    /// Picks along `dim` by `index`: for a 3-d tensor and `dim == 1`,
    /// `out[i][j][k] = self[i][index[i][j][k]][k]` (`torch.gather(self, dim, index)`). The output
    /// has `index`'s shape, which may be smaller than `self`'s in every dim (and larger in `dim`).
    ///
    /// # Panics
    /// See [`Tensor::try_gather`].
    #[track_caller]
    pub fn gather(&self, dim: isize, index: &Tensor) -> Tensor {
        or_panic(self.try_gather(dim, index))
    }

    /// Fallible [`Tensor::gather`].
    ///
    /// # Errors
    /// If `index` is not `i64`, its rank differs from `self`'s, `index.size(k) > self.size(k)`
    /// for some `k != dim`, or an index is out of range.
    pub fn try_gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        const OP: &str = "gather";
        let (d, idx) = self.gather_scatter_check(OP, dim, index, None)?;
        if self.rank() == 0 {
            let (x, i) = (self.reshape_to(&[1]), index.reshape_to(&[1]));
            return Ok(
                with_dtype!(self.dtype(), T => gather_kernel::<T>(&x, 0, &i, &idx))?
                    .reshape_to(&[]),
            );
        }
        with_dtype!(self.dtype(), T => gather_kernel::<T>(self, d, index, &idx))
    }

    /// Writes `src` into a copy of `self` at the positions `index` names along `dim`: for
    /// `dim == 0`, `out[index[i][j]][j] = src[i][j]` (`self.scatter(dim, index, src)`). Only the
    /// leading `index.shape()` part of `src` is used. With repeated indices the last write in
    /// row-major order of `index` wins (PyTorch leaves the choice unspecified).
    ///
    /// # Panics
    /// See [`Tensor::try_scatter`].
    #[track_caller]
    pub fn scatter(&self, dim: isize, index: &Tensor, src: &Tensor) -> Tensor {
        or_panic(self.try_scatter(dim, index, src))
    }

    /// Fallible [`Tensor::scatter`].
    ///
    /// # Errors
    /// If `index` is not `i64`, the ranks of `self`, `index` and `src` differ,
    /// `index.size(k) > src.size(k)` for some `k`, `index.size(k) > self.size(k)` for some
    /// `k != dim`, `src` has another dtype, or an index is out of range.
    pub fn try_scatter(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl("scatter", dim, index, src, false)
    }

    /// Like [`Tensor::scatter`] but adds instead of writing, accumulating repeated indices:
    /// `out[index[i][j]][j] += src[i][j]` for `dim == 0` (`self.scatter_add(dim, index, src)`,
    /// the backward of [`Tensor::gather`]). For `bool` the addition is logical or.
    ///
    /// # Panics
    /// See [`Tensor::try_scatter_add`].
    #[track_caller]
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Tensor {
        or_panic(self.try_scatter_add(dim, index, src))
    }

    /// Fallible [`Tensor::scatter_add`].
    ///
    /// # Errors
    /// As [`Tensor::try_scatter`].
    pub fn try_scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl("scatter_add", dim, index, src, true)
    }

    fn scatter_impl(
        &self,
        op: &'static str,
        dim: isize,
        index: &Tensor,
        src: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor> {
        let (d, idx) = self.gather_scatter_check(op, dim, index, Some(src))?;
        if self.rank() == 0 {
            let (x, i, s) = (
                self.reshape_to(&[1]),
                index.reshape_to(&[1]),
                src.reshape_to(&[1]),
            );
            return Ok(
                with_dtype!(self.dtype(), T => scatter_kernel::<T>(&x, 0, &i, &idx, &s, accumulate))?
                    .reshape_to(&[]),
            );
        }
        with_dtype!(self.dtype(), T => scatter_kernel::<T>(self, d, index, &idx, src, accumulate))
    }

    // ----------------------------------------------------------------------------------------
    // cat / stack

    /// Concatenates tensors along `dim` (`torch.cat(tensors, dim)`). All tensors must have the
    /// same dtype and the same shape except in `dim`; as in PyTorch, 1-d empty tensors (shape
    /// `[0]`) are skipped when concatenating higher-rank tensors. Contiguous operands are copied
    /// with `memcpy`-style row copies.
    ///
    /// # Panics
    /// See [`Tensor::try_cat`].
    #[track_caller]
    pub fn cat(tensors: &[&Tensor], dim: isize) -> Tensor {
        or_panic(Self::try_cat(tensors, dim))
    }

    /// Fallible [`Tensor::cat`].
    ///
    /// # Errors
    /// If `tensors` is empty, a tensor is 0-d, the dtypes differ, `dim` is out of range, or the
    /// shapes differ outside `dim`.
    pub fn try_cat(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        const OP: &str = "cat";
        let Some(first) = tensors.first() else {
            return Err(TensorError::invalid(
                OP,
                "expected a non-empty list of tensors",
            ));
        };
        let dtype = first.dtype();
        for (i, t) in tensors.iter().enumerate() {
            if t.dtype() != dtype {
                return Err(TensorError::invalid(
                    OP,
                    format!(
                        "expected all tensors to have dtype {dtype}, but tensor {i} is {}",
                        t.dtype()
                    ),
                ));
            }
            if t.rank() == 0 {
                return Err(TensorError::invalid(
                    OP,
                    format!("zero-dimensional tensor (at position {i}) cannot be concatenated"),
                ));
            }
        }
        // PyTorch's legacy rule: 1-d empty tensors are ignored.
        let kept: Vec<&Tensor> = tensors
            .iter()
            .copied()
            .filter(|t| !(t.rank() == 1 && t.numel() == 0))
            .collect();
        let Some(reference) = kept.first() else {
            // every tensor is 1-d and empty
            normalize_dim(OP, dim, 1)?;
            return Ok(Tensor::zeros(&[0], dtype));
        };
        let d = normalize_dim(OP, dim, reference.rank())?;
        let mut out_shape = reference.shape().to_vec();
        out_shape[d] = 0;
        for t in &kept {
            let ok = t.rank() == reference.rank()
                && t.shape()
                    .iter()
                    .zip(reference.shape())
                    .enumerate()
                    .all(|(k, (a, b))| k == d || a == b);
            if !ok {
                return Err(TensorError::ShapeMismatch {
                    op: OP,
                    lhs: reference.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                    expected: format!("the same sizes except in dimension {d}"),
                });
            }
            out_shape[d] += t.shape()[d];
        }
        if kept.len() == 1 {
            return Ok(kept[0].contiguous());
        }
        with_dtype!(dtype, T => cat_kernel::<T>(&kept, d, &out_shape))
    }

    /// Stacks equally shaped tensors along a new dimension `dim`, which may be `-(rank+1)..=rank`
    /// (`torch.stack(tensors, dim)`).
    ///
    /// # Panics
    /// See [`Tensor::try_stack`].
    #[track_caller]
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Tensor {
        or_panic(Self::try_stack(tensors, dim))
    }

    /// Fallible [`Tensor::stack`].
    ///
    /// # Errors
    /// If `tensors` is empty, the shapes or dtypes differ, or `dim` is out of range.
    pub fn try_stack(tensors: &[&Tensor], dim: isize) -> Result<Tensor> {
        const OP: &str = "stack";
        let Some(first) = tensors.first() else {
            return Err(TensorError::invalid(
                OP,
                "expected a non-empty list of tensors",
            ));
        };
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(TensorError::ShapeMismatch {
                    op: OP,
                    lhs: first.shape().to_vec(),
                    rhs: t.shape().to_vec(),
                    expected: "all tensors of equal shape".into(),
                });
            }
        }
        let d = normalize_dim(OP, dim, first.rank() + 1)?;
        let views: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d as isize)).collect();
        let refs: Vec<&Tensor> = views.iter().collect();
        Self::try_cat(&refs, d as isize)
    }

    // ----------------------------------------------------------------------------------------
    // split / chunk

    /// Splits `dim` into views of `split_size` entries each, the last one smaller if the size
    /// does not divide (`torch.split(self, split_size, dim)`).
    ///
    /// # Panics
    /// See [`Tensor::try_split`].
    #[track_caller]
    pub fn split(&self, split_size: usize, dim: isize) -> Vec<Tensor> {
        or_panic(self.try_split(split_size, dim))
    }

    /// Fallible [`Tensor::split`].
    ///
    /// # Errors
    /// If the tensor is 0-d, `dim` is out of range, or `split_size` is 0 while the dimension is
    /// not empty.
    pub fn try_split(&self, split_size: usize, dim: isize) -> Result<Vec<Tensor>> {
        const OP: &str = "split";
        if self.rank() == 0 {
            return Err(TensorError::invalid(
                OP,
                "expects at least a 1-dimensional tensor",
            ));
        }
        let d = normalize_dim(OP, dim, self.rank())?;
        let size = self.shape()[d];
        if split_size == 0 && size > 0 {
            return Err(TensorError::invalid(
                OP,
                format!("split_size can only be 0 if dimension size is 0, but got dimension size of {size}"),
            ));
        }
        let n = if split_size == 0 {
            1
        } else {
            size.div_ceil(split_size).max(1)
        };
        (0..n)
            .map(|i| {
                let start = (i * split_size).min(size);
                self.try_narrow(d as isize, start, split_size.min(size - start))
            })
            .collect()
    }

    /// Splits `dim` into views of the given sizes (`torch.split(self, sizes, dim)`, PyTorch's
    /// `split_with_sizes`).
    ///
    /// # Panics
    /// See [`Tensor::try_split_sizes`].
    #[track_caller]
    pub fn split_sizes(&self, sizes: &[usize], dim: isize) -> Vec<Tensor> {
        or_panic(self.try_split_sizes(sizes, dim))
    }

    /// Fallible [`Tensor::split_sizes`].
    ///
    /// # Errors
    /// If the tensor is 0-d, `dim` is out of range, or the sizes do not sum to `self.size(dim)`.
    pub fn try_split_sizes(&self, sizes: &[usize], dim: isize) -> Result<Vec<Tensor>> {
        const OP: &str = "split_sizes";
        if self.rank() == 0 {
            return Err(TensorError::invalid(
                OP,
                "expects at least a 1-dimensional tensor",
            ));
        }
        let d = normalize_dim(OP, dim, self.rank())?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[d] {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "split sizes {sizes:?} sum to {total}, but dimension {d} of shape {:?} has size {}",
                    self.shape(),
                    self.shape()[d]
                ),
            ));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let v = self.try_narrow(d as isize, start, len);
                start += len;
                v
            })
            .collect()
    }

    /// Splits `dim` into at most `chunks` views of `ceil(size / chunks)` entries, the last one
    /// smaller (`torch.chunk(self, chunks, dim)`). As in PyTorch, fewer than `chunks` pieces may
    /// come back (size 5 in 4 chunks gives sizes 2, 2, 1); an empty dimension gives `chunks`
    /// empty views.
    ///
    /// # Panics
    /// See [`Tensor::try_chunk`].
    #[track_caller]
    pub fn chunk(&self, chunks: usize, dim: isize) -> Vec<Tensor> {
        or_panic(self.try_chunk(chunks, dim))
    }

    /// Fallible [`Tensor::chunk`].
    ///
    /// # Errors
    /// If the tensor is 0-d, `dim` is out of range, or `chunks` is 0.
    pub fn try_chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Tensor>> {
        const OP: &str = "chunk";
        if self.rank() == 0 {
            return Err(TensorError::invalid(
                OP,
                "expects at least a 1-dimensional tensor",
            ));
        }
        if chunks == 0 {
            return Err(TensorError::invalid(
                OP,
                "expects `chunks` to be greater than 0, got: 0",
            ));
        }
        let d = normalize_dim(OP, dim, self.rank())?;
        let size = self.shape()[d];
        if size == 0 {
            return self.try_split_sizes(&vec![0; chunks], dim);
        }
        self.try_split(size.div_ceil(chunks), dim)
    }

    // ----------------------------------------------------------------------------------------
    // one_hot

    /// One-hot encodes an `i64` tensor of class indices: the result has shape
    /// `self.shape() + [num_classes]` and dtype `i64` (`torch.nn.functional.one_hot`).
    /// `num_classes == None` uses `max + 1` (PyTorch's `num_classes=-1`).
    ///
    /// # Panics
    /// See [`Tensor::try_one_hot`].
    #[track_caller]
    pub fn one_hot(&self, num_classes: Option<usize>) -> Tensor {
        or_panic(self.try_one_hot(num_classes))
    }

    /// Fallible [`Tensor::one_hot`].
    ///
    /// # Errors
    /// If the tensor is not `i64`, a value is negative or not below `num_classes`, or
    /// `num_classes` is `None` and the tensor is empty.
    pub fn try_one_hot(&self, num_classes: Option<usize>) -> Result<Tensor> {
        const OP: &str = "one_hot";
        if self.dtype() != DType::I64 {
            return Err(TensorError::DType {
                op: OP,
                expected: "an i64 tensor of class indices",
                got: self.dtype(),
            });
        }
        let idx = self.contiguous_data::<i64>();
        let classes = match num_classes {
            Some(c) => c,
            None => match idx.iter().max() {
                Some(&m) if m >= 0 => m as usize + 1,
                Some(_) => 0, // a negative value; reported below
                None => {
                    return Err(TensorError::invalid(
                        OP,
                        "can not infer the number of classes from an empty tensor",
                    ))
                }
            },
        };
        validate_indices(OP, &idx, classes)?;
        let mut out = vec![0i64; idx.len() * classes];
        for (row, &i) in idx.iter().enumerate() {
            out[row * classes + i as usize] = 1;
        }
        let mut shape = self.shape().to_vec();
        shape.push(classes);
        Tensor::try_from_vec(out, &shape)
    }

    // ----------------------------------------------------------------------------------------
    // constructors

    /// Values `start, start + step, ...` below `end` (above it for a negative step), with
    /// `ceil((end - start) / step)` elements (`torch.arange(start, end, step, dtype=dtype)`).
    /// Float values are computed as `start + i*step` in `f64` and rounded to the dtype; for
    /// `i64`, `start` and `step` are truncated to integers first, as PyTorch does.
    ///
    /// # Panics
    /// See [`Tensor::try_arange`].
    #[track_caller]
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType) -> Tensor {
        or_panic(Self::try_arange(start, end, step, dtype))
    }

    /// Fallible [`Tensor::arange`].
    ///
    /// # Errors
    /// If `dtype` is `Bool`, `step` is 0, an argument is not finite, or the sign of `step`
    /// disagrees with `end - start`.
    pub fn try_arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        const OP: &str = "arange";
        if dtype == DType::Bool {
            return Err(TensorError::DType {
                op: OP,
                expected: "a numeric dtype (f32, f64 or i64)",
                got: dtype,
            });
        }
        if !(start.is_finite() && end.is_finite() && step.is_finite()) {
            return Err(TensorError::invalid(
                OP,
                format!("unsupported range {start}..{end} with step {step}"),
            ));
        }
        if step == 0.0 {
            return Err(TensorError::invalid(OP, "step must be nonzero"));
        }
        if (step > 0.0 && end < start) || (step < 0.0 && end > start) {
            return Err(TensorError::invalid(
                OP,
                format!("upper bound and larger bound inconsistent with step sign ({start}..{end} step {step})"),
            ));
        }
        let n = ((end - start) / step).ceil();
        if n >= isize::MAX as f64 {
            return Err(TensorError::invalid(
                OP,
                format!("{n} elements is too many"),
            ));
        }
        let n = n as usize;
        Ok(match dtype {
            DType::I64 => {
                let (s, st) = (start as i64, step as i64);
                Tensor::from_vec(
                    (0..n)
                        .map(|i| s.wrapping_add(st.wrapping_mul(i as i64)))
                        .collect::<Vec<_>>(),
                    &[n],
                )
            }
            _ => with_dtype!(dtype, T => Tensor::from_vec(
                (0..n).map(|i| T::from_f64(start + step * i as f64)).collect::<Vec<T>>(),
                &[n],
            )),
        })
    }

    /// `0, 1, ..., n-1` (`torch.arange(n, dtype=dtype)`).
    ///
    /// # Panics
    /// If `dtype` is `Bool`.
    #[track_caller]
    pub fn arange_n(n: usize, dtype: DType) -> Tensor {
        Self::arange(0.0, n as f64, 1.0, dtype)
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive
    /// (`torch.linspace(start, end, steps, dtype=dtype)`). Like PyTorch, the first half is
    /// computed as `start + i*step` and the second half as `end - (steps-1-i)*step`, in the
    /// dtype's precision (in `f64` then truncated for `i64`), so both ends are exact.
    ///
    /// # Panics
    /// If `dtype` is `Bool`.
    #[track_caller]
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Tensor {
        or_panic(Self::try_linspace(start, end, steps, dtype))
    }

    /// Fallible [`Tensor::linspace`].
    ///
    /// # Errors
    /// If `dtype` is `Bool`.
    pub fn try_linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
        fn float<T: crate::FloatElement>(start: f64, end: f64, steps: usize) -> Tensor {
            let (s, e) = (T::of(start), T::of(end));
            let step = if steps > 1 {
                (e - s) / T::of((steps - 1) as f64)
            } else {
                T::of(0.0)
            };
            let half = steps / 2;
            let v: Vec<T> = (0..steps)
                .map(|i| {
                    if i < half {
                        s + step * T::of(i as f64)
                    } else {
                        e - step * T::of((steps - i - 1) as f64)
                    }
                })
                .collect();
            Tensor::from_vec(v, &[steps])
        }
        match dtype {
            DType::F32 => Ok(float::<f32>(start, end, steps)),
            DType::F64 => Ok(float::<f64>(start, end, steps)),
            DType::I64 => {
                let (s, e) = (start as i64 as f64, end as i64 as f64);
                let step = if steps > 1 {
                    (e - s) / (steps - 1) as f64
                } else {
                    0.0
                };
                let half = steps / 2;
                let v: Vec<i64> = (0..steps)
                    .map(|i| {
                        if i < half {
                            (s + step * i as f64) as i64
                        } else {
                            (e - step * (steps - i - 1) as f64) as i64
                        }
                    })
                    .collect();
                Ok(Tensor::from_vec(v, &[steps]))
            }
            DType::Bool => Err(TensorError::DType {
                op: "linspace",
                expected: "a numeric dtype (f32, f64 or i64)",
                got: dtype,
            }),
        }
    }

    /// An `n x m` matrix (`m` defaults to `n`) with ones on the diagonal and zeros elsewhere
    /// (`torch.eye(n, m, dtype=dtype)`; `true`/`false` for `Bool`).
    pub fn eye(n: usize, m: Option<usize>, dtype: DType) -> Tensor {
        let m = m.unwrap_or(n);
        with_dtype!(dtype, T => {
            let mut v = vec![T::default(); n * m];
            for i in 0..n.min(m) {
                v[i * m + i] = T::from_f64(1.0);
            }
            Tensor::from_vec(v, &[n, m])
        })
    }

    /// Keeps the lower triangle of the last two dims, `j - i <= diagonal`, and zeroes the rest
    /// (`torch.tril(self, diagonal)`); `diagonal > 0` keeps diagonals above the main one.
    /// Works for every dtype (`false` is the zero of `Bool`).
    ///
    /// # Panics
    /// If the tensor has fewer than 2 dimensions.
    #[track_caller]
    pub fn tril(&self, diagonal: i64) -> Tensor {
        or_panic(self.try_tril(diagonal))
    }

    /// Fallible [`Tensor::tril`].
    ///
    /// # Errors
    /// If the tensor has fewer than 2 dimensions.
    pub fn try_tril(&self, diagonal: i64) -> Result<Tensor> {
        self.tri("tril", diagonal, true)
    }

    /// Keeps the upper triangle of the last two dims, `j - i >= diagonal`, and zeroes the rest
    /// (`torch.triu(self, diagonal)`). Works for every dtype.
    ///
    /// # Panics
    /// If the tensor has fewer than 2 dimensions.
    #[track_caller]
    pub fn triu(&self, diagonal: i64) -> Tensor {
        or_panic(self.try_triu(diagonal))
    }

    /// Fallible [`Tensor::triu`].
    ///
    /// # Errors
    /// If the tensor has fewer than 2 dimensions.
    pub fn try_triu(&self, diagonal: i64) -> Result<Tensor> {
        self.tri("triu", diagonal, false)
    }

    fn tri(&self, op: &'static str, diagonal: i64, lower: bool) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(TensorError::invalid(
                op,
                format!(
                    "input tensor must have at least 2 dimensions, got shape {:?}",
                    self.shape()
                ),
            ));
        }
        with_dtype!(self.dtype(), T => tri_kernel::<T>(self, diagonal, lower))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape)
    }

    fn i(v: &[i64]) -> Tensor {
        Tensor::from_slice(v, &[v.len()])
    }

    fn range(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::from_vec((0..n).map(|x| x as f32).collect(), shape)
    }

    #[test]
    fn index_select_contiguous_and_strided() {
        let x = range(&[3, 4]);
        let s = x.index_select(0, &i(&[2, 0, 2]));
        assert_eq!(s.shape(), &[3, 4]);
        assert_eq!(
            s.to_vec::<f32>(),
            vec![8., 9., 10., 11., 0., 1., 2., 3., 8., 9., 10., 11.]
        );
        let c = x.index_select(-1, &i(&[3, 1]));
        assert_eq!(c.to_vec::<f32>(), vec![3., 1., 7., 5., 11., 9.]);
        // strided: the transpose
        let xt = x.t();
        let st = xt.index_select(0, &i(&[1, 1, 3]));
        assert_eq!(
            st.to_vec::<f32>(),
            vec![1., 5., 9., 1., 5., 9., 3., 7., 11.]
        );
        let st1 = xt.index_select(1, &i(&[2]));
        assert_eq!(st1.to_vec::<f32>(), vec![8., 9., 10., 11.]);
        // other dtypes and empty index
        let b = Tensor::from_vec(vec![true, false, true], &[3]);
        assert_eq!(
            b.index_select(0, &i(&[1, 2])).to_vec::<bool>(),
            vec![false, true]
        );
        assert_eq!(x.index_select(0, &i(&[])).shape(), &[0, 4]);
    }

    #[test]
    fn index_errors() {
        let x = range(&[3, 4]);
        assert!(matches!(
            x.try_index_select(0, &i(&[3])),
            Err(TensorError::IndexOutOfRange {
                index: 3,
                size: 3,
                ..
            })
        ));
        assert!(matches!(
            x.try_index_select(0, &i(&[-1])),
            Err(TensorError::IndexOutOfRange { index: -1, .. })
        ));
        assert!(matches!(
            x.try_index_select(0, &t(&[0.0], &[1])),
            Err(TensorError::DType { .. })
        ));
        assert!(matches!(
            x.try_index_select(2, &i(&[0])),
            Err(TensorError::DimOutOfRange { .. })
        ));
        assert!(x
            .try_gather(1, &Tensor::from_vec(vec![4i64], &[1, 1]))
            .is_err());
        assert!(x
            .try_gather(1, &Tensor::from_vec(vec![0i64; 4], &[4, 1]))
            .is_err());
        assert!(x
            .try_scatter_add(
                0,
                &Tensor::from_vec(vec![0i64], &[1, 1]),
                &range(&[1, 1]).to_dtype(DType::F64)
            )
            .is_err());
        assert!(x.try_index_add(0, &i(&[0]), &range(&[2, 4])).is_err());
        let r = std::panic::catch_unwind(|| x.index_select(0, &i(&[5])));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("index_select") && msg.contains('5'), "{msg}");
    }

    #[test]
    fn index_add_accumulates() {
        let x = Tensor::zeros(&[3, 2], DType::F64);
        let src = Tensor::from_vec(vec![1.0f64, 2., 3., 4., 5., 6.], &[3, 2]);
        let y = x.index_add(0, &i(&[0, 2, 0]), &src);
        assert_eq!(y.to_vec::<f64>(), vec![6., 8., 0., 0., 3., 4.]);
        let y1 = x.index_add(1, &i(&[1, 1]), &src.narrow(0, 0, 3));
        assert_eq!(y1.to_vec::<f64>(), vec![0., 3., 0., 7., 0., 11.]);
        // strided source
        let s = Tensor::from_vec(vec![1i64, 2, 3, 4], &[2, 2]).t();
        let z = Tensor::zeros(&[2, 2], DType::I64).index_add(0, &i(&[1, 1]), &s);
        assert_eq!(z.to_vec::<i64>(), vec![0, 0, 3, 7]);
    }

    #[test]
    fn gather_and_scatter() {
        let x = range(&[2, 3]);
        let idx = Tensor::from_vec(vec![2i64, 0, 1, 1], &[2, 2]);
        let g = x.gather(1, &idx);
        assert_eq!(g.to_vec::<f32>(), vec![2., 0., 4., 4.]);
        let g0 = x.gather(0, &Tensor::from_vec(vec![1i64, 0, 1], &[1, 3]));
        assert_eq!(g0.to_vec::<f32>(), vec![3., 1., 5.]);
        // strided input
        let gt = x.t().gather(0, &Tensor::from_vec(vec![2i64, 0], &[1, 2]));
        assert_eq!(gt.to_vec::<f32>(), vec![2., 3.]);
        let z = Tensor::zeros(&[2, 3], DType::F32);
        let up = t(&[1., 2., 3., 4.], &[2, 2]);
        let sa = z.scatter_add(1, &idx, &up);
        assert_eq!(sa.to_vec::<f32>(), vec![2., 0., 1., 0., 7., 0.]);
        let sc = z.scatter(1, &idx, &up);
        assert_eq!(sc.to_vec::<f32>(), vec![2., 0., 1., 0., 4., 0.]);
        // src larger than index: only the leading part is used
        let big = range(&[3, 3]);
        let sc2 = z.scatter(0, &Tensor::from_vec(vec![1i64, 0], &[1, 2]), &big);
        assert_eq!(sc2.to_vec::<f32>(), vec![0., 1., 0., 0., 0., 0.]);
        // 0-d
        let s = Tensor::scalar(5.0f32);
        assert_eq!(s.gather(0, &Tensor::scalar(0i64)).item(), 5.0);
    }

    #[test]
    fn cat_stack_split_chunk() {
        let a = range(&[2, 3]);
        let b = range(&[2, 1]).add_scalar(100.0);
        let c = Tensor::cat(&[&a, &b], 1);
        assert_eq!(c.shape(), &[2, 4]);
        assert_eq!(c.to_vec::<f32>(), vec![0., 1., 2., 100., 3., 4., 5., 101.]);
        let d = Tensor::cat(&[&a, &a.t().t(), &a.narrow(0, 1, 1)], 0);
        assert_eq!(d.shape(), &[5, 3]);
        assert_eq!(d.get(&[4, 2]), 5.0);
        // strided operands
        let e = Tensor::cat(&[&a.t(), &a.t()], 1);
        assert_eq!(
            e.to_vec::<f32>(),
            vec![0., 3., 0., 3., 1., 4., 1., 4., 2., 5., 2., 5.]
        );
        // legacy empty 1-d
        let empty = Tensor::zeros(&[0], DType::F32);
        assert_eq!(Tensor::cat(&[&a, &empty], 0).shape(), &[2, 3]);
        assert!(Tensor::try_cat(&[&a, &a.to_dtype(DType::F64)], 0).is_err());
        assert!(Tensor::try_cat(&[&a, &b], 0).is_err());
        assert!(Tensor::try_cat(&[], 0).is_err());
        let s = Tensor::stack(&[&a, &a], -1);
        assert_eq!(s.shape(), &[2, 3, 2]);
        assert_eq!(s.to_vec::<f32>()[..4], [0., 0., 1., 1.]);
        let parts = range(&[5, 2]).split(2, 0);
        assert_eq!(
            parts.iter().map(|p| p.shape()[0]).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert!(parts[1].shares_storage(&parts[0]));
        assert_eq!(range(&[5]).chunk(4, 0).len(), 3);
        assert_eq!(
            range(&[6])
                .chunk(4, 0)
                .iter()
                .map(|p| p.numel())
                .collect::<Vec<_>>(),
            vec![2, 2, 2]
        );
        assert_eq!(Tensor::zeros(&[0, 2], DType::F32).chunk(3, 0).len(), 3);
        let ss = range(&[2, 6]).split_sizes(&[1, 0, 5], 1);
        assert_eq!(
            ss[2].to_vec::<f32>(),
            vec![1., 2., 3., 4., 5., 7., 8., 9., 10., 11.]
        );
        assert!(range(&[2, 6]).try_split_sizes(&[1, 2], 1).is_err());
        assert!(range(&[2]).try_split(0, 0).is_err());
    }

    #[test]
    fn one_hot_and_constructors() {
        let oh = Tensor::from_vec(vec![0i64, 2, 1], &[3]).one_hot(None);
        assert_eq!(oh.shape(), &[3, 3]);
        assert_eq!(oh.to_vec::<i64>(), vec![1, 0, 0, 0, 0, 1, 0, 1, 0]);
        assert_eq!(i(&[1]).one_hot(Some(4)).to_vec::<i64>(), vec![0, 1, 0, 0]);
        assert!(i(&[4]).try_one_hot(Some(4)).is_err());
        assert!(i(&[-1]).try_one_hot(None).is_err());
        assert!(i(&[]).try_one_hot(None).is_err());
        assert_eq!(
            Tensor::arange(0.0, 1.0, 0.3, DType::F64)
                .to_vec::<f64>()
                .len(),
            4
        );
        assert_eq!(
            Tensor::arange(5.0, 1.0, -2.0, DType::I64).to_vec::<i64>(),
            vec![5, 3]
        );
        assert_eq!(
            Tensor::arange(0.0, 5.0, 1.5, DType::I64).to_vec::<i64>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(
            Tensor::arange_n(3, DType::F32).to_vec::<f32>(),
            vec![0., 1., 2.]
        );
        assert!(Tensor::try_arange(0.0, 1.0, 0.0, DType::F32).is_err());
        assert!(Tensor::try_arange(0.0, 1.0, -1.0, DType::F32).is_err());
        assert!(Tensor::try_arange(0.0, 1.0, 1.0, DType::Bool).is_err());
        assert_eq!(
            Tensor::linspace(0.0, 1.0, 5, DType::F32).to_vec::<f32>(),
            vec![0., 0.25, 0.5, 0.75, 1.]
        );
        assert_eq!(
            Tensor::linspace(2.0, 2.0, 1, DType::F64).to_vec::<f64>(),
            vec![2.]
        );
        assert_eq!(
            Tensor::linspace(0.0, 10.0, 4, DType::I64).to_vec::<i64>(),
            vec![0, 3, 6, 10]
        );
        assert_eq!(Tensor::linspace(0.0, 1.0, 0, DType::F32).shape(), &[0]);
        let e = Tensor::eye(2, Some(3), DType::Bool);
        assert_eq!(
            e.to_vec::<bool>(),
            vec![true, false, false, false, true, false]
        );
        let m = range(&[3, 3]);
        assert_eq!(
            m.tril(0).to_vec::<f32>(),
            vec![0., 0., 0., 3., 4., 0., 6., 7., 8.]
        );
        assert_eq!(
            m.triu(1).to_vec::<f32>(),
            vec![0., 1., 2., 0., 0., 5., 0., 0., 0.]
        );
        assert_eq!(
            m.t().tril(-1).to_vec::<f32>(),
            vec![0., 0., 0., 1., 0., 0., 2., 5., 0.]
        );
        let mask = Tensor::ones(&[2, 2, 2], DType::Bool).tril(0);
        assert_eq!(
            mask.to_vec::<bool>(),
            vec![true, false, true, true, true, false, true, true]
        );
        assert!(range(&[3]).try_tril(0).is_err());
    }
}
