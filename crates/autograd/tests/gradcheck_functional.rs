//! `tuna_autograd::functional` checked against central finite differences in f64 over random
//! shapes (proptest): normalization in training and eval mode with and without affine
//! parameters, `linear`, and scaled dot-product attention with bool/additive masks, causal
//! masking, explicit scale and grouped-query attention. Plus value checks of the parts
//! gradients cannot see (running statistics, fully masked rows, GQA head order).

use proptest::prelude::*;
use tuna_autograd::functional::{self as F, AttnMask};
use tuna_autograd::gradcheck::{gradcheck_with, GradCheckOptions};
use tuna_autograd::{Tape, Var};
use tuna_tensor::{DType, Tensor};

use tuna_fixtures::{seeded_tensor as tensor, seeded_values as values};

fn bools(shape: &[usize], seed: u64, p_true: f64) -> Tensor {
    let v: Vec<bool> = values(seed, shape.iter().product(), 0.0, 1.0)
        .into_iter()
        .map(|u| u < p_true)
        .collect();
    Tensor::from_vec(v, shape)
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

/// Inputs `[x, weight?, bias?]` and the positions of weight and bias among them.
fn with_affine(
    x: Tensor,
    affine_shape: &[usize],
    weight: bool,
    bias: bool,
    seed: u64,
) -> (Vec<Tensor>, Option<usize>, Option<usize>) {
    let mut inputs = vec![x];
    let w = weight.then(|| {
        inputs.push(tensor(affine_shape, seed ^ 1, 0.5, 1.5));
        inputs.len() - 1
    });
    let b = bias.then(|| {
        inputs.push(tensor(affine_shape, seed ^ 2, -1.0, 1.0));
        inputs.len() - 1
    });
    (inputs, w, b)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn linear_grad(batch in prop::collection::vec(1usize..4, 0..3), fin in 1usize..5,
                   fout in 1usize..5, has_bias in any::<bool>(), seed in any::<u64>()) {
        let mut xs = batch.clone();
        xs.push(fin);
        let mut inputs = vec![tensor(&xs, seed, -1.0, 1.0), tensor(&[fout, fin], seed ^ 3, -1.0, 1.0)];
        if has_bias {
            inputs.push(tensor(&[fout], seed ^ 4, -1.0, 1.0));
        }
        check("linear", |_, v| F::linear(v[0], v[1], v.get(2).copied()), &inputs);
    }

    #[test]
    fn batch_norm_grad(n in 1usize..4, c in 1usize..4, spatial in prop::collection::vec(1usize..4, 0..3),
                       training in any::<bool>(), weight in any::<bool>(), bias in any::<bool>(),
                       momentum in 0.0f64..1.0, seed in any::<u64>()) {
        let mut shape = vec![n, c];
        shape.extend(&spatial);
        // training needs more than one value per channel
        if training && shape.iter().enumerate().filter(|&(i, _)| i != 1).map(|(_, &s)| s).product::<usize>() < 2 {
            shape[0] = 2;
        }
        let (inputs, w, b) = with_affine(tensor(&shape, seed, -2.0, 2.0), &[c], weight, bias, seed);
        let rm0 = tensor(&[c], seed ^ 5, -0.5, 0.5);
        let rv0 = tensor(&[c], seed ^ 6, 0.5, 2.0);
        check("batch_norm", |_, v| {
            let (mut rm, mut rv) = (rm0.clone(), rv0.clone());
            F::batch_norm(v[0], Some(&mut rm), Some(&mut rv), w.map(|i| v[i]), b.map(|i| v[i]),
                          training, momentum, 1e-5)
        }, &inputs);
    }

    #[test]
    fn layer_norm_grad(shape in prop::collection::vec(1usize..4, 1..4), k in 1usize..4,
                       weight in any::<bool>(), bias in any::<bool>(), seed in any::<u64>()) {
        let mut shape = shape;
        let k = k.min(shape.len());
        let r = shape.len();
        // at least two normalized elements, so the variance is not identically 0
        if shape[r - k..].iter().product::<usize>() < 2 {
            shape[r - 1] = 2;
        }
        let norm: Vec<usize> = shape[r - k..].to_vec();
        let (inputs, w, b) = with_affine(tensor(&shape, seed, -2.0, 2.0), &norm, weight, bias, seed);
        check("layer_norm", |_, v| F::layer_norm(v[0], &norm, w.map(|i| v[i]), b.map(|i| v[i]), 1e-5),
              &inputs);
    }

    #[test]
    fn group_norm_grad(n in 1usize..3, groups in 1usize..4, per_group in 1usize..3,
                       spatial in prop::collection::vec(1usize..4, 0..3), affine in any::<bool>(),
                       seed in any::<u64>()) {
        let c = groups * per_group;
        let mut shape = vec![n, c];
        shape.extend(&spatial);
        if per_group * spatial.iter().product::<usize>() < 2 {
            shape.push(2);
        }
        let (inputs, w, b) = with_affine(tensor(&shape, seed, -2.0, 2.0), &[c], affine, affine, seed);
        check("group_norm", |_, v| F::group_norm(v[0], groups, w.map(|i| v[i]), b.map(|i| v[i]), 1e-5),
              &inputs);
    }

    /// mask: 0 none, 1 causal, 2 bool (may fully mask rows), 3 additive (differentiated).
    #[test]
    fn sdpa_grad(batch in prop::collection::vec(1usize..3, 0..2), hkv in 1usize..3, rep in 1usize..3,
                 l in 1usize..4, s in 1usize..4, e in 1usize..4, ev in 1usize..4, mask in 0u8..4,
                 gqa in any::<bool>(), scale in prop::option::of(0.1f64..1.0), seed in any::<u64>()) {
        // without GQA all heads must match (or broadcast)
        let hq = if gqa { hkv * rep } else { hkv };
        let shape = |h: usize, len: usize, d: usize| {
            let mut v = batch.clone();
            v.extend([h, len, d]);
            v
        };
        let mut inputs = vec![
            tensor(&shape(hq, l, e), seed, -1.5, 1.5),
            tensor(&shape(hkv, s, e), seed ^ 7, -1.5, 1.5),
            tensor(&shape(hkv, s, ev), seed ^ 8, -1.5, 1.5),
        ];
        let bool_mask = bools(&[hq, l, s], seed ^ 9, 0.7);
        if mask == 3 {
            inputs.push(tensor(&[l, s], seed ^ 10, -1.0, 1.0));
        }
        check("scaled_dot_product_attention", |_, v| {
            let m = match mask {
                2 => Some(AttnMask::Bool(&bool_mask)),
                3 => Some(AttnMask::Additive(v[3])),
                _ => None,
            };
            F::scaled_dot_product_attention(v[0], v[1], v[2], m, 0.0, mask == 1, scale, gqa)
        }, &inputs);
    }
}

#[test]
fn batch_norm_updates_running_stats_like_pytorch() {
    // (N=2, C=2, L=2): channel 0 = [1, 2, 3, 5], channel 1 = [0, 0, 4, 4]
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 0.0, 0.0, 3.0, 5.0, 4.0, 4.0], &[2, 2, 2]);
    let tape = Tape::new();
    let xv = tape.var(x);
    let mut rm = Tensor::from_vec(vec![1.0f64, -1.0], &[2]);
    let mut rv = Tensor::from_vec(vec![2.0f64, 0.5], &[2]);
    let y = F::batch_norm(
        xv,
        Some(&mut rm),
        Some(&mut rv),
        None,
        None,
        true,
        0.25,
        0.0,
    );
    // means 2.75 and 2; unbiased variances 8.75/3 and 16/3; biased 2.1875 and 4
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12);
    assert!(close(
        &rm.to_vec::<f64>(),
        &[0.75 * 1.0 + 0.25 * 2.75, -0.75 + 0.25 * 2.0]
    ));
    assert!(close(
        &rv.to_vec::<f64>(),
        &[
            0.75 * 2.0 + 0.25 * 8.75 / 3.0,
            0.75 * 0.5 + 0.25 * 16.0 / 3.0
        ]
    ));
    let yv = y.value().to_vec::<f64>();
    assert!((yv[2] - (-1.0)).abs() < 1e-12 && (yv[6] - 1.0).abs() < 1e-12);
    // the running statistics are not part of the graph
    y.sum().backward();
    assert_eq!(xv.grad().unwrap().shape(), &[2, 2, 2]);

    // eval mode reads them back and leaves them alone
    let tape = Tape::new();
    let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]);
    let mut rm = Tensor::from_vec(vec![1.0f32, 0.0], &[2]);
    let mut rv = Tensor::from_vec(vec![4.0f32, 1.0], &[2]);
    let y = F::batch_norm(
        tape.constant(x),
        Some(&mut rm),
        Some(&mut rv),
        None,
        Some(tape.constant(Tensor::from_vec(vec![0.5f32, 0.5], &[2]))),
        false,
        0.1,
        0.0,
    );
    assert_eq!(y.value().to_vec::<f32>(), vec![0.5, 2.5]);
    assert_eq!(rm.to_vec::<f32>(), vec![1.0, 0.0]);
    assert_eq!(y.dtype(), DType::F32);
}

#[test]
#[should_panic(expected = "more than 1 value per channel")]
fn batch_norm_training_needs_two_values_per_channel() {
    let tape = Tape::new();
    let x = tape.var(Tensor::ones(&[1, 3], DType::F64));
    F::batch_norm(x, None, None, None, None, true, 0.1, 1e-5);
}

#[test]
fn sdpa_fully_masked_row_is_zero_and_gqa_repeats_heads_interleaved() {
    let tape = Tape::new();
    let q = tape.var(tensor(&[2, 2, 3], 1, -1.0, 1.0));
    let k = tape.var(tensor(&[1, 4, 3], 2, -1.0, 1.0));
    let v = tape.var(tensor(&[1, 4, 2], 3, -1.0, 1.0));
    // head-broadcast mask; row 1 of every head may attend to nothing
    let mask = Tensor::from_vec(
        vec![true, false, true, true, false, false, false, false],
        &[2, 4],
    );
    let out = F::scaled_dot_product_attention(
        q,
        k,
        v,
        Some(AttnMask::Bool(&mask)),
        0.0,
        false,
        None,
        false,
    );
    let o = out.value().to_vec::<f64>();
    assert!(o.iter().all(|x| x.is_finite()));
    assert_eq!(&o[2..4], &[0.0, 0.0]);
    assert_eq!(&o[6..8], &[0.0, 0.0]);
    out.sum().backward();
    assert!(q
        .grad()
        .unwrap()
        .to_vec::<f64>()
        .iter()
        .all(|x| x.is_finite()));

    // GQA: query heads (0, 1) use kv head 0 and (2, 3) use kv head 1 (repeat_interleave)
    let tape = Tape::new();
    let q = tape.constant(tensor(&[4, 2, 3], 4, -1.0, 1.0));
    let k = tape.constant(tensor(&[2, 5, 3], 5, -1.0, 1.0));
    let v = tape.constant(tensor(&[2, 5, 2], 6, -1.0, 1.0));
    let gqa = F::scaled_dot_product_attention(q, k, v, None, 0.0, true, Some(0.7), true).value();
    for h in 0..4 {
        let one = F::scaled_dot_product_attention(
            q.narrow(0, h, 1),
            k.narrow(0, h / 2, 1),
            v.narrow(0, h / 2, 1),
            None,
            0.0,
            true,
            Some(0.7),
            false,
        )
        .value();
        assert!(gqa.narrow(0, h, 1).allclose(&one, 1e-12, 1e-12), "head {h}");
    }
}

#[test]
#[should_panic(expected = "dropout_p")]
fn sdpa_rejects_dropout() {
    let tape = Tape::new();
    let q = tape.var(Tensor::ones(&[2, 2], DType::F64));
    F::scaled_dot_product_attention(q, q, q, None, 0.1, false, None, false);
}

#[test]
fn dropout_is_seeded_scaled_and_off_in_eval() {
    use tuna_autograd::functional::{dropout, dropout2d};
    use tuna_tensor::Generator;
    let x = Tensor::ones(&[64, 64], tuna_tensor::DType::F32);
    let run = |seed: u64, training: bool| {
        let tape = Tape::new();
        let v = tape.var(x.clone());
        let y = dropout(v, 0.25, training, &mut Generator::new(seed));
        y.sum().backward();
        (y.value(), v.grad().unwrap())
    };
    let (a, ga) = run(7, true);
    let (b, _) = run(7, true);
    let (c, _) = run(8, true);
    assert!(a.equal(&b), "same seed, same mask");
    assert!(!a.equal(&c), "different seed, different mask");
    let vals = a.to_vec::<f32>();
    assert!(vals
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
    let kept = vals.iter().filter(|&&v| v != 0.0).count() as f64 / vals.len() as f64;
    assert!((kept - 0.75).abs() < 0.03, "kept fraction {kept}");
    assert!(ga.equal(&a), "gradient of sum is the mask");
    let (e, _) = run(7, false);
    assert!(e.equal(&x), "eval mode is the identity");

    let tape = Tape::new();
    let img = tape.var(Tensor::ones(&[2, 8, 3, 3], tuna_tensor::DType::F64));
    let y = dropout2d(img, 0.5, true, &mut Generator::new(1)).value();
    for n in 0..2 {
        for ch in 0..8 {
            let plane = y.select(0, n).select(0, ch).to_vec::<f64>();
            assert!(
                plane.iter().all(|&v| v == plane[0]),
                "whole channels dropped together"
            );
        }
    }
}
