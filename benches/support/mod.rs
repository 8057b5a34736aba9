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

use tuna::autograd::{Param, Tape, Var};
use tuna::tensor::{Conv2dOptions, MaxPool2dOptions};

/// Cross-entropy with class indices and mean reduction (`F.cross_entropy`), written with
/// autograd ops until the loss crate provides it.
pub fn cross_entropy<'t>(logits: Var<'t>, labels: &Tensor) -> Var<'t> {
    logits
        .log_softmax(-1)
        .gather(1, &labels.unsqueeze(1))
        .mean()
        .neg()
}

/// A parameter list and SGD with momentum (`torch.optim.SGD(lr, momentum)`, dampening 0),
/// written by hand until the optim crate provides it.
pub struct Sgd {
    params: Vec<Param>,
    bufs: Vec<Option<Tensor>>,
    lr: f64,
    momentum: f64,
}

impl Sgd {
    /// SGD over `params`.
    pub fn new(params: Vec<Param>, lr: f64, momentum: f64) -> Self {
        let n = params.len();
        Sgd {
            params,
            bufs: vec![None; n],
            lr,
            momentum,
        }
    }

    /// One update; clears the gradients (`zero_grad(set_to_none=True)`).
    pub fn step(&mut self) {
        for (p, buf) in self.params.iter().zip(&mut self.bufs) {
            let Some(g) = p.grad() else { continue };
            let d = match buf {
                Some(b) if self.momentum != 0.0 => {
                    b.mul_scalar_(self.momentum);
                    b.add_(&g);
                    b.clone()
                }
                _ => {
                    if self.momentum != 0.0 {
                        *buf = Some(g.clone());
                    }
                    g
                }
            };
            p.update(|v| v.add_scaled_(&d, -self.lr));
            p.zero_grad();
        }
    }
}

/// W2's MLP 784-256-128-10 with the shared initialization.
pub struct Mlp {
    /// (weight, bias) per layer.
    pub layers: Vec<(Param, Param)>,
}

impl Mlp {
    /// Weights from `init_param(100 + 2i, ...)`, biases from `init_param(101 + 2i, ...)`.
    pub fn shared_init() -> Self {
        let dims = [(784, 256), (256, 128), (128, 10)];
        let layers = dims
            .iter()
            .enumerate()
            .map(|(i, &(fin, fout))| {
                let w = tensor(
                    init_param(100 + 2 * i as u64, fin * fout, fin),
                    &[fout, fin],
                );
                let b = tensor(init_param(101 + 2 * i as u64, fout, fin), &[fout]);
                (Param::new(w), Param::new(b))
            })
            .collect();
        Mlp { layers }
    }

    /// All parameters in order.
    pub fn params(&self) -> Vec<Param> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }

    /// One training step; returns the loss.
    pub fn step(&self, opt: &mut Sgd, x: &Tensor, y: &Tensor) -> f64 {
        let loss = {
            let tape = Tape::new();
            let mut h = tape.constant(x.clone());
            for (i, (w, b)) in self.layers.iter().enumerate() {
                h = h.matmul(tape.param(w).t()).add(tape.param(b));
                if i + 1 < self.layers.len() {
                    h = h.relu();
                }
            }
            let loss = cross_entropy(h, y);
            loss.backward();
            loss.item()
        };
        opt.step();
        loss
    }
}

/// W3's LeNet-style CNN with the shared initialization.
pub struct Cnn {
    /// conv1 (8x1x5x5), conv2 (16x8x5x5), fc (10x256): (weight, bias) each.
    pub layers: Vec<(Param, Param)>,
}

impl Cnn {
    /// Seeds 200/202/204 for weights, +1 for biases.
    pub fn shared_init() -> Self {
        let specs: [(&[usize], usize, u64); 3] = [
            (&[8, 1, 5, 5], 25, 200),
            (&[16, 8, 5, 5], 200, 202),
            (&[10, 256], 256, 204),
        ];
        let layers = specs
            .iter()
            .map(|&(shape, fan, seed)| {
                let n: usize = shape.iter().product();
                (
                    Param::new(tensor(init_param(seed, n, fan), shape)),
                    Param::new(tensor(init_param(seed + 1, shape[0], fan), &[shape[0]])),
                )
            })
            .collect();
        Cnn { layers }
    }

    /// All parameters in order.
    pub fn params(&self) -> Vec<Param> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }

    /// One training step; returns the loss.
    pub fn step(&self, opt: &mut Sgd, x: &Tensor, y: &Tensor) -> f64 {
        let conv = Conv2dOptions::new();
        let pool = MaxPool2dOptions::new([2, 2]);
        let loss = {
            let tape = Tape::new();
            let p = |i: usize| (tape.param(&self.layers[i].0), tape.param(&self.layers[i].1));
            let (w1, b1) = p(0);
            let (w2, b2) = p(1);
            let (w3, b3) = p(2);
            let h = tape
                .constant(x.clone())
                .conv2d(w1, Some(b1), &conv)
                .relu()
                .max_pool2d(&pool);
            let h = h.conv2d(w2, Some(b2), &conv).relu().max_pool2d(&pool);
            let logits = h.flatten(1, -1).matmul(w3.t()).add(b3);
            let loss = cross_entropy(logits, y);
            loss.backward();
            loss.item()
        };
        opt.step();
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

/// W3 data: inputs seed 3, labels seed 4.
pub fn cnn_data(b: usize) -> (Tensor, Tensor) {
    (
        tensor(uniform(3, b * 784, 0.0, 1.0), &[b, 1, 28, 28]),
        Tensor::from_vec(labels(4, b, 10), &[b]),
    )
}
