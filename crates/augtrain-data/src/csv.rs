//! CSV, the one owner of reading and writing it, on the `csv` crate (RFC 4180: quoted fields may
//! hold commas, doubled quotes and line breaks).
//!
//! [`Table`] reads a whole file with a header row: a UTF-8 byte-order mark is skipped, blank
//! and whitespace-only lines are ignored, and every row must have as many fields as the header.
//! Errors name the file and the line a row starts on (1-based, counting every line of the
//! file). [`Writer`] writes rows, quoting only fields that need it, `\n` after each row.
//! File paths inside CSV use [`crate::util::path_text`].

use std::path::{Path, PathBuf};

use crate::DataError;
use crate::util::escape::escape;

/// One data row of a [`Table`].
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The line of the file the row starts on (1-based).
    pub line: u64,
    /// Its fields, as many as the header has.
    pub fields: Vec<String>,
}

/// A CSV file read whole: its header and rows.
#[derive(Clone, Debug)]
pub struct Table {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<Row>,
}

impl Table {
    /// Read and parse the regular file at `path` (see [`Table::parse`]).
    pub fn read(path: &Path) -> Result<Table, DataError> {
        let bytes = crate::util::fs::read_regular(path).map_err(|source| DataError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Table::parse(path, &bytes)
    }

    /// Parse CSV `bytes`; `path` names the file in errors. Header names are kept as written
    /// (see [`Table::column`] for lookup).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Table, DataError> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let bad = |line: u64, problem: String| malformed(path, line, problem);
        check_quotes(bytes).map_err(|line| {
            bad(
                line,
                "unbalanced quote: a quoted field must end with a quote, and a quote inside a field is written as two quotes inside a quoted field".into(),
            )
        })?;
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut header: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for record in reader.byte_records() {
            let record = record.map_err(|e| bad(0, format!("not CSV ({e})")))?;
            let start = record.position().map_or(0, |p| p.byte() as usize);
            let line = line_of(bytes, start);
            if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let fields = record
                .iter()
                .map(|f| String::from_utf8(f.to_vec()))
                .collect::<Result<Vec<String>, _>>()
                .map_err(|_| bad(line, "not UTF-8 text".into()))?;
            match &header {
                None => header = Some(fields),
                Some(h) if h.len() != fields.len() => {
                    return Err(bad(
                        line,
                        format!(
                            "{} field(s), but the header ({}) has {}; quote fields that hold commas",
                            fields.len(),
                            escape(&h.join(",")),
                            h.len()
                        ),
                    ));
                }
                Some(_) => rows.push(Row { line, fields }),
            }
        }
        let header = header.ok_or_else(|| DataError::Malformed {
            path: path.to_path_buf(),
            problem: "empty file; expected a header row".into(),
        })?;
        Ok(Table {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// The header's fields as written.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The position of the column named `name` (ASCII case and surrounding spaces ignored).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    }

    /// The data rows, in file order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The file the table was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An error about `row` of this file: "`<file>`: line N: `problem`".
    pub fn error(&self, row: &Row, problem: impl std::fmt::Display) -> DataError {
        malformed(&self.path, row.line, problem.to_string())
    }

    /// An error about the file as a whole.
    pub fn file_error(&self, problem: impl std::fmt::Display) -> DataError {
        DataError::Malformed {
            path: self.path.clone(),
            problem: problem.to_string(),
        }
    }
}

fn malformed(path: &Path, line: u64, problem: String) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem: if line == 0 {
            problem
        } else {
            format!("line {line}: {problem}")
        },
    }
}

/// The 1-based line of the first byte of a record that parsing began at `start` (the reader
/// reports the end of the previous record, before any blank lines).
fn line_of(bytes: &[u8], start: usize) -> u64 {
    let start = start.min(bytes.len());
    let first = bytes[start..]
        .iter()
        .position(|b| *b != b'\n' && *b != b'\r')
        .map_or(bytes.len(), |k| start + k);
    1 + bytes[..first].iter().filter(|b| **b == b'\n').count() as u64
}

/// `Err(line)` when the file's quotes do not pair up: the line where the unpaired quote is.
/// RFC 4180 quotes always come in pairs (a field's opening and closing quote, doubled quotes
/// inside); an odd count means a quoted field never closes, which the `csv` crate would
/// silently read to the end of the file.
fn check_quotes(bytes: &[u8]) -> Result<(), u64> {
    let mut open_at = None;
    let mut line = 1u64;
    for &b in bytes {
        match b {
            b'"' => open_at = if open_at.is_some() { None } else { Some(line) },
            b'\n' => line += 1,
            _ => {}
        }
    }
    open_at.map_or(Ok(()), Err)
}

/// A CSV file being written in memory: a header, then rows; [`Writer::finish`] gives the bytes
/// (write them with [`crate::util::fs::write_atomic`] or a run's writer).
pub struct Writer {
    inner: ::csv::Writer<Vec<u8>>,
}

impl Writer {
    /// A file whose first row is `header`.
    pub fn new<I, S>(header: I) -> Writer
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut w = Writer {
            inner: ::csv::WriterBuilder::new()
                .flexible(false)
                .from_writer(Vec::new()),
        };
        w.row(header);
        w
    }

    /// Append one row (as many fields as the header).
    pub fn row<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.inner
            .write_record(fields)
            .expect("a CSV row in memory is written, with as many fields as the header");
    }

    /// The finished file's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.inner
            .into_inner()
            .expect("flushing CSV into memory cannot fail")
    }

    /// The finished file as text.
    pub fn finish_string(self) -> String {
        String::from_utf8(self.finish()).expect("CSV written from UTF-8 fields is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table, String> {
        Table::parse(Path::new("t.csv"), text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn fields_with_commas_quotes_and_line_breaks_round_trip() {
        let awkward = [
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r\nlf",
            " lead",
            "trail ",
            "",
            "#x",
        ];
        let mut w = Writer::new(["name", "n"]);
        for (i, s) in awkward.iter().enumerate() {
            w.row([s.to_string(), i.to_string()]);
        }
        let t = parse(&w.finish_string()).unwrap();
        assert_eq!(t.header(), ["name", "n"]);
        let back: Vec<&str> = t.rows().iter().map(|r| r.fields[0].as_str()).collect();
        assert_eq!(back, awkward);
    }

    #[test]
    fn rows_name_the_line_they_start_on() {
        let t = parse("\u{feff}a, b\n\n\"x\ny\",1\n   \n3,4\n").unwrap();
        let lines: Vec<u64> = t.rows().iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 6]);
        assert_eq!(t.rows()[0].fields, vec!["x\ny", "1"]);
        assert_eq!(t.column("B"), Some(1));
    }

    #[test]
    fn ragged_rows_unclosed_quotes_and_bad_bytes_are_errors_naming_the_line() {
        let e = parse("path,label\na.png,ants\nb.png\n").unwrap_err();
        assert!(
            e.contains("t.csv: line 3: 1 field(s), but the header"),
            "{e}"
        );
        let e = parse("path,label\na.png,ants,extra\n").unwrap_err();
        assert!(e.contains("line 2: 3 field(s)"), "{e}");
        let e = parse("path,label\na.png,\"ants\nb.png,bees\n").unwrap_err();
        assert!(e.contains("line 2: unbalanced quote"), "{e}");
        let e = Table::parse(Path::new("t.csv"), b"path,label\n\xff.png,a\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2: not UTF-8"), "{e}");
        assert!(parse("").unwrap_err().contains("empty file"));
    }
}
