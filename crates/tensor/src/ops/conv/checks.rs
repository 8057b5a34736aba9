//! Argument checks shared by the public entry points: dtypes, batching, bias and upstream
//! gradient shapes, and the bias gradient.

#[allow(unused_imports)]
use num_traits::{Float, Zero};

use crate::dtype::DType;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;
use crate::with_float;

use super::geom::mismatch;

/// The common float dtype of the tensors, or an error naming `op`.
pub(super) fn same_float(op: &'static str, ts: &[&Tensor]) -> Result<DType> {
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
pub(super) fn batched4(op: &'static str, t: &Tensor, other: &[usize]) -> Result<(Tensor, bool)> {
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
pub(super) fn shape4(op: &'static str, s: &[usize], other: &[usize]) -> Result<([usize; 4], bool)> {
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

pub(super) fn check_bias(op: &'static str, bias: Option<&Tensor>, channels: usize) -> Result<()> {
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
pub(super) fn grad4(
    op: &'static str,
    grad_out: &Tensor,
    unbatched: bool,
    want: [usize; 4],
) -> Result<Tensor> {
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

pub(super) fn unbatch(t: Tensor, unbatched: bool) -> Tensor {
    if unbatched {
        t.squeeze(0)
    } else {
        t
    }
}

/// The bias gradient of a convolution: `grad_out` summed over every dim but the channel dim,
/// which is dim `rank - spatial - 1`.
pub(super) fn bias_grad(op: &'static str, grad_out: &Tensor, spatial: usize) -> Result<Tensor> {
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
pub(super) fn sum_slice<T: Float>(s: &[T]) -> T {
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
