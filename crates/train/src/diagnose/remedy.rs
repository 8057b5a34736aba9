//! Remedies: the changes to an experiment file a finding suggests, each a `--set PATH=VALUE`
//! or `--unset PATH` valid for that experiment's plugins, and which way it moves the
//! experiment's knobs (so that one report never pulls a knob both ways).

use serde::Serialize;
use serde_json::Value;

use crate::experiment::Edit;

/// One change to the experiment file: what `tuna train --set PATH=VALUE` or `--unset PATH`
/// does.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Change {
    /// Set the value at a path (`optimizer.lr`, `model.layers[2]`).
    Set {
        /// The path in the experiment file.
        path: String,
        /// The new value.
        value: Value,
    },
    /// Remove the value at a path (a key, a list item, a section).
    Unset {
        /// The path in the experiment file.
        path: String,
    },
}

impl Change {
    /// `--set PATH=VALUE`.
    pub fn set(path: impl Into<String>, value: impl Into<Value>) -> Change {
        Change::Set {
            path: path.into(),
            value: value.into(),
        }
    }

    /// `--unset PATH`.
    pub fn unset(path: impl Into<String>) -> Change {
        Change::Unset { path: path.into() }
    }

    /// The path the change touches.
    pub fn path(&self) -> &str {
        match self {
            Change::Set { path, .. } | Change::Unset { path } => path,
        }
    }

    /// The `key=value` argument of `--set` (the value written as TOML), or the key of
    /// `--unset`.
    pub fn argument(&self) -> String {
        match self {
            Change::Set { path, value } => format!("{path}={}", toml_value(value)),
            Change::Unset { path } => path.clone(),
        }
    }

    /// The command-line form: `--set 'optimizer.lr=0.01'` or `--unset scheduler`.
    pub fn to_cli(&self) -> String {
        match self {
            Change::Set { .. } => format!("--set {}", shell_word(&self.argument())),
            Change::Unset { .. } => format!("--unset {}", shell_word(&self.argument())),
        }
    }

    /// The change as a [`crate::experiment::edit_toml`] edit.
    pub fn to_edit(&self) -> Edit {
        match self {
            Change::Set { path, value } => Edit::Set(path.clone(), value.clone()),
            Change::Unset { path } => Edit::Unset(path.clone()),
        }
    }
}

/// A value written as TOML (inline tables and arrays, strings quoted, floats with a point).
pub fn toml_value(v: &Value) -> String {
    match v {
        Value::Null => "\"\"".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => float(f),
            _ => n.to_string(),
        },
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, v)| format!("{k} = {}", toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A float as TOML: `0.05`, `3.0e-4`, never an integer literal.
fn float(f: f64) -> String {
    let s = if f != 0.0 && !(1e-3..1e6).contains(&f.abs()) {
        format!("{f:e}")
    } else {
        format!("{f}")
    };
    if s.contains(['.', 'e', 'E', 'n', 'i']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// `s` quoted for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@[]".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A setting that remedies push one way or the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Knob {
    /// The learning rate (whichever setting is in control of it).
    Lr,
    /// The model's size (width, depth).
    Capacity,
    /// Regularization: dropout, weight decay, penalties, label smoothing.
    Regularization,
    /// How long training runs (epochs, early stopping).
    Epochs,
    /// Samples per batch.
    BatchSize,
    /// The training data (how much of it is used).
    Data,
}

/// Which way a remedy moves a [`Knob`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// More / higher.
    Up,
    /// Less / lower.
    Down,
}

/// One suggested fix: the changes to make together, why, and the knobs it moves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Remedy {
    /// Applied together (widening a layer changes the next layer's input size too).
    pub changes: Vec<Change>,
    /// What it does, in a few words.
    pub why: String,
    /// The knobs it moves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<(Knob, Direction)>,
}

impl Remedy {
    /// A remedy of `changes` explained by `why`.
    pub fn new(changes: Vec<Change>, why: impl Into<String>) -> Remedy {
        Remedy {
            changes,
            why: why.into(),
            moves: Vec::new(),
        }
    }

    /// The remedy moving `knob` in `direction`.
    pub fn moving(mut self, knob: Knob, direction: Direction) -> Remedy {
        self.moves.push((knob, direction));
        self
    }

    /// The command-line form of all its changes (`--set a=1 --unset b`).
    pub fn to_cli(&self) -> String {
        self.changes
            .iter()
            .map(Change::to_cli)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether this remedy pulls a knob the other way from `other`, or sets a path `other`
    /// sets to something else.
    pub fn contradicts(&self, other: &Remedy) -> bool {
        let knobs = self
            .moves
            .iter()
            .any(|(k, d)| other.moves.iter().any(|(k2, d2)| k == k2 && d != d2));
        let paths = self
            .changes
            .iter()
            .any(|c| other.changes.iter().any(|o| o.path() == c.path() && o != c));
        knobs || paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_print_as_toml_arguments() {
        assert_eq!(
            Change::set("optimizer.lr", 0.05).to_cli(),
            "--set optimizer.lr=0.05"
        );
        assert_eq!(
            Change::set("train.epochs", 30).argument(),
            "train.epochs=30"
        );
        assert_eq!(
            Change::set("optimizer.lr", 3e-4).argument(),
            "optimizer.lr=3e-4"
        );
        assert_eq!(Change::set("x", 2.0).argument(), "x=2.0");
        assert_eq!(
            Change::set(
                "model.layers[2]",
                serde_json::json!({"type": "LeakyReLU", "negative_slope": 0.01})
            )
            .to_cli(),
            "--set 'model.layers[2]={ type = \"LeakyReLU\", negative_slope = 0.01 }'"
        );
        assert_eq!(
            Change::unset("data.train_subset").to_cli(),
            "--unset data.train_subset"
        );
    }

    #[test]
    fn remedies_that_pull_a_knob_both_ways_contradict() {
        let lower = Remedy::new(vec![Change::set("optimizer.lr", 0.01)], "lower")
            .moving(Knob::Lr, Direction::Down);
        let raise = Remedy::new(vec![Change::set("optimizer.lr", 1.0)], "raise")
            .moving(Knob::Lr, Direction::Up);
        let clip = Remedy::new(vec![Change::set("train.clip_grad_norm", 1.0)], "clip");
        assert!(lower.contradicts(&raise));
        assert!(!lower.contradicts(&clip));
        assert!(!lower.contradicts(&lower.clone()));
    }
}
