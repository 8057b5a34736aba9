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

use std::sync::Mutex;

use tuna_autograd::{functional, CustomOp, Param, Var};
use tuna_tensor::{Generator, Tensor};

use crate::error::NnError;
use crate::module::{join_name, ModuleItem, ModuleVisitor};
use crate::spec::BuildContext;

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
    }

    /// Runs the stack. `input` is `(L, N, H_in)`/`(N, L, H_in)` (per `batch_first`) or
    /// unbatched `(L, H_in)`; `h0`/`c0` are `(num_layers·D, N, H_out)` / `(…, N, H)` or
    /// unbatched without `N`. Returns `(output, h_n, c_n)` (`c_n` only for LSTM).
    #[track_caller]
    pub fn run<'t>(
        &self,
        name: &str,
        input: Var<'t>,
        h0: Option<Var<'t>>,
        c0: Option<Var<'t>>,
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
        let mut x = if unbatched {
            input.unsqueeze(1)
        } else if o.batch_first {
            input.transpose(0, 1)
        } else {
            input
        };
        let (t_len, n) = (x.size(0), x.size(1));
        assert!(t_len > 0, "{name}: expected a non-empty sequence");
        let d = o.directions();
        let (h, out) = (o.hidden_size, o.out_size());
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
        let h0 = state(h0, "h_0", out);
        let lstm = self.kind == CellKind::Lstm;
        let c0 = lstm.then(|| state(c0, "c_0", h));
        let mut h_n = Vec::with_capacity(o.num_layers * d);
        let mut c_n = Vec::with_capacity(o.num_layers * d);
        for (layer, dirs) in self.params.iter().enumerate() {
            let in_size = x.size(2);
            let flat = x.reshape(&[(t_len * n) as isize, in_size as isize]);
            let mut outs = Vec::with_capacity(d);
            for (dir, p) in dirs.iter().enumerate() {
                let idx = layer * d + dir;
                let xp = functional::linear(
                    flat,
                    tape.param(&p.w_ih),
                    p.b_ih.as_ref().map(|b| tape.param(b)),
                )
                .reshape(&[t_len as isize, n as isize, -1]);
                let hi = h0.select(0, idx);
                let ci = c0.map(|c| c.select(0, idx));
                let (seq, hn, cn) = recur(
                    self.kind,
                    dir == 1,
                    xp,
                    hi,
                    ci,
                    tape.param(&p.w_hh),
                    p.b_hh.as_ref().map(|b| tape.param(b)),
                    p.w_hr.as_ref().map(|w| tape.param(w)),
                );
                outs.push(seq);
                h_n.push(hn);
                if let Some(cn) = cn {
                    c_n.push(cn);
                }
            }
            x = if d == 1 { outs[0] } else { tape.cat(&outs, -1) };
            if layer + 1 < o.num_layers && o.dropout > 0.0 && self.training {
                let mut g = self.gen.lock().unwrap_or_else(|e| e.into_inner());
                x = functional::dropout(x, o.dropout, true, &mut g);
            }
        }
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
        let mut hn = tape.stack(&h_n, 0);
        let mut cn = lstm.then(|| tape.stack(&c_n, 0));
        if unbatched {
            hn = hn.squeeze(1);
            cn = cn.map(|c| c.squeeze(1));
        }
        (output, hn, cn)
    }
}

/// Runs one layer in one direction over the projected inputs `xp` `(T, N, G·H)`, as one
/// tape operation. Returns the output sequence `(T, N, H_out)`, `h_n` and (LSTM) `c_n`.
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
) -> (Var<'t>, Var<'t>, Option<Var<'t>>) {
    let tape = xp.tape();
    let (t_len, n) = (xp.size(0), xp.size(1));
    let out_size = h0.size(-1);
    let hidden = w_hh.size(0) / kind.gates();
    let cell = Cell {
        kind,
        reverse,
        has_bias: b_hh.is_some(),
        has_proj: w_hr.is_some(),
        has_c0: c0.is_some(),
        saved: Vec::new(),
    };
    let xpv = xp.value();
    let w_hh_t = w_hh.value();
    let b_hh_t = b_hh.map(|b| b.value());
    let w_hr_t = w_hr.map(|w| w.value());
    let (packed, cell) = cell.forward(
        &xpv,
        &h0.value(),
        c0.map(|c| c.value()).as_ref(),
        &w_hh_t,
        b_hh_t.as_ref(),
        w_hr_t.as_ref(),
    );
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
    let hn = seq.select(0, if reverse { 0 } else { t_len - 1 });
    let cn = (kind == CellKind::Lstm).then(|| {
        packed
            .narrow(0, seq_len, n * hidden)
            .reshape(&[n as isize, hidden as isize])
    });
    (seq, hn, cn)
}

/// What the backward of one time step needs.
struct Saved {
    h_prev: Tensor,
    /// Activated gates: RNN `[h]`, LSTM `[i, f, g, o, c_prev, tanh(c), m]`,
    /// GRU `[r, z, n, hn]`.
    acts: Vec<Tensor>,
}

/// The fused recurrence of one layer and direction (forward values and hand-written BPTT).
struct Cell {
    kind: CellKind,
    reverse: bool,
    has_bias: bool,
    has_proj: bool,
    has_c0: bool,
    /// One entry per processed step, in processing order.
    saved: Vec<Saved>,
}

fn one_minus(t: &Tensor) -> Tensor {
    t.neg().add_scalar(1.0)
}

/// `σ'(x)` from `σ(x)`: `s·(1−s)`.
fn dsigmoid(s: &Tensor) -> Tensor {
    s.mul(&one_minus(s))
}

/// `tanh'(x)` from `tanh(x)`: `1 − t²`.
fn dtanh(t: &Tensor) -> Tensor {
    one_minus(&t.square())
}

impl Cell {
    fn order(&self, t_len: usize) -> Vec<usize> {
        if self.reverse {
            (0..t_len).rev().collect()
        } else {
            (0..t_len).collect()
        }
    }

    /// Runs the recurrence; returns the packed output `[seq (T·N·H_out), c_n (N·H)]` and
    /// the cell with its saved activations.
    fn forward(
        mut self,
        xp: &Tensor,
        h0: &Tensor,
        c0: Option<&Tensor>,
        w_hh: &Tensor,
        b_hh: Option<&Tensor>,
        w_hr: Option<&Tensor>,
    ) -> (Tensor, Cell) {
        let t_len = xp.size(0);
        let hidden = w_hh.size(0) / self.kind.gates();
        let w_hh_t = w_hh.t();
        let w_hr_t = w_hr.map(|w| w.t());
        let mut h = h0.contiguous();
        let mut c = c0
            .map(|c| c.contiguous())
            .unwrap_or_else(|| Tensor::zeros(&[h0.size(0), hidden], h0.dtype()));
        let mut outs: Vec<Option<Tensor>> = vec![None; t_len];
        for t in self.order(t_len) {
            let x_t = xp.select(0, t);
            let mut hh = h.matmul(&w_hh_t);
            if let Some(b) = b_hh {
                hh = hh.add(b);
            }
            let h_prev = h;
            let acts = match self.kind {
                CellKind::RnnTanh => {
                    h = x_t.add(&hh).tanh();
                    vec![h.clone()]
                }
                CellKind::RnnRelu => {
                    h = x_t.add(&hh).relu();
                    vec![h.clone()]
                }
                CellKind::Lstm => {
                    let a = x_t.add(&hh);
                    let i = a.narrow(1, 0, hidden).sigmoid();
                    let f = a.narrow(1, hidden, hidden).sigmoid();
                    let g = a.narrow(1, 2 * hidden, hidden).tanh();
                    let o = a.narrow(1, 3 * hidden, hidden).sigmoid();
                    let c_prev = c;
                    c = f.mul(&c_prev).add(&i.mul(&g));
                    let tc = c.tanh();
                    let m = o.mul(&tc);
                    h = match &w_hr_t {
                        Some(w) => m.matmul(w),
                        None => m.clone(),
                    };
                    vec![i, f, g, o, c_prev, tc, m]
                }
                CellKind::Gru => {
                    let xr = x_t.narrow(1, 0, hidden);
                    let xz = x_t.narrow(1, hidden, hidden);
                    let xn = x_t.narrow(1, 2 * hidden, hidden);
                    let hn = hh.narrow(1, 2 * hidden, hidden);
                    let r = xr.add(&hh.narrow(1, 0, hidden)).sigmoid();
                    let z = xz.add(&hh.narrow(1, hidden, hidden)).sigmoid();
                    let nn = xn.add(&r.mul(&hn)).tanh();
                    // h = (1 - z) * n + z * h_prev = n + z * (h_prev - n)
                    h = nn.add(&z.mul(&h_prev.sub(&nn)));
                    vec![r, z, nn, hn.contiguous()]
                }
            };
            outs[t] = Some(h.clone());
            self.saved.push(Saved { h_prev, acts });
        }
        let outs: Vec<Tensor> = outs
            .into_iter()
            .map(|o| o.expect("every step ran"))
            .collect();
        let refs: Vec<&Tensor> = outs.iter().collect();
        let seq = Tensor::stack(&refs, 0).reshape(&[-1]);
        let packed = if self.kind == CellKind::Lstm {
            Tensor::cat(&[&seq, &c.reshape(&[-1])], 0)
        } else {
            seq
        };
        (packed, self)
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
        let xp = inputs[0];
        let h0 = inputs[1];
        let mut k = 2;
        let c0_in = if self.has_c0 {
            k += 1;
            Some(inputs[k - 1])
        } else {
            None
        };
        let w_hh = inputs[k];
        let w_hr = if self.has_proj {
            Some(inputs[k + 1 + usize::from(self.has_bias)])
        } else {
            None
        };
        let (t_len, n) = (xp.size(0), xp.size(1));
        let hidden = w_hh.size(0) / self.kind.gates();
        let out_size = h0.size(-1);
        let seq_len = t_len * n * out_size;
        let grad = grad.contiguous();
        let g_seq =
            grad.narrow(0, 0, seq_len)
                .reshape(&[t_len as isize, n as isize, out_size as isize]);
        let mut dc = (self.kind == CellKind::Lstm).then(|| {
            grad.narrow(0, seq_len, n * hidden)
                .reshape(&[n as isize, hidden as isize])
                .contiguous()
        });
        let mut dh = Tensor::zeros(&[n, out_size], xp.dtype());
        let order = self.order(t_len);
        let mut d_xp: Vec<Option<Tensor>> = vec![None; t_len];
        let mut d_hh_steps: Vec<Option<Tensor>> = vec![None; t_len];
        let mut h_prevs: Vec<Option<Tensor>> = vec![None; t_len];
        let mut d_hproj: Vec<Option<Tensor>> = vec![None; t_len];
        let mut ms: Vec<Option<Tensor>> = vec![None; t_len];
        for (s, &t) in order.iter().enumerate().rev() {
            let sv = &self.saved[s];
            let dh_t = g_seq.select(0, t).add(&dh);
            let (dgx, dgh) = match self.kind {
                CellKind::RnnTanh => {
                    let da = dh_t.mul(&dtanh(&sv.acts[0]));
                    (da.clone(), da)
                }
                CellKind::RnnRelu => {
                    let da = dh_t.mul(&sv.acts[0].gt_scalar(0.0).to_dtype(dh_t.dtype()));
                    (da.clone(), da)
                }
                CellKind::Lstm => {
                    let [i, f, g, o, c_prev, tc, m] = &sv.acts[..] else {
                        unreachable!("LSTM saves 7 tensors")
                    };
                    let dm = match w_hr {
                        Some(w) => {
                            d_hproj[t] = Some(dh_t.clone());
                            ms[t] = Some(m.clone());
                            dh_t.matmul(w)
                        }
                        None => dh_t,
                    };
                    let do_ = dm.mul(tc);
                    let dcc = dc
                        .take()
                        .expect("LSTM has a cell-state gradient")
                        .add(&dm.mul(o).mul(&dtanh(tc)));
                    let di = dcc.mul(g).mul(&dsigmoid(i));
                    let df = dcc.mul(c_prev).mul(&dsigmoid(f));
                    let dg = dcc.mul(i).mul(&dtanh(g));
                    let do_a = do_.mul(&dsigmoid(o));
                    dc = Some(dcc.mul(f));
                    let da = Tensor::cat(&[&di, &df, &dg, &do_a], 1);
                    (da.clone(), da)
                }
                CellKind::Gru => {
                    let [r, z, nn, hn] = &sv.acts[..] else {
                        unreachable!("GRU saves 4 tensors")
                    };
                    let dz = dh_t.mul(&sv.h_prev.sub(nn)).mul(&dsigmoid(z));
                    let dn = dh_t.mul(&one_minus(z)).mul(&dtanh(nn));
                    let dr = dn.mul(hn).mul(&dsigmoid(r));
                    let dhn = dn.mul(r);
                    let dgx = Tensor::cat(&[&dr, &dz, &dn], 1);
                    let dgh = Tensor::cat(&[&dr, &dz, &dhn], 1);
                    dh = dh_t.mul(z);
                    (dgx, dgh)
                }
            };
            let through = dgh.matmul(w_hh);
            dh = if self.kind == CellKind::Gru {
                dh.add(&through)
            } else {
                through
            };
            d_xp[t] = Some(dgx);
            d_hh_steps[t] = Some(dgh);
            h_prevs[t] = Some(sv.h_prev.clone());
        }
        let stack = |v: Vec<Option<Tensor>>| {
            let v: Vec<Tensor> = v.into_iter().map(|t| t.expect("every step ran")).collect();
            let refs: Vec<&Tensor> = v.iter().collect();
            Tensor::stack(&refs, 0)
        };
        let g = w_hh.size(0);
        let d_xp = stack(d_xp);
        let dgh_all = stack(d_hh_steps).reshape(&[(t_len * n) as isize, g as isize]);
        let hp_all = stack(h_prevs).reshape(&[(t_len * n) as isize, out_size as isize]);
        let d_w_hh = dgh_all.t().matmul(&hp_all);
        let mut grads = vec![Some(d_xp), Some(dh)];
        if self.has_c0 {
            grads.push(dc.clone());
        }
        let _ = c0_in;
        grads.push(Some(d_w_hh));
        if self.has_bias {
            grads.push(Some(dgh_all.sum_dims(&[0], false)));
        }
        if self.has_proj {
            let dh_all = stack(d_hproj).reshape(&[(t_len * n) as isize, out_size as isize]);
            let m_all = stack(ms).reshape(&[(t_len * n) as isize, hidden as isize]);
            grads.push(Some(dh_all.t().matmul(&m_all)));
        }
        grads
    }
}

/// `true` (serde default helper).
pub(crate) fn yes() -> bool {
    true
}
