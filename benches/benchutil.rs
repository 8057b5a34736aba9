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
