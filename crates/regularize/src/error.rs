//! [`RegularizeError`]: every configuration or application error of this crate, naming the
//! plugin and field (or parameter) at fault.

/// An invalid regularizer, constraint or early-stopping setting, or a constraint that does not
/// fit a parameter.
///
/// The `Display` form is what a user sees: `L2.weight: must be >= 0, got -1`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RegularizeError {
    /// A config field holds a value outside its allowed range.
    #[error("{plugin}.{field}: {reason}")]
    InvalidField {
        /// The plugin's tag (`L2`, `MaxNorm`, `EarlyStopping`).
        plugin: &'static str,
        /// The offending field (`weight`, `max_value`).
        field: &'static str,
        /// What was expected and what was found.
        reason: String,
    },
    /// A constraint cannot be applied to a parameter (e.g. `dim` out of range for its rank).
    #[error("{plugin}: parameter `{param}` (shape {shape:?}): {reason}")]
    Param {
        /// The plugin's tag.
        plugin: &'static str,
        /// The parameter's state-dict name.
        param: String,
        /// The parameter's shape.
        shape: Vec<usize>,
        /// What went wrong.
        reason: String,
    },
}

impl RegularizeError {
    /// An [`InvalidField`](RegularizeError::InvalidField) error.
    pub fn field(plugin: &'static str, field: &'static str, reason: impl Into<String>) -> Self {
        RegularizeError::InvalidField {
            plugin,
            field,
            reason: reason.into(),
        }
    }
}

/// `Ok` if `value` is finite and `>= 0`, else an error naming `plugin.field`.
pub(crate) fn check_non_negative(
    plugin: &'static str,
    field: &'static str,
    value: f64,
) -> Result<(), RegularizeError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(RegularizeError::field(
            plugin,
            field,
            format!("must be >= 0, got {value}"),
        ))
    }
}

/// `Ok` if `value` is finite and `> 0`, else an error naming `plugin.field`.
pub(crate) fn check_positive(
    plugin: &'static str,
    field: &'static str,
    value: f64,
) -> Result<(), RegularizeError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(RegularizeError::field(
            plugin,
            field,
            format!("must be > 0, got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field() {
        let e = check_non_negative("L2", "weight", -1.0).unwrap_err();
        assert_eq!(e.to_string(), "L2.weight: must be >= 0, got -1");
        let e = check_positive("MaxNorm", "max_value", 0.0).unwrap_err();
        assert_eq!(e.to_string(), "MaxNorm.max_value: must be > 0, got 0");
        assert!(check_non_negative("L1", "weight", f64::NAN).is_err());
        assert!(check_non_negative("L1", "weight", f64::INFINITY).is_err());
        assert!(check_non_negative("L1", "weight", 0.0).is_ok());
    }
}
