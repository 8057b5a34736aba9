//! A bounded pool of large tensor buffers.
//!
//! Large allocations (glibc: above 128 KiB) are served by `mmap` and returned to the kernel
//! on `free`, so a loop that allocates the same few megabyte-sized tensors every step pays a
//! page fault per 4 KiB page every time. Dropping the storage of an `f32`, `f64` or `i64`
//! (pooling indices) tensor of at least [`MIN_POOLED_BYTES`] puts its buffer here instead, and tensor constructors and kernels
//! take their output buffers from here ([`take`], [`zeroed`]) — a best fit among buffers of
//! the same type with between `n` and `2n` elements of capacity.
//!
//! The pool is one process-wide list behind a mutex (only large buffers pass through it, so
//! the lock is cheap next to the work on them), holds at most [`pool_limit`] bytes (256 MiB by
//! default; the oldest buffers, roughly, are freed first) and can be turned off with `TUNA_POOL=0` in
//! the environment or [`set_pool_limit`]`(0)`. Buffers come out empty (`len() == 0`), so no
//! stale value is ever readable; [`zeroed`] fills with zeros.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::dtype::Element;

/// Buffers smaller than this (in bytes) bypass the pool: the allocator serves them quickly.
pub const MIN_POOLED_BYTES: usize = 64 * 1024;

const DEFAULT_LIMIT: usize = 256 << 20;
const UNSET: usize = usize::MAX;

static LIMIT: AtomicUsize = AtomicUsize::new(UNSET);

struct Pool {
    f32: Vec<Vec<f32>>,
    f64: Vec<Vec<f64>>,
    i64: Vec<Vec<i64>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    f32: Vec::new(),
    f64: Vec::new(),
    i64: Vec::new(),
    bytes: 0,
});

/// Buffers taken out of the pool while its lock is held, freed after it is released.
type Freed = (Vec<Vec<f32>>, Vec<Vec<f64>>, Vec<Vec<i64>>);

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The most bytes the pool keeps (0: disabled). Read from `TUNA_POOL` on first use (`0`
/// disables; a number is a limit in MiB), else 256 MiB.
pub fn pool_limit() -> usize {
    let l = LIMIT.load(Ordering::Relaxed);
    if l != UNSET {
        return l;
    }
    let l = match std::env::var("TUNA_POOL") {
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .map(|mib| mib << 20)
            .unwrap_or(DEFAULT_LIMIT),
        Err(_) => DEFAULT_LIMIT,
    };
    LIMIT.store(l, Ordering::Relaxed);
    l
}

/// Sets the pool's size limit in bytes (0 disables the pool); frees pooled buffers beyond it.
pub fn set_pool_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    let freed = {
        let mut p = lock();
        let mut freed: Freed = Default::default();
        while p.bytes > bytes {
            if !evict_oldest(&mut p, &mut freed) {
                break;
            }
        }
        freed
    };
    drop(freed);
}

/// Bytes currently held by the pool.
pub fn pooled_bytes() -> usize {
    lock().bytes
}

fn bytes_of<T>(cap: usize) -> usize {
    cap * std::mem::size_of::<T>()
}

/// Moves the oldest buffer of the list holding the most bytes into `freed` (freed after the
/// lock is released).
fn evict_oldest(p: &mut Pool, freed: &mut Freed) -> bool {
    fn held<T>(list: &[Vec<T>]) -> usize {
        list.iter().map(|v| bytes_of::<T>(v.capacity())).sum()
    }
    let sizes = [held(&p.f32), held(&p.f64), held(&p.i64)];
    let largest = (0..3).max_by_key(|&i| sizes[i]).unwrap_or(0);
    match largest {
        0 if !p.f32.is_empty() => {
            let v = p.f32.remove(0);
            p.bytes -= bytes_of::<f32>(v.capacity());
            freed.0.push(v);
        }
        1 if !p.f64.is_empty() => {
            let v = p.f64.remove(0);
            p.bytes -= bytes_of::<f64>(v.capacity());
            freed.1.push(v);
        }
        2 if !p.i64.is_empty() => {
            let v = p.i64.remove(0);
            p.bytes -= bytes_of::<i64>(v.capacity());
            freed.2.push(v);
        }
        _ => return false,
    }
    true
}

fn best_fit<T>(list: &mut Vec<Vec<T>>, n: usize) -> Option<Vec<T>> {
    let mut best: Option<usize> = None;
    for (i, v) in list.iter().enumerate() {
        let c = v.capacity();
        if c >= n && c <= 2 * n && best.is_none_or(|b| c < list[b].capacity()) {
            best = Some(i);
            if c == n {
                break;
            }
        }
    }
    best.map(|i| list.swap_remove(i))
}

/// An empty vector with capacity for at least `n` elements, from the pool when one fits.
pub fn take<T: Element>(n: usize) -> Vec<T> {
    if bytes_of::<T>(n) >= MIN_POOLED_BYTES && pool_limit() > 0 {
        let mut slot: Option<Vec<T>> = None;
        {
            let mut p = lock();
            let any = &mut slot as &mut dyn Any;
            if let Some(s) = any.downcast_mut::<Option<Vec<f32>>>() {
                *s = best_fit(&mut p.f32, n);
                if let Some(v) = s {
                    p.bytes -= bytes_of::<f32>(v.capacity());
                }
            } else if let Some(s) = any.downcast_mut::<Option<Vec<f64>>>() {
                *s = best_fit(&mut p.f64, n);
                if let Some(v) = s {
                    p.bytes -= bytes_of::<f64>(v.capacity());
                }
            } else if let Some(s) = any.downcast_mut::<Option<Vec<i64>>>() {
                *s = best_fit(&mut p.i64, n);
                if let Some(v) = s {
                    p.bytes -= bytes_of::<i64>(v.capacity());
                }
            }
        }
        if let Some(mut v) = slot {
            v.clear();
            return v;
        }
    }
    Vec::with_capacity(n)
}

/// A vector of `n` zeros (`T::default()`), its buffer from the pool when one fits.
pub fn zeroed<T: Element>(n: usize) -> Vec<T> {
    filled(n, T::default())
}

/// A vector of `n` copies of `value`, its buffer from the pool when one fits.
pub fn filled<T: Element>(n: usize, value: T) -> Vec<T> {
    if bytes_of::<T>(n) < MIN_POOLED_BYTES {
        return vec![value; n];
    }
    let mut v = take::<T>(n);
    v.resize(n, value);
    v
}

/// Collects `iter` (of exactly `n` items) into a vector whose buffer comes from the pool.
pub fn collect<T: Element>(n: usize, iter: impl Iterator<Item = T>) -> Vec<T> {
    if bytes_of::<T>(n) < MIN_POOLED_BYTES {
        return iter.collect();
    }
    let mut v = take::<T>(n);
    v.extend(iter);
    v
}

/// A zeroed scratch buffer of `n` elements from the pool, handed back to it when dropped: for
/// kernels' temporary buffers (im2col columns, partial products), which would otherwise be
/// fresh pages every call.
pub(crate) struct Scratch<T: Element>(Vec<T>);

impl<T: Element> Scratch<T> {
    /// `n` zeros.
    pub(crate) fn zeroed(n: usize) -> Self {
        Scratch(zeroed(n))
    }
}

impl<T: Element> std::ops::Deref for Scratch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Element> std::ops::DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T: Element> Drop for Scratch<T> {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

/// Returns a buffer to the pool (or frees it if it is small, the pool is off or full).
pub(crate) fn give<T: Element>(v: Vec<T>) {
    let bytes = bytes_of::<T>(v.capacity());
    if bytes < MIN_POOLED_BYTES {
        return;
    }
    let limit = pool_limit();
    if bytes > limit {
        return;
    }
    let mut slot = Some(v);
    let mut freed: Freed = Default::default();
    {
        let mut p = lock();
        while p.bytes + bytes > limit {
            if !evict_oldest(&mut p, &mut freed) {
                break;
            }
        }
        let any = &mut slot as &mut dyn Any;
        if let Some(s) = any.downcast_mut::<Option<Vec<f32>>>() {
            p.f32.extend(s.take());
            p.bytes += bytes;
        } else if let Some(s) = any.downcast_mut::<Option<Vec<f64>>>() {
            p.f64.extend(s.take());
            p.bytes += bytes;
        } else if let Some(s) = any.downcast_mut::<Option<Vec<i64>>>() {
            p.i64.extend(s.take());
            p.bytes += bytes;
        }
    }
    drop(freed);
    drop(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_large_buffers_and_zeroes_them() {
        let n = 1 << 16; // 256 KiB of f32
        let mut v = take::<f32>(n);
        v.resize(n, 7.0);
        let ptr = v.as_ptr();
        give(v);
        let w = zeroed::<f32>(n);
        assert_eq!(w.len(), n);
        assert!(w.iter().all(|&x| x == 0.0));
        // the same buffer comes back when nothing else took it (tests run in parallel, so
        // only check it when it did)
        if w.as_ptr() == ptr {
            assert!(w.capacity() >= n);
        }
        let t = take::<f32>(n);
        assert!(t.is_empty() && t.capacity() >= n);
        // small buffers never enter the pool
        let before = pooled_bytes();
        give(vec![1.0f64; 10]);
        assert!(pooled_bytes() <= before.max(pooled_bytes()));
        assert_eq!(take::<i64>(n).len(), 0);
    }

    #[test]
    fn recycled_buffers_never_leak_old_values_into_tensors() {
        use crate::{DType, Tensor};
        let shape = [256, 300]; // 300 KiB of f32: pooled
        for _ in 0..3 {
            let t = Tensor::full(&shape, 7.5, DType::F32);
            let u = t.mul_scalar(2.0); // output drawn from the pool
            assert!(u.to_vec::<f32>().iter().all(|&x| x == 15.0));
            drop((t, u));
            let z = Tensor::zeros(&shape, DType::F32);
            assert!(z.to_vec::<f32>().iter().all(|&x| x == 0.0));
            let o = Tensor::ones(&shape, DType::F64);
            assert!(o.to_vec::<f64>().iter().all(|&x| x == 1.0));
        }
    }
}
