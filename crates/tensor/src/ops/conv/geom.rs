//! The geometry of a convolution: the shapes of its input, weight and output, checked against
//! the options.

use crate::error::{Result, TensorError};

use super::options::{Conv2dOptions, ConvTranspose2dOptions, Padding2d};

/// The shape of one (forward) 2-D convolution: input `[n, c, h, w]`, weight
/// `[cout, c/groups, k0, k1]`, output `[n, cout, oh, ow]`, and the padding before each dim.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geom {
    pub(super) n: usize,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) cout: usize,
    pub(super) groups: usize,
    pub(super) k: [usize; 2],
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) stride: [usize; 2],
    pub(super) pad: [usize; 2],
    pub(super) dil: [usize; 2],
}

impl Geom {
    pub(super) fn cg(&self) -> usize {
        self.c / self.groups
    }
    pub(super) fn og(&self) -> usize {
        self.cout / self.groups
    }
    pub(super) fn kg(&self) -> usize {
        self.cg() * self.k[0] * self.k[1]
    }
    pub(super) fn l(&self) -> usize {
        self.oh * self.ow
    }
    pub(super) fn input_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    pub(super) fn weight_shape(&self) -> [usize; 4] {
        [self.cout, self.cg(), self.k[0], self.k[1]]
    }
    pub(super) fn output_shape(&self) -> [usize; 4] {
        [self.n, self.cout, self.oh, self.ow]
    }
    /// Multiply-adds of the forward product.
    pub(super) fn work(&self) -> usize {
        self.n * self.cout * self.kg() * self.l()
    }
}

pub(super) fn mismatch(
    op: &'static str,
    lhs: &[usize],
    rhs: &[usize],
    expected: String,
) -> TensorError {
    TensorError::ShapeMismatch {
        op,
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
        expected,
    }
}

/// Checks the options and shapes of a forward convolution of `input` (4-D) with `weight` (4-D)
/// and computes its geometry.
pub(super) fn conv_geom(
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
pub(super) fn transpose_geom(
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
