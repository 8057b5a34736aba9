//! The shared benchmark data generator (identical to `../shared/bench/common.py`), so Tuna and
//! PyTorch start from bit-identical inputs and weights.
#![allow(dead_code)]

use tuna::Tensor;

/// splitmix64 stream `i` of `seed`.
pub fn splitmix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `uniform(seed, n, lo, hi)` as in common.py (computed in f32).
pub fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let u = (splitmix(seed, i) >> 40) as f32 * (1.0 / 16_777_216.0);
            lo + (hi - lo) * u
        })
        .collect()
}

/// Class labels in `0..classes`.
pub fn labels(seed: u64, n: usize, classes: u64) -> Vec<i64> {
    (0..n as u64)
        .map(|i| (splitmix(seed, i) % classes) as i64)
        .collect()
}

/// `init_param(seed, n, fan_in)`: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
pub fn init_param(seed: u64, n: usize, fan_in: usize) -> Vec<f32> {
    let b = 1.0f32 / (fan_in as f32).sqrt();
    uniform(seed, n, -b, b)
}

/// A tensor from generated data.
pub fn tensor(data: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(data, shape)
}

use tuna::autograd::Tape;
use tuna::loss::Loss;
use tuna::nn::{build_checked, load_state_dict, LayerConfig, Module};
use tuna::optim::{Optimizer, OptimizerConfig, SgdConfig};

/// A benchmark model built from the real stack: a config-built `tuna-nn` model with the
/// shared initialization loaded by state-dict name, `CrossEntropyLoss` from `tuna-loss` and
/// `SGD(lr 0.01, momentum 0.9)` from `tuna-optim`.
pub struct Workload {
    /// The network.
    pub net: Box<dyn Module>,
    loss: Box<dyn Loss>,
    opt: Box<dyn Optimizer>,
}

impl Workload {
    fn new(spec_json: &str, input_shape: &[usize], weights: Vec<(String, Tensor)>) -> Self {
        let spec: Box<dyn LayerConfig> = serde_json::from_str(spec_json).expect("model spec");
        let net = build_checked(spec.as_ref(), input_shape, 0).expect("model builds");
        load_state_dict(net.as_ref(), &weights, true).expect("shared initialization");
        let loss: Box<dyn Loss> =
            serde_json::from_str(r#"{"type": "CrossEntropyLoss"}"#).expect("loss");
        let sgd = SgdConfig {
            lr: 0.01,
            momentum: 0.9,
            ..SgdConfig::default()
        };
        let opt = sgd.build(net.named_parameters(), &[]).expect("optimizer");
        Workload { net, loss, opt }
    }

    /// W2's MLP 784-256-128-10: weights from `init_param(100 + 2i, ...)`, biases `101 + 2i`.
    pub fn mlp(batch: usize) -> Self {
        let spec = r#"{"type": "Sequential", "layers": [
            {"type": "Linear", "in_features": 784, "out_features": 256}, {"type": "ReLU"},
            {"type": "Linear", "in_features": 256, "out_features": 128}, {"type": "ReLU"},
            {"type": "Linear", "in_features": 128, "out_features": 10}]}"#;
        let mut weights = Vec::new();
        for (i, (pos, fin, fout)) in [(0usize, 784usize, 256usize), (2, 256, 128), (4, 128, 10)]
            .into_iter()
            .enumerate()
        {
            weights.push((
                format!("{pos}.weight"),
                tensor(
                    init_param(100 + 2 * i as u64, fin * fout, fin),
                    &[fout, fin],
                ),
            ));
            weights.push((
                format!("{pos}.bias"),
                tensor(init_param(101 + 2 * i as u64, fout, fin), &[fout]),
            ));
        }
        Self::new(spec, &[batch, 784], weights)
    }

    /// W3's LeNet-style CNN: seeds 200/202/204 for weights, +1 for biases.
    pub fn cnn(batch: usize) -> Self {
        let spec = r#"{"type": "Sequential", "layers": [
            {"type": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 5}, {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": 5}, {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Flatten"},
            {"type": "Linear", "in_features": 256, "out_features": 10}]}"#;
        let mut weights = Vec::new();
        let layers: [(usize, &[usize], usize, u64); 3] = [
            (0, &[8, 1, 5, 5], 25, 200),
            (3, &[16, 8, 5, 5], 200, 202),
            (7, &[10, 256], 256, 204),
        ];
        for (pos, shape, fan, seed) in layers {
            let n: usize = shape.iter().product();
            weights.push((
                format!("{pos}.weight"),
                tensor(init_param(seed, n, fan), shape),
            ));
            weights.push((
                format!("{pos}.bias"),
                tensor(init_param(seed + 1, shape[0], fan), &[shape[0]]),
            ));
        }
        Self::new(spec, &[batch, 1, 28, 28], weights)
    }

    /// W6: the ResNet-8 of `examples/configs/resnet-cifar.toml` (its `[model]`, PyTorch's
    /// default initialization from seed 0) on `[batch, 3, 32, 32]`.
    pub fn resnet8(batch: usize) -> Self {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/configs/resnet-cifar.toml"
        );
        let text = std::fs::read_to_string(file).expect("resnet-cifar.toml");
        let exp: toml::Value = toml::from_str(&text).expect("TOML");
        let spec = serde_json::to_string(&exp["model"]).expect("model as JSON");
        let spec: Box<dyn LayerConfig> = serde_json::from_str(&spec).expect("model spec");
        let net = build_checked(spec.as_ref(), &[batch, 3, 32, 32], 0).expect("model builds");
        let loss: Box<dyn Loss> =
            serde_json::from_str(r#"{"type": "CrossEntropyLoss"}"#).expect("loss");
        let sgd = SgdConfig {
            lr: 0.01,
            momentum: 0.9,
            ..SgdConfig::default()
        };
        let opt = sgd.build(net.named_parameters(), &[]).expect("optimizer");
        Workload { net, loss, opt }
    }

    /// One training step (forward, cross-entropy, backward, SGD); returns the loss.
    pub fn step(&mut self, x: &Tensor, y: &Tensor) -> f64 {
        let loss = {
            let tape = Tape::new();
            let logits = self.net.forward(tape.constant(x.clone()));
            let loss = self
                .loss
                .forward(logits, tape.constant(y.clone()))
                .expect("loss");
            loss.backward();
            loss.item()
        };
        self.opt.step().expect("step");
        self.opt.zero_grad();
        loss
    }
}

/// W2 data: inputs seed 1, labels seed 2.
pub fn mlp_data(b: usize) -> (Tensor, Tensor) {
    (
        tensor(uniform(1, b * 784, 0.0, 1.0), &[b, 784]),
        Tensor::from_vec(labels(2, b, 10), &[b]),
    )
}

/// W6 data: `[b, 3, 32, 32]` inputs seed 5, labels seed 6.
pub fn resnet_data(b: usize) -> (Tensor, Tensor) {
    (
        tensor(uniform(5, b * 3072, -1.0, 1.0), &[b, 3, 32, 32]),
        Tensor::from_vec(labels(6, b, 10), &[b]),
    )
}

/// W3 data: inputs seed 3, labels seed 4.
pub fn cnn_data(b: usize) -> (Tensor, Tensor) {
    (
        tensor(uniform(3, b * 784, 0.0, 1.0), &[b, 1, 28, 28]),
        Tensor::from_vec(labels(4, b, 10), &[b]),
    )
}
