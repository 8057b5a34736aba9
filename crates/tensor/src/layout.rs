//! Shapes, strides and offsets: how a tensor views its storage, and the view operations
//! (transpose, permute, narrow, expand, reshape) that only rewrite this description.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};

/// A list of dimension sizes or strides, stored inline up to rank 6.
pub type Dims = SmallVec<[usize; 6]>;

/// The view of a storage buffer: element `(i0, i1, ...)` lives at
/// `offset + i0*strides[0] + i1*strides[1] + ...`. Strides are in elements and never
/// negative; a stride of 0 repeats data (a broadcast), as PyTorch's `expand` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

/// Row-major (C order) strides for `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i];
    }
    strides
}

/// Resolves a possibly negative dimension index against `rank`, PyTorch style.
pub fn normalize_dim(op: &'static str, dim: isize, rank: usize) -> Result<usize> {
    // A 0-d tensor accepts dims 0 and -1, as in PyTorch.
    let r = rank.max(1) as isize;
    let d = if dim < 0 { dim + r } else { dim };
    if d < 0 || d >= r {
        return Err(TensorError::DimOutOfRange { op, dim, rank });
    }
    Ok(d as usize)
}

/// Resolves a list of possibly negative dims against `rank`, sorted, each at most once; an
/// empty list means every dim (PyTorch's `dim=None` in reductions). A 0-d tensor accepts 0
/// and -1, which reduce nothing.
///
/// # Errors
/// If a dim is out of range or appears twice.
pub fn normalize_dims(op: &'static str, dims: &[isize], rank: usize) -> Result<Dims> {
    let mut out: Dims = SmallVec::new();
    if dims.is_empty() {
        out.extend(0..rank);
        return Ok(out);
    }
    for &d in dims {
        let d = normalize_dim(op, d, rank)?;
        if rank == 0 {
            continue;
        }
        if out.contains(&d) {
            return Err(TensorError::invalid(
                op,
                format!("dim {d} appears multiple times in {dims:?}"),
            ));
        }
        out.push(d);
    }
    out.sort_unstable();
    Ok(out)
}

/// The broadcast of two shapes by NumPy rules (align right; sizes equal or one of them 1).
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Dims> {
    let rank = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, rank);
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(TensorError::Broadcast {
                op,
                lhs: a.to_vec(),
                rhs: b.to_vec(),
            });
        };
    }
    Ok(out)
}

impl Layout {
    /// A contiguous row-major layout of `shape` starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: SmallVec::from_slice(shape),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// A layout from explicit parts. The caller guarantees every index stays inside storage.
    pub fn from_parts(shape: Dims, strides: Dims, offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Layout {
            shape,
            strides,
            offset,
        }
    }

    /// Dimension sizes.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Strides in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Offset of element `(0, 0, ...)` in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the elements are laid out densely in row-major order (sizes-1 dims ignored).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] != 1 && self.strides[i] != expected {
                return false;
            }
            expected *= self.shape[i];
        }
        true
    }

    /// The contiguous range `offset..offset+numel` if the layout is contiguous.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        self.is_contiguous()
            .then(|| self.offset..self.offset + self.numel())
    }

    /// Swaps two dimensions (PyTorch `transpose`).
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Self> {
        let d0 = normalize_dim("transpose", d0, self.rank())?;
        let d1 = normalize_dim("transpose", d1, self.rank())?;
        let mut l = self.clone();
        l.shape.swap(d0, d1);
        l.strides.swap(d0, d1);
        Ok(l)
    }

    /// Reorders dimensions: output dim `i` is input dim `dims[i]` (PyTorch `permute`).
    pub fn permute(&self, dims: &[isize]) -> Result<Self> {
        if dims.len() != self.rank() {
            return Err(TensorError::invalid(
                "permute",
                format!(
                    "got {} dims {:?} for a tensor of shape {:?}",
                    dims.len(),
                    dims,
                    self.shape()
                ),
            ));
        }
        let mut seen: Dims = SmallVec::from_elem(0, dims.len());
        let mut l = self.clone();
        for (i, &d) in dims.iter().enumerate() {
            let d = normalize_dim("permute", d, self.rank())?;
            if seen[d] == 1 {
                return Err(TensorError::invalid(
                    "permute",
                    format!("dimension {d} repeated in {dims:?}"),
                ));
            }
            seen[d] = 1;
            l.shape[i] = self.shape[d];
            l.strides[i] = self.strides[d];
        }
        Ok(l)
    }

    /// Restricts `dim` to `start..start+len` (PyTorch `narrow`).
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Self> {
        let d = normalize_dim("narrow", dim, self.rank())?;
        if start + len > self.shape[d] {
            return Err(TensorError::invalid(
                "narrow",
                format!(
                    "range {start}..{} exceeds dimension {d} of size {} (shape {:?})",
                    start + len,
                    self.shape[d],
                    self.shape()
                ),
            ));
        }
        let mut l = self.clone();
        if len > 0 {
            l.offset += start * self.strides[d];
        }
        l.shape[d] = len;
        Ok(l)
    }

    /// Takes every `step`-th element of `dim` in `start..end` (Python slicing `start:end:step`).
    pub fn slice(&self, dim: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        let d = normalize_dim("slice", dim, self.rank())?;
        if step == 0 {
            return Err(TensorError::invalid("slice", "step must be positive"));
        }
        let end = end.min(self.shape[d]);
        let start = start.min(end);
        let len = (end - start).div_ceil(step);
        let mut l = self.clone();
        if len > 0 {
            l.offset += start * self.strides[d];
        }
        l.shape[d] = len;
        l.strides[d] *= step;
        Ok(l)
    }

    /// Broadcasts to `shape` by adding leading dims and giving size-1 dims stride 0.
    pub fn expand(&self, shape: &[usize]) -> Result<Self> {
        if shape.len() < self.rank() {
            return Err(TensorError::ShapeMismatch {
                op: "expand",
                lhs: self.shape.to_vec(),
                rhs: shape.to_vec(),
                expected: "target rank at least the tensor's rank".into(),
            });
        }
        let lead = shape.len() - self.rank();
        let mut strides: Dims = SmallVec::from_elem(0, shape.len());
        for i in 0..shape.len() {
            if i < lead {
                continue;
            }
            let src = self.shape[i - lead];
            if src == shape[i] {
                strides[i] = self.strides[i - lead];
            } else if src != 1 {
                return Err(TensorError::ShapeMismatch {
                    op: "expand",
                    lhs: self.shape.to_vec(),
                    rhs: shape.to_vec(),
                    expected: "each dimension equal or 1 in the source".into(),
                });
            }
        }
        Ok(Layout {
            shape: SmallVec::from_slice(shape),
            strides,
            offset: self.offset,
        })
    }

    /// Inserts a size-1 dimension at `dim` (PyTorch `unsqueeze`).
    pub fn unsqueeze(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim("unsqueeze", dim, self.rank() + 1)?;
        let mut l = self.clone();
        let stride = if d < self.rank() {
            self.strides[d] * self.shape[d]
        } else {
            1
        };
        l.shape.insert(d, 1);
        l.strides.insert(d, stride);
        Ok(l)
    }

    /// Removes `dim` if its size is 1 (PyTorch `squeeze(dim)`: otherwise unchanged).
    pub fn squeeze_dim(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim("squeeze", dim, self.rank())?;
        let mut l = self.clone();
        if self.shape[d] == 1 {
            l.shape.remove(d);
            l.strides.remove(d);
        }
        Ok(l)
    }

    /// Removes every size-1 dimension (PyTorch `squeeze()`).
    pub fn squeeze_all(&self) -> Self {
        let mut l = Layout {
            shape: SmallVec::new(),
            strides: SmallVec::new(),
            offset: self.offset,
        };
        for (&s, &st) in self.shape.iter().zip(&self.strides) {
            if s != 1 {
                l.shape.push(s);
                l.strides.push(st);
            }
        }
        l
    }

    /// A reshaped view if it can be expressed with strides (always for contiguous layouts),
    /// `None` when the data must be copied first (PyTorch `view` vs `reshape`).
    pub fn reshape_view(&self, shape: &[usize]) -> Option<Self> {
        if self.is_contiguous() {
            return Some(Layout {
                shape: SmallVec::from_slice(shape),
                strides: contiguous_strides(shape),
                offset: self.offset,
            });
        }
        // Split the old shape into chunks of dims that are mutually contiguous and map each
        // new dim into one chunk (the rule PyTorch's `computeStride` follows).
        let old: Vec<(usize, usize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(s, _)| **s != 1)
            .map(|(&s, &st)| (s, st))
            .collect();
        let mut new_strides: Dims = SmallVec::from_elem(0, shape.len());
        let mut oi = 0;
        let mut ni = 0;
        while ni < shape.len() || oi < old.len() {
            // skip size-1 new dims
            if ni < shape.len() && shape[ni] == 1 {
                new_strides[ni] = 1;
                ni += 1;
                continue;
            }
            if oi >= old.len() || ni >= shape.len() {
                return None;
            }
            // gather a chunk of old dims that are contiguous with each other
            let chunk_start = oi;
            let mut chunk_size = old[oi].0;
            while oi + 1 < old.len() && old[oi].1 == old[oi + 1].0 * old[oi + 1].1 {
                oi += 1;
                chunk_size *= old[oi].0;
            }
            let base_stride = old[oi].1;
            oi += 1;
            let _ = chunk_start;
            // consume new dims whose product equals the chunk size
            let mut prod = 1;
            let first_new = ni;
            while ni < shape.len() && prod < chunk_size {
                prod *= shape[ni];
                ni += 1;
            }
            if prod != chunk_size {
                return None;
            }
            let mut acc = base_stride;
            for j in (first_new..ni).rev() {
                new_strides[j] = acc;
                acc *= shape[j];
            }
        }
        Some(Layout {
            shape: SmallVec::from_slice(shape),
            strides: new_strides,
            offset: self.offset,
        })
    }
}

/// Resolves a reshape target that may contain one `-1` into concrete sizes for `numel` elements.
pub fn infer_shape(op: &'static str, from: &[usize], shape: &[isize]) -> Result<Dims> {
    let numel: usize = from.iter().product();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &s) in shape.iter().enumerate() {
        if s == -1 {
            if infer.is_some() {
                return Err(TensorError::invalid(
                    op,
                    "only one dimension can be inferred",
                ));
            }
            infer = Some(i);
        } else if s < 0 {
            return Err(TensorError::invalid(
                op,
                format!("invalid shape dimension {s}"),
            ));
        } else {
            known *= s as usize;
        }
    }
    let mut out: Dims = shape.iter().map(|&s| s.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || numel % known != 0 {
            return Err(TensorError::invalid(
                op,
                format!("shape {shape:?} is invalid for input of size {numel} (shape {from:?})"),
            ));
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(TensorError::invalid(
            op,
            format!("shape {shape:?} is invalid for input of size {numel} (shape {from:?})"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(
            broadcast_shapes("t", &[2, 1, 5], &[3, 1])
                .unwrap()
                .as_slice(),
            &[2, 3, 5]
        );
        assert_eq!(broadcast_shapes("t", &[], &[3]).unwrap().as_slice(), &[3]);
        assert!(broadcast_shapes("t", &[2, 3], &[4]).is_err());
    }

    #[test]
    fn reshape_of_transposed_needs_copy() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1).unwrap();
        assert!(l.reshape_view(&[6]).is_none());
        assert!(l.reshape_view(&[3, 2, 1]).is_some());
    }

    #[test]
    fn reshape_view_of_narrowed_rows() {
        // rows 1..3 of a [4, 6] tensor, reshaped to [2, 2, 3]
        let l = Layout::contiguous(&[4, 6]).narrow(0, 1, 2).unwrap();
        let v = Layout::contiguous(&[4, 6])
            .narrow(1, 0, 6)
            .unwrap()
            .reshape_view(&[4, 2, 3])
            .unwrap();
        assert_eq!(v.strides(), &[6, 3, 1]);
        let w = l.reshape_view(&[2, 2, 3]).unwrap();
        assert_eq!(w.offset(), 6);
        let nc = Layout::contiguous(&[4, 6]).narrow(1, 0, 3).unwrap();
        let r = nc.reshape_view(&[2, 2, 3]).unwrap();
        assert_eq!(r.strides(), &[12, 6, 1]);
        assert!(nc.reshape_view(&[12]).is_none());
    }

    #[test]
    fn normalize_negative_dims() {
        assert_eq!(normalize_dim("t", -1, 3).unwrap(), 2);
        assert!(normalize_dim("t", 3, 3).is_err());
        assert!(normalize_dim("t", -4, 3).is_err());
        assert_eq!(normalize_dim("t", 0, 0).unwrap(), 0);
    }
}
