//! Reading new rows of a table for prediction, streamed and preprocessed exactly as the run's
//! training rows were (`preprocessing.json`); the label column may be absent.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::load::CsvPreprocessing;
use super::reader::{CsvReader, CsvRecord};
use super::Csv;
use crate::config::{DataContext, PredictRow, PredictRows};
use crate::dataset::{Input, InputKind};
use crate::error::DataError;
use crate::files::open_maybe_gz;

/// Where each fitted column (and the id column) is in the rows being read.
#[derive(Clone, Debug)]
struct Positions {
    columns: Vec<usize>,
    id: Option<usize>,
    width: usize,
}

struct CsvRows {
    reader: CsvReader<Box<dyn BufRead + Send>>,
    file: PathBuf,
    /// The training file's `skip_rows`, when this is another file: named in an error on the
    /// first row, which may be such a preamble.
    preamble_hint: Option<usize>,
    pre: CsvPreprocessing,
    na: BTreeSet<String>,
    positions: Option<Positions>,
    count: usize,
}

/// Opens `input` for prediction with the run's preprocessing in `ctx.fitted`.
pub(super) fn rows(
    cfg: &Csv,
    ctx: &DataContext,
    input: &Path,
) -> Result<Box<dyn PredictRows>, DataError> {
    let pre: CsvPreprocessing = ctx.fitted_as()?.ok_or_else(|| {
        DataError::Preprocessing("prediction needs the run's fitted preprocessing".into())
    })?;
    // `skip_rows` describes the training file's preamble, not a file of new rows: it is only
    // applied to the training file itself. A training file with a header needs one here too
    // (columns are matched by name, so their order may differ and the label may be absent).
    let mut reader = CsvReader::new(open_maybe_gz(input)?, input, cfg.delimiter_char()?);
    let training_file = ctx
        .resolve("data.path", &cfg.path)
        .is_ok_and(|path| same_file(&path, input));
    if training_file {
        for _ in 0..cfg.skip_rows {
            reader.next().transpose()?;
        }
    }
    let mut positions = None;
    if cfg.header {
        let header = reader
            .next()
            .transpose()?
            .ok_or_else(|| DataError::parse(input, "", "empty file: no header row"))?;
        positions = Some(by_name(&pre, &header, input)?);
    }
    Ok(Box::new(CsvRows {
        reader,
        file: input.to_path_buf(),
        preamble_hint: (!training_file && cfg.skip_rows > 0).then_some(cfg.skip_rows),
        na: pre.na_values.iter().cloned().collect(),
        pre,
        positions,
        count: 0,
    }))
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Positions from a header row: every fitted column must be there by name.
fn by_name(
    pre: &CsvPreprocessing,
    header: &CsvRecord,
    file: &Path,
) -> Result<Positions, DataError> {
    let find = |name: &str| header.fields.iter().position(|h| h == name);
    let mut columns = Vec::with_capacity(pre.columns.len());
    let mut missing = Vec::new();
    for c in &pre.columns {
        match find(c.name()) {
            Some(j) => columns.push(j),
            None => missing.push(format!("{:?}", c.name())),
        }
    }
    if !missing.is_empty() {
        return Err(DataError::parse(
            file,
            format!("line {}", header.line),
            format!(
                "the header lacks the feature column(s) {} the model was trained on (it has {})",
                missing.join(", "),
                header
                    .fields
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(Positions {
        columns,
        id: pre.id_column.as_ref().and_then(|c| find(&c.name)),
        width: header.fields.len(),
    })
}

/// Positions without a header: the training file's layout, or that layout without the target
/// columns.
fn by_width(pre: &CsvPreprocessing, width: usize) -> Option<Positions> {
    let targets = pre.target.columns();
    if width == pre.file_columns {
        return Some(Positions {
            columns: pre.columns.iter().map(|c| c.column()).collect(),
            id: pre.id_column.as_ref().map(|c| c.column),
            width,
        });
    }
    if width + targets.len() == pre.file_columns {
        let shift = |p: usize| p - targets.iter().filter(|&&t| t < p).count();
        return Some(Positions {
            columns: pre.columns.iter().map(|c| shift(c.column())).collect(),
            id: pre.id_column.as_ref().map(|c| shift(c.column)),
            width,
        });
    }
    None
}

impl CsvRows {
    fn positions_for(&mut self, record: &CsvRecord) -> Result<Positions, DataError> {
        if let Some(p) = &self.positions {
            return Ok(p.clone());
        }
        let p = by_width(&self.pre, record.fields.len()).ok_or_else(|| {
            DataError::parse(
                &self.file,
                format!("line {}", record.line),
                format!(
                    "expected {} columns (the training file's) or {} (without the label), \
                     found {}",
                    self.pre.file_columns,
                    self.pre.file_columns - self.pre.target.columns().len(),
                    record.fields.len()
                ),
            )
        })?;
        self.positions = Some(p.clone());
        Ok(p)
    }

    /// [`CsvRows::parse_row`], with a hint about the training file's preamble when the first
    /// row fails.
    fn row(&mut self, record: CsvRecord) -> Result<PredictRow, DataError> {
        let first = self.count == 0;
        self.parse_row(record)
            .map_err(|e| match (first, self.preamble_hint, e) {
                (
                    true,
                    Some(n),
                    DataError::Parse {
                        file,
                        location,
                        reason,
                    },
                ) => DataError::Parse {
                    file,
                    location,
                    reason: format!(
                    "{reason} (the training file skipped its first {n} row(s), `data.skip_rows`; \
                     remove such rows from this file)"
                ),
                },
                (_, _, e) => e,
            })
    }

    fn parse_row(&mut self, record: CsvRecord) -> Result<PredictRow, DataError> {
        let pos = self.positions_for(&record)?;
        let at = format!("line {}", record.line);
        if record.fields.len() != pos.width {
            return Err(DataError::parse(
                &self.file,
                at,
                format!(
                    "expected {} columns, found {}",
                    pos.width,
                    record.fields.len()
                ),
            ));
        }
        let mut x = Vec::with_capacity(self.pre.inputs.len());
        for (c, &j) in self.pre.columns.iter().zip(&pos.columns) {
            let cell = record.fields[j].trim();
            let cell = (!self.na.contains(cell)).then_some(cell);
            c.encode(cell, &mut x).map_err(|why| {
                DataError::parse(&self.file, &at, format!("column {:?}: {why}", c.name()))
            })?;
        }
        let id = match pos.id {
            Some(j) => record.fields[j].clone(),
            _ => self.count.to_string(),
        };
        self.count += 1;
        Ok(PredictRow {
            id,
            input: Input::Dense(Cow::Owned(x)),
        })
    }
}

impl Iterator for CsvRows {
    type Item = Result<PredictRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = match self.reader.next()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        Some(self.row(record))
    }
}

impl PredictRows for CsvRows {
    fn input_kind(&self) -> InputKind {
        InputKind::Dense {
            shape: vec![self.pre.inputs.len()],
        }
    }
}
