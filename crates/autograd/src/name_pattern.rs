//! Selecting parameters by their state-dict names (`0.weight`, `encoder.layers.1.norm1.bias`)
//! with glob patterns, as configs do: `"*.bias"`, `"*norm*"`, `"encoder.*"`.

use crate::param::Param;

/// A parameter together with its state-dict name: the unit optimizers, regularizers and
/// checkpoints key their state by.
pub type NamedParam = (String, Param);

/// Whether `name` matches the glob `pattern`: `*` matches any run of characters (including
/// dots and the empty string), `?` exactly one character, anything else itself.
///
/// ```
/// use tuna_autograd::name_matches;
/// assert!(name_matches("*.bias", "encoder.layers.1.norm1.bias"));
/// assert!(name_matches("*norm*", "encoder.layers.1.norm1.weight"));
/// assert!(name_matches("0.weight", "0.weight"));
/// assert!(!name_matches("*.bias", "0.weight"));
/// ```
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // iterative glob matching with backtracking to the last `*`
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether `name` matches any of `patterns`.
pub fn name_matches_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| name_matches(p, name))
}

/// Whether `name` is selected by a `params` / `exclude` pair of pattern lists (as
/// regularizers, constraints and initializers take them): it matches one of `params` and
/// none of `exclude`.
pub fn is_selected(params: &[String], exclude: &[String], name: &str) -> bool {
    name_matches_any(params, name) && !name_matches_any(exclude, name)
}

/// What is wrong with a `params` / `exclude` pair, as `(field, message)`: `params` must not
/// be empty, and no pattern may be the empty string (it would match nothing, which is never
/// intended). `None` when both are fine.
pub fn selection_problem(params: &[String], exclude: &[String]) -> Option<(&'static str, String)> {
    if params.is_empty() {
        return Some((
            "params",
            "must list at least one name pattern (use [\"*\"] for every parameter)".into(),
        ));
    }
    [("params", params), ("exclude", exclude)]
        .into_iter()
        .find_map(|(field, patterns)| {
            let i = patterns.iter().position(|p| p.is_empty())?;
            Some((
                field,
                format!("pattern {i} is empty (it would match no parameter name)"),
            ))
        })
}

/// The parameters whose names match any of `patterns`, in their original order.
pub fn select_params<'a>(params: &'a [NamedParam], patterns: &[String]) -> Vec<&'a NamedParam> {
    params
        .iter()
        .filter(|(name, _)| name_matches_any(patterns, name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(name_matches("*", ""));
        assert!(name_matches("*", "a.b"));
        assert!(name_matches("a*b*c", "a.x.b.y.c"));
        assert!(!name_matches("a*b*c", "a.x.b.y"));
        assert!(name_matches("layer?.weight", "layer3.weight"));
        assert!(!name_matches("layer?.weight", "layer12.weight"));
        assert!(name_matches("**.bias", "x.bias"));
        assert!(!name_matches("", "x"));
    }
}
