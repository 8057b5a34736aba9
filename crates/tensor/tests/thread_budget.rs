//! Thread budgets are per thread: two threads running kernels at the same time with different
//! budgets each see their own, and every kernel gives the same bits at 1 and 2 threads.

use std::sync::Barrier;

use tuna_tensor::{
    conv2d_backward_input, conv2d_backward_weight, num_threads, set_num_threads, with_num_threads,
    Conv2dOptions, MaxPool2dOptions, Tensor,
};

/// Deterministic values in [-1, 1).
fn vals(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32) / 1001.5 - 1.0)
        .collect()
}

fn tensor(shape: &[usize], seed: usize) -> Tensor {
    Tensor::from_vec(vals(shape.iter().product(), seed), shape)
}

/// One step's worth of large kernels: a GEMM big enough to split, a convolution forward and
/// both its gradients over a batch, and a max pool.
fn kernels() -> Vec<Tensor> {
    let a = tensor(&[384, 256], 1);
    let b = tensor(&[256, 384], 2);
    let x = tensor(&[16, 6, 24, 24], 3);
    let w = tensor(&[16, 6, 5, 5], 4);
    let o = Conv2dOptions::new().padding(2);
    let y = x.conv2d(&w, None, &o);
    let gy = y.mul_scalar(0.25);
    let dx = conv2d_backward_input(&gy, &w, x.shape(), &o);
    let dw = conv2d_backward_weight(&gy, &x, w.shape(), &o);
    let (p, i) = y.max_pool2d_with_indices(&MaxPool2dOptions::new([2, 2]));
    vec![a.matmul(&b), y, dx, dw, p, i]
}

fn assert_same(what: &str, a: &[Tensor], b: &[Tensor]) {
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(x.equal(y), "{what}: kernel {k} differs");
    }
}

#[test]
fn two_threads_with_different_budgets_each_observe_their_own() {
    let reference = with_num_threads(1, kernels);
    let barrier = Barrier::new(2);
    let results: Vec<(usize, Vec<Tensor>)> = std::thread::scope(|s| {
        let handles: Vec<_> = [1usize, 2]
            .into_iter()
            .map(|n| {
                let barrier = &barrier;
                s.spawn(move || {
                    set_num_threads(n);
                    barrier.wait();
                    let out = kernels();
                    barrier.wait();
                    (num_threads(), out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results[0].0, 1);
    assert_eq!(results[1].0, 2);
    for (n, out) in &results {
        assert_same(&format!("{n} threads, run concurrently"), &reference, out);
    }
}

#[test]
fn kernels_give_identical_results_at_one_and_two_threads() {
    let one = with_num_threads(1, kernels);
    let two = with_num_threads(2, kernels);
    assert_same("1 vs 2 threads", &one, &two);
    // a second run on the same pool gives the same bits again
    assert_same("2 threads, twice", &two, &with_num_threads(2, kernels));
}

#[test]
fn a_thread_that_never_set_a_budget_uses_the_default() {
    std::thread::spawn(|| assert_eq!(num_threads(), tuna_tensor::default_num_threads()))
        .join()
        .unwrap();
}
