//! Runtime element types and the traits that connect Rust scalars to them.

use std::fmt;

use crate::storage::Storage;

/// The element type of a [`Tensor`](crate::Tensor), known at run time (PyTorch's `torch.dtype`).
///
/// `F32` is the training default and `F64` serves gradient checks; `I64` holds indices and class
/// targets (`torch.long`) and `Bool` holds masks and comparison results (`torch.bool`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit IEEE float (`torch.float32`).
    F32,
    /// 64-bit IEEE float (`torch.float64`).
    F64,
    /// 64-bit signed integer (`torch.int64`), used for indices.
    I64,
    /// Boolean (`torch.bool`), used for masks.
    Bool,
}

impl DType {
    /// Whether this is a floating-point type (`F32` or `F64`).
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    /// PyTorch's spelling, e.g. `torch.float32`.
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::F32 => "torch.float32",
            DType::F64 => "torch.float64",
            DType::I64 => "torch.int64",
            DType::Bool => "torch.bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::Bool => "bool",
        })
    }
}

/// A Rust scalar type that can be stored in a tensor: `f32`, `f64`, `i64` or `bool`.
pub trait Element: Copy + Send + Sync + PartialEq + fmt::Debug + Default + 'static {
    /// The runtime dtype of this scalar type.
    const DTYPE: DType;
    /// Wraps a vector into storage.
    fn into_storage(v: Vec<Self>) -> Storage;
    /// Borrows the storage's data if it holds this type.
    fn slice(s: &Storage) -> Option<&[Self]>;
    /// Mutably borrows the storage's data if it holds this type.
    fn slice_mut(s: &mut Storage) -> Option<&mut [Self]>;
    /// Converts to `f64` (`true` is 1).
    fn to_f64(self) -> f64;
    /// Converts from `f64` (truncating for integers, `!= 0` for booleans).
    fn from_f64(v: f64) -> Self;
}

/// A floating-point element (`f32` or `f64`): every differentiable kernel is generic over it.
pub trait FloatElement:
    Element + num_traits::Float + num_traits::FloatConst + std::iter::Sum
{
    /// The error function `erf(x)`, as used by the exact GELU.
    fn erf(self) -> Self;
    /// Converts from `f64`, rounding to nearest.
    fn of(v: f64) -> Self {
        <Self as Element>::from_f64(v)
    }
}

macro_rules! impl_element {
    ($t:ty, $variant:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn into_storage(v: Vec<Self>) -> Storage {
                Storage::$variant(v)
            }
            fn slice(s: &Storage) -> Option<&[Self]> {
                match s {
                    Storage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(s: &mut Storage) -> Option<&mut [Self]> {
                match s {
                    Storage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $to;
                f(self)
            }
            fn from_f64(v: f64) -> Self {
                let f: fn(f64) -> $t = $from;
                f(v)
            }
        }
    };
}

impl_element!(f32, F32, |x| x as f64, |v| v as f32);
impl_element!(f64, F64, |x| x, |v| v);
impl_element!(i64, I64, |x| x as f64, |v| v as i64);
impl_element!(bool, Bool, |x| if x { 1.0 } else { 0.0 }, |v| v != 0.0);

impl FloatElement for f32 {
    fn erf(self) -> Self {
        libm::erff(self)
    }
}

impl FloatElement for f64 {
    fn erf(self) -> Self {
        libm::erf(self)
    }
}
