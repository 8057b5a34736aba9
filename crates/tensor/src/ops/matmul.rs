//! Matrix products (`torch.matmul` semantics) through `matrixmultiply`'s sgemm/dgemm.
//!
//! Strides are passed straight to the GEMM, so a transposed or otherwise strided operand is
//! never copied. Batch dims broadcast; a 2-D right operand shared by a contiguous batch is
//! folded into one large product. Large products are split by rows of the output over the
//! kernel thread pool: each output element is computed by exactly one call with the same
//! blocking, so results do not depend on the thread count.

#[allow(unused_imports)]
use num_traits::{Float, FloatConst, One, Zero};
use smallvec::SmallVec;

use crate::dtype::FloatElement;
use crate::error::{or_panic, Result, TensorError};
use crate::layout::{broadcast_shapes, Dims};
use crate::ops::binary::promote;
use crate::strided::walk;
use crate::tensor::Tensor;
use crate::threading::split_count;
use crate::with_float;

/// Element types with a GEMM kernel (`f32`, `f64`).
pub trait Gemm: FloatElement {
    /// `C = A·B` for strided `A` (m×k), `B` (k×n), written into `C` (m×n) with strides.
    ///
    /// # Safety
    /// Pointers and strides must address valid elements for the given sizes, and `c` must not
    /// alias `a` or `b`.
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );

    /// `C = A·B + beta·C` (as [`Gemm::gemm`]; `beta = 0` ignores the old contents of `C`).
    ///
    /// # Safety
    /// As [`Gemm::gemm`].
    unsafe fn gemm_beta(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

/// `C = A·B` (or `C += A·B` with `accumulate`) on plain slices, for kernels that keep their
/// own buffers (the fused recurrences). `C` is `m×n` row-major. `A` is `m×k` row-major, or,
/// with `a_t`, stored `k×m` row-major and used transposed; likewise `B` (`k×n`, or `n×k` with
/// `b_t`). Single-threaded.
///
/// # Panics
/// If a slice is shorter than its matrix.
#[track_caller]
pub fn gemm_slices<T: Gemm>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    a_t: bool,
    b: &[T],
    b_t: bool,
    c: &mut [T],
    accumulate: bool,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm_slices: buffers of {}, {} and {} elements for a {m}×{k}·{k}×{n} product",
        a.len(),
        b.len(),
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].iter_mut().for_each(|x| *x = T::zero());
        }
        return;
    }
    let (rsa, csa) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    let beta = if accumulate { T::one() } else { T::zero() };
    // SAFETY: the asserts above keep every addressed element inside the slices; `c` is a
    // unique borrow, so it cannot alias `a` or `b`.
    unsafe {
        T::gemm_beta(
            m,
            k,
            n,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

impl Gemm for f32 {
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, csc) }
    }

    unsafe fn gemm_beta(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

impl Gemm for f64 {
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, csc) }
    }

    unsafe fn gemm_beta(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

/// A raw output pointer shared by GEMM blocks that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: blocks write disjoint elements (see `gemm_into`); the pointee outlives the scope.
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above; the pointer itself is only copied, never used to create shared references.
unsafe impl<T> Sync for SendPtr<T> {}

/// Below this many multiply-adds a plain loop beats packing for the GEMM kernel.
const SMALL_GEMM: usize = 4096;

/// A strided matrix inside a buffer.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

/// `out[m×n] (row-major, contiguous) = a[m×k] · b[k×n]`.
pub(crate) fn gemm_into<T: Gemm>(
    m: usize,
    k: usize,
    n: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    out: &mut [T],
) {
    debug_assert_eq!(out.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.iter_mut().for_each(|o| *o = T::zero());
        return;
    }
    let work = m * n * k;
    if work <= SMALL_GEMM {
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                let mut ia = a.offset + i * a.rs;
                let mut ib = b.offset + j * b.cs;
                for _ in 0..k {
                    acc = acc + a.data[ia] * b.data[ib];
                    ia += a.cs;
                    ib += b.rs;
                }
                out[i * n + j] = acc;
            }
        }
        return;
    }
    // bounds: the last element each operand touches lies inside its slice
    assert!(a.offset + (m - 1) * a.rs + (k - 1) * a.cs < a.data.len());
    assert!(b.offset + (k - 1) * b.rs + (n - 1) * b.cs < b.data.len());
    // Split the larger output dimension: row blocks when M >= N, column blocks otherwise, so
    // each thread packs only its share of the larger operand. Every output element is still
    // computed by one call with the same K blocking, so results do not depend on the split.
    let split_rows = m >= n;
    let blocks = split_count(if split_rows { m } else { n }, work);
    let per = if split_rows { m } else { n }.div_ceil(blocks.max(1));
    let out_ptr = SendPtr(out.as_mut_ptr());
    let run = |i: usize| {
        let (r0, rows, c0, cols) = if split_rows {
            let r0 = i * per;
            (r0, per.min(m - r0), 0, n)
        } else {
            let c0 = i * per;
            (0, m, c0, per.min(n - c0))
        };
        if rows == 0 || cols == 0 {
            return;
        }
        let c = out_ptr;
        // SAFETY: A's rows r0..r0+rows and B's columns c0..c0+cols are in bounds (checked
        // above); block i writes only rows r0.. / columns c0.. of `out`, disjoint from every
        // other block, and `out` outlives the scope.
        unsafe {
            T::gemm(
                rows,
                k,
                cols,
                a.data.as_ptr().add(a.offset + r0 * a.rs),
                a.rs as isize,
                a.cs as isize,
                b.data.as_ptr().add(b.offset + c0 * b.cs),
                b.rs as isize,
                b.cs as isize,
                c.0.add(r0 * n + c0),
                n as isize,
                1,
            )
        };
    };
    if blocks <= 1 {
        run(0);
    } else {
        crate::threading::parallel_for(blocks, work, run);
    }
}

impl Tensor {
    /// Matrix product with `torch.matmul` semantics: 1-D·1-D is a dot product, 2-D·2-D a
    /// matrix product, 1-D operands are promoted to a matrix and the added dim removed, and
    /// higher ranks are batched with broadcast batch dims.
    ///
    /// # Panics
    /// If the inner dimensions differ, the batch dims do not broadcast, or an operand is 0-d
    /// or not float.
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        or_panic(self.try_matmul(other))
    }

    /// Fallible [`Tensor::matmul`].
    ///
    /// # Errors
    /// If the inner dimensions differ, the batch dims do not broadcast, or an operand is 0-d
    /// or not float.
    pub fn try_matmul(&self, other: &Tensor) -> Result<Tensor> {
        matmul_shape(self.shape(), other.shape())?;
        let (ra, rb) = (self.rank(), other.rank());
        let d = promote(self.dtype(), other.dtype());
        let (a, b) = (self.to_dtype(d), other.to_dtype(d));
        if ra == 1 && rb == 1 {
            return a
                .unsqueeze(0)
                .try_matmul(&b.unsqueeze(1))
                .map(|r| r.reshape_to(&[]));
        }
        if ra == 1 {
            return a.unsqueeze(0).try_matmul(&b).map(|r| r.squeeze(-2));
        }
        if rb == 1 {
            return a.try_matmul(&b.unsqueeze(1)).map(|r| r.squeeze(-1));
        }
        let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
        let batch = broadcast_shapes("matmul", &a.shape()[..ra - 2], &b.shape()[..rb - 2])?;
        with_float!(d, "matmul", T => batched::<T>(&a, &b, &batch, m, k, n)?)
    }
}

/// The shape of `torch.matmul(a, b)` for operands of shapes `lhs` and `rhs`: 1-D operands are
/// promoted to a row (left) or column (right) and the added dim removed, batch dims broadcast.
///
/// # Errors
/// If an operand is 0-d, the inner dimensions differ, or the batch dims do not broadcast; the
/// error names `matmul` and both shapes.
pub fn matmul_shape(lhs: &[usize], rhs: &[usize]) -> Result<Dims> {
    let mismatch = |expected: String| TensorError::ShapeMismatch {
        op: "matmul",
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
        expected,
    };
    let (ra, rb) = (lhs.len(), rhs.len());
    if ra == 0 || rb == 0 {
        return Err(mismatch("both arguments need at least 1 dimension".into()));
    }
    let k = lhs[ra - 1];
    let k2 = if rb == 1 { rhs[0] } else { rhs[rb - 2] };
    if k != k2 {
        return Err(mismatch(format!("inner dimensions to agree ({k} vs {k2})")));
    }
    let batch_a = if ra > 2 { &lhs[..ra - 2] } else { &[][..] };
    let batch_b = if rb > 2 { &rhs[..rb - 2] } else { &[][..] };
    let mut out = broadcast_shapes("matmul", batch_a, batch_b)?;
    if ra > 1 {
        out.push(lhs[ra - 2]);
    }
    if rb > 1 {
        out.push(rhs[rb - 1]);
    }
    Ok(out)
}

fn batched<T: Gemm>(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Result<Tensor> {
    let (ra, rb) = (a.rank(), b.rank());
    let mut out_shape: Dims = SmallVec::from_slice(batch);
    out_shape.push(m);
    out_shape.push(n);
    let nb: usize = batch.iter().product();
    let mut out = crate::pool::filled(nb * m * n, T::zero());
    let da = a.typed::<T>("matmul");
    let db = b.typed::<T>("matmul");
    let (sa, sb) = (a.strides(), b.strides());

    // Fold a contiguous-batch left operand times a shared 2-D right operand into one GEMM.
    if rb == 2 && ra > 2 {
        let folded = a.reshape_to(&[nb * m, k]);
        if folded.shares_storage(a) {
            let (fs, fo) = (folded.strides().to_vec(), folded.layout().offset());
            gemm_into(
                nb * m,
                k,
                n,
                MatRef {
                    data: da,
                    offset: fo,
                    rs: fs[0],
                    cs: fs[1],
                },
                MatRef {
                    data: db,
                    offset: b.layout().offset(),
                    rs: sb[0],
                    cs: sb[1],
                },
                &mut out,
            );
            return Ok(Tensor::from_vec(out, &out_shape));
        }
    }

    let mut a_batch_shape: Dims = SmallVec::from_slice(batch);
    a_batch_shape.extend_from_slice(&[m, k]);
    let mut b_batch_shape: Dims = SmallVec::from_slice(batch);
    b_batch_shape.extend_from_slice(&[k, n]);
    let la = a.layout().expand(&a_batch_shape)?;
    let lb = b.layout().expand(&b_batch_shape)?;
    let nbd = batch.len();
    let (ars, acs) = (la.strides()[nbd], la.strides()[nbd + 1]);
    let (brs, bcs) = (lb.strides()[nbd], lb.strides()[nbd + 1]);
    let _ = (sa, sb);
    let mut offsets = Vec::with_capacity(nb);
    walk(
        batch,
        [&la.strides()[..nbd], &lb.strides()[..nbd]],
        [la.offset(), lb.offset()],
        |[oa, ob]| offsets.push((oa, ob)),
    );
    for (i, (oa, ob)) in offsets.into_iter().enumerate() {
        gemm_into(
            m,
            k,
            n,
            MatRef {
                data: da,
                offset: oa,
                rs: ars,
                cs: acs,
            },
            MatRef {
                data: db,
                offset: ob,
                rs: brs,
                cs: bcs,
            },
            &mut out[i * m * n..(i + 1) * m * n],
        );
    }
    Ok(Tensor::from_vec(out, &out_shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        c
    }

    fn seq(n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7919) % 23) as f64 * scale - 1.0)
            .collect()
    }

    #[test]
    fn odd_sizes_and_transposed_operands_match_naive() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 2),
            (17, 13, 11),
            (65, 63, 67),
            (2, 257, 3),
            (40, 40, 40),
        ] {
            let av = seq(m * k, 0.1);
            let bv = seq(k * n, 0.07);
            let want = naive(&av, &bv, m, k, n);
            let a = Tensor::from_vec(av.clone(), &[m, k]);
            let b = Tensor::from_vec(bv.clone(), &[k, n]);
            let got = a.matmul(&b).to_vec::<f64>();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "{m}x{k}x{n}");
            }
            // the same product from transposed storage
            let at = a.t().contiguous().t();
            let bt = b.t().contiguous().t();
            assert!(!at.is_contiguous() || m == 1 || k == 1);
            let got = at.matmul(&bt).to_vec::<f64>();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "transposed {m}x{k}x{n}");
            }
        }
    }

    #[test]
    fn batched_broadcast_and_vectors() {
        let a = Tensor::from_vec(seq(2 * 3 * 4, 0.1), &[2, 1, 3, 4]);
        let b = Tensor::from_vec(seq(5 * 4 * 2, 0.2), &[5, 4, 2]);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[2, 5, 3, 2]);
        let want = a.select(0, 1).select(0, 0).matmul(&b.select(0, 3));
        assert!(c.select(0, 1).select(0, 3).allclose(&want, 0.0, 1e-12));
        let v = Tensor::from_vec(seq(4, 1.0), &[4]);
        assert_eq!(a.matmul(&v).shape(), &[2, 1, 3]);
        assert_eq!(v.matmul(&v).shape(), &[] as &[usize]);
        assert!(a.try_matmul(&Tensor::from_vec(seq(3, 1.0), &[3])).is_err());
    }

    #[test]
    fn thread_count_does_not_change_results() {
        let a = Tensor::from_vec(
            seq(300 * 200, 0.01)
                .into_iter()
                .map(|v| v as f32)
                .collect::<Vec<f32>>(),
            &[300, 200],
        );
        let b = Tensor::from_vec(
            seq(200 * 100, 0.02)
                .into_iter()
                .map(|v| v as f32)
                .collect::<Vec<f32>>(),
            &[200, 100],
        );
        crate::set_num_threads(1);
        let one = a.matmul(&b);
        crate::set_num_threads(2);
        let two = a.matmul(&b);
        crate::set_num_threads(0);
        assert!(one.equal(&two));
    }
}
