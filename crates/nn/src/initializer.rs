//! Initializer plugins: the experiment file's `[[init]]` entries, which re-initialize the
//! parameters whose state-dict names match, once the model is built — what a PyTorch user
//! writes as `nn.init.orthogonal_(model.rnn.weight_hh_l0)` after constructing the model.
//!
//! ```toml
//! [[init]]
//! type = "Orthogonal"          # torch.nn.init.orthogonal_
//! params = ["*.weight_hh_l*"]  # glob patterns over parameter names (default ["*weight"])
//! gain = 1.0
//!
//! [[init]]
//! type = "Zeros"
//! params = ["*bias*"]
//! ```
//!
//! Entries apply in order (a later one overrides an earlier one for the parameters both
//! select). Their random draws come from a generator of their own, seeded by the experiment's
//! seed, so adding an entry changes no other draw (the layers' default initialization, dropout,
//! shuffling). Every initializer is the function of `torch.nn.init` with the same arguments;
//! the formulas are in [`crate::init`].

use serde::{Deserialize, Serialize};
use tuna_autograd::is_selected;
use tuna_tensor::{DType, Generator, Tensor};

use crate::error::NnError;
use crate::init::{self, FanMode};
use crate::module::Module;

/// An initializer plugin (`[[init]]`): which parameters it selects and the values it draws.
#[typetag::serde(tag = "type")]
pub trait Initializer: dyn_clone::DynClone + std::fmt::Debug + Send + Sync {
    /// Glob patterns of the parameter names to initialize, and of names to leave out even if
    /// selected (as [`tuna_autograd::name_matches`]).
    fn selection(&self) -> (&[String], &[String]);

    /// New values for a parameter of `shape`.
    ///
    /// # Errors
    /// The shape does not suit the initializer (`Eye` needs 2 dims, `Orthogonal`, Xavier and
    /// Kaiming at least 2).
    fn values(&self, shape: &[usize], dtype: DType, gen: &mut Generator)
        -> Result<Tensor, NnError>;

    /// Checks the initializer's own arguments (the selection is checked by
    /// [`Initializer::validate`]).
    ///
    /// # Errors
    /// An argument out of range, naming the field.
    fn check_args(&self) -> Result<(), NnError> {
        Ok(())
    }

    /// Checks the selection patterns and the arguments before any model is built.
    ///
    /// # Errors
    /// An empty pattern list or pattern, or an argument out of range, naming the field.
    fn validate(&self) -> Result<(), NnError> {
        let (params, exclude) = self.selection();
        check_patterns(self.name(), params, exclude)?;
        self.check_args()
    }

    /// The plugin's `type` name in the experiment file (its serde tag).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }
}

dyn_clone::clone_trait_object!(Initializer);

/// The seed of the initializers' own generator: the experiment's seed mixed with a constant,
/// so their draws differ from the layers' default initialization drawn from the seed itself.
fn init_seed(seed: u64) -> u64 {
    seed ^ 0x1A17_5EED_0000_0001
}

/// Re-initializes the parameters of `model` selected by each of `inits`, in order.
///
/// # Errors
/// An entry whose patterns select no parameter (the message lists the model's parameter
/// names), or a parameter whose shape the initializer cannot fill; `init[i]` names the entry.
pub fn apply_initializers(
    inits: &[Box<dyn Initializer>],
    model: &dyn Module,
    seed: u64,
) -> Result<(), NnError> {
    let params = model.named_parameters();
    let mut gen = Generator::new(init_seed(seed));
    for (i, init) in inits.iter().enumerate() {
        let (select, exclude) = init.selection();
        let chosen: Vec<_> = params
            .iter()
            .filter(|(n, _)| is_selected(select, exclude, n))
            .collect();
        if chosen.is_empty() {
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            return Err(NnError::config(
                &format!("init[{i}] ({})", init.name()),
                "params",
                format!(
                    "{select:?}{} select no parameter; the model's parameters are: {}",
                    if exclude.is_empty() {
                        String::new()
                    } else {
                        format!(" (excluding {exclude:?})")
                    },
                    names.join(", ")
                ),
            ));
        }
        for (name, p) in chosen {
            let old = p.value();
            let new = init
                .values(old.shape(), old.dtype(), &mut gen)
                .map_err(|e| at_param(i, init.name(), name, e))?;
            p.set_value(new);
        }
    }
    Ok(())
}

fn at_param(i: usize, kind: &str, param: &str, e: NnError) -> NnError {
    NnError::config(
        &format!("init[{i}] ({kind})"),
        "params",
        format!("{param}: {e}"),
    )
}

fn check_patterns(kind: &str, params: &[String], exclude: &[String]) -> Result<(), NnError> {
    match tuna_autograd::selection_problem(params, exclude) {
        Some((field, message)) => Err(NnError::config(kind, field, message)),
        None => Ok(()),
    }
}

fn default_params() -> Vec<String> {
    vec!["*weight".to_string()]
}

/// PyTorch refuses fans (and so Xavier, Kaiming and orthogonal init) below 2 dims.
fn at_least_2d(kind: &str, shape: &[usize]) -> Result<(), NnError> {
    if shape.len() < 2 {
        return Err(NnError::config(
            kind,
            "params",
            format!("needs a parameter with at least 2 dims, got shape {shape:?}"),
        ));
    }
    Ok(())
}

fn finite(kind: &str, field: &str, v: f64) -> Result<(), NnError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(NnError::config(
            kind,
            field,
            format!("must be finite, got {v}"),
        ))
    }
}

/// Declares an initializer struct: the `params` / `exclude` selection every initializer
/// has, then its own arguments.
macro_rules! initializer {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
            /// Glob patterns of the parameter names to initialize (default `["*weight"]`).
            pub params: Vec<String>,
            /// Glob patterns of names to leave out (default `[]`).
            pub exclude: Vec<String>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $($field: $default,)*
                    params: default_params(),
                    exclude: Vec::new(),
                }
            }
        }
    };
}

initializer!(
    /// U(a, b) (`init.uniform_(w, a=0, b=1)`).
    Uniform {
        /// Lower bound (default 0).
        a: f64 = 0.0,
        /// Upper bound (default 1); `> a`.
        b: f64 = 1.0,
    }
);

initializer!(
    /// N(mean, std²) (`init.normal_(w, mean=0, std=1)`).
    Normal {
        /// Mean (default 0).
        mean: f64 = 0.0,
        /// Standard deviation (default 1); `>= 0`.
        std: f64 = 1.0,
    }
);

initializer!(
    /// A constant (`init.constant_(w, val)`).
    Constant {
        /// The value (default 0).
        val: f64 = 0.0,
    }
);

initializer!(
    /// Zeros (`init.zeros_`).
    Zeros {}
);

initializer!(
    /// Ones (`init.ones_`).
    Ones {}
);

initializer!(
    /// The identity matrix of a 2-D parameter, ones on the diagonal of a non-square one
    /// (`init.eye_`).
    Eye {}
);

initializer!(
    /// Glorot/Xavier uniform: U(-g·√(6/(fan_in+fan_out)), +…) (`init.xavier_uniform_(w, gain=1)`).
    XavierUniform {
        /// The scale `g` (default 1; `nn.init.calculate_gain` gives the usual values).
        gain: f64 = 1.0,
    }
);

initializer!(
    /// Glorot/Xavier normal: N(0, g²·2/(fan_in+fan_out)) (`init.xavier_normal_(w, gain=1)`).
    XavierNormal {
        /// The scale `g` (default 1).
        gain: f64 = 1.0,
    }
);

initializer!(
    /// He/Kaiming uniform: U(-gain·√(3/fan), +…), `gain = calculate_gain(nonlinearity, a)`
    /// (`init.kaiming_uniform_(w, a=0, mode="fan_in", nonlinearity="leaky_relu")`).
    KaimingUniform {
        /// The negative slope of the leaky ReLU that follows (default 0).
        a: f64 = 0.0,
        /// `"fan_in"` (default) or `"fan_out"`.
        mode: FanMode = FanMode::FanIn,
        /// `"relu"`, `"leaky_relu"` (default), `"tanh"`, `"sigmoid"`, `"selu"`, `"linear"`,
        /// `"conv1d"`, `"conv2d"`, ….
        nonlinearity: String = "leaky_relu".to_string(),
    }
);

initializer!(
    /// He/Kaiming normal: N(0, (gain/√fan)²) (`init.kaiming_normal_`, same arguments as
    /// [`KaimingUniform`]).
    KaimingNormal {
        /// The negative slope of the leaky ReLU that follows (default 0).
        a: f64 = 0.0,
        /// `"fan_in"` (default) or `"fan_out"`.
        mode: FanMode = FanMode::FanIn,
        /// As [`KaimingUniform::nonlinearity`] (default `"leaky_relu"`).
        nonlinearity: String = "leaky_relu".to_string(),
    }
);

initializer!(
    /// N(mean, std²) redrawn outside `[a, b]` (`init.trunc_normal_(w, mean=0, std=1, a=-2, b=2)`).
    TruncNormal {
        /// Mean (default 0).
        mean: f64 = 0.0,
        /// Standard deviation (default 1); `> 0`.
        std: f64 = 1.0,
        /// Lower cut-off (default -2).
        a: f64 = -2.0,
        /// Upper cut-off (default 2); `> a`, and `[a, b]` within 5 std of the mean.
        b: f64 = 2.0,
    }
);

initializer!(
    /// A (semi-)orthogonal matrix times `gain` (`init.orthogonal_(w, gain=1)`, Saxe et al.
    /// 2013): the usual choice for recurrent weights, whose repeated products then neither
    /// vanish nor explode at `gain = 1`.
    Orthogonal {
        /// The scale (default 1).
        gain: f64 = 1.0,
    }
);

const NONLINEARITIES: [&str; 11] = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
];

fn check_kaiming(kind: &str, a: f64, nonlinearity: &str) -> Result<(), NnError> {
    finite(kind, "a", a)?;
    if !NONLINEARITIES.contains(&nonlinearity) && nonlinearity != "selu" {
        return Err(NnError::config(
            kind,
            "nonlinearity",
            format!(
                "unknown {nonlinearity:?}; known: {}, selu",
                NONLINEARITIES.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The `selection` method every initializer shares.
macro_rules! selection {
    () => {
        fn selection(&self) -> (&[String], &[String]) {
            (&self.params, &self.exclude)
        }
    };
}

#[typetag::serde(name = "Uniform")]
impl Initializer for Uniform {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        Ok(init::uniform(shape, self.a, self.b, dtype, gen))
    }
    fn check_args(&self) -> Result<(), NnError> {
        finite("Uniform", "a", self.a)?;
        finite("Uniform", "b", self.b)?;
        if self.b <= self.a {
            return Err(NnError::config(
                "Uniform",
                "b",
                format!("must be > a ({}), got {}", self.a, self.b),
            ));
        }
        Ok(())
    }
}

#[typetag::serde(name = "Normal")]
impl Initializer for Normal {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        Ok(init::normal(shape, self.mean, self.std, dtype, gen))
    }
    fn check_args(&self) -> Result<(), NnError> {
        finite("Normal", "mean", self.mean)?;
        if !(self.std.is_finite() && self.std >= 0.0) {
            return Err(NnError::config(
                "Normal",
                "std",
                format!("must be >= 0, got {}", self.std),
            ));
        }
        Ok(())
    }
}

#[typetag::serde(name = "Constant")]
impl Initializer for Constant {
    selection!();
    fn values(&self, shape: &[usize], dtype: DType, _: &mut Generator) -> Result<Tensor, NnError> {
        Ok(init::constant(shape, self.val, dtype))
    }
    fn check_args(&self) -> Result<(), NnError> {
        finite("Constant", "val", self.val)
    }
}

#[typetag::serde(name = "Zeros")]
impl Initializer for Zeros {
    selection!();
    fn values(&self, shape: &[usize], dtype: DType, _: &mut Generator) -> Result<Tensor, NnError> {
        Ok(init::constant(shape, 0.0, dtype))
    }
}

#[typetag::serde(name = "Ones")]
impl Initializer for Ones {
    selection!();
    fn values(&self, shape: &[usize], dtype: DType, _: &mut Generator) -> Result<Tensor, NnError> {
        Ok(init::constant(shape, 1.0, dtype))
    }
}

#[typetag::serde(name = "Eye")]
impl Initializer for Eye {
    selection!();
    fn values(&self, shape: &[usize], dtype: DType, _: &mut Generator) -> Result<Tensor, NnError> {
        if shape.len() != 2 {
            return Err(NnError::config(
                "Eye",
                "params",
                format!("needs a 2-D parameter, got shape {shape:?}"),
            ));
        }
        let (rows, cols) = (shape[0], shape[1]);
        let data = (0..rows * cols)
            .map(|k| if k / cols == k % cols { 1.0 } else { 0.0 })
            .collect();
        Ok(Tensor::from_vec(data, shape).to_dtype(dtype))
    }
}

#[typetag::serde(name = "XavierUniform")]
impl Initializer for XavierUniform {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        at_least_2d("XavierUniform", shape)?;
        Ok(init::xavier_uniform(shape, self.gain, dtype, gen))
    }
    fn check_args(&self) -> Result<(), NnError> {
        finite("XavierUniform", "gain", self.gain)
    }
}

#[typetag::serde(name = "XavierNormal")]
impl Initializer for XavierNormal {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        at_least_2d("XavierNormal", shape)?;
        Ok(init::xavier_normal(shape, self.gain, dtype, gen))
    }
    fn check_args(&self) -> Result<(), NnError> {
        finite("XavierNormal", "gain", self.gain)
    }
}

#[typetag::serde(name = "KaimingUniform")]
impl Initializer for KaimingUniform {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        at_least_2d("KaimingUniform", shape)?;
        Ok(init::kaiming_uniform(
            shape,
            self.a,
            self.mode,
            &self.nonlinearity,
            dtype,
            gen,
        ))
    }
    fn check_args(&self) -> Result<(), NnError> {
        check_kaiming("KaimingUniform", self.a, &self.nonlinearity)
    }
}

#[typetag::serde(name = "KaimingNormal")]
impl Initializer for KaimingNormal {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        at_least_2d("KaimingNormal", shape)?;
        Ok(init::kaiming_normal(
            shape,
            self.a,
            self.mode,
            &self.nonlinearity,
            dtype,
            gen,
        ))
    }
    fn check_args(&self) -> Result<(), NnError> {
        check_kaiming("KaimingNormal", self.a, &self.nonlinearity)
    }
}

#[typetag::serde(name = "TruncNormal")]
impl Initializer for TruncNormal {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        Ok(init::trunc_normal(
            shape, self.mean, self.std, self.a, self.b, dtype, gen,
        ))
    }
    fn check_args(&self) -> Result<(), NnError> {
        let kind = "TruncNormal";
        finite(kind, "mean", self.mean)?;
        if !(self.std.is_finite() && self.std > 0.0) {
            return Err(NnError::config(
                kind,
                "std",
                format!("must be > 0, got {}", self.std),
            ));
        }
        finite(kind, "a", self.a)?;
        finite(kind, "b", self.b)?;
        if self.b <= self.a {
            return Err(NnError::config(
                kind,
                "b",
                format!("must be > a ({}), got {}", self.a, self.b),
            ));
        }
        // Redrawing needs a reachable interval: it must come within 5 std of the mean.
        if self.a > self.mean + 5.0 * self.std || self.b < self.mean - 5.0 * self.std {
            return Err(NnError::config(
                kind,
                "a",
                format!(
                    "[{}, {}] lies more than 5 std from the mean {}: almost no draw would land in it",
                    self.a, self.b, self.mean
                ),
            ));
        }
        Ok(())
    }
}

#[typetag::serde(name = "Orthogonal")]
impl Initializer for Orthogonal {
    selection!();
    fn values(
        &self,
        shape: &[usize],
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor, NnError> {
        at_least_2d("Orthogonal", shape)?;
        Ok(init::orthogonal(shape, self.gain, dtype, gen))
    }
    fn check_args(&self) -> Result<(), NnError> {
        finite("Orthogonal", "gain", self.gain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BuildContext, LayerConfig, LinearConfig};

    fn parse(toml_text: &str) -> Box<dyn Initializer> {
        let v: toml::Value = toml::from_str(toml_text).unwrap();
        let json = serde_json::to_value(v).unwrap();
        serde_json::from_value(json).unwrap()
    }

    fn linear(i: usize, o: usize) -> Box<dyn Module> {
        LinearConfig::new(i, o)
            .build(&mut BuildContext::new(0))
            .unwrap()
    }

    fn param(model: &dyn Module, name: &str) -> Vec<f64> {
        let params = model.named_parameters();
        let (_, p) = params.iter().find(|(n, _)| n == name).unwrap();
        p.value().to_vec_f64()
    }

    #[test]
    fn names_are_the_tags_and_defaults_select_weights() {
        let z = parse("type = \"Zeros\"");
        assert_eq!(z.name(), "Zeros");
        let m = linear(3, 2);
        let bias = param(m.as_ref(), "bias");
        apply_initializers(&[z], m.as_ref(), 0).unwrap();
        assert!(param(m.as_ref(), "weight").iter().all(|v| *v == 0.0));
        assert_eq!(
            param(m.as_ref(), "bias"),
            bias,
            "biases are not selected by default"
        );
    }

    #[test]
    fn later_entries_win_and_exclude_leaves_out() {
        let m = linear(4, 4);
        let inits = vec![
            parse("type = \"Constant\"\nval = 0.5\nparams = [\"*\"]"),
            parse("type = \"Eye\""),
            parse("type = \"Ones\"\nparams = [\"*\"]\nexclude = [\"weight\"]"),
        ];
        apply_initializers(&inits, m.as_ref(), 0).unwrap();
        let w = param(m.as_ref(), "weight");
        for (k, v) in w.iter().enumerate() {
            assert_eq!(*v, if k / 4 == k % 4 { 1.0 } else { 0.0 });
        }
        assert!(param(m.as_ref(), "bias").iter().all(|v| *v == 1.0));
    }

    #[test]
    fn orthogonal_rows_are_orthonormal_times_gain() {
        let m = linear(8, 5);
        apply_initializers(&[parse("type = \"Orthogonal\"\ngain = 2.0")], m.as_ref(), 3).unwrap();
        let w = param(m.as_ref(), "weight");
        for i in 0..5 {
            for j in 0..5 {
                let dot: f64 = (0..8).map(|k| w[i * 8 + k] * w[j * 8 + k]).sum();
                let want = if i == j { 4.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "({i},{j}) {dot}");
            }
        }
    }

    #[test]
    fn draws_are_seeded_and_within_the_formula_bounds() {
        let draw = |seed| {
            let m = linear(50, 40);
            apply_initializers(&[parse("type = \"XavierUniform\"")], m.as_ref(), seed).unwrap();
            param(m.as_ref(), "weight")
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let bound = (6.0f64 / 90.0).sqrt();
        assert!(draw(7).iter().all(|v| v.abs() <= bound + 1e-7));
        let m = linear(400, 300);
        let k = parse("type = \"KaimingNormal\"\nnonlinearity = \"relu\"\nmode = \"fan_out\"");
        apply_initializers(&[k], m.as_ref(), 1).unwrap();
        let w = param(m.as_ref(), "weight");
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        let want = 2.0 / 300.0;
        assert!((var / want - 1.0).abs() < 0.03, "{var} vs {want}");
    }

    #[test]
    fn a_pattern_that_selects_nothing_names_the_entry_and_the_parameters() {
        let m = linear(3, 2);
        let e = apply_initializers(
            &[parse("type = \"Orthogonal\"\nparams = [\"*weight_hh*\"]")],
            m.as_ref(),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("init[0] (Orthogonal).params:"), "{e}");
        assert!(e.contains("weight, bias"), "{e}");
        let e = apply_initializers(
            &[parse("type = \"Orthogonal\"\nparams = [\"bias\"]")],
            m.as_ref(),
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bias") && e.contains("at least 2 dims"), "{e}");
    }

    #[test]
    fn arguments_are_validated() {
        for (text, field) in [
            ("type = \"Uniform\"\na = 1.0\nb = 0.5", "Uniform.b"),
            ("type = \"Normal\"\nstd = -1.0", "Normal.std"),
            ("type = \"TruncNormal\"\nstd = 0.0", "TruncNormal.std"),
            (
                "type = \"TruncNormal\"\na = 20.0\nb = 30.0",
                "TruncNormal.a",
            ),
            (
                "type = \"KaimingUniform\"\nnonlinearity = \"gelu\"",
                "KaimingUniform.nonlinearity",
            ),
            ("type = \"Zeros\"\nparams = []", "Zeros.params"),
            ("type = \"Ones\"\nexclude = [\"\"]", "Ones.exclude"),
        ] {
            let e = parse(text).validate().unwrap_err().to_string();
            assert!(e.starts_with(field), "{text}: {e}");
        }
        assert!(parse("type = \"Orthogonal\"").validate().is_ok());
    }
}
