//! A small RFC 4180 reader: [`CsvReader`] streams records from any `BufRead` (so a file
//! larger than memory works), [`parse_csv`] and [`read_csv`] collect them.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::files::open_maybe_gz;

/// One CSV record: its fields and the (1-based) line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvRecord {
    /// The line of the file the record starts on (1-based).
    pub line: usize,
    /// The fields, unquoted (`""` inside quotes becomes `"`); unquoted fields are trimmed of
    /// surrounding whitespace.
    pub fields: Vec<String>,
}

/// Streams CSV records (RFC 4180) from a reader: fields separated by `delimiter`, records by
/// `\n` or `\r\n`; a field in double quotes may contain the delimiter, line breaks and doubled
/// quotes (`""`). Blank lines are skipped and a leading UTF-8 byte-order mark is ignored.
///
/// Errors name the file and the line: an unterminated quoted field, text after a closing
/// quote, bytes that are not UTF-8.
pub struct CsvReader<R> {
    reader: R,
    file: PathBuf,
    delimiter: char,
    line: usize,
    buf: String,
    done: bool,
}

impl<R: BufRead> CsvReader<R> {
    /// A reader over `reader`; `file` names the source in errors.
    pub fn new(reader: R, file: impl Into<PathBuf>, delimiter: char) -> Self {
        CsvReader {
            reader,
            file: file.into(),
            delimiter,
            line: 0,
            buf: String::new(),
            done: false,
        }
    }

    /// Reads the next physical line into `buf` (without its line break); `false` at the end.
    fn next_line(&mut self) -> Result<bool, DataError> {
        self.buf.clear();
        let n = self.reader.read_line(&mut self.buf).map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::InvalidData {
                "not valid UTF-8 text".to_string()
            } else {
                e.to_string()
            };
            DataError::parse(&self.file, format!("line {}", self.line + 1), reason)
        })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if self.line == 1 && self.buf.starts_with('\u{feff}') {
            self.buf.drain(..'\u{feff}'.len_utf8());
        }
        while self.buf.ends_with('\n') || self.buf.ends_with('\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    /// The next record, or `None` at the end of the input.
    fn read_record(&mut self) -> Result<Option<CsvRecord>, DataError> {
        loop {
            if !self.next_line()? {
                return Ok(None);
            }
            let start = self.line;
            let mut parser = FieldParser::default();
            let line = std::mem::take(&mut self.buf);
            parser.feed(&line, self.delimiter, &self.file, self.line)?;
            while parser.in_quotes {
                if !self.next_line()? {
                    return Err(DataError::parse(
                        &self.file,
                        format!("line {}", parser.quote_line),
                        "quoted field is never closed (missing '\"')",
                    ));
                }
                parser.field.push('\n');
                let more = std::mem::take(&mut self.buf);
                parser.feed(&more, self.delimiter, &self.file, self.line)?;
            }
            if let Some(fields) = parser.finish() {
                return Ok(Some(CsvRecord {
                    line: start,
                    fields,
                }));
            }
        }
    }
}

impl<R: BufRead> Iterator for CsvReader<R> {
    type Item = Result<CsvRecord, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.read_record().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// The fields of one record being parsed, possibly across several lines.
#[derive(Default)]
struct FieldParser {
    fields: Vec<String>,
    field: String,
    /// The current field was quoted (and its quotes closed).
    quoted: bool,
    in_quotes: bool,
    had_quotes: bool,
    quote_line: usize,
}

impl FieldParser {
    fn end_field(&mut self) {
        let f = std::mem::take(&mut self.field);
        self.fields
            .push(if self.quoted { f } else { f.trim().to_string() });
        self.quoted = false;
    }

    fn feed(
        &mut self,
        text: &str,
        delimiter: char,
        file: &Path,
        line: usize,
    ) -> Result<(), DataError> {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if self.in_quotes {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        self.field.push('"');
                    }
                    '"' => self.in_quotes = false,
                    _ => self.field.push(c),
                }
                continue;
            }
            match c {
                '"' if !self.quoted && self.field.trim().is_empty() => {
                    self.field.clear();
                    self.in_quotes = true;
                    self.quoted = true;
                    self.had_quotes = true;
                    self.quote_line = line;
                }
                c if c == delimiter => self.end_field(),
                c if self.quoted => {
                    if !c.is_whitespace() {
                        return Err(DataError::parse(
                            file,
                            format!("line {line}"),
                            format!(
                                "unexpected {c:?} after a closing quote (a quote inside a \
                                 quoted field is written \"\")"
                            ),
                        ));
                    }
                }
                _ => self.field.push(c),
            }
        }
        Ok(())
    }

    /// The record's fields, or `None` for a blank line.
    fn finish(mut self) -> Option<Vec<String>> {
        self.end_field();
        let blank = self.fields.len() == 1 && self.fields[0].is_empty() && !self.had_quotes;
        (!blank).then_some(self.fields)
    }
}

/// Parses CSV text (see [`CsvReader`]).
///
/// # Errors
/// [`DataError::Parse`] naming `file` and the line for an unterminated quoted field or text
/// after a closing quote.
pub fn parse_csv(file: &Path, text: &str, delimiter: char) -> Result<Vec<CsvRecord>, DataError> {
    CsvReader::new(text.as_bytes(), file, delimiter).collect()
}

/// Reads and parses a (possibly gzip-compressed) CSV file (see [`CsvReader`]).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read; [`DataError::Parse`] if it is not UTF-8 or
/// not valid CSV.
pub fn read_csv(path: &Path, delimiter: char) -> Result<Vec<CsvRecord>, DataError> {
    CsvReader::new(open_maybe_gz(path)?, path, delimiter).collect()
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
    fn invalid_utf8_names_the_line() {
        let bytes: &[u8] = b"a,b\n1,\xff\n";
        let e = CsvReader::new(bytes, "t.csv", ',')
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(e.to_string(), "t.csv: line 2: not valid UTF-8 text");
    }
}
