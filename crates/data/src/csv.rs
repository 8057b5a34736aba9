//! CSV tables: a small RFC 4180 reader ([`parse_csv`], [`read_csv`]) and the [`Csv`] data
//! config (`type = "Csv"`): numeric feature columns, a class or regression target, seeded
//! (stratified) splits and standardization fitted on the training split (pandas
//! `read_csv` + scikit-learn `train_test_split` + `StandardScaler`).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, DataContext, DataSplits, Task};
use crate::dataset::{Dataset, TensorDataset};
use crate::error::DataError;
use crate::normalize::Standardizer;
use crate::split::{check_fraction, random_split, stratified_split};

/// The largest class index an integer label may have when no `class_names` are given (a
/// larger one is almost certainly a real-valued column read as a class).
const MAX_INTEGER_LABEL: u64 = 1_000_000;

/// One CSV record: its fields and the (1-based) line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRecord {
    /// The line of the file the record starts on (1-based).
    pub line: usize,
    /// The fields, unquoted (`""` inside quotes becomes `"`); unquoted fields are trimmed of
    /// surrounding whitespace.
    pub fields: Vec<String>,
}

/// Parses CSV text (RFC 4180): fields separated by `delimiter`, records by `\n` or `\r\n`;
/// a field in double quotes may contain the delimiter, line breaks and doubled quotes (`""`).
/// Blank lines (anywhere, e.g. trailing) are skipped, and a leading UTF-8 byte-order mark
/// is ignored.
///
/// # Errors
/// [`DataError::Parse`] naming `file` and the line for an unterminated quoted field or text
/// after a closing quote.
pub fn parse_csv(file: &Path, text: &str, delimiter: char) -> Result<Vec<CsvRecord>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false; // the current field was quoted (and its quotes closed)
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut record_line = 1usize;
    let mut quote_line = 1usize;
    let mut chars = text.chars().peekable();

    fn end_field(fields: &mut Vec<String>, field: &mut String, quoted: &mut bool) {
        let f = std::mem::take(field);
        fields.push(if *quoted { f } else { f.trim().to_string() });
        *quoted = false;
    }

    let mut end_record = |fields: &mut Vec<String>, record_line: usize, had_quotes: bool| {
        let blank = fields.len() == 1 && fields[0].is_empty() && !had_quotes;
        let fs = std::mem::take(fields);
        if !blank {
            records.push(CsvRecord {
                line: record_line,
                fields: fs,
            });
        }
    };
    let mut record_had_quotes = false;

    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if !quoted && field.trim().is_empty() => {
                field.clear();
                in_quotes = true;
                quoted = true;
                record_had_quotes = true;
                quote_line = line;
            }
            c if c == delimiter => end_field(&mut fields, &mut field, &mut quoted),
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                end_field(&mut fields, &mut field, &mut quoted);
                end_record(&mut fields, record_line, record_had_quotes);
                record_had_quotes = false;
                line += 1;
                record_line = line;
            }
            c if quoted => {
                if !c.is_whitespace() {
                    return Err(DataError::parse(
                        file,
                        format!("line {line}"),
                        format!("unexpected {c:?} after a closing quote (a quote inside a quoted field is written \"\")"),
                    ));
                }
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(DataError::parse(
            file,
            format!("line {quote_line}"),
            "quoted field is never closed (missing '\"')",
        ));
    }
    if !field.is_empty() || !fields.is_empty() || quoted {
        end_field(&mut fields, &mut field, &mut quoted);
        end_record(&mut fields, record_line, record_had_quotes);
    }
    Ok(records)
}

/// Reads and parses a CSV file (see [`parse_csv`]).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read; [`DataError::Parse`] if it is not UTF-8 or
/// not valid CSV.
pub fn read_csv(path: &Path, delimiter: char) -> Result<Vec<CsvRecord>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        DataError::parse(
            path,
            format!("byte {}", e.utf8_error().valid_up_to()),
            "not valid UTF-8 text",
        )
    })?;
    parse_csv(path, &text, delimiter)
}

/// A CSV column, by header name or by 0-based index (negative counts from the end: `-1` is
/// the last column, as in Python).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Column {
    /// 0-based position; `-1` is the last column.
    Index(i64),
    /// The name in the header row (needs `header = true`).
    Name(String),
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Index(i) => write!(f, "{i}"),
            Column::Name(n) => write!(f, "{n:?}"),
        }
    }
}

impl From<&str> for Column {
    fn from(name: &str) -> Self {
        Column::Name(name.to_string())
    }
}

impl From<i64> for Column {
    fn from(index: i64) -> Self {
        Column::Index(index)
    }
}

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

/// The `[data]` section for a CSV table: numeric feature columns and a class label (or
/// regression targets), split by seeded fractions into train/validation/test, features
/// standardized with statistics of the training split.
///
/// Equivalent to `pandas.read_csv` + scikit-learn's
/// `train_test_split(stratify=y)` + `StandardScaler().fit(X_train)`.
///
/// ```toml
/// [data]
/// type = "Csv"
/// path = "datasets/iris/iris.csv"
/// header = false        # iris.csv has no header row ...
/// skip_rows = 1         # ... but a first line "150,4,setosa,versicolor,virginica"
/// label = -1            # the last column
/// class_names = ["setosa", "versicolor", "virginica"]
/// validation = 0.2
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Csv {
    /// The CSV file (relative paths are resolved with [`DataContext::resolve`]).
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
    /// not the label or a target.
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
    /// Fraction of the rows held out for validation, in `[0, 1)`. Default `0.2`.
    #[serde(default = "point_two")]
    pub validation: f64,
    /// Fraction of the rows held out for the final test, in `[0, 1)`. Default `0.0`.
    #[serde(default)]
    pub test: f64,
    /// Classification only: split every class in proportion (scikit-learn's `stratify=y`).
    /// Default `true`; ignored for regression.
    #[serde(default = "yes")]
    pub stratified: bool,
    /// Standardize every feature to `(x - mean) / std` with the mean and (population) std of
    /// the training split, applied to all splits; a constant feature gets std 1. Targets are
    /// not touched. Default `true`.
    #[serde(default = "yes")]
    pub standardize: bool,
}

fn yes() -> bool {
    true
}

fn comma() -> String {
    ",".to_string()
}

fn point_two() -> f64 {
    0.2
}

impl Csv {
    /// The config with every default: comma-separated, header row, last column as class
    /// label, 20 % validation, stratified, standardized.
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
            validation: 0.2,
            test: 0.0,
            stratified: true,
            standardize: true,
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
}

/// The columns of a table: their names (from the header) and count.
struct Columns<'a> {
    names: Option<&'a [String]>,
    count: usize,
    file: &'a Path,
}

impl Columns<'_> {
    /// How column `j` is named in messages: `"species"` or `column 4`.
    fn describe(&self, j: usize) -> String {
        match self.names {
            Some(n) => format!("column {:?}", n[j]),
            None => format!("column {j}"),
        }
    }

    fn list(&self) -> String {
        match self.names {
            Some(n) => n
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            None => format!("0..{} (no header)", self.count),
        }
    }

    fn resolve(&self, col: &Column, field: &str) -> Result<usize, DataError> {
        match col {
            Column::Index(i) => {
                let n = self.count as i64;
                let j = if *i < 0 { n + i } else { *i };
                if (0..n).contains(&j) {
                    Ok(j as usize)
                } else {
                    Err(DataError::config(
                        field,
                        format!(
                            "column index {i} is out of range: {} has {} columns",
                            self.file.display(),
                            self.count
                        ),
                    ))
                }
            }
            Column::Name(name) => match self.names {
                Some(names) => names.iter().position(|n| n == name).ok_or_else(|| {
                    DataError::config(
                        field,
                        format!(
                            "no column {name:?} in {}; the columns are {}",
                            self.file.display(),
                            self.list()
                        ),
                    )
                }),
                None => Err(DataError::config(
                    field,
                    format!(
                        "column {name:?} is a name but {} is read without a header \
                         (header = false): use a 0-based index",
                        self.file.display()
                    ),
                )),
            },
        }
    }
}

/// A label cell as a non-negative integer (`3`, `3.0`), if it is one.
fn integer_label(cell: &str) -> Option<u64> {
    if let Ok(v) = cell.parse::<u64>() {
        return Some(v);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1e15 => Some(v as u64),
        _ => None,
    }
}

fn parse_number(file: &Path, line: usize, column: &str, cell: &str) -> Result<f32, DataError> {
    match cell.trim().parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(DataError::parse(
            file,
            format!("line {line}"),
            format!("{column}: expected a finite number, found {cell:?}"),
        )),
    }
}

impl Csv {
    /// Maps the label cells to class indices; returns the labels and the class names.
    fn class_labels(
        &self,
        file: &Path,
        rows: &[CsvRecord],
        col: usize,
        cols: &Columns<'_>,
    ) -> Result<(Vec<usize>, Vec<String>), DataError> {
        let name = cols.describe(col);
        let cell = |r: &CsvRecord| r.fields[col].trim().to_string();
        if let Some(names) = &self.class_names {
            let mut labels = Vec::with_capacity(rows.len());
            for r in rows {
                let c = cell(r);
                let k = if let Some(k) = names.iter().position(|n| *n == c) {
                    k
                } else if let Some(k) = integer_label(&c) {
                    if (k as usize) < names.len() && k < MAX_INTEGER_LABEL {
                        k as usize
                    } else {
                        return Err(DataError::parse(
                            file,
                            format!("line {}", r.line),
                            format!(
                                "{name}: label {k} is out of range for the {} class_names {:?}",
                                names.len(),
                                names
                            ),
                        ));
                    }
                } else {
                    return Err(DataError::parse(
                        file,
                        format!("line {}", r.line),
                        format!("{name}: label {c:?} is not one of the class_names {names:?}"),
                    ));
                };
                labels.push(k);
            }
            return Ok((labels, names.clone()));
        }
        let ints: Option<Vec<u64>> = rows.iter().map(|r| integer_label(&cell(r))).collect();
        if let Some(ints) = ints {
            let mut labels = Vec::with_capacity(rows.len());
            for (r, &k) in rows.iter().zip(&ints) {
                if k >= MAX_INTEGER_LABEL {
                    return Err(DataError::parse(
                        file,
                        format!("line {}", r.line),
                        format!(
                            "{name}: label {k} is too large for a class index (is this a \
                             regression target? set task = \"regression\")"
                        ),
                    ));
                }
                labels.push(k as usize);
            }
            let num_classes = labels.iter().max().map_or(0, |m| m + 1);
            return Ok((labels, (0..num_classes).map(|k| k.to_string()).collect()));
        }
        if let Some(r) = rows.iter().find(|r| cell(r).is_empty()) {
            return Err(DataError::parse(
                file,
                format!("line {}", r.line),
                format!("{name}: empty label"),
            ));
        }
        let names: Vec<String> = rows
            .iter()
            .map(cell)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let labels = rows
            .iter()
            .map(|r| names.binary_search(&cell(r)).expect("collected above"))
            .collect();
        Ok((labels, names))
    }
}

#[typetag::serde(name = "Csv")]
impl DataConfig for Csv {
    fn validate(&self) -> Result<(), DataError> {
        if self.path.as_os_str().is_empty() {
            return Err(DataError::config("data.path", "must name a CSV file"));
        }
        self.delimiter_char()?;
        check_fraction("data.validation", self.validation)?;
        check_fraction("data.test", self.test)?;
        if self.validation + self.test >= 1.0 {
            return Err(DataError::config(
                "data.test",
                format!(
                    "validation + test must be below 1, got {} + {}",
                    self.validation, self.test
                ),
            ));
        }
        match self.task {
            CsvTask::Classification => {
                if self.targets.is_some() {
                    return Err(DataError::config(
                        "data.targets",
                        "only for task = \"regression\"; a classification uses `label`",
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
        if self.features.as_ref().is_some_and(Vec::is_empty) {
            return Err(DataError::config(
                "data.features",
                "must name at least one column (or be left out to use every other column)",
            ));
        }
        Ok(())
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.validate()?;
        let delimiter = self.delimiter_char()?;
        let file = ctx.resolve(&self.path);
        let file = file.as_path();
        let records = read_csv(file, delimiter)?;
        if records.is_empty() {
            return Err(DataError::parse(file, "", "empty file: no rows"));
        }
        let mut rows = records.into_iter().skip(self.skip_rows).peekable();
        let header = if self.header {
            match rows.next() {
                Some(h) => Some(h.fields),
                None => {
                    return Err(DataError::parse(
                        file,
                        "",
                        format!("no header row after skipping {} rows", self.skip_rows),
                    ))
                }
            }
        } else {
            None
        };
        let rows: Vec<CsvRecord> = rows.collect();
        let Some(first) = rows.first() else {
            return Err(DataError::parse(file, "", "no data rows"));
        };
        let count = header.as_ref().map_or(first.fields.len(), Vec::len);
        for r in &rows {
            if r.fields.len() != count {
                return Err(DataError::parse(
                    file,
                    format!("line {}", r.line),
                    format!("expected {count} columns, found {}", r.fields.len()),
                ));
            }
        }
        let cols = Columns {
            names: header.as_deref(),
            count,
            file,
        };

        // The target columns.
        let target_cols: Vec<usize> = match (&self.targets, &self.label) {
            (Some(t), _) => t
                .iter()
                .map(|c| cols.resolve(c, "data.targets"))
                .collect::<Result<_, _>>()?,
            (None, Some(l)) => vec![cols.resolve(l, "data.label")?],
            (None, None) => vec![cols.resolve(&Column::Index(-1), "data.label")?],
        };
        // The feature columns.
        let feature_cols: Vec<usize> = match &self.features {
            Some(f) => {
                let fc: Vec<usize> = f
                    .iter()
                    .map(|c| cols.resolve(c, "data.features"))
                    .collect::<Result<_, _>>()?;
                if let Some(j) = fc.iter().find(|j| target_cols.contains(j)) {
                    return Err(DataError::config(
                        "data.features",
                        format!(
                            "{} of {} is the label/target and cannot also be a feature",
                            cols.describe(*j),
                            file.display()
                        ),
                    ));
                }
                fc
            }
            None => (0..count).filter(|j| !target_cols.contains(j)).collect(),
        };
        if feature_cols.is_empty() {
            return Err(DataError::config(
                "data.features",
                format!(
                    "{} has no column left for features besides the label",
                    file.display()
                ),
            ));
        }

        let n = rows.len();
        let mut features = Vec::with_capacity(n * feature_cols.len());
        for r in &rows {
            for &j in &feature_cols {
                features.push(parse_number(file, r.line, &cols.describe(j), &r.fields[j])?);
            }
        }
        let shape = [feature_cols.len()];
        let (all, task, class_labels) = match self.task {
            CsvTask::Classification => {
                let (labels, class_names) =
                    self.class_labels(file, &rows, target_cols[0], &cols)?;
                let num_classes = class_names.len();
                let ds =
                    TensorDataset::classification(features, &shape, labels.clone(), num_classes);
                let task = Task::Classification {
                    num_classes,
                    class_names,
                };
                (ds, task, Some((labels, num_classes)))
            }
            CsvTask::Regression => {
                let mut values = Vec::with_capacity(n * target_cols.len());
                for r in &rows {
                    for &j in &target_cols {
                        values.push(parse_number(file, r.line, &cols.describe(j), &r.fields[j])?);
                    }
                }
                let ds = TensorDataset::regression(features, &shape, values, target_cols.len());
                let target_names = target_cols
                    .iter()
                    .map(|&j| match &header {
                        Some(h) => h[j].clone(),
                        None => format!("column {j}"),
                    })
                    .collect();
                let task = Task::Regression {
                    outputs: target_cols.len(),
                    target_names,
                };
                (ds, task, None)
            }
        };

        let split = match (&class_labels, self.stratified) {
            (Some((labels, k)), true) => {
                stratified_split(labels, *k, self.validation, self.test, ctx.seed)?
            }
            _ => random_split(n, self.validation, self.test, ctx.seed)?,
        };
        let mut train = all.select(&split.train);
        let mut validation = (!split.validation.is_empty()).then(|| all.select(&split.validation));
        let mut test = (!split.test.is_empty()).then(|| all.select(&split.test));
        if self.standardize {
            let st = Standardizer::fit(&train);
            st.apply(&mut train);
            for ds in [&mut validation, &mut test].into_iter().flatten() {
                st.apply(ds);
            }
        }
        let arc = |d: TensorDataset| Arc::new(d) as Arc<dyn Dataset>;
        Ok(DataSplits {
            train: arc(train),
            validation: validation.map(arc),
            test: test.map(arc),
            task,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Vec<Vec<String>> {
        parse_csv(Path::new("t.csv"), text, ',')
            .unwrap()
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn quoting_crlf_blank_lines() {
        let rows = p("a,\"b,c\",\"say \"\"hi\"\"\"\r\n1, 2 ,3\r\n\r\n\n");
        assert_eq!(
            rows,
            vec![vec!["a", "b,c", "say \"hi\""], vec!["1", "2", "3"]]
        );
        let rows = p("x,\"multi\nline\"\ny,z");
        assert_eq!(rows, vec![vec!["x", "multi\nline"], vec!["y", "z"]]);
        assert_eq!(p("a,,b\n"), vec![vec!["a", "", "b"]]);
        assert_eq!(p("\u{feff}h\n1"), vec![vec!["h"], vec!["1"]]);
        assert_eq!(p(""), Vec::<Vec<String>>::new());
        assert_eq!(p("\"\"\n"), vec![vec![""]]);
    }

    #[test]
    fn line_numbers() {
        let r = parse_csv(Path::new("t.csv"), "a\n\"b\nc\"\nd\n", ',').unwrap();
        assert_eq!(r.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 2, 4]);
    }

    #[test]
    fn quote_errors() {
        let e = parse_csv(Path::new("t.csv"), "a\n\"open,b\n", ',').unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: line 2: quoted field is never closed (missing '\"')"
        );
        let e = parse_csv(Path::new("t.csv"), "\"a\"b,c", ',').unwrap_err();
        assert!(
            e.to_string().starts_with("t.csv: line 1: unexpected 'b'"),
            "{e}"
        );
    }

    #[test]
    fn tab_delimiter() {
        let r = parse_csv(Path::new("t.tsv"), "a\tb,c\n", '\t').unwrap();
        assert_eq!(r[0].fields, vec!["a", "b,c"]);
    }

    #[test]
    fn integer_labels() {
        assert_eq!(integer_label("3"), Some(3));
        assert_eq!(integer_label("3.0"), Some(3));
        assert_eq!(integer_label("-1"), None);
        assert_eq!(integer_label("2.5"), None);
        assert_eq!(integer_label("cat"), None);
    }

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
        c.validation = 0.6;
        c.test = 0.5;
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
        Csv::new("x.csv").validate().unwrap();
    }
}
