//! Property tests: broadcasting binary ops, strided views and reductions agree with naive
//! element-by-element references over random shapes (including non-contiguous inputs).

use proptest::prelude::*;
use tuna_tensor::Tensor;

fn values(n: usize, seed: u64) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            ((i.wrapping_mul(6364136223846793005).wrapping_add(seed) >> 33) % 1000) as f64 / 100.0
                - 5.0
        })
        .collect()
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

/// The element of `t` that broadcasting maps output index `out_idx` to.
fn broadcast_get(t: &Tensor, out_idx: &[usize]) -> f64 {
    let lead = out_idx.len() - t.rank();
    let idx: Vec<usize> = t
        .shape()
        .iter()
        .enumerate()
        .map(|(d, &s)| if s == 1 { 0 } else { out_idx[lead + d] })
        .collect();
    t.get(&idx)
}

fn shape_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..4, 0..4)
        .prop_flat_map(|shape| {
            let n = shape.len();
            (Just(shape), prop::collection::vec(any::<bool>(), n), 0..=n)
        })
        .prop_map(|(shape, ones, drop)| {
            let other: Vec<usize> = shape[drop..]
                .iter()
                .zip(&ones[drop..])
                .map(|(&s, &one)| if one { 1 } else { s })
                .collect();
            (shape, other)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn binary_ops_broadcast_like_numpy((sa, sb) in shape_pair(), swap in any::<bool>(), seed in any::<u64>()) {
        let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
        let a = Tensor::from_vec(values(sa.iter().product(), seed), &sa);
        let b = Tensor::from_vec(values(sb.iter().product(), seed ^ 5), &sb);
        let sum = a.add(&b);
        let prod = a.mul(&b);
        let gt = a.gt(&b);
        let out_shape = tuna_tensor::broadcast_shapes("test", &sa, &sb).unwrap();
        prop_assert_eq!(sum.shape(), out_shape.as_slice());
        for flat in 0..sum.numel() {
            let idx = unravel(flat, &out_shape);
            let (x, y) = (broadcast_get(&a, &idx), broadcast_get(&b, &idx));
            prop_assert_eq!(sum.get(&idx), x + y);
            prop_assert_eq!(prod.get(&idx), x * y);
            prop_assert_eq!(gt.get(&idx) == 1.0, x > y);
        }
    }

    #[test]
    fn views_index_like_their_definition(shape in prop::collection::vec(1usize..5, 2..5), seed in any::<u64>(), rot in 0usize..4, start in 0usize..3) {
        let n: usize = shape.iter().product();
        let t = Tensor::from_vec(values(n, seed), &shape);
        let rank = shape.len();
        // rotate dims: output dim i is input dim (i + rot) % rank
        let perm: Vec<isize> = (0..rank).map(|i| ((i + rot) % rank) as isize).collect();
        let p = t.permute(&perm);
        let start = start.min(p.shape()[0] - 1);
        let v = p.narrow(0, start, p.shape()[0] - start);
        let c = v.contiguous();
        for flat in 0..v.numel() {
            let idx = unravel(flat, v.shape());
            let mut src = vec![0; rank];
            for (i, &d) in perm.iter().enumerate() {
                src[d as usize] = idx[i] + if i == 0 { start } else { 0 };
            }
            prop_assert_eq!(v.get(&idx), t.get(&src));
            prop_assert_eq!(c.get(&idx), t.get(&src));
        }
        // reshape of a strided view equals reshape of its contiguous copy
        let flat_v = v.reshape(&[-1]).to_vec::<f64>();
        prop_assert_eq!(flat_v, c.to_vec::<f64>());
    }

    #[test]
    fn reductions_match_naive(shape in prop::collection::vec(1usize..5, 1..4), seed in any::<u64>(), mask in any::<u8>(), keepdim in any::<bool>(), transposed in any::<bool>()) {
        let n: usize = shape.iter().product();
        let mut t = Tensor::from_vec(values(n, seed), &shape);
        if transposed && t.rank() >= 2 {
            t = t.transpose(0, -1);
        }
        let shape = t.shape().to_vec();
        let dims: Vec<isize> = (0..shape.len()).filter(|d| mask >> d & 1 == 1).map(|d| d as isize).collect();
        let s = t.sum_dims(&dims, keepdim);
        let m = t.amax(&dims, keepdim);
        let reduced: Vec<usize> = if dims.is_empty() { (0..shape.len()).collect() } else { dims.iter().map(|&d| d as usize).collect() };
        let keep_shape: Vec<usize> = shape.iter().enumerate().map(|(d, &sz)| if reduced.contains(&d) { 1 } else { sz }).collect();
        let s_keep = s.reshape_to(&keep_shape);
        let m_keep = m.reshape_to(&keep_shape);
        let mut want_sum = vec![0.0; keep_shape.iter().product()];
        let mut want_max = vec![f64::NEG_INFINITY; want_sum.len()];
        for flat in 0..t.numel() {
            let idx = unravel(flat, &shape);
            let kidx: Vec<usize> = idx.iter().enumerate().map(|(d, &i)| if reduced.contains(&d) { 0 } else { i }).collect();
            let mut o = 0;
            for (d, &i) in kidx.iter().enumerate() {
                o = o * keep_shape[d] + i;
            }
            want_sum[o] += t.get(&idx);
            want_max[o] = want_max[o].max(t.get(&idx));
        }
        for (o, (ws, wm)) in want_sum.iter().zip(&want_max).enumerate() {
            let idx = unravel(o, &keep_shape);
            prop_assert!((s_keep.get(&idx) - ws).abs() < 1e-9);
            prop_assert_eq!(m_keep.get(&idx), *wm);
        }
    }
}
