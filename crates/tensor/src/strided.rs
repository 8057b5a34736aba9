//! Walking strided layouts: the loop every kernel over non-contiguous data uses.

use crate::layout::Dims;

/// Merges adjacent dimensions that are contiguous with respect to every stride array and drops
/// size-1 dimensions, so the walk below runs long inner loops.
fn coalesce<const N: usize>(shape: &[usize], strides: [&[usize]; N]) -> (Dims, [Dims; N]) {
    let mut out_shape = Dims::new();
    let mut out_strides: [Dims; N] = std::array::from_fn(|_| Dims::new());
    for i in 0..shape.len() {
        if shape[i] == 1 {
            continue;
        }
        if let Some(&last) = out_shape.last() {
            let mergeable =
                (0..N).all(|k| *out_strides[k].last().unwrap() == strides[k][i] * shape[i]);
            if mergeable {
                let n = out_shape.len();
                out_shape[n - 1] = last * shape[i];
                for k in 0..N {
                    let m = out_strides[k].len();
                    out_strides[k][m - 1] = strides[k][i];
                }
                continue;
            }
        }
        out_shape.push(shape[i]);
        for k in 0..N {
            out_strides[k].push(strides[k][i]);
        }
    }
    (out_shape, out_strides)
}

/// Calls `f` with the storage offsets of each element, in row-major order of `shape`, for `N`
/// layouts that share that shape (each given by its strides and starting offset).
#[inline]
pub(crate) fn walk<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    mut f: impl FnMut([usize; N]),
) {
    walk_runs(shape, strides, offsets, |base, len, step| {
        let mut o = base;
        for _ in 0..len {
            f(o);
            for k in 0..N {
                o[k] += step[k];
            }
        }
    });
}

/// Like [`walk`], one call per innermost run instead of per element: `f(offsets, len, steps)`
/// covers the `len` elements at `offsets[k] + i * steps[k]`, so a kernel can loop over a slice
/// (step 1) or a repeated value (step 0) where the layouts allow.
pub(crate) fn walk_runs<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    mut f: impl FnMut([usize; N], usize, [usize; N]),
) {
    if shape.contains(&0) {
        return;
    }
    let (shape, strides) = coalesce(shape, strides);
    let rank = shape.len();
    if rank == 0 {
        f(offsets, 1, [0; N]);
        return;
    }
    let inner = shape[rank - 1];
    let inner_strides: [usize; N] = std::array::from_fn(|k| strides[k][rank - 1]);
    let mut index: Dims = smallvec::SmallVec::from_elem(0, rank);
    let mut base = offsets;
    loop {
        f(base, inner, inner_strides);
        // advance the outer counter
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            for k in 0..N {
                base[k] += strides[k][d];
            }
            if index[d] < shape[d] {
                break;
            }
            for k in 0..N {
                base[k] -= strides[k][d] * shape[d];
            }
            index[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_transposed_in_logical_order() {
        // a [2, 3] contiguous buffer viewed as its transpose [3, 2]
        let mut got = vec![];
        walk(&[3, 2], [&[1, 3]], [0], |[o]| got.push(o));
        assert_eq!(got, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn walks_broadcast_and_scalar() {
        let mut got = vec![];
        walk(&[2, 2], [&[0, 1], &[2, 1]], [5, 0], |[a, b]| {
            got.push((a, b))
        });
        assert_eq!(got, vec![(5, 0), (6, 1), (5, 2), (6, 3)]);
        let mut n = 0;
        walk::<1>(&[], [&[]], [7], |[o]| {
            assert_eq!(o, 7);
            n += 1
        });
        assert_eq!(n, 1);
        walk::<1>(&[3, 0], [&[0, 1]], [0], |_| panic!("empty"));
    }
}
