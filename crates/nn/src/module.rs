//! The [`Module`] trait, [`Buffer`]s, and state-dict access shared by every layer.

use std::sync::{Arc, RwLock};

use tuna_autograd::{NamedParam, Param, Var};
use tuna_tensor::Tensor;

use crate::forward_context::ForwardContext;

/// A non-trainable tensor a module carries and saves in its state dict (PyTorch's registered
/// buffers: BatchNorm's `running_mean`, `running_var`, `num_batches_tracked`). A cheap shared
/// handle, updated in place during training forward passes.
#[derive(Clone)]
pub struct Buffer {
    inner: Arc<RwLock<Tensor>>,
}

impl Buffer {
    /// A buffer holding `value`.
    pub fn new(value: Tensor) -> Self {
        Buffer {
            inner: Arc::new(RwLock::new(value)),
        }
    }

    /// The current value (a cheap clone).
    pub fn value(&self) -> Tensor {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value.
    pub fn set_value(&self, value: Tensor) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = value;
    }

    /// Runs `f` on the value in place.
    pub fn update<R>(&self, f: impl FnOnce(&mut Tensor) -> R) -> R {
        f(&mut self.inner.write().unwrap_or_else(|e| e.into_inner()))
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.value();
        write!(f, "Buffer(shape={:?}, dtype={})", v.shape(), v.dtype())
    }
}

/// A named buffer, keyed like a parameter (`1.running_mean`).
pub type NamedBuffer = (String, Buffer);

/// A neural-network building block (PyTorch `nn.Module`).
///
/// `forward` records the module's computation on the input's tape, bringing the module's
/// [`Param`]s into the step with `tape.param`. Parameters and buffers are visited with their
/// PyTorch `state_dict` names (`0.weight`, `encoder.layers.1.norm1.bias`), which optimizers,
/// regularizers and checkpoints use as stable keys.
///
/// Implement `forward`, `visit` and `name`; containers pass a dotted prefix to their
/// children. Modules with several inputs or outputs (attention, recurrent layers) also offer
/// inherent methods with their full signature; `forward` is their single-tensor form.
pub trait Module: Send + Sync + std::fmt::Debug {
    /// The output for `input` (PyTorch `module(input)`).
    fn forward<'t>(&self, input: Var<'t>) -> Var<'t>;

    /// The output for `input` given what the batch carries besides it (the real length of
    /// each padded sample): recurrent layers run as on PyTorch's packed sequences, attention
    /// masks the padding, [`SequencePool`](crate::SequencePool) pools over real positions.
    /// Containers pass `ctx` to their children. Layers that do not look at sequences ignore
    /// it (the default: [`Module::forward`]); without lengths every layer computes what
    /// `forward` computes.
    fn forward_with<'t>(&self, input: Var<'t>, ctx: &ForwardContext) -> Var<'t> {
        let _ = ctx;
        self.forward(input)
    }

    /// Calls `visitor` on every parameter and buffer of this module and its children, with
    /// names prefixed by `prefix` (empty at the root; containers add `"{name}."`).
    fn visit(&self, prefix: &str, visitor: &mut dyn ModuleVisitor);

    /// The PyTorch class name (`"Linear"`), for summaries and errors.
    fn name(&self) -> &'static str;

    /// Switches training mode (`module.train(mode)`); containers forward it to children.
    /// Dropout and BatchNorm behave differently in training and evaluation.
    fn set_training(&mut self, _training: bool) {}

    /// Whether the module is in training mode (`module.training`).
    fn is_training(&self) -> bool {
        true
    }

    /// The module as [`Any`](std::any::Any), so code holding a `Box<dyn Module>` built from a
    /// spec can reach a concrete layer's inherent methods (`Lstm::forward_with_state`,
    /// `MultiheadAttention::forward_full`) with `downcast_ref`. `None` unless the layer opts
    /// in (the multi-input/multi-output layers do).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// The direct children with their names, for summaries (empty for leaf layers).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// Every parameter with its state-dict name, in registration order
    /// (`module.named_parameters()`).
    fn named_parameters(&self) -> Vec<NamedParam> {
        let mut out = Vec::new();
        self.visit("", &mut |name: &str, item: ModuleItem| {
            if let ModuleItem::Param(p) = item {
                out.push((name.to_string(), p.clone()));
            }
        });
        out
    }

    /// Every buffer with its state-dict name (`module.named_buffers()`).
    fn named_buffers(&self) -> Vec<NamedBuffer> {
        let mut out = Vec::new();
        self.visit("", &mut |name: &str, item: ModuleItem| {
            if let ModuleItem::Buffer(b) = item {
                out.push((name.to_string(), b.clone()));
            }
        });
        out
    }

    /// Number of trainable scalars (`sum(p.numel() for p in module.parameters())`).
    fn num_parameters(&self) -> usize {
        self.named_parameters().iter().map(|(_, p)| p.numel()).sum()
    }

    /// The state dict: every parameter and buffer value by name (`module.state_dict()`).
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit("", &mut |name: &str, item: ModuleItem| {
            let v = match item {
                ModuleItem::Param(p) => p.value(),
                ModuleItem::Buffer(b) => b.value(),
                ModuleItem::Rng(_) => return,
            };
            out.push((name.to_string(), v));
        });
        out
    }
}

/// A parameter or a buffer, as [`Module::visit`] reports them.
#[derive(Clone, Copy, Debug)]
pub enum ModuleItem<'a> {
    /// A trainable parameter.
    Param(&'a Param),
    /// A buffer.
    Buffer(&'a Buffer),
    /// A random generator the module draws from while training (dropout masks). Not part of
    /// the state dict; checkpoints save it so that a resumed run draws the same masks.
    Rng(&'a std::sync::Mutex<tuna_tensor::Generator>),
}

/// Receives a module's parameters, buffers and random generators with their full names.
pub trait ModuleVisitor {
    /// Called once per parameter, buffer or generator.
    fn item(&mut self, name: &str, item: ModuleItem<'_>);
}

impl<F: FnMut(&str, ModuleItem<'_>)> ModuleVisitor for F {
    fn item(&mut self, name: &str, item: ModuleItem<'_>) {
        self(name, item)
    }
}

/// Joins a prefix and a local name with a dot (`"0"` + `"weight"` → `"0.weight"`).
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
