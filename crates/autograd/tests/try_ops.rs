//! The `try_` twins of the ops that can fail on shapes: each returns a `TensorError` naming the
//! op and the shapes involved, records nothing on failure, and agrees with the panicking
//! method (same value on success, same message on failure).

use std::panic::{catch_unwind, AssertUnwindSafe};

use tuna_autograd::{Tape, Var};
use tuna_tensor::{Conv2dOptions, DType, MaxPool2dOptions, PadMode, Tensor, TensorError};

fn ramp(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec(
        (0..n).map(|i| i as f32 * 0.1 - 1.0).collect::<Vec<f32>>(),
        shape,
    )
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs a failing `try_` op, checks the error names `op` and both shapes, that nothing was
/// recorded, and that the panicking twin panics with the same message.
#[track_caller]
fn fails<'t>(
    tape: &'t Tape,
    op: &str,
    shapes: [&str; 2],
    try_op: impl FnOnce() -> Result<Var<'t>, TensorError>,
    panicking: impl FnOnce(),
) {
    let before = tape.len();
    let e = match try_op() {
        Ok(_) => panic!("{op}: expected an error"),
        Err(e) => e,
    };
    let msg = e.to_string();
    assert_eq!(e.op(), op, "{msg}");
    for s in shapes {
        assert!(msg.contains(s), "{op}: `{msg}` should name {s}");
    }
    assert_eq!(tape.len(), before, "{op}: a failed op records nothing");
    assert_eq!(panic_message(panicking), msg);
}

#[test]
fn shape_errors_are_returned_with_the_op_and_both_shapes() {
    let tape = Tape::new();
    let a = tape.var(ramp(&[2, 3]));
    let b = tape.var(ramp(&[4, 5]));
    let c = tape.var(ramp(&[4]));
    fails(
        &tape,
        "matmul",
        ["[2, 3]", "[4, 5]"],
        || a.try_matmul(b),
        || {
            a.matmul(b);
        },
    );
    fails(
        &tape,
        "matmul",
        ["[4]", "[2, 3]"],
        || c.try_matmul(a),
        || {
            c.matmul(a);
        },
    );
    fails(
        &tape,
        "add",
        ["[2, 3]", "[4]"],
        || a.try_add(c),
        || {
            a.add(c);
        },
    );
    fails(
        &tape,
        "pow",
        ["[2, 3]", "[4]"],
        || a.try_pow(c),
        || {
            a.pow(c);
        },
    );
    fails(
        &tape,
        "reshape",
        ["[2, 3]", "[4]"],
        || a.try_reshape(&[4]),
        || {
            a.reshape(&[4]);
        },
    );
    fails(
        &tape,
        "expand",
        ["[2, 3]", "[4, 5]"],
        || a.try_expand(&[4, 5]),
        || {
            a.expand(&[4, 5]);
        },
    );
    fails(
        &tape,
        "cat",
        ["[2, 3]", "[4, 5]"],
        || tape.try_cat(&[a, b], 0),
        || {
            tape.cat(&[a, b], 0);
        },
    );
    fails(
        &tape,
        "stack",
        ["[2, 3]", "[4, 5]"],
        || tape.try_stack(&[a, b], 0),
        || {
            tape.stack(&[a, b], 0);
        },
    );
    let mask = Tensor::from_vec(vec![true; 4], &[4]);
    fails(
        &tape,
        "masked_fill",
        ["[4]", "[2, 3]"],
        || a.try_masked_fill(&mask, 0.0),
        || {
            a.masked_fill(&mask, 0.0);
        },
    );
}

#[test]
fn dim_and_index_errors_are_returned() {
    let tape = Tape::new();
    let a = tape.var(ramp(&[2, 3]));
    for (op, r) in [
        ("sum", a.try_sum_dims(&[2], false)),
        ("mean", a.try_mean_dims(&[-3], true)),
        ("amax", a.try_amax(&[0, 0], false)),
        ("softmax", a.try_softmax(5)),
        ("transpose", a.try_transpose(0, 2)),
        ("permute", a.try_permute(&[0, 0])),
        ("narrow", a.try_narrow(1, 2, 2)),
        ("unsqueeze", a.try_unsqueeze(4)),
        ("squeeze", a.try_squeeze(-3)),
        ("flatten", a.try_flatten(1, 0)),
    ] {
        let e = r.err().unwrap_or_else(|| panic!("{op}: expected an error"));
        assert_eq!(e.op(), op, "{e}");
    }
    let idx = Tensor::from_vec(vec![0i64, 7], &[2]);
    let e = a.try_index_select(1, &idx).expect_err("index 7 of 3");
    assert!(e.to_string().contains('7'), "{e}");
    let e = a
        .try_gather(1, &Tensor::from_vec(vec![0i64, 3], &[1, 2]))
        .err();
    assert!(e.is_some());
    let e = a
        .try_embedding(&idx, None, false)
        .expect_err("index 7 of 2 rows");
    assert!(e.to_string().contains("embedding") || e.to_string().contains("index_select"));
    let w = tape.var(ramp(&[3, 3]).reshape(&[3, 3]));
    let e = w
        .reshape(&[9])
        .try_embedding(&idx, None, false)
        .expect_err("1-D weight");
    assert_eq!(
        e.to_string(),
        "embedding: weight must be 2-D, got shape [9]"
    );
}

#[test]
fn spatial_errors_are_returned() {
    let tape = Tape::new();
    let x = tape.var(ramp(&[1, 3, 5, 5]));
    let w = tape.var(ramp(&[4, 2, 3, 3]));
    let o = Conv2dOptions::new();
    let e = x.try_conv2d(w, None, &o).expect_err("3 channels vs 2");
    assert!(e.to_string().contains("[1, 3, 5, 5]") && e.to_string().contains("[4, 2, 3, 3]"));
    assert_eq!(
        panic_message(|| {
            x.conv2d(w, None, &o);
        }),
        e.to_string()
    );
    assert!(x.try_max_pool2d(&MaxPool2dOptions::new([7, 7])).is_err());
    assert!(x.try_pad(&[9, 9], PadMode::Reflect).is_err());
    assert!(x.try_adaptive_avg_pool2d([0, 2]).is_err());
}

#[test]
fn successful_try_ops_match_their_panicking_twins() {
    let tape = Tape::new();
    let a = tape.var(ramp(&[2, 3]));
    let b = tape.var(ramp(&[3, 4]));
    let v = tape.var(ramp(&[3]));
    let same = |x: Var<'_>, y: Var<'_>| assert!(x.value().equal(&y.value()));
    same(a.try_matmul(b).unwrap(), a.matmul(b));
    same(a.try_matmul(v).unwrap(), a.matmul(v));
    same(v.try_matmul(b).unwrap(), v.matmul(b));
    same(v.try_matmul(v).unwrap(), v.matmul(v));
    same(a.try_add(v).unwrap(), a.add(v));
    same(
        a.try_sum_dims(&[-1], true).unwrap(),
        a.sum_dims(&[-1], true),
    );
    same(
        a.try_logsumexp(&[0], false).unwrap(),
        a.logsumexp(&[0], false),
    );
    same(a.try_permute(&[-1, 0]).unwrap(), a.permute(&[1, 0]));
    same(
        tape.try_stack(&[a, a], -1).unwrap(),
        tape.stack(&[a, a], -1),
    );
    let (m, i) = a.try_max_dim(-1, false).unwrap();
    same(m, a.max_dim(1, false).0);
    assert_eq!(i.dtype(), DType::I64);
    // gradients flow through try_ ops as through the panicking ones
    let y = a.try_matmul(b).unwrap().try_sum_dims(&[], false).unwrap();
    y.backward();
    assert_eq!(a.grad().unwrap().shape(), &[2, 3]);
}

#[test]
fn a_shape_error_leaves_the_tape_usable() {
    let tape = Tape::new();
    let x = tape.var(ramp(&[2, 3]));
    let w = tape.var(ramp(&[4, 3]));
    assert!(x.try_matmul(w).is_err());
    let y = x.matmul(w.t()).sum();
    y.backward();
    assert_eq!(w.grad().unwrap().shape(), &[4, 3]);
}
