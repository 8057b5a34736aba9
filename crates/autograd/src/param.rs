//! [`Param`]: a trainable tensor that outlives the per-step tape.

use std::sync::{Arc, Mutex, RwLock};

use tuna_tensor::Tensor;

/// A trainable tensor and its accumulated gradient (PyTorch `nn.Parameter` with `.grad`).
///
/// A `Param` is a cheap, shared handle: modules hold one, the optimizer holds a clone, and
/// [`Tape::param`](crate::Tape::param) brings its current value into a step's graph. After
/// `backward`, the gradient is *added* to [`Param::grad`] (as PyTorch accumulates into
/// `.grad`) until [`Param::zero_grad`] clears it. Updates through [`Param::update`] write in
/// place when no tape still holds the old value, and copy otherwise, so a recorded graph never
/// sees its inputs change.
#[derive(Clone)]
pub struct Param {
    inner: Arc<ParamInner>,
}

struct ParamInner {
    value: RwLock<Tensor>,
    grad: Mutex<Option<Tensor>>,
    requires_grad: std::sync::atomic::AtomicBool,
}

impl Param {
    /// A new trainable parameter holding `value`.
    pub fn new(value: Tensor) -> Self {
        Param {
            inner: Arc::new(ParamInner {
                value: RwLock::new(value),
                grad: Mutex::new(None),
                requires_grad: std::sync::atomic::AtomicBool::new(true),
            }),
        }
    }

    /// The current value (a cheap clone sharing the buffer).
    pub fn value(&self) -> Tensor {
        self.inner
            .value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the value (e.g. when loading weights). The gradient is kept.
    pub fn set_value(&self, value: Tensor) {
        *self.inner.value.write().unwrap_or_else(|e| e.into_inner()) = value;
    }

    /// Runs `f` on the value in place (the optimizer's update).
    pub fn update<R>(&self, f: impl FnOnce(&mut Tensor) -> R) -> R {
        let mut guard = self.inner.value.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.inner
            .value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .shape()
            .to_vec()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.inner
            .value
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .numel()
    }

    /// The accumulated gradient, if any backward pass reached this parameter since the last
    /// [`Param::zero_grad`] (`param.grad`).
    pub fn grad(&self) -> Option<Tensor> {
        self.inner
            .grad
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the gradient (used by gradient clipping and by tests).
    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()) = grad;
    }

    /// Adds `g` to the accumulated gradient.
    pub fn accumulate_grad(&self, g: Tensor) {
        let mut slot = self.inner.grad.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(match slot.take() {
            None => {
                if g.is_contiguous() {
                    g
                } else {
                    g.copy_contiguous()
                }
            }
            Some(old) => old.add(&g),
        });
    }

    /// Clears the gradient (`optimizer.zero_grad(set_to_none=True)`, PyTorch's default).
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// Whether backward computes a gradient for this parameter (`param.requires_grad`).
    pub fn requires_grad(&self) -> bool {
        self.inner
            .requires_grad
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Freezes (`false`) or unfreezes the parameter (`param.requires_grad_(flag)`).
    pub fn set_requires_grad(&self, flag: bool) {
        self.inner
            .requires_grad
            .store(flag, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether two handles refer to the same parameter.
    pub fn ptr_eq(&self, other: &Param) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Param")
            .field("shape", &self.shape())
            .field("requires_grad", &self.requires_grad())
            .field("has_grad", &self.grad().is_some())
            .finish()
    }
}

/// Parameters are shared with optimizers and data-parallel code across threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Param>();
};
