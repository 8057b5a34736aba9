//! CSV tables: the [`Csv`] data config (`type = "Csv"`): numeric and categorical feature
//! columns, missing values, a class or regression target, seeded (stratified) splits or
//! separate validation/test files, and preprocessing fitted on the training split and saved
//! with the run (pandas `read_csv` + scikit-learn `train_test_split(stratify=y)` +
//! `SimpleImputer` + `StandardScaler` + `OneHotEncoder`).

mod columns;
mod load;
mod predict;
mod reader;
mod table;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use columns::{CategoricalEncoding, FittedColumn, Impute, NotANumber, DEFAULT_NA_VALUES};
pub use load::{CsvPreprocessing, CsvTarget, IdColumn};
pub use reader::{parse_csv, read_csv, CsvReader, CsvRecord};
pub use table::{Column, Table};

use crate::config::{DataConfig, DataContext, DataSplits, PredictRows};
use crate::error::DataError;
use crate::split::{check_holdouts, Holdout};

/// What a [`Csv`] table's target is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvTask {
    /// One class label per row (integers or strings).
    #[default]
    Classification,
    /// One or more real-valued target columns.
    Regression,
}

/// The `[data]` section for a CSV table: feature columns (numbers, or categories one-hot
/// encoded) and a class label (or regression targets), split by seeded fractions (or given
/// files) into train/validation/test, with missing values imputed and numeric features
/// standardized using statistics of the training split only. Everything fitted is saved with
/// the run (`preprocessing.json`) and reused by eval, predict and resume.
///
/// ```toml
/// [data]
/// type = "Csv"
/// path = "../../datasets/iris/iris.csv"  # relative to the experiment file
/// header = false        # iris.csv has no header row ...
/// skip_rows = 1         # ... but a first line "150,4,setosa,versicolor,virginica"
/// label = -1            # the last column
/// class_names = ["setosa", "versicolor", "virginica"]
/// validation = 0.2      # or a file: validation = "iris-valid.csv"
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Csv {
    /// The CSV file (gzip-compressed or not). A relative path is looked up next to the
    /// experiment file, then in the working directory.
    pub path: PathBuf,
    /// The field separator, one character (`"\t"` for TSV). Default `","`.
    #[serde(default = "comma")]
    pub delimiter: String,
    /// The first row (after `skip_rows`) holds the column names. Default `true`.
    #[serde(default = "yes")]
    pub header: bool,
    /// Rows skipped before the header (or the data, without a header). Default `0`.
    #[serde(default)]
    pub skip_rows: usize,
    /// The label (classification) or single target (regression) column: a header name or a
    /// 0-based index, `-1` = the last column. Default: the last column (unless `targets` is
    /// set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Column>,
    /// The feature columns, by name or index, in this order. Default: every column that is
    /// not the label, a target or the id column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<Column>>,
    /// `"classification"` or `"regression"`. Default `"classification"`.
    #[serde(default)]
    pub task: CsvTask,
    /// Classification only: the class names in index order. String labels are mapped to their
    /// position in this list; integer labels are class indices and get these display names.
    /// Default: integer labels `0..=max` named `"0"`, `"1"`, ...; string labels in
    /// alphabetical order (scikit-learn's `LabelEncoder`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// Regression only: several target columns (instead of `label`), predicted together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Column>>,
    /// Rows held out for validation: a fraction of the file in `[0, 1)`, or a separate file
    /// with the same columns. Default `0.2`.
    #[serde(default = "point_two")]
    pub validation: Holdout,
    /// Rows held out for the final test: a fraction or a file. Default `0.0`.
    #[serde(default = "no_holdout")]
    pub test: Holdout,
    /// Classification only: split every class in proportion (scikit-learn's `stratify=y`).
    /// Default `true`; ignored for regression.
    #[serde(default = "yes")]
    pub stratified: bool,
    /// The seed of the train/validation/test split. Default: the experiment's `seed` (set
    /// this to vary the initialization while keeping the split, or the reverse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Standardize every numeric feature to `(x - mean) / std` with the mean and (population)
    /// std of the training split, applied to all splits; a constant feature gets std 1.
    /// Default `true`.
    #[serde(default = "yes")]
    pub standardize: bool,
    /// Regression only: standardize the targets with the training split's mean and std for
    /// training; predictions, losses and metrics are reported in the original units.
    /// Default `false`.
    #[serde(default)]
    pub standardize_target: bool,
    /// Columns that hold categories (one-hot encoded). Default: every feature column whose
    /// cells are not numbers is taken as categorical (and the run log says which).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical: Option<Vec<Column>>,
    /// `"one_hot"` (one 0/1 input per category; unseen categories give all zeros) or
    /// `"ordinal"` (one input: the category's index; unseen gives -1). Default `"one_hot"`.
    #[serde(default)]
    pub categorical_encoding: CategoricalEncoding,
    /// Cells read as missing. Default: pandas' list (`""`, `"NA"`, `"N/A"`, `"NaN"`,
    /// `"nan"`, `"null"`, `"None"`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub na_values: Option<Vec<String>>,
    /// How a missing numeric cell is filled: `"mean"`, `"median"`, `"most_frequent"` (of the
    /// training split) or `"constant"` (`fill_value`). Default `"mean"`. A missing category is
    /// a category of its own.
    #[serde(default)]
    pub impute: Impute,
    /// The value of `impute = "constant"`. Default `0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_value: Option<f32>,
    /// Add a 0/1 input after every numeric column that had missing cells in the training split
    /// (scikit-learn's `add_indicator`). Default `false`.
    #[serde(default)]
    pub missing_indicator: bool,
    /// A column that identifies rows (not a feature): `tuna predict` writes it in its output.
    /// Default: none (rows are numbered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_column: Option<Column>,
}

fn yes() -> bool {
    true
}

fn comma() -> String {
    ",".to_string()
}

fn point_two() -> Holdout {
    Holdout::Fraction(0.2)
}

fn no_holdout() -> Holdout {
    Holdout::Fraction(0.0)
}

impl Csv {
    /// The config with every default: comma-separated, header row, last column as class
    /// label, 20 % validation, stratified, standardized, categories detected, missing values
    /// imputed with the mean.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Csv {
            path: path.into(),
            delimiter: comma(),
            header: true,
            skip_rows: 0,
            label: None,
            features: None,
            task: CsvTask::Classification,
            class_names: None,
            targets: None,
            validation: point_two(),
            test: no_holdout(),
            stratified: true,
            split_seed: None,
            standardize: true,
            standardize_target: false,
            categorical: None,
            categorical_encoding: CategoricalEncoding::OneHot,
            na_values: None,
            impute: Impute::Mean,
            fill_value: None,
            missing_indicator: false,
            id_column: None,
        }
    }

    fn delimiter_char(&self) -> Result<char, DataError> {
        let mut chars = self.delimiter.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !matches!(c, '"' | '\n' | '\r') => Ok(c),
            _ => Err(DataError::config(
                "data.delimiter",
                format!(
                    "must be one character other than a quote or line break, got {:?}",
                    self.delimiter
                ),
            )),
        }
    }

    /// The cells read as missing.
    fn na_set(&self) -> BTreeSet<String> {
        match &self.na_values {
            Some(v) => v.iter().map(|s| s.trim().to_string()).collect(),
            None => DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn validate_task(&self) -> Result<(), DataError> {
        match self.task {
            CsvTask::Classification => {
                if self.targets.is_some() {
                    return Err(DataError::config(
                        "data.targets",
                        "only for task = \"regression\"; a classification uses `label`",
                    ));
                }
                if self.standardize_target {
                    return Err(DataError::config(
                        "data.standardize_target",
                        "only for task = \"regression\"",
                    ));
                }
                if let Some(names) = &self.class_names {
                    if names.is_empty() {
                        return Err(DataError::config(
                            "data.class_names",
                            "must hold at least one name",
                        ));
                    }
                    let unique: BTreeSet<&String> = names.iter().collect();
                    if unique.len() != names.len() {
                        return Err(DataError::config(
                            "data.class_names",
                            format!("names must be distinct, got {names:?}"),
                        ));
                    }
                }
            }
            CsvTask::Regression => {
                if self.class_names.is_some() {
                    return Err(DataError::config(
                        "data.class_names",
                        "only for task = \"classification\"",
                    ));
                }
                if let Some(t) = &self.targets {
                    if self.label.is_some() {
                        return Err(DataError::config(
                            "data.targets",
                            "set either `label` (one target) or `targets`, not both",
                        ));
                    }
                    if t.is_empty() {
                        return Err(DataError::config(
                            "data.targets",
                            "must name at least one column",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[typetag::serde(name = "Csv")]
impl DataConfig for Csv {
    fn validate(&self) -> Result<(), DataError> {
        if self.path.as_os_str().is_empty() {
            return Err(DataError::config("data.path", "must name a CSV file"));
        }
        self.delimiter_char()?;
        check_holdouts(&self.validation, &self.test)?;
        self.validate_task()?;
        if self.features.as_ref().is_some_and(Vec::is_empty) {
            return Err(DataError::config(
                "data.features",
                "must name at least one column (or be left out to use every other column)",
            ));
        }
        if self.fill_value.is_some() && self.impute != Impute::Constant {
            return Err(DataError::config(
                "data.fill_value",
                "only used with impute = \"constant\"",
            ));
        }
        if self.fill_value.is_some_and(|v| !v.is_finite()) {
            return Err(DataError::config(
                "data.fill_value",
                "must be a finite number",
            ));
        }
        Ok(())
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.validate()?;
        load::load(self, ctx)
    }

    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        let mut v = vec![("data.path".to_string(), &mut self.path)];
        if let Some(p) = self.validation.file_mut() {
            v.push(("data.validation".to_string(), p));
        }
        if let Some(p) = self.test.file_mut() {
            v.push(("data.test".to_string(), p));
        }
        v
    }

    fn predict_rows(
        &self,
        ctx: &DataContext,
        input: &Path,
    ) -> Result<Box<dyn PredictRows>, DataError> {
        predict::rows(self, ctx, input)
    }
}

/// The saved preprocessing of a run as a [`CsvPreprocessing`], if `value` is one.
///
/// # Errors
/// [`DataError::Preprocessing`] when `value` is not a Csv preprocessing.
pub fn csv_preprocessing(value: &Value) -> Result<CsvPreprocessing, DataError> {
    serde_json::from_value(value.clone()).map_err(|e| DataError::Preprocessing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_fields() {
        let mut c = Csv::new("x.csv");
        c.delimiter = ";;".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("data.delimiter: "));
        let mut c = Csv::new("x.csv");
        c.validation = Holdout::Fraction(0.6);
        c.test = Holdout::Fraction(0.5);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("data.test: "));
        let mut c = Csv::new("x.csv");
        c.targets = Some(vec![Column::Index(0)]);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("data.targets: "));
        let mut c = Csv::new("x.csv");
        c.class_names = Some(vec!["a".into(), "a".into()]);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("data.class_names: "));
        let mut c = Csv::new("x.csv");
        c.fill_value = Some(1.0);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("data.fill_value: "));
        Csv::new("x.csv").validate().unwrap();
    }
}
