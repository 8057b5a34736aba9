//! Experiment text: TOML or JSON read into one JSON value, and rendered back as TOML.

use std::path::Path;

use serde_json::Value;

use super::{ExperimentError, ValueError};

/// Reads a TOML (or, for a `.json` file, JSON) experiment file into a JSON value.
///
/// # Errors
/// An unreadable file, or a syntax error (with TOML's line and column).
pub fn read_value(path: &Path) -> Result<Value, ExperimentError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ExperimentError::one(Some(path), format!("cannot read: {e}")))?;
    parse_text(
        &text,
        path.extension().and_then(|e| e.to_str()) == Some("json"),
    )
    .map_err(|e| ExperimentError::one(Some(path), e.to_string()))
}

/// Parses experiment text: TOML, or JSON when `json` is set.
///
/// TOML's `inf` and `-inf` become the strings `"inf"` and `"-inf"` (JSON has no infinity;
/// fields that accept it, such as `train.clip_norm_type`, read those strings), and `nan` is an
/// error naming its path: no setting takes NaN.
///
/// # Errors
/// The syntax error, or the path of a `nan`.
pub fn parse_text(text: &str, json: bool) -> Result<Value, ValueError> {
    if json {
        serde_json::from_str(text).map_err(|e| ValueError::Syntax(format!("invalid JSON: {e}")))
    } else {
        let v: toml::Value =
            toml::from_str(text).map_err(|e| ValueError::Syntax(format!("invalid TOML: {e}")))?;
        toml_to_json(&v, "")
    }
}

/// A TOML value as JSON (see [`parse_text`] for non-finite floats); `path` names the value in
/// errors.
///
/// # Errors
/// A `nan`, naming its path.
pub fn toml_to_json(v: &toml::Value, path: &str) -> Result<Value, ValueError> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    Ok(match v {
        toml::Value::Float(f) if f.is_nan() => {
            return Err(ValueError::Unrepresentable(format!(
                "{path}: nan is not a value any setting accepts"
            )))
        }
        toml::Value::Float(f) if f.is_infinite() => {
            Value::String(if *f > 0.0 { "inf" } else { "-inf" }.into())
        }
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| toml_to_json(x, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, x)| Ok((k.clone(), toml_to_json(x, &join(k))?)))
                .collect::<Result<_, ValueError>>()?,
        ),
    })
}

/// Reads an `f64` that may be written `inf` / `-inf` (in TOML) or `"inf"` / `"-inf"` (in JSON);
/// for `#[serde(deserialize_with = ...)]`.
///
/// # Errors
/// Anything else.
pub fn f64_or_inf<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum F {
        N(f64),
        S(String),
    }
    match <F as serde::Deserialize>::deserialize(d)? {
        F::N(x) => Ok(x),
        F::S(s) if s == "inf" => Ok(f64::INFINITY),
        F::S(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        F::S(s) => Err(serde::de::Error::custom(format!(
            "expected a number or inf, got {s:?}"
        ))),
    }
}

/// Writes an `f64`, infinity as `"inf"` (for `#[serde(serialize_with = ...)]`).
///
/// # Errors
/// The serializer's.
pub fn serialize_f64_or_inf<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_infinite() {
        s.serialize_str(if *x > 0.0 { "inf" } else { "-inf" })
    } else {
        s.serialize_f64(*x)
    }
}

/// Renders a JSON value as TOML (nulls dropped; the strings `"inf"`/`"-inf"` as TOML's
/// `inf`/`-inf`).
pub fn to_toml(value: &Value) -> String {
    fn strip(v: &Value) -> Option<toml::Value> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => toml::Value::Integer(i),
                None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) if s == "inf" => toml::Value::Float(f64::INFINITY),
            Value::String(s) if s == "-inf" => toml::Value::Float(f64::NEG_INFINITY),
            Value::String(s) => toml::Value::String(s.clone()),
            Value::Array(a) => toml::Value::Array(a.iter().filter_map(strip).collect()),
            Value::Object(o) => toml::Value::Table(
                o.iter()
                    .filter_map(|(k, v)| strip(v).map(|v| (k.clone(), v)))
                    .collect(),
            ),
        })
    }
    match strip(value) {
        Some(toml::Value::Table(t)) => toml::to_string_pretty(&t).unwrap_or_default(),
        _ => String::new(),
    }
}
