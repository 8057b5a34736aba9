//! Helpers shared by the layer configs: PyTorch's int-or-tuple spatial arguments, padding
//! modes, output-size arithmetic and shape errors.

use serde::{Deserialize, Deserializer, Serialize};
use tuna_tensor::PadMode;

use crate::error::NnError;

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrList {
    Int(usize),
    List(Vec<usize>),
}

fn spatial<const N: usize, E: serde::de::Error>(v: IntOrList) -> Result<[usize; N], E> {
    match v {
        IntOrList::Int(x) => Ok([x; N]),
        IntOrList::List(l) if l.len() == N => Ok(std::array::from_fn(|i| l[i])),
        IntOrList::List(l) if l.len() == 1 => Ok([l[0]; N]),
        IntOrList::List(l) => Err(E::custom(format!(
            "expected an int or a list of {N} ints, got {l:?}"
        ))),
    }
}

/// Deserializes `2`, `[2]` or `[2, 3]` into a pair.
pub(crate) fn de_pair<'de, D: Deserializer<'de>>(d: D) -> Result<[usize; 2], D::Error> {
    spatial::<2, D::Error>(IntOrList::deserialize(d)?)
}

/// Deserializes `2` or `[2]` into one value.
pub(crate) fn de_single<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    spatial::<1, D::Error>(IntOrList::deserialize(d)?).map(|[x]| x)
}

/// Deserializes `null`, `[]`, `2` or `[2, 3]` into an optional pair (`None`: PyTorch's
/// "defaults to kernel_size").
pub(crate) fn de_opt_pair<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[usize; 2]>, D::Error> {
    match Option::<IntOrList>::deserialize(d)? {
        None => Ok(None),
        Some(IntOrList::List(l)) if l.is_empty() => Ok(None),
        Some(v) => spatial::<2, D::Error>(v).map(Some),
    }
}

/// Deserializes `2` or `[2, 3]` into a list (a `normalized_shape` or similar).
pub(crate) fn de_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<usize>, D::Error> {
    Ok(match IntOrList::deserialize(d)? {
        IntOrList::Int(x) => vec![x],
        IntOrList::List(l) => l,
    })
}

pub(crate) fn pair_1() -> [usize; 2] {
    [1, 1]
}
pub(crate) fn pair_0() -> [usize; 2] {
    [0, 0]
}
pub(crate) fn one() -> usize {
    1
}
pub(crate) fn yes() -> bool {
    true
}
pub(crate) fn eps_default() -> f64 {
    1e-5
}

/// How a convolution pads its input (`padding_mode` of `torch.nn.Conv2d`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaddingMode {
    /// Zeros (PyTorch's default).
    #[default]
    Zeros,
    /// Mirror without repeating the edge.
    Reflect,
    /// Repeat the edge.
    Replicate,
    /// Wrap around.
    Circular,
}

impl PaddingMode {
    /// The [`PadMode`] of [`tuna_tensor::Tensor::pad`] this mode pads with.
    pub fn pad_mode(self) -> PadMode {
        match self {
            PaddingMode::Zeros => PadMode::Constant(0.0),
            PaddingMode::Reflect => PadMode::Reflect,
            PaddingMode::Replicate => PadMode::Replicate,
            PaddingMode::Circular => PadMode::Circular,
        }
    }
}

/// Output length of a convolution or pooling window sweep (floor mode), `None` if the
/// padded input is shorter than the dilated kernel.
pub(crate) fn window_out(
    len: usize,
    pad_total: usize,
    dilation: usize,
    k: usize,
    stride: usize,
) -> Option<usize> {
    let span = dilation * (k.max(1) - 1) + 1;
    let padded = len + pad_total;
    (padded >= span && stride > 0).then(|| (padded - span) / stride + 1)
}

/// Output length of PyTorch's pooling (`pooling_output_shape`): floor or ceil mode, where in
/// ceil mode the last window must start inside the input or the left padding.
pub(crate) fn pool_out(
    len: usize,
    pad: usize,
    dilation: usize,
    k: usize,
    stride: usize,
    ceil: bool,
) -> Option<usize> {
    let span = dilation * (k.max(1) - 1) + 1;
    let padded = len + 2 * pad;
    if padded < span || stride == 0 {
        return None;
    }
    let num = padded - span;
    let mut out = if ceil {
        num.div_ceil(stride)
    } else {
        num / stride
    } + 1;
    if ceil && (out - 1) * stride >= len + pad {
        out -= 1;
    }
    Some(out)
}

/// A [`NnError::Shape`].
pub(crate) fn shape_err(
    index: &str,
    layer: &str,
    expected: impl Into<String>,
    got: &[usize],
) -> NnError {
    NnError::Shape {
        index: index.to_string(),
        layer: layer.to_string(),
        expected: expected.into(),
        got: got.to_vec(),
    }
}

/// A positive-count check naming the field.
pub(crate) fn positive(layer: &str, field: &str, v: usize) -> Result<(), NnError> {
    if v == 0 {
        Err(NnError::config(layer, field, "must be positive, got 0"))
    } else {
        Ok(())
    }
}

/// Every element positive, naming the field.
pub(crate) fn all_positive(layer: &str, field: &str, v: &[usize]) -> Result<(), NnError> {
    if v.contains(&0) {
        Err(NnError::config(
            layer,
            field,
            format!("must be positive, got {v:?}"),
        ))
    } else {
        Ok(())
    }
}

/// Checks `eps > 0` and a momentum in `[0, 1]`.
pub(crate) fn check_eps(layer: &str, eps: f64) -> Result<(), NnError> {
    if eps > 0.0 && eps.is_finite() {
        Ok(())
    } else {
        Err(NnError::config(
            layer,
            "eps",
            format!("must be positive, got {eps}"),
        ))
    }
}
