//! W1: square sgemm through the tensor API vs raw `matrixmultiply::sgemm` at the same size and
//! thread count (target: at least 95 %). Also a transposed operand (a stride swap, no copy).

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[path = "support/mod.rs"]
mod benchutil;
use benchutil::*;

fn w1(c: &mut Criterion) {
    tuna::tensor::set_num_threads(1);
    let mut g = c.benchmark_group("W1_sgemm");
    for &n in &[64usize, 256, 512, 1024] {
        let av = uniform(1, n * n, -1.0, 1.0);
        let bv = uniform(2, n * n, -1.0, 1.0);
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        let (a, b) = (tensor(av.clone(), &[n, n]), tensor(bv.clone(), &[n, n]));
        g.bench_with_input(BenchmarkId::new("tuna_matmul", n), &n, |bench, _| {
            bench.iter(|| a.matmul(&b))
        });
        let bt = b.t();
        g.bench_with_input(
            BenchmarkId::new("tuna_matmul_transposed_rhs", n),
            &n,
            |bench, _| bench.iter(|| a.matmul(&bt)),
        );
        let mut out = vec![0.0f32; n * n];
        g.bench_with_input(BenchmarkId::new("raw_sgemm", n), &n, |bench, _| {
            bench.iter(|| {
                // SAFETY: all three buffers hold n*n elements with row-major strides.
                unsafe {
                    matrixmultiply::sgemm(
                        n,
                        n,
                        n,
                        1.0,
                        av.as_ptr(),
                        n as isize,
                        1,
                        bv.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                };
                out[0]
            })
        });
    }
    g.finish();
}

criterion_group!(benches, w1);
criterion_main!(benches);
