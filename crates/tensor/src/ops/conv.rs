//! Convolutions (PyTorch `conv1d`, `conv2d`, `conv_transpose2d`) and the gradient kernels their
//! backward passes use.
//!
//! Everything is lowered to im2col + GEMM. A chunk of batch samples is unfolded into a column
//! matrix `[C/groups·kh·kw, chunk·OH·OW]`, and each group's weight, read in place as a strided
//! `[Cout/groups, C/groups·kh·kw]` matrix (transposes are stride swaps, never copies), multiplies
//! it. The input gradient multiplies by the transposed weight and folds the columns back
//! (col2im); the weight gradient multiplies the upstream gradient by the transposed columns.
//! Chunks of samples run in parallel on the kernel pool. Chunk sizes depend only on the shapes
//! and the weight gradient sums its per-chunk partial products in a fixed order, so results are
//! bit-identical for every thread count.
//!
//! `conv1d` is `conv2d` with a height of 1, and `conv_transpose2d` is the input gradient of the
//! matching `conv2d` (and vice versa), so the three kernels below serve all of them.

use std::borrow::Cow;
use std::sync::Mutex;

#[allow(unused_imports)]
use num_traits::{Float, Zero};
use serde::{Deserialize, Deserializer, Serialize};

use crate::dtype::DType;
use crate::error::{or_panic, Result, TensorError};
use crate::ops::matmul::{gemm_into, Gemm, MatRef};
use crate::tensor::Tensor;
use crate::threading::{num_threads, parallel_for};
use crate::with_float;

// ------------------------------------------------------------------------------------------------
// serde helpers: PyTorch accepts `2`, `[2]` or `[2, 3]` for spatial arguments

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrList {
    Int(usize),
    List(Vec<usize>),
}

fn spatial<const N: usize, E: serde::de::Error>(
    v: IntOrList,
) -> std::result::Result<[usize; N], E> {
    match v {
        IntOrList::Int(x) => Ok([x; N]),
        IntOrList::List(l) if l.len() == N => Ok(std::array::from_fn(|i| l[i])),
        IntOrList::List(l) if l.len() == 1 => Ok([l[0]; N]),
        IntOrList::List(l) => Err(E::custom(format!("expected an int or {N} ints, got {l:?}"))),
    }
}

/// Deserializes `2`, `[2]` or `[2, 3]` into a pair.
pub(crate) fn de_pair<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<[usize; 2], D::Error> {
    spatial::<2, D::Error>(IntOrList::deserialize(d)?)
}

/// Deserializes `2` or `[2]` into a single value.
fn de_single<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    spatial::<1, D::Error>(IntOrList::deserialize(d)?).map(|[x]| x)
}

/// Deserializes `null`, `[]`, `2`, `[2]` or `[2, 3]` into an optional pair (`None` for the first
/// two, PyTorch's "defaults to kernel_size").
pub(crate) fn de_opt_pair<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<[usize; 2]>, D::Error> {
    match Option::<IntOrList>::deserialize(d)? {
        None => Ok(None),
        Some(IntOrList::List(l)) if l.is_empty() => Ok(None),
        Some(v) => spatial::<2, D::Error>(v).map(Some),
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum PaddingRepr {
    Int(usize),
    List(Vec<usize>),
    Mode(String),
}

// ------------------------------------------------------------------------------------------------
// options

/// The `padding` argument of `torch.nn.functional.conv2d`: explicit zero padding or a mode.
///
/// Deserializes from `1`, `[1, 2]`, `"same"` or `"valid"`, as PyTorch accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PaddingRepr", into = "PaddingRepr")]
pub enum Padding2d {
    /// `[ph, pw]` zeros on both sides of the height and width.
    Explicit([usize; 2]),
    /// `"same"`: the output has the input's size. Per dim the total padding is
    /// `dilation·(k-1)`, with `total/2` before and the rest after (PyTorch semantics);
    /// requires stride 1.
    Same,
    /// `"valid"`: no padding.
    Valid,
}

impl Default for Padding2d {
    fn default() -> Self {
        Padding2d::Explicit([0, 0])
    }
}

impl From<[usize; 2]> for Padding2d {
    fn from(p: [usize; 2]) -> Self {
        Padding2d::Explicit(p)
    }
}

impl From<usize> for Padding2d {
    fn from(p: usize) -> Self {
        Padding2d::Explicit([p, p])
    }
}

impl TryFrom<PaddingRepr> for Padding2d {
    type Error = String;
    fn try_from(r: PaddingRepr) -> std::result::Result<Self, String> {
        Ok(match r {
            PaddingRepr::Int(p) => Padding2d::Explicit([p, p]),
            PaddingRepr::List(l) => Padding2d::Explicit(
                spatial::<2, serde::de::value::Error>(IntOrList::List(l))
                    .map_err(|e| e.to_string())?,
            ),
            PaddingRepr::Mode(m) => match m.as_str() {
                "same" => Padding2d::Same,
                "valid" => Padding2d::Valid,
                _ => {
                    return Err(format!(
                        "unknown padding mode {m:?} (expected \"same\" or \"valid\")"
                    ))
                }
            },
        })
    }
}

impl From<Padding2d> for PaddingRepr {
    fn from(p: Padding2d) -> Self {
        match p {
            Padding2d::Explicit(p) => PaddingRepr::List(p.to_vec()),
            Padding2d::Same => PaddingRepr::Mode("same".into()),
            Padding2d::Valid => PaddingRepr::Mode("valid".into()),
        }
    }
}

/// The `padding` argument of `torch.nn.functional.conv1d`: explicit zero padding or a mode.
///
/// Deserializes from `1`, `[1]`, `"same"` or `"valid"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PaddingRepr", into = "PaddingRepr")]
pub enum Padding1d {
    /// `p` zeros on both sides.
    Explicit(usize),
    /// `"same"`: total padding `dilation·(k-1)`, `total/2` before and the rest after; stride 1.
    Same,
    /// `"valid"`: no padding.
    Valid,
}

impl Default for Padding1d {
    fn default() -> Self {
        Padding1d::Explicit(0)
    }
}

impl From<usize> for Padding1d {
    fn from(p: usize) -> Self {
        Padding1d::Explicit(p)
    }
}

impl TryFrom<PaddingRepr> for Padding1d {
    type Error = String;
    fn try_from(r: PaddingRepr) -> std::result::Result<Self, String> {
        Ok(match r {
            PaddingRepr::Int(p) => Padding1d::Explicit(p),
            PaddingRepr::List(l) if l.len() == 1 => Padding1d::Explicit(l[0]),
            PaddingRepr::List(l) => {
                return Err(format!("conv1d padding must be one int, got {l:?}"))
            }
            PaddingRepr::Mode(m) => match m.as_str() {
                "same" => Padding1d::Same,
                "valid" => Padding1d::Valid,
                _ => {
                    return Err(format!(
                        "unknown padding mode {m:?} (expected \"same\" or \"valid\")"
                    ))
                }
            },
        })
    }
}

impl From<Padding1d> for PaddingRepr {
    fn from(p: Padding1d) -> Self {
        match p {
            Padding1d::Explicit(p) => PaddingRepr::List(vec![p]),
            Padding1d::Same => PaddingRepr::Mode("same".into()),
            Padding1d::Valid => PaddingRepr::Mode("valid".into()),
        }
    }
}

/// Options of a 2-D convolution: the non-tensor arguments of `torch.nn.functional.conv2d`
/// (defaults: stride 1, padding 0, dilation 1, groups 1).
///
/// Deserializes from PyTorch-style configs (`{"stride": [2, 1], "padding": "same", ...}`);
/// missing fields take the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conv2dOptions {
    /// Step between output positions, `[sh, sw]`.
    #[serde(deserialize_with = "de_pair")]
    pub stride: [usize; 2],
    /// Zero padding or `"same"`/`"valid"`.
    pub padding: Padding2d,
    /// Spacing between kernel taps, `[dh, dw]`.
    #[serde(deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
    /// Number of blocked connections from input to output channels (`groups = C` is depthwise).
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: Padding2d::default(),
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// The defaults: stride 1, padding 0, dilation 1, groups 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the padding (`[ph, pw]`, an int, or a [`Padding2d`] mode).
    pub fn padding(mut self, padding: impl Into<Padding2d>) -> Self {
        self.padding = padding.into();
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// Options of a 1-D convolution: the non-tensor arguments of `torch.nn.functional.conv1d`
/// (defaults: stride 1, padding 0, dilation 1, groups 1). Deserializes from `2` or `[2]` for
/// each spatial argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conv1dOptions {
    /// Step between output positions.
    #[serde(deserialize_with = "de_single")]
    pub stride: usize,
    /// Zero padding or `"same"`/`"valid"`.
    pub padding: Padding1d,
    /// Spacing between kernel taps.
    #[serde(deserialize_with = "de_single")]
    pub dilation: usize,
    /// Number of blocked connections from input to output channels.
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: Padding1d::default(),
            dilation: 1,
            groups: 1,
        }
    }
}

impl Conv1dOptions {
    /// The defaults: stride 1, padding 0, dilation 1, groups 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the padding (an int or a [`Padding1d`] mode).
    pub fn padding(mut self, padding: impl Into<Padding1d>) -> Self {
        self.padding = padding.into();
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    fn to_2d(&self) -> Conv2dOptions {
        Conv2dOptions {
            stride: [1, self.stride],
            padding: match self.padding {
                Padding1d::Explicit(p) => Padding2d::Explicit([0, p]),
                Padding1d::Same => Padding2d::Same,
                Padding1d::Valid => Padding2d::Valid,
            },
            dilation: [1, self.dilation],
            groups: self.groups,
        }
    }
}

/// Options of a 2-D transposed convolution: the non-tensor arguments of
/// `torch.nn.functional.conv_transpose2d` (defaults: stride 1, padding 0, output_padding 0,
/// groups 1, dilation 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConvTranspose2dOptions {
    /// Stride of the matching forward convolution.
    #[serde(deserialize_with = "de_pair")]
    pub stride: [usize; 2],
    /// Padding of the matching forward convolution (removed from the output's borders).
    #[serde(deserialize_with = "de_pair")]
    pub padding: [usize; 2],
    /// Extra size added to one side of the output; must be smaller than stride or dilation.
    #[serde(deserialize_with = "de_pair")]
    pub output_padding: [usize; 2],
    /// Number of blocked connections from input to output channels.
    pub groups: usize,
    /// Spacing between kernel taps.
    #[serde(deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
}

impl Default for ConvTranspose2dOptions {
    fn default() -> Self {
        ConvTranspose2dOptions {
            stride: [1, 1],
            padding: [0, 0],
            output_padding: [0, 0],
            groups: 1,
            dilation: [1, 1],
        }
    }
}

impl ConvTranspose2dOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }
    /// Sets the output padding.
    pub fn output_padding(mut self, output_padding: [usize; 2]) -> Self {
        self.output_padding = output_padding;
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }
}

// ------------------------------------------------------------------------------------------------
// geometry

/// The shape of one (forward) 2-D convolution: input `[n, c, h, w]`, weight
/// `[cout, c/groups, k0, k1]`, output `[n, cout, oh, ow]`, and the padding before each dim.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    cout: usize,
    groups: usize,
    k: [usize; 2],
    oh: usize,
    ow: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
}

impl Geom {
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn og(&self) -> usize {
        self.cout / self.groups
    }
    fn kg(&self) -> usize {
        self.cg() * self.k[0] * self.k[1]
    }
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    fn weight_shape(&self) -> [usize; 4] {
        [self.cout, self.cg(), self.k[0], self.k[1]]
    }
    fn output_shape(&self) -> [usize; 4] {
        [self.n, self.cout, self.oh, self.ow]
    }
    /// Multiply-adds of the forward product.
    fn work(&self) -> usize {
        self.n * self.cout * self.kg() * self.l()
    }
}

fn mismatch(op: &'static str, lhs: &[usize], rhs: &[usize], expected: String) -> TensorError {
    TensorError::ShapeMismatch {
        op,
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
        expected,
    }
}

/// Checks the options and shapes of a forward convolution of `input` (4-D) with `weight` (4-D)
/// and computes its geometry.
fn conv_geom(
    op: &'static str,
    input: &[usize],
    weight: &[usize],
    opts: &Conv2dOptions,
) -> Result<Geom> {
    if input.len() != 4 || weight.len() != 4 {
        return Err(mismatch(
            op,
            input,
            weight,
            "a 4-D (or unbatched 3-D) input and a 4-D weight".into(),
        ));
    }
    let g = opts.groups;
    if g == 0 || opts.stride.contains(&0) || opts.dilation.contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!(
                "groups, stride and dilation must be positive (groups {g}, stride {:?}, dilation {:?})",
                opts.stride, opts.dilation
            ),
        ));
    }
    let [n, c, h, w] = [input[0], input[1], input[2], input[3]];
    let [cout, cg, k0, k1] = [weight[0], weight[1], weight[2], weight[3]];
    if cg * g != c || cout % g != 0 || cout == 0 {
        return Err(mismatch(
            op,
            input,
            weight,
            format!(
                "weight [out_channels, in_channels/groups, kh, kw] with in_channels/groups*groups = input channels {c} and out_channels divisible by groups {g}"
            ),
        ));
    }
    let k = [k0, k1];
    let (lo, hi) = match opts.padding {
        Padding2d::Explicit(p) => (p, p),
        Padding2d::Valid => ([0, 0], [0, 0]),
        Padding2d::Same => {
            if opts.stride != [1, 1] {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "padding='same' is not supported for strided convolutions (stride {:?})",
                        opts.stride
                    ),
                ));
            }
            let total: [usize; 2] =
                std::array::from_fn(|i| opts.dilation[i] * k[i].saturating_sub(1));
            let lo: [usize; 2] = std::array::from_fn(|i| total[i] / 2);
            (lo, std::array::from_fn(|i| total[i] - lo[i]))
        }
    };
    let size = [h, w];
    let mut out = [0; 2];
    for i in 0..2 {
        let eff = opts.dilation[i] * k[i].saturating_sub(1) + 1;
        let padded = size[i] + lo[i] + hi[i];
        if k[i] == 0 || padded < eff {
            return Err(mismatch(
                op,
                input,
                weight,
                format!("the dilated kernel ({eff}) to fit in the padded input ({padded})"),
            ));
        }
        out[i] = (padded - eff) / opts.stride[i] + 1;
    }
    Ok(Geom {
        n,
        c,
        h,
        w,
        cout,
        groups: g,
        k,
        oh: out[0],
        ow: out[1],
        stride: opts.stride,
        pad: lo,
        dil: opts.dilation,
    })
}

/// The geometry of the forward convolution whose input gradient is `conv_transpose2d` of an
/// input `[n, cin, h, w]` with weight `[cin, cout/groups, k0, k1]`.
fn transpose_geom(
    op: &'static str,
    input: &[usize],
    weight: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Result<Geom> {
    if input.len() != 4 || weight.len() != 4 {
        return Err(mismatch(
            op,
            input,
            weight,
            "a 4-D (or unbatched 3-D) input and a 4-D weight".into(),
        ));
    }
    let g = opts.groups;
    if g == 0 || opts.stride.contains(&0) || opts.dilation.contains(&0) {
        return Err(TensorError::invalid(
            op,
            format!(
                "groups, stride and dilation must be positive (groups {g}, stride {:?}, dilation {:?})",
                opts.stride, opts.dilation
            ),
        ));
    }
    for i in 0..2 {
        let op_ = opts.output_padding[i];
        if op_ >= opts.stride[i] && op_ >= opts.dilation[i] {
            return Err(TensorError::invalid(
                op,
                format!(
                    "output padding {:?} must be smaller than either stride {:?} or dilation {:?}",
                    opts.output_padding, opts.stride, opts.dilation
                ),
            ));
        }
    }
    let [n, cin, h, w] = [input[0], input[1], input[2], input[3]];
    let [wc, og, k0, k1] = [weight[0], weight[1], weight[2], weight[3]];
    if wc != cin || cin % g != 0 || og == 0 || k0 == 0 || k1 == 0 {
        return Err(mismatch(
            op,
            input,
            weight,
            format!("weight [in_channels, out_channels/groups, kh, kw] with in_channels = {cin} divisible by groups {g}"),
        ));
    }
    let k = [k0, k1];
    let size = [h, w];
    let mut out = [0usize; 2];
    for i in 0..2 {
        let full = (size[i] as i64 - 1) * opts.stride[i] as i64
            + (opts.dilation[i] * (k[i] - 1)) as i64
            + opts.output_padding[i] as i64
            + 1;
        let o = full - 2 * opts.padding[i] as i64;
        if size[i] == 0 || o <= 0 {
            return Err(mismatch(
                op,
                input,
                weight,
                format!("a positive output size (got {o} for spatial dim {i})"),
            ));
        }
        out[i] = o as usize;
    }
    Ok(Geom {
        n,
        c: og * g,
        h: out[0],
        w: out[1],
        cout: cin,
        groups: g,
        k,
        oh: h,
        ow: w,
        stride: opts.stride,
        pad: opts.padding,
        dil: opts.dilation,
    })
}

/// A 4-D strided view into a typed buffer.
#[derive(Clone, Copy)]
struct View4<'a, T> {
    data: &'a [T],
    off: usize,
    s: [usize; 4],
}

impl<'a, T: crate::dtype::Element> View4<'a, T> {
    fn of(t: &'a Tensor, op: &'static str) -> Self {
        let s = t.strides();
        View4 {
            data: t.typed::<T>(op),
            off: t.layout().offset(),
            s: [s[0], s[1], s[2], s[3]],
        }
    }
}

/// Output positions `o < out` with `0 <= o·stride + tap - pad < size`, as `lo..hi`.
#[inline]
pub(crate) fn valid_range(
    out: usize,
    stride: usize,
    pad: usize,
    tap: usize,
    size: usize,
) -> (usize, usize) {
    let lo = if pad > tap {
        (pad - tap).div_ceil(stride)
    } else {
        0
    };
    let hi = if size + pad > tap {
        (size + pad - tap).div_ceil(stride)
    } else {
        0
    };
    let hi = hi.min(out);
    (lo.min(hi), hi)
}

/// Unfolds channels `c0..c0+cg` of sample `n` of `x` into rows `(c, i, j)` of `col` (row stride
/// `ld`), columns `col0..col0+oh·ow`.
fn im2col<T: Copy + Zero>(
    x: View4<T>,
    n: usize,
    c0: usize,
    g: &Geom,
    col: &mut [T],
    ld: usize,
    col0: usize,
) {
    let l = g.l();
    let [kh, kw] = g.k;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad;
    let [dh, dw] = g.dil;
    let ow = g.ow;
    let zero = T::zero();
    for c in 0..g.cg() {
        let xc = x.off + n * x.s[0] + (c0 + c) * x.s[1];
        for i in 0..kh {
            let (ylo, yhi) = valid_range(g.oh, sh, ph, i * dh, g.h);
            for j in 0..kw {
                let (xlo, xhi) = valid_range(ow, sw, pw, j * dw, g.w);
                let row = &mut col[((c * kh + i) * kw + j) * ld + col0..][..l];
                row[..ylo * ow].fill(zero);
                row[yhi * ow..].fill(zero);
                if xlo == xhi {
                    row[ylo * ow..yhi * ow].fill(zero);
                    continue;
                }
                for oy in ylo..yhi {
                    let r = &mut row[oy * ow..(oy + 1) * ow];
                    r[..xlo].fill(zero);
                    r[xhi..].fill(zero);
                    let base = xc + (oy * sh + i * dh - ph) * x.s[2];
                    let iw0 = xlo * sw + j * dw - pw;
                    if sw == 1 && x.s[3] == 1 {
                        let len = xhi - xlo;
                        r[xlo..xhi].copy_from_slice(&x.data[base + iw0..base + iw0 + len]);
                    } else {
                        let step = sw * x.s[3];
                        let mut p = base + iw0 * x.s[3];
                        for v in &mut r[xlo..xhi] {
                            *v = x.data[p];
                            p += step;
                        }
                    }
                }
            }
        }
    }
}

/// Folds rows `(c, i, j)` of `col` (row stride `ld`, columns `col0..col0+oh·ow`) back onto a
/// contiguous `[cg, h, w]` block `dx`, adding overlapping taps.
fn col2im<T: Float>(col: &[T], ld: usize, col0: usize, g: &Geom, dx: &mut [T]) {
    let l = g.l();
    let [kh, kw] = g.k;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad;
    let [dh, dw] = g.dil;
    let (h, w, ow) = (g.h, g.w, g.ow);
    for c in 0..g.cg() {
        let plane = &mut dx[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            let (ylo, yhi) = valid_range(g.oh, sh, ph, i * dh, h);
            for j in 0..kw {
                let (xlo, xhi) = valid_range(ow, sw, pw, j * dw, w);
                if xlo == xhi {
                    continue;
                }
                let row = &col[((c * kh + i) * kw + j) * ld + col0..][..l];
                for oy in ylo..yhi {
                    let r = &row[oy * ow + xlo..oy * ow + xhi];
                    let base = (oy * sh + i * dh - ph) * w + xlo * sw + j * dw - pw;
                    if sw == 1 {
                        for (d, &v) in plane[base..base + r.len()].iter_mut().zip(r) {
                            *d = *d + v;
                        }
                    } else {
                        let mut p = base;
                        for &v in r {
                            plane[p] = plane[p] + v;
                            p += sw;
                        }
                    }
                }
            }
        }
    }
}

/// Target number of GEMM columns (samples × output positions) per chunk.
const GEMM_COLS: usize = 256;

/// Samples per chunk: enough columns for an efficient GEMM, bounded column-buffer memory.
/// Depends only on the shapes, never on the thread count.
fn samples_per_chunk(g: &Geom) -> usize {
    let l = g.l().max(1);
    let want = GEMM_COLS.div_ceil(l);
    let cap = ((1usize << 22) / (g.kg() * l).max(1)).max(1);
    want.min(cap).min(g.n).max(1)
}

/// Splits `jobs` into contiguous groups, one per task the pool should run.
fn into_tasks<J>(jobs: Vec<J>, work: usize) -> Vec<Vec<J>> {
    let t = if num_threads() > 1 && work >= (1 << 20) {
        num_threads().min(jobs.len()).max(1)
    } else {
        1
    };
    let per = jobs.len().div_ceil(t).max(1);
    let mut tasks: Vec<Vec<J>> = Vec::with_capacity(t);
    for (i, j) in jobs.into_iter().enumerate() {
        if i % per == 0 {
            tasks.push(Vec::with_capacity(per));
        }
        tasks.last_mut().expect("pushed above").push(j);
    }
    tasks
}

/// Runs `f` on every job, in parallel on the kernel pool when `work` is large.
pub(crate) fn par_jobs<J: Send>(jobs: Vec<J>, work: usize, f: impl Fn(J) + Sync + Send) {
    if jobs.len() <= 1 {
        jobs.into_iter().for_each(f);
        return;
    }
    let cells: Vec<Mutex<Option<J>>> = jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    parallel_for(cells.len(), work, |i| {
        let job = cells[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(j) = job {
            f(j);
        }
    });
}

/// The weight as a strided `[cout, cg·kh·kw]` matrix: `(data, offset, row stride, col stride)`.
fn weight_matrix(weight: &Tensor, g: &Geom) -> Tensor {
    weight.reshape_to(&[g.cout, g.kg()])
}

/// Rows `co` of group `grp` of an upstream gradient `[n, cout, l]` for samples `n0..n0+bn`, as a
/// `[og, bn·l]` matrix: in place if `bn == 1`, else gathered into `buf`.
fn grad_block<'a, T: Copy>(
    gy: &'a [T],
    gs: [usize; 3],
    goff: usize,
    g: &Geom,
    grp: usize,
    n0: usize,
    bn: usize,
    buf: &'a mut [T],
) -> MatRef<'a, T> {
    let (og, l) = (g.og(), g.l());
    let base = goff + grp * og * gs[1];
    if bn == 1 {
        return MatRef {
            data: gy,
            offset: base + n0 * gs[0],
            rs: gs[1],
            cs: gs[2],
        };
    }
    let ld = bn * l;
    for co in 0..og {
        for s in 0..bn {
            let src = base + (n0 + s) * gs[0] + co * gs[1];
            let dst = &mut buf[co * ld + s * l..][..l];
            if gs[2] == 1 {
                dst.copy_from_slice(&gy[src..src + l]);
            } else {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = gy[src + i * gs[2]];
                }
            }
        }
    }
    MatRef {
        data: buf,
        offset: 0,
        rs: ld,
        cs: 1,
    }
}

// ------------------------------------------------------------------------------------------------
// kernels

/// Forward convolution: `out[n, co] = bias[co] + Σ w[co, c, i, j]·x[n, c, ...]` for any strides
/// of `x` (4-D). Returns a contiguous `[n, cout, oh, ow]` tensor.
fn conv_forward<T: Gemm>(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, g: &Geom) -> Tensor {
    let xv = View4::<T>::of(x, "conv2d");
    let wm = weight_matrix(weight, g);
    let wd = wm.typed::<T>("conv2d");
    let (wo, wrs, wcs) = (wm.layout().offset(), wm.strides()[0], wm.strides()[1]);
    let bias: Option<Cow<[T]>> = bias.map(|b| b.contiguous_data::<T>());
    let bias = bias.as_deref();
    let (l, og, kg) = (g.l(), g.og(), g.kg());
    let per = g.cout * l;
    let mut out = vec![T::zero(); g.n * per];
    if per == 0 || g.n == 0 {
        return Tensor::from_vec(out, &g.output_shape());
    }
    let b = samples_per_chunk(g);
    let jobs: Vec<(usize, &mut [T])> = out.chunks_mut(b * per).enumerate().collect();
    par_jobs(into_tasks(jobs, g.work()), g.work(), |task| {
        let mut col = vec![T::zero(); kg * b * l];
        let mut tmp = vec![T::zero(); if b > 1 { og * b * l } else { 0 }];
        for (ci, dst) in task {
            let (n0, bn) = (ci * b, dst.len() / per);
            let ld = bn * l;
            for grp in 0..g.groups {
                for s in 0..bn {
                    im2col(xv, n0 + s, grp * g.cg(), g, &mut col, ld, s * l);
                }
                let wref = MatRef {
                    data: wd,
                    offset: wo + grp * og * wrs,
                    rs: wrs,
                    cs: wcs,
                };
                let cref = MatRef {
                    data: &col[..],
                    offset: 0,
                    rs: ld,
                    cs: 1,
                };
                if bn == 1 {
                    let o = &mut dst[grp * og * l..(grp + 1) * og * l];
                    gemm_into(og, kg, l, wref, cref, o);
                    if let Some(bv) = bias {
                        for co in 0..og {
                            let bc = bv[grp * og + co];
                            o[co * l..(co + 1) * l]
                                .iter_mut()
                                .for_each(|v| *v = *v + bc);
                        }
                    }
                } else {
                    gemm_into(og, kg, ld, wref, cref, &mut tmp[..og * ld]);
                    for s in 0..bn {
                        for co in 0..og {
                            let c = grp * og + co;
                            let bc = bias.map_or(T::zero(), |bv| bv[c]);
                            let src = &tmp[co * ld + s * l..][..l];
                            let d = &mut dst[s * per + c * l..][..l];
                            for (d, &v) in d.iter_mut().zip(src) {
                                *d = v + bc;
                            }
                        }
                    }
                }
            }
        }
    });
    Tensor::from_vec(out, &g.output_shape())
}

/// Input gradient of the forward convolution: `dx = col2im(wᵀ · gy)`. `gy` is
/// `[n, cout, oh, ow]` with any strides. Returns a contiguous `[n, c, h, w]` tensor.
fn conv_backward_input<T: Gemm>(gy: &Tensor, weight: &Tensor, g: &Geom) -> Tensor {
    let gy3 = gy.reshape_to(&[g.n, g.cout, g.l()]);
    let gd = gy3.typed::<T>("conv2d_backward_input");
    let gs = [gy3.strides()[0], gy3.strides()[1], gy3.strides()[2]];
    let goff = gy3.layout().offset();
    let wm = weight_matrix(weight, g);
    let wd = wm.typed::<T>("conv2d_backward_input");
    let (wo, wrs, wcs) = (wm.layout().offset(), wm.strides()[0], wm.strides()[1]);
    let (l, og, kg, cg) = (g.l(), g.og(), g.kg(), g.cg());
    let per = g.c * g.h * g.w;
    let mut dx = vec![T::zero(); g.n * per];
    if per == 0 || g.n == 0 || l == 0 {
        return Tensor::from_vec(dx, &g.input_shape());
    }
    let b = samples_per_chunk(g);
    let jobs: Vec<(usize, &mut [T])> = dx.chunks_mut(b * per).enumerate().collect();
    par_jobs(into_tasks(jobs, g.work()), g.work(), |task| {
        let mut dcol = vec![T::zero(); kg * b * l];
        let mut gbuf = vec![T::zero(); if b > 1 { og * b * l } else { 0 }];
        for (ci, dst) in task {
            let (n0, bn) = (ci * b, dst.len() / per);
            let ld = bn * l;
            for grp in 0..g.groups {
                let gref = grad_block(gd, gs, goff, g, grp, n0, bn, &mut gbuf);
                let wt = MatRef {
                    data: wd,
                    offset: wo + grp * og * wrs,
                    rs: wcs,
                    cs: wrs,
                };
                gemm_into(kg, og, ld, wt, gref, &mut dcol[..kg * ld]);
                let chw = cg * g.h * g.w;
                for s in 0..bn {
                    col2im(&dcol, ld, s * l, g, &mut dst[s * per + grp * chw..][..chw]);
                }
            }
        }
    });
    Tensor::from_vec(dx, &g.input_shape())
}

/// Weight gradient of the forward convolution: `dw = Σ_n gy[n] · im2col(x[n])ᵀ`. `x` and `gy`
/// may have any strides. Returns a contiguous `[cout, c/groups, kh, kw]` tensor.
fn conv_backward_weight<T: Gemm>(gy: &Tensor, x: &Tensor, g: &Geom) -> Tensor {
    let xv = View4::<T>::of(x, "conv2d_backward_weight");
    let gy3 = gy.reshape_to(&[g.n, g.cout, g.l()]);
    let gd = gy3.typed::<T>("conv2d_backward_weight");
    let gs = [gy3.strides()[0], gy3.strides()[1], gy3.strides()[2]];
    let goff = gy3.layout().offset();
    let (l, og, kg) = (g.l(), g.og(), g.kg());
    let wlen = g.cout * kg;
    if g.n == 0 || l == 0 || wlen == 0 {
        return Tensor::from_vec(vec![T::zero(); wlen], &g.weight_shape());
    }
    let b = samples_per_chunk(g);
    let chunks = g.n.div_ceil(b);
    // A fixed number of partial sums (independent of the thread count), each over a fixed
    // contiguous run of chunks, added in order at the end: bit-identical for any thread count.
    let parts = chunks.min(8);
    let mut partial = vec![T::zero(); parts * wlen];
    let jobs: Vec<(usize, &mut [T])> = partial.chunks_mut(wlen).enumerate().collect();
    par_jobs(jobs, g.work(), |(p, acc)| {
        let (c0, c1) = (p * chunks / parts, (p + 1) * chunks / parts);
        let mut col = vec![T::zero(); kg * b * l];
        let mut gbuf = vec![T::zero(); if b > 1 { og * b * l } else { 0 }];
        let mut tmp = vec![T::zero(); og * kg];
        for ci in c0..c1 {
            let n0 = ci * b;
            let bn = b.min(g.n - n0);
            let ld = bn * l;
            for grp in 0..g.groups {
                for s in 0..bn {
                    im2col(xv, n0 + s, grp * g.cg(), g, &mut col, ld, s * l);
                }
                let gref = grad_block(gd, gs, goff, g, grp, n0, bn, &mut gbuf);
                let ct = MatRef {
                    data: &col[..],
                    offset: 0,
                    rs: 1,
                    cs: ld,
                };
                let a = &mut acc[grp * og * kg..(grp + 1) * og * kg];
                if ci == c0 {
                    gemm_into(og, ld, kg, gref, ct, a);
                } else {
                    gemm_into(og, ld, kg, gref, ct, &mut tmp);
                    for (d, &v) in a.iter_mut().zip(&tmp) {
                        *d = *d + v;
                    }
                }
            }
        }
    });
    let (first, rest) = partial.split_at_mut(wlen);
    for r in rest.chunks(wlen) {
        for (d, &v) in first.iter_mut().zip(r) {
            *d = *d + v;
        }
    }
    partial.truncate(wlen);
    Tensor::from_vec(partial, &g.weight_shape())
}

// ------------------------------------------------------------------------------------------------
// argument checks

/// The common float dtype of the tensors, or an error naming `op`.
fn same_float(op: &'static str, ts: &[&Tensor]) -> Result<DType> {
    let d = ts[0].dtype();
    if !d.is_float() {
        return Err(TensorError::DType {
            op,
            expected: "a floating-point tensor (f32 or f64)",
            got: d,
        });
    }
    for t in &ts[1..] {
        if t.dtype() != d {
            return Err(TensorError::invalid(
                op,
                format!(
                    "input type ({}) and weight/bias/grad type ({}) should be the same",
                    d,
                    t.dtype()
                ),
            ));
        }
    }
    Ok(d)
}

/// `t` as a 4-D tensor (adding a batch dim to a 3-D one) and whether it was unbatched.
fn batched4(op: &'static str, t: &Tensor, other: &[usize]) -> Result<(Tensor, bool)> {
    match t.rank() {
        4 => Ok((t.clone(), false)),
        3 => Ok((t.unsqueeze(0), true)),
        _ => Err(mismatch(
            op,
            t.shape(),
            other,
            "a 4-D (N, C, H, W) or unbatched 3-D (C, H, W) input".into(),
        )),
    }
}

/// An input shape as 4-D and whether it was unbatched.
fn shape4(op: &'static str, s: &[usize], other: &[usize]) -> Result<([usize; 4], bool)> {
    match s.len() {
        4 => Ok(([s[0], s[1], s[2], s[3]], false)),
        3 => Ok(([1, s[0], s[1], s[2]], true)),
        _ => Err(mismatch(
            op,
            s,
            other,
            "a 4-D (N, C, H, W) or unbatched 3-D (C, H, W) input shape".into(),
        )),
    }
}

fn check_bias(op: &'static str, bias: Option<&Tensor>, channels: usize) -> Result<()> {
    if let Some(b) = bias {
        if b.shape() != [channels] {
            return Err(mismatch(
                op,
                b.shape(),
                &[channels],
                format!("a bias of shape [{channels}]"),
            ));
        }
    }
    Ok(())
}

/// Upstream gradient as 4-D (matching an unbatched input) with the expected shape checked.
fn grad4(op: &'static str, grad_out: &Tensor, unbatched: bool, want: [usize; 4]) -> Result<Tensor> {
    let gy = if unbatched && grad_out.rank() == 3 {
        grad_out.unsqueeze(0)
    } else {
        grad_out.clone()
    };
    if gy.shape() != want {
        let shown: &[usize] = if unbatched { &want[1..] } else { &want };
        return Err(mismatch(
            op,
            grad_out.shape(),
            shown,
            format!("grad_output of the convolution's output shape {shown:?}"),
        ));
    }
    Ok(gy)
}

fn unbatch(t: Tensor, unbatched: bool) -> Tensor {
    if unbatched {
        t.squeeze(0)
    } else {
        t
    }
}

/// The bias gradient of a convolution: `grad_out` summed over every dim but the channel dim,
/// which is dim `rank - spatial - 1`.
fn bias_grad(op: &'static str, grad_out: &Tensor, spatial: usize) -> Result<Tensor> {
    let r = grad_out.rank();
    if r != spatial + 1 && r != spatial + 2 {
        return Err(mismatch(
            op,
            grad_out.shape(),
            &[],
            format!("a grad_output with {} or {} dims", spatial + 1, spatial + 2),
        ));
    }
    let ch = r - spatial - 1;
    let shape = grad_out.shape();
    let (outer, c, inner) = (
        shape[..ch].iter().product::<usize>(),
        shape[ch],
        shape[ch + 1..].iter().product::<usize>(),
    );
    with_float!(grad_out.dtype(), op, T => {
        let data = grad_out.contiguous_data::<T>();
        let mut out = vec![T::zero(); c];
        for o in 0..outer {
            for (k, acc) in out.iter_mut().enumerate() {
                *acc += sum_slice(&data[(o * c + k) * inner..][..inner]);
            }
        }
        Tensor::from_vec(out, &[c])
    })
}

/// Sum of a slice with eight independent accumulators (vectorizes; fixed order).
fn sum_slice<T: Float>(s: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i] + c[i];
        }
    }
    let mut t = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rest {
        t = t + v;
    }
    t
}

// ------------------------------------------------------------------------------------------------
// public API: forward

impl Tensor {
    /// 2-D convolution (`torch.nn.functional.conv2d(input, weight, bias, stride, padding,
    /// dilation, groups)`), strictly a cross-correlation as in PyTorch.
    ///
    /// `self` is `[N, C, H, W]` or unbatched `[C, H, W]`, `weight` is
    /// `[Cout, C/groups, kh, kw]`, `bias` is `[Cout]`. The result is `[N, Cout, OH, OW]` (or
    /// `[Cout, OH, OW]`) with `OH = (H + 2·ph - dh·(kh-1) - 1)/sh + 1`. Any input strides are
    /// read in place.
    ///
    /// # Panics
    /// If the shapes, options or dtypes are invalid (see [`Tensor::try_conv2d`]); the message
    /// names `conv2d` and both shapes.
    #[track_caller]
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv2dOptions) -> Tensor {
        or_panic(self.try_conv2d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv2d`].
    ///
    /// # Errors
    /// If the input is not 3-D/4-D, the weight is not 4-D, the channels do not match
    /// `weight.shape[1]·groups`, `Cout` is not divisible by `groups`, the bias is not `[Cout]`,
    /// the dilated kernel exceeds the padded input, stride/dilation/groups are 0, `"same"`
    /// padding is combined with a stride, or the dtypes are not one float type.
    pub fn try_conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &Conv2dOptions,
    ) -> Result<Tensor> {
        const OP: &str = "conv2d";
        let mut ts = vec![self, weight];
        ts.extend(bias);
        let d = same_float(OP, &ts)?;
        let (x, unbatched) = batched4(OP, self, weight.shape())?;
        let g = conv_geom(OP, x.shape(), weight.shape(), opts)?;
        check_bias(OP, bias, g.cout)?;
        let out = with_float!(d, OP, T => conv_forward::<T>(&x, weight, bias, &g))?;
        Ok(unbatch(out, unbatched))
    }

    /// 1-D convolution (`torch.nn.functional.conv1d`): `self` is `[N, C, L]` or unbatched
    /// `[C, L]`, `weight` is `[Cout, C/groups, k]`, `bias` is `[Cout]`; the result is
    /// `[N, Cout, OL]` (or `[Cout, OL]`). Computed as [`Tensor::conv2d`] with a height of 1.
    ///
    /// # Panics
    /// If the shapes, options or dtypes are invalid (see [`Tensor::try_conv1d`]).
    #[track_caller]
    pub fn conv1d(&self, weight: &Tensor, bias: Option<&Tensor>, opts: &Conv1dOptions) -> Tensor {
        or_panic(self.try_conv1d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv1d`].
    ///
    /// # Errors
    /// If the input is not 2-D/3-D, the weight is not 3-D, or anything
    /// [`Tensor::try_conv2d`] rejects.
    pub fn try_conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &Conv1dOptions,
    ) -> Result<Tensor> {
        check_1d("conv1d", self.shape(), weight.shape())?;
        let out = self
            .unsqueeze(-2)
            .try_conv2d(&weight.unsqueeze(-2), bias, &opts.to_2d())
            .map_err(|e| rename_1d(e, "conv1d", self.shape(), weight.shape()))?;
        Ok(out.squeeze(-2))
    }

    /// 2-D transposed convolution (`torch.nn.functional.conv_transpose2d(input, weight, bias,
    /// stride, padding, output_padding, groups, dilation)`), the gradient of `conv2d` with
    /// respect to its input.
    ///
    /// `self` is `[N, Cin, H, W]` or unbatched `[Cin, H, W]`, `weight` is
    /// `[Cin, Cout/groups, kh, kw]`, `bias` is `[Cout]`. The result is `[N, Cout, OH, OW]` with
    /// `OH = (H-1)·sh - 2·ph + dh·(kh-1) + output_padding_h + 1`.
    ///
    /// # Panics
    /// If the shapes, options or dtypes are invalid (see [`Tensor::try_conv_transpose2d`]).
    #[track_caller]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &ConvTranspose2dOptions,
    ) -> Tensor {
        or_panic(self.try_conv_transpose2d(weight, bias, opts))
    }

    /// Fallible [`Tensor::conv_transpose2d`].
    ///
    /// # Errors
    /// If the input is not 3-D/4-D, the weight is not 4-D or its first dim differs from the
    /// input channels, the channels are not divisible by `groups`, the bias is not `[Cout]`,
    /// `output_padding` is not smaller than stride or dilation, the output would be empty, or
    /// the dtypes are not one float type.
    pub fn try_conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &ConvTranspose2dOptions,
    ) -> Result<Tensor> {
        const OP: &str = "conv_transpose2d";
        let mut ts = vec![self, weight];
        ts.extend(bias);
        let d = same_float(OP, &ts)?;
        let (x, unbatched) = batched4(OP, self, weight.shape())?;
        let g = transpose_geom(OP, x.shape(), weight.shape(), opts)?;
        check_bias(OP, bias, g.c)?;
        let mut out = with_float!(d, OP, T => conv_backward_input::<T>(&x, weight, &g))?;
        if let Some(b) = bias {
            out = out.try_add(&b.reshape_to(&[g.c, 1, 1]))?;
        }
        Ok(unbatch(out, unbatched))
    }
}

fn check_1d(op: &'static str, input: &[usize], weight: &[usize]) -> Result<()> {
    if !(input.len() == 2 || input.len() == 3) || weight.len() != 3 {
        return Err(mismatch(
            op,
            input,
            weight,
            "a 3-D (N, C, L) or unbatched 2-D (C, L) input and a 3-D weight".into(),
        ));
    }
    Ok(())
}

/// Renames a conv2d error raised on the unsqueezed 1-D problem.
fn rename_1d(e: TensorError, op: &'static str, lhs: &[usize], rhs: &[usize]) -> TensorError {
    match e {
        TensorError::ShapeMismatch { expected, .. } => mismatch(op, lhs, rhs, expected),
        TensorError::Invalid { message, .. } => TensorError::invalid(op, message),
        TensorError::DType { expected, got, .. } => TensorError::DType { op, expected, got },
        other => other,
    }
}

// ------------------------------------------------------------------------------------------------
// public API: backward kernels

/// Gradient of [`Tensor::conv2d`] with respect to its input: the vector-Jacobian product with
/// `grad_out` (PyTorch `torch.nn.grad.conv2d_input(input_shape, weight, grad_output, ...)`).
///
/// `grad_out` has the convolution's output shape, `weight` is the forward weight, and
/// `input_shape` is the forward input's shape (4-D, or 3-D for an unbatched input). Returns a
/// contiguous tensor of `input_shape`.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv2d_backward_input`]).
#[track_caller]
pub fn conv2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv2dOptions,
) -> Tensor {
    or_panic(try_conv2d_backward_input(
        grad_out,
        weight,
        input_shape,
        opts,
    ))
}

/// Fallible [`conv2d_backward_input`].
///
/// # Errors
/// If `input_shape` and `weight` are not a valid [`Tensor::conv2d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv2d_backward_input";
    let d = same_float(OP, &[grad_out, weight])?;
    let (s, unbatched) = shape4(OP, input_shape, weight.shape())?;
    let g = conv_geom(OP, &s, weight.shape(), opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.output_shape())?;
    let dx = with_float!(d, OP, T => conv_backward_input::<T>(&gy, weight, &g))?;
    Ok(unbatch(dx, unbatched))
}

/// Gradient of [`Tensor::conv2d`] with respect to its weight: `Σ_n grad_out[n] ⊛ input[n]`
/// (PyTorch `torch.nn.grad.conv2d_weight(input, weight_shape, grad_output, ...)`).
///
/// `input` is the forward input (any strides, 4-D or unbatched 3-D) and `weight_shape` the
/// forward weight's shape. Returns a contiguous tensor of `weight_shape`.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv2d_backward_weight`]).
#[track_caller]
pub fn conv2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv2dOptions,
) -> Tensor {
    or_panic(try_conv2d_backward_weight(
        grad_out,
        input,
        weight_shape,
        opts,
    ))
}

/// Fallible [`conv2d_backward_weight`].
///
/// # Errors
/// If `input` and `weight_shape` are not a valid [`Tensor::conv2d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv2d_backward_weight";
    let d = same_float(OP, &[grad_out, input])?;
    let (x, unbatched) = batched4(OP, input, weight_shape)?;
    let g = conv_geom(OP, x.shape(), weight_shape, opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.output_shape())?;
    with_float!(d, OP, T => conv_backward_weight::<T>(&gy, &x, &g))
}

/// Gradient of [`Tensor::conv2d`] with respect to its bias: `grad_out` summed over the batch
/// and spatial dims (`grad_output.sum((0, 2, 3))` in PyTorch; `(1, 2)` if unbatched).
///
/// # Panics
/// If `grad_out` is not 3-D or 4-D or not float.
#[track_caller]
pub fn conv2d_backward_bias(grad_out: &Tensor) -> Tensor {
    or_panic(try_conv2d_backward_bias(grad_out))
}

/// Fallible [`conv2d_backward_bias`].
///
/// # Errors
/// If `grad_out` is not 3-D or 4-D or not float.
pub fn try_conv2d_backward_bias(grad_out: &Tensor) -> Result<Tensor> {
    bias_grad("conv2d_backward_bias", grad_out, 2)
}

/// Gradient of [`Tensor::conv1d`] with respect to its input (`torch.nn.grad.conv1d_input`).
/// `input_shape` is `[N, C, L]` or unbatched `[C, L]`; returns a contiguous tensor of that shape.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv1d_backward_input`]).
#[track_caller]
pub fn conv1d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv1dOptions,
) -> Tensor {
    or_panic(try_conv1d_backward_input(
        grad_out,
        weight,
        input_shape,
        opts,
    ))
}

/// Fallible [`conv1d_backward_input`].
///
/// # Errors
/// If `input_shape` and `weight` are not a valid [`Tensor::conv1d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv1d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &Conv1dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv1d_backward_input";
    check_1d(OP, input_shape, weight.shape())?;
    let mut s = input_shape.to_vec();
    s.insert(s.len() - 1, 1);
    let dx = try_conv2d_backward_input(
        &grad_out.unsqueeze(-2),
        &weight.unsqueeze(-2),
        &s,
        &opts.to_2d(),
    )
    .map_err(|e| rename_1d(e, OP, grad_out.shape(), weight.shape()))?;
    Ok(dx.squeeze(-2))
}

/// Gradient of [`Tensor::conv1d`] with respect to its weight (`torch.nn.grad.conv1d_weight`).
/// Returns a contiguous tensor of `weight_shape` (`[Cout, C/groups, k]`).
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see [`try_conv1d_backward_weight`]).
#[track_caller]
pub fn conv1d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv1dOptions,
) -> Tensor {
    or_panic(try_conv1d_backward_weight(
        grad_out,
        input,
        weight_shape,
        opts,
    ))
}

/// Fallible [`conv1d_backward_weight`].
///
/// # Errors
/// If `input` and `weight_shape` are not a valid [`Tensor::conv1d`] problem under `opts`,
/// `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv1d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &Conv1dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv1d_backward_weight";
    check_1d(OP, input.shape(), weight_shape)?;
    let ws = [weight_shape[0], weight_shape[1], 1, weight_shape[2]];
    let dw = try_conv2d_backward_weight(
        &grad_out.unsqueeze(-2),
        &input.unsqueeze(-2),
        &ws,
        &opts.to_2d(),
    )
    .map_err(|e| rename_1d(e, OP, grad_out.shape(), weight_shape))?;
    Ok(dw.squeeze(-2))
}

/// Gradient of [`Tensor::conv1d`] with respect to its bias: `grad_out` summed over the batch
/// and length dims (`grad_output.sum((0, 2))`; `(1,)` if unbatched).
///
/// # Panics
/// If `grad_out` is not 2-D or 3-D or not float.
#[track_caller]
pub fn conv1d_backward_bias(grad_out: &Tensor) -> Tensor {
    or_panic(try_conv1d_backward_bias(grad_out))
}

/// Fallible [`conv1d_backward_bias`].
///
/// # Errors
/// If `grad_out` is not 2-D or 3-D or not float.
pub fn try_conv1d_backward_bias(grad_out: &Tensor) -> Result<Tensor> {
    bias_grad("conv1d_backward_bias", grad_out, 1)
}

/// Gradient of [`Tensor::conv_transpose2d`] with respect to its input: the forward `conv2d`
/// of `grad_out` with the same weight, stride, padding, dilation and groups.
///
/// `input_shape` is the forward input's shape (`[N, Cin, H, W]` or unbatched); returns a
/// contiguous tensor of that shape.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see
/// [`try_conv_transpose2d_backward_input`]).
#[track_caller]
pub fn conv_transpose2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Tensor {
    or_panic(try_conv_transpose2d_backward_input(
        grad_out,
        weight,
        input_shape,
        opts,
    ))
}

/// Fallible [`conv_transpose2d_backward_input`].
///
/// # Errors
/// If `input_shape` and `weight` are not a valid [`Tensor::conv_transpose2d`] problem under
/// `opts`, `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv_transpose2d_backward_input(
    grad_out: &Tensor,
    weight: &Tensor,
    input_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv_transpose2d_backward_input";
    let d = same_float(OP, &[grad_out, weight])?;
    let (s, unbatched) = shape4(OP, input_shape, weight.shape())?;
    let g = transpose_geom(OP, &s, weight.shape(), opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.input_shape())?;
    let dx = with_float!(d, OP, T => conv_forward::<T>(&gy, weight, None, &g))?;
    Ok(unbatch(dx, unbatched))
}

/// Gradient of [`Tensor::conv_transpose2d`] with respect to its weight
/// (`[Cin, Cout/groups, kh, kw]`): `Σ_n input[n] ⊛ grad_out[n]`.
///
/// `input` is the forward input (any strides); returns a contiguous tensor of `weight_shape`.
///
/// # Panics
/// If the shapes, options or dtypes are inconsistent (see
/// [`try_conv_transpose2d_backward_weight`]).
#[track_caller]
pub fn conv_transpose2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Tensor {
    or_panic(try_conv_transpose2d_backward_weight(
        grad_out,
        input,
        weight_shape,
        opts,
    ))
}

/// Fallible [`conv_transpose2d_backward_weight`].
///
/// # Errors
/// If `input` and `weight_shape` are not a valid [`Tensor::conv_transpose2d`] problem under
/// `opts`, `grad_out` does not have its output shape, or the dtypes are not one float type.
pub fn try_conv_transpose2d_backward_weight(
    grad_out: &Tensor,
    input: &Tensor,
    weight_shape: &[usize],
    opts: &ConvTranspose2dOptions,
) -> Result<Tensor> {
    const OP: &str = "conv_transpose2d_backward_weight";
    let d = same_float(OP, &[grad_out, input])?;
    let (x, unbatched) = batched4(OP, input, weight_shape)?;
    let g = transpose_geom(OP, x.shape(), weight_shape, opts)?;
    let gy = grad4(OP, grad_out, unbatched, g.input_shape())?;
    // conv_transpose2d's input plays the forward conv's upstream gradient and its upstream
    // gradient the forward conv's input.
    with_float!(d, OP, T => conv_backward_weight::<T>(&x, &gy, &g))
}

/// Gradient of [`Tensor::conv_transpose2d`] with respect to its bias: `grad_out` summed over
/// the batch and spatial dims.
///
/// # Panics
/// If `grad_out` is not 3-D or 4-D or not float.
#[track_caller]
pub fn conv_transpose2d_backward_bias(grad_out: &Tensor) -> Tensor {
    or_panic(try_conv_transpose2d_backward_bias(grad_out))
}

/// Fallible [`conv_transpose2d_backward_bias`].
///
/// # Errors
/// If `grad_out` is not 3-D or 4-D or not float.
pub fn try_conv_transpose2d_backward_bias(grad_out: &Tensor) -> Result<Tensor> {
    bias_grad("conv_transpose2d_backward_bias", grad_out, 2)
}
