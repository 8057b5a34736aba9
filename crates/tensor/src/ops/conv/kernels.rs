//! The three im2col + GEMM kernels every convolution and its gradients run on.

use std::borrow::Cow;

#[allow(unused_imports)]
use num_traits::{Float, Zero};

use crate::ops::matmul::{gemm_into, Gemm, MatRef};
use crate::pool::Scratch;
use crate::tensor::Tensor;
use crate::threading::par_jobs;

use super::geom::Geom;
use super::lowering::*;

/// Forward convolution: `out[n, co] = bias[co] + Σ w[co, c, i, j]·x[n, c, ...]` for any strides
/// of `x` (4-D). Returns a contiguous `[n, cout, oh, ow]` tensor.
pub(super) fn conv_forward<T: Gemm>(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    g: &Geom,
) -> Tensor {
    let xv = View4::<T>::of(x, "conv2d");
    let wm = weight_matrix(weight, g);
    let wd = wm.typed::<T>("conv2d");
    let (wo, wrs, wcs) = (wm.layout().offset(), wm.strides()[0], wm.strides()[1]);
    let bias: Option<Cow<[T]>> = bias.map(|b| b.contiguous_data::<T>());
    let bias = bias.as_deref();
    let (l, og, kg) = (g.l(), g.og(), g.kg());
    let per = g.cout * l;
    let mut out = crate::pool::zeroed(g.n * per);
    if per == 0 || g.n == 0 {
        return Tensor::from_vec(out, &g.output_shape());
    }
    let b = samples_per_chunk(g);
    let jobs: Vec<(usize, &mut [T])> = out.chunks_mut(b * per).enumerate().collect();
    par_jobs(into_tasks(jobs, g.work()), g.work(), |task| {
        let mut col = Scratch::<T>::zeroed(kg * b * l);
        let mut tmp = Scratch::<T>::zeroed(if b > 1 { og * b * l } else { 0 });
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
pub(super) fn conv_backward_input<T: Gemm>(gy: &Tensor, weight: &Tensor, g: &Geom) -> Tensor {
    let gy3 = gy.reshape_to(&[g.n, g.cout, g.l()]);
    let gd = gy3.typed::<T>("conv2d_backward_input");
    let gs = [gy3.strides()[0], gy3.strides()[1], gy3.strides()[2]];
    let goff = gy3.layout().offset();
    let wm = weight_matrix(weight, g);
    let wd = wm.typed::<T>("conv2d_backward_input");
    let (wo, wrs, wcs) = (wm.layout().offset(), wm.strides()[0], wm.strides()[1]);
    let (l, og, kg, cg) = (g.l(), g.og(), g.kg(), g.cg());
    let per = g.c * g.h * g.w;
    let mut dx = crate::pool::zeroed(g.n * per);
    if per == 0 || g.n == 0 || l == 0 {
        return Tensor::from_vec(dx, &g.input_shape());
    }
    let b = samples_per_chunk(g);
    let jobs: Vec<(usize, &mut [T])> = dx.chunks_mut(b * per).enumerate().collect();
    par_jobs(into_tasks(jobs, g.work()), g.work(), |task| {
        let mut dcol = Scratch::<T>::zeroed(kg * b * l);
        let mut gbuf = Scratch::<T>::zeroed(if b > 1 { og * b * l } else { 0 });
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
pub(super) fn conv_backward_weight<T: Gemm>(gy: &Tensor, x: &Tensor, g: &Geom) -> Tensor {
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
    let mut partial = crate::pool::zeroed(parts * wlen);
    let jobs: Vec<(usize, &mut [T])> = partial.chunks_mut(wlen).enumerate().collect();
    par_jobs(jobs, g.work(), |(p, acc)| {
        let (c0, c1) = (p * chunks / parts, (p + 1) * chunks / parts);
        let mut col = Scratch::<T>::zeroed(kg * b * l);
        let mut gbuf = Scratch::<T>::zeroed(if b > 1 { og * b * l } else { 0 });
        let mut tmp = Scratch::<T>::zeroed(og * kg);
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
                    for (d, &v) in a.iter_mut().zip(tmp.iter()) {
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
