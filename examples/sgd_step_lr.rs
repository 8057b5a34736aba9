//! SGD with a StepLR schedule in a hand-written loop: the schedule is the single source of
//! truth for the learning rate, which flows into the optimizer at the start of every epoch
//! (`optimizer.set_lr(group, lr)`), exactly what the `Trainer` does for `interval = "epoch"`.
//!
//! Run with `cargo run --release --example sgd_step_lr`.

use tuna::loss::{Loss, MseLoss};
use tuna::nn::{Linear, Module};
use tuna::optim::{OptimizerConfig, SgdConfig};
use tuna::sched::{LrSchedulerConfig, StepLrConfig};
use tuna::tensor::Generator;
use tuna::{DType, Tape, Tensor};

/// Trains for 10 epochs and returns the lr used in each.
pub fn run() -> Vec<f64> {
    let mut gen = Generator::new(1);
    let x = Tensor::randn(&[128, 4], DType::F32, &mut gen);
    let true_w = Tensor::from_vec(vec![1.0f32, -2.0, 0.5, 3.0], &[4, 1]);
    let y = x.matmul(&true_w);
    let model = Linear::new(4, 1, true, DType::F32, &mut gen);
    let loss_fn = MseLoss::default();

    // ANCHOR: main
    let mut optimizer = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..SgdConfig::default()
    }
    .build(model.named_parameters(), &[])
    .expect("optimizer");
    // StepLR(step_size=3, gamma=0.5): halve the lr every 3 epochs
    let schedule = StepLrConfig {
        step_size: 3,
        gamma: 0.5,
        ..StepLrConfig::default()
    };
    let mut scheduler = schedule
        .build(&optimizer.lrs())
        .expect("one base lr per group");

    let mut used = Vec::new();
    for epoch in 0..10 {
        // the schedule decides, the optimizer follows
        for (group, lr) in scheduler.lrs().into_iter().enumerate() {
            optimizer.set_lr(group, lr).expect("a valid lr");
        }
        let mut epoch_loss = 0.0;
        for batch in 0..4 {
            let (xb, yb) = (x.narrow(0, batch * 32, 32), y.narrow(0, batch * 32, 32));
            let tape = Tape::new();
            let loss = loss_fn
                .forward(model.forward(tape.constant(xb)), tape.constant(yb))
                .expect("shapes match");
            loss.backward();
            optimizer.step().expect("step");
            optimizer.zero_grad();
            epoch_loss += loss.item() / 4.0;
        }
        let lr = optimizer.lrs()[0];
        println!("epoch {epoch}: lr {lr:.4}  loss {epoch_loss:.5}");
        used.push(lr);
        scheduler.step(None); // once per epoch, after the optimizer steps (PyTorch order)
    }
    // ANCHOR_END: main
    used
}

/// Checks the lr sequence: 0.1 halved every 3 epochs.
pub fn main() {
    let lrs = run();
    let expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125];
    for (got, want) in lrs.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "lr {got}, expected {want}");
    }
}
