//! Feature columns of a table: numeric or categorical, missing values, and the preprocessing
//! fitted on the training rows (imputation, standardization, category lists) that turns a
//! row into the model's input vector — scikit-learn's `SimpleImputer` (+ `add_indicator`),
//! `StandardScaler` and `OneHotEncoder(handle_unknown="ignore")` / `OrdinalEncoder`.

use serde::{Deserialize, Serialize};

/// The cells pandas' `read_csv` reads as missing by default (`na_values`).
pub const DEFAULT_NA_VALUES: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// How missing numeric values are filled (scikit-learn's `SimpleImputer(strategy=...)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// The training rows' mean (the default).
    #[default]
    Mean,
    /// The training rows' median.
    Median,
    /// The training rows' most frequent value (the smallest on ties).
    MostFrequent,
    /// `fill_value`.
    Constant,
}

/// How a categorical column becomes numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalEncoding {
    /// One 0/1 input per category (scikit-learn's `OneHotEncoder`); an unseen category gives
    /// all zeros (`handle_unknown="ignore"`). The default.
    #[default]
    OneHot,
    /// One input holding the category's index in the sorted category list (scikit-learn's
    /// `OrdinalEncoder`); an unseen category gives -1 (`unknown_value=-1`).
    Ordinal,
}

/// One feature column with everything fitted on the training rows, in model-input order.
/// This is what `preprocessing.json` holds per column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FittedColumn {
    /// A numeric column: `x' = (x - mean) / std`, a missing `x` replaced by `fill` first,
    /// followed by a 0/1 missing indicator input when `missing_indicator`.
    Numeric {
        /// The header name (`"column 3"` without a header).
        name: String,
        /// The 0-based position in the training file.
        column: usize,
        /// The value a missing cell gets (before standardization).
        fill: f32,
        /// Subtracted after imputation (0 when not standardized).
        mean: f32,
        /// Divided by after centring (1 when not standardized).
        std: f32,
        /// Whether a 0/1 "was missing" input follows this one.
        missing_indicator: bool,
    },
    /// A categorical column.
    Categorical {
        /// The header name.
        name: String,
        /// The 0-based position in the training file.
        column: usize,
        /// The categories seen in the training rows, sorted; a missing cell is the category
        /// `null` when the training rows had missing cells (listed last), else unknown.
        categories: Vec<Option<String>>,
        /// One-hot or ordinal.
        encoding: CategoricalEncoding,
    },
}

impl FittedColumn {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            FittedColumn::Numeric { name, .. } | FittedColumn::Categorical { name, .. } => name,
        }
    }

    /// The column's position in the training file.
    pub fn column(&self) -> usize {
        match self {
            FittedColumn::Numeric { column, .. } | FittedColumn::Categorical { column, .. } => {
                *column
            }
        }
    }

    /// The names of the model inputs this column produces (`age`, `age_missing`,
    /// `color=blue`, ...).
    pub fn input_names(&self) -> Vec<String> {
        match self {
            FittedColumn::Numeric {
                name,
                missing_indicator,
                ..
            } => {
                let mut v = vec![name.clone()];
                if *missing_indicator {
                    v.push(format!("{name}_missing"));
                }
                v
            }
            FittedColumn::Categorical {
                name,
                categories,
                encoding: CategoricalEncoding::OneHot,
                ..
            } => categories
                .iter()
                .map(|c| format!("{name}={}", c.as_deref().unwrap_or("(missing)")))
                .collect(),
            FittedColumn::Categorical { name, .. } => vec![name.clone()],
        }
    }

    /// Appends the model inputs of one cell (`None` = missing) to `out`.
    ///
    /// # Errors
    /// A numeric column's cell that is not a finite number.
    pub fn encode(&self, cell: Option<&str>, out: &mut Vec<f32>) -> Result<(), NotANumber> {
        match self {
            FittedColumn::Numeric {
                fill,
                mean,
                std,
                missing_indicator,
                ..
            } => {
                let x = match cell {
                    None => *fill,
                    Some(c) => parse_number(c).ok_or_else(|| NotANumber {
                        found: c.to_string(),
                    })?,
                };
                out.push((x - mean) / std);
                if *missing_indicator {
                    out.push(if cell.is_none() { 1.0 } else { 0.0 });
                }
            }
            FittedColumn::Categorical {
                categories,
                encoding,
                ..
            } => {
                let key = cell.map(str::to_string);
                let pos = categories.iter().position(|c| *c == key);
                match encoding {
                    CategoricalEncoding::OneHot => out
                        .extend((0..categories.len()).map(|k| f32::from(u8::from(pos == Some(k))))),
                    CategoricalEncoding::Ordinal => {
                        out.push(pos.map_or(-1.0, |p| p as f32));
                    }
                }
            }
        }
        Ok(())
    }
}

/// A numeric column's cell that is not a finite number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected a finite number, found {found:?}")]
pub struct NotANumber {
    /// The cell's text.
    pub found: String,
}

/// A cell as a finite number, if it is one.
pub fn parse_number(cell: &str) -> Option<f32> {
    cell.trim().parse::<f32>().ok().filter(|v| v.is_finite())
}

/// The options that decide how a numeric column is fitted.
#[derive(Clone, Copy, Debug)]
pub struct NumericOptions {
    /// Imputation strategy.
    pub impute: Impute,
    /// `Impute::Constant`'s value.
    pub fill_value: f32,
    /// Standardize with the training mean and std.
    pub standardize: bool,
    /// Add a missing indicator for a column with missing training cells.
    pub missing_indicator: bool,
}

/// Fits a numeric column on its training values (`None` = missing).
pub fn fit_numeric(
    name: &str,
    column: usize,
    values: &[Option<f32>],
    opts: NumericOptions,
) -> FittedColumn {
    let present: Vec<f32> = values.iter().flatten().copied().collect();
    let fill = match opts.impute {
        _ if present.is_empty() => opts.fill_value,
        Impute::Mean => mean(&present) as f32,
        Impute::Median => median(&present),
        Impute::MostFrequent => most_frequent(&present),
        Impute::Constant => opts.fill_value,
    };
    let (m, s) = if opts.standardize {
        let filled: Vec<f32> = values.iter().map(|v| v.unwrap_or(fill)).collect();
        let m = mean(&filled);
        let var = filled
            .iter()
            .map(|&x| (f64::from(x) - m).powi(2))
            .sum::<f64>()
            / filled.len().max(1) as f64;
        let sd = var.sqrt() as f32;
        (m as f32, if sd > 0.0 && sd.is_finite() { sd } else { 1.0 })
    } else {
        (0.0, 1.0)
    };
    FittedColumn::Numeric {
        name: name.to_string(),
        column,
        fill,
        mean: m,
        std: s,
        missing_indicator: opts.missing_indicator && present.len() < values.len(),
    }
}

/// Fits a categorical column on its training cells (`None` = missing).
pub fn fit_categorical(
    name: &str,
    column: usize,
    cells: &[Option<&str>],
    encoding: CategoricalEncoding,
) -> FittedColumn {
    let mut categories: Vec<Option<String>> = cells
        .iter()
        .flatten()
        .map(|c| Some(c.to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if cells.iter().any(Option::is_none) {
        categories.push(None);
    }
    FittedColumn::Categorical {
        name: name.to_string(),
        column,
        categories,
        encoding,
    }
}

fn mean(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64
}

/// The median (mean of the two middle values for an even count, as NumPy).
fn median(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        ((f64::from(s[n / 2 - 1]) + f64::from(s[n / 2])) / 2.0) as f32
    }
}

/// The most frequent value, the smallest on ties (scikit-learn's `most_frequent`).
fn most_frequent(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let (mut best, mut best_n) = (s[0], 0usize);
    for run in s.chunk_by(|a, b| a == b) {
        if run.len() > best_n {
            best = run[0];
            best_n = run.len();
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(impute: Impute) -> NumericOptions {
        NumericOptions {
            impute,
            fill_value: -7.0,
            standardize: false,
            missing_indicator: true,
        }
    }

    #[test]
    fn imputation_strategies_match_scikit_learn() {
        let v = [Some(1.0), None, Some(3.0), Some(3.0), Some(10.0)];
        let fill = |i| match fit_numeric("a", 0, &v, opts(i)) {
            FittedColumn::Numeric { fill, .. } => fill,
            _ => unreachable!(),
        };
        assert_eq!(fill(Impute::Mean), 4.25);
        assert_eq!(fill(Impute::Median), 3.0);
        assert_eq!(fill(Impute::MostFrequent), 3.0);
        assert_eq!(fill(Impute::Constant), -7.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(most_frequent(&[2.0, 1.0, 2.0, 1.0]), 1.0);
    }

    #[test]
    fn numeric_encode_with_indicator_and_standardization() {
        let mut o = opts(Impute::Mean);
        o.standardize = true;
        let c = fit_numeric("age", 2, &[Some(1.0), None, Some(3.0)], o);
        // filled: 1, 2, 3 -> mean 2, population std sqrt(2/3)
        let mut out = Vec::new();
        c.encode(None, &mut out).unwrap();
        c.encode(Some("3"), &mut out).unwrap();
        let sd = (2.0f32 / 3.0).sqrt();
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], 1.0);
        assert!((out[2] - 1.0 / sd).abs() < 1e-6);
        assert_eq!(out[3], 0.0);
        assert_eq!(c.input_names(), ["age", "age_missing"]);
        assert!(c.encode(Some("green"), &mut out).is_err());
    }

    #[test]
    fn categorical_one_hot_ordinal_and_unknown() {
        let cells = [Some("red"), Some("blue"), None, Some("red")];
        let c = fit_categorical("color", 0, &cells, CategoricalEncoding::OneHot);
        assert_eq!(
            c.input_names(),
            ["color=blue", "color=red", "color=(missing)"]
        );
        let mut out = Vec::new();
        c.encode(Some("red"), &mut out).unwrap();
        c.encode(None, &mut out).unwrap();
        c.encode(Some("green"), &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        let o = fit_categorical("color", 0, &cells[..2], CategoricalEncoding::Ordinal);
        let mut out = Vec::new();
        for cell in [Some("blue"), Some("red"), Some("green"), None] {
            o.encode(cell, &mut out).unwrap();
        }
        assert_eq!(out, [0.0, 1.0, -1.0, -1.0]);
    }
}
