//! Thread budgets: how many threads the kernels called from one thread may use, and the pools
//! they run on.
//!
//! The budget belongs to the calling thread (PyTorch's `torch.set_num_threads` is process-wide;
//! Tuna's is not): [`set_num_threads`] sets it for the thread that calls it, so two trainers or
//! two tuning trials on two threads each get their own. A thread that never set one uses the
//! default: [`set_default_num_threads`] if the process chose one, else the `TUNA_NUM_THREADS`
//! environment variable, else the number of available cores.
//!
//! A thread with a budget of `n > 1` runs its large kernels on its own pool of `n - 1` workers
//! plus itself, created the first time it needs one and kept until the thread exits; nothing is
//! shared with another thread's pool, so two threads with budgets of 2 use four cores and never
//! wait for each other's work. A budget of 1 never touches a pool. Work handed to a pool runs
//! with a budget of 1, so kernels never nest their parallelism.
//!
//! Large kernels (matmul, convolution, pooling) split their work into independent output
//! blocks, and each element is computed in the same order whatever the split, so results are
//! bit-identical for any thread count.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::dtype::Element;

/// The process-wide default set by [`set_default_num_threads`] (0: not set).
static DEFAULT_OVERRIDE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's budget (0: use the default).
    static BUDGET: Cell<usize> = const { Cell::new(0) };
    /// This thread's pool and its worker count.
    static POOL: RefCell<Option<(usize, Arc<rayon::ThreadPool>)>> = const { RefCell::new(None) };
}

/// Sets the number of threads the kernels called from **this thread** use (PyTorch
/// `torch.set_num_threads`, but per thread). `0` restores the default (see
/// [`default_num_threads`]). Other threads keep their own budgets.
///
/// ```
/// use tuna_tensor::{num_threads, set_num_threads};
/// set_num_threads(1);
/// assert_eq!(num_threads(), 1);
/// std::thread::spawn(|| {
///     set_num_threads(2);
///     assert_eq!(num_threads(), 2);
/// })
/// .join()
/// .unwrap();
/// assert_eq!(num_threads(), 1);
/// ```
pub fn set_num_threads(n: usize) {
    BUDGET.with(|b| b.set(n));
}

/// The number of threads the kernels called from this thread use (PyTorch
/// `torch.get_num_threads`): the budget set by [`set_num_threads`] on this thread, else
/// [`default_num_threads`].
pub fn num_threads() -> usize {
    match BUDGET.with(Cell::get) {
        0 => default_num_threads(),
        n => n,
    }
}

/// Runs `f` with this thread's budget set to `n` (0: the default), then restores the previous
/// budget, also if `f` panics.
///
/// ```
/// use tuna_tensor::{num_threads, set_num_threads, with_num_threads};
/// set_num_threads(2);
/// assert_eq!(with_num_threads(1, num_threads), 1);
/// assert_eq!(num_threads(), 2);
/// ```
pub fn with_num_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BUDGET.with(|b| b.replace(n)));
    f()
}

/// Sets the budget of every thread that has not set its own with [`set_num_threads`] (`0`
/// restores the built-in default: `TUNA_NUM_THREADS`, else the available cores). Meant for a
/// program's start, e.g. a tuner running `jobs` trials at once on `cores` cores gives each
/// trial thread `cores / jobs` without reaching into the threads it spawns.
pub fn set_default_num_threads(n: usize) {
    DEFAULT_OVERRIDE.store(n, Ordering::Relaxed);
}

/// The budget of a thread that never set one: the value given to
/// [`set_default_num_threads`], else the `TUNA_NUM_THREADS` environment variable (read once),
/// else the number of available cores.
pub fn default_num_threads() -> usize {
    match DEFAULT_OVERRIDE.load(Ordering::Relaxed) {
        0 => builtin_default(),
        n => n,
    }
}

fn builtin_default() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        std::env::var("TUNA_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// This thread's pool of `workers` threads (built, or rebuilt after a budget change, here).
fn pool(workers: usize) -> Arc<rayon::ThreadPool> {
    POOL.with(|cell| {
        let mut slot = cell.borrow_mut();
        if let Some((k, p)) = slot.as_ref() {
            if *k == workers {
                return p.clone();
            }
        }
        let p = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .thread_name(|i| format!("tuna-{i}"))
                .start_handler(|_| set_num_threads(1))
                .build()
                .expect("failed to start the kernel thread pool"),
        );
        *slot = Some((workers, p.clone()));
        p
    })
}

/// Runs `f(i)` for `i in 0..tasks`, on this thread's pool when its budget is above one and
/// the work is worth it (`work` is a rough flop count), otherwise in order on this thread.
///
/// The calling thread and up to `budget - 1` pool workers each take the next unclaimed task
/// until none is left, so uneven tasks balance out and the caller never sits idle while a
/// worker has a queue. Which thread runs a task never changes what the task computes.
pub(crate) fn parallel_for(tasks: usize, work: usize, f: impl Fn(usize) + Sync) {
    let n = num_threads();
    if n <= 1 || tasks <= 1 || work < (1 << 20) {
        for i in 0..tasks {
            f(i);
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let run = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= tasks {
            break;
        }
        f(i);
    };
    let helpers = (n - 1).min(tasks - 1);
    pool(n - 1).in_place_scope(|s| {
        for _ in 0..helpers {
            let run = &run;
            s.spawn(move |_| run());
        }
        run();
    });
}

/// Runs `f` on every job, in parallel on this thread's pool when `work` is large (see
/// [`parallel_for`]).
pub(crate) fn par_jobs<J: Send>(jobs: Vec<J>, work: usize, f: impl Fn(J) + Sync) {
    if jobs.len() <= 1 {
        jobs.into_iter().for_each(f);
        return;
    }
    let cells: Vec<Mutex<Option<J>>> = jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    parallel_for(cells.len(), work, |i| {
        let job = cells[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(j) = job {
            f(j);
        }
    });
}

/// Elements below which an elementwise map stays on one thread (it is bound by memory and
/// costs a few nanoseconds per element, so the pool's hand-off needs long inputs to repay).
const ELEMENTWISE_PARALLEL: usize = 1 << 17;

/// `[f(a[i], b[i]) for i]` into a buffer from the tensor pool, split into one contiguous run
/// per thread of this thread's budget when the slices are long. Each element is computed the
/// same way whatever the split.
pub(crate) fn zip_slices<A: Copy + Sync, B: Copy + Sync, U: Element>(
    a: &[A],
    b: &[B],
    f: impl Fn(A, B) -> U + Sync,
) -> Vec<U> {
    let n = a.len().min(b.len());
    let parts = if n >= ELEMENTWISE_PARALLEL {
        num_threads().min(n)
    } else {
        1
    };
    if parts <= 1 {
        return crate::pool::collect(n, a.iter().zip(b).map(|(&x, &y)| f(x, y)));
    }
    let mut out: Vec<U> = crate::pool::take(n);
    let per = n.div_ceil(parts);
    let jobs: Vec<_> = out.spare_capacity_mut()[..n]
        .chunks_mut(per)
        .zip(a.chunks(per).zip(b.chunks(per)))
        .collect();
    par_jobs(jobs, n * 8, |(dst, (a, b))| {
        for (d, (&x, &y)) in dst.iter_mut().zip(a.iter().zip(b)) {
            d.write(f(x, y));
        }
    });
    // SAFETY: the chunks of `out`'s spare capacity cover `0..n` (`out` holds at least `n`),
    // and the jobs above, which all ran to completion, wrote every element of their chunk.
    unsafe { out.set_len(n) };
    out
}

/// `[f(a[i]) for i]` into a buffer from the tensor pool, split as [`zip_slices`] does.
pub(crate) fn map_slice<A: Copy + Sync, U: Element>(a: &[A], f: impl Fn(A) -> U + Sync) -> Vec<U> {
    zip_slices(a, a, |x, _| f(x))
}

/// Multiply-adds below which a GEMM stays on one thread: handing blocks to the pool costs
/// tens of microseconds on small VMs, more than a smaller product gains.
pub(crate) const GEMM_PARALLEL_WORK: usize = 1 << 25;

/// How many blocks to split `rows` rows (or columns) of a GEMM into for this thread's budget.
pub(crate) fn split_count(rows: usize, work: usize) -> usize {
    let n = num_threads();
    if n <= 1 || work < GEMM_PARALLEL_WORK {
        1
    } else {
        n.min(rows).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_observes_its_own_budget() {
        let barrier = std::sync::Barrier::new(2);
        let seen: Vec<(usize, usize)> = std::thread::scope(|s| {
            let handles: Vec<_> = [1usize, 2]
                .into_iter()
                .map(|n| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        set_num_threads(n);
                        barrier.wait(); // both budgets are set before either is read
                        let during = num_threads();
                        let nested = with_num_threads(3, num_threads);
                        assert_eq!(num_threads(), during, "restored after with_num_threads");
                        (during, nested)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(seen, vec![(1, 3), (2, 3)]);
    }

    #[test]
    fn with_num_threads_restores_after_a_panic() {
        std::thread::spawn(|| {
            set_num_threads(2);
            let r = std::panic::catch_unwind(|| with_num_threads(1, || panic!("boom")));
            assert!(r.is_err());
            assert_eq!(num_threads(), 2);
            set_num_threads(0);
            assert_eq!(num_threads(), default_num_threads());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn pool_workers_run_with_a_budget_of_one() {
        std::thread::spawn(|| {
            set_num_threads(2);
            let caller = std::thread::current().id();
            let seen = std::sync::Mutex::new(Vec::new());
            // each task waits for the other, so the caller and the worker take one each
            let both = std::sync::Barrier::new(2);
            parallel_for(2, 1 << 22, |i| {
                both.wait();
                let on_caller = std::thread::current().id() == caller;
                seen.lock().unwrap().push((i, on_caller, num_threads()));
            });
            let mut seen = seen.into_inner().unwrap();
            seen.sort();
            assert_eq!(seen.len(), 2);
            for (i, on_caller, budget) in seen {
                assert_eq!(budget, if on_caller { 2 } else { 1 }, "task {i}");
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn elementwise_maps_match_the_serial_result_for_any_budget() {
        std::thread::spawn(|| {
            let n = ELEMENTWISE_PARALLEL + 1001;
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i % 97) as f32 - 48.5).collect();
            let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x.mul_add(*y, 1.0)).collect();
            let want_exp: Vec<f32> = a.iter().map(|x| x.exp()).collect();
            for budget in [1, 2, 3] {
                set_num_threads(budget);
                let got = zip_slices(&a, &b, |x: f32, y: f32| x.mul_add(y, 1.0));
                assert_eq!(got, want, "zip, budget {budget}");
                assert_eq!(map_slice(&a, f32::exp), want_exp, "map, budget {budget}");
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn every_task_runs_exactly_once_whatever_the_split() {
        std::thread::spawn(|| {
            for budget in [1, 2, 3] {
                set_num_threads(budget);
                let hits: Vec<AtomicUsize> = (0..37).map(|_| AtomicUsize::new(0)).collect();
                parallel_for(hits.len(), 1 << 22, |i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
            }
        })
        .join()
        .unwrap();
    }
}
