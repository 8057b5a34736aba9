//! Tensors and autograd in five minutes: views, broadcasting, a recorded forward pass,
//! `backward`, parameters, a few steps of gradient descent, and recovering from a shape error.
//!
//! Run with `cargo run --release --example autograd_basics`.

// ANCHOR: tensors
use tuna::autograd::{no_grad, Param, Tape};
use tuna::{DType, Tensor};

fn tensors() {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let at = a.t(); // a view: same buffer, swapped strides
    assert!(at.shares_storage(&a) && !at.is_contiguous());
    let b = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3]);
    let c = a.add(&b); // broadcast [2, 3] + [3]
    println!("a + b =\n{:?}", c.to_vec::<f32>());
    println!("a @ aᵀ = {:?}", a.matmul(&at).to_vec::<f32>());
    println!("softmax rows = {:?}", a.softmax(-1).to_vec::<f32>());
}
// ANCHOR_END: tensors

// ANCHOR: autograd
fn autograd() {
    let tape = Tape::new();
    let x = tape.var(Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3]));
    let y = (x * x + x.sin()).sum(); // y = Σ x² + sin x
    y.backward();
    // dy/dx = 2x + cos x
    println!("dy/dx = {:?}", x.grad().unwrap().to_vec::<f64>());
}
// ANCHOR_END: autograd

// ANCHOR: training
fn training() {
    // Fit y = 3x - 1 with a linear model and plain gradient descent.
    let xs = Tensor::from_vec((0..32).map(|i| i as f32 / 16.0 - 1.0).collect(), &[32, 1]);
    let ys = xs.mul_scalar(3.0).add_scalar(-1.0);
    let w = Param::new(Tensor::zeros(&[1, 1], DType::F32));
    let b = Param::new(Tensor::zeros(&[1], DType::F32));
    for step in 0..200 {
        let tape = Tape::new();
        let (x, y) = (tape.constant(xs.clone()), tape.constant(ys.clone()));
        let pred = x.matmul(tape.param(&w).t()).add(tape.param(&b));
        let loss = (pred - y).square().mean();
        loss.backward();
        if step % 50 == 0 {
            println!("step {step:3}: loss {:.6}", loss.item());
        }
        drop(tape); // frees the step's activations
        for p in [&w, &b] {
            let g = p.grad().unwrap();
            p.update(|v| v.add_scaled_(&g, -0.5));
            p.zero_grad();
        }
    }
    let fitted = no_grad(|| (w.value().item(), b.value().item()));
    println!("w = {:.4}, b = {:.4}", fitted.0, fitted.1);
    assert!((fitted.0 - 3.0).abs() < 1e-2 && (fitted.1 + 1.0).abs() < 1e-2);
}
// ANCHOR_END: training

// ANCHOR: recover
fn recover() -> Result<(), tuna::tensor::TensorError> {
    let tape = Tape::new();
    let x = tape.constant(Tensor::ones(&[4, 3], DType::F32));
    let w = tape.var(Tensor::ones(&[2, 5], DType::F32)); // should be [2, 3]
    match x.try_matmul(w.t()) {
        Ok(_) => unreachable!("[4, 3] @ [5, 2] has no product"),
        Err(e) => println!("recovered from: {e}"), // names matmul and both shapes
    }
    let w = tape.var(Tensor::ones(&[2, 3], DType::F32));
    let y = x.try_matmul(w.t())?.try_sum_dims(&[-1], false)?;
    assert_eq!(y.shape().as_slice(), &[4]);
    Ok(())
}
// ANCHOR_END: recover

/// Runs the four parts of the example in order.
pub fn main() {
    tensors();
    autograd();
    training();
    recover().expect("the second product has matching shapes");
}
