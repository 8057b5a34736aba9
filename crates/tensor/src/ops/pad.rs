//! Padding (`torch.nn.functional.pad`) with the constant, reflect, replicate and circular
//! modes, and the gradient kernel its backward pass uses.
//!
//! Padding is given as PyTorch gives it: `(before, after)` pairs starting from the **last**
//! dim (`[left, right, top, bottom]` pads width then height). Every output element reads one
//! input element (or the constant), found per dim by an index map, so the backward pass is a
//! scatter-add of the upstream gradient through the same maps (the reflect, replicate and
//! circular modes send several output elements to one input element).

use serde::{Deserialize, Serialize};

use crate::dtype::DType;
use crate::error::{or_panic, Result, TensorError};
use crate::tensor::Tensor;

/// How [`Tensor::pad`] fills the border (`mode` of `F.pad`).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// A constant value (`mode="constant"`, `value`); `0` is `Conv2d`'s `padding_mode="zeros"`.
    Constant(f64),
    /// Mirror without repeating the edge (`"reflect"`: `[1 2 3]` padded by 2 → `3 2 1 2 3 2 1`);
    /// the padding must be smaller than the dim.
    Reflect,
    /// Repeat the edge value (`"replicate"`: `1 1 1 2 3 3 3`).
    #[default]
    Replicate,
    /// Wrap around (`"circular"`: `2 3 1 2 3 1 2`); the padding must not exceed the dim.
    Circular,
}

/// For each output position along one dim, the input position it reads (`None` = constant).
fn index_map(n: usize, before: usize, after: usize, mode: PadMode) -> Vec<Option<usize>> {
    let n_i = n as isize;
    (0..n + before + after)
        .map(|o| {
            let i = o as isize - before as isize;
            if (0..n_i).contains(&i) {
                return Some(i as usize);
            }
            match mode {
                PadMode::Constant(_) => None,
                PadMode::Replicate => Some(i.clamp(0, n_i - 1) as usize),
                PadMode::Reflect => {
                    let r = if i < 0 { -i } else { 2 * (n_i - 1) - i };
                    Some(r as usize)
                }
                PadMode::Circular => Some(i.rem_euclid(n_i) as usize),
            }
        })
        .collect()
}

/// Validates `pad` against `shape` and returns the output shape and one index map per dim.
fn plan(
    shape: &[usize],
    pad: &[usize],
    mode: PadMode,
) -> Result<(Vec<usize>, Vec<Vec<Option<usize>>>)> {
    let err = |msg: String| TensorError::invalid("pad", msg);
    if pad.len() % 2 != 0 || pad.len() / 2 > shape.len() {
        return Err(err(format!(
            "padding length must be even and at most twice the rank; got padding {pad:?} for shape {shape:?}"
        )));
    }
    let rank = shape.len();
    let mut out_shape = shape.to_vec();
    let mut maps: Vec<Vec<Option<usize>>> =
        shape.iter().map(|&n| (0..n).map(Some).collect()).collect();
    for (k, pair) in pad.chunks(2).enumerate() {
        let d = rank - 1 - k;
        let (b, a, n) = (pair[0], pair[1], shape[d]);
        let ok = match mode {
            PadMode::Constant(_) => true,
            PadMode::Reflect => b < n && a < n,
            PadMode::Replicate => n > 0 || (b == 0 && a == 0),
            PadMode::Circular => b <= n && a <= n,
        };
        if !ok {
            return Err(err(format!(
                "{mode:?} padding ({b}, {a}) does not fit dim {d} of size {n} (input shape {shape:?})"
            )));
        }
        out_shape[d] = n + b + a;
        maps[d] = index_map(n, b, a, mode);
    }
    Ok((out_shape, maps))
}

/// Calls `f(out_flat, in_flat_or_none)` for every output element in row-major order.
fn for_each_source(
    out_shape: &[usize],
    in_shape: &[usize],
    maps: &[Vec<Option<usize>>],
    mut f: impl FnMut(usize, Option<usize>),
) {
    let numel: usize = out_shape.iter().product();
    if numel == 0 {
        return;
    }
    let rank = out_shape.len();
    let mut in_strides = vec![1usize; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        in_strides[d] = in_strides[d + 1] * in_shape[d + 1];
    }
    let mut idx = vec![0usize; rank];
    for o in 0..numel {
        let mut src = Some(0usize);
        for d in 0..rank {
            src = match (src, maps[d][idx[d]]) {
                (Some(s), Some(i)) => Some(s + i * in_strides[d]),
                _ => None,
            };
        }
        f(o, src);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

impl Tensor {
    /// Pads the trailing dims (`F.pad(input, pad, mode, value)`): `pad` holds `(before,
    /// after)` pairs starting from the last dim. The result is contiguous, in the input's
    /// dtype.
    ///
    /// # Panics
    /// If `pad` has odd length or more pairs than dims, or a reflect (circular) padding is not
    /// smaller than (at most) its dim.
    #[track_caller]
    pub fn pad(&self, pad: &[usize], mode: PadMode) -> Tensor {
        or_panic(self.try_pad(pad, mode))
    }

    /// [`Tensor::pad`] returning an error instead of panicking.
    ///
    /// # Errors
    /// [`TensorError::Invalid`] naming both the padding and the shape.
    pub fn try_pad(&self, pad: &[usize], mode: PadMode) -> Result<Tensor> {
        let (out_shape, maps) = plan(self.shape(), pad, mode)?;
        let dtype = self.dtype();
        let fill = match mode {
            PadMode::Constant(v) => v,
            _ => 0.0,
        };
        let out = match dtype {
            DType::F32 => {
                let x = self.contiguous().to_vec::<f32>();
                let mut out = vec![fill as f32; out_shape.iter().product()];
                for_each_source(&out_shape, self.shape(), &maps, |o, s| {
                    if let Some(s) = s {
                        out[o] = x[s];
                    }
                });
                Tensor::from_vec(out, &out_shape)
            }
            _ => {
                let x = self.to_vec_f64();
                let mut out = vec![fill; out_shape.iter().product()];
                for_each_source(&out_shape, self.shape(), &maps, |o, s| {
                    if let Some(s) = s {
                        out[o] = x[s];
                    }
                });
                Tensor::from_vec(out, &out_shape).to_dtype(dtype)
            }
        };
        Ok(out)
    }
}

/// The gradient of [`Tensor::pad`] with respect to its input: each upstream element is added
/// to the input element it was read from (constant borders get nothing).
///
/// # Panics
/// If the padding does not fit `input_shape` or `grad_out` does not have the padded shape.
#[track_caller]
pub fn pad_backward(
    grad_out: &Tensor,
    input_shape: &[usize],
    pad: &[usize],
    mode: PadMode,
) -> Tensor {
    or_panic(try_pad_backward(grad_out, input_shape, pad, mode))
}

/// [`pad_backward`] returning an error instead of panicking.
///
/// # Errors
/// [`TensorError::Invalid`] if the shapes do not fit.
pub fn try_pad_backward(
    grad_out: &Tensor,
    input_shape: &[usize],
    pad: &[usize],
    mode: PadMode,
) -> Result<Tensor> {
    let (out_shape, maps) = plan(input_shape, pad, mode)?;
    if grad_out.shape() != out_shape.as_slice() {
        return Err(TensorError::invalid(
            "pad_backward",
            format!(
                "gradient shape {:?} does not match the padded shape {out_shape:?} of input {input_shape:?}",
                grad_out.shape()
            ),
        ));
    }
    let g = grad_out.to_vec_f64();
    let mut gi = vec![0.0f64; input_shape.iter().product()];
    for_each_source(&out_shape, input_shape, &maps, |o, s| {
        if let Some(s) = s {
            gi[s] += g[o];
        }
    });
    Ok(Tensor::from_vec(gi, input_shape).to_dtype(grad_out.dtype()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(mode: PadMode) -> Vec<f64> {
        Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3])
            .pad(&[2, 2], mode)
            .to_vec::<f64>()
    }

    #[test]
    fn modes_match_pytorch() {
        assert_eq!(row(PadMode::Reflect), [3., 2., 1., 2., 3., 2., 1.]);
        assert_eq!(row(PadMode::Replicate), [1., 1., 1., 2., 3., 3., 3.]);
        assert_eq!(row(PadMode::Circular), [2., 3., 1., 2., 3., 1., 2.]);
        assert_eq!(
            row(PadMode::Constant(0.5)),
            [0.5, 0.5, 1., 2., 3., 0.5, 0.5]
        );
    }

    #[test]
    fn pads_two_trailing_dims_and_keeps_dtype() {
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect::<Vec<_>>(), &[1, 2, 3]);
        let y = x.pad(&[1, 0, 0, 1], PadMode::Replicate);
        assert_eq!(y.shape(), &[1, 3, 4]);
        assert_eq!(y.dtype(), DType::F32);
        assert_eq!(
            y.to_vec::<f32>(),
            [0., 0., 1., 2., 3., 3., 4., 5., 3., 3., 4., 5.]
        );
    }

    #[test]
    fn backward_accumulates_reflected_positions() {
        let g = Tensor::ones(&[7], DType::F64);
        let gi = pad_backward(&g, &[3], &[2, 2], PadMode::Reflect).to_vec::<f64>();
        assert_eq!(gi, [2.0, 3.0, 2.0]);
    }

    #[test]
    fn errors_name_padding_and_shape() {
        let x = Tensor::zeros(&[2, 3], DType::F32);
        let e = x
            .try_pad(&[3, 0], PadMode::Reflect)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, 3]") && e.contains("(3, 0)"), "{e}");
        assert!(x.try_pad(&[1, 1, 1], PadMode::Reflect).is_err());
    }
}
