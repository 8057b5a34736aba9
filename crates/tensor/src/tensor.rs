//! The [`Tensor`] type: a shared typed buffer plus a strided view of it.

use std::borrow::Cow;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::dtype::{DType, Element};
use crate::error::{or_panic, Result, TensorError};
use crate::layout::{infer_shape, normalize_dim, Dims, Layout};
use crate::storage::Storage;
use crate::strided::walk;

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`, for every dtype.
#[macro_export]
#[doc(hidden)]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$T` bound to `f32` or `f64`, or returns a dtype error naming `$op`.
#[macro_export]
#[doc(hidden)]
macro_rules! with_float {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                Ok($body)
            }
            $crate::DType::F64 => {
                type $T = f64;
                Ok($body)
            }
            other => Err($crate::TensorError::DType {
                op: $op,
                expected: "a floating-point tensor (f32 or f64)",
                got: other,
            }),
        }
    };
}

/// An n-dimensional array of `f32`, `f64`, `i64` or `bool` (PyTorch's `torch.Tensor` without
/// autograd; see `tuna-autograd` for that).
///
/// Cloning is cheap: clones and views (`transpose`, `narrow`, `expand`, ...) share the buffer.
/// In-place writes copy the buffer first if anything else shares it, so a tensor never changes
/// under another's feet. Tensors are `Send + Sync`.
///
/// ```
/// use tuna_tensor::Tensor;
/// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// let b = a.t();                      // a view: no copy
/// let c = a.matmul(&b);               // [2, 2]
/// assert_eq!(c.to_vec::<f32>(), vec![14.0, 32.0, 32.0, 77.0]);
/// ```
#[derive(Clone)]
pub struct Tensor {
    storage: Arc<Storage>,
    layout: Layout,
}

impl Tensor {
    // ----------------------------------------------------------------------------------------
    // construction

    /// A tensor viewing `storage` through `layout`.
    ///
    /// # Errors
    /// If the layout reaches outside the storage.
    pub fn try_from_parts(storage: Arc<Storage>, layout: Layout) -> Result<Self> {
        let numel = layout.numel();
        if numel > 0 {
            let last: usize = layout.offset()
                + layout
                    .shape()
                    .iter()
                    .zip(layout.strides())
                    .map(|(s, st)| (s - 1) * st)
                    .sum::<usize>();
            if last >= storage.len() {
                return Err(TensorError::invalid(
                    "from_parts",
                    format!(
                        "layout {:?} reaches element {last} of a storage of {}",
                        layout,
                        storage.len()
                    ),
                ));
            }
        }
        Ok(Tensor { storage, layout })
    }

    pub(crate) fn from_storage(storage: Storage, shape: &[usize]) -> Self {
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        Tensor {
            storage: Arc::new(storage),
            layout: Layout::contiguous(shape),
        }
    }

    pub(crate) fn with_layout(&self, layout: Layout) -> Self {
        Tensor {
            storage: self.storage.clone(),
            layout,
        }
    }

    /// A contiguous tensor holding `data` with `shape` (`torch.tensor(data).reshape(shape)`).
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`.
    #[track_caller]
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Self {
        or_panic(Self::try_from_vec(data, shape))
    }

    /// Fallible [`Tensor::from_vec`].
    ///
    /// # Errors
    /// If `data.len()` is not the product of `shape`.
    pub fn try_from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(TensorError::invalid(
                "from_vec",
                format!(
                    "{} elements cannot have shape {shape:?} ({n} elements)",
                    data.len()
                ),
            ));
        }
        Ok(Self::from_storage(T::into_storage(data), shape))
    }

    /// A contiguous tensor copied from `data` with `shape`.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`.
    #[track_caller]
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Self {
        Self::from_vec(data.to_vec(), shape)
    }

    /// A 0-d tensor holding `value` (`torch.tensor(value)`).
    pub fn scalar<T: Element>(value: T) -> Self {
        Self::from_storage(T::into_storage(vec![value]), &[])
    }

    /// A 0-d tensor of `dtype` holding `value` converted from `f64`.
    pub fn scalar_of(value: f64, dtype: DType) -> Self {
        Self::full(&[], value, dtype)
    }

    /// A tensor of `shape` filled with `value` (`torch.full`).
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Self {
        let n = shape.iter().product();
        let storage =
            with_dtype!(dtype, T => T::into_storage(crate::pool::filled(n, T::from_f64(value))));
        Self::from_storage(storage, shape)
    }

    /// A tensor of zeros (`torch.zeros`).
    pub fn zeros(shape: &[usize], dtype: DType) -> Self {
        Self::full(shape, 0.0, dtype)
    }

    /// A tensor of ones (`torch.ones`).
    pub fn ones(shape: &[usize], dtype: DType) -> Self {
        Self::full(shape, 1.0, dtype)
    }

    /// Zeros with this tensor's shape and dtype (`torch.zeros_like`).
    pub fn zeros_like(&self) -> Self {
        Self::zeros(self.shape(), self.dtype())
    }

    /// Ones with this tensor's shape and dtype (`torch.ones_like`).
    pub fn ones_like(&self) -> Self {
        Self::ones(self.shape(), self.dtype())
    }

    /// A tensor with this shape and dtype, filled with `value` (`torch.full_like`).
    pub fn full_like(&self, value: f64) -> Self {
        Self::full(self.shape(), value, self.dtype())
    }

    // ----------------------------------------------------------------------------------------
    // metadata

    /// Dimension sizes (`tensor.shape`).
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// Size of dimension `dim` (negative counts from the end), PyTorch `size(dim)`.
    ///
    /// # Panics
    /// If `dim` is out of range.
    #[track_caller]
    pub fn size(&self, dim: isize) -> usize {
        let d = or_panic(normalize_dim("size", dim, self.rank()));
        self.shape().get(d).copied().unwrap_or(1)
    }

    /// Strides in elements (`tensor.stride()`).
    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }

    /// The full view description.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of dimensions (`tensor.dim()`).
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    /// Number of elements (`tensor.numel()`).
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    /// Whether the view is dense row-major (`tensor.is_contiguous()`).
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// The underlying buffer (shared with views of this tensor).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Whether two tensors view the same buffer.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    // ----------------------------------------------------------------------------------------
    // data access

    /// The elements in row-major order as a slice, if the tensor is contiguous and of type `T`.
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        let range = self.layout.contiguous_range()?;
        T::slice(&self.storage).map(|s| &s[range])
    }

    /// The elements in row-major order: borrowed when contiguous, gathered otherwise.
    ///
    /// # Panics
    /// If the tensor's dtype is not `T`.
    #[track_caller]
    pub fn contiguous_data<T: Element>(&self) -> Cow<'_, [T]> {
        let all = self.typed::<T>("contiguous_data");
        if let Some(range) = self.layout.contiguous_range() {
            return Cow::Borrowed(&all[range]);
        }
        let mut out = crate::pool::take(self.numel());
        walk(
            self.shape(),
            [self.strides()],
            [self.layout.offset()],
            |[o]| out.push(all[o]),
        );
        Cow::Owned(out)
    }

    /// The whole storage buffer as `&[T]` (ignoring the layout).
    #[track_caller]
    pub(crate) fn typed<T: Element>(&self, op: &'static str) -> &[T] {
        match T::slice(&self.storage) {
            Some(s) => s,
            None => panic!(
                "{op}: expected a {} tensor, got {} (convert with to_dtype)",
                T::DTYPE,
                self.dtype()
            ),
        }
    }

    /// The elements in row-major order, converted to `T` (PyTorch `tensor.tolist()` flattened).
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        if self.dtype() == T::DTYPE {
            return self.contiguous_data::<T>().into_owned();
        }
        self.to_dtype(T::DTYPE).contiguous_data::<T>().into_owned()
    }

    /// The elements converted to `f64`, in row-major order.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.to_vec::<f64>()
    }

    /// The value of a one-element tensor as `f64` (`tensor.item()`).
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    #[track_caller]
    pub fn item(&self) -> f64 {
        assert_eq!(
            self.numel(),
            1,
            "item: a tensor with {} elements (shape {:?}) cannot be converted to a scalar",
            self.numel(),
            self.shape()
        );
        let o = self.layout.offset();
        with_dtype!(self.dtype(), T => self.typed::<T>("item")[o].to_f64())
    }

    /// The element at a multi-index, as `f64`.
    ///
    /// # Panics
    /// If the index has the wrong length or is out of range.
    #[track_caller]
    pub fn get(&self, index: &[usize]) -> f64 {
        assert_eq!(
            index.len(),
            self.rank(),
            "get: index {index:?} for shape {:?}",
            self.shape()
        );
        let mut o = self.layout.offset();
        for (d, (&i, &s)) in index.iter().zip(self.shape()).enumerate() {
            assert!(
                i < s,
                "get: index {index:?} out of range for shape {:?}",
                self.shape()
            );
            o += i * self.strides()[d];
        }
        with_dtype!(self.dtype(), T => self.typed::<T>("get")[o].to_f64())
    }

    /// Mutable access to the elements in row-major order. Makes the tensor contiguous and the
    /// sole owner of its buffer first (copying only if needed), so other tensors never see the
    /// writes.
    ///
    /// # Panics
    /// If the tensor's dtype is not `T`.
    #[track_caller]
    pub fn data_mut<T: Element>(&mut self) -> &mut [T] {
        let whole =
            self.layout.offset() == 0 && self.is_contiguous() && self.numel() == self.storage.len();
        if !whole {
            *self = self.copy_contiguous();
        }
        let dtype = self.dtype();
        let storage = Arc::make_mut(&mut self.storage);
        match T::slice_mut(storage) {
            Some(s) => s,
            None => panic!("data_mut: expected a {} tensor, got {dtype}", T::DTYPE),
        }
    }

    /// Converts to `dtype` (PyTorch `tensor.to(dtype)`); returns a clone if already that dtype.
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        let storage = with_dtype!(self.dtype(), S => {
            let src = self.contiguous_data::<S>();
            with_dtype!(dtype, D => D::into_storage(src.iter().map(|&x| D::from_f64(x.to_f64())).collect()))
        });
        Self::from_storage(storage, self.shape())
    }

    /// A contiguous copy of the data, always allocating.
    pub fn copy_contiguous(&self) -> Tensor {
        let storage = with_dtype!(self.dtype(), T => T::into_storage(match self.contiguous_data::<T>() {
            Cow::Borrowed(s) => {
                let mut v = crate::pool::take(s.len());
                v.extend_from_slice(s);
                v
            }
            Cow::Owned(v) => v,
        }));
        Self::from_storage(storage, self.shape())
    }

    /// This tensor if contiguous, else a contiguous copy (`tensor.contiguous()`).
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            self.clone()
        } else {
            self.copy_contiguous()
        }
    }

    // ----------------------------------------------------------------------------------------
    // views

    /// Swaps two dimensions without copying (`tensor.transpose(d0, d1)`).
    ///
    /// # Panics
    /// If a dimension is out of range.
    #[track_caller]
    pub fn transpose(&self, d0: isize, d1: isize) -> Tensor {
        or_panic(self.try_transpose(d0, d1))
    }

    /// Fallible [`Tensor::transpose`].
    ///
    /// # Errors
    /// If a dimension is out of range.
    pub fn try_transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.transpose(d0, d1)?))
    }

    /// The transpose of a matrix, or the last two dims swapped for higher ranks (`tensor.mT`);
    /// a 0-d or 1-d tensor is returned as is.
    pub fn t(&self) -> Tensor {
        if self.rank() < 2 {
            self.clone()
        } else {
            self.transpose(-2, -1)
        }
    }

    /// Reorders dimensions without copying (`tensor.permute(dims)`).
    ///
    /// # Panics
    /// If `dims` is not a permutation of the tensor's dimensions.
    #[track_caller]
    pub fn permute(&self, dims: &[isize]) -> Tensor {
        or_panic(self.try_permute(dims))
    }

    /// Fallible [`Tensor::permute`].
    ///
    /// # Errors
    /// If `dims` is not a permutation of the tensor's dimensions.
    pub fn try_permute(&self, dims: &[isize]) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.permute(dims)?))
    }

    /// Elements `start..start+len` of `dim`, as a view (`tensor.narrow(dim, start, len)`).
    ///
    /// # Panics
    /// If the range exceeds the dimension.
    #[track_caller]
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Tensor {
        or_panic(self.try_narrow(dim, start, len))
    }

    /// Fallible [`Tensor::narrow`].
    ///
    /// # Errors
    /// If `dim` is out of range or the range exceeds it.
    pub fn try_narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.narrow(dim, start, len)?))
    }

    /// Python slicing `tensor[..., start:end:step, ...]` on `dim`, as a view.
    ///
    /// # Panics
    /// If `dim` is out of range or `step` is 0.
    #[track_caller]
    pub fn slice(&self, dim: isize, start: usize, end: usize, step: usize) -> Tensor {
        or_panic(self.try_slice(dim, start, end, step))
    }

    /// Fallible [`Tensor::slice`].
    ///
    /// # Errors
    /// If `dim` is out of range or `step` is 0.
    pub fn try_slice(&self, dim: isize, start: usize, end: usize, step: usize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.slice(dim, start, end, step)?))
    }

    /// Element `index` of `dim`, removing that dimension (`tensor.select(dim, index)`).
    ///
    /// # Panics
    /// If `dim` or `index` is out of range.
    #[track_caller]
    pub fn select(&self, dim: isize, index: usize) -> Tensor {
        self.narrow(dim, index, 1).squeeze(dim)
    }

    /// Broadcasts to `shape` without copying (stride 0), PyTorch `expand`.
    ///
    /// # Panics
    /// If the shapes are not broadcast-compatible.
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Tensor {
        or_panic(self.try_expand(shape))
    }

    /// Fallible [`Tensor::expand`].
    ///
    /// # Errors
    /// If the shapes are not broadcast-compatible.
    pub fn try_expand(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        Ok(self.with_layout(self.layout.expand(shape)?))
    }

    /// Inserts a size-1 dimension (`tensor.unsqueeze(dim)`).
    ///
    /// # Panics
    /// If `dim` is outside `-(rank+1)..=rank`.
    #[track_caller]
    pub fn unsqueeze(&self, dim: isize) -> Tensor {
        or_panic(self.try_unsqueeze(dim))
    }

    /// Fallible [`Tensor::unsqueeze`].
    ///
    /// # Errors
    /// If `dim` is outside `-(rank+1)..=rank`.
    pub fn try_unsqueeze(&self, dim: isize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.unsqueeze(dim)?))
    }

    /// Removes `dim` if it has size 1 (`tensor.squeeze(dim)`).
    ///
    /// # Panics
    /// If `dim` is out of range.
    #[track_caller]
    pub fn squeeze(&self, dim: isize) -> Tensor {
        or_panic(self.try_squeeze(dim))
    }

    /// Fallible [`Tensor::squeeze`].
    ///
    /// # Errors
    /// If `dim` is out of range.
    pub fn try_squeeze(&self, dim: isize) -> Result<Tensor> {
        Ok(self.with_layout(self.layout.squeeze_dim(dim)?))
    }

    /// Removes every size-1 dimension (`tensor.squeeze()`).
    pub fn squeeze_all(&self) -> Tensor {
        self.with_layout(self.layout.squeeze_all())
    }

    /// Reshapes (one size may be `-1`), as a view when the strides allow and a copy otherwise
    /// (`tensor.reshape(shape)`).
    ///
    /// # Panics
    /// If the element counts differ.
    #[track_caller]
    pub fn reshape(&self, shape: &[isize]) -> Tensor {
        or_panic(self.try_reshape(shape))
    }

    /// Fallible [`Tensor::reshape`].
    ///
    /// # Errors
    /// If the element counts differ or more than one size is `-1`.
    pub fn try_reshape(&self, shape: &[isize]) -> Result<Tensor> {
        let shape = infer_shape("reshape", self.shape(), shape)?;
        Ok(self.reshape_to(&shape))
    }

    /// Reshapes to concrete sizes with the same element count (view if possible, else copy).
    ///
    /// # Panics
    /// If the element counts differ.
    #[track_caller]
    pub fn reshape_to(&self, shape: &[usize]) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.numel(),
            "reshape: shape {shape:?} is invalid for input of shape {:?}",
            self.shape()
        );
        if shape == self.shape() {
            return self.clone();
        }
        match self.layout.reshape_view(shape) {
            Some(l) => self.with_layout(l),
            None => {
                let c = self.copy_contiguous();
                c.with_layout(Layout::contiguous(shape))
            }
        }
    }

    /// Reshapes without copying, or fails if the strides do not allow it (`tensor.view`).
    ///
    /// # Errors
    /// If the element counts differ or the layout needs a copy.
    pub fn view(&self, shape: &[isize]) -> Result<Tensor> {
        let shape = infer_shape("view", self.shape(), shape)?;
        match self.layout.reshape_view(&shape) {
            Some(l) => Ok(self.with_layout(l)),
            None => Err(TensorError::invalid(
                "view",
                format!(
                    "view size {shape:?} is not compatible with input size {:?} and strides {:?}; use reshape",
                    self.shape(),
                    self.strides()
                ),
            )),
        }
    }

    /// Merges dims `start..=end` into one (`torch.flatten(start_dim, end_dim)`).
    ///
    /// # Panics
    /// If the dims are out of range or `start > end`.
    #[track_caller]
    pub fn flatten(&self, start: isize, end: isize) -> Tensor {
        or_panic(self.try_flatten(start, end))
    }

    /// Fallible [`Tensor::flatten`].
    ///
    /// # Errors
    /// If the dims are out of range or `start > end`.
    pub fn try_flatten(&self, start: isize, end: isize) -> Result<Tensor> {
        if self.rank() == 0 {
            return Ok(self.reshape_to(&[1]));
        }
        let s = normalize_dim("flatten", start, self.rank())?;
        let e = normalize_dim("flatten", end, self.rank())?;
        if s > e {
            return Err(TensorError::invalid(
                "flatten",
                format!("start_dim {s} comes after end_dim {e}"),
            ));
        }
        let mut shape: Dims = SmallVec::new();
        shape.extend_from_slice(&self.shape()[..s]);
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        Ok(self.reshape_to(&shape))
    }

    /// Broadcasts to `shape` (PyTorch `broadcast_to`), same as [`Tensor::expand`].
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        self.expand(shape)
    }

    /// Sums a broadcast gradient back to `shape`: sums over leading dims and over dims where
    /// `shape` has size 1 (the reduction every broadcasting op's backward needs).
    ///
    /// # Panics
    /// If `shape` does not broadcast to this tensor's shape.
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let lead = self.rank() - shape.len();
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &s) in shape.iter().enumerate() {
            let here = self.shape()[lead + i];
            if s == 1 && here != 1 {
                dims.push((lead + i) as isize);
            } else {
                assert_eq!(
                    s,
                    here,
                    "sum_to_shape: cannot reduce {:?} to {shape:?}",
                    self.shape()
                );
            }
        }
        self.sum_dims(&dims, true).reshape_to(shape)
    }

    /// Whether shapes and all elements are equal (NaN never equals NaN).
    pub fn equal(&self, other: &Tensor) -> bool {
        self.shape() == other.shape()
            && self.dtype() == other.dtype()
            && with_dtype!(self.dtype(), T => self.contiguous_data::<T>() == other.contiguous_data::<T>())
    }

    /// Whether all elements satisfy `|a - b| <= atol + rtol*|b|` (`torch.allclose`) after
    /// broadcasting.
    pub fn allclose(&self, other: &Tensor, rtol: f64, atol: f64) -> bool {
        let Ok(shape) = crate::layout::broadcast_shapes("allclose", self.shape(), other.shape())
        else {
            return false;
        };
        let a = self.expand(&shape).to_vec_f64();
        let b = other.expand(&shape).to_vec_f64();
        a.iter()
            .zip(&b)
            .all(|(x, y)| (x - y).abs() <= atol + rtol * y.abs() || (x == y))
    }
}

impl PartialEq for Tensor {
    fn eq(&self, other: &Self) -> bool {
        self.equal(other)
    }
}

/// Tensors cross threads (data loaders, thread pools): checked at compile time.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tensor>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_share_storage_and_copy_on_write() {
        let a = Tensor::from_vec((0..6).map(|x| x as f32).collect(), &[2, 3]);
        let t = a.t();
        assert!(t.shares_storage(&a));
        assert!(!t.is_contiguous());
        assert_eq!(t.to_vec::<f32>(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let mut b = a.clone();
        b.data_mut::<f32>()[0] = 10.0;
        assert_eq!(a.get(&[0, 0]), 0.0);
        assert_eq!(b.get(&[0, 0]), 10.0);
    }

    #[test]
    fn reshape_views_or_copies() {
        let a = Tensor::from_vec((0..24).map(|x| x as f64).collect(), &[2, 3, 4]);
        let r = a.reshape(&[6, -1]);
        assert!(r.shares_storage(&a));
        assert_eq!(r.shape(), &[6, 4]);
        // [4, 2, 3] with strides [1, 12, 4]: the last two dims merge, so this is a view
        let p = a.permute(&[2, 0, 1]).reshape(&[4, 6]);
        assert!(p.shares_storage(&a));
        assert_eq!(p.get(&[1, 0]), 1.0);
        assert_eq!(p.get(&[1, 1]), 5.0);
        let q = a.permute(&[2, 0, 1]).reshape(&[24]);
        assert!(!q.shares_storage(&a));
        assert_eq!(q.get(&[1]), 4.0);
        assert!(a.t().view(&[-1]).is_err());
    }

    #[test]
    fn dtype_round_trip() {
        let a = Tensor::from_vec(vec![1.5f32, -2.0], &[2]);
        assert_eq!(a.to_dtype(DType::F64).to_vec::<f64>(), vec![1.5, -2.0]);
        assert_eq!(a.to_dtype(DType::I64).to_vec::<i64>(), vec![1, -2]);
    }
}
