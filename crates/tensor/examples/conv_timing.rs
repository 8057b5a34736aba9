//! Quick hand-run timing of the LeNet convolution and pooling shapes (batch 64):
//! `cargo run -j2 --release -p tuna-tensor --example conv_timing [threads]`.

use std::time::Instant;

use tuna_tensor::{
    conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, max_pool2d_backward,
    set_num_threads, Conv2dOptions, MaxPool2dOptions, Tensor,
};

fn data(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed) % 97) as f32 - 48.0) / 50.0)
        .collect()
}

/// Median time in ms of `f` over `reps` runs (after 3 warm-up runs).
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let mut ts: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ts[reps / 2]
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    set_num_threads(threads);
    let o = Conv2dOptions::new();
    let mut total = 0.0;
    for (name, c, h, co, need_dx) in [
        ("conv1 1->8 28x28", 1, 28, 8, false),
        ("conv2 8->16 12x12", 8, 12, 16, true),
    ] {
        let x = Tensor::from_vec(data(64 * c * h * h, 1), &[64, c, h, h]);
        let w = Tensor::from_vec(data(co * c * 25, 2), &[co, c, 5, 5]);
        let b = Tensor::from_vec(data(co, 3), &[co]);
        let y = x.conv2d(&w, Some(&b), &o);
        let gy = Tensor::from_vec(data(y.numel(), 4), y.shape());
        let fwd = time(50, || drop(x.conv2d(&w, Some(&b), &o)));
        let dw = time(50, || drop(conv2d_backward_weight(&gy, &x, w.shape(), &o)));
        let db = time(50, || drop(conv2d_backward_bias(&gy)));
        let dx = time(50, || drop(conv2d_backward_input(&gy, &w, x.shape(), &o)));
        let step = fwd + dw + db + if need_dx { dx } else { 0.0 };
        total += step;
        println!("{name}: fwd {fwd:.3} ms, dW {dw:.3} ms, db {db:.3} ms, dX {dx:.3} ms -> train step {step:.3} ms");
    }
    for (name, c, h) in [("maxpool 8x24x24", 8, 24), ("maxpool 16x8x8", 16, 8)] {
        let x = Tensor::from_vec(data(64 * c * h * h, 5), &[64, c, h, h]);
        let po = MaxPool2dOptions::new([2, 2]);
        let (y, i) = x.max_pool2d_with_indices(&po);
        let fwd = time(50, || drop(x.max_pool2d_with_indices(&po)));
        let bwd = time(50, || drop(max_pool2d_backward(&y, &i, x.shape())));
        total += fwd + bwd;
        println!("{name}: fwd {fwd:.3} ms, bwd {bwd:.3} ms");
    }
    println!("total conv+pool train-step kernels: {total:.3} ms ({threads} thread(s))");
}
