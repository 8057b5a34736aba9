//! Property tests for the joining and splitting ops: `cat` inverts `split`, `stack` adds a
//! dimension, `chunk` sizes follow PyTorch, and index_select/index_add are adjoint.

use proptest::prelude::*;
use tuna_tensor::{DType, Tensor};

/// A shape of rank 1..=4 with sizes 0..=5, a dim inside it, and a positive split size.
fn shape_dim() -> impl Strategy<Value = (Vec<usize>, usize)> {
    prop::collection::vec(0usize..=5, 1..=4).prop_flat_map(|shape| {
        let rank = shape.len();
        (Just(shape), 0..rank)
    })
}

fn iota(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|x| x as f64).collect::<Vec<_>>(), shape)
}

proptest! {
    #[test]
    fn cat_of_split_is_identity((shape, dim) in shape_dim(), split in 1usize..=4, transpose in any::<bool>()) {
        let mut x = iota(&shape);
        if transpose && shape.len() >= 2 {
            // the same values through a strided (column-major) view
            x = iota(&shape).t().contiguous().t();
            prop_assert!(!x.is_contiguous() || shape[shape.len() - 1] <= 1 || shape[shape.len() - 2] <= 1);
        }
        let parts = x.split(split, dim as isize);
        let size = shape[dim];
        prop_assert_eq!(parts.len(), size.div_ceil(split).max(1));
        for (i, p) in parts.iter().enumerate() {
            prop_assert!(p.shares_storage(&x), "split returns views");
            let expect = if size == 0 { 0 } else { split.min(size - i * split) };
            prop_assert_eq!(p.shape()[dim], expect);
        }
        let refs: Vec<&Tensor> = parts.iter().collect();
        let back = Tensor::cat(&refs, dim as isize);
        prop_assert_eq!(back.shape(), x.shape());
        prop_assert_eq!(back.to_vec::<f64>(), x.to_vec::<f64>());
    }

    #[test]
    fn cat_of_strided_views_matches_contiguous((shape, dim) in shape_dim(), n in 1usize..=3) {
        // permuted (non-contiguous) operands must give the same result as their copies
        let rank = shape.len();
        let perm: Vec<isize> = (0..rank as isize).rev().collect();
        let mut rev = shape.clone();
        rev.reverse();
        let parts: Vec<Tensor> = (0..n).map(|k| iota(&rev).add_scalar(100.0 * k as f64).permute(&perm)).collect();
        let copies: Vec<Tensor> = parts.iter().map(|p| p.copy_contiguous()).collect();
        let a = Tensor::cat(&parts.iter().collect::<Vec<_>>(), dim as isize);
        let b = Tensor::cat(&copies.iter().collect::<Vec<_>>(), dim as isize);
        prop_assert_eq!(a.shape(), b.shape());
        prop_assert_eq!(a.shape()[dim], n * shape[dim]);
        prop_assert_eq!(a.to_vec::<f64>(), b.to_vec::<f64>());
    }

    #[test]
    fn stack_shape_and_select((shape, _d) in shape_dim(), n in 1usize..=4, raw_dim in 0usize..=4) {
        let dim = raw_dim % (shape.len() + 1);
        let ts: Vec<Tensor> = (0..n).map(|k| iota(&shape).add_scalar(k as f64)).collect();
        let s = Tensor::stack(&ts.iter().collect::<Vec<_>>(), dim as isize);
        let mut expect = shape.clone();
        expect.insert(dim, n);
        prop_assert_eq!(s.shape(), expect.as_slice());
        for (k, t) in ts.iter().enumerate() {
            prop_assert_eq!(s.select(dim as isize, k).to_vec::<f64>(), t.to_vec::<f64>());
        }
        // negative dims count from rank + 1
        let neg = Tensor::stack(&ts.iter().collect::<Vec<_>>(), dim as isize - shape.len() as isize - 1);
        prop_assert_eq!(neg.shape(), expect.as_slice());
    }

    #[test]
    fn chunk_sizes_follow_pytorch(size in 0usize..=20, chunks in 1usize..=8) {
        let x = iota(&[size, 2]);
        let parts = x.chunk(chunks, 0);
        let sizes: Vec<usize> = parts.iter().map(|p| p.shape()[0]).collect();
        prop_assert_eq!(sizes.iter().sum::<usize>(), size);
        prop_assert!(parts.len() <= chunks);
        if size == 0 {
            prop_assert_eq!(parts.len(), chunks);
        } else {
            let each = size.div_ceil(chunks);
            prop_assert_eq!(parts.len(), size.div_ceil(each));
            prop_assert!(sizes[..sizes.len() - 1].iter().all(|&s| s == each));
            prop_assert!(*sizes.last().unwrap() >= 1 && *sizes.last().unwrap() <= each);
        }
    }

    #[test]
    fn index_select_and_index_add_are_adjoint(
        (shape, dim) in shape_dim(),
        picks in prop::collection::vec(0usize..100, 0..6),
        seed in 0u64..1000,
    ) {
        // <index_select(x), y> == <x, index_add(0, y)> for every x, y
        prop_assume!(shape[dim] > 0);
        let idx: Vec<i64> = picks.iter().map(|p| (p % shape[dim]) as i64).collect();
        let index = Tensor::from_vec(idx.clone(), &[idx.len()]);
        let mut g = tuna_tensor::Generator::new(seed);
        let x = Tensor::randn(&shape, DType::F64, &mut g);
        let sel = x.index_select(dim as isize, &index);
        let y = Tensor::randn(sel.shape(), DType::F64, &mut g);
        let back = Tensor::zeros(&shape, DType::F64).index_add(dim as isize, &index, &y);
        let lhs: f64 = sel.to_vec::<f64>().iter().zip(y.to_vec::<f64>()).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.to_vec::<f64>().iter().zip(back.to_vec::<f64>()).map(|(a, b)| a * b).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
    }
}
