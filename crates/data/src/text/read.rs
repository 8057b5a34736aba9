//! Reading text samples: a text and an optional label per record, from CSV/TSV (named
//! columns), JSON lines (named fields), plain text (one sample per line), or a folder with one
//! sub-folder per class (Keras' `text_dataset_from_directory`). Files may be gzip-compressed.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::csv::CsvReader;
use crate::error::DataError;
use crate::files::open_maybe_gz;

/// The layout of a text data file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// Comma-separated values with a header row naming the fields.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON object per line.
    Jsonl,
    /// One sample per line, no label (prediction inputs, language-model corpora).
    Lines,
    /// A folder with one sub-folder per class, one text file per sample; class names are the
    /// sub-folder names, sorted.
    Folder,
}

impl TextFormat {
    /// The format a path suggests: a folder, or its extension (`.gz` looked through).
    pub fn detect(path: &Path) -> Option<TextFormat> {
        if path.is_dir() {
            return Some(TextFormat::Folder);
        }
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit_once('.').map(|(_, e)| e)?;
        match ext {
            "csv" => Some(TextFormat::Csv),
            "tsv" | "tab" => Some(TextFormat::Tsv),
            "jsonl" | "ndjson" | "json" => Some(TextFormat::Jsonl),
            "txt" | "text" => Some(TextFormat::Lines),
            _ => None,
        }
    }
}

/// One text sample as read: where it came from, its text and its label cell.
#[derive(Clone, Debug, PartialEq)]
pub struct TextRecord {
    /// The line (or, for a folder, the file) it came from, for messages and prediction ids.
    pub origin: String,
    /// The 1-based line of the file (0 for folder samples).
    pub line: usize,
    /// The text (several fields joined with a line break).
    pub text: String,
    /// The label, when the format has one and the record holds it.
    pub label: Option<String>,
}

/// Which fields to read.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    /// The text field names (joined with `\n`).
    pub text: &'a [String],
    /// The label field name, if labels are read.
    pub label: Option<&'a str>,
    /// Labels must be present (training and evaluation data).
    pub label_required: bool,
}

/// A stream of text records.
pub type Records = Box<dyn Iterator<Item = Result<TextRecord, DataError>> + Send>;

/// Reads the records of `path` in `format`.
///
/// # Errors
/// An unreadable file, a missing field (naming the fields that exist), a bad line.
pub fn records(path: &Path, format: TextFormat, fields: &Fields<'_>) -> Result<Records, DataError> {
    match format {
        TextFormat::Csv => delimited(path, ',', fields),
        TextFormat::Tsv => delimited(path, '\t', fields),
        TextFormat::Jsonl => jsonl(path, fields),
        TextFormat::Lines => lines(path),
        TextFormat::Folder => folder(path),
    }
}

fn delimited(path: &Path, delimiter: char, fields: &Fields<'_>) -> Result<Records, DataError> {
    let mut reader = CsvReader::new(open_maybe_gz(path)?, path, delimiter);
    let header = reader
        .next()
        .transpose()?
        .ok_or_else(|| DataError::parse(path, "", "empty file: no header row"))?;
    let find = |name: &str, field: &str| {
        header.fields.iter().position(|h| h == name).ok_or_else(|| {
            DataError::config(
                field,
                format!(
                    "no column {name:?} in {}; the columns are {}",
                    path.display(),
                    header
                        .fields
                        .iter()
                        .map(|h| format!("{h:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    };
    let text_cols: Vec<usize> = fields
        .text
        .iter()
        .map(|t| find(t, "data.text"))
        .collect::<Result<_, _>>()?;
    let label_col = match fields.label {
        Some(l) if fields.label_required => Some(find(l, "data.label")?),
        Some(l) => header.fields.iter().position(|h| h == l),
        None => None,
    };
    let width = header.fields.len();
    let file = path.to_path_buf();
    Ok(Box::new(reader.map(move |r| {
        let r = r?;
        if r.fields.len() != width {
            return Err(DataError::parse(
                &file,
                format!("line {}", r.line),
                format!("expected {width} columns, found {}", r.fields.len()),
            ));
        }
        let text = text_cols
            .iter()
            .map(|&j| r.fields[j].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(TextRecord {
            origin: format!("line {}", r.line),
            line: r.line,
            text,
            label: label_col.map(|j| r.fields[j].trim().to_string()),
        })
    })))
}

fn jsonl(path: &Path, fields: &Fields<'_>) -> Result<Records, DataError> {
    let reader = open_maybe_gz(path)?;
    let file = path.to_path_buf();
    let text_fields: Vec<String> = fields.text.to_vec();
    let label = fields.label.map(str::to_string);
    let required = fields.label_required;
    let lines = reader
        .lines()
        .enumerate()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()));
    Ok(Box::new(lines.map(move |(i, line)| {
        let at = format!("line {}", i + 1);
        let line = line.map_err(|e| DataError::parse(&file, &at, e.to_string()))?;
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| DataError::parse(&file, &at, format!("not a JSON object: {e}")))?;
        let get = |name: &str| -> Option<String> {
            match v.get(name)? {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let mut texts = Vec::with_capacity(text_fields.len());
        for f in &text_fields {
            texts.push(get(f).ok_or_else(|| {
                DataError::parse(&file, &at, format!("no text field {f:?} in the object"))
            })?);
        }
        let label = match &label {
            Some(l) => match get(l) {
                Some(x) => Some(x.trim().to_string()),
                None if required => {
                    return Err(DataError::parse(
                        &file,
                        &at,
                        format!("no label field {l:?} in the object"),
                    ))
                }
                None => None,
            },
            None => None,
        };
        Ok(TextRecord {
            origin: at,
            line: i + 1,
            text: texts.join("\n"),
            label,
        })
    })))
}

fn lines(path: &Path) -> Result<Records, DataError> {
    let reader = open_maybe_gz(path)?;
    let file = path.to_path_buf();
    Ok(Box::new(reader.lines().enumerate().map(
        move |(i, line)| {
            let at = format!("line {}", i + 1);
            let text = line.map_err(|e| DataError::parse(&file, &at, e.to_string()))?;
            Ok(TextRecord {
                origin: at,
                line: i + 1,
                text,
                label: None,
            })
        },
    )))
}

/// The sample files of a class folder (hidden files skipped), sorted by name.
fn folder(path: &Path) -> Result<Records, DataError> {
    let mut classes: Vec<PathBuf> = read_dir_sorted(path)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(DataError::parse(
            path,
            "",
            "no class sub-folders (expected one folder per class holding text files)",
        ));
    }
    let mut out = Vec::new();
    for dir in classes {
        let class = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for file in read_dir_sorted(&dir)?.into_iter().filter(|p| p.is_file()) {
            let text = crate::files::read_text(&file)?;
            out.push(Ok(TextRecord {
                origin: file.display().to_string(),
                line: 0,
                text,
                label: Some(class.clone()),
            }));
        }
    }
    Ok(Box::new(out.into_iter()))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tuna-text-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn all(r: Records) -> Vec<TextRecord> {
        r.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn csv_jsonl_lines() {
        let text = vec!["name".to_string()];
        let f = Fields {
            text: &text,
            label: Some("gender"),
            label_required: true,
        };
        let p = tmp("n.csv", "name,gender\nAnn,female\n\"Bo, Jr\",male\n");
        let r = all(records(&p, TextFormat::Csv, &f).unwrap());
        assert_eq!(r[1].text, "Bo, Jr");
        assert_eq!(r[1].label.as_deref(), Some("male"));
        let p = tmp(
            "n.jsonl",
            "{\"name\": \"Ann\", \"gender\": \"female\"}\n\n{\"name\": \"Bo\", \"gender\": 1}\n",
        );
        let r = all(records(&p, TextFormat::Jsonl, &f).unwrap());
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].label.as_deref(), Some("1"));
        assert_eq!(r[1].line, 3);
        let p = tmp("n.txt", "a b\nc\n");
        assert_eq!(
            all(records(&p, TextFormat::Lines, &f).unwrap())[1].text,
            "c"
        );
        let e = records(
            &p.with_file_name("n.csv"),
            TextFormat::Csv,
            &Fields {
                text: &["nom".into()],
                ..f.clone()
            },
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.starts_with("data.text: no column \"nom\""), "{e}");
    }

    #[test]
    fn formats_from_names() {
        assert_eq!(
            TextFormat::detect(Path::new("a.jsonl.gz")),
            Some(TextFormat::Jsonl)
        );
        assert_eq!(
            TextFormat::detect(Path::new("a.TSV")),
            Some(TextFormat::Tsv)
        );
        assert_eq!(TextFormat::detect(Path::new("a.bin")), None);
    }
}
