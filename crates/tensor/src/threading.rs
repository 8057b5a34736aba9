//! The thread count Tuna's kernels use, and the pool they run on.
//!
//! Large kernels (matmul, convolution) split their work into independent output blocks, so the
//! result of each element never depends on the thread count: results are bit-identical for any
//! setting. The count comes from [`set_num_threads`], else the `TUNA_NUM_THREADS` environment
//! variable, else the number of available cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);
static POOL: OnceLock<RwLock<Option<(usize, Arc<rayon::ThreadPool>)>>> = OnceLock::new();

/// Sets the number of threads Tuna's kernels use (PyTorch `torch.set_num_threads`).
/// `0` restores the default (`TUNA_NUM_THREADS`, else all available cores).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads kernels use (PyTorch `torch.get_num_threads`).
pub fn num_threads() -> usize {
    let n = NUM_THREADS.load(Ordering::Relaxed);
    if n > 0 {
        return n;
    }
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        std::env::var("TUNA_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

fn pool(n: usize) -> Arc<rayon::ThreadPool> {
    let cell = POOL.get_or_init(|| RwLock::new(None));
    if let Some((k, p)) = cell.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        if *k == n {
            return p.clone();
        }
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("tuna-{i}"))
            .build()
            .expect("failed to start the kernel thread pool"),
    );
    *cell.write().unwrap_or_else(|e| e.into_inner()) = Some((n, p.clone()));
    p
}

/// Runs `f(i)` for `i in 0..tasks`, on the pool when more than one thread is configured and
/// the work is worth it (`work` is a rough flop count), otherwise in order on this thread.
pub(crate) fn parallel_for(tasks: usize, work: usize, f: impl Fn(usize) + Sync + Send) {
    let n = num_threads();
    if n <= 1 || tasks <= 1 || work < (1 << 20) {
        for i in 0..tasks {
            f(i);
        }
        return;
    }
    // The calling thread runs task 0 and the pool's n-1 workers take the rest, so exactly n
    // threads compute and no idle worker spins against the caller afterwards.
    pool(n - 1).in_place_scope(|s| {
        for i in 1..tasks {
            let f = &f;
            s.spawn(move |_| f(i));
        }
        f(0);
    });
}

/// Multiply-adds below which a GEMM stays on one thread: handing blocks to the pool costs
/// tens of microseconds on small VMs, more than a smaller product gains.
pub(crate) const GEMM_PARALLEL_WORK: usize = 1 << 25;

/// How many blocks to split `rows` rows (or columns) of a GEMM into for the current thread
/// count.
pub(crate) fn split_count(rows: usize, work: usize) -> usize {
    let n = num_threads();
    if n <= 1 || work < GEMM_PARALLEL_WORK {
        1
    } else {
        n.min(rows).max(1)
    }
}
