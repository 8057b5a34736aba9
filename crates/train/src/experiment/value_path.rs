//! Paths into an experiment's value (`optimizer.lr`, `model.layers[3].p`) and the
//! `--set KEY=VALUE` / `--unset KEY` overrides that use them.

use serde_json::{Map, Value};

use super::ValueError;

/// One step of a value path: a key or an array index.
#[derive(Clone, Debug, PartialEq)]
pub enum PathStep {
    /// `.key`
    Key(String),
    /// `[index]`
    Index(usize),
}

/// Parses `optimizer.lr`, `model.layers[7].p`, `optimizer.betas[1]` into steps.
///
/// # Errors
/// An empty path, an empty key or an index that is not a number.
pub fn parse_path(path: &str) -> Result<Vec<PathStep>, ValueError> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && (steps.is_empty() || rest.is_empty()) {
            return Err(ValueError::Path(format!("`{path}`: empty key")));
        }
        if !key.is_empty() {
            steps.push(PathStep::Key(key.to_string()));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| ValueError::Path(format!("`{path}`: missing `]`")))?;
            let idx: usize = rest[1..close].trim().parse().map_err(|_| {
                ValueError::Path(format!("`{path}`: `{}` is not an index", &rest[1..close]))
            })?;
            steps.push(PathStep::Index(idx));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(ValueError::Path(format!(
                    "`{path}`: unexpected `{rest}` after an index"
                )));
            }
        }
    }
    if steps.is_empty() {
        return Err(ValueError::Path("empty path".to_string()));
    }
    Ok(steps)
}

/// Sets the value at `path` (creating missing tables; an index may append one element at
/// the end of an array).
///
/// # Errors
/// A path through a non-table/non-array value, or an index past the end.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), ValueError> {
    let steps = parse_path(path)?;
    let mut cur = root;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        cur = match step {
            PathStep::Key(k) => {
                if cur.is_null() {
                    *cur = Value::Object(Map::new());
                }
                let obj = cur.as_object_mut().ok_or_else(|| {
                    ValueError::Path(format!(
                        "`{path}`: `{k}` is inside a value that is not a table"
                    ))
                })?;
                if last {
                    obj.insert(k.clone(), value);
                    return Ok(());
                }
                obj.entry(k.clone()).or_insert(Value::Null)
            }
            PathStep::Index(idx) => {
                let arr = cur.as_array_mut().ok_or_else(|| {
                    ValueError::Path(format!(
                        "`{path}`: [{idx}] indexes a value that is not a list"
                    ))
                })?;
                if *idx > arr.len() {
                    return Err(ValueError::Path(format!(
                        "`{path}`: index {idx} is past the end of a list of {}",
                        arr.len()
                    )));
                }
                if *idx == arr.len() {
                    arr.push(Value::Null);
                }
                if last {
                    arr[*idx] = value;
                    return Ok(());
                }
                &mut arr[*idx]
            }
        };
    }
    Ok(())
}

/// The value at `path`, if present.
pub fn get_path<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    let steps = parse_path(path).ok()?;
    let mut cur = root;
    for step in &steps {
        cur = match step {
            PathStep::Key(k) => cur.get(k)?,
            PathStep::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}

/// Applies one `--set key=value` override. The value is read as a TOML value (`0.01`,
/// `"AdamW"`, `[0.9, 0.99]`, `{ type = "L2", weight = 1e-4 }`, `true`); text that is not
/// valid TOML is taken as a string (`--set optimizer.type=AdamW`).
///
/// # Errors
/// A malformed override or path.
pub fn apply_override(root: &mut Value, assignment: &str) -> Result<(), ValueError> {
    let (key, raw) = assignment.split_once('=').ok_or_else(|| {
        ValueError::Syntax(format!("override `{assignment}`: expected KEY=VALUE"))
    })?;
    let key = key.trim();
    let raw = raw.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => super::text::toml_to_json(&t.remove("v").expect("parsed key"), key)?,
        Err(_) => Value::String(raw.to_string()),
    };
    set_path(root, key, value).map_err(|e| e.prefixed("override "))
}

/// Removes the value at `path` (`--unset scheduler` drops the schedule,
/// `--unset model.layers[3]` a layer).
///
/// # Errors
/// A malformed path, or nothing at `path`.
pub fn unset_path(root: &mut Value, path: &str) -> Result<(), ValueError> {
    let steps = parse_path(path)?;
    let (last, parents) = steps
        .split_last()
        .expect("parse_path gives at least one step");
    let mut cur = root;
    for step in parents {
        cur = match step {
            PathStep::Key(k) => cur.get_mut(k.as_str()),
            PathStep::Index(i) => cur.get_mut(*i),
        }
        .ok_or_else(|| ValueError::Missing(format!("--unset `{path}`: nothing there")))?;
    }
    let removed = match last {
        PathStep::Key(k) => cur.as_object_mut().and_then(|o| o.remove(k)),
        PathStep::Index(i) => cur
            .as_array_mut()
            .filter(|a| *i < a.len())
            .map(|a| a.remove(*i)),
    };
    removed
        .map(|_| ())
        .ok_or_else(|| ValueError::Missing(format!("--unset `{path}`: nothing there")))
}
