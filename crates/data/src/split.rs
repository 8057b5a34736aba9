//! Seeded train/validation/test splits by fraction, optionally stratified by class
//! (scikit-learn's `train_test_split(..., stratify=y)`, `torch.utils.data.random_split`).
//!
//! A split is a function of `(n or labels, fractions, seed)` alone: the same seed gives the
//! same split on every machine and every run.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tuna_tensor::Generator;

use crate::error::DataError;

/// The stream of the experiment seed that splits draw from (distinct from the loader's
/// per-epoch streams, so the split and the first epoch's order are unrelated).
const SPLIT_STREAM: u64 = 0x5350_4c49_5400_0000; // "SPLIT"

/// The generator a split with `seed` draws from.
pub(crate) fn split_generator(seed: u64, purpose: u64) -> Generator {
    Generator::new(seed).split(SPLIT_STREAM ^ purpose)
}

/// Index lists of a train/validation/test split: disjoint, together covering `0..n`, each in
/// a seeded random order (as `torch.utils.data.random_split` returns them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitIndices {
    /// Indices of the training samples.
    pub train: Vec<usize>,
    /// Indices of the validation samples (empty when the validation fraction is 0).
    pub validation: Vec<usize>,
    /// Indices of the test samples (empty when the test fraction is 0).
    pub test: Vec<usize>,
}

/// A held-out split: a fraction of the training file's rows (`validation = 0.2`), or a file
/// of its own in the same format (`validation = "valid.csv"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Holdout {
    /// A fraction in `[0, 1)` of the training file, split off with the seed.
    Fraction(f64),
    /// A separate file (relative paths are resolved like the training file's).
    File(PathBuf),
}

impl From<f64> for Holdout {
    fn from(fraction: f64) -> Self {
        Holdout::Fraction(fraction)
    }
}

impl Holdout {
    /// The fraction taken from the training file (0 for a separate file).
    pub fn fraction(&self) -> f64 {
        match self {
            Holdout::Fraction(f) => *f,
            Holdout::File(_) => 0.0,
        }
    }

    /// The separate file, if any.
    pub fn file(&self) -> Option<&PathBuf> {
        match self {
            Holdout::File(p) => Some(p),
            Holdout::Fraction(_) => None,
        }
    }

    /// The separate file, mutably (for path resolution).
    pub fn file_mut(&mut self) -> Option<&mut PathBuf> {
        match self {
            Holdout::File(p) => Some(p),
            Holdout::Fraction(_) => None,
        }
    }
}

/// Checks the validation and test holdouts of a data section: fractions in `[0, 1)` summing
/// below 1, files with a non-empty name.
///
/// # Errors
/// [`DataError::Config`] naming `data.validation` or `data.test`.
pub fn check_holdouts(validation: &Holdout, test: &Holdout) -> Result<(), DataError> {
    for (field, h) in [("data.validation", validation), ("data.test", test)] {
        match h {
            Holdout::Fraction(f) => check_fraction(field, *f)?,
            Holdout::File(p) if p.as_os_str().is_empty() => {
                return Err(DataError::config(
                    field,
                    "must be a fraction in [0, 1) or the name of a file",
                ))
            }
            Holdout::File(_) => {}
        }
    }
    check_fractions(validation.fraction(), test.fraction())
}

/// Checks a held-out fraction: finite and in `[0, 1)`.
///
/// # Errors
/// [`DataError::Config`] naming `field`: `data.validation: must be in [0, 1), got 1.5`.
pub fn check_fraction(field: &str, value: f64) -> Result<(), DataError> {
    if value.is_finite() && (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(DataError::config(
            field,
            format!("must be a fraction in [0, 1), got {value}"),
        ))
    }
}

/// Checks the validation and test fractions together (each in `[0, 1)`, sum below 1).
fn check_fractions(validation: f64, test: f64) -> Result<(), DataError> {
    check_fraction("data.validation", validation)?;
    check_fraction("data.test", test)?;
    if validation + test >= 1.0 {
        return Err(DataError::config(
            "data.test",
            format!(
                "validation + test must be below 1 so that samples remain for training, \
                 got {validation} + {test}"
            ),
        ));
    }
    Ok(())
}

/// The number of samples a fraction of `n` holds: `round(fraction · n)`, at least 1 when the
/// fraction is positive and `n >= 2`.
fn held_out(n: usize, fraction: f64) -> usize {
    if fraction <= 0.0 || n == 0 {
        return 0;
    }
    let k = (fraction * n as f64).round() as usize;
    if n >= 2 {
        k.max(1)
    } else {
        k
    }
}

/// The sizes of the validation and test parts of `n` samples; at least one sample is left
/// for training.
fn split_sizes(n: usize, validation: f64, test: f64) -> Result<(usize, usize), DataError> {
    let n_val = held_out(n, validation);
    let n_test = held_out(n, test);
    if n_val + n_test >= n && n_val + n_test > 0 {
        return Err(DataError::config(
            "data.validation",
            format!(
                "{n} samples are too few to hold out {n_val} for validation and {n_test} for \
                 test and still train on at least one"
            ),
        ));
    }
    Ok((n_val, n_test))
}

/// A seeded random split of `0..n`: `round(validation·n)` validation samples,
/// `round(test·n)` test samples, the rest for training (`torch.utils.data.random_split`
/// with fractions).
///
/// # Errors
/// [`DataError::Config`] for a fraction outside `[0, 1)`, fractions summing to 1 or more, or
/// too few samples to leave one for training.
pub fn random_split(
    n: usize,
    validation: f64,
    test: f64,
    seed: u64,
) -> Result<SplitIndices, DataError> {
    check_fractions(validation, test)?;
    let (n_val, n_test) = split_sizes(n, validation, test)?;
    let perm = split_generator(seed, 0).randperm(n);
    Ok(SplitIndices {
        validation: perm[..n_val].to_vec(),
        test: perm[n_val..n_val + n_test].to_vec(),
        train: perm[n_val + n_test..].to_vec(),
    })
}

/// Splits `total` items into parts proportional to `weights` (largest remainder, ties to the
/// lower index): the parts sum to `total`.
fn apportion(total: usize, weights: &[usize]) -> Vec<usize> {
    let sum: usize = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<usize> = weights.iter().map(|&w| w * total / sum).collect();
    let mut rem: Vec<(usize, usize)> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| ((w * total) % sum, i))
        .collect();
    // Largest remainder first; ties to the lower index (deterministic).
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = total - parts.iter().sum::<usize>();
    for &(_, i) in rem.iter().take(left) {
        parts[i] += 1;
    }
    parts
}

/// Per-class counts of one held-out split: proportional to the class sizes, summing to
/// `target`, and — where possible — at least one sample of every class with 2 or more
/// samples left after the splits already taken (`taken`).
/// `reserve` is the number of held-out splits still to come that should get one sample of
/// each class too.
fn stratum_counts(target: usize, sizes: &[usize], taken: &[usize], reserve: usize) -> Vec<usize> {
    let avail: Vec<usize> = sizes.iter().zip(taken).map(|(s, t)| s - t).collect();
    // never take a class's last sample for training away, and leave one per later split
    let cap: Vec<usize> = avail
        .iter()
        .map(|&a| {
            if a >= 2 + reserve {
                a - 1 - reserve
            } else {
                a.saturating_sub(1)
            }
        })
        .collect();
    let mut counts = apportion(target, sizes);
    for (c, m) in counts.iter_mut().zip(&cap) {
        *c = (*c).min(*m);
    }
    if target == 0 {
        return counts;
    }
    // Every class that can spare one (and keep one for training) gets one.
    for c in 0..sizes.len() {
        if counts[c] == 0 && sizes[c] >= 2 && cap[c] >= 1 {
            counts[c] = 1;
        }
    }
    // Bring the total back to `target`: take from the class holding the most, add to the
    // class with the most room (ties to the lower class index).
    let mut total: usize = counts.iter().sum();
    while total > target {
        let c = (0..counts.len())
            .filter(|&c| counts[c] > 1)
            .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)));
        match c {
            Some(c) => counts[c] -= 1,
            None => break,
        }
        total -= 1;
    }
    while total < target {
        let c = (0..counts.len())
            .filter(|&c| counts[c] < cap[c])
            .max_by(|&a, &b| {
                (cap[a] - counts[a])
                    .cmp(&(cap[b] - counts[b]))
                    .then(b.cmp(&a))
            });
        match c {
            Some(c) => counts[c] += 1,
            None => break,
        }
        total += 1;
    }
    counts
}

/// A seeded split stratified by class (scikit-learn's `train_test_split(stratify=labels)`):
/// each split holds every class in (as nearly as possible) the proportions of the whole, every
/// class with at least 2 samples gets at least one sample in each non-empty held-out split
/// where that still leaves one for training, and the split sizes are those of
/// [`random_split`] as far as the class sizes allow.
///
/// # Errors
/// As [`random_split`], and [`DataError::Config`] if a label is `>= num_classes`.
pub fn stratified_split(
    labels: &[usize],
    num_classes: usize,
    validation: f64,
    test: f64,
    seed: u64,
) -> Result<SplitIndices, DataError> {
    check_fractions(validation, test)?;
    let n = labels.len();
    let (n_val, n_test) = split_sizes(n, validation, test)?;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        if l >= num_classes {
            return Err(DataError::config(
                "data.stratified",
                format!("label {l} of sample {i} is out of range for {num_classes} classes"),
            ));
        }
        by_class[l].push(i);
    }
    let sizes: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let val_counts = stratum_counts(
        n_val,
        &sizes,
        &vec![0; num_classes],
        usize::from(n_test > 0),
    );
    let test_counts = stratum_counts(n_test, &sizes, &val_counts, 0);

    let gen = split_generator(seed, 1);
    let mut out = SplitIndices::default();
    for (c, members) in by_class.iter().enumerate() {
        let perm = gen.split(c as u64).randperm(members.len());
        let (v, t) = (val_counts[c], test_counts[c]);
        out.validation.extend(perm[..v].iter().map(|&p| members[p]));
        out.test.extend(perm[v..v + t].iter().map(|&p| members[p]));
        out.train.extend(perm[v + t..].iter().map(|&p| members[p]));
    }
    // Interleave the classes: each split in a seeded random order.
    for (k, part) in [&mut out.train, &mut out.validation, &mut out.test]
        .into_iter()
        .enumerate()
    {
        let perm = gen.split(u64::MAX - k as u64).randperm(part.len());
        *part = perm.iter().map(|&p| part[p]).collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<usize>) -> Vec<usize> {
        v.sort_unstable();
        v
    }

    fn covers(s: &SplitIndices, n: usize) -> bool {
        let mut all = s.train.clone();
        all.extend(&s.validation);
        all.extend(&s.test);
        sorted(all) == (0..n).collect::<Vec<_>>()
    }

    #[test]
    fn random_split_sizes_and_cover() {
        let s = random_split(100, 0.2, 0.1, 7).unwrap();
        assert_eq!(
            (s.train.len(), s.validation.len(), s.test.len()),
            (70, 20, 10)
        );
        assert!(covers(&s, 100));
        assert_eq!(s, random_split(100, 0.2, 0.1, 7).unwrap());
        assert_ne!(s, random_split(100, 0.2, 0.1, 8).unwrap());
        let none = random_split(10, 0.0, 0.0, 0).unwrap();
        assert_eq!(none.train.len(), 10);
        assert!(none.validation.is_empty() && none.test.is_empty());
    }

    #[test]
    fn fractions_checked() {
        let e = random_split(10, 1.5, 0.0, 0).unwrap_err().to_string();
        assert!(e.starts_with("data.validation: "), "{e}");
        let e = random_split(10, 0.5, 0.5, 0).unwrap_err().to_string();
        assert!(e.starts_with("data.test: "), "{e}");
        assert!(random_split(10, f64::NAN, 0.0, 0).is_err());
        assert!(random_split(1, 0.5, 0.0, 0).is_err());
    }

    #[test]
    fn apportion_sums() {
        assert_eq!(apportion(10, &[50, 50, 50]), vec![4, 3, 3]);
        assert_eq!(apportion(30, &[50, 50, 50]), vec![10, 10, 10]);
        assert_eq!(apportion(0, &[3, 4]), vec![0, 0]);
    }

    #[test]
    fn stratified_keeps_proportions() {
        let labels: Vec<usize> = (0..150).map(|i| i / 50).collect();
        let s = stratified_split(&labels, 3, 0.2, 0.0, 0).unwrap();
        assert!(covers(&s, 150));
        for c in 0..3 {
            let v = s.validation.iter().filter(|&&i| labels[i] == c).count();
            assert_eq!(v, 10);
        }
    }

    #[test]
    fn stratified_small_classes_get_one_each() {
        // class 2 has 2 samples: 10 % of 42 rounds to 4, but class 2 still gets one
        let mut labels = vec![0; 30];
        labels.extend(vec![1; 10]);
        labels.extend(vec![2; 2]);
        let s = stratified_split(&labels, 3, 0.1, 0.1, 3).unwrap();
        assert!(covers(&s, labels.len()));
        for part in [&s.validation, &s.test] {
            assert_eq!(part.len(), 4);
            for c in 0..2 {
                assert!(part.iter().any(|&i| labels[i] == c));
            }
        }
        // both samples of class 2 cannot go to held-out splits
        assert!(s.train.iter().any(|&i| labels[i] == 2));
        // a single-sample class stays in training
        let s = stratified_split(&[0, 0, 0, 0, 1], 2, 0.4, 0.0, 0).unwrap();
        assert_eq!(s.train.iter().filter(|&&i| i == 4).count(), 1);
    }
}
