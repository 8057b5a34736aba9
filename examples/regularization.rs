//! Regularization in one training loop: an L2 penalty added to the loss, a max-norm
//! constraint applied after each SGD step, and early stopping on the validation loss, on a
//! small over-parameterized linear regression that over-fits without them.
//!
//! Run with `cargo run --release --example regularization`.

use tuna::autograd::{NamedParam, Param, Tape};
use tuna::regularize::{total_penalty, Constraint, EarlyStoppingConfig, MaxNorm, Regularizer, L2};
use tuna::Tensor;

/// A deterministic pseudo-random stream in [-1, 1) (keeps the example dependency-free).
fn noise(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// `n` samples of `y = x · w_true + noise` with 16 features, of which only 2 matter.
fn data(n: usize, seed: &mut u64) -> (Tensor, Tensor) {
    let d = 16;
    let x: Vec<f32> = (0..n * d).map(|_| noise(seed)).collect();
    let y: Vec<f32> = (0..n)
        .map(|i| 2.0 * x[i * d] - 1.0 * x[i * d + 1] + 0.3 * noise(seed))
        .collect();
    (Tensor::from_vec(x, &[n, d]), Tensor::from_vec(y, &[n, 1]))
}

fn mse(x: &Tensor, y: &Tensor, w: &Param) -> f64 {
    let r = x.matmul(&w.value().t()).sub(y);
    r.mul(&r).mean().item()
}

fn main() {
    let mut seed = 7;
    let (x_train, y_train) = data(20, &mut seed);
    let (x_val, y_val) = data(200, &mut seed);
    let w = Param::new(Tensor::zeros(&[1, 16], tuna::DType::F32));
    let params: Vec<NamedParam> = vec![("fc.weight".to_string(), w.clone())];

    // ANCHOR: setup
    // The same objects a config file's `[[regularizers]]`, `[[constraints]]` and
    // `early_stopping` sections deserialize into (`type = "L2"`, `type = "MaxNorm"`).
    let regularizers: Vec<Box<dyn Regularizer>> = vec![Box::new(L2 {
        weight: 1e-3, // ≡ SGD weight_decay = 2e-3
        exclude: vec!["*norm*".into()],
        ..L2::default()
    })];
    let constraints: Vec<Box<dyn Constraint>> = vec![Box::new(MaxNorm::new(3.0))];
    let mut early = EarlyStoppingConfig {
        monitor: "val_loss".into(),
        patience: 20,
        min_delta: 1e-5,
        ..Default::default()
    }
    .build()
    .expect("valid early-stopping config");
    for r in &regularizers {
        r.validate().expect("valid regularizer");
    }
    for c in &constraints {
        c.validate().expect("valid constraint");
    }
    // ANCHOR_END: setup

    let mut best_w = w.value();
    // ANCHOR: loop
    for epoch in 0..2000 {
        let tape = Tape::new();
        let wv = tape.param(&w);
        let pred = tape.constant(x_train.clone()).matmul(wv.t());
        let loss = pred.sub(tape.constant(y_train.clone())).square().mean();
        // the penalty is a differentiable Var: backward adds 2·weight·w to the gradient
        let vars = [("fc.weight".to_string(), wv)];
        let total = match total_penalty(&regularizers, &tape, &vars) {
            Some(penalty) => loss.add(penalty),
            None => loss,
        };
        total.backward();
        drop(tape);

        let g = w.grad().expect("gradient");
        w.update(|v| v.add_scaled_(&g, -0.05)); // plain SGD
        w.zero_grad();
        // constraints project in place after the step (no graph)
        for c in &constraints {
            c.apply(&params).expect("constraint fits the parameters");
        }

        let val_loss = mse(&x_val, &y_val, &w);
        let decision = early.update(epoch, val_loss);
        if decision.improved {
            best_w = w.value();
        }
        if decision.should_stop {
            println!(
                "stopped at epoch {epoch}: best val_loss {:.4} at epoch {:?}",
                decision.best_value.unwrap_or(f64::NAN),
                decision.best_epoch
            );
            break;
        }
    }
    if early.restore_best() {
        w.set_value(best_w);
    }
    // ANCHOR_END: loop

    let penalty: f64 = regularizers.iter().map(|r| r.value(&params)).sum();
    println!(
        "train {:.4}  val {:.4}  penalty {:.5}  w[0..2] = {:?}",
        mse(&x_train, &y_train, &w),
        mse(&x_val, &y_val, &w),
        penalty,
        &w.value().to_vec::<f32>()[..2]
    );
}
