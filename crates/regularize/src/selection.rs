//! Which parameters a regularizer or constraint acts on: the `params` / `exclude` glob
//! patterns shared by every plugin of this crate.

use crate::error::RegularizeError;

/// The default `params` patterns: every parameter whose name ends with `weight`
/// (`["*weight"]`), i.e. the weights of `Linear`, `Conv2d`, ... and not their biases.
///
/// Note that normalization layers' scales (`norm.weight`, `bn1.weight`) also end with
/// `weight`; exclude them with `exclude = ["*norm*", "bn*"]` if you do not want them
/// regularized (the usual practice for weight decay).
pub fn default_params() -> Vec<String> {
    vec!["*weight".to_string()]
}

/// Whether `name` is selected: it matches one of `params` and none of `exclude`
/// (glob patterns as in [`tuna_autograd::name_matches`]).
pub fn is_selected(params: &[String], exclude: &[String], name: &str) -> bool {
    tuna_autograd::is_selected(params, exclude, name)
}

/// Validates the `params` and `exclude` fields of `plugin`: `params` must not be empty, and
/// no pattern may be the empty string (it would match nothing, which is never intended).
pub(crate) fn validate_selection(
    plugin: &'static str,
    params: &[String],
    exclude: &[String],
) -> Result<(), RegularizeError> {
    match tuna_autograd::selection_problem(params, exclude) {
        Some((field, message)) => Err(RegularizeError::field(plugin, field, message)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_selects_weights_only() {
        let p = default_params();
        assert!(is_selected(&p, &[], "0.weight"));
        assert!(is_selected(&p, &[], "encoder.layers.1.linear1.weight"));
        assert!(!is_selected(&p, &[], "0.bias"));
        assert!(!is_selected(&p, &["*norm*".into()], "encoder.norm1.weight"));
    }

    #[test]
    fn validation() {
        let e = validate_selection("L2", &[], &[]).unwrap_err();
        assert!(e.to_string().starts_with("L2.params: must list"), "{e}");
        let e = validate_selection("L1", &default_params(), &["".into()]).unwrap_err();
        assert!(
            e.to_string().starts_with("L1.exclude: pattern 0 is empty"),
            "{e}"
        );
    }
}
