//! Differentiable convolution, pooling and indexing on [`Var`] (the `torch.nn.functional`
//! spatial ops and `index_select` / `gather` / `scatter_add` / `embedding`), each with a `try_`
//! twin that returns the shape error instead of panicking.

use tuna_tensor::{
    AvgPool2dOptions, Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, MaxPool2dOptions,
    Result, Tensor, TensorError,
};

use crate::op::{ConvOptions, Op};
use crate::tape::Var;

impl<'t> Var<'t> {
    /// Records a convolution of `self` with `weight` and an optional `bias`, computed by `f`.
    fn try_conv(
        self,
        weight: Var<'t>,
        bias: Option<Var<'t>>,
        opts: ConvOptions,
        f: impl FnOnce(&Tensor, &Tensor, Option<&Tensor>) -> Result<Tensor>,
    ) -> Result<Var<'t>> {
        let v = {
            let n = self.tape.nodes.borrow();
            f(
                &n[self.id].value,
                &n[weight.id].value,
                bias.map(|b| &n[b.id].value),
            )?
        };
        let mut ids = vec![self.id, weight.id];
        ids.extend(bias.map(|b| b.id));
        let op = Op::Conv {
            input: self.id,
            weight: weight.id,
            bias: bias.map(|b| b.id),
            opts,
        };
        Ok(Var::record(self.tape, v, op, &ids))
    }

    /// 2-D convolution (`F.conv2d(input, weight, bias, stride, padding, dilation, groups)`) on
    /// `(N, C, H, W)` or `(C, H, W)` input with a `(C_out, C/groups, kH, kW)` weight.
    ///
    /// # Panics
    /// Where [`Var::try_conv2d`] returns an error (the message names both shapes).
    #[track_caller]
    pub fn conv2d(self, weight: Var<'t>, bias: Option<Var<'t>>, opts: &Conv2dOptions) -> Var<'t> {
        crate::or_panic(self.try_conv2d(weight, bias, opts))
    }

    /// Fallible [`Var::conv2d`].
    ///
    /// # Errors
    /// If the shapes, options or dtypes are inconsistent.
    pub fn try_conv2d(
        self,
        weight: Var<'t>,
        bias: Option<Var<'t>>,
        opts: &Conv2dOptions,
    ) -> Result<Var<'t>> {
        let f = |x: &Tensor, w: &Tensor, b: Option<&Tensor>| x.try_conv2d(w, b, opts);
        self.try_conv(weight, bias, ConvOptions::D2(opts.clone()), f)
    }

    /// 1-D convolution (`F.conv1d`) on `(N, C, L)` or `(C, L)` input.
    ///
    /// # Panics
    /// Where [`Var::try_conv1d`] returns an error.
    #[track_caller]
    pub fn conv1d(self, weight: Var<'t>, bias: Option<Var<'t>>, opts: &Conv1dOptions) -> Var<'t> {
        crate::or_panic(self.try_conv1d(weight, bias, opts))
    }

    /// Fallible [`Var::conv1d`].
    ///
    /// # Errors
    /// If the shapes, options or dtypes are inconsistent.
    pub fn try_conv1d(
        self,
        weight: Var<'t>,
        bias: Option<Var<'t>>,
        opts: &Conv1dOptions,
    ) -> Result<Var<'t>> {
        let f = |x: &Tensor, w: &Tensor, b: Option<&Tensor>| x.try_conv1d(w, b, opts);
        self.try_conv(weight, bias, ConvOptions::D1(opts.clone()), f)
    }

    /// Transposed 2-D convolution (`F.conv_transpose2d`) with a `(C_in, C_out/groups, kH, kW)`
    /// weight.
    ///
    /// # Panics
    /// Where [`Var::try_conv_transpose2d`] returns an error.
    #[track_caller]
    pub fn conv_transpose2d(
        self,
        weight: Var<'t>,
        bias: Option<Var<'t>>,
        opts: &ConvTranspose2dOptions,
    ) -> Var<'t> {
        crate::or_panic(self.try_conv_transpose2d(weight, bias, opts))
    }

    /// Fallible [`Var::conv_transpose2d`].
    ///
    /// # Errors
    /// If the shapes, options or dtypes are inconsistent.
    pub fn try_conv_transpose2d(
        self,
        weight: Var<'t>,
        bias: Option<Var<'t>>,
        opts: &ConvTranspose2dOptions,
    ) -> Result<Var<'t>> {
        let f = |x: &Tensor, w: &Tensor, b: Option<&Tensor>| x.try_conv_transpose2d(w, b, opts);
        self.try_conv(weight, bias, ConvOptions::Transpose2d(opts.clone()), f)
    }

    /// 2-D max pooling (`F.max_pool2d`); the gradient goes to each window's (first) maximum.
    ///
    /// # Panics
    /// Where [`Var::try_max_pool2d`] returns an error.
    #[track_caller]
    pub fn max_pool2d(self, opts: &MaxPool2dOptions) -> Var<'t> {
        self.max_pool2d_with_indices(opts).0
    }

    /// Fallible [`Var::max_pool2d`].
    ///
    /// # Errors
    /// If the options do not fit the input.
    pub fn try_max_pool2d(self, opts: &MaxPool2dOptions) -> Result<Var<'t>> {
        Ok(self.try_max_pool2d_with_indices(opts)?.0)
    }

    /// 2-D max pooling returning also the i64 indices (`F.max_pool2d(..., return_indices=True)`),
    /// flat `h*W + w` within each plane.
    ///
    /// # Panics
    /// Where [`Var::try_max_pool2d_with_indices`] returns an error.
    #[track_caller]
    pub fn max_pool2d_with_indices(self, opts: &MaxPool2dOptions) -> (Var<'t>, Tensor) {
        crate::or_panic(self.try_max_pool2d_with_indices(opts))
    }

    /// Fallible [`Var::max_pool2d_with_indices`].
    ///
    /// # Errors
    /// If the options do not fit the input.
    pub fn try_max_pool2d_with_indices(self, opts: &MaxPool2dOptions) -> Result<(Var<'t>, Tensor)> {
        let (v, idx) = self.tape.nodes.borrow()[self.id]
            .value
            .try_max_pool2d_with_indices(opts)?;
        let op = Op::MaxPool2d(self.id, idx.clone());
        Ok((Var::record(self.tape, v, op, &[self.id]), idx))
    }

    /// 2-D average pooling (`F.avg_pool2d`).
    ///
    /// # Panics
    /// Where [`Var::try_avg_pool2d`] returns an error.
    #[track_caller]
    pub fn avg_pool2d(self, opts: &AvgPool2dOptions) -> Var<'t> {
        crate::or_panic(self.try_avg_pool2d(opts))
    }

    /// Fallible [`Var::avg_pool2d`].
    ///
    /// # Errors
    /// If the options do not fit the input.
    pub fn try_avg_pool2d(self, opts: &AvgPool2dOptions) -> Result<Var<'t>> {
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .try_avg_pool2d(opts)?;
        let op = Op::AvgPool2d(self.id, opts.clone());
        Ok(Var::record(self.tape, v, op, &[self.id]))
    }

    /// Adaptive 2-D average pooling to `output_size` (`F.adaptive_avg_pool2d`).
    ///
    /// # Panics
    /// Where [`Var::try_adaptive_avg_pool2d`] returns an error.
    #[track_caller]
    pub fn adaptive_avg_pool2d(self, output_size: [usize; 2]) -> Var<'t> {
        crate::or_panic(self.try_adaptive_avg_pool2d(output_size))
    }

    /// Fallible [`Var::adaptive_avg_pool2d`].
    ///
    /// # Errors
    /// If the input is not 3-D or 4-D or an output size is 0.
    pub fn try_adaptive_avg_pool2d(self, output_size: [usize; 2]) -> Result<Var<'t>> {
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .try_adaptive_avg_pool2d(output_size)?;
        Ok(Var::record(
            self.tape,
            v,
            Op::AdaptiveAvgPool2d(self.id),
            &[self.id],
        ))
    }

    /// Rows (or slices along `dim`) picked by an i64 `index` (`torch.index_select`);
    /// repeated indices accumulate their gradients.
    ///
    /// # Panics
    /// Where [`Var::try_index_select`] returns an error.
    #[track_caller]
    pub fn index_select(self, dim: isize, index: &Tensor) -> Var<'t> {
        crate::or_panic(self.try_index_select(dim, index))
    }

    /// Fallible [`Var::index_select`].
    ///
    /// # Errors
    /// If `dim` or an index is out of range, or the index is not i64.
    pub fn try_index_select(self, dim: isize, index: &Tensor) -> Result<Var<'t>> {
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .try_index_select(dim, index)?;
        let op = Op::IndexSelect {
            arg: self.id,
            dim,
            index: index.clone(),
        };
        Ok(Var::record(self.tape, v, op, &[self.id]))
    }

    /// `out[i][j] = input[i][index[i][j]]` along `dim` (`torch.gather`).
    ///
    /// # Panics
    /// Where [`Var::try_gather`] returns an error.
    #[track_caller]
    pub fn gather(self, dim: isize, index: &Tensor) -> Var<'t> {
        crate::or_panic(self.try_gather(dim, index))
    }

    /// Fallible [`Var::gather`].
    ///
    /// # Errors
    /// If an index is out of range or the shapes do not fit.
    pub fn try_gather(self, dim: isize, index: &Tensor) -> Result<Var<'t>> {
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .try_gather(dim, index)?;
        let op = Op::Gather {
            arg: self.id,
            dim,
            index: index.clone(),
        };
        Ok(Var::record(self.tape, v, op, &[self.id]))
    }

    /// A copy of this tensor with `src` added at `index` along `dim`
    /// (`torch.scatter_add`); differentiable in both the input and `src`.
    ///
    /// # Panics
    /// Where [`Var::try_scatter_add`] returns an error.
    #[track_caller]
    pub fn scatter_add(self, dim: isize, index: &Tensor, src: Var<'t>) -> Var<'t> {
        crate::or_panic(self.try_scatter_add(dim, index, src))
    }

    /// Fallible [`Var::scatter_add`].
    ///
    /// # Errors
    /// If an index is out of range or the shapes do not fit.
    pub fn try_scatter_add(self, dim: isize, index: &Tensor, src: Var<'t>) -> Result<Var<'t>> {
        let v = {
            let n = self.tape.nodes.borrow();
            n[self.id]
                .value
                .try_scatter_add(dim, index, &n[src.id].value)?
        };
        let op = Op::ScatterAdd {
            arg: self.id,
            src: src.id,
            dim,
            index: index.clone(),
        };
        Ok(Var::record(self.tape, v, op, &[self.id, src.id]))
    }

    /// Looks up rows of this `(num_embeddings, dim)` weight by i64 `indices` of any shape,
    /// giving `indices.shape + [dim]` (`F.embedding(indices, weight, padding_idx,
    /// scale_grad_by_freq=...)`). The `padding_idx` row gets no gradient; with
    /// `scale_grad_by_freq` each row's gradient is divided by how often it occurs in `indices`.
    ///
    /// # Panics
    /// Where [`Var::try_embedding`] returns an error.
    #[track_caller]
    pub fn embedding(
        self,
        indices: &Tensor,
        padding_idx: Option<i64>,
        scale_grad_by_freq: bool,
    ) -> Var<'t> {
        crate::or_panic(self.try_embedding(indices, padding_idx, scale_grad_by_freq))
    }

    /// Fallible [`Var::embedding`].
    ///
    /// # Errors
    /// If the weight is not 2-D, or an index is out of range or not i64.
    pub fn try_embedding(
        self,
        indices: &Tensor,
        padding_idx: Option<i64>,
        scale_grad_by_freq: bool,
    ) -> Result<Var<'t>> {
        let shape = self.shape();
        if shape.len() != 2 {
            return Err(TensorError::invalid(
                "embedding",
                format!("weight must be 2-D, got shape {shape:?}"),
            ));
        }
        let n = shape[0] as i64;
        let padding_idx = padding_idx.map(|p| if p < 0 { p + n } else { p });
        let flat = indices.try_reshape(&[-1])?;
        let v = self.tape.nodes.borrow()[self.id]
            .value
            .try_index_select(0, &flat)?;
        let mut out_shape = indices.shape().to_vec();
        out_shape.push(shape[1]);
        let op = Op::Embedding {
            weight: self.id,
            indices: flat.contiguous(),
            padding_idx,
            scale_grad_by_freq,
        };
        Ok(Var::record(
            self.tape,
            v.reshape_to(&out_shape),
            op,
            &[self.id],
        ))
    }
}
