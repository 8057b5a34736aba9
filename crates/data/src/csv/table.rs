//! A CSV table in memory: its header, its rows, and column references resolved against it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::reader::{read_csv, CsvRecord};
use crate::error::DataError;

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

/// A table read from a file: the header (if any) and the data rows, all of one width.
#[derive(Clone, Debug)]
pub struct Table {
    /// The file it was read from.
    pub file: PathBuf,
    /// The column names, when the file has a header row.
    pub names: Option<Vec<String>>,
    /// The number of columns.
    pub count: usize,
    /// The data rows.
    pub rows: Vec<CsvRecord>,
}

impl Table {
    /// Reads `file`: skips `skip_rows` records, takes the header if `header`, checks that
    /// every row has the same number of fields.
    ///
    /// # Errors
    /// An unreadable or malformed file, an empty file, no data rows, a ragged row.
    pub fn read(
        file: &Path,
        delimiter: char,
        skip_rows: usize,
        header: bool,
    ) -> Result<Self, DataError> {
        let records = read_csv(file, delimiter)?;
        if records.is_empty() {
            return Err(DataError::parse(file, "", "empty file: no rows"));
        }
        let mut rows = records.into_iter().skip(skip_rows);
        let names = if header {
            match rows.next() {
                Some(h) => Some(h.fields),
                None => {
                    return Err(DataError::parse(
                        file,
                        "",
                        format!("no header row after skipping {skip_rows} rows"),
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
        let count = names.as_ref().map_or(first.fields.len(), Vec::len);
        if let Some(r) = rows.iter().find(|r| r.fields.len() != count) {
            return Err(DataError::parse(
                file,
                format!("line {}", r.line),
                format!("expected {count} columns, found {}", r.fields.len()),
            ));
        }
        Ok(Table {
            file: file.to_path_buf(),
            names,
            count,
            rows,
        })
    }

    /// How column `j` is named in messages: `column "species"` or `column 4`.
    pub fn describe(&self, j: usize) -> String {
        match &self.names {
            Some(n) => format!("column {:?}", n[j]),
            None => format!("column {j}"),
        }
    }

    /// Column `j`'s name: the header name, or `column j` without a header.
    pub fn name(&self, j: usize) -> String {
        match &self.names {
            Some(n) => n[j].clone(),
            None => format!("column {j}"),
        }
    }

    fn list(&self) -> String {
        match &self.names {
            Some(n) => n
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            None => format!("0..{} (no header)", self.count),
        }
    }

    /// The position of `col`; `field` names the config field in errors.
    ///
    /// # Errors
    /// [`DataError::Config`] for an index out of range, an unknown name (listing the
    /// columns), or a name without a header.
    pub fn resolve(&self, col: &Column, field: &str) -> Result<usize, DataError> {
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
            Column::Name(name) => match &self.names {
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

    /// A note when every header cell parses as a number: the "header" is probably data.
    pub fn numeric_header_note(&self) -> Option<String> {
        let names = self.names.as_ref()?;
        let numeric = names
            .iter()
            .all(|n| n.trim().parse::<f64>().is_ok_and(f64::is_finite));
        numeric.then(|| {
            format!(
                "{}: the header row {:?} looks like data (every cell is a number); if the file \
                 has no header, set data.header = false",
                self.file.display(),
                names
            )
        })
    }

    /// Checks that `other` (a separate validation or test file) has this table's columns.
    ///
    /// # Errors
    /// [`DataError::Parse`] naming the other file and what differs.
    pub fn check_same_columns(&self, other: &Table) -> Result<(), DataError> {
        if self.names != other.names || self.count != other.count {
            return Err(DataError::parse(
                &other.file,
                "",
                format!(
                    "its columns ({}) differ from the training file {} ({})",
                    other.list(),
                    self.file.display(),
                    self.list()
                ),
            ));
        }
        Ok(())
    }
}
