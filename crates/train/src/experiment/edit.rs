//! Editing an experiment file's text in place: setting and removing values by path while
//! keeping the user's comments, key order and formatting (`toml_edit`). What `lr-find
//! --apply`, `diagnose --apply` and a study's `best.toml` use to write experiment files.

use serde_json::Value;
use toml_edit::{DocumentMut, Item};

use super::value_path::{parse_path, PathStep};
use super::ValueError;

/// One change to an experiment file.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Set the value at a path (tables are created as needed).
    Set(String, Value),
    /// Remove the value at a path.
    Unset(String),
}

/// `text` (TOML) with `edits` applied, comments and order kept.
///
/// # Errors
/// Text that is not TOML, or a path through a value that is not a table or list.
pub fn edit_toml(text: &str, edits: &[Edit]) -> Result<String, ValueError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| ValueError::Syntax(format!("invalid TOML: {e}")))?;
    for e in edits {
        match e {
            Edit::Set(path, v) => set(doc.as_item_mut(), path, v)?,
            Edit::Unset(path) => unset(doc.as_item_mut(), path)?,
        }
    }
    Ok(doc.to_string())
}

/// A JSON value as a TOML value (`"inf"` strings become TOML's `inf`).
fn to_toml_value(v: &Value) -> Result<toml_edit::Value, ValueError> {
    Ok(match v {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(s) if s == "inf" => f64::INFINITY.into(),
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY.into(),
        Value::String(s) => s.as_str().into(),
        Value::Array(a) => {
            let mut arr = toml_edit::Array::new();
            for x in a {
                arr.push(to_toml_value(x)?);
            }
            arr.into()
        }
        Value::Object(o) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, x) in o {
                t.insert(k, to_toml_value(x)?);
            }
            t.into()
        }
        Value::Null => {
            return Err(ValueError::Unrepresentable(
                "cannot write an empty value".into(),
            ))
        }
    })
}

/// Sets `v` at `steps` below `item`, creating tables for missing keys.
fn set_item(item: &mut Item, steps: &[PathStep], v: &Value, path: &str) -> Result<(), ValueError> {
    let Some((first, rest)) = steps.split_first() else {
        let mut value = to_toml_value(v)?;
        if let Some(old) = item.as_value() {
            *value.decor_mut() = old.decor().clone();
        }
        *item = Item::Value(value);
        return Ok(());
    };
    match first {
        PathStep::Key(k) => {
            if item.is_none() {
                *item = Item::Table(toml_edit::Table::new());
            }
            let t = item.as_table_like_mut().ok_or_else(|| {
                ValueError::Path(format!(
                    "`{path}`: `{k}` is inside a value that is not a table"
                ))
            })?;
            if t.get(k).is_none() {
                let fresh = if rest.is_empty() {
                    Item::Value(to_toml_value(v)?)
                } else {
                    Item::Table(toml_edit::Table::new())
                };
                t.insert(k, fresh);
            }
            let next = t
                .get_mut(k)
                .ok_or_else(|| ValueError::Path(format!("`{path}`: cannot write `{k}` here")))?;
            set_item(next, rest, v, path)
        }
        PathStep::Index(i) => {
            let len = item
                .as_array()
                .map(toml_edit::Array::len)
                .or_else(|| item.as_array_of_tables().map(toml_edit::ArrayOfTables::len))
                .ok_or_else(|| {
                    ValueError::Path(format!(
                        "`{path}`: [{i}] indexes a value that is not a list"
                    ))
                })?;
            if *i == len && rest.is_empty() {
                if let Some(a) = item.as_array_mut() {
                    a.push(to_toml_value(v)?);
                    return Ok(());
                }
            }
            let next = item.get_mut(*i).ok_or_else(|| {
                ValueError::Path(format!(
                    "`{path}`: index {i} is past the end of a list of {len}"
                ))
            })?;
            set_item(next, rest, v, path)
        }
    }
}

fn set(root: &mut Item, path: &str, v: &Value) -> Result<(), ValueError> {
    let steps = parse_path(path)?;
    set_item(root, &steps, v, path)
}

fn unset(root: &mut Item, path: &str) -> Result<(), ValueError> {
    let steps = parse_path(path)?;
    let (last, parents) = steps.split_last().expect("non-empty path");
    let mut cur = root;
    for step in parents {
        cur = match step {
            PathStep::Key(k) => cur.get_mut(k.as_str()),
            PathStep::Index(i) => cur.get_mut(*i),
        }
        .ok_or_else(|| ValueError::Missing(format!("`{path}`: nothing there")))?;
    }
    let removed = match last {
        PathStep::Key(k) => cur.as_table_like_mut().and_then(|t| t.remove(k)).is_some(),
        PathStep::Index(i) => {
            if let Some(a) = cur.as_array_mut().filter(|a| *i < a.len()) {
                a.remove(*i);
                true
            } else if let Some(a) = cur.as_array_of_tables_mut().filter(|a| *i < a.len()) {
                a.remove(*i);
                true
            } else {
                false
            }
        }
    };
    if removed {
        Ok(())
    } else {
        Err(ValueError::Missing(format!("`{path}`: nothing there")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# my experiment
seed = 0

[optimizer]
type = \"SGD\"   # plain SGD
lr = 0.05        # tuned by hand
momentum = 0.9

[model]
type = \"Sequential\"
layers = [
  { type = \"Linear\", in_features = 4, out_features = 8 },
  { type = \"Dropout\", p = 0.1 },
]

[scheduler]
type = \"OneCycleLR\"
max_lr = 0.1
";

    #[test]
    fn set_keeps_comments_and_order() {
        let out = edit_toml(
            FILE,
            &[
                Edit::Set("optimizer.lr".into(), Value::from(0.01)),
                Edit::Set("model.layers[1].p".into(), Value::from(0.3)),
                Edit::Set("train.epochs".into(), Value::from(5)),
            ],
        )
        .unwrap();
        assert!(out.contains("lr = 0.01        # tuned by hand"), "{out}");
        assert!(out.starts_with("# my experiment\nseed = 0\n"), "{out}");
        assert!(out.contains("{ type = \"Dropout\", p = 0.3 }"), "{out}");
        assert!(out.contains("[train]\nepochs = 5"), "{out}");
        let v: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(v["optimizer"]["momentum"].as_float(), Some(0.9));
    }

    #[test]
    fn unset_removes_a_section_or_key() {
        let out = edit_toml(
            FILE,
            &[
                Edit::Unset("scheduler".into()),
                Edit::Unset("optimizer.momentum".into()),
            ],
        )
        .unwrap();
        assert!(
            !out.contains("OneCycleLR") && !out.contains("momentum"),
            "{out}"
        );
        assert!(out.contains("# plain SGD"), "{out}");
        assert!(edit_toml(FILE, &[Edit::Unset("loader".into())]).is_err());
    }
}
