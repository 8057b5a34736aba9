//! Differentiable convolution, pooling and indexing on [`Var`] (the `torch.nn.functional`
//! spatial ops and `index_select` / `gather` / `scatter_add` / `embedding`).

use tuna_tensor::{
    AvgPool2dOptions, Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, MaxPool2dOptions,
    Tensor,
};

use crate::op::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    fn inputs3(self, w: Var<'t>, b: Option<Var<'t>>) -> Vec<usize> {
        let mut ids = vec![self.id, w.id];
        ids.extend(b.map(|b| b.id));
        ids
    }

    /// 2-D convolution (`F.conv2d(input, weight, bias, stride, padding, dilation, groups)`) on
    /// `(N, C, H, W)` or `(C, H, W)` input with a `(C_out, C/groups, kH, kW)` weight.
    ///
    /// # Panics
    /// If the shapes or options are inconsistent (message names both shapes).
    #[track_caller]
    pub fn conv2d(self, weight: Var<'t>, bias: Option<Var<'t>>, opts: &Conv2dOptions) -> Var<'t> {
        let v = {
            let n = self.tape.nodes.borrow();
            n[self.id]
                .value
                .conv2d(&n[weight.id].value, bias.map(|b| &n[b.id].value), opts)
        };
        let ids = self.inputs3(weight, bias);
        Var::record(
            self.tape,
            v,
            Op::Conv2d(self.id, weight.id, bias.map(|b| b.id), opts.clone()),
            &ids,
        )
    }

    /// 1-D convolution (`F.conv1d`) on `(N, C, L)` or `(C, L)` input.
    ///
    /// # Panics
    /// If the shapes or options are inconsistent.
    #[track_caller]
    pub fn conv1d(self, weight: Var<'t>, bias: Option<Var<'t>>, opts: &Conv1dOptions) -> Var<'t> {
        let v = {
            let n = self.tape.nodes.borrow();
            n[self.id]
                .value
                .conv1d(&n[weight.id].value, bias.map(|b| &n[b.id].value), opts)
        };
        let ids = self.inputs3(weight, bias);
        Var::record(
            self.tape,
            v,
            Op::Conv1d(self.id, weight.id, bias.map(|b| b.id), opts.clone()),
            &ids,
        )
    }

    /// Transposed 2-D convolution (`F.conv_transpose2d`) with a `(C_in, C_out/groups, kH, kW)`
    /// weight.
    ///
    /// # Panics
    /// If the shapes or options are inconsistent.
    #[track_caller]
    pub fn conv_transpose2d(
        self,
        weight: Var<'t>,
        bias: Option<Var<'t>>,
        opts: &ConvTranspose2dOptions,
    ) -> Var<'t> {
        let v = {
            let n = self.tape.nodes.borrow();
            n[self.id].value.conv_transpose2d(
                &n[weight.id].value,
                bias.map(|b| &n[b.id].value),
                opts,
            )
        };
        let ids = self.inputs3(weight, bias);
        Var::record(
            self.tape,
            v,
            Op::ConvTranspose2d(self.id, weight.id, bias.map(|b| b.id), opts.clone()),
            &ids,
        )
    }

    /// 2-D max pooling (`F.max_pool2d`); the gradient goes to each window's (first) maximum.
    ///
    /// # Panics
    /// If the options do not fit the input.
    #[track_caller]
    pub fn max_pool2d(self, opts: &MaxPool2dOptions) -> Var<'t> {
        self.max_pool2d_with_indices(opts).0
    }

    /// 2-D max pooling returning also the i64 indices (`F.max_pool2d(..., return_indices=True)`),
    /// flat `h*W + w` within each plane.
    ///
    /// # Panics
    /// If the options do not fit the input.
    #[track_caller]
    pub fn max_pool2d_with_indices(self, opts: &MaxPool2dOptions) -> (Var<'t>, Tensor) {
        let (v, idx) = self.tape.nodes.borrow()[self.id]
            .value
            .max_pool2d_with_indices(opts);
        let var = Var::record(
            self.tape,
            v,
            Op::MaxPool2d(self.id, idx.clone()),
            &[self.id],
        );
        (var, idx)
    }

    /// 2-D average pooling (`F.avg_pool2d`).
    ///
    /// # Panics
    /// If the options do not fit the input.
    #[track_caller]
    pub fn avg_pool2d(self, opts: &AvgPool2dOptions) -> Var<'t> {
        let v = self.tape.nodes.borrow()[self.id].value.avg_pool2d(opts);
        Var::record(
            self.tape,
            v,
            Op::AvgPool2d(self.id, opts.clone()),
            &[self.id],
        )
    }

    /// Adaptive 2-D average pooling to `output_size` (`F.adaptive_avg_pool2d`).
    ///
    /// # Panics
    /// If the input is not 3-D or 4-D or an output size is 0.
    #[track_caller]
    pub fn adaptive_avg_pool2d(self, output_size: [usize; 2]) -> Var<'t> {
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .adaptive_avg_pool2d(output_size);
        Var::record(self.tape, v, Op::AdaptiveAvgPool2d(self.id), &[self.id])
    }

    /// Rows (or slices along `dim`) picked by an i64 `index` (`torch.index_select`);
    /// repeated indices accumulate their gradients.
    ///
    /// # Panics
    /// If an index is out of range or not i64.
    #[track_caller]
    pub fn index_select(self, dim: isize, index: &Tensor) -> Var<'t> {
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .index_select(dim, index);
        Var::record(
            self.tape,
            v,
            Op::IndexSelect(self.id, dim, index.clone()),
            &[self.id],
        )
    }

    /// `out[i][j] = input[i][index[i][j]]` along `dim` (`torch.gather`).
    ///
    /// # Panics
    /// If an index is out of range or the shapes do not fit.
    #[track_caller]
    pub fn gather(self, dim: isize, index: &Tensor) -> Var<'t> {
        let v = self.tape.nodes.borrow()[self.id].value.gather(dim, index);
        Var::record(
            self.tape,
            v,
            Op::Gather(self.id, dim, index.clone()),
            &[self.id],
        )
    }

    /// A copy of this tensor with `src` added at `index` along `dim`
    /// (`torch.scatter_add`); differentiable in both the input and `src`.
    ///
    /// # Panics
    /// If an index is out of range or the shapes do not fit.
    #[track_caller]
    pub fn scatter_add(self, dim: isize, index: &Tensor, src: Var<'t>) -> Var<'t> {
        let v = {
            let n = self.tape.nodes.borrow();
            n[self.id].value.scatter_add(dim, index, &n[src.id].value)
        };
        Var::record(
            self.tape,
            v,
            Op::ScatterAdd(self.id, src.id, dim, index.clone()),
            &[self.id, src.id],
        )
    }

    /// Looks up rows of this `(num_embeddings, dim)` weight by i64 `indices` of any shape,
    /// giving `indices.shape + [dim]` (`F.embedding(indices, weight, padding_idx,
    /// scale_grad_by_freq=...)`). The `padding_idx` row gets no gradient; with
    /// `scale_grad_by_freq` each row's gradient is divided by how often it occurs in `indices`.
    ///
    /// # Panics
    /// If an index is out of range or the weight is not 2-D.
    #[track_caller]
    pub fn embedding(
        self,
        indices: &Tensor,
        padding_idx: Option<i64>,
        scale_grad_by_freq: bool,
    ) -> Var<'t> {
        let shape = self.shape();
        assert_eq!(
            shape.len(),
            2,
            "embedding: weight must be 2-D, got shape {shape:?}"
        );
        let n = shape[0] as i64;
        let padding_idx = padding_idx.map(|p| if p < 0 { p + n } else { p });
        let flat = indices.reshape(&[-1]);
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .index_select(0, &flat);
        let mut out_shape = indices.shape().to_vec();
        out_shape.push(shape[1]);
        let v = v.reshape_to(&out_shape);
        Var::record(
            self.tape,
            v,
            Op::Embedding(self.id, flat.contiguous(), padding_idx, scale_grad_by_freq),
            &[self.id],
        )
    }
}
