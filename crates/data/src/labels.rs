//! Class labels read from text cells: integer class indices or names, mapped to indices with
//! a class-name list given by the user, fitted on the data (scikit-learn's `LabelEncoder`:
//! names sorted), or saved by an earlier run.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::DataError;

/// The largest class index an integer label may have when no class names are given (a
/// larger one is almost certainly a real-valued column read as a class).
const MAX_INTEGER_LABEL: u64 = 1_000_000;

/// One label cell and the line it was read from.
#[derive(Clone, Copy, Debug)]
pub struct LabelCell<'a> {
    /// The 1-based line (or record number) in the file.
    pub line: usize,
    /// The cell, trimmed.
    pub text: &'a str,
}

/// A label cell as a non-negative integer (`3`, `3.0`), if it is one.
pub fn integer_label(cell: &str) -> Option<u64> {
    if let Ok(v) = cell.parse::<u64>() {
        return Some(v);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1e15 => Some(v as u64),
        _ => None,
    }
}

/// Maps label cells to class indices. With `names` (the user's `class_names`, or the classes a
/// run saved), a cell is a name in the list or an integer index below its length; without,
/// integer labels are indices named `"0"`, `"1"`, ... and other labels are names sorted
/// alphabetically.
///
/// # Errors
/// [`DataError::Parse`] naming `file`, the line and `what` (the label column) for a label that
/// is not a class, an empty label, or labels that are real numbers (then the message points at
/// `task = "regression"`).
pub fn class_labels(
    file: &Path,
    what: &str,
    cells: &[LabelCell<'_>],
    names: Option<&[String]>,
) -> Result<(Vec<usize>, Vec<String>), DataError> {
    let at = |c: &LabelCell<'_>| format!("line {}", c.line);
    if let Some(c) = cells.iter().find(|c| c.text.is_empty()) {
        return Err(DataError::parse(
            file,
            at(c),
            format!("{what}: empty label"),
        ));
    }
    if let Some(names) = names {
        let labels = cells
            .iter()
            .map(|c| named_label(file, what, c, names))
            .collect::<Result<_, _>>()?;
        return Ok((labels, names.to_vec()));
    }
    let ints: Option<Vec<u64>> = cells.iter().map(|c| integer_label(c.text)).collect();
    if let Some(ints) = ints {
        if let Some((c, k)) = cells
            .iter()
            .zip(&ints)
            .find(|(_, &k)| k >= MAX_INTEGER_LABEL)
        {
            return Err(DataError::parse(
                file,
                at(c),
                format!(
                    "{what}: label {k} is too large for a class index (is this a regression \
                     target? set task = \"regression\")"
                ),
            ));
        }
        let labels: Vec<usize> = ints.iter().map(|&k| k as usize).collect();
        let num_classes = labels.iter().max().map_or(0, |m| m + 1);
        return Ok((labels, (0..num_classes).map(|k| k.to_string()).collect()));
    }
    reject_real_numbers(file, what, cells)?;
    let names: Vec<String> = cells
        .iter()
        .map(|c| c.text.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels = cells
        .iter()
        .map(|c| {
            names
                .binary_search_by(|n| n.as_str().cmp(c.text))
                .expect("collected above")
        })
        .collect();
    Ok((labels, names))
}

fn named_label(
    file: &Path,
    what: &str,
    c: &LabelCell<'_>,
    names: &[String],
) -> Result<usize, DataError> {
    if let Some(k) = names.iter().position(|n| n == c.text) {
        return Ok(k);
    }
    let at = format!("line {}", c.line);
    match integer_label(c.text) {
        Some(k) if (k as usize) < names.len() && k < MAX_INTEGER_LABEL => Ok(k as usize),
        Some(k) => Err(DataError::parse(
            file,
            at,
            format!(
                "{what}: label {k} is out of range for the {} class_names {names:?}",
                names.len()
            ),
        )),
        None => Err(DataError::parse(
            file,
            at,
            format!(
                "{what}: label {:?} is not one of the class_names {names:?}",
                c.text
            ),
        )),
    }
}

/// Labels that are all numbers but not all integers are values, not classes.
fn reject_real_numbers(file: &Path, what: &str, cells: &[LabelCell<'_>]) -> Result<(), DataError> {
    let numeric = cells
        .iter()
        .all(|c| c.text.parse::<f64>().is_ok_and(f64::is_finite));
    if !numeric {
        return Ok(());
    }
    let c = cells
        .iter()
        .find(|c| integer_label(c.text).is_none())
        .expect("not all integers");
    let distinct = cells.iter().map(|c| c.text).collect::<BTreeSet<_>>().len();
    Err(DataError::parse(
        file,
        format!("line {}", c.line),
        format!(
            "{what}: label {:?} is a real number and the column holds {distinct} distinct \
             numbers: to predict them as values set data.task = \"regression\"; to treat \
             them as classes, list them in data.class_names",
            c.text
        ),
    ))
}

/// Checks that a classification's training labels hold at least two classes.
///
/// # Errors
/// [`DataError::Config`] on `data.label` naming the single class.
pub fn check_two_classes(labels: &[usize], names: &[String]) -> Result<(), DataError> {
    let seen: BTreeSet<usize> = labels.iter().copied().collect();
    if seen.len() < 2 {
        let only = seen
            .iter()
            .next()
            .and_then(|&k| names.get(k))
            .map_or("none".to_string(), |n| format!("{n:?}"));
        return Err(DataError::config(
            "data.label",
            format!(
                "the training data holds a single class ({only}): a classifier needs at least \
                 two (is the label column right?)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells<'a>(texts: &[&'a str]) -> Vec<LabelCell<'a>> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| LabelCell {
                line: i + 2,
                text: t,
            })
            .collect()
    }

    #[test]
    fn integers_names_and_given_names() {
        let f = Path::new("t.csv");
        let (l, n) = class_labels(f, "y", &cells(&["2", "0", "1.0"]), None).unwrap();
        assert_eq!(
            (l, n),
            (vec![2, 0, 1], vec!["0".into(), "1".into(), "2".into()])
        );
        let (l, n) = class_labels(f, "y", &cells(&["dog", "cat"]), None).unwrap();
        assert_eq!((l, n), (vec![1, 0], vec!["cat".into(), "dog".into()]));
        let names = ["b".to_string(), "a".to_string()];
        let (l, _) = class_labels(f, "y", &cells(&["a", "1", "b"]), Some(&names)).unwrap();
        assert_eq!(l, vec![1, 1, 0]);
    }

    #[test]
    fn real_numbers_point_at_regression() {
        let e = class_labels(
            Path::new("t.csv"),
            "column \"price\"",
            &cells(&["3", "12.5"]),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("t.csv: line 3: column \"price\": label \"12.5\""),
            "{e}"
        );
        assert!(e.contains("task = \"regression\""), "{e}");
    }

    #[test]
    fn single_class_is_an_error() {
        let e = check_two_classes(&[1, 1], &["a".into(), "b".into()]).unwrap_err();
        assert!(e.to_string().contains("single class (\"b\")"), "{e}");
        check_two_classes(&[0, 1], &["a".into(), "b".into()]).unwrap();
    }
}
