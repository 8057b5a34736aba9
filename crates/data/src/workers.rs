//! [`Batches`]: one epoch's batches, built on the caller's thread or by worker threads that
//! load ahead (PyTorch's `num_workers` and `prefetch_factor`), always yielded in order.
//!
//! Every batch is a pure function of the dataset, its sample indices, its position and the
//! epoch, so which worker builds it, and when, never changes what it holds.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::loader::{collate_epoch, Batch};

type Job = usize;
type Done = (usize, Result<Batch, DataError>);

/// The batches of one epoch, each a `Result` (a lazily read sample may fail), in order.
/// Dropping it stops the workers after the batch each is building.
#[derive(Debug)]
pub struct Batches {
    dataset: Arc<dyn Dataset>,
    batches: Arc<Vec<Vec<usize>>>,
    epoch: usize,
    next: usize,
    pool: Option<Pool>,
}

#[derive(Debug)]
struct Pool {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    ready: BTreeMap<usize, Result<Batch, DataError>>,
    /// The next batch index to hand to the workers.
    queued: usize,
    workers: Vec<JoinHandle<()>>,
}

impl Batches {
    /// Batches built on the caller's thread as they are asked for.
    pub(crate) fn serial(
        dataset: Arc<dyn Dataset>,
        batches: Vec<Vec<usize>>,
        epoch: usize,
        start: usize,
    ) -> Self {
        Batches {
            dataset,
            batches: Arc::new(batches),
            epoch,
            next: start,
            pool: None,
        }
    }

    /// Batches built by `workers` threads, at most `workers · prefetch` ahead of the caller.
    pub(crate) fn parallel(
        dataset: Arc<dyn Dataset>,
        batches: Vec<Vec<usize>>,
        epoch: usize,
        start: usize,
        workers: usize,
        prefetch: usize,
    ) -> Self {
        let batches = Arc::new(batches);
        let (job_tx, job_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let handles = (0..workers)
            .map(|w| {
                let (ds, b, rx, tx) = (
                    dataset.clone(),
                    batches.clone(),
                    job_rx.clone(),
                    done_tx.clone(),
                );
                std::thread::Builder::new()
                    .name(format!("tuna-loader-{w}"))
                    .spawn(move || work(&*ds, &b, epoch, &rx, &tx))
                    .expect("failed to start a loader worker thread")
            })
            .collect();
        let mut pool = Pool {
            jobs: Some(job_tx),
            done: done_rx,
            ready: BTreeMap::new(),
            queued: start,
            workers: handles,
        };
        let ahead = workers * prefetch;
        for _ in 0..ahead {
            pool.queue_next(batches.len());
        }
        Batches {
            dataset,
            batches,
            epoch,
            next: start,
            pool: Some(pool),
        }
    }
}

impl Pool {
    fn queue_next(&mut self, total: usize) {
        if self.queued < total {
            if let Some(tx) = &self.jobs {
                // a send fails only if every worker has gone, which `next` reports
                let _ = tx.send(self.queued);
            }
            self.queued += 1;
        }
    }

    /// Waits for batch `i`.
    fn take(&mut self, i: usize) -> Result<Batch, DataError> {
        loop {
            if let Some(b) = self.ready.remove(&i) {
                return b;
            }
            match self.done.recv() {
                Ok((k, b)) => {
                    self.ready.insert(k, b);
                }
                Err(_) => {
                    return Err(DataError::Unsupported(
                        "a data loader worker thread stopped (it panicked)".into(),
                    ))
                }
            }
        }
    }
}

fn work(
    ds: &dyn Dataset,
    batches: &[Vec<usize>],
    epoch: usize,
    jobs: &Mutex<Receiver<Job>>,
    done: &Sender<Done>,
) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|e| e.into_inner());
            rx.recv()
        };
        let Ok(i) = job else { return };
        let batch = collate_epoch(ds, &batches[i], i, epoch);
        if done.send((i, batch)).is_err() {
            return;
        }
    }
}

impl Iterator for Batches {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        let indices = self.batches.get(i)?;
        self.next += 1;
        Some(match &mut self.pool {
            None => collate_epoch(&*self.dataset, indices, i, self.epoch),
            Some(pool) => {
                let b = pool.take(i);
                pool.queue_next(self.batches.len());
                b
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches {}

impl Drop for Batches {
    fn drop(&mut self) {
        if let Some(pool) = &mut self.pool {
            pool.jobs = None;
            for h in pool.workers.drain(..) {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dataset::TensorDataset;
    use crate::loader::DataLoader;
    use std::sync::Arc;

    #[test]
    fn workers_give_the_serial_batches_in_order() {
        let n = 103;
        let ds = Arc::new(TensorDataset::classification(
            (0..n * 3).map(|v| v as f32).collect(),
            &[3],
            (0..n).map(|i| i % 4).collect(),
            4,
        ));
        let serial = DataLoader::new(ds.clone(), 8, true, false, 5);
        let workers = serial.clone().with_workers(3, 2);
        for (epoch, start) in [(0, 0), (2, 5)] {
            let a: Vec<_> = serial
                .try_epoch_from(epoch, start)
                .map(Result::unwrap)
                .collect();
            let b: Vec<_> = workers
                .try_epoch_from(epoch, start)
                .map(Result::unwrap)
                .collect();
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(
                    (x.index, &x.inputs, &x.targets),
                    (y.index, &y.inputs, &y.targets)
                );
            }
        }
        // dropping a half-read epoch stops the workers
        let mut it = workers.try_epoch_from(1, 0);
        it.next().unwrap().unwrap();
        drop(it);
    }
}
