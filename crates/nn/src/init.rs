//! Parameter initialization (`torch.nn.init`), every function drawing from a seeded
//! [`Generator`] so a model is reproducible from its seed.

use tuna_tensor::{DType, Generator, Tensor};

/// `fan_in` and `fan_out` of a weight shape, as PyTorch computes them: for `[out, in, k...]`,
/// `fan_in = in·Πk` and `fan_out = out·Πk`; a 1-D shape has `fan_in = fan_out = len`.
///
/// # Panics
/// For a 0-d shape (PyTorch raises too).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    assert!(
        !shape.is_empty(),
        "fan in and fan out can not be computed for a 0-d tensor"
    );
    if shape.len() == 1 {
        return (shape[0], shape[0]);
    }
    let receptive: usize = shape[2..].iter().product();
    (shape[1] * receptive, shape[0] * receptive)
}

/// Which fan a Kaiming initialization preserves (`mode` of `kaiming_uniform_`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    /// Preserve the variance of activations in the forward pass (PyTorch default).
    #[default]
    FanIn,
    /// Preserve the variance of gradients in the backward pass.
    FanOut,
}

/// The recommended gain for a nonlinearity (`torch.nn.init.calculate_gain`): linear/conv/
/// sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1+slope²)) (slope defaults to 0.01), selu 3/4.
///
/// # Panics
/// For an unknown nonlinearity name.
pub fn calculate_gain(nonlinearity: &str, param: Option<f64>) -> f64 {
    match nonlinearity {
        "linear" | "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d" | "conv_transpose2d"
        | "conv_transpose3d" | "sigmoid" => 1.0,
        "tanh" => 5.0 / 3.0,
        "relu" => 2f64.sqrt(),
        "leaky_relu" => {
            let slope = param.unwrap_or(0.01);
            (2.0 / (1.0 + slope * slope)).sqrt()
        }
        "selu" => 0.75,
        other => panic!("calculate_gain: unsupported nonlinearity {other}"),
    }
}

/// Values from U(low, high) (`init.uniform_`).
pub fn uniform(shape: &[usize], low: f64, high: f64, dtype: DType, gen: &mut Generator) -> Tensor {
    Tensor::uniform(shape, low, high, dtype, gen)
}

/// Values from N(mean, std²) (`init.normal_`).
pub fn normal(shape: &[usize], mean: f64, std: f64, dtype: DType, gen: &mut Generator) -> Tensor {
    Tensor::normal(shape, mean, std, dtype, gen)
}

/// A constant tensor (`init.constant_`, `zeros_`, `ones_`).
pub fn constant(shape: &[usize], value: f64, dtype: DType) -> Tensor {
    Tensor::full(shape, value, dtype)
}

/// Glorot/Xavier uniform: U(-b, b) with `b = gain·√(6/(fan_in+fan_out))` (`init.xavier_uniform_`).
pub fn xavier_uniform(shape: &[usize], gain: f64, dtype: DType, gen: &mut Generator) -> Tensor {
    let (fi, fo) = fans(shape);
    let b = gain * (6.0 / (fi + fo) as f64).sqrt();
    uniform(shape, -b, b, dtype, gen)
}

/// Glorot/Xavier normal: N(0, σ²) with `σ = gain·√(2/(fan_in+fan_out))` (`init.xavier_normal_`).
pub fn xavier_normal(shape: &[usize], gain: f64, dtype: DType, gen: &mut Generator) -> Tensor {
    let (fi, fo) = fans(shape);
    normal(
        shape,
        0.0,
        gain * (2.0 / (fi + fo) as f64).sqrt(),
        dtype,
        gen,
    )
}

fn kaiming_std(shape: &[usize], a: f64, mode: FanMode, nonlinearity: &str) -> f64 {
    let (fi, fo) = fans(shape);
    let fan = match mode {
        FanMode::FanIn => fi,
        FanMode::FanOut => fo,
    };
    calculate_gain(nonlinearity, Some(a)) / (fan as f64).sqrt()
}

/// He/Kaiming uniform: U(-b, b) with `b = gain·√(3/fan)` (`init.kaiming_uniform_(w, a, mode,
/// nonlinearity)`). `a` is the leaky-ReLU slope used when `nonlinearity = "leaky_relu"`.
pub fn kaiming_uniform(
    shape: &[usize],
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
    dtype: DType,
    gen: &mut Generator,
) -> Tensor {
    let b = 3f64.sqrt() * kaiming_std(shape, a, mode, nonlinearity);
    uniform(shape, -b, b, dtype, gen)
}

/// He/Kaiming normal: N(0, (gain/√fan)²) (`init.kaiming_normal_`).
pub fn kaiming_normal(
    shape: &[usize],
    a: f64,
    mode: FanMode,
    nonlinearity: &str,
    dtype: DType,
    gen: &mut Generator,
) -> Tensor {
    normal(
        shape,
        0.0,
        kaiming_std(shape, a, mode, nonlinearity),
        dtype,
        gen,
    )
}

/// Normal N(mean, std²) truncated to `[a, b]` by redrawing (`init.trunc_normal_`).
pub fn trunc_normal(
    shape: &[usize],
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
    dtype: DType,
    gen: &mut Generator,
) -> Tensor {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let draw = Tensor::normal(&[n - out.len()], mean, std, DType::F64, gen).to_vec::<f64>();
        out.extend(draw.into_iter().filter(|v| (a..=b).contains(v)));
    }
    Tensor::from_vec(out, shape).to_dtype(dtype)
}

/// A (semi-)orthogonal matrix scaled by `gain` (`init.orthogonal_`, Saxe et al. 2013): the
/// weight is viewed as `[shape[0], Π shape[1..]]`, a Gaussian matrix is drawn, and the Q of
/// its QR decomposition (signs fixed so R has a positive diagonal) fills it. Rows are
/// orthonormal when there are fewer rows than columns, columns otherwise.
///
/// # Panics
/// For a shape with fewer than 2 dims (PyTorch raises too).
pub fn orthogonal(shape: &[usize], gain: f64, dtype: DType, gen: &mut Generator) -> Tensor {
    assert!(
        shape.len() >= 2,
        "orthogonal: only tensors with 2 or more dimensions are supported, got {shape:?}"
    );
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    // Q of an (m x n) Gaussian matrix with m >= n, by modified Gram-Schmidt on its columns
    let (m, n) = if rows < cols {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let a = Tensor::normal(&[m, n], 0.0, 1.0, DType::F64, gen).to_vec::<f64>();
    let mut q = vec![0.0f64; m * n];
    for j in 0..n {
        let mut v: Vec<f64> = (0..m).map(|i| a[i * n + j]).collect();
        for k in 0..j {
            let dot: f64 = (0..m).map(|i| q[i * n + k] * v[i]).sum();
            for i in 0..m {
                v[i] -= dot * q[i * n + k];
            }
        }
        // R's diagonal entry is the norm, positive by construction: the sign fix is implicit
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for i in 0..m {
            q[i * n + j] = v[i] / norm;
        }
    }
    let q = Tensor::from_vec(q, &[m, n]);
    let q = if rows < cols { q.t().contiguous() } else { q };
    q.mul_scalar(gain).reshape_to(shape).to_dtype(dtype)
}

/// PyTorch's default for Linear and Conv weights: `kaiming_uniform_(w, a=√5)`, i.e.
/// U(-1/√fan_in, 1/√fan_in).
pub fn default_weight(shape: &[usize], dtype: DType, gen: &mut Generator) -> Tensor {
    kaiming_uniform(shape, 5f64.sqrt(), FanMode::FanIn, "leaky_relu", dtype, gen)
}

/// PyTorch's default for Linear and Conv biases: U(-1/√fan_in, 1/√fan_in) of the weight's fan_in.
pub fn default_bias(len: usize, fan_in: usize, dtype: DType, gen: &mut Generator) -> Tensor {
    let b = if fan_in > 0 {
        1.0 / (fan_in as f64).sqrt()
    } else {
        0.0
    };
    uniform(&[len], -b, b, dtype, gen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_and_gains_match_pytorch() {
        assert_eq!(fans(&[16, 8, 5, 5]), (200, 400));
        assert_eq!(fans(&[10, 256]), (256, 10));
        assert!(
            (calculate_gain("leaky_relu", Some(5f64.sqrt())) - (1.0f64 / 3.0).sqrt()).abs() < 1e-15
        );
        assert_eq!(calculate_gain("tanh", None), 5.0 / 3.0);
    }

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        let mut g = Generator::new(3);
        for shape in [[4usize, 6], [6, 4], [5, 5]] {
            let w = orthogonal(&shape, 2.0, DType::F64, &mut g);
            let gram = if shape[0] <= shape[1] {
                w.matmul(&w.t())
            } else {
                w.t().matmul(&w)
            };
            let k = shape[0].min(shape[1]);
            let eye = Tensor::eye(k, None, DType::F64).mul_scalar(4.0);
            assert!(gram.allclose(&eye, 0.0, 1e-10), "{shape:?}");
        }
        let conv = orthogonal(&[8, 2, 3, 3], 1.0, DType::F32, &mut g);
        assert_eq!(conv.shape(), &[8, 2, 3, 3]);
    }

    #[test]
    fn default_linear_init_bound_is_one_over_sqrt_fan_in() {
        let mut g = Generator::new(0);
        let w = default_weight(&[64, 100], DType::F64, &mut g).to_vec::<f64>();
        let max = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(max <= 0.1 && max > 0.095, "{max}");
        let t = trunc_normal(&[1000], 0.0, 1.0, -0.5, 0.5, DType::F32, &mut g).to_vec::<f32>();
        assert!(t.iter().all(|v| v.abs() <= 0.5));
    }
}
