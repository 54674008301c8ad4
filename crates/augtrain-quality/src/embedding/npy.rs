//! NumPy `.npy` files holding one 2-D float array: an `n × d` matrix of embeddings.
//!
//! Writing produces exactly what `np.save` writes for a C-ordered float32 array: format 1.0,
//! `'<f4'`, `fortran_order: False`, shape `(n, d)`, the header dict followed by numpy's spare
//! space for the growth axis and padded with spaces and a newline so that the data starts at a
//! multiple of 64 bytes.
//!
//! Reading is strict, for files from anywhere: magic `\x93NUMPY`, format 1.0, 2.0 or 3.0, a
//! header of at most [`MAX_HEADER_LEN`] bytes (numpy's own default limit) holding exactly the keys
//! `descr`, `fortran_order` and `shape`; `descr` `'<f4'` (kept) or `'<f8'` (rounded to the
//! nearest f32, as `astype(np.float32)`), C order only, a 2-D shape with at least one column, and
//! a data section of exactly `n·d·itemsize` bytes. Nothing is allocated before the header has
//! been checked against the length of the input, so a hostile header cannot ask for more memory
//! than the file holds. Every failure is an [`NpyError`] whose message is one line.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use super::store::EmbeddingSet;

/// The `.npy` magic string.
const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Data alignment numpy pads headers to (bytes).
const ARRAY_ALIGN: usize = 64;
/// numpy's spare header space for growing the first axis in place (`GROWTH_AXIS_MAX_DIGITS`).
const GROWTH_AXIS_MAX_DIGITS: usize = 21;
/// The longest header accepted, in bytes (numpy's default `max_header_size`).
pub const MAX_HEADER_LEN: usize = 10_000;
/// Bytes read from the data section at a time.
const CHUNK: usize = 1 << 16;

/// Why a `.npy` file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file system failed.
    #[error("cannot {action} {name}: {source}")]
    Io {
        /// `"read"`, `"open"`, `"create"` or `"write"`.
        action: &'static str,
        /// The file, as given.
        name: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not a `.npy` file this reader accepts.
    #[error("{name}: {problem}")]
    Format {
        /// The file, as given.
        name: String,
        /// What is wrong.
        problem: NpyProblem,
    },
}

/// What is wrong with a `.npy` file's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyProblem {
    /// The file does not start with `\x93NUMPY`.
    #[error("not a .npy file (it does not start with \\x93NUMPY)")]
    Magic,
    /// The input ends before the header does.
    #[error("file ends inside the .npy header")]
    Truncated,
    /// A format version other than 1.0, 2.0 or 3.0.
    #[error("format version {0}.{1} is not supported (1.0, 2.0 and 3.0 are)")]
    Version(u8, u8),
    /// The header length field exceeds [`MAX_HEADER_LEN`].
    #[error("header of {0} bytes exceeds the {MAX_HEADER_LEN}-byte limit")]
    HeaderTooLong(u64),
    /// The header is not a Python dict literal of the expected form.
    #[error("malformed header: {0}")]
    Header(&'static str),
    /// A dtype other than `'<f4'` and `'<f8'`.
    #[error("dtype '{0}' is not supported; save float32 or float64")]
    Dtype(String),
    /// `fortran_order: True`.
    #[error(
        "Fortran-ordered arrays are not supported; save a C-ordered array (np.ascontiguousarray)"
    )]
    FortranOrder,
    /// A shape with other than two dimensions.
    #[error("shape has {0} dimensions; expected a 2-D array (n, d)")]
    Dimensions(usize),
    /// A shape `(n, 0)`.
    #[error("shape ({0}, 0) has no columns")]
    NoColumns(u64),
    /// `n·d·itemsize` does not fit in memory addresses.
    #[error("shape ({0}, {1}) is too large")]
    TooLarge(u64, u64),
    /// The data section's length differs from what the shape and dtype need.
    #[error(
        "shape ({rows}, {cols}) of {itemsize}-byte values needs {expected} data bytes, the file has {actual}"
    )]
    DataLength {
        /// Rows.
        rows: u64,
        /// Columns.
        cols: u64,
        /// Bytes per value.
        itemsize: u64,
        /// `rows·cols·itemsize`.
        expected: u64,
        /// Bytes after the header.
        actual: u64,
    },
}

/// Reads a 2-D float32 or float64 `.npy` file into an [`EmbeddingSet`] (rows as stored, not
/// normalized).
pub fn read_npy(path: &Path) -> Result<EmbeddingSet, NpyError> {
    let name = path.display().to_string();
    let io = |action, source| NpyError::Io {
        action,
        name: name.clone(),
        source,
    };
    let mut file = augtrain_data::util::fs::open_regular(path).map_err(|e| io("open", e))?;
    let len = file.metadata().map_err(|e| io("read", e))?.len();
    read_from(&mut file, len, &name)
}

/// [`read_npy`] on bytes in memory; `name` labels errors.
pub fn parse_npy(bytes: &[u8], name: &str) -> Result<EmbeddingSet, NpyError> {
    read_from(&mut &bytes[..], bytes.len() as u64, name)
}

/// The `.npy` bytes of `set` as `np.save` writes a C-ordered float32 array of shape
/// `(set.len(), set.dim)`.
pub fn npy_bytes(set: &EmbeddingSet) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        set.len(),
        set.dim
    );
    let spare = GROWTH_AXIS_MAX_DIGITS.saturating_sub(set.len().to_string().len());
    header.push_str(&" ".repeat(spare));
    let hlen = header.len() + 1;
    let pad = ARRAY_ALIGN - (MAGIC.len() + 4 + hlen) % ARRAY_ALIGN;
    let total_header = hlen + pad;
    let mut out = Vec::with_capacity(10 + total_header + 4 * set.values.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // A v1.0 header longer than u16::MAX cannot occur: the dict holds two integers.
    out.extend_from_slice(&(total_header as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    for v in &set.values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes `set` to `path` as [`npy_bytes`] does.
pub fn write_npy(path: &Path, set: &EmbeddingSet) -> Result<(), NpyError> {
    let name = path.display().to_string();
    let io = |action, source| NpyError::Io {
        action,
        name: name.clone(),
        source,
    };
    let file = File::create(path).map_err(|e| io("create", e))?;
    let mut w = BufWriter::new(file);
    w.write_all(&npy_bytes(set)).map_err(|e| io("write", e))?;
    w.flush().map_err(|e| io("write", e))
}

/// The parsed header: dtype item size (4 or 8) and shape.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    itemsize: usize,
    rows: u64,
    cols: u64,
}

fn read_from(r: &mut impl Read, total: u64, name: &str) -> Result<EmbeddingSet, NpyError> {
    let fail = |problem| NpyError::Format {
        name: name.to_string(),
        problem,
    };
    let io = |source| NpyError::Io {
        action: "read",
        name: name.to_string(),
        source,
    };
    let mut pre = [0u8; 8];
    read_prefix(r, &mut pre, total, 0).map_err(|e| e.map_or(fail(NpyProblem::Truncated), io))?;
    if &pre[..6] != MAGIC {
        return Err(fail(NpyProblem::Magic));
    }
    let len_bytes = match (pre[6], pre[7]) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        (major, minor) => return Err(fail(NpyProblem::Version(major, minor))),
    };
    let mut field = [0u8; 4];
    read_prefix(r, &mut field[..len_bytes], total, 8)
        .map_err(|e| e.map_or(fail(NpyProblem::Truncated), io))?;
    let header_len = u64::from(u32::from_le_bytes(field));
    if header_len > MAX_HEADER_LEN as u64 {
        return Err(fail(NpyProblem::HeaderTooLong(header_len)));
    }
    let start = 8 + len_bytes as u64;
    let mut text = vec![0u8; header_len as usize];
    read_prefix(r, &mut text, total, start)
        .map_err(|e| e.map_or(fail(NpyProblem::Truncated), io))?;
    let header = parse_header(&text).map_err(fail)?;
    let actual = total - start - header_len;
    let count = header
        .rows
        .checked_mul(header.cols)
        .filter(|c| c.checked_mul(8).is_some_and(|b| b <= isize::MAX as u64))
        .ok_or(fail(NpyProblem::TooLarge(header.rows, header.cols)))?;
    let expected = count * header.itemsize as u64;
    if expected != actual {
        return Err(fail(NpyProblem::DataLength {
            rows: header.rows,
            cols: header.cols,
            itemsize: header.itemsize as u64,
            expected,
            actual,
        }));
    }
    let values = read_values(r, count as usize, header.itemsize).map_err(io)?;
    Ok(EmbeddingSet {
        dim: header.cols as usize,
        values,
    })
}

/// Reads `buf.len()` bytes found at `offset` of an input of `total` bytes: `Err(None)` when the
/// input is too short, `Err(Some(e))` when reading fails.
fn read_prefix(
    r: &mut impl Read,
    buf: &mut [u8],
    total: u64,
    offset: u64,
) -> Result<(), Option<std::io::Error>> {
    if offset + buf.len() as u64 > total {
        return Err(None);
    }
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => None,
        _ => Some(e),
    })
}

/// `count` little-endian values of `itemsize` bytes (4: f32, 8: f64 rounded to f32), read in
/// chunks (the caller has checked that the input holds them all).
fn read_values(r: &mut impl Read, count: usize, itemsize: usize) -> std::io::Result<Vec<f32>> {
    let mut values = Vec::with_capacity(count);
    let mut chunk = vec![0u8; CHUNK.min(count * itemsize)];
    let mut left = count * itemsize;
    while left > 0 {
        let buf = &mut chunk[..left.min(CHUNK)];
        r.read_exact(buf)?;
        left -= buf.len();
        if itemsize == 4 {
            values.extend(
                buf.chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap())),
            );
        } else {
            values.extend(
                buf.chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32),
            );
        }
    }
    Ok(values)
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }` (keys in any order,
/// single or double quotes, optional trailing comma, trailing spaces and newline).
fn parse_header(text: &[u8]) -> Result<Header, NpyProblem> {
    let mut p = Parser { s: text, at: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_space();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_space();
        p.expect(b':')?;
        p.skip_space();
        let fresh = match key.as_str() {
            "descr" => descr.replace(p.string()?).is_none(),
            "fortran_order" => fortran.replace(p.boolean()?).is_none(),
            "shape" => shape.replace(p.tuple()?).is_none(),
            _ => {
                return Err(NpyProblem::Header(
                    "unknown key (expected descr, fortran_order, shape)",
                ));
            }
        };
        if !fresh {
            return Err(NpyProblem::Header("repeated key"));
        }
        p.skip_space();
        if !p.eat(b',') {
            p.skip_space();
            p.expect(b'}')?;
            break;
        }
    }
    if !p.s[p.at..].iter().all(|&c| c == b' ' || c == b'\n') {
        return Err(NpyProblem::Header("text after the dict"));
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(NpyProblem::Header(
            "missing key (descr, fortran_order and shape are required)",
        ));
    };
    let itemsize = match descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        _ => return Err(NpyProblem::Dtype(descr.chars().take(40).collect())),
    };
    if fortran {
        return Err(NpyProblem::FortranOrder);
    }
    let &[rows, cols] = shape.as_slice() else {
        return Err(NpyProblem::Dimensions(shape.len()));
    };
    if cols == 0 {
        return Err(NpyProblem::NoColumns(rows));
    }
    Ok(Header {
        itemsize,
        rows,
        cols,
    })
}

/// A cursor over the header text.
struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Result<(), NpyProblem> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(NpyProblem::Header(match c {
                b'{' => "expected '{'",
                b'}' => "expected '}' or ','",
                b':' => "expected ':' after a key",
                _ => "unexpected character",
            }))
        }
    }

    fn skip_space(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    /// A quoted string of printable ASCII without escapes.
    fn string(&mut self) -> Result<String, NpyProblem> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(NpyProblem::Header("expected a quoted string")),
        };
        self.at += 1;
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == quote {
                let text = &self.s[start..self.at];
                self.at += 1;
                return Ok(text.iter().map(|&b| b as char).collect());
            }
            if !(0x20..0x7f).contains(&c) || c == b'\\' {
                return Err(NpyProblem::Header(
                    "string holds a non-printable character or escape",
                ));
            }
            self.at += 1;
        }
        Err(NpyProblem::Header("unterminated string"))
    }

    fn boolean(&mut self) -> Result<bool, NpyProblem> {
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.at..].starts_with(word) {
                self.at += word.len();
                return Ok(value);
            }
        }
        Err(NpyProblem::Header("fortran_order is not True or False"))
    }

    /// `()`, `(a,)`, `(a, b)` or `(a, b,)` of non-negative decimal integers.
    fn tuple(&mut self) -> Result<Vec<u64>, NpyProblem> {
        const BAD: NpyProblem = NpyProblem::Header("shape is not a tuple of non-negative integers");
        if !self.eat(b'(') {
            return Err(BAD);
        }
        let mut dims = Vec::new();
        loop {
            self.skip_space();
            if self.eat(b')') {
                return Ok(dims);
            }
            if dims.len() == 32 {
                return Err(NpyProblem::Header("shape has more than 32 dimensions"));
            }
            dims.push(self.integer().ok_or(BAD)?);
            self.skip_space();
            if !self.eat(b',') {
                self.skip_space();
                // `(a)` is an int in Python, not a tuple.
                return if self.eat(b')') && dims.len() != 1 {
                    Ok(dims)
                } else {
                    Err(BAD)
                };
            }
        }
    }

    fn integer(&mut self) -> Option<u64> {
        let start = self.at;
        let mut v: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.at += 1;
        }
        (self.at > start).then_some(v)
    }
}
