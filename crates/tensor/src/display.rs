//! Printing tensors exactly as PyTorch's `repr` does (`torch/_tensor_str.py` with the default
//! print options: `precision=4`, `threshold=1000`, `edgeitems=3`, `linewidth=80`).
//!
//! * Floats whose shown values are all integers print as `1.`, `-2.` ("int mode"); otherwise
//!   with 4 decimals, or in scientific notation (`1.0000e+08`) when the largest shown nonzero
//!   magnitude exceeds `1e8`, is more than 1000 times the smallest, or (outside int mode) the
//!   smallest is below `1e-4`. Columns are right-aligned to the widest shown value.
//! * `i64` prints plainly, `bool` as `True`/`False`.
//! * Tensors of more than 1000 elements show the first and last 3 entries of every dimension
//!   longer than 6, with `...` in between.
//! * A `dtype=torch.float64` suffix follows for `f64` (`f32`, `i64` and `bool` are implied by
//!   the values, as in PyTorch); empty tensors state their size and non-`f32` dtype.
//!
//! `format!("{:.2}", t)` changes the precision, like `torch.set_printoptions(precision=2)`.

use std::fmt;

use crate::dtype::DType;
use crate::tensor::Tensor;

const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const LINE_WIDTH: usize = 80;
const DEFAULT_PRECISION: usize = 4;

/// One element, converted for printing (`f32` widens exactly to `f64`).
#[derive(Clone, Copy)]
enum Value {
    Float(f64),
    Int(i64),
    Bool(bool),
}

/// Python's `f"{v:.{p}f}"`.
fn py_fixed(v: f64, precision: usize) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:.precision$}")
    }
}

/// Python's `f"{v:.{p}e}"`: the exponent has a sign and at least two digits.
fn py_sci(v: f64, precision: usize) -> String {
    if !v.is_finite() {
        return py_fixed(v, precision);
    }
    let s = format!("{v:.precision$e}");
    let (mantissa, exp) = s.split_once('e').expect("`{:e}` output has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

/// PyTorch's `_Formatter`: decides the style from the values that will be shown.
struct Formatter {
    int_mode: bool,
    sci_mode: bool,
    width: usize,
    precision: usize,
}

impl Formatter {
    fn new(values: &[Value], precision: usize) -> Self {
        let mut f = Formatter {
            int_mode: true,
            sci_mode: false,
            width: 1,
            precision,
        };
        let floats: Vec<f64> = values
            .iter()
            .filter_map(|v| match *v {
                Value::Float(x) => Some(x),
                _ => None,
            })
            .collect();
        if floats.len() < values.len() || values.is_empty() {
            // integers and booleans: plain, right-aligned
            for &v in values {
                f.width = f.width.max(f.plain(v).len());
            }
            return f;
        }
        let nonzero: Vec<f64> = floats
            .into_iter()
            .filter(|x| x.is_finite() && *x != 0.0)
            .collect();
        if nonzero.is_empty() {
            return f;
        }
        let min = nonzero.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()));
        let max = nonzero.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        f.int_mode = nonzero.iter().all(|x| *x == x.ceil());
        let wide = max / min > 1000.0 || max > 1.0e8;
        f.sci_mode = if f.int_mode {
            wide
        } else {
            wide || min < 1.0e-4
        };
        for &x in &nonzero {
            let len = if f.sci_mode {
                py_sci(x, precision).len()
            } else if f.int_mode {
                py_fixed(x, 0).len() + 1
            } else {
                py_fixed(x, precision).len()
            };
            f.width = f.width.max(len);
        }
        f
    }

    fn plain(&self, v: Value) -> String {
        match v {
            Value::Float(x) => py_fixed(x, self.precision),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => if b { "True" } else { "False" }.into(),
        }
    }

    fn format(&self, v: Value) -> String {
        let s = match v {
            Value::Float(x) if self.sci_mode => py_sci(x, self.precision),
            Value::Float(x) if self.int_mode => {
                let mut s = py_fixed(x, 0);
                if x.is_finite() {
                    s.push('.');
                }
                s
            }
            other => self.plain(other),
        };
        format!("{s:>width$}", width = self.width)
    }
}

/// Row-major access to a tensor's elements as [`Value`]s.
struct Elements {
    tensor: Tensor,
}

impl Elements {
    fn new(t: &Tensor) -> Self {
        Elements {
            tensor: t.contiguous(),
        }
    }

    fn get(&self, flat: usize) -> Value {
        let t = &self.tensor;
        match t.dtype() {
            DType::F32 => Value::Float(t.as_slice::<f32>().expect("contiguous")[flat] as f64),
            DType::F64 => Value::Float(t.as_slice::<f64>().expect("contiguous")[flat]),
            DType::I64 => Value::Int(t.as_slice::<i64>().expect("contiguous")[flat]),
            DType::Bool => Value::Bool(t.as_slice::<bool>().expect("contiguous")[flat]),
        }
    }
}

/// The indices of `0..n` that are printed: all of them, or the edges when summarizing.
fn shown(n: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE_ITEMS..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    }
}

/// Collects the printed elements in order (PyTorch's `get_summarized_data`).
fn collect_shown(
    el: &Elements,
    shape: &[usize],
    base: usize,
    summarize: bool,
    out: &mut Vec<Value>,
) {
    if shape.is_empty() {
        out.push(el.get(base));
        return;
    }
    let inner: usize = shape[1..].iter().product();
    for i in shown(shape[0], summarize).into_iter().flatten() {
        collect_shown(el, &shape[1..], base + i * inner, summarize, out);
    }
}

/// PyTorch's `_tensor_str_with_formatter` (and `_vector_str` / `_scalar_str`).
fn tensor_str(
    el: &Elements,
    fmt: &Formatter,
    shape: &[usize],
    base: usize,
    indent: usize,
    summarize: bool,
) -> String {
    match shape.len() {
        0 => fmt.format(el.get(base)),
        1 => {
            let per_line = ((LINE_WIDTH.saturating_sub(indent)) / (fmt.width + 2)).max(1);
            let items: Vec<String> = shown(shape[0], summarize)
                .into_iter()
                .map(|i| match i {
                    Some(i) => fmt.format(el.get(base + i)),
                    None => " ...".to_string(),
                })
                .collect();
            let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
            format!(
                "[{}]",
                lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
            )
        }
        rank => {
            let inner: usize = shape[1..].iter().product();
            let slices: Vec<String> = shown(shape[0], summarize)
                .into_iter()
                .map(|i| match i {
                    Some(i) => tensor_str(
                        el,
                        fmt,
                        &shape[1..],
                        base + i * inner,
                        indent + 1,
                        summarize,
                    ),
                    None => "...".to_string(),
                })
                .collect();
            let sep = format!(",{}{}", "\n".repeat(rank - 1), " ".repeat(indent + 1));
            format!("[{}]", slices.join(&sep))
        }
    }
}

/// PyTorch's `_add_suffixes`: `, suffix` on the last line, or on a new line if it would pass
/// the line width.
fn add_suffixes(body: String, suffixes: &[String], indent: usize) -> String {
    let mut out = body;
    let mut last_line_len = match out.rfind('\n') {
        Some(p) => out[p..].chars().count() + 1,
        None => out.chars().count() + 2,
    };
    for s in suffixes {
        let len = s.chars().count();
        if last_line_len + len + 2 > LINE_WIDTH {
            out.push_str(&format!(",\n{}{s}", " ".repeat(indent)));
            last_line_len = indent + len;
        } else {
            out.push_str(&format!(", {s}"));
            last_line_len += len + 2;
        }
    }
    out.push(')');
    out
}

/// The PyTorch `repr` of `t` with `precision` decimals.
fn repr(t: &Tensor, precision: usize) -> String {
    const PREFIX: &str = "tensor(";
    let indent = PREFIX.len();
    let mut suffixes = Vec::new();
    let body = if t.numel() == 0 {
        if t.rank() != 1 {
            let dims: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
            suffixes.push(format!("size=({})", dims.join(", ")));
        }
        if t.dtype() != DType::F32 {
            suffixes.push(format!("dtype={}", t.dtype().torch_name()));
        }
        "[]".to_string()
    } else {
        if t.dtype() == DType::F64 {
            suffixes.push(format!("dtype={}", t.dtype().torch_name()));
        }
        let summarize = t.numel() > THRESHOLD;
        let el = Elements::new(t);
        let mut values = Vec::new();
        collect_shown(&el, t.shape(), 0, summarize, &mut values);
        let fmt = Formatter::new(&values, precision);
        tensor_str(&el, &fmt, t.shape(), 0, indent, summarize)
    };
    add_suffixes(format!("{PREFIX}{body}"), &suffixes, indent)
}

/// Prints like PyTorch's `repr(tensor)`, e.g. `tensor([[ 1.5000, -2.0000]])`, with
/// `dtype=torch.float64` for `f64` and summarization beyond 1000 elements. A precision
/// (`{:.2}`) sets the number of decimals (PyTorch's `set_printoptions(precision=...)`).
impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr(self, f.precision().unwrap_or(DEFAULT_PRECISION)))
    }
}

/// Shape and dtype, then the PyTorch-style values:
/// `Tensor[shape=[2], dtype=f32] tensor([1., 2.])`.
impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor[shape={:?}, dtype={}] {}",
            self.shape(),
            self.dtype(),
            repr(self, f.precision().unwrap_or(DEFAULT_PRECISION))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape)
    }

    #[test]
    fn scalars() {
        assert_eq!(Tensor::scalar(1.5f32).to_string(), "tensor(1.5000)");
        assert_eq!(Tensor::scalar(2.0f32).to_string(), "tensor(2.)");
        assert_eq!(Tensor::scalar(-3i64).to_string(), "tensor(-3)");
        assert_eq!(Tensor::scalar(true).to_string(), "tensor(True)");
        assert_eq!(
            Tensor::scalar(0.5f64).to_string(),
            "tensor(0.5000, dtype=torch.float64)"
        );
        assert_eq!(Tensor::scalar(f32::NAN).to_string(), "tensor(nan)");
        assert_eq!(
            Tensor::scalar(1e-5f64).to_string(),
            "tensor(1.0000e-05, dtype=torch.float64)"
        );
    }

    #[test]
    fn vectors() {
        assert_eq!(
            f32s(&[1.0, 2.5, -3.0], &[3]).to_string(),
            "tensor([ 1.0000,  2.5000, -3.0000])"
        );
        assert_eq!(
            f32s(&[1.0, 2.0, -3.0], &[3]).to_string(),
            "tensor([ 1.,  2., -3.])"
        );
        assert_eq!(f32s(&[0.0, 0.0], &[2]).to_string(), "tensor([0., 0.])");
        assert_eq!(
            f32s(&[f32::NAN, f32::INFINITY, 1.5], &[3]).to_string(),
            "tensor([   nan,    inf, 1.5000])"
        );
        assert_eq!(
            f32s(&[1.0, 1e9], &[2]).to_string(),
            "tensor([1.0000e+00, 1.0000e+09])"
        );
        assert_eq!(
            f32s(&[0.1, 1000.5], &[2]).to_string(),
            "tensor([1.0000e-01, 1.0005e+03])"
        );
        assert_eq!(
            Tensor::from_vec(vec![1i64, -20, 300], &[3]).to_string(),
            "tensor([  1, -20, 300])"
        );
        assert_eq!(
            Tensor::from_vec(vec![true, false], &[2]).to_string(),
            "tensor([ True, False])"
        );
        assert_eq!(
            format!("{:.2}", f32s(&[0.125, 1.0], &[2])),
            "tensor([0.12, 1.00])"
        );
    }

    #[test]
    fn matrices_and_suffix() {
        let m = f32s(&[1.0, -2.0, 3.0, 4.5], &[2, 2]);
        assert_eq!(
            m.to_string(),
            "tensor([[ 1.0000, -2.0000],\n        [ 3.0000,  4.5000]])"
        );
        let m64 = m.to_dtype(DType::F64);
        assert_eq!(
            m64.to_string(),
            "tensor([[ 1.0000, -2.0000],\n        [ 3.0000,  4.5000]], dtype=torch.float64)"
        );
        // a transposed view prints its logical order
        assert_eq!(
            m.t().to_string(),
            "tensor([[ 1.0000,  3.0000],\n        [-2.0000,  4.5000]])"
        );
        let cube = Tensor::arange_n(8, DType::I64).reshape(&[2, 2, 2]);
        assert_eq!(
            cube.to_string(),
            "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])"
        );
        assert_eq!(
            format!("{m:?}"),
            "Tensor[shape=[2, 2], dtype=f32] tensor([[ 1.0000, -2.0000],\n        [ 3.0000,  4.5000]])"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(Tensor::zeros(&[0], DType::F32).to_string(), "tensor([])");
        assert_eq!(
            Tensor::zeros(&[2, 0], DType::F32).to_string(),
            "tensor([], size=(2, 0))"
        );
        assert_eq!(
            Tensor::zeros(&[0], DType::I64).to_string(),
            "tensor([], dtype=torch.int64)"
        );
    }

    #[test]
    fn line_wrapping() {
        // torch.arange(30.)
        let v = Tensor::arange_n(30, DType::F32);
        assert_eq!(
            v.to_string(),
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n        \
             14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n        \
             28., 29.])"
        );
    }

    #[test]
    fn summarized() {
        // torch.arange(2000.)
        let v = Tensor::arange_n(2000, DType::F32);
        assert_eq!(v.to_string(), "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])");
        // torch.arange(1100).reshape(100, 11)
        let m = Tensor::arange_n(1100, DType::I64).reshape(&[100, 11]);
        assert_eq!(
            m.to_string(),
            "tensor([[   0,    1,    2,  ...,    8,    9,   10],\n        \
             [  11,   12,   13,  ...,   19,   20,   21],\n        \
             [  22,   23,   24,  ...,   30,   31,   32],\n        \
             ...,\n        \
             [1067, 1068, 1069,  ..., 1075, 1076, 1077],\n        \
             [1078, 1079, 1080,  ..., 1086, 1087, 1088],\n        \
             [1089, 1090, 1091,  ..., 1097, 1098, 1099]])"
        );
        // suffix on a long last line moves to its own line
        let w = Tensor::from_vec((0..12).map(|x| x as f64 + 0.5).collect::<Vec<_>>(), &[12]);
        assert_eq!(
            w.to_string(),
            "tensor([ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n         \
             8.5000,  9.5000, 10.5000, 11.5000], dtype=torch.float64)"
        );
    }
}
