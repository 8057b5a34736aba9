//! End-to-end parity of the whole stack (config-built `tuna-nn` model, `CrossEntropyLoss`,
//! `SGD` with momentum): the first five losses of the W2 (MLP) and W3 (CNN) benchmark training
//! runs, from the shared bit-identical initialization, equal PyTorch's (recorded in
//! `../shared/bench/README.md`, PyTorch 2.15, SGD lr 0.01 momentum 0.9, batch 64).

#[path = "../benches/support/mod.rs"]
mod benchutil;
use benchutil::*;

fn assert_losses(name: &str, got: &[f64], want: &[f64]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() < 2e-5,
            "{name} step {i}: got {g:.6}, PyTorch {w:.6}\nall: {got:?}"
        );
    }
}

#[test]
fn mlp_first_losses_match_pytorch() {
    let mut model = Workload::mlp(64);
    let (x, y) = mlp_data(64);
    let losses: Vec<f64> = (0..5).map(|_| model.step(&x, &y)).collect();
    assert_losses(
        "W2",
        &losses,
        &[2.288897, 2.287770, 2.285653, 2.282748, 2.279295],
    );
}

#[test]
fn cnn_first_losses_match_pytorch() {
    let mut model = Workload::cnn(64);
    let (x, y) = cnn_data(64);
    let losses: Vec<f64> = (0..5).map(|_| model.step(&x, &y)).collect();
    assert_losses(
        "W3",
        &losses,
        &[2.295986, 2.294867, 2.292815, 2.290028, 2.286650],
    );
}
