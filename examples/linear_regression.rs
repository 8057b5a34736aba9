//! The classic first snippet: fit `y = 3x - 2` from noisy samples with an `nn::Linear(1, 1)`,
//! `MSELoss` and `SGD` in a hand-written loop (forward on a tape, backward, step).
//!
//! Run with `cargo run --release --example linear_regression`.

use tuna::loss::{Loss, MseLoss};
use tuna::nn::{Linear, Module};
use tuna::optim::{OptimizerConfig, SgdConfig};
use tuna::tensor::Generator;
use tuna::{DType, Tape, Tensor};

/// Fits the line and returns the learned `(weight, bias)`.
pub fn run() -> (f64, f64) {
    // ANCHOR: main
    let mut gen = Generator::new(0);
    // 256 samples: x uniform in [-1, 1), y = 3x - 2 + N(0, 0.1²)
    let x = Tensor::uniform(&[256, 1], -1.0, 1.0, DType::F32, &mut gen);
    let noise = Tensor::randn(&[256, 1], DType::F32, &mut gen).mul_scalar(0.1);
    let y = x.mul_scalar(3.0).add_scalar(-2.0).add(&noise);

    let model = Linear::new(1, 1, true, DType::F32, &mut gen); // torch.nn.Linear(1, 1)
    let loss_fn = MseLoss::default(); // torch.nn.MSELoss()
    let mut optimizer = SgdConfig {
        lr: 0.1,
        ..SgdConfig::default()
    }
    .build(model.named_parameters(), &[]) // torch.optim.SGD(model.parameters(), lr=0.1)
    .expect("SGD over the model's parameters");

    for epoch in 0..200 {
        let tape = Tape::new();
        let pred = model.forward(tape.constant(x.clone()));
        let loss = loss_fn
            .forward(pred, tape.constant(y.clone()))
            .expect("shapes match");
        loss.backward();
        optimizer.step().expect("finite gradients");
        optimizer.zero_grad();
        if epoch % 40 == 0 {
            println!("epoch {epoch:3}: loss {:.5}", loss.item());
        }
    }
    let w = model.weight.value().item();
    let b = model.bias.as_ref().expect("bias").value().item();
    println!("learned y = {w:.3}x + {b:.3}   (true: y = 3x - 2)");
    // ANCHOR_END: main
    (w, b)
}

fn main() {
    let (w, b) = run();
    assert!(
        (w - 3.0).abs() < 0.05 && (b + 2.0).abs() < 0.05,
        "w {w}, b {b}"
    );
}
