//! `tuna tune --jobs auto`: how to split the machine's cores between concurrent trials and
//! each trial's kernel threads, measured on the model at hand.
//!
//! Trials are independent, so `j` of them at once finish close to `j` times as many trials per
//! hour; a trial's kernels on `t` threads speed it up by whatever its layers allow (large
//! GEMMs and convolutions split well, small models hardly at all). The probe times the base
//! experiment's evaluation pass (its forward in eval mode over the validation data, the
//! training data if there is none) on each candidate thread count, in alternating rounds
//! (fastest pass of each), and picks the split with the highest expected throughput: `jobs × speedup(threads)`, where concurrent trials are counted
//! at [`CONCURRENT_EFFICIENCY`] each (they share caches and memory bandwidth).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tuna_data::{DataContext, Dataset};
use tuna_train::{Experiment, Trainer};

use crate::error::Result;
use crate::search::SearchSpace;

/// The throughput of one of several concurrent trials relative to a trial alone (a
/// conservative figure for trials that share a machine's caches and memory bandwidth).
pub const CONCURRENT_EFFICIENCY: f64 = 0.9;

/// How long the thread counts are timed for (at least three rounds).
const PROBE_TIME: Duration = Duration::from_millis(300);

/// A split of the cores: `jobs` trials at once, each with `threads` kernel threads.
#[derive(Clone, Debug, PartialEq)]
pub struct CoreSplit {
    /// Trials run at once.
    pub jobs: usize,
    /// Kernel threads of each trial.
    pub threads: usize,
    /// The measured speed-up of one trial's evaluation pass on `threads` threads over one.
    pub speedup: f64,
    /// Every thread count measured, with its speed-up over one thread.
    pub measured: Vec<(usize, f64)>,
}

/// Measures the base experiment of `space` and returns the split of `cores` with the highest
/// expected trials per hour, never more concurrent trials than `trials`.
///
/// # Errors
/// The base experiment cannot be built or evaluated (its data, model or loss).
pub fn choose_split(
    space: &SearchSpace,
    data_dirs: &[PathBuf],
    cores: usize,
    trials: usize,
) -> Result<CoreSplit> {
    let exp = Experiment::from_value(space.base.clone())?;
    let ctx = DataContext {
        base_dirs: data_dirs.to_vec(),
        seed: exp.seed,
        fitted: None,
    };
    let mut trainer = Trainer::new(exp, &ctx)?;
    let data = trainer.data();
    let dataset = data
        .validation
        .clone()
        .unwrap_or_else(|| data.train.clone());
    let counts: Vec<usize> = (1..=cores.max(1)).filter(|t| cores % t == 0).collect();
    let caller = tuna_tensor::num_threads();
    let fastest = time_evaluations(&mut trainer, &dataset, &counts);
    tuna_tensor::set_num_threads(caller);
    let fastest = fastest?;
    // a speed-up above the thread count is noise (another process took a core meanwhile)
    let speedups: Vec<(usize, f64)> = counts
        .iter()
        .zip(&fastest)
        .map(|(&t, &secs)| (t, (fastest[0] / secs).min(t as f64)))
        .collect();
    Ok(best_split(&speedups, cores.max(1), trials))
}

/// The fastest evaluation pass over `dataset` on each thread count of `counts`, in seconds:
/// one warm-up pass each, then rounds that time every count in turn (so a neighbour that
/// takes a core for a while slows all counts alike) until [`PROBE_TIME`] and at least three
/// rounds have passed. The minimum is the pass least disturbed by other work.
fn time_evaluations(
    trainer: &mut Trainer,
    dataset: &Arc<dyn Dataset>,
    counts: &[usize],
) -> Result<Vec<f64>> {
    for &t in counts {
        tuna_tensor::set_num_threads(t);
        trainer.evaluate(dataset)?;
    }
    let mut fastest = vec![f64::INFINITY; counts.len()];
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < 3 || start.elapsed() < PROBE_TIME {
        for (best, &t) in fastest.iter_mut().zip(counts) {
            tuna_tensor::set_num_threads(t);
            let pass = Instant::now();
            trainer.evaluate(dataset)?;
            *best = best.min(pass.elapsed().as_secs_f64());
        }
        rounds += 1;
    }
    Ok(fastest)
}

/// The split with the highest `jobs × speedup(threads)` (concurrent trials counted at
/// [`CONCURRENT_EFFICIENCY`]), given measured `(threads, speedup)` pairs; fewer threads per
/// trial on a tie.
pub fn best_split(speedups: &[(usize, f64)], cores: usize, trials: usize) -> CoreSplit {
    let rate = |&(threads, speedup): &(usize, f64)| {
        let jobs = (cores / threads).min(trials.max(1)).max(1);
        let efficiency = if jobs > 1 { CONCURRENT_EFFICIENCY } else { 1.0 };
        (jobs, jobs as f64 * efficiency * speedup)
    };
    let (mut best, mut best_rate) = ((1, 1, 1.0), 0.0);
    for pair in speedups {
        let (jobs, r) = rate(pair);
        if r > best_rate * (1.0 + 1e-9) {
            (best, best_rate) = ((jobs, pair.0, pair.1), r);
        }
    }
    CoreSplit {
        jobs: best.0,
        threads: best.1,
        speedup: best.2,
        measured: speedups.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_that_does_not_scale_runs_one_trial_per_core() {
        let split = best_split(&[(1, 1.0), (2, 1.3)], 2, 40);
        assert_eq!((split.jobs, split.threads), (2, 1));
        let split = best_split(&[(1, 1.0), (2, 1.1), (4, 1.2)], 4, 40);
        assert_eq!((split.jobs, split.threads), (4, 1));
    }

    #[test]
    fn a_model_that_scales_nearly_linearly_gets_all_cores_per_trial() {
        let split = best_split(&[(1, 1.0), (2, 1.95)], 2, 40);
        assert_eq!((split.jobs, split.threads), (1, 2));
        let split = best_split(&[(1, 1.0), (2, 1.98), (4, 3.9)], 4, 40);
        assert_eq!((split.jobs, split.threads), (1, 4));
    }

    #[test]
    fn never_more_trials_at_once_than_the_study_has_left() {
        let split = best_split(&[(1, 1.0), (2, 1.5)], 2, 1);
        assert_eq!((split.jobs, split.threads), (1, 2));
        let split = best_split(&[(1, 1.0), (2, 1.3), (4, 1.4), (8, 1.5)], 8, 3);
        assert_eq!(split.jobs, 3);
    }
}
