//! Loading a [`Csv`] table into splits: the schema (target, id and feature columns), targets,
//! the split, column kinds, and the preprocessing fitted on the training rows (or reused from
//! a run's `preprocessing.json`).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::columns::{fit_categorical, fit_numeric, parse_number, FittedColumn, NumericOptions};
use super::table::{Column, Table};
use super::{Csv, CsvTask};
use crate::config::{split_seed, DataContext, DataSplits, TargetScale, Task};
use crate::dataset::{Dataset, TensorDataset};
use crate::error::DataError;
use crate::labels::{check_two_classes, class_labels, LabelCell};
use crate::split::{random_split, stratified_split, SplitIndices};

/// Everything a [`Csv`] data section fitted on the training split: `preprocessing.json` of a
/// run trained on a table. Turning a row into the model's input needs nothing else: for each
/// entry of `columns` in order, a numeric cell `x` (or `fill` when it is one of `na_values`)
/// becomes `(x - mean) / std`, followed by a 0/1 missing flag if `missing_indicator`; a
/// categorical cell becomes one 0/1 input per entry of `categories` (one-hot) or its index
/// (ordinal), with unseen categories all 0 (one-hot) or -1 (ordinal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvPreprocessing {
    /// Always `"Csv"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The format of this file (1).
    pub version: u32,
    /// Cells read as missing.
    pub na_values: Vec<String>,
    /// The number of columns of the training file.
    pub file_columns: usize,
    /// The id column, if any (written by `tuna predict` instead of the row number).
    pub id_column: Option<IdColumn>,
    /// The model's inputs, in order (`sepal_length`, `color=blue`, `age_missing`, ...).
    pub inputs: Vec<String>,
    /// The feature columns with their fitted statistics, in input order.
    pub columns: Vec<FittedColumn>,
    /// The target.
    pub target: CsvTarget,
}

/// A table's id column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdColumn {
    /// Its name.
    pub name: String,
    /// Its position in the training file.
    pub column: usize,
}

/// The target of a table, as saved in `preprocessing.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case", deny_unknown_fields)]
pub enum CsvTarget {
    /// Class labels: output `k` of the model is class `classes[k]`.
    Classification {
        /// The label column's name.
        name: String,
        /// Its position in the training file.
        column: usize,
        /// The class names in index order.
        classes: Vec<String>,
    },
    /// Real-valued targets.
    Regression {
        /// The target columns' names.
        names: Vec<String>,
        /// Their positions in the training file.
        columns: Vec<usize>,
        /// The standardization of the targets, if any (predictions are mapped back with it).
        scale: Option<TargetScale>,
    },
}

impl CsvTarget {
    /// The target's positions in the training file.
    pub fn columns(&self) -> Vec<usize> {
        match self {
            CsvTarget::Classification { column, .. } => vec![*column],
            CsvTarget::Regression { columns, .. } => columns.clone(),
        }
    }
}

/// The roles of a table's columns.
struct Schema {
    targets: Vec<usize>,
    features: Vec<usize>,
    id: Option<usize>,
}

impl Schema {
    fn resolve(cfg: &Csv, t: &Table) -> Result<Schema, DataError> {
        let targets: Vec<usize> = match (&cfg.targets, &cfg.label) {
            (Some(ts), _) => ts
                .iter()
                .map(|c| t.resolve(c, "data.targets"))
                .collect::<Result<_, _>>()?,
            (None, Some(l)) => vec![t.resolve(l, "data.label")?],
            (None, None) => vec![t.resolve(&Column::Index(-1), "data.label")?],
        };
        let id = match &cfg.id_column {
            Some(c) => Some(t.resolve(c, "data.id_column")?),
            None => None,
        };
        let features: Vec<usize> = match &cfg.features {
            Some(f) => {
                let fc: Vec<usize> = f
                    .iter()
                    .map(|c| t.resolve(c, "data.features"))
                    .collect::<Result<_, _>>()?;
                if let Some(j) = fc.iter().find(|j| targets.contains(j) || id == Some(**j)) {
                    return Err(DataError::config(
                        "data.features",
                        format!(
                            "{} of {} is the label/target or id column and cannot also be a \
                             feature",
                            t.describe(*j),
                            t.file.display()
                        ),
                    ));
                }
                fc
            }
            None => (0..t.count)
                .filter(|j| !targets.contains(j) && id != Some(*j))
                .collect(),
        };
        if features.is_empty() {
            return Err(DataError::config(
                "data.features",
                format!(
                    "{} has no column left for features besides the label",
                    t.file.display()
                ),
            ));
        }
        Ok(Schema {
            targets,
            features,
            id,
        })
    }
}

/// The rows of one split: a table (by position in the list of tables read) and row
/// positions in it.
struct Part<'a> {
    table: &'a Table,
    index: usize,
    rows: Vec<usize>,
}

/// The targets of the rows of several tables, read together so classes agree.
enum TargetValues {
    Class(Vec<Vec<usize>>, Vec<String>),
    Values(Vec<Vec<f32>>),
}

fn read_classes(
    cfg: &Csv,
    tables: &[&Table],
    col: usize,
    fitted: Option<&[String]>,
) -> Result<TargetValues, DataError> {
    let names = fitted.or(cfg.class_names.as_deref());
    let mut per_table = Vec::new();
    let mut classes = Vec::new();
    // Without given names, classes come from every row of every file (the label set is part
    // of the schema, not a statistic), so one pass over all cells decides them.
    let all: Vec<LabelCell<'_>> = tables
        .iter()
        .flat_map(|t| {
            t.rows.iter().map(move |r| LabelCell {
                line: r.line,
                text: r.fields[col].trim(),
            })
        })
        .collect();
    let (labels, found) = class_labels(&tables[0].file, &tables[0].describe(col), &all, names)?;
    classes.extend(found);
    let mut start = 0;
    for t in tables {
        per_table.push(labels[start..start + t.rows.len()].to_vec());
        start += t.rows.len();
    }
    Ok(TargetValues::Class(per_table, classes))
}

fn read_values(
    tables: &[&Table],
    cols: &[usize],
    na: &BTreeSet<String>,
) -> Result<TargetValues, DataError> {
    let mut per_table = Vec::new();
    for t in tables {
        let mut v = Vec::with_capacity(t.rows.len() * cols.len());
        for r in &t.rows {
            for &j in cols {
                let cell = r.fields[j].trim();
                let why = if na.contains(cell) {
                    Some("missing target value".to_string())
                } else {
                    parse_number(cell).map(|x| v.push(x)).map_or_else(
                        || Some(format!("expected a finite number, found {cell:?}")),
                        |_| None,
                    )
                };
                if let Some(why) = why {
                    return Err(DataError::parse(
                        &t.file,
                        format!("line {}", r.line),
                        format!("{}: {why}", t.describe(j)),
                    ));
                }
            }
        }
        per_table.push(v);
    }
    Ok(TargetValues::Values(per_table))
}

/// Splits the main table's rows; separate holdout files are whole splits of their own.
fn split_rows(
    cfg: &Csv,
    ctx: &DataContext,
    n: usize,
    labels: Option<(&[usize], usize)>,
) -> Result<SplitIndices, DataError> {
    let (v, t) = (cfg.validation.fraction(), cfg.test.fraction());
    let seed = split_seed(cfg.split_seed, ctx);
    match labels {
        Some((l, k)) if cfg.stratified => stratified_split(l, k, v, t, seed),
        _ => random_split(n, v, t, seed),
    }
}

/// Whether each feature column is categorical: declared, or detected on the main table's
/// cells (every non-missing cell not a number); a column mixing numbers and other text is an
/// error at its first non-number.
fn detect_kinds(
    cfg: &Csv,
    t: &Table,
    features: &[usize],
    na: &BTreeSet<String>,
    notes: &mut Vec<String>,
) -> Result<Vec<bool>, DataError> {
    let declared: Vec<usize> = match &cfg.categorical {
        Some(cols) => cols
            .iter()
            .map(|c| t.resolve(c, "data.categorical"))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let mut kinds = Vec::with_capacity(features.len());
    let mut detected = Vec::new();
    for &j in features {
        if declared.contains(&j) {
            kinds.push(true);
            continue;
        }
        let cells = t.rows.iter().map(|r| (r.line, r.fields[j].trim()));
        let present: Vec<(usize, &str)> = cells.filter(|(_, c)| !na.contains(*c)).collect();
        let numbers = present
            .iter()
            .filter(|(_, c)| parse_number(c).is_some())
            .count();
        if numbers == present.len() || cfg.categorical.is_some() {
            if let Some((line, c)) = present.iter().find(|(_, c)| parse_number(c).is_none()) {
                return Err(not_a_number(t, j, *line, c));
            }
            kinds.push(false);
        } else if numbers == 0 {
            kinds.push(true);
            detected.push(format!("{:?}", t.name(j)));
        } else {
            let (line, c) = present
                .iter()
                .find(|(_, c)| parse_number(c).is_none())
                .expect("mixed");
            return Err(not_a_number(t, j, *line, c));
        }
    }
    if !detected.is_empty() {
        notes.push(format!(
            "{}: columns taken as categorical (their cells are not numbers): {}; declare them \
             with data.categorical to silence this",
            t.file.display(),
            detected.join(", ")
        ));
    }
    Ok(kinds)
}

fn not_a_number(t: &Table, j: usize, line: usize, cell: &str) -> DataError {
    DataError::parse(
        &t.file,
        format!("line {line}"),
        format!(
            "{}: expected a finite number, found {cell:?} (the column's other cells are numbers: \
             add {cell:?} to data.na_values if it marks a missing value, or list the column in \
             data.categorical)",
            t.describe(j)
        ),
    )
}

/// A cell, `None` when it is one of the missing markers.
fn cell<'a>(fields: &'a [String], j: usize, na: &BTreeSet<String>) -> Option<&'a str> {
    let c = fields[j].trim();
    (!na.contains(c)).then_some(c)
}

fn fit_columns(
    cfg: &Csv,
    train: &Part<'_>,
    features: &[usize],
    kinds: &[bool],
    na: &BTreeSet<String>,
    notes: &mut Vec<String>,
) -> Result<Vec<FittedColumn>, DataError> {
    let opts = NumericOptions {
        impute: cfg.impute,
        fill_value: cfg.fill_value.unwrap_or(0.0),
        standardize: cfg.standardize,
        missing_indicator: cfg.missing_indicator,
    };
    let t = train.table;
    let mut out = Vec::with_capacity(features.len());
    for (&j, &categorical) in features.iter().zip(kinds) {
        let cells: Vec<Option<&str>> = train
            .rows
            .iter()
            .map(|&r| cell(&t.rows[r].fields, j, na))
            .collect();
        let missing = cells.iter().filter(|c| c.is_none()).count();
        let fitted = if categorical {
            fit_categorical(&t.name(j), j, &cells, cfg.categorical_encoding)
        } else {
            let values: Vec<Option<f32>> = cells.iter().map(|c| c.and_then(parse_number)).collect();
            fit_numeric(&t.name(j), j, &values, opts)
        };
        if missing > 0 {
            let how = match &fitted {
                FittedColumn::Numeric { fill, .. } => format!("filled with {fill}"),
                FittedColumn::Categorical { .. } => "kept as a category of their own".into(),
            };
            notes.push(format!(
                "{}: {} of {} training rows miss a value: {how}",
                t.describe(j),
                missing,
                cells.len()
            ));
        }
        out.push(fitted);
    }
    Ok(out)
}

/// Encodes the rows of a part into model inputs.
fn encode_part(
    part: &Part<'_>,
    columns: &[FittedColumn],
    na: &BTreeSet<String>,
) -> Result<Vec<f32>, DataError> {
    let t = part.table;
    let mut out = Vec::new();
    for &r in &part.rows {
        let row = &t.rows[r];
        for c in columns {
            c.encode(cell(&row.fields, c.column(), na), &mut out)
                .map_err(|why| {
                    DataError::parse(
                        &t.file,
                        format!("line {}", row.line),
                        format!("{}: {why}", t.describe(c.column())),
                    )
                })?;
        }
    }
    Ok(out)
}

/// Reads the holdout files given as `validation`/`test` files.
fn holdout_tables(
    cfg: &Csv,
    ctx: &DataContext,
    main: &Table,
) -> Result<[Option<Table>; 2], DataError> {
    let delimiter = cfg.delimiter_char()?;
    let mut out = [None, None];
    for (k, (field, h)) in [
        ("data.validation", &cfg.validation),
        ("data.test", &cfg.test),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(p) = h.file() {
            let file = ctx.resolve(field, p)?;
            let t = Table::read(&file, delimiter, cfg.skip_rows, cfg.header)?;
            main.check_same_columns(&t)?;
            out[k] = Some(t);
        }
    }
    Ok(out)
}

/// Loads the table (see [`Csv`]).
pub(super) fn load(cfg: &Csv, ctx: &DataContext) -> Result<DataSplits, DataError> {
    let fitted: Option<CsvPreprocessing> = ctx.fitted_as()?;
    let file = ctx.resolve("data.path", &cfg.path)?;
    let main = Table::read(&file, cfg.delimiter_char()?, cfg.skip_rows, cfg.header)?;
    let mut notes: Vec<String> = main.numeric_header_note().into_iter().collect();
    let schema = Schema::resolve(cfg, &main)?;
    if let Some(f) = &fitted {
        check_fitted(f, &main, &schema)?;
    }
    let na: BTreeSet<String> = match &fitted {
        Some(f) => f.na_values.iter().cloned().collect(),
        None => cfg.na_set(),
    };
    let [val_t, test_t] = holdout_tables(cfg, ctx, &main)?;
    let tables: Vec<&Table> = [Some(&main), val_t.as_ref(), test_t.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let targets = match cfg.task {
        CsvTask::Classification => {
            let given = fitted.as_ref().and_then(|f| match &f.target {
                CsvTarget::Classification { classes, .. } => Some(classes.as_slice()),
                CsvTarget::Regression { .. } => None,
            });
            read_classes(cfg, &tables, schema.targets[0], given)?
        }
        CsvTask::Regression => read_values(&tables, &schema.targets, &na)?,
    };
    let split = match &targets {
        TargetValues::Class(l, names) => {
            split_rows(cfg, ctx, main.rows.len(), Some((&l[0], names.len())))?
        }
        TargetValues::Values(_) => split_rows(cfg, ctx, main.rows.len(), None)?,
    };
    let parts = parts_of(&main, val_t.as_ref(), test_t.as_ref(), &split);
    let columns = match &fitted {
        Some(f) => f.columns.clone(),
        None => {
            let kinds = detect_kinds(cfg, &main, &schema.features, &na, &mut notes)?;
            fit_columns(cfg, &parts[0], &schema.features, &kinds, &na, &mut notes)?
        }
    };
    let encoded = parts
        .iter()
        .map(|p| encode_part(p, &columns, &na))
        .collect::<Result<Vec<_>, _>>()?;
    let width = columns.iter().map(|c| c.input_names().len()).sum();
    let (task, target, datasets) = match &targets {
        TargetValues::Class(per, classes) => classification(
            &main,
            &schema,
            &parts,
            (encoded, width),
            per,
            classes,
            fitted.is_none(),
        )?,
        TargetValues::Values(per) => {
            let scale = match &fitted {
                Some(f) => match &f.target {
                    CsvTarget::Regression { scale, .. } => scale.clone(),
                    CsvTarget::Classification { .. } => None,
                },
                None if cfg.standardize_target => {
                    Some(fit_scale(&parts[0], per, schema.targets.len()))
                }
                None => None,
            };
            regression(&main, &schema, &parts, (encoded, width), per, scale)
        }
    };
    let pre = CsvPreprocessing {
        kind: "Csv".into(),
        version: 1,
        na_values: na.iter().cloned().collect(),
        file_columns: main.count,
        id_column: schema.id.map(|j| IdColumn {
            name: main.name(j),
            column: j,
        }),
        inputs: columns.iter().flat_map(FittedColumn::input_names).collect(),
        columns,
        target,
    };
    Ok(splits_of(datasets, task, &pre, notes))
}

fn splits_of(
    datasets: Vec<TensorDataset>,
    task: Task,
    pre: &CsvPreprocessing,
    notes: Vec<String>,
) -> DataSplits {
    let [train, val, test] = <[TensorDataset; 3]>::try_from(datasets).expect("three parts");
    let arc = |d: TensorDataset| Arc::new(d) as Arc<dyn Dataset>;
    let nonempty = |d: TensorDataset| (d.len() > 0).then(|| arc(d));
    DataSplits {
        train: arc(train),
        validation: nonempty(val),
        test: nonempty(test),
        task,
        preprocessing: serde_json::to_value(pre).expect("serializable"),
        notes,
    }
}

/// The train, validation and test parts: the main table's split, or holdout files.
fn parts_of<'a>(
    main: &'a Table,
    val: Option<&'a Table>,
    test: Option<&'a Table>,
    split: &SplitIndices,
) -> [Part<'a>; 3] {
    let whole = |t: &'a Table, index: usize| Part {
        table: t,
        index,
        rows: (0..t.rows.len()).collect(),
    };
    let of_main = |rows: &[usize]| Part {
        table: main,
        index: 0,
        rows: rows.to_vec(),
    };
    let test_index = 1 + usize::from(val.is_some());
    [
        of_main(&split.train),
        val.map_or_else(|| of_main(&split.validation), |t| whole(t, 1)),
        test.map_or_else(|| of_main(&split.test), |t| whole(t, test_index)),
    ]
}

/// Checks that a run's saved preprocessing fits this table (same columns where it expects
/// them).
fn check_fitted(f: &CsvPreprocessing, t: &Table, schema: &Schema) -> Result<(), DataError> {
    for c in &f.columns {
        let j = c.column();
        let same = j < t.count && (t.names.is_none() || t.name(j) == c.name());
        if !same {
            return Err(DataError::parse(
                &t.file,
                "",
                format!(
                    "the run's preprocessing expects feature column {:?} at position {j}, \
                     which this file does not have there (its columns: {})",
                    c.name(),
                    (0..t.count)
                        .map(|k| t.name(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if f.target.columns() != schema.targets {
        return Err(DataError::config(
            "data.label",
            "the label/target columns differ from the ones the run was trained with",
        ));
    }
    Ok(())
}

type Assembled = (Task, CsvTarget, Vec<TensorDataset>);

fn classification(
    main: &Table,
    schema: &Schema,
    parts: &[Part<'_>; 3],
    (encoded, width): (Vec<Vec<f32>>, usize),
    per: &[Vec<usize>],
    classes: &[String],
    fitting: bool,
) -> Result<Assembled, DataError> {
    let shape = [width];
    let datasets: Vec<TensorDataset> = parts
        .iter()
        .zip(encoded)
        .map(|(p, x)| {
            let labels = p.rows.iter().map(|&r| per[p.index][r]).collect();
            TensorDataset::classification(x, &shape, labels, classes.len())
        })
        .collect();
    if fitting {
        check_two_classes(datasets[0].targets().labels().unwrap_or(&[]), classes)?;
    }
    let task = Task::Classification {
        num_classes: classes.len(),
        class_names: classes.to_vec(),
    };
    let target = CsvTarget::Classification {
        name: main.name(schema.targets[0]),
        column: schema.targets[0],
        classes: classes.to_vec(),
    };
    Ok((task, target, datasets))
}

/// The per-target mean and population std of the training part.
fn fit_scale(train: &Part<'_>, per: &[Vec<f32>], k: usize) -> TargetScale {
    let n = train.rows.len().max(1) as f64;
    let mut mean = vec![0.0f64; k];
    let mut sq = vec![0.0f64; k];
    for &r in &train.rows {
        for o in 0..k {
            mean[o] += f64::from(per[train.index][r * k + o]) / n;
        }
    }
    for &r in &train.rows {
        for o in 0..k {
            sq[o] += (f64::from(per[train.index][r * k + o]) - mean[o]).powi(2) / n;
        }
    }
    TargetScale {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std: sq
            .iter()
            .map(|&v| {
                let s = v.sqrt() as f32;
                if s > 0.0 && s.is_finite() {
                    s
                } else {
                    1.0
                }
            })
            .collect(),
    }
}

fn regression(
    main: &Table,
    schema: &Schema,
    parts: &[Part<'_>; 3],
    (encoded, width): (Vec<Vec<f32>>, usize),
    per: &[Vec<f32>],
    scale: Option<TargetScale>,
) -> Assembled {
    let k = schema.targets.len();
    let datasets = parts
        .iter()
        .zip(encoded)
        .map(|(p, x)| {
            let mut values = Vec::with_capacity(p.rows.len() * k);
            for &r in &p.rows {
                values.extend_from_slice(&per[p.index][r * k..(r + 1) * k]);
            }
            if let Some(s) = &scale {
                for row in values.chunks_exact_mut(k) {
                    for ((v, m), sd) in row.iter_mut().zip(&s.mean).zip(&s.std) {
                        *v = (*v - m) / sd;
                    }
                }
            }
            TensorDataset::regression(x, &[width], values, k)
        })
        .collect();
    let names: Vec<String> = schema.targets.iter().map(|&j| main.name(j)).collect();
    let task = Task::Regression {
        outputs: k,
        target_names: names.clone(),
        target_scale: scale.clone(),
    };
    let target = CsvTarget::Regression {
        names,
        columns: schema.targets.clone(),
        scale,
    };
    (task, target, datasets)
}
