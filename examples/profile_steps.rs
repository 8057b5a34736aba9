//! Runs the W2/W3 benchmark training steps (or the sequence benches' LSTM / attention
//! forward + backward) in a loop, for profilers (`perf record`) and for timing on a busy
//! machine: besides the mean wall time it prints the fastest step and the process CPU time
//! per step (which time-slicing by other processes does not inflate).
//! `cargo run --release --example profile_steps -- mlp256 500` (`mlp64`, `mlp256`, `cnn`,
//! `lstm`, `mha`)

#[path = "../benches/support/mod.rs"]
mod benchutil;
use benchutil::*;
use tuna::Tensor;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "cnn".into());
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    tuna::tensor::set_num_threads(
        std::env::var("TUNA_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
    );
    let t0 = std::time::Instant::now();
    let cpu0 = cpu_seconds();
    let mut fastest = f64::INFINITY;
    let mut timed = |f: &mut dyn FnMut() -> f64| {
        let t = std::time::Instant::now();
        let v = f();
        fastest = fastest.min(t.elapsed().as_secs_f64());
        v
    };
    let last = match which.as_str() {
        "lstm" => {
            use tuna::nn::{BuildContext, Lstm, LstmConfig, Module};
            let lstm = Lstm::new(&LstmConfig::new(128, 128), &mut BuildContext::new(0)).unwrap();
            let mut g = tuna::tensor::Generator::new(1);
            let x = Tensor::uniform(&[32, 32, 128], -1.0, 1.0, tuna::DType::F32, &mut g);
            (0..steps)
                .map(|_| {
                    timed(&mut || {
                        for (_, p) in lstm.named_parameters() {
                            p.zero_grad();
                        }
                        let tape = tuna::Tape::new();
                        let (out, _) = lstm.forward_with_state(tape.var(x.clone()), None);
                        let s = out.sum();
                        s.backward();
                        s.value().item()
                    })
                })
                .last()
        }
        "mha" => {
            use tuna::nn::{BuildContext, Module, MultiheadAttention, MultiheadAttentionConfig};
            let mut spec = MultiheadAttentionConfig::new(64, 4);
            spec.batch_first = true;
            let mha = MultiheadAttention::new(&spec, &mut BuildContext::new(0)).unwrap();
            let mut g = tuna::tensor::Generator::new(2);
            let x = Tensor::uniform(&[32, 64, 64], -1.0, 1.0, tuna::DType::F32, &mut g);
            (0..steps)
                .map(|_| {
                    timed(&mut || {
                        for (_, p) in mha.named_parameters() {
                            p.zero_grad();
                        }
                        let tape = tuna::Tape::new();
                        let xv = tape.var(x.clone());
                        let (out, _) = mha.forward_full(xv, xv, xv, None, false, None, true, false);
                        let s = out.sum();
                        s.backward();
                        s.value().item()
                    })
                })
                .last()
        }
        "mlp64" | "mlp256" => {
            let b = if which == "mlp64" { 64 } else { 256 };
            let mut m = Workload::mlp(b);
            let (x, y) = mlp_data(b);
            (0..steps).map(|_| timed(&mut || m.step(&x, &y))).last()
        }
        _ => {
            let mut m = Workload::cnn(64);
            let (x, y) = cnn_data(64);
            (0..steps).map(|_| timed(&mut || m.step(&x, &y))).last()
        }
    };
    let dt = t0.elapsed().as_secs_f64() / steps as f64;
    let cpu = (cpu_seconds() - cpu0) / steps as f64;
    println!(
        "{which}: {:.3} ms/step (fastest {:.3}, CPU {:.3}), last {:?}",
        dt * 1e3,
        fastest * 1e3,
        cpu * 1e3,
        last
    );
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // fields after the parenthesized command name; utime and stime are fields 14 and 15
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}
