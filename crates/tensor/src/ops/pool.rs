//! 2-D pooling (PyTorch `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`) and the gradient
//! kernels their backward passes use.
//!
//! Inputs are `[N, C, H, W]` or unbatched `[C, H, W]` with any strides; outputs are
//! contiguous. Output sizes, window bounds, padding and divisors follow PyTorch's CPU kernels
//! exactly (including the `ceil_mode` rule that the last window must start inside the input
//! or the left padding). Planes run in parallel on the kernel pool when the work is large;
//! every output element is computed by one loop in a fixed order, so results do not depend on
//! the thread count.

use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use num_traits::{Float, Zero};

use crate::dtype::FloatElement;
use crate::error::{or_panic, Result, TensorError};
use crate::ops::conv::{de_opt_pair, de_pair, valid_range};
use crate::tensor::Tensor;
use crate::threading::{num_threads, par_jobs};
use crate::with_float;

fn zero2() -> [usize; 2] {
    [0, 0]
}

fn one2() -> [usize; 2] {
    [1, 1]
}

fn yes() -> bool {
    true
}

/// Options of `torch.nn.functional.max_pool2d` (without `return_indices`, which is the choice
/// between [`Tensor::max_pool2d`] and [`Tensor::max_pool2d_with_indices`]).
///
/// Deserializes from PyTorch-style configs; `stride` `null` or `[]` means `kernel_size`, and
/// missing `padding`/`dilation`/`ceil_mode` take the defaults 0, 1, false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPool2dOptions {
    /// Window size `[kh, kw]`.
    #[serde(deserialize_with = "de_pair")]
    pub kernel_size: [usize; 2],
    /// Step between windows; `None` means `kernel_size` (PyTorch's default).
    #[serde(default, deserialize_with = "de_opt_pair")]
    pub stride: Option<[usize; 2]>,
    /// Implicit `-inf` padding on both sides; at most half the kernel size.
    #[serde(default = "zero2", deserialize_with = "de_pair")]
    pub padding: [usize; 2],
    /// Spacing between window taps.
    #[serde(default = "one2", deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
    /// Round the output size up instead of down (the last window must still start inside the
    /// input or the left padding).
    #[serde(default)]
    pub ceil_mode: bool,
}

impl MaxPool2dOptions {
    /// A `kernel_size` window with stride `kernel_size`, no padding, dilation 1, floor mode.
    pub fn new(kernel_size: [usize; 2]) -> Self {
        MaxPool2dOptions {
            kernel_size,
            stride: None,
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = Some(stride);
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }
    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
}

/// Options of `torch.nn.functional.avg_pool2d`.
///
/// Deserializes from PyTorch-style configs; `stride` `null` or `[]` means `kernel_size`, and
/// missing fields take PyTorch's defaults (padding 0, `ceil_mode` false, `count_include_pad`
/// true, no divisor override).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgPool2dOptions {
    /// Window size `[kh, kw]`.
    #[serde(deserialize_with = "de_pair")]
    pub kernel_size: [usize; 2],
    /// Step between windows; `None` means `kernel_size`.
    #[serde(default, deserialize_with = "de_opt_pair")]
    pub stride: Option<[usize; 2]>,
    /// Implicit zero padding on both sides; at most half the kernel size.
    #[serde(default = "zero2", deserialize_with = "de_pair")]
    pub padding: [usize; 2],
    /// Round the output size up instead of down.
    #[serde(default)]
    pub ceil_mode: bool,
    /// Whether padded zeros count in the divisor (PyTorch's default true). Windows running
    /// past the padding (possible with `ceil_mode`) are clipped either way.
    #[serde(default = "yes")]
    pub count_include_pad: bool,
    /// Divide every window sum by this instead of the window size.
    #[serde(default)]
    pub divisor_override: Option<usize>,
}

impl AvgPool2dOptions {
    /// A `kernel_size` window with stride `kernel_size`, no padding, floor mode,
    /// `count_include_pad` true, no divisor override.
    pub fn new(kernel_size: [usize; 2]) -> Self {
        AvgPool2dOptions {
            kernel_size,
            stride: None,
            padding: [0, 0],
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = Some(stride);
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }
    /// Sets `ceil_mode`.
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }
    /// Sets `count_include_pad`.
    pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }
    /// Sets `divisor_override`.
    pub fn divisor_override(mut self, divisor: Option<usize>) -> Self {
        self.divisor_override = divisor;
        self
    }
}

// ------------------------------------------------------------------------------------------------
// geometry

/// Input `[n, c, h, w]` (as 4-D), output `[oh, ow]` per plane, window parameters.
#[derive(Clone, Copy, Debug)]
struct PoolGeom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
}

impl PoolGeom {
    fn planes(&self) -> usize {
        self.n * self.c
    }
    fn out_shape(&self, unbatched: bool) -> Vec<usize> {
        if unbatched {
            vec![self.c, self.oh, self.ow]
        } else {
            vec![self.n, self.c, self.oh, self.ow]
        }
    }
    fn in_shape(&self, unbatched: bool) -> Vec<usize> {
        if unbatched {
            vec![self.c, self.h, self.w]
        } else {
            vec![self.n, self.c, self.h, self.w]
        }
    }
}

/// PyTorch's `pooling_output_shape`: floor (or ceil) of the window count, where in ceil mode
/// the last window must start inside the input or the left padding.
fn pool_out(size: usize, k: usize, pad: usize, stride: usize, dil: usize, ceil: bool) -> i64 {
    let (size, k, pad, stride, dil) =
        (size as i64, k as i64, pad as i64, stride as i64, dil as i64);
    let num = size + 2 * pad - dil * (k - 1) - 1 + if ceil { stride - 1 } else { 0 };
    let mut out = num.div_euclid(stride) + 1;
    if ceil && (out - 1) * stride >= size + pad {
        out -= 1;
    }
    out
}

/// `[N, C, H, W]` from a 4-D or unbatched 3-D shape, and whether it was unbatched.
fn split_shape(op: &'static str, s: &[usize]) -> Result<([usize; 4], bool)> {
    match s.len() {
        4 => Ok(([s[0], s[1], s[2], s[3]], false)),
        3 => Ok(([1, s[0], s[1], s[2]], true)),
        _ => Err(TensorError::invalid(
            op,
            format!(
                "expected a 4-D (N, C, H, W) or unbatched 3-D (C, H, W) input, got shape {s:?}"
            ),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
fn pool_geom(
    op: &'static str,
    shape: &[usize],
    k: [usize; 2],
    stride: Option<[usize; 2]>,
    p: [usize; 2],
    d: [usize; 2],
    ceil: bool,
) -> Result<(PoolGeom, bool)> {
    let ([n, c, h, w], unbatched) = split_shape(op, shape)?;
    let s = stride.unwrap_or(k);
    if k.contains(&0) || s.contains(&0) || d.contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!("kernel_size {k:?}, stride {s:?} and dilation {d:?} must be positive"),
        ));
    }
    if p[0] > k[0] / 2 || p[1] > k[1] / 2 {
        return Err(TensorError::invalid(
            op,
            format!("pad should be at most half of effective kernel size, but got pad={p:?}, kernel_size={k:?} and dilation={d:?}"),
        ));
    }
    if c == 0 || h == 0 || w == 0 {
        return Err(TensorError::invalid(
            op,
            format!("expected non-empty channel and spatial dims, got input shape {shape:?}"),
        ));
    }
    let oh = pool_out(h, k[0], p[0], s[0], d[0], ceil);
    let ow = pool_out(w, k[1], p[1], s[1], d[1], ceil);
    if oh < 1 || ow < 1 {
        return Err(TensorError::invalid(
            op,
            format!(
                "given input size {shape:?}, calculated output size [{oh}, {ow}] is too small (kernel_size {k:?}, stride {s:?}, padding {p:?}, dilation {d:?})"
            ),
        ));
    }
    Ok((
        PoolGeom {
            n,
            c,
            h,
            w,
            oh: oh as usize,
            ow: ow as usize,
            k,
            s,
            p,
            d,
        },
        unbatched,
    ))
}

/// Splits `items` per-plane jobs into one group per pool task.
fn tasks_of<J>(jobs: Vec<J>, work: usize) -> Vec<Vec<J>> {
    let t = if num_threads() > 1 && work >= (1 << 20) {
        num_threads().min(jobs.len()).max(1)
    } else {
        1
    };
    let per = jobs.len().div_ceil(t).max(1);
    let mut out: Vec<Vec<J>> = Vec::with_capacity(t);
    for (i, j) in jobs.into_iter().enumerate() {
        if i % per == 0 {
            out.push(Vec::with_capacity(per));
        }
        out.last_mut().expect("pushed above").push(j);
    }
    out
}

/// Storage offset of plane `p` (= `n·C + c`) of a 4-D view.
#[inline]
fn plane_offset(x: &Tensor, c: usize, p: usize) -> usize {
    let s = x.strides();
    x.layout().offset() + (p / c) * s[0] + (p % c) * s[1]
}

fn as4(x: &Tensor, unbatched: bool) -> Tensor {
    if unbatched {
        x.unsqueeze(0)
    } else {
        x.clone()
    }
}

// ------------------------------------------------------------------------------------------------
// max pooling

fn max_pool_kernel<T: FloatElement>(x: &Tensor, g: &PoolGeom) -> (Vec<T>, Vec<i64>) {
    let data = x.typed::<T>("max_pool2d");
    let (sh, sw) = (x.strides()[2], x.strides()[3]);
    let ohw = g.oh * g.ow;
    let mut vals = crate::pool::zeroed::<T>(g.planes() * ohw);
    let mut idx = crate::pool::zeroed::<i64>(g.planes() * ohw);
    let work = vals.len() * g.k[0] * g.k[1];
    // clipped window starts/ends per output row and column (starts stepped past the padding
    // by whole dilations, as PyTorch does)
    let bounds = |o: usize, i: usize, size: usize| -> (usize, usize) {
        let s = (o * g.s[i]) as i64 - g.p[i] as i64;
        let e = (s + ((g.k[i] - 1) * g.d[i]) as i64 + 1).min(size as i64);
        let mut s0 = s;
        while s0 < 0 {
            s0 += g.d[i] as i64;
        }
        (s0 as usize, e.max(0) as usize)
    };
    let rows: Vec<(usize, usize)> = (0..g.oh).map(|o| bounds(o, 0, g.h)).collect();
    let cols: Vec<(usize, usize)> = (0..g.ow).map(|o| bounds(o, 1, g.w)).collect();
    // per kernel column j, the output columns whose tap j lands inside the input
    let taps: Vec<(usize, usize)> = (0..g.k[1])
        .map(|j| valid_range(g.ow, g.s[1], g.p[1], j * g.d[1], g.w))
        .collect();
    let dh = g.d[0];
    if g.k == [2, 2]
        && g.s == [2, 2]
        && g.p == [0, 0]
        && g.d == [1, 1]
        && sw == 1
        && 2 * g.oh <= g.h
        && 2 * g.ow <= g.w
    {
        let jobs: Vec<_> = vals.chunks_mut(ohw).zip(idx.chunks_mut(ohw)).collect();
        par_planes(jobs, work, |p, (v, ix)| {
            max_pool_2x2(&data[plane_offset(x, g.c, p)..], g, sh, v, ix)
        });
        return (vals, idx);
    }
    let jobs: Vec<_> = vals
        .chunks_mut(ohw)
        .zip(idx.chunks_mut(ohw))
        .enumerate()
        .collect();
    par_jobs(tasks_of(jobs, work), work, |task| {
        for (p, (v, ix)) in task {
            let base = plane_offset(x, g.c, p);
            // Taps are visited per window in row-major order (as PyTorch does, so ties and
            // NaNs resolve the same way), but each tap is applied across a whole output row:
            // independent running maxima instead of one long dependency chain.
            for (oy, &(h0, h1)) in rows.iter().enumerate() {
                let vrow = &mut v[oy * g.ow..(oy + 1) * g.ow];
                let irow = &mut ix[oy * g.ow..(oy + 1) * g.ow];
                for (ox, &(w0, _)) in cols.iter().enumerate() {
                    vrow[ox] = T::neg_infinity();
                    irow[ox] = (h0 * g.w + w0) as i64;
                }
                let mut ih = h0;
                while ih < h1 {
                    let rb = base + ih * sh;
                    for (j, &(lo, hi)) in taps.iter().enumerate() {
                        let mut iw = lo * g.s[1] + j * g.d[1] - g.p[1];
                        for ox in lo..hi {
                            let val = data[rb + iw * sw];
                            let better = (val > vrow[ox]) | val.is_nan();
                            vrow[ox] = if better { val } else { vrow[ox] };
                            irow[ox] = if better {
                                (ih * g.w + iw) as i64
                            } else {
                                irow[ox]
                            };
                            iw += g.s[1];
                        }
                    }
                    ih += dh;
                }
            }
        }
    });
    (vals, idx)
}

/// Runs `f(plane, job)` for every per-plane job, split into contiguous runs of planes over
/// this thread's budget when the pass is large enough to repay the hand-off (`work` counts
/// the elements it touches: these kernels are bound by memory, not arithmetic).
fn par_planes<J: Send>(jobs: Vec<J>, work: usize, f: impl Fn(usize, J) + Sync) {
    // a pooling pass over 256 K elements costs about as much as a 1 M flop GEMM
    let work = work.saturating_mul(4);
    let numbered: Vec<(usize, J)> = jobs.into_iter().enumerate().collect();
    par_jobs(tasks_of(numbered, work), work, |task| {
        for (p, j) in task {
            f(p, j);
        }
    });
}

/// The common 2x2, stride-2, unpadded window over rows with unit column stride, on one plane
/// starting at `data[0]`: each output compares its four taps in PyTorch's row-major order
/// (first maximum wins, NaN propagates).
fn max_pool_2x2<T: FloatElement>(data: &[T], g: &PoolGeom, sh: usize, v: &mut [T], ix: &mut [i64]) {
    for oy in 0..g.oh {
        let r0 = &data[2 * oy * sh..][..2 * g.ow];
        let r1 = &data[(2 * oy + 1) * sh..][..2 * g.ow];
        let (i0, i1) = ((2 * oy * g.w) as i64, ((2 * oy + 1) * g.w) as i64);
        for ox in 0..g.ow {
            let c = 2 * ox;
            let (mut best, mut at) = (r0[c], i0 + c as i64);
            for (val, pos) in [
                (r0[c + 1], i0 + c as i64 + 1),
                (r1[c], i1 + c as i64),
                (r1[c + 1], i1 + c as i64 + 1),
            ] {
                if (val > best || val.is_nan()) && !best.is_nan() {
                    best = val;
                    at = pos;
                }
            }
            v[oy * g.ow + ox] = best;
            ix[oy * g.ow + ox] = at;
        }
    }
}

impl Tensor {
    /// 2-D max pooling (`torch.nn.functional.max_pool2d(input, kernel_size, stride, padding,
    /// dilation, ceil_mode)`) of a `[N, C, H, W]` or unbatched `[C, H, W]` input. NaN
    /// propagates (a NaN in a window is its maximum), and ties pick the first maximum in
    /// row-major window order.
    ///
    /// # Panics
    /// If the input or options are invalid (see [`Tensor::try_max_pool2d`]).
    #[track_caller]
    pub fn max_pool2d(&self, opts: &MaxPool2dOptions) -> Tensor {
        or_panic(self.try_max_pool2d(opts))
    }

    /// Fallible [`Tensor::max_pool2d`].
    ///
    /// # Errors
    /// If the input is not a non-empty 3-D/4-D float tensor, a kernel size, stride or dilation
    /// is 0, the padding exceeds half the kernel, or the output would be empty.
    pub fn try_max_pool2d(&self, opts: &MaxPool2dOptions) -> Result<Tensor> {
        self.try_max_pool2d_with_indices(opts).map(|(v, _)| v)
    }

    /// [`Tensor::max_pool2d`] that also returns the `i64` argmax of every window as a flat
    /// index `h·W + w` within its channel plane (`max_pool2d(..., return_indices=True)`),
    /// which [`max_pool2d_backward`] consumes.
    ///
    /// # Panics
    /// If the input or options are invalid (see [`Tensor::try_max_pool2d`]).
    #[track_caller]
    pub fn max_pool2d_with_indices(&self, opts: &MaxPool2dOptions) -> (Tensor, Tensor) {
        or_panic(self.try_max_pool2d_with_indices(opts))
    }

    /// Fallible [`Tensor::max_pool2d_with_indices`].
    ///
    /// # Errors
    /// As [`Tensor::try_max_pool2d`].
    pub fn try_max_pool2d_with_indices(&self, opts: &MaxPool2dOptions) -> Result<(Tensor, Tensor)> {
        const OP: &str = "max_pool2d";
        let (g, unbatched) = pool_geom(
            OP,
            self.shape(),
            opts.kernel_size,
            opts.stride,
            opts.padding,
            opts.dilation,
            opts.ceil_mode,
        )?;
        let x = as4(self, unbatched);
        let shape = g.out_shape(unbatched);
        with_float!(self.dtype(), OP, T => {
            let (v, i) = max_pool_kernel::<T>(&x, &g);
            (Tensor::from_vec(v, &shape), Tensor::from_vec(i, &shape))
        })
    }

    /// 2-D average pooling (`torch.nn.functional.avg_pool2d(input, kernel_size, stride,
    /// padding, ceil_mode, count_include_pad, divisor_override)`) of a `[N, C, H, W]` or
    /// unbatched `[C, H, W]` input.
    ///
    /// # Panics
    /// If the input or options are invalid (see [`Tensor::try_avg_pool2d`]).
    #[track_caller]
    pub fn avg_pool2d(&self, opts: &AvgPool2dOptions) -> Tensor {
        or_panic(self.try_avg_pool2d(opts))
    }

    /// Fallible [`Tensor::avg_pool2d`].
    ///
    /// # Errors
    /// If the input is not a non-empty 3-D/4-D float tensor, a kernel size or stride is 0, the
    /// padding exceeds half the kernel, `divisor_override` is 0, or the output would be empty.
    pub fn try_avg_pool2d(&self, opts: &AvgPool2dOptions) -> Result<Tensor> {
        const OP: &str = "avg_pool2d";
        let (g, unbatched) = avg_geom(OP, self.shape(), opts)?;
        let x = as4(self, unbatched);
        let shape = g.out_shape(unbatched);
        with_float!(self.dtype(), OP, T => Tensor::from_vec(avg_pool_kernel::<T>(&x, &g, opts), &shape))
    }

    /// Adaptive 2-D average pooling (`torch.nn.functional.adaptive_avg_pool2d(input,
    /// output_size)`): output cell `(i, j)` averages rows `floor(i·H/oh)..ceil((i+1)·H/oh)` and
    /// the matching columns.
    ///
    /// # Panics
    /// If the input or output size is invalid (see [`Tensor::try_adaptive_avg_pool2d`]).
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Tensor {
        or_panic(self.try_adaptive_avg_pool2d(output_size))
    }

    /// Fallible [`Tensor::adaptive_avg_pool2d`].
    ///
    /// # Errors
    /// If the input is not a non-empty 3-D/4-D float tensor or an output size is 0.
    pub fn try_adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Tensor> {
        const OP: &str = "adaptive_avg_pool2d";
        let (g, unbatched) = adaptive_geom(OP, self.shape(), output_size)?;
        let x = as4(self, unbatched);
        let shape = g.out_shape(unbatched);
        with_float!(self.dtype(), OP, T => Tensor::from_vec(adaptive_kernel::<T>(&x, &g), &shape))
    }
}

/// Gradient of [`Tensor::max_pool2d`] with respect to its input: each upstream value is added
/// at its window's argmax (`torch.ops.aten.max_pool2d_with_indices_backward`).
///
/// `indices` are those of [`Tensor::max_pool2d_with_indices`] (same shape as `grad_out`) and
/// `input_shape` the forward input's shape. Returns a contiguous tensor of `input_shape`.
///
/// # Panics
/// If the shapes are inconsistent or an index is out of its plane (see
/// [`try_max_pool2d_backward`]).
#[track_caller]
pub fn max_pool2d_backward(grad_out: &Tensor, indices: &Tensor, input_shape: &[usize]) -> Tensor {
    or_panic(try_max_pool2d_backward(grad_out, indices, input_shape))
}

/// Fallible [`max_pool2d_backward`].
///
/// # Errors
/// If `input_shape` is not 3-D/4-D, `grad_out` and `indices` differ in shape or do not match
/// the input's leading `[N, C]` dims, `indices` is not `i64`, `grad_out` is not float, or an
/// index lies outside `0..H·W`.
pub fn try_max_pool2d_backward(
    grad_out: &Tensor,
    indices: &Tensor,
    input_shape: &[usize],
) -> Result<Tensor> {
    const OP: &str = "max_pool2d_backward";
    let ([n, c, h, w], unbatched) = split_shape(OP, input_shape)?;
    let r = input_shape.len();
    if grad_out.shape() != indices.shape()
        || grad_out.rank() != r
        || grad_out.shape()[..r - 2] != input_shape[..r - 2]
    {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            lhs: grad_out.shape().to_vec(),
            rhs: indices.shape().to_vec(),
            expected: format!("grad_output and indices of one shape matching the input {input_shape:?} in all but the last two dims"),
        });
    }
    if indices.dtype() != crate::DType::I64 {
        return Err(TensorError::DType {
            op: OP,
            expected: "i64 indices",
            got: indices.dtype(),
        });
    }
    let _ = unbatched;
    let idx = indices.contiguous_data::<i64>();
    let hw = h * w;
    let ohw = if r == 4 {
        grad_out.shape()[2] * grad_out.shape()[3]
    } else {
        grad_out.shape()[1] * grad_out.shape()[2]
    };
    if let Some(&bad) = idx.iter().find(|&&i| !(0..hw as i64).contains(&i)) {
        return Err(TensorError::IndexOutOfRange {
            op: OP,
            index: bad,
            size: hw,
        });
    }
    with_float!(grad_out.dtype(), OP, T => {
        let go = grad_out.contiguous_data::<T>();
        let mut gi = crate::pool::zeroed::<T>(n * c * hw);
        par_planes(gi.chunks_mut(hw).collect(), n * c * hw, |p, plane: &mut [T]| {
            let (ip, gp) = (&idx[p * ohw..(p + 1) * ohw], &go[p * ohw..(p + 1) * ohw]);
            for (&i, &v) in ip.iter().zip(gp) {
                plane[i as usize] += v;
            }
        });
        Tensor::from_vec(gi, input_shape)
    })
}

// ------------------------------------------------------------------------------------------------
// average pooling

fn avg_geom(
    op: &'static str,
    shape: &[usize],
    opts: &AvgPool2dOptions,
) -> Result<(PoolGeom, bool)> {
    if opts.divisor_override == Some(0) {
        return Err(TensorError::invalid(op, "divisor must be not zero"));
    }
    pool_geom(
        op,
        shape,
        opts.kernel_size,
        opts.stride,
        opts.padding,
        [1, 1],
        opts.ceil_mode,
    )
}

/// Clipped window `[h0, h1) × [w0, w1)` of output `(oy, ox)` and its divisor.
#[inline]
fn avg_window(
    g: &PoolGeom,
    opts: &AvgPool2dOptions,
    oy: usize,
    ox: usize,
) -> (usize, usize, usize, usize, usize) {
    let (h, w) = (g.h as i64, g.w as i64);
    let mut h0 = (oy * g.s[0]) as i64 - g.p[0] as i64;
    let mut w0 = (ox * g.s[1]) as i64 - g.p[1] as i64;
    let mut h1 = (h0 + g.k[0] as i64).min(h + g.p[0] as i64);
    let mut w1 = (w0 + g.k[1] as i64).min(w + g.p[1] as i64);
    let pool = (h1 - h0) * (w1 - w0);
    h0 = h0.max(0);
    w0 = w0.max(0);
    h1 = h1.min(h);
    w1 = w1.min(w);
    if h0 >= h1 || w0 >= w1 {
        return (0, 0, 0, 0, 1);
    }
    let div = match opts.divisor_override {
        Some(d) => d as i64,
        None if opts.count_include_pad => pool,
        None => (h1 - h0) * (w1 - w0),
    };
    (
        h0 as usize,
        h1 as usize,
        w0 as usize,
        w1 as usize,
        div as usize,
    )
}

fn avg_pool_kernel<T: FloatElement>(x: &Tensor, g: &PoolGeom, opts: &AvgPool2dOptions) -> Vec<T> {
    let data = x.typed::<T>("avg_pool2d");
    let (sh, sw) = (x.strides()[2], x.strides()[3]);
    let ohw = g.oh * g.ow;
    let mut out = vec![T::zero(); g.planes() * ohw];
    let work = out.len() * g.k[0] * g.k[1];
    let jobs: Vec<_> = out.chunks_mut(ohw).enumerate().collect();
    par_jobs(tasks_of(jobs, work), work, |task| {
        for (p, o) in task {
            let base = plane_offset(x, g.c, p);
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let (h0, h1, w0, w1, div) = avg_window(g, opts, oy, ox);
                    let mut sum = T::zero();
                    for ih in h0..h1 {
                        for iw in w0..w1 {
                            sum = sum + data[base + ih * sh + iw * sw];
                        }
                    }
                    o[oy * g.ow + ox] = if h0 == h1 {
                        T::zero()
                    } else {
                        sum / T::of(div as f64)
                    };
                }
            }
        }
    });
    out
}

/// Checks that `grad_out` is `[.., oh, ow]` for the geometry and returns it as contiguous data.
fn check_grad(op: &'static str, grad_out: &Tensor, g: &PoolGeom, unbatched: bool) -> Result<()> {
    let want = g.out_shape(unbatched);
    if grad_out.shape() != want.as_slice() {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: grad_out.shape().to_vec(),
            rhs: want,
            expected: "grad_output of the pooling's output shape".into(),
        });
    }
    Ok(())
}

/// Gradient of [`Tensor::avg_pool2d`] with respect to its input: each upstream value divided
/// by its window's divisor is added over the window (`torch.ops.aten.avg_pool2d_backward`).
/// Returns a contiguous tensor of `input_shape`.
///
/// # Panics
/// If the shapes or options are inconsistent (see [`try_avg_pool2d_backward`]).
#[track_caller]
pub fn avg_pool2d_backward(
    grad_out: &Tensor,
    input_shape: &[usize],
    opts: &AvgPool2dOptions,
) -> Tensor {
    or_panic(try_avg_pool2d_backward(grad_out, input_shape, opts))
}

/// Fallible [`avg_pool2d_backward`].
///
/// # Errors
/// If `input_shape` and `opts` are not a valid [`Tensor::avg_pool2d`] problem, `grad_out` does
/// not have its output shape, or `grad_out` is not float.
pub fn try_avg_pool2d_backward(
    grad_out: &Tensor,
    input_shape: &[usize],
    opts: &AvgPool2dOptions,
) -> Result<Tensor> {
    const OP: &str = "avg_pool2d_backward";
    let (g, unbatched) = avg_geom(OP, input_shape, opts)?;
    check_grad(OP, grad_out, &g, unbatched)?;
    let shape = g.in_shape(unbatched);
    with_float!(grad_out.dtype(), OP, T => {
        let go = grad_out.contiguous_data::<T>();
        let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
        let mut gi = vec![T::zero(); g.planes() * hw];
        for p in 0..g.planes() {
            let plane = &mut gi[p * hw..(p + 1) * hw];
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let (h0, h1, w0, w1, div) = avg_window(&g, opts, oy, ox);
                    let v = go[p * ohw + oy * g.ow + ox] / T::of(div as f64);
                    for ih in h0..h1 {
                        for d in &mut plane[ih * g.w + w0..ih * g.w + w1] {
                            *d += v;
                        }
                    }
                }
            }
        }
        Tensor::from_vec(gi, &shape)
    })
}

// ------------------------------------------------------------------------------------------------
// adaptive average pooling

fn adaptive_geom(op: &'static str, shape: &[usize], out: [usize; 2]) -> Result<(PoolGeom, bool)> {
    let ([n, c, h, w], unbatched) = split_shape(op, shape)?;
    if out.contains(&0) || c == 0 || h == 0 || w == 0 {
        return Err(TensorError::invalid(
            op,
            format!("expected a non-empty input and positive output size, got input {shape:?} and output_size {out:?}"),
        ));
    }
    Ok((
        PoolGeom {
            n,
            c,
            h,
            w,
            oh: out[0],
            ow: out[1],
            k: [0, 0],
            s: [0, 0],
            p: [0, 0],
            d: [1, 1],
        },
        unbatched,
    ))
}

/// PyTorch's adaptive window `floor(i·size/out)..ceil((i+1)·size/out)`.
#[inline]
fn adaptive_range(i: usize, out: usize, size: usize) -> (usize, usize) {
    ((i * size) / out, ((i + 1) * size).div_ceil(out))
}

fn adaptive_kernel<T: FloatElement>(x: &Tensor, g: &PoolGeom) -> Vec<T> {
    let data = x.typed::<T>("adaptive_avg_pool2d");
    let (sh, sw) = (x.strides()[2], x.strides()[3]);
    let ohw = g.oh * g.ow;
    let mut out = vec![T::zero(); g.planes() * ohw];
    let work = g.planes() * g.h.max(g.oh) * g.w.max(g.ow);
    let jobs: Vec<_> = out.chunks_mut(ohw).enumerate().collect();
    par_jobs(tasks_of(jobs, work), work, |task| {
        for (p, o) in task {
            let base = plane_offset(x, g.c, p);
            for oy in 0..g.oh {
                let (h0, h1) = adaptive_range(oy, g.oh, g.h);
                for ox in 0..g.ow {
                    let (w0, w1) = adaptive_range(ox, g.ow, g.w);
                    let mut sum = T::zero();
                    for ih in h0..h1 {
                        for iw in w0..w1 {
                            sum = sum + data[base + ih * sh + iw * sw];
                        }
                    }
                    o[oy * g.ow + ox] = sum / T::of(((h1 - h0) * (w1 - w0)) as f64);
                }
            }
        }
    });
    out
}

/// Gradient of [`Tensor::adaptive_avg_pool2d`] with respect to its input: each upstream value
/// divided by its window's size is added over the window
/// (`torch.ops.aten._adaptive_avg_pool2d_backward`). The output size is read from
/// `grad_out`'s last two dims; returns a contiguous tensor of `input_shape`.
///
/// # Panics
/// If the shapes are inconsistent (see [`try_adaptive_avg_pool2d_backward`]).
#[track_caller]
pub fn adaptive_avg_pool2d_backward(grad_out: &Tensor, input_shape: &[usize]) -> Tensor {
    or_panic(try_adaptive_avg_pool2d_backward(grad_out, input_shape))
}

/// Fallible [`adaptive_avg_pool2d_backward`].
///
/// # Errors
/// If `input_shape` is not a non-empty 3-D/4-D shape, `grad_out` does not match it in rank and
/// leading dims or has an empty output size, or `grad_out` is not float.
pub fn try_adaptive_avg_pool2d_backward(
    grad_out: &Tensor,
    input_shape: &[usize],
) -> Result<Tensor> {
    const OP: &str = "adaptive_avg_pool2d_backward";
    let r = grad_out.rank();
    if r != input_shape.len() || r < 3 {
        return Err(TensorError::ShapeMismatch {
            op: OP,
            lhs: grad_out.shape().to_vec(),
            rhs: input_shape.to_vec(),
            expected: "grad_output and input of the same rank (3 or 4)".into(),
        });
    }
    let out = [grad_out.shape()[r - 2], grad_out.shape()[r - 1]];
    let (g, unbatched) = adaptive_geom(OP, input_shape, out)?;
    check_grad(OP, grad_out, &g, unbatched)?;
    with_float!(grad_out.dtype(), OP, T => {
        let go = grad_out.contiguous_data::<T>();
        let (hw, ohw) = (g.h * g.w, g.oh * g.ow);
        let mut gi = vec![T::zero(); g.planes() * hw];
        for p in 0..g.planes() {
            let plane = &mut gi[p * hw..(p + 1) * hw];
            for oy in 0..g.oh {
                let (h0, h1) = adaptive_range(oy, g.oh, g.h);
                for ox in 0..g.ow {
                    let (w0, w1) = adaptive_range(ox, g.ow, g.w);
                    let v = go[p * ohw + oy * g.ow + ox] / T::of(((h1 - h0) * (w1 - w0)) as f64);
                    for ih in h0..h1 {
                        for d in &mut plane[ih * g.w + w0..ih * g.w + w1] {
                            *d += v;
                        }
                    }
                }
            }
        }
        Tensor::from_vec(gi, input_shape)
    })
}
