//! The im2col lowering: strided views, unfolding samples into column matrices and folding them
//! back, the per-chunk batching and the jobs it hands to the kernel pool.

#[allow(unused_imports)]
use num_traits::{Float, Zero};

use crate::ops::matmul::MatRef;
use crate::tensor::Tensor;
use crate::threading::num_threads;

use super::geom::Geom;

/// A 4-D strided view into a typed buffer.
#[derive(Clone, Copy)]
pub(super) struct View4<'a, T> {
    pub(super) data: &'a [T],
    pub(super) off: usize,
    pub(super) s: [usize; 4],
}

impl<'a, T: crate::dtype::Element> View4<'a, T> {
    pub(super) fn of(t: &'a Tensor, op: &'static str) -> Self {
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
pub(super) fn im2col<T: Copy + Zero>(
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
pub(super) fn col2im<T: Float>(col: &[T], ld: usize, col0: usize, g: &Geom, dx: &mut [T]) {
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
pub(super) const GEMM_COLS: usize = 256;

/// Samples per chunk: enough columns for an efficient GEMM, bounded column-buffer memory.
/// Depends only on the shapes, never on the thread count.
pub(super) fn samples_per_chunk(g: &Geom) -> usize {
    let l = g.l().max(1);
    let want = GEMM_COLS.div_ceil(l);
    let cap = ((1usize << 22) / (g.kg() * l).max(1)).max(1);
    want.min(cap).min(g.n).max(1)
}

/// Splits `jobs` into contiguous groups, one per task the pool should run.
pub(super) fn into_tasks<J>(jobs: Vec<J>, work: usize) -> Vec<Vec<J>> {
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

/// The weight as a strided `[cout, cg·kh·kw]` matrix: `(data, offset, row stride, col stride)`.
pub(super) fn weight_matrix(weight: &Tensor, g: &Geom) -> Tensor {
    weight.reshape_to(&[g.cout, g.kg()])
}

/// Rows `co` of group `grp` of an upstream gradient `[n, cout, l]` for samples `n0..n0+bn`, as a
/// `[og, bn·l]` matrix: in place if `bn == 1`, else gathered into `buf`.
pub(super) fn grad_block<'a, T: Copy>(
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
