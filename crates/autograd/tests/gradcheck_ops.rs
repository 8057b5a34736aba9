//! Every differentiable op checked against central finite differences in f64, over random
//! shapes (proptest), including broadcast operands and non-contiguous (transposed) inputs.

use proptest::prelude::*;
use tuna_autograd::gradcheck::{gradcheck_with, GradCheckOptions};
use tuna_autograd::{Tape, Var};
use tuna_tensor::{GeluApprox, Tensor};

use tuna_fixtures::{seeded_tensor as tensor, seeded_values as values};

/// Values bounded away from 0 (for kinks and poles): magnitude in [0.2, 2), random sign.
fn nonzero(shape: &[usize], seed: u64) -> Tensor {
    let m = values(seed, shape.iter().product(), 0.2, 2.0);
    let s = values(seed ^ 0xABCD, m.len(), -1.0, 1.0);
    Tensor::from_vec(
        m.iter()
            .zip(&s)
            .map(|(m, s)| if *s < 0.0 { -m } else { *m })
            .collect::<Vec<f64>>(),
        shape,
    )
}

fn opts() -> GradCheckOptions {
    GradCheckOptions {
        eps: 1e-6,
        atol: 1e-6,
        rtol: 1e-5,
    }
}

#[track_caller]
fn check(name: &str, f: impl for<'t> Fn(&'t Tape, &[Var<'t>]) -> Var<'t>, inputs: &[Tensor]) {
    if let Err(e) = gradcheck_with(f, inputs, opts()) {
        let shapes: Vec<_> = inputs.iter().map(|t| t.shape().to_vec()).collect();
        panic!("{name} with input shapes {shapes:?}: {e}");
    }
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..5, 1..4)
}

/// A shape that broadcasts to `shape`: some dims set to 1, some leading dims dropped.
fn broadcast_partner(shape: &[usize], mask: u8, drop: usize) -> Vec<usize> {
    let drop = drop.min(shape.len() - 1);
    shape[drop..]
        .iter()
        .enumerate()
        .map(|(i, &s)| if mask >> i & 1 == 1 { 1 } else { s })
        .collect()
}

/// Applies `f` to a transposed view when the input has rank >= 2, so kernels see strides.
fn maybe_t<'t>(v: Var<'t>, transpose: bool) -> Var<'t> {
    if transpose && v.rank() >= 2 {
        v.transpose(0, -1)
    } else {
        v
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn unary_ops(shape in shape_strategy(), seed in any::<u64>(), tr in any::<bool>()) {
        let x = nonzero(&shape, seed);
        let pos = tensor(&shape, seed, 0.3, 3.0);
        let unit = tensor(&shape, seed, -0.9, 0.9);
        type F = for<'t> fn(Var<'t>) -> Var<'t>;
        let on_any: &[(&str, F)] = &[
            ("neg", |v| v.neg()),
            ("exp", |v| v.exp()),
            ("square", |v| v.square()),
            ("reciprocal", |v| v.reciprocal()),
            ("abs", |v| v.abs()),
            ("sin", |v| v.sin()),
            ("cos", |v| v.cos()),
            ("tanh", |v| v.tanh()),
            ("sigmoid", |v| v.sigmoid()),
            ("relu", |v| v.relu()),
            ("silu", |v| v.silu()),
            ("log_sigmoid", |v| v.log_sigmoid()),
            ("mish", |v| v.mish()),
            ("leaky_relu", |v| v.leaky_relu(0.1)),
            ("elu", |v| v.elu(1.3)),
            ("gelu", |v| v.gelu(GeluApprox::None)),
            ("gelu_tanh", |v| v.gelu(GeluApprox::Tanh)),
            ("softplus", |v| v.softplus(2.0, 3.0)),
            ("clamp", |v| v.clamp(Some(-0.5), Some(1.0))),
            ("add_scalar", |v| v.add_scalar(1.5)),
            ("mul_scalar", |v| v.mul_scalar(-2.5)),
            ("pow_scalar_int", |v| v.pow_scalar(3.0)),
            ("contiguous", |v| v.contiguous()),
        ];
        for (name, f) in on_any {
            check(name, |_, v| f(maybe_t(v[0], tr)), std::slice::from_ref(&x));
        }
        let on_positive: &[(&str, F)] = &[
            ("log", |v| v.log()),
            ("log1p", |v| v.log1p()),
            ("sqrt", |v| v.sqrt()),
            ("rsqrt", |v| v.rsqrt()),
            ("pow_scalar_frac", |v| v.pow_scalar(1.7)),
        ];
        for (name, f) in on_positive {
            check(name, |_, v| f(maybe_t(v[0], tr)), std::slice::from_ref(&pos));
        }
        check("log1p_near_zero", |_, v| v[0].log1p(), &[unit]);
    }

    #[test]
    fn binary_ops_with_broadcasting(shape in shape_strategy(), mask in any::<u8>(), drop in 0usize..3, seed in any::<u64>(), swap in any::<bool>(), tr in any::<bool>()) {
        let partner = broadcast_partner(&shape, mask, drop);
        let (sa, sb) = if swap { (partner.clone(), shape.clone()) } else { (shape.clone(), partner.clone()) };
        let a = nonzero(&sa, seed);
        let b = nonzero(&sb, seed ^ 1);
        type F = for<'t> fn(Var<'t>, Var<'t>) -> Var<'t>;
        let ops: &[(&str, F)] = &[
            ("add", |x, y| x.add(y)),
            ("sub", |x, y| x.sub(y)),
            ("mul", |x, y| x.mul(y)),
            ("div", |x, y| x.div(y)),
            ("maximum", |x, y| x.maximum(y)),
            ("minimum", |x, y| x.minimum(y)),
            ("add_scaled", |x, y| x.add_scaled(y, 0.3)),
        ];
        // transposing both operands keeps them broadcast-compatible only at equal rank
        let tr = tr && sa.len() == sb.len();
        for (name, f) in ops {
            check(name, |_, v| f(maybe_t(v[0], tr), maybe_t(v[1], tr)), &[a.clone(), b.clone()]);
        }
        let base = tensor(&sa, seed, 0.5, 2.0);
        check("pow", |_, v| v[0].pow(v[1]), &[base, b.clone()]);
        let cond = a.gt(&b);
        check("where", |_, v| v[0].where_cond(&cond, v[1]), &[a.clone(), b.clone()]);
        let mask_t = a.gt_scalar(0.0);
        check("masked_fill", |_, v| v[0].masked_fill(&mask_t, 2.0), std::slice::from_ref(&a));
    }

    #[test]
    fn reductions(shape in prop::collection::vec(2usize..5, 2..4), seed in any::<u64>(), keepdim in any::<bool>(), dim_pick in 0usize..8) {
        let x = tensor(&shape, seed, -2.0, 2.0);
        let rank = shape.len() as isize;
        let d = (dim_pick as isize) % rank;
        let dims = [d, -1];
        let dims: Vec<isize> = if d == rank - 1 { vec![d] } else { dims.to_vec() };
        check("sum_dims", |_, v| v[0].sum_dims(&dims, keepdim), std::slice::from_ref(&x));
        check("sum_all", |_, v| v[0].sum(), std::slice::from_ref(&x));
        check("mean_dims", |_, v| v[0].mean_dims(&dims, keepdim), std::slice::from_ref(&x));
        check("mean_all", |_, v| v[0].mean(), std::slice::from_ref(&x));
        check("var_unbiased", |_, v| v[0].var_dims(&dims, 1.0, keepdim), std::slice::from_ref(&x));
        check("var_biased", |_, v| v[0].var_dims(&[], 0.0, keepdim), std::slice::from_ref(&x));
        check("std", |_, v| v[0].std_dims(&dims, 1.0, keepdim), std::slice::from_ref(&x));
        check("logsumexp", |_, v| v[0].logsumexp(&dims, keepdim), std::slice::from_ref(&x));
        check("softmax", |_, v| v[0].softmax(d), std::slice::from_ref(&x));
        check("log_softmax", |_, v| v[0].log_softmax(d), std::slice::from_ref(&x));
        check("softmax_transposed", |_, v| v[0].t().softmax(-1), std::slice::from_ref(&x));
        // extremes: distinct values so the max is unique
        check("amax", |_, v| v[0].amax(&dims, keepdim), std::slice::from_ref(&x));
        check("amin", |_, v| v[0].amin(&[], false), std::slice::from_ref(&x));
        check("max_dim", |_, v| v[0].max_dim(d, keepdim).0, std::slice::from_ref(&x));
        check("min_dim", |_, v| v[0].min_dim(-1, keepdim).0, std::slice::from_ref(&x));
    }

    #[test]
    fn matmul_batched_broadcast_and_strided(m in 1usize..5, k in 1usize..5, n in 1usize..5, batch in 1usize..3, seed in any::<u64>(), ta in any::<bool>(), tb in any::<bool>()) {
        let a = tensor(&[batch, m, k], seed, -1.0, 1.0);
        let b = tensor(&[k, n], seed ^ 7, -1.0, 1.0);
        check("matmul_3d_2d", |_, v| v[0].matmul(v[1]), &[a.clone(), b.clone()]);
        let b3 = tensor(&[1, k, n], seed ^ 9, -1.0, 1.0);
        check("matmul_batch_broadcast", |_, v| v[0].matmul(v[1]), &[a.clone(), b3]);
        // transposed operands: stored as [k, m] / [n, k] and viewed transposed
        let at = tensor(&[k, m], seed ^ 3, -1.0, 1.0);
        let bt = tensor(&[n, k], seed ^ 5, -1.0, 1.0);
        check("matmul_strided", move |_, v| {
            let x = if ta { v[0].t() } else { v[0].t().contiguous() };
            let y = if tb { v[1].t() } else { v[1].t().contiguous() };
            x.matmul(y)
        }, &[at, bt]);
        let vecv = tensor(&[k], seed ^ 11, -1.0, 1.0);
        check("matvec", |_, v| v[0].matmul(v[1]), &[tensor(&[m, k], seed, -1.0, 1.0), vecv.clone()]);
        check("vecmat", |_, v| v[0].matmul(v[1]), &[vecv.clone(), tensor(&[k, n], seed, -1.0, 1.0)]);
        check("dot", |_, v| v[0].matmul(v[1]), &[vecv.clone(), vecv]);
    }

    #[test]
    fn shape_ops(shape in prop::collection::vec(1usize..5, 2..4), seed in any::<u64>()) {
        let x = tensor(&shape, seed, -1.0, 1.0);
        let rank = shape.len() as isize;
        check("transpose", |_, v| v[0].transpose(0, -1).mul_scalar(1.0), std::slice::from_ref(&x));
        let perm: Vec<isize> = (0..rank).rev().collect();
        check("permute", |_, v| v[0].permute(&perm), std::slice::from_ref(&x));
        check("reshape", |_, v| v[0].reshape(&[-1]), std::slice::from_ref(&x));
        check("reshape_of_transposed", |_, v| v[0].t().reshape(&[-1]), std::slice::from_ref(&x));
        check("flatten", |_, v| v[0].flatten(0, 1), std::slice::from_ref(&x));
        check("unsqueeze_squeeze", |_, v| v[0].unsqueeze(1).mul_scalar(2.0).squeeze(1), std::slice::from_ref(&x));
        let n0 = shape[0];
        check("narrow", |_, v| v[0].narrow(0, n0 / 2, n0 - n0 / 2), std::slice::from_ref(&x));
        check("slice_step", |_, v| v[0].slice(-1, 0, 5, 2), std::slice::from_ref(&x));
        check("select", |_, v| v[0].select(0, 0), std::slice::from_ref(&x));
        let mut big = shape.clone();
        big.insert(0, 2);
        let mut ones = shape.clone();
        ones[0] = 1;
        let y = tensor(&ones, seed ^ 1, -1.0, 1.0);
        let big2 = big.clone();
        check("expand", move |_, v| v[0].expand(&big2), &[y]);
        check("cat", |t, v| t.cat(&[v[0], v[1].mul_scalar(2.0), v[0]], 0), &[x.clone(), x.clone()]);
        check("cat_last", |t, v| t.cat(&[v[0], v[1]], -1), &[x.clone(), x.clone()]);
        check("stack", |t, v| t.stack(&[v[0], v[1]], 1), &[x.clone(), x.clone()]);
        check("split", |t, v| { let parts = v[0].split(1, -1); t.cat(&parts.iter().rev().copied().collect::<Vec<_>>(), -1) }, std::slice::from_ref(&x));
        check("chunk", |_, v| v[0].chunk(2, 0)[0].exp(), std::slice::from_ref(&x));
    }
}

#[test]
fn gradients_accumulate_over_reuse_and_repeated_backward() {
    let tape = Tape::new();
    let x = tape.var(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
    let y = x.mul(x).add(x).sum(); // d/dx = 2x + 1
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![3.0, 5.0]);
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![6.0, 10.0]);
}

#[test]
fn no_grad_and_detach_stop_gradients() {
    let tape = Tape::new();
    let x = tape.var(Tensor::from_vec(vec![3.0f64], &[1]));
    let y = tuna_autograd::no_grad(|| x.mul(x));
    assert!(!y.requires_grad());
    let z = x.mul(x.detach()).sum(); // d/dx = x (detached factor is constant)
    z.backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![3.0]);
}

#[test]
fn params_accumulate_and_frozen_params_get_none() {
    use tuna_autograd::Param;
    let w = Param::new(Tensor::from_vec(vec![2.0f32], &[1]));
    let frozen = Param::new(Tensor::from_vec(vec![5.0f32], &[1]));
    frozen.set_requires_grad(false);
    for _ in 0..2 {
        let tape = Tape::new();
        let loss = tape.param(&w).mul(tape.param(&frozen)).sum();
        loss.backward();
    }
    assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![10.0]);
    assert!(frozen.grad().is_none());
    w.zero_grad();
    assert!(w.grad().is_none());
}

#[test]
#[should_panic(expected = "grad can be implicitly created only for scalar outputs")]
fn backward_on_non_scalar_panics_with_guidance() {
    let tape = Tape::new();
    let x = tape.var(Tensor::zeros(&[2], tuna_tensor::DType::F32));
    x.exp().backward();
}

mod spatial {
    use super::*;
    use tuna_tensor::{
        AvgPool2dOptions, Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, MaxPool2dOptions,
    };

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn convolutions(n in 1usize..3, groups in 1usize..3, cpg in 1usize..3, opg in 1usize..3, h in 4usize..7, w in 4usize..7,
                        kh in 1usize..4, kw in 1usize..4, stride in 1usize..3, pad in 0usize..2, dil in 1usize..3, bias in any::<bool>(), seed in any::<u64>(), permuted in any::<bool>()) {
            let (cin, cout) = (groups * cpg, groups * opg);
            prop_assume!(h + 2 * pad > dil * (kh - 1) && w + 2 * pad > dil * (kw - 1));
            let x = tensor(&[n, cin, h, w], seed, -1.0, 1.0);
            let wt = tensor(&[cout, cpg, kh, kw], seed ^ 1, -1.0, 1.0);
            let b = tensor(&[cout], seed ^ 2, -1.0, 1.0);
            let o2 = Conv2dOptions::new().stride([stride, stride + 1]).padding([pad, pad]).dilation([dil, 1]).groups(groups);
            let inputs = if bias { vec![x.clone(), wt.clone(), b.clone()] } else { vec![x.clone(), wt.clone()] };
            check("conv2d", |_, v| {
                // a permuted (non-contiguous) view of the same input when requested
                let xin = if permuted { v[0].permute(&[0, 1, 3, 2]).contiguous().permute(&[0, 1, 3, 2]) } else { v[0] };
                xin.conv2d(v[1], v.get(2).copied(), &o2)
            }, &inputs);
            let x1 = tensor(&[n, cin, h + w], seed ^ 3, -1.0, 1.0);
            let w1 = tensor(&[cout, cpg, kh], seed ^ 4, -1.0, 1.0);
            let o1 = Conv1dOptions::new().stride(stride).padding(pad).dilation(dil).groups(groups);
            check("conv1d", |_, v| v[0].conv1d(v[1], v.get(2).copied(), &o1), &if bias { vec![x1.clone(), w1.clone(), b.clone()] } else { vec![x1, w1] });
            let wt_t = tensor(&[cin, opg, kh, kw], seed ^ 5, -1.0, 1.0);
            let ot = ConvTranspose2dOptions::new().stride([stride, 1]).padding([pad.min(kh - 1), 0]).output_padding([stride - 1, 0]).dilation([1, dil]).groups(groups);
            prop_assume!(stride - 1 < stride.max(1));
            check("conv_transpose2d", |_, v| v[0].conv_transpose2d(v[1], v.get(2).copied(), &ot), &if bias { vec![x.clone(), wt_t.clone(), b.clone()] } else { vec![x.clone(), wt_t] });
        }

        #[test]
        fn pooling(n in 1usize..3, c in 1usize..3, h in 3usize..8, w in 3usize..8, k in 1usize..4, stride in 1usize..3, pad in 0usize..2, ceil in any::<bool>(), include_pad in any::<bool>(), seed in any::<u64>()) {
            prop_assume!(pad * 2 <= k && k <= h && k <= w);
            let x = tensor(&[n, c, h, w], seed, -1.0, 1.0);
            let mp = MaxPool2dOptions::new([k, k]).stride([stride, stride]).padding([pad, pad]).ceil_mode(ceil);
            check("max_pool2d", |_, v| v[0].max_pool2d(&mp), std::slice::from_ref(&x));
            check("max_pool2d_strided_input", |_, v| v[0].transpose(2, 3).max_pool2d(&mp), std::slice::from_ref(&x));
            let ap = AvgPool2dOptions::new([k, k]).stride([stride, stride]).padding([pad, pad]).ceil_mode(ceil).count_include_pad(include_pad);
            check("avg_pool2d", |_, v| v[0].avg_pool2d(&ap), std::slice::from_ref(&x));
            let apd = ap.clone().divisor_override(Some(3));
            check("avg_pool2d_divisor", |_, v| v[0].avg_pool2d(&apd), std::slice::from_ref(&x));
            check("adaptive_avg_pool2d", |_, v| v[0].adaptive_avg_pool2d([h.div_ceil(2), 3]), std::slice::from_ref(&x));
        }

        #[test]
        fn indexing(rows in 2usize..6, cols in 1usize..5, seed in any::<u64>(), picks in prop::collection::vec(0usize..100, 1..7)) {
            let x = tensor(&[rows, cols], seed, -1.0, 1.0);
            let idx = Tensor::from_vec(picks.iter().map(|p| (p % rows) as i64).collect::<Vec<i64>>(), &[picks.len()]);
            check("index_select_rows", |_, v| v[0].index_select(0, &idx), std::slice::from_ref(&x));
            let cidx = Tensor::from_vec(picks.iter().map(|p| (p % cols) as i64).collect::<Vec<i64>>(), &[picks.len()]);
            check("index_select_cols_of_transposed", |_, v| v[0].t().index_select(0, &cidx), std::slice::from_ref(&x));
            let g: Vec<i64> = (0..rows * 3).map(|i| (picks[i % picks.len()] + i) as i64 % cols as i64).collect();
            let gidx = Tensor::from_vec(g, &[rows, 3]);
            check("gather", |_, v| v[0].gather(1, &gidx), std::slice::from_ref(&x));
            let src = tensor(&[rows, 3], seed ^ 9, -1.0, 1.0);
            check("scatter_add", |_, v| v[0].scatter_add(1, &gidx, v[1]), &[x.clone(), src]);
            let ids = Tensor::from_vec(picks.iter().map(|p| (p % rows) as i64).collect::<Vec<i64>>(), &[1, picks.len()]);
            // padding_idx and scale_grad_by_freq deliberately alter the gradient (PyTorch
            // semantics, checked against PyTorch in ops_fixtures); the plain lookup is exact.
            check("embedding", |_, v| v[0].embedding(&ids, None, false), std::slice::from_ref(&x));
        }
    }
}
