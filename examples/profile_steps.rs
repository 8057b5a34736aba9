//! Runs the W2/W3 benchmark training steps in a loop, for profilers (`perf record`).
//! `cargo run --release --example profile_steps -- mlp256 500`

#[path = "../benches/support/mod.rs"]
mod benchutil;
use benchutil::*;

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
    let last = match which.as_str() {
        "mlp64" | "mlp256" => {
            let b = if which == "mlp64" { 64 } else { 256 };
            let mut m = Workload::mlp(b);
            let (x, y) = mlp_data(b);
            (0..steps).map(|_| m.step(&x, &y)).last()
        }
        _ => {
            let mut m = Workload::cnn(64);
            let (x, y) = cnn_data(64);
            (0..steps).map(|_| m.step(&x, &y)).last()
        }
    };
    let dt = t0.elapsed().as_secs_f64() / steps as f64;
    println!("{which}: {:.3} ms/step, last loss {:?}", dt * 1e3, last);
}
