//! The non-tensor arguments of the convolutions (`stride`, `padding`, `dilation`, `groups`,
//! `output_padding`) and their PyTorch-style deserialization (`2`, `[2]` or `[2, 3]`).

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum IntOrList {
    Int(usize),
    List(Vec<usize>),
}

pub(super) fn spatial<const N: usize, E: serde::de::Error>(
    v: IntOrList,
) -> std::result::Result<[usize; N], E> {
    match v {
        IntOrList::Int(x) => Ok([x; N]),
        IntOrList::List(l) if l.len() == N => Ok(std::array::from_fn(|i| l[i])),
        IntOrList::List(l) if l.len() == 1 => Ok([l[0]; N]),
        IntOrList::List(l) => Err(E::custom(format!("expected an int or {N} ints, got {l:?}"))),
    }
}

/// Deserializes `2`, `[2]` or `[2, 3]` into a pair.
pub(crate) fn de_pair<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<[usize; 2], D::Error> {
    spatial::<2, D::Error>(IntOrList::deserialize(d)?)
}

/// Deserializes `2` or `[2]` into a single value.
pub(super) fn de_single<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    spatial::<1, D::Error>(IntOrList::deserialize(d)?).map(|[x]| x)
}

/// Deserializes `null`, `[]`, `2`, `[2]` or `[2, 3]` into an optional pair (`None` for the first
/// two, PyTorch's "defaults to kernel_size").
pub(crate) fn de_opt_pair<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<[usize; 2]>, D::Error> {
    match Option::<IntOrList>::deserialize(d)? {
        None => Ok(None),
        Some(IntOrList::List(l)) if l.is_empty() => Ok(None),
        Some(v) => spatial::<2, D::Error>(v).map(Some),
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum PaddingRepr {
    Int(usize),
    List(Vec<usize>),
    Mode(String),
}

// ------------------------------------------------------------------------------------------------
// options

/// The `padding` argument of `torch.nn.functional.conv2d`: explicit zero padding or a mode.
///
/// Deserializes from `1`, `[1, 2]`, `"same"` or `"valid"`, as PyTorch accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PaddingRepr", into = "PaddingRepr")]
pub enum Padding2d {
    /// `[ph, pw]` zeros on both sides of the height and width.
    Explicit([usize; 2]),
    /// `"same"`: the output has the input's size. Per dim the total padding is
    /// `dilation·(k-1)`, with `total/2` before and the rest after (PyTorch semantics);
    /// requires stride 1.
    Same,
    /// `"valid"`: no padding.
    Valid,
}

impl Default for Padding2d {
    fn default() -> Self {
        Padding2d::Explicit([0, 0])
    }
}

impl From<[usize; 2]> for Padding2d {
    fn from(p: [usize; 2]) -> Self {
        Padding2d::Explicit(p)
    }
}

impl From<usize> for Padding2d {
    fn from(p: usize) -> Self {
        Padding2d::Explicit([p, p])
    }
}

impl TryFrom<PaddingRepr> for Padding2d {
    type Error = String;
    fn try_from(r: PaddingRepr) -> std::result::Result<Self, String> {
        Ok(match r {
            PaddingRepr::Int(p) => Padding2d::Explicit([p, p]),
            PaddingRepr::List(l) => Padding2d::Explicit(
                spatial::<2, serde::de::value::Error>(IntOrList::List(l))
                    .map_err(|e| e.to_string())?,
            ),
            PaddingRepr::Mode(m) => match m.as_str() {
                "same" => Padding2d::Same,
                "valid" => Padding2d::Valid,
                _ => {
                    return Err(format!(
                        "unknown padding mode {m:?} (expected \"same\" or \"valid\")"
                    ))
                }
            },
        })
    }
}

impl From<Padding2d> for PaddingRepr {
    fn from(p: Padding2d) -> Self {
        match p {
            Padding2d::Explicit(p) => PaddingRepr::List(p.to_vec()),
            Padding2d::Same => PaddingRepr::Mode("same".into()),
            Padding2d::Valid => PaddingRepr::Mode("valid".into()),
        }
    }
}

/// The `padding` argument of `torch.nn.functional.conv1d`: explicit zero padding or a mode.
///
/// Deserializes from `1`, `[1]`, `"same"` or `"valid"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PaddingRepr", into = "PaddingRepr")]
pub enum Padding1d {
    /// `p` zeros on both sides.
    Explicit(usize),
    /// `"same"`: total padding `dilation·(k-1)`, `total/2` before and the rest after; stride 1.
    Same,
    /// `"valid"`: no padding.
    Valid,
}

impl Default for Padding1d {
    fn default() -> Self {
        Padding1d::Explicit(0)
    }
}

impl From<usize> for Padding1d {
    fn from(p: usize) -> Self {
        Padding1d::Explicit(p)
    }
}

impl TryFrom<PaddingRepr> for Padding1d {
    type Error = String;
    fn try_from(r: PaddingRepr) -> std::result::Result<Self, String> {
        Ok(match r {
            PaddingRepr::Int(p) => Padding1d::Explicit(p),
            PaddingRepr::List(l) if l.len() == 1 => Padding1d::Explicit(l[0]),
            PaddingRepr::List(l) => {
                return Err(format!("conv1d padding must be one int, got {l:?}"))
            }
            PaddingRepr::Mode(m) => match m.as_str() {
                "same" => Padding1d::Same,
                "valid" => Padding1d::Valid,
                _ => {
                    return Err(format!(
                        "unknown padding mode {m:?} (expected \"same\" or \"valid\")"
                    ))
                }
            },
        })
    }
}

impl From<Padding1d> for PaddingRepr {
    fn from(p: Padding1d) -> Self {
        match p {
            Padding1d::Explicit(p) => PaddingRepr::List(vec![p]),
            Padding1d::Same => PaddingRepr::Mode("same".into()),
            Padding1d::Valid => PaddingRepr::Mode("valid".into()),
        }
    }
}

/// Options of a 2-D convolution: the non-tensor arguments of `torch.nn.functional.conv2d`
/// (defaults: stride 1, padding 0, dilation 1, groups 1).
///
/// Deserializes from PyTorch-style configs (`{"stride": [2, 1], "padding": "same", ...}`);
/// missing fields take the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conv2dOptions {
    /// Step between output positions, `[sh, sw]`.
    #[serde(deserialize_with = "de_pair")]
    pub stride: [usize; 2],
    /// Zero padding or `"same"`/`"valid"`.
    pub padding: Padding2d,
    /// Spacing between kernel taps, `[dh, dw]`.
    #[serde(deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
    /// Number of blocked connections from input to output channels (`groups = C` is depthwise).
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: [1, 1],
            padding: Padding2d::default(),
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// The defaults: stride 1, padding 0, dilation 1, groups 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the padding (`[ph, pw]`, an int, or a [`Padding2d`] mode).
    pub fn padding(mut self, padding: impl Into<Padding2d>) -> Self {
        self.padding = padding.into();
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// Options of a 1-D convolution: the non-tensor arguments of `torch.nn.functional.conv1d`
/// (defaults: stride 1, padding 0, dilation 1, groups 1). Deserializes from `2` or `[2]` for
/// each spatial argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conv1dOptions {
    /// Step between output positions.
    #[serde(deserialize_with = "de_single")]
    pub stride: usize,
    /// Zero padding or `"same"`/`"valid"`.
    pub padding: Padding1d,
    /// Spacing between kernel taps.
    #[serde(deserialize_with = "de_single")]
    pub dilation: usize,
    /// Number of blocked connections from input to output channels.
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions {
            stride: 1,
            padding: Padding1d::default(),
            dilation: 1,
            groups: 1,
        }
    }
}

impl Conv1dOptions {
    /// The defaults: stride 1, padding 0, dilation 1, groups 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the padding (an int or a [`Padding1d`] mode).
    pub fn padding(mut self, padding: impl Into<Padding1d>) -> Self {
        self.padding = padding.into();
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    pub(super) fn to_2d(&self) -> Conv2dOptions {
        Conv2dOptions {
            stride: [1, self.stride],
            padding: match self.padding {
                Padding1d::Explicit(p) => Padding2d::Explicit([0, p]),
                Padding1d::Same => Padding2d::Same,
                Padding1d::Valid => Padding2d::Valid,
            },
            dilation: [1, self.dilation],
            groups: self.groups,
        }
    }
}

/// Options of a 2-D transposed convolution: the non-tensor arguments of
/// `torch.nn.functional.conv_transpose2d` (defaults: stride 1, padding 0, output_padding 0,
/// groups 1, dilation 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConvTranspose2dOptions {
    /// Stride of the matching forward convolution.
    #[serde(deserialize_with = "de_pair")]
    pub stride: [usize; 2],
    /// Padding of the matching forward convolution (removed from the output's borders).
    #[serde(deserialize_with = "de_pair")]
    pub padding: [usize; 2],
    /// Extra size added to one side of the output; must be smaller than stride or dilation.
    #[serde(deserialize_with = "de_pair")]
    pub output_padding: [usize; 2],
    /// Number of blocked connections from input to output channels.
    pub groups: usize,
    /// Spacing between kernel taps.
    #[serde(deserialize_with = "de_pair")]
    pub dilation: [usize; 2],
}

impl Default for ConvTranspose2dOptions {
    fn default() -> Self {
        ConvTranspose2dOptions {
            stride: [1, 1],
            padding: [0, 0],
            output_padding: [0, 0],
            groups: 1,
            dilation: [1, 1],
        }
    }
}

impl ConvTranspose2dOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the padding.
    pub fn padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }
    /// Sets the output padding.
    pub fn output_padding(mut self, output_padding: [usize; 2]) -> Self {
        self.output_padding = output_padding;
        self
    }
    /// Sets the number of groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
    /// Sets the dilation.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }
}
