//! The machinery shared by [`Rnn`](crate::Rnn), [`Lstm`](crate::Lstm) and [`Gru`](crate::Gru):
//! PyTorch's weight layout and names, multi-layer / bidirectional stacking, inter-layer
//! dropout, and a fused per-layer recurrence recorded as one tape operation.
//!
//! For each layer and direction, the input projection `x·W_ihᵀ + b_ih` of every time step is
//! one matmul on the tape. The recurrence over time is then a single custom operation whose
//! forward runs the cell step by step and whose backward is hand-written backpropagation
//! through time: the gradients of `W_hh` and `b_hh` are one matmul over all steps, and no
//! per-step slicing of the projected input is recorded (slicing on the tape would cost
//! `O(T²)` in backward).
//!
//! With per-sample lengths the stack runs as on PyTorch's packed sequences: the samples are
//! sorted by decreasing length (and restored after), and at step `t` only the first
//! `batch_sizes[t]` run; the others keep their state and output zeros, so `h_n` is each
//! sample's state after its last real step and the reverse direction starts there.

use std::sync::Mutex;

use tuna_autograd::{functional, CustomOp, Param, Var};
use tuna_tensor::{gemm_slices, pool, DType, Element, Generator, Tensor};

use crate::config::BuildContext;
use crate::error::NnError;
use crate::module::{join_name, ModuleItem, ModuleVisitor};

/// Which recurrence a [`RecurrentCore`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellKind {
    /// `h = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnTanh,
    /// `h = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnRelu,
    /// LSTM with gates (i, f, g, o).
    Lstm,
    /// GRU with gates (r, z, n).
    Gru,
}

impl CellKind {
    fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }
}

/// The parameters of one layer in one direction.
#[derive(Debug)]
pub(crate) struct DirectionParams {
    pub w_ih: Param,
    pub w_hh: Param,
    pub b_ih: Option<Param>,
    pub b_hh: Option<Param>,
    pub w_hr: Option<Param>,
}

/// The options every recurrent layer shares (PyTorch's `RNNBase` arguments).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RecurrentOptions {
    pub input_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bias: bool,
    pub batch_first: bool,
    pub dropout: f64,
    pub bidirectional: bool,
    pub proj_size: usize,
}

impl RecurrentOptions {
    pub fn validate(&self, layer: &str) -> Result<(), NnError> {
        let positive = |field: &str, v: usize| {
            if v == 0 {
                Err(NnError::config(layer, field, "must be positive, got 0"))
            } else {
                Ok(())
            }
        };
        positive("input_size", self.input_size)?;
        positive("hidden_size", self.hidden_size)?;
        positive("num_layers", self.num_layers)?;
        if !(0.0..=1.0).contains(&self.dropout) || self.dropout.is_nan() {
            return Err(NnError::config(
                layer,
                "dropout",
                format!("must be in [0, 1], got {}", self.dropout),
            ));
        }
        if self.proj_size >= self.hidden_size && self.proj_size > 0 {
            return Err(NnError::config(
                layer,
                "proj_size",
                format!(
                    "must be smaller than hidden_size ({}), got {}",
                    self.hidden_size, self.proj_size
                ),
            ));
        }
        Ok(())
    }

    /// Number of directions (`D`).
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Size of `h` (`proj_size` if set, else `hidden_size`).
    pub fn out_size(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.hidden_size
        }
    }

    /// Output shape for an input shape, or the expected input in words.
    pub fn output_shape(
        &self,
        layer: &str,
        index: &str,
        input: &[usize],
    ) -> Result<Vec<usize>, NnError> {
        let ok = matches!(input.len(), 2 | 3) && input.last() == Some(&self.input_size);
        if !ok {
            return Err(NnError::Shape {
                index: index.to_string(),
                layer: layer.to_string(),
                expected: if self.batch_first {
                    format!("[N, L, {}] or [L, {}]", self.input_size, self.input_size)
                } else {
                    format!("[L, N, {}] or [L, {}]", self.input_size, self.input_size)
                },
                got: input.to_vec(),
            });
        }
        let mut out = input.to_vec();
        *out.last_mut().expect("non-empty") = self.out_size() * self.directions();
        Ok(out)
    }
}

/// Parameters, options and dropout state of a recurrent layer stack.
#[derive(Debug)]
pub(crate) struct RecurrentCore {
    pub kind: CellKind,
    pub opts: RecurrentOptions,
    /// `params[layer][direction]`.
    pub params: Vec<Vec<DirectionParams>>,
    pub training: bool,
    gen: Mutex<Generator>,
}

impl RecurrentCore {
    /// Builds the stack with PyTorch's initialization: every parameter U(-1/√H, 1/√H), drawn
    /// in state-dict order.
    pub fn new(kind: CellKind, opts: RecurrentOptions, ctx: &mut BuildContext) -> Self {
        let (h, g) = (opts.hidden_size, kind.gates() * opts.hidden_size);
        let k = 1.0 / (h as f64).sqrt();
        let dtype = ctx.dtype;
        let draw = |shape: &[usize], gen: &mut Generator| {
            Param::new(Tensor::uniform(shape, -k, k, dtype, gen))
        };
        let d = opts.directions();
        let out = opts.out_size();
        let mut params = Vec::with_capacity(opts.num_layers);
        for layer in 0..opts.num_layers {
            let in_size = if layer == 0 { opts.input_size } else { out * d };
            let mut dirs = Vec::with_capacity(d);
            for _ in 0..d {
                let gen = &mut ctx.gen;
                let w_ih = draw(&[g, in_size], gen);
                let w_hh = draw(&[g, out], gen);
                let b_ih = opts.bias.then(|| draw(&[g], gen));
                let b_hh = opts.bias.then(|| draw(&[g], gen));
                let w_hr = (opts.proj_size > 0).then(|| draw(&[opts.proj_size, h], gen));
                dirs.push(DirectionParams {
                    w_ih,
                    w_hh,
                    b_ih,
                    b_hh,
                    w_hr,
                });
            }
            params.push(dirs);
        }
        RecurrentCore {
            kind,
            opts,
            params,
            training: true,
            gen: Mutex::new(ctx.gen.fork()),
        }
    }

    /// Visits `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`,
    /// `weight_hr_l{k}` (with `_reverse` for the backward direction), in PyTorch's order.
    pub fn visit(&self, prefix: &str, v: &mut dyn ModuleVisitor) {
        for (k, dirs) in self.params.iter().enumerate() {
            for (d, p) in dirs.iter().enumerate() {
                let sfx = if d == 1 { "_reverse" } else { "" };
                let mut item = |name: &str, p: &Param| {
                    v.item(
                        &join_name(prefix, &format!("{name}_l{k}{sfx}")),
                        ModuleItem::Param(p),
                    )
                };
                item("weight_ih", &p.w_ih);
                item("weight_hh", &p.w_hh);
                if let Some(b) = &p.b_ih {
                    item("bias_ih", b);
                }
                if let Some(b) = &p.b_hh {
                    item("bias_hh", b);
                }
                if let Some(w) = &p.w_hr {
                    item("weight_hr", w);
                }
            }
        }
        v.item(&join_name(prefix, "rng"), ModuleItem::Rng(&self.gen));
    }

    /// Runs the stack. `input` is `(L, N, H_in)`/`(N, L, H_in)` (per `batch_first`) or
    /// unbatched `(L, H_in)`; `h0`/`c0` are `(num_layers·D, N, H_out)` / `(…, N, H)` or
    /// unbatched without `N`. Returns `(output, h_n, c_n)` (`c_n` only for LSTM). With
    /// `lengths` (one per sample, in `1..=L`), each sample runs over its first `lengths[i]`
    /// steps only, as a packed sequence.
    #[track_caller]
    pub fn run<'t>(
        &self,
        name: &str,
        input: Var<'t>,
        h0: Option<Var<'t>>,
        c0: Option<Var<'t>>,
        lengths: Option<&[usize]>,
    ) -> (Var<'t>, Var<'t>, Option<Var<'t>>) {
        let o = &self.opts;
        let tape = input.tape();
        let rank = input.rank();
        assert!(
            (rank == 2 || rank == 3) && input.size(-1) == o.input_size,
            "{name}: expected input of shape [{}, {}] or [L, {}], got {:?}",
            if o.batch_first { "N, L" } else { "L, N" },
            o.input_size,
            o.input_size,
            input.shape()
        );
        let unbatched = rank == 2;
        // time-major (T, N, F)
        let x = if unbatched {
            input.unsqueeze(1)
        } else if o.batch_first {
            input.transpose(0, 1)
        } else {
            input
        };
        let (t_len, n) = (x.size(0), x.size(1));
        assert!(t_len > 0, "{name}: expected a non-empty sequence");
        if let Some(l) = lengths {
            self.check_lengths(name, l, n, t_len, unbatched);
        }
        let d = o.directions();
        let state = |s: Option<Var<'t>>, what: &str, size: usize| -> Var<'t> {
            let want = [o.num_layers * d, n, size];
            match s {
                Some(s) => {
                    let s = if unbatched { s.unsqueeze(1) } else { s };
                    assert!(
                        s.shape().as_slice() == want,
                        "{name}: expected {what} of shape {:?}, got {:?}",
                        if unbatched {
                            vec![want[0], want[2]]
                        } else {
                            want.to_vec()
                        },
                        s.shape()
                    );
                    s
                }
                None => tape.constant(Tensor::zeros(&want, input.dtype())),
            }
        };
        let h0 = state(h0, "h_0", o.out_size());
        let lstm = self.kind == CellKind::Lstm;
        let c0 = lstm.then(|| state(c0, "c_0", o.hidden_size));
        let packing = lengths.map(|l| Packing::new(l, t_len));
        let sort = |v: Var<'t>| match packing.as_ref().and_then(|p| p.order.as_ref()) {
            Some((sorted, _)) => v.index_select(1, sorted),
            None => v,
        };
        let unsort = |v: Var<'t>| match packing.as_ref().and_then(|p| p.order.as_ref()) {
            Some((_, inverse)) => v.index_select(1, inverse),
            None => v,
        };
        let batch_sizes = packing.as_ref().map(|p| p.batch_sizes.as_slice());
        let (x, hn, cn) = self.run_layers(sort(x), sort(h0), c0.map(sort), batch_sizes);
        let (x, mut hn, mut cn) = (unsort(x), unsort(hn), cn.map(unsort));
        let mut output = if unbatched {
            x.squeeze(1)
        } else if o.batch_first {
            x.transpose(0, 1)
        } else {
            x
        };
        if o.batch_first && !unbatched {
            output = output.contiguous();
        }
        if unbatched {
            hn = hn.squeeze(1);
            cn = cn.map(|c| c.squeeze(1));
        }
        (output, hn, cn)
    }

    /// Every layer and direction over time-major `x` `(T, N, F)` from the states `h0`/`c0`
    /// `(num_layers·D, N, ·)`, with inter-layer dropout in training. Returns the last layer's
    /// output and the stacked final states.
    fn run_layers<'t>(
        &self,
        mut x: Var<'t>,
        h0: Var<'t>,
        c0: Option<Var<'t>>,
        batch_sizes: Option<&[usize]>,
    ) -> (Var<'t>, Var<'t>, Option<Var<'t>>) {
        let o = &self.opts;
        let tape = x.tape();
        let (t_len, n, d) = (x.size(0), x.size(1), o.directions());
        let mut h_n = Vec::with_capacity(o.num_layers * d);
        let mut c_n = Vec::with_capacity(o.num_layers * d);
        for (layer, dirs) in self.params.iter().enumerate() {
            let flat = x.reshape(&[(t_len * n) as isize, x.size(2) as isize]);
            let mut outs = Vec::with_capacity(d);
            for (dir, p) in dirs.iter().enumerate() {
                let idx = layer * d + dir;
                let xp = functional::linear(
                    flat,
                    tape.param(&p.w_ih),
                    p.b_ih.as_ref().map(|b| tape.param(b)),
                )
                .reshape(&[t_len as isize, n as isize, -1]);
                let (seq, hn, cn) = recur(
                    self.kind,
                    dir == 1,
                    xp,
                    h0.select(0, idx),
                    c0.map(|c| c.select(0, idx)),
                    tape.param(&p.w_hh),
                    p.b_hh.as_ref().map(|b| tape.param(b)),
                    p.w_hr.as_ref().map(|w| tape.param(w)),
                    batch_sizes,
                );
                outs.push(seq);
                h_n.push(hn);
                c_n.extend(cn);
            }
            x = if d == 1 { outs[0] } else { tape.cat(&outs, -1) };
            if layer + 1 < o.num_layers && o.dropout > 0.0 && self.training {
                let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
                x = functional::dropout(x, o.dropout, true, &mut g);
            }
        }
        let cn = (self.kind == CellKind::Lstm).then(|| tape.stack(&c_n, 0));
        (x, tape.stack(&h_n, 0), cn)
    }
}

/// PyTorch's packing of a padded batch (`pack_padded_sequence(..., enforce_sorted=False)`):
/// the samples sorted by decreasing length, so that those still running at step `t` are the
/// first `batch_sizes[t]`.
struct Packing {
    /// The sorting permutation and its inverse (i64 indices), unless already sorted.
    order: Option<(Tensor, Tensor)>,
    /// Samples still running at each step.
    batch_sizes: Vec<usize>,
}

impl Packing {
    fn new(lengths: &[usize], t_len: usize) -> Self {
        let mut idx: Vec<usize> = (0..lengths.len()).collect();
        idx.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
        let batch_sizes = (0..t_len)
            .map(|t| lengths.iter().filter(|&&l| l > t).count())
            .collect();
        let sorted = idx.iter().enumerate().all(|(k, &i)| k == i);
        let order = (!sorted).then(|| {
            let mut inverse = vec![0i64; idx.len()];
            for (k, &i) in idx.iter().enumerate() {
                inverse[i] = k as i64;
            }
            let n = idx.len();
            let idx: Vec<i64> = idx.into_iter().map(|i| i as i64).collect();
            (Tensor::from_vec(idx, &[n]), Tensor::from_vec(inverse, &[n]))
        });
        Packing { order, batch_sizes }
    }
}

impl RecurrentCore {
    /// Panics unless `lengths` has one entry per sample, each in `1..=t_len`.
    #[track_caller]
    fn check_lengths(
        &self,
        name: &str,
        lengths: &[usize],
        n: usize,
        t_len: usize,
        unbatched: bool,
    ) {
        let ctx = crate::ForwardContext::with_lengths(lengths);
        if let Err(e) = ctx.check(n, t_len) {
            let layout = if unbatched {
                "unbatched [L, H_in]"
            } else if self.opts.batch_first {
                "[N, L, H_in] (batch_first = true)"
            } else {
                "[L, N, H_in] (batch_first = false; batches of padded token sequences are \
                 [N, L]: set batch_first = true)"
            };
            panic!("{name}: {e}, for an input read as {layout} with N = {n}, L = {t_len}");
        }
    }
}

/// Runs one layer in one direction over the projected inputs `xp` `(T, N, G·H)`, as one
/// tape operation. Returns the output sequence `(T, N, H_out)`, `h_n` and (LSTM) `c_n`.
/// With `batch_sizes` (of samples sorted by decreasing length), only the first
/// `batch_sizes[t]` samples are processed at step `t`, as on PyTorch's packed sequences: the
/// others keep their state and output zeros.
#[allow(clippy::too_many_arguments)]
fn recur<'t>(
    kind: CellKind,
    reverse: bool,
    xp: Var<'t>,
    h0: Var<'t>,
    c0: Option<Var<'t>>,
    w_hh: Var<'t>,
    b_hh: Option<Var<'t>>,
    w_hr: Option<Var<'t>>,
    batch_sizes: Option<&[usize]>,
) -> (Var<'t>, Var<'t>, Option<Var<'t>>) {
    let tape = xp.tape();
    let (t_len, n) = (xp.size(0), xp.size(1));
    let out_size = h0.size(-1);
    let hidden = w_hh.size(0) / kind.gates();
    let (xpv, h0v, w_hhv) = (xp.value(), h0.value(), w_hh.value());
    let (c0v, b_hhv, w_hrv) = (
        c0.map(|c| c.value()),
        b_hh.map(|b| b.value()),
        w_hr.map(|w| w.value()),
    );
    let (packed, cell) = Cell::run(&CellArgs {
        kind,
        reverse,
        xp: &xpv,
        h0: &h0v,
        c0: c0v.as_ref(),
        w_hh: &w_hhv,
        b_hh: b_hhv.as_ref(),
        w_hr: w_hrv.as_ref(),
        batch_sizes,
    });
    let mut inputs = vec![xp, h0];
    inputs.extend(c0);
    inputs.push(w_hh);
    inputs.extend(b_hh);
    inputs.extend(w_hr);
    let packed = tape.custom(&inputs, packed, Box::new(cell));
    let seq_len = t_len * n * out_size;
    let seq =
        packed
            .narrow(0, 0, seq_len)
            .reshape(&[t_len as isize, n as isize, out_size as isize]);
    let hn = packed
        .narrow(0, seq_len, n * out_size)
        .reshape(&[n as isize, out_size as isize]);
    let cn = (kind == CellKind::Lstm).then(|| {
        packed
            .narrow(0, seq_len + n * out_size, n * hidden)
            .reshape(&[n as isize, hidden as isize])
    });
    (seq, hn, cn)
}

/// The scalar types the fused kernels run on. `f32` uses a vectorizable `exp` (Cephes-style
/// range reduction and a degree-7 polynomial, a few ulp on the clamped range) so that the gate
/// nonlinearities do not dominate the step; `f64` uses the standard library's.
pub(crate) trait Real:
    Element
    + tuna_tensor::Gemm
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + PartialOrd
{
    const ZERO: Self;
    const ONE: Self;
    fn exp_(self) -> Self;
    #[inline(always)]
    fn sigmoid(self) -> Self {
        Self::ONE / (Self::ONE + (Self::ZERO - self).exp_())
    }
    fn tanh_(self) -> Self;
    #[inline(always)]
    fn relu(self) -> Self {
        if self > Self::ZERO {
            self
        } else {
            Self::ZERO
        }
    }
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    #[inline(always)]
    fn exp_(self) -> f32 {
        // branch-free so the gate loops vectorize: round-to-nearest by the 1.5·2²³ trick
        const MAGIC: f32 = 12_582_912.0;
        let x = self.clamp(-87.0, 88.0);
        let t = x * std::f32::consts::LOG2_E + MAGIC;
        let n = t - MAGIC;
        let i = t.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
        let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0
                        + r * (1.0 / 24.0
                            + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
        p * f32::from_bits((i.wrapping_add(127) as u32) << 23)
    }
    #[inline(always)]
    fn tanh_(self) -> f32 {
        // near 0, a Taylor series avoids the cancellation in 1 − 2/(e^{2x}+1)
        let x2 = self * self;
        let small = self * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0))));
        let big = 1.0 - 2.0 / ((2.0 * self).exp_() + 1.0);
        if self.abs() < 0.0625 {
            small
        } else {
            big
        }
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    fn exp_(self) -> f64 {
        self.exp()
    }
    fn tanh_(self) -> f64 {
        self.tanh()
    }
}

/// The fused recurrence of one layer and direction (forward values and hand-written BPTT).
/// Saved activations are indexed by time step `t` (not processing order).
struct Cell {
    kind: CellKind,
    reverse: bool,
    has_bias: bool,
    has_proj: bool,
    has_c0: bool,
    /// `[T, N, G·H]`: activated gates (LSTM i, f, g, o; GRU r, z, n; RNN h).
    acts: Tensor,
    /// LSTM `c_{t-1}`, GRU `W_hn h + b_hn`, `[T, N, H]`.
    aux: Option<Tensor>,
    /// LSTM `tanh(c_t)`, `[T, N, H]`.
    tc: Option<Tensor>,
    /// LSTM with projection: the unprojected `m_t = o ⊙ tanh(c_t)`, `[T, N, H]`.
    m: Option<Tensor>,
    /// `h_{t-1}` as seen by step `t`, `[T, N, H_out]`.
    h_prev: Tensor,
    /// Samples processed at each step: the first `batch_sizes[t]` (all without).
    batch_sizes: Option<Vec<usize>>,
}

/// The inputs of [`Cell::run`].
#[derive(Clone, Copy)]
struct CellArgs<'a> {
    kind: CellKind,
    reverse: bool,
    xp: &'a Tensor,
    h0: &'a Tensor,
    c0: Option<&'a Tensor>,
    w_hh: &'a Tensor,
    b_hh: Option<&'a Tensor>,
    w_hr: Option<&'a Tensor>,
    /// PyTorch's packed `batch_sizes`: at step `t` only the first `batch_sizes[t]` samples
    /// (sorted by decreasing length) are processed; the others keep their state and output
    /// zeros.
    batch_sizes: Option<&'a [usize]>,
}

fn order(reverse: bool, t_len: usize) -> Vec<usize> {
    if reverse {
        (0..t_len).rev().collect()
    } else {
        (0..t_len).collect()
    }
}

fn slice<T: Element>(t: &Tensor) -> std::borrow::Cow<'_, [T]> {
    match t.as_slice::<T>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => {
            std::borrow::Cow::Owned(t.contiguous().as_slice::<T>().expect("contiguous").to_vec())
        }
    }
}

/// `v[start..start + len]`, or `v` itself if it is empty (an unused buffer).
#[inline(always)]
fn part_mut<T>(v: &mut [T], start: usize, len: usize) -> &mut [T] {
    if v.is_empty() {
        v
    } else {
        &mut v[start..start + len]
    }
}

/// [`part_mut`] for a shared slice.
#[inline(always)]
fn part<T>(v: &[T], start: usize, len: usize) -> &[T] {
    if v.is_empty() {
        v
    } else {
        &v[start..start + len]
    }
}

/// One forward step of the cells of every sample (rows of `xs`, `hh`, `a`): the activated
/// gates into `a`; LSTM: `c_{t-1}` into `aux`, the new `c`, `tanh c` into `tc` and
/// `m = o ⊙ tanh c`; GRU: `W_hn h + b_hn` into `aux` and the new `h` into `new_h`; RNN: the
/// new `h` into `new_h`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_cells<T: Real>(
    kind: CellKind,
    hid: usize,
    out: usize,
    xs: &[T],
    hh: &[T],
    b_vec: &[T],
    hp: &[T],
    a: &mut [T],
    aux: &mut [T],
    tcs: &mut [T],
    c: &mut [T],
    m: &mut [T],
    new_h: &mut [T],
) {
    let g = b_vec.len();
    for b in 0..xs.len() / g {
        let r = b * g;
        match kind {
            CellKind::RnnTanh | CellKind::RnnRelu => {
                for j in 0..g {
                    let v = xs[r + j] + hh[r + j] + b_vec[j];
                    let v = if kind == CellKind::RnnTanh {
                        v.tanh_()
                    } else {
                        v.relu()
                    };
                    a[r + j] = v;
                    new_h[b * out + j] = v;
                }
            }
            CellKind::Lstm => {
                let ar = &mut a[r..r + g];
                // pre-activations, then the gate nonlinearities, each a flat loop
                for (((av, &xv), &hv), &bv) in ar
                    .iter_mut()
                    .zip(&xs[r..r + g])
                    .zip(&hh[r..r + g])
                    .zip(b_vec)
                {
                    *av = xv + hv + bv;
                }
                let (ifg, o_gate) = ar.split_at_mut(3 * hid);
                let (if_gates, g_gate) = ifg.split_at_mut(2 * hid);
                for v in if_gates.iter_mut() {
                    *v = v.sigmoid();
                }
                for v in o_gate.iter_mut() {
                    *v = v.sigmoid();
                }
                for v in g_gate.iter_mut() {
                    *v = v.tanh_();
                }
                let (i_gate, f_gate) = if_gates.split_at(hid);
                let k0 = b * hid;
                let cr = &mut c[k0..k0 + hid];
                let auxr = &mut aux[k0..k0 + hid];
                let tcr = &mut tcs[k0..k0 + hid];
                let mr = &mut m[k0..k0 + hid];
                for (((cv, av), (&gi, &gf)), &gg) in cr
                    .iter_mut()
                    .zip(auxr.iter_mut())
                    .zip(i_gate.iter().zip(f_gate))
                    .zip(g_gate.iter())
                {
                    *av = *cv;
                    *cv = gf * *cv + gi * gg;
                }
                for (tv, &cv) in tcr.iter_mut().zip(cr.iter()) {
                    *tv = cv.tanh_();
                }
                for ((mv, &tv), &go) in mr.iter_mut().zip(tcr.iter()).zip(o_gate.iter()) {
                    *mv = go * tv;
                }
            }
            CellKind::Gru => {
                for j in 0..hid {
                    let gr = (xs[r + j] + hh[r + j] + b_vec[j]).sigmoid();
                    let gz = (xs[r + hid + j] + hh[r + hid + j] + b_vec[hid + j]).sigmoid();
                    let hn = hh[r + 2 * hid + j] + b_vec[2 * hid + j];
                    let gn = (xs[r + 2 * hid + j] + gr * hn).tanh_();
                    a[r + j] = gr;
                    a[r + hid + j] = gz;
                    a[r + 2 * hid + j] = gn;
                    let k = b * hid + j;
                    aux[k] = hn;
                    new_h[k] = gn + gz * (hp[k] - gn);
                }
            }
        }
    }
}

/// One backward step of the cells of every sample: from `d`, the gradient of the step's
/// output (`m` for LSTM, `h` otherwise), the gate pre-activation gradients into `dx` (and,
/// GRU, the gradients of `W_hh h + b_hh` into `dhh` and of `h_{t-1}` through `z` into
/// `direct`); LSTM: `dc` goes from `∂c_t` to `∂c_{t-1}`. `aux`, `tc` and `hp` are the step's
/// saved values (see [`Cell`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_cells<T: Real>(
    kind: CellKind,
    hid: usize,
    a: &[T],
    d: &[T],
    dx: &mut [T],
    dhh: &mut [T],
    dc: &mut [T],
    aux: &[T],
    tc: &[T],
    hp: &[T],
    direct: &mut [T],
) {
    let g = kind.gates() * hid;
    let n = a.len() / g;
    match kind {
        CellKind::RnnTanh => {
            for k in 0..n * g {
                dx[k] = d[k] * (T::ONE - a[k] * a[k]);
            }
        }
        CellKind::RnnRelu => {
            for k in 0..n * g {
                dx[k] = if a[k] > T::ZERO { d[k] } else { T::ZERO };
            }
        }
        CellKind::Lstm => {
            for b in 0..n {
                let (r, k0) = (b * g, b * hid);
                let (gi, rest) = a[r..r + g].split_at(hid);
                let (gf, rest) = rest.split_at(hid);
                let (gg, go) = rest.split_at(hid);
                let (di, rest) = dx[r..r + g].split_at_mut(hid);
                let (df, rest) = rest.split_at_mut(hid);
                let (dg, do_) = rest.split_at_mut(hid);
                let cp = &aux[k0..k0 + hid];
                let tc = &tc[k0..k0 + hid];
                let dmr = &d[k0..k0 + hid];
                let dcr = &mut dc[k0..k0 + hid];
                for j in 0..hid {
                    let (gi, gf, gg, go) = (gi[j], gf[j], gg[j], go[j]);
                    let (cp, tc, dmk) = (cp[j], tc[j], dmr[j]);
                    let dcc = dcr[j] + dmk * go * (T::ONE - tc * tc);
                    di[j] = dcc * gg * gi * (T::ONE - gi);
                    df[j] = dcc * cp * gf * (T::ONE - gf);
                    dg[j] = dcc * gi * (T::ONE - gg * gg);
                    do_[j] = dmk * tc * go * (T::ONE - go);
                    dcr[j] = dcc * gf;
                }
            }
        }
        CellKind::Gru => {
            for b in 0..n {
                let r = b * g;
                for j in 0..hid {
                    let kk = b * hid + j;
                    let (gr, gz, gn) = (a[r + j], a[r + hid + j], a[r + 2 * hid + j]);
                    let dk = d[kk];
                    let dz = dk * (hp[kk] - gn) * gz * (T::ONE - gz);
                    let dn = dk * (T::ONE - gz) * (T::ONE - gn * gn);
                    let dr = dn * aux[kk] * gr * (T::ONE - gr);
                    dx[r + j] = dr;
                    dx[r + hid + j] = dz;
                    dx[r + 2 * hid + j] = dn;
                    dhh[r + j] = dr;
                    dhh[r + hid + j] = dz;
                    dhh[r + 2 * hid + j] = dn * gr;
                    direct[kk] = dk * gz;
                }
            }
        }
    }
}

impl Cell {
    /// Runs the recurrence; returns the packed output `[seq (T·N·H_out), h_n (N·H_out),
    /// c_n (N·H)]` and the cell with its saved activations.
    fn run(args: &CellArgs<'_>) -> (Tensor, Cell) {
        let dt = args.xp.dtype();
        let h0 = args.h0.to_dtype(dt);
        let c0 = args.c0.map(|c| c.to_dtype(dt));
        let w_hh = args.w_hh.to_dtype(dt);
        let b_hh = args.b_hh.map(|b| b.to_dtype(dt));
        let w_hr = args.w_hr.map(|w| w.to_dtype(dt));
        let args = CellArgs {
            h0: &h0,
            c0: c0.as_ref(),
            w_hh: &w_hh,
            b_hh: b_hh.as_ref(),
            w_hr: w_hr.as_ref(),
            ..*args
        };
        match dt {
            DType::F32 => Self::run_t::<f32>(&args),
            DType::F64 => Self::run_t::<f64>(&args),
            other => panic!("{:?}: expected a float input, got {other}", args.kind),
        }
    }

    /// [`Cell::run_body`], compiled for AVX-512 / AVX2 as well and picked at run time, so the
    /// gate loops use the wide vectors (the same operations in the same order on every path:
    /// no FMA contraction, so every path gives the same bits).
    fn run_t<T: Real>(args: &CellArgs<'_>) -> (Tensor, Cell) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                return unsafe { Self::run_avx512::<T>(args) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { Self::run_avx2::<T>(args) };
            }
        }
        Self::run_body::<T>(args)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn run_avx512<T: Real>(args: &CellArgs<'_>) -> (Tensor, Cell) {
        Self::run_body::<T>(args)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2<T: Real>(args: &CellArgs<'_>) -> (Tensor, Cell) {
        Self::run_body::<T>(args)
    }

    #[inline(always)]
    fn run_body<T: Real>(args: &CellArgs<'_>) -> (Tensor, Cell) {
        let CellArgs {
            kind,
            reverse,
            xp,
            h0,
            c0,
            w_hh,
            b_hh,
            w_hr,
            batch_sizes,
        } = *args;
        let (t_len, n) = (xp.size(0), xp.size(1));
        let g = w_hh.size(0);
        let hid = g / kind.gates();
        let out = h0.size(-1);
        let x = slice::<T>(xp);
        let b_vec: Vec<T> = match b_hh {
            Some(b) => slice::<T>(b).to_vec(),
            None => vec![T::ZERO; g],
        };
        // `W_hhᵀ` (and `W_hrᵀ`) made contiguous once, so the per-step products read their
        // right operand row by row (the GEMM packs a row-major right operand much faster than
        // a transposed one)
        let w_hh_t = slice::<T>(&w_hh.t().contiguous()).into_owned();
        let w_hr_t = w_hr.map(|w| slice::<T>(&w.t().contiguous()).into_owned());
        let lstm = kind == CellKind::Lstm;
        let steps = |used: bool| pool::zeroed::<T>(if used { t_len * n * hid } else { 0 });
        let mut acts = pool::zeroed::<T>(t_len * n * g);
        let mut aux = steps(kind != CellKind::RnnTanh && kind != CellKind::RnnRelu);
        let mut tcs = steps(lstm);
        let mut ms = steps(lstm && w_hr.is_some());
        let mut h_prev_all = pool::zeroed::<T>(t_len * n * out);
        let seq_len = t_len * n * out;
        let mut seq = pool::zeroed::<T>(seq_len + n * out + if lstm { n * hid } else { 0 });
        let mut h: Vec<T> = slice::<T>(h0).into_owned();
        let mut c: Vec<T> = match c0 {
            Some(c) => slice::<T>(c).to_vec(),
            None => vec![T::ZERO; n * hid],
        };
        let mut m = vec![T::ZERO; n * hid];
        let mut hh = vec![T::ZERO; n * g];
        let mut new_h = vec![T::ZERO; if lstm { 0 } else { n * out }];
        for t in order(reverse, t_len) {
            // the first `k` samples run; the others keep `h`, `c` and a zero output
            let k = batch_sizes.map_or(n, |b| b[t]);
            if k == 0 {
                continue;
            }
            let (ko, kg, kh) = (k * out, k * g, k * hid);
            h_prev_all[t * n * out..(t + 1) * n * out].copy_from_slice(&h);
            gemm_slices(
                k,
                out,
                g,
                &h[..ko],
                false,
                &w_hh_t,
                false,
                &mut hh[..kg],
                false,
            );
            forward_cells(
                kind,
                hid,
                out,
                &x[t * n * g..t * n * g + kg],
                &hh[..kg],
                &b_vec,
                &h_prev_all[t * n * out..t * n * out + ko],
                &mut acts[t * n * g..t * n * g + kg],
                part_mut(&mut aux, t * n * hid, kh),
                part_mut(&mut tcs, t * n * hid, kh),
                &mut c[..kh],
                &mut m[..kh],
                part_mut(&mut new_h, 0, ko),
            );
            match (&w_hr_t, lstm) {
                (Some(w), _) => {
                    part_mut(&mut ms, t * n * hid, kh).copy_from_slice(&m[..kh]);
                    gemm_slices(k, hid, out, &m[..kh], false, w, false, &mut h[..ko], false);
                }
                (None, true) => h[..ko].copy_from_slice(&m[..kh]),
                (None, false) => h[..ko].copy_from_slice(&new_h[..ko]),
            }
            seq[t * n * out..t * n * out + ko].copy_from_slice(&h[..ko]);
        }
        seq[seq_len..seq_len + n * out].copy_from_slice(&h);
        if lstm {
            seq[seq_len + n * out..].copy_from_slice(&c);
        }
        let len = seq.len();
        let cell = Self::saved(args, (g, hid, out), [acts, aux, tcs, ms, h_prev_all]);
        (Tensor::from_vec(seq, &[len]), cell)
    }

    /// The cell holding what [`Cell::run_body`] saved for the backward pass: the `[T, N, ·]`
    /// buffers of gates, LSTM `c_{t-1}` / GRU `W_hn h + b_hn`, `tanh c`, unprojected `m`
    /// and `h_{t-1}` (empty where unused).
    fn saved<T: Real>(
        args: &CellArgs<'_>,
        (g, hid, out): (usize, usize, usize),
        [acts, aux, tcs, ms, h_prev]: [Vec<T>; 5],
    ) -> Cell {
        let (t_len, n) = (args.xp.size(0), args.xp.size(1));
        let hs = |v: Vec<T>, last: usize| Tensor::from_vec(v, &[t_len, n, last]);
        let used = |v: Vec<T>| (!v.is_empty()).then(|| hs(v, hid));
        Cell {
            kind: args.kind,
            reverse: args.reverse,
            has_bias: args.b_hh.is_some(),
            has_proj: args.w_hr.is_some(),
            has_c0: args.c0.is_some(),
            acts: hs(acts, g),
            aux: used(aux),
            tc: used(tcs),
            m: used(ms),
            h_prev: hs(h_prev, out),
            batch_sizes: args.batch_sizes.map(<[usize]>::to_vec),
        }
    }

    /// [`Cell::backward_body`], multi-versioned like [`Cell::run_t`].
    fn backward_t<T: Real>(&self, inputs: &[&Tensor], grad: &Tensor) -> Vec<Option<Tensor>> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                return unsafe { self.backward_avx512::<T>(inputs, grad) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { self.backward_avx2::<T>(inputs, grad) };
            }
        }
        self.backward_body::<T>(inputs, grad)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn backward_avx512<T: Real>(
        &self,
        inputs: &[&Tensor],
        grad: &Tensor,
    ) -> Vec<Option<Tensor>> {
        self.backward_body::<T>(inputs, grad)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn backward_avx2<T: Real>(
        &self,
        inputs: &[&Tensor],
        grad: &Tensor,
    ) -> Vec<Option<Tensor>> {
        self.backward_body::<T>(inputs, grad)
    }

    /// Backpropagation through time, in reverse processing order. `dh`/`dc` carry the
    /// gradients of the state after step `t` (starting from those of `h_n`/`c_n`); a sample
    /// not processed at step `t` (past its length) keeps them untouched and gets no gate
    /// gradient there.
    #[inline(always)]
    fn backward_body<T: Real>(&self, inputs: &[&Tensor], grad: &Tensor) -> Vec<Option<Tensor>> {
        let kind = self.kind;
        let (xp, h0) = (inputs[0], inputs[1]);
        let k = 2 + usize::from(self.has_c0);
        let w_hh = inputs[k];
        let w_hr = self
            .has_proj
            .then(|| inputs[k + 1 + usize::from(self.has_bias)]);
        let (t_len, n) = (xp.size(0), xp.size(1));
        let g = w_hh.size(0);
        let hid = g / kind.gates();
        let out = h0.size(-1);
        let grad = slice::<T>(grad);
        let gru = kind == CellKind::Gru;
        let acts = slice::<T>(&self.acts);
        let aux = self.aux.as_ref().map(slice::<T>).unwrap_or_default();
        let tcs = self.tc.as_ref().map(slice::<T>).unwrap_or_default();
        let h_prev = slice::<T>(&self.h_prev);
        let batch_sizes = self.batch_sizes.as_deref();
        let seq_len = t_len * n * out;
        let mut dh: Vec<T> = grad[seq_len..seq_len + n * out].to_vec();
        let mut dc: Vec<T> = grad[seq_len + n * out..].to_vec();
        let w_hh_s = slice::<T>(w_hh);
        let w_hr_s = w_hr.map(slice::<T>);
        let mut dh_t = vec![T::ZERO; n * out];
        let mut dm_buf = vec![T::ZERO; if self.has_proj { n * hid } else { 0 }];
        let mut direct = vec![T::ZERO; if gru { n * out } else { 0 }];
        let mut dgx = pool::zeroed::<T>(t_len * n * g);
        let mut dgh = pool::zeroed::<T>(if gru { t_len * n * g } else { 0 });
        let mut dproj = pool::zeroed::<T>(if self.has_proj { seq_len } else { 0 });
        let mut o = order(self.reverse, t_len);
        o.reverse();
        for t in o {
            let k = batch_sizes.map_or(n, |b| b[t]);
            if k == 0 {
                continue;
            }
            let (ko, kg, kh) = (k * out, k * g, k * hid);
            let grad_t = &grad[t * n * out..t * n * out + ko];
            for ((d, &gv), &hv) in dh_t[..ko].iter_mut().zip(grad_t).zip(&dh[..ko]) {
                *d = gv + hv;
            }
            if let Some(w) = &w_hr_s {
                part_mut(&mut dproj, t * n * out, ko).copy_from_slice(&dh_t[..ko]);
                gemm_slices(
                    k,
                    out,
                    hid,
                    &dh_t[..ko],
                    false,
                    w,
                    false,
                    &mut dm_buf[..kh],
                    false,
                );
            }
            backward_cells(
                kind,
                hid,
                &acts[t * n * g..t * n * g + kg],
                if self.has_proj {
                    &dm_buf[..kh]
                } else {
                    &dh_t[..ko]
                },
                &mut dgx[t * n * g..t * n * g + kg],
                part_mut(&mut dgh, t * n * g, kg),
                part_mut(&mut dc, 0, kh),
                part(&aux, t * n * hid, kh),
                part(&tcs, t * n * hid, kh),
                &h_prev[t * n * out..t * n * out + ko],
                part_mut(&mut direct, 0, ko),
            );
            let dstep = part(if gru { &dgh } else { &dgx }, t * n * g, kg);
            gemm_slices(
                k,
                g,
                out,
                dstep,
                false,
                &w_hh_s,
                false,
                &mut dh[..ko],
                false,
            );
            for (d, &v) in dh[..ko].iter_mut().zip(&direct) {
                *d = *d + v;
            }
        }
        self.parameter_grads(dgx, dgh, dproj, dh, dc, (t_len, n, g, out, hid))
    }

    /// The gradients of every input from the per-step gate gradients: `xp` (`dgx`), `h_0`,
    /// `c_0`, `W_hh` and `b_hh` (from `dgh`, or `dgx` where they coincide), `W_hr`.
    fn parameter_grads<T: Real>(
        &self,
        dgx: Vec<T>,
        dgh: Vec<T>,
        dproj: Vec<T>,
        dh: Vec<T>,
        dc: Vec<T>,
        (t_len, n, g, out, hid): (usize, usize, usize, usize, usize),
    ) -> Vec<Option<Tensor>> {
        let rows = (t_len * n) as isize;
        let d_xp = Tensor::from_vec(dgx, &[t_len, n, g]);
        let dgh_all = if self.kind == CellKind::Gru {
            Tensor::from_vec(dgh, &[t_len * n, g])
        } else {
            // the same values: share the buffer
            d_xp.reshape(&[rows, g as isize])
        };
        let hp_all = self.h_prev.reshape(&[rows, out as isize]);
        let mut grads = vec![Some(d_xp), Some(Tensor::from_vec(dh, &[n, out]))];
        if self.has_c0 {
            grads.push(Some(Tensor::from_vec(dc, &[n, hid])));
        }
        grads.push(Some(dgh_all.t().matmul(&hp_all)));
        if self.has_bias {
            grads.push(Some(dgh_all.sum_dims(&[0], false)));
        }
        if self.has_proj {
            let dp = Tensor::from_vec(dproj, &[t_len * n, out]);
            let m_all = self
                .m
                .as_ref()
                .expect("saved m")
                .reshape(&[rows, hid as isize]);
            grads.push(Some(dp.t().matmul(&m_all)));
        }
        grads
    }
}

impl CustomOp for Cell {
    fn name(&self) -> &'static str {
        match self.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => "RnnBackward",
            CellKind::Lstm => "LstmBackward",
            CellKind::Gru => "GruBackward",
        }
    }

    fn backward(&self, inputs: &[&Tensor], _output: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>> {
        let dt = self.acts.dtype();
        let grad = grad.to_dtype(dt);
        let cast: Vec<Tensor> = inputs.iter().map(|t| t.to_dtype(dt)).collect();
        let refs: Vec<&Tensor> = cast.iter().collect();
        let grads = match dt {
            DType::F32 => self.backward_t::<f32>(&refs, &grad),
            _ => self.backward_t::<f64>(&refs, &grad),
        };
        grads
            .into_iter()
            .zip(inputs)
            .map(|(g, x)| g.map(|g| g.to_dtype(x.dtype())))
            .collect()
    }
}

/// `true` (serde default helper).
pub(crate) fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::Real;

    #[test]
    fn fast_f32_exp_sigmoid_tanh_are_accurate() {
        let mut x = -30.0f32;
        while x < 30.0 {
            let e = (x as f64).exp();
            assert!(
                ((x.exp_() as f64) - e).abs() <= 4e-7 * e,
                "exp({x}) = {} vs {e}",
                x.exp_()
            );
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(((x.sigmoid() as f64) - s).abs() <= 2e-7, "sigmoid({x})");
            let t = (x as f64).tanh();
            assert!(
                ((x.tanh_() as f64) - t).abs() <= 3e-7 * t.abs() + 1e-7,
                "tanh({x}) = {} vs {t}",
                x.tanh_()
            );
            x += 0.001_3;
        }
        assert_eq!(100.0f32.sigmoid(), 1.0);
        assert_eq!((-100.0f32).tanh_(), -1.0);
    }
}
