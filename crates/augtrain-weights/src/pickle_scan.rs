//! A cheap pre-scan of a pickle's opcodes, run before any real unpickler sees the bytes.
//!
//! The scan never builds the pickled objects: it keeps a stack of small summaries (short
//! strings, ints, globals, small tuples, "something else") and counts what a real unpickler
//! would hold. It refuses a pickle that would make one hold more than [`ScanLimits`] allow
//! (values created, memo entries), long before the bytes reach burn-store's reader, whose own
//! stack grows with every one-byte opcode (99 million `EMPTY_LIST`s cost it 11.8 GB). On the
//! way it records every storage a tensor refers to (`BINPERSID` of `('storage', type, key,
//! location, numel, ...)`) and every tensor view built on one (`_rebuild_tensor_v2`), so the
//! container check can hold them against the bytes the file really has.

use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;

/// Bounds on what a pickle may make an unpickler hold.
#[derive(Clone, Copy, Debug)]
pub struct ScanLimits {
    /// Values created (every push, including copies from the memo) plus memo writes.
    pub max_values: u64,
}

/// A storage a tensor refers to, as the pickle declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageClaim {
    /// The storage key (`data/<key>` in a ZIP container).
    pub key: String,
    /// Bytes declared: element count times the element size of the storage type.
    pub bytes: u64,
    /// Bytes per element of the storage type (1 for an untyped storage).
    pub element_size: u64,
}

/// A tensor view on a storage (`torch._utils._rebuild_tensor_v2(storage, offset, shape,
/// stride, ...)`), as the pickle declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewClaim {
    /// The storage it reads.
    pub storage: StorageClaim,
    /// Bytes the tensor materializes to (product of the shape times the element size),
    /// saturated at `u64::MAX`.
    pub bytes: u64,
    /// The shape, outermost first.
    pub shape: Vec<u64>,
}

/// What a scan found.
#[derive(Clone, Debug, Default)]
pub struct ScanReport {
    /// Every storage reference, in pickle order (a shared storage appears once per use).
    pub storages: Vec<StorageClaim>,
    /// Every tensor view whose arguments the scan could read.
    pub views: Vec<ViewClaim>,
    /// Values created plus memo writes.
    pub values: u64,
    /// Bytes read, `STOP` included.
    pub bytes: u64,
}

/// Why a pickle was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The pickle would make an unpickler hold too much.
    #[error(
        "its pickle creates more than {limit} values (memo writes included) before byte {at}, far more than any state dict needs (a pickle built to exhaust memory)"
    )]
    TooManyValues {
        /// The limit.
        limit: u64,
        /// Byte offset where it was crossed.
        at: u64,
    },
    /// Not a pickle this scan can follow.
    #[error("its pickle is malformed at byte {at}: {why}")]
    Malformed {
        /// Byte offset of the opcode.
        at: u64,
        /// What is wrong.
        why: String,
    },
    /// The bytes end before `STOP`.
    #[error("its pickle ends before its STOP opcode (truncated?)")]
    Truncated,
}

/// Longest string kept in a summary; longer ones become [`Value::Other`].
const KEPT_STRING: usize = 256;

/// A summary of one stack or memo slot. Shared parts are reference-counted, so a copy (memo
/// fetch, `DUP`) costs one slot whatever it holds: the scan's own memory stays proportional
/// to the values counted plus the kept strings.
#[derive(Clone, Debug)]
enum Value {
    Mark,
    Str(Rc<str>),
    Int(i64),
    Global(Rc<str>, Rc<str>),
    Tuple(Rc<[Value]>),
    Storage(Rc<StorageClaim>),
    Other,
}

/// Element size of a legacy typed storage class (`torch.FloatStorage`, ...); `None` for a
/// class that is not a storage.
fn element_size(module: &str, name: &str) -> Option<u64> {
    if module != "torch" {
        return None;
    }
    Some(match name {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "ComplexDoubleStorage" => 16,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" | "UntypedStorage" => 1,
        "UInt16Storage" => 2,
        "UInt32Storage" => 4,
        "UInt64Storage" => 8,
        _ => return None,
    })
}

/// A reader that counts bytes.
struct Counted<R> {
    inner: R,
    at: u64,
}

impl<R: Read> Counted<R> {
    fn byte(&mut self) -> Result<u8, ScanError> {
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), ScanError> {
        self.inner
            .read_exact(buf)
            .map_err(|_| ScanError::Truncated)?;
        self.at += buf.len() as u64;
        Ok(())
    }

    fn le(&mut self, n: usize) -> Result<u64, ScanError> {
        let mut b = [0u8; 8];
        self.exact(&mut b[..n])?;
        Ok(u64::from_le_bytes(b))
    }

    /// Skip `n` bytes (a payload), keeping the first [`KEPT_STRING`] of them.
    fn payload(&mut self, n: u64) -> Result<Option<Vec<u8>>, ScanError> {
        let keep = n <= KEPT_STRING as u64;
        let mut kept = Vec::new();
        let copied = std::io::copy(
            &mut (&mut self.inner).take(n),
            &mut WriteSome(&mut kept, KEPT_STRING),
        )
        .map_err(|_| ScanError::Truncated)?;
        if copied != n {
            return Err(ScanError::Truncated);
        }
        self.at += n;
        Ok(keep.then_some(kept))
    }

    /// A text argument up to its newline (protocol 0), its first bytes kept.
    fn line(&mut self) -> Result<Vec<u8>, ScanError> {
        let mut kept = Vec::new();
        loop {
            let b = self.byte()?;
            if b == b'\n' {
                return Ok(kept);
            }
            if kept.len() < KEPT_STRING {
                kept.push(b);
            }
        }
    }
}

/// A writer keeping at most `.1` bytes and dropping the rest.
struct WriteSome<'a>(&'a mut Vec<u8>, usize);

impl std::io::Write for WriteSome<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.1.saturating_sub(self.0.len());
        self.0.extend_from_slice(&buf[..buf.len().min(room)]);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The scanner's state: the summarized stack and memo, and the counts.
struct Scanner {
    stack: Vec<Value>,
    memo: HashMap<u64, Value>,
    report: ScanReport,
    limits: ScanLimits,
}

/// Scan one pickle from `reader` up to and including its `STOP` opcode.
pub fn scan_pickle<R: Read>(reader: R, limits: ScanLimits) -> Result<ScanReport, ScanError> {
    let mut r = Counted {
        inner: reader,
        at: 0,
    };
    let mut s = Scanner {
        stack: Vec::new(),
        memo: HashMap::new(),
        report: ScanReport::default(),
        limits,
    };
    loop {
        let at = r.at;
        let op = r.byte()?;
        if op == b'.' {
            s.report.bytes = r.at;
            return Ok(s.report);
        }
        s.step(op, &mut r).map_err(|e| match e {
            ScanError::Malformed { why, .. } => ScanError::Malformed { at, why },
            ScanError::TooManyValues { limit, .. } => ScanError::TooManyValues { limit, at },
            other => other,
        })?;
    }
}

impl Scanner {
    fn count(&mut self) -> Result<(), ScanError> {
        self.report.values += 1;
        if self.report.values > self.limits.max_values {
            return Err(ScanError::TooManyValues {
                limit: self.limits.max_values,
                at: 0,
            });
        }
        Ok(())
    }

    fn push(&mut self, v: Value) -> Result<(), ScanError> {
        self.count()?;
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Result<Value, ScanError> {
        match self.stack.pop() {
            Some(Value::Mark) | None => Err(malformed("a value is missing on the stack")),
            Some(v) => Ok(v),
        }
    }

    fn pop_n(&mut self, n: usize) -> Result<Vec<Value>, ScanError> {
        let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
        items.reverse();
        Ok(items)
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, ScanError> {
        let mark = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or_else(|| malformed("no MARK on the stack"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top(&self) -> Result<&Value, ScanError> {
        match self.stack.last() {
            Some(Value::Mark) | None => Err(malformed("a value is missing on the stack")),
            Some(v) => Ok(v),
        }
    }

    fn memo_put(&mut self, idx: u64) -> Result<(), ScanError> {
        let v = self.top()?.clone();
        self.count()?;
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u64) -> Result<(), ScanError> {
        let v = self
            .memo
            .get(&idx)
            .cloned()
            .ok_or_else(|| malformed(&format!("memo entry {idx} was never written")))?;
        self.push(v)
    }

    /// Run one opcode: dispatched by what it does to the stack (or the memo).
    fn step<R: Read>(&mut self, op: u8, r: &mut Counted<R>) -> Result<(), ScanError> {
        match op {
            b'(' | b'0' | b'1' | b'2' => self.stack_op(op),
            b'g' | b'h' | b'j' | b'p' | b'q' | b'r' | b'\x94' => self.memo_op(op, r),
            b'\x80' | b'\x95' | b'\x98' => self.frame_op(op, r),
            b'Q' | b'R' | b'c' | b'\x93' => self.global_op(op, r),
            b'd'
            | b'l'
            | b'o'
            | b'\x91'
            | b'i'
            | b't'
            | b'\x85'..=b'\x87'
            | b'a'
            | b'b'
            | b'e'
            | b'u'
            | b'\x90'
            | b's'
            | b'\x81'
            | b'\x92' => self.build_op(op, r),
            _ => {
                let v = value(op, r)?;
                self.push(v)
            }
        }
    }

    /// `MARK`, `POP`, `POP_MARK`, `DUP`.
    fn stack_op(&mut self, op: u8) -> Result<(), ScanError> {
        match op {
            b'(' => self.stack.push(Value::Mark),
            b'0' => {
                // CPython's POP takes a bare MARK too.
                self.stack
                    .pop()
                    .ok_or_else(|| malformed("POP on an empty stack"))?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            _ => {
                let v = self.top()?.clone();
                self.push(v)?;
            }
        }
        Ok(())
    }

    /// The memo: `GET`, `BINGET`, `LONG_BINGET` read it; `PUT`, `BINPUT`, `LONG_BINPUT`,
    /// `MEMOIZE` write it.
    fn memo_op<R: Read>(&mut self, op: u8, r: &mut Counted<R>) -> Result<(), ScanError> {
        match op {
            b'g' => self.memo_get(text_index(&r.line()?)?),
            b'h' => self.memo_get(r.le(1)?),
            b'j' => self.memo_get(r.le(4)?),
            b'p' => self.memo_put(text_index(&r.line()?)?),
            b'q' => self.memo_put(r.le(1)?),
            b'r' => self.memo_put(r.le(4)?),
            _ => self.memo_put(self.memo.len() as u64),
        }
    }

    /// `PROTO` and `FRAME` skip their argument; `READONLY_BUFFER` needs a value on the stack.
    fn frame_op<R: Read>(&mut self, op: u8, r: &mut Counted<R>) -> Result<(), ScanError> {
        match op {
            b'\x80' => {
                r.le(1)?;
            }
            b'\x95' => {
                r.le(8)?;
            }
            _ => {
                self.top()?;
            }
        }
        Ok(())
    }

    /// Globals and calls: `BINPERSID`, `REDUCE`, `GLOBAL`, `STACK_GLOBAL`.
    fn global_op<R: Read>(&mut self, op: u8, r: &mut Counted<R>) -> Result<(), ScanError> {
        let v = match op {
            b'Q' => {
                let id = self.pop()?;
                self.persistent(id)
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.reduce(callable, args);
                Value::Other
            }
            b'c' => {
                let module = String::from_utf8_lossy(&r.line()?).into();
                let name = String::from_utf8_lossy(&r.line()?).into();
                Value::Global(module, name)
            }
            _ => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => Value::Global(m, n),
                    _ => Value::Other,
                }
            }
        };
        self.push(v)
    }

    /// Containers and objects built from the stack: dicts, lists, tuples, instances, and the
    /// appends and set-items that fill them in place.
    fn build_op<R: Read>(&mut self, op: u8, r: &mut Counted<R>) -> Result<(), ScanError> {
        match op {
            // APPEND, BUILD: the value goes into (or onto) the one below.
            b'a' | b'b' => {
                self.pop()?;
                self.top()?;
            }
            b'd' | b'l' | b'o' | b'\x91' => {
                self.pop_mark()?;
                self.push(Value::Other)?;
            }
            b'i' => {
                r.line()?;
                r.line()?;
                self.pop_mark()?;
                self.push(Value::Other)?;
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push(tuple(items))?;
            }
            b'\x85' | b'\x86' | b'\x87' => {
                let items = self.pop_n((op - 0x84) as usize)?;
                self.push(tuple(items))?;
            }
            b'e' | b'u' | b'\x90' => {
                self.pop_mark()?;
                self.top()?;
            }
            b's' => {
                self.pop_n(2)?;
                self.top()?;
            }
            b'\x81' => {
                self.pop_n(2)?;
                self.push(Value::Other)?;
            }
            _ => {
                self.pop_n(3)?;
                self.push(Value::Other)?;
            }
        }
        Ok(())
    }

    /// The value of `BINPERSID`: a storage when `id` is `('storage', torch.XStorage, key,
    /// location, numel, ...)`, recorded.
    fn persistent(&mut self, id: Value) -> Value {
        let Value::Tuple(items) = id else {
            return Value::Other;
        };
        let [
            Value::Str(kind),
            Value::Global(module, class),
            Value::Str(key),
            _,
            Value::Int(n),
        ] = items.get(..5).unwrap_or_default()
        else {
            return Value::Other;
        };
        let Some(size) = element_size(module, class) else {
            return Value::Other;
        };
        if &**kind != "storage" {
            return Value::Other;
        }
        let claim = StorageClaim {
            key: key.to_string(),
            bytes: ((*n).max(0) as u64).saturating_mul(size),
            element_size: size,
        };
        self.report.storages.push(claim.clone());
        Value::Storage(claim.into())
    }

    /// Record a tensor view when `callable(args)` is `_rebuild_tensor_v2(storage, offset,
    /// shape, stride, ...)` (or the older `_rebuild_tensor`).
    fn reduce(&mut self, callable: Value, args: Value) {
        let Value::Global(module, name) = callable else {
            return;
        };
        if &*module != "torch._utils" || !name.starts_with("_rebuild_tensor") {
            return;
        }
        let Value::Tuple(args) = args else { return };
        let [Value::Storage(storage), _, Value::Tuple(shape), ..] = &*args else {
            return;
        };
        let shape: Option<Vec<u64>> = shape
            .iter()
            .map(|d| match d {
                Value::Int(n) if *n >= 0 => Some(*n as u64),
                _ => None,
            })
            .collect();
        let Some(shape) = shape else { return };
        let elements = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let claimed_elements = elements.unwrap_or(u64::MAX);
        self.report.views.push(ViewClaim {
            storage: (**storage).clone(),
            bytes: claimed_elements.saturating_mul(storage.element_size),
            shape,
        });
    }
}

fn malformed(why: &str) -> ScanError {
    ScanError::Malformed {
        at: 0,
        why: why.to_string(),
    }
}

fn tuple(items: Vec<Value>) -> Value {
    Value::Tuple(items.into())
}

fn str_value(bytes: Option<Vec<u8>>) -> Value {
    match bytes.map(String::from_utf8) {
        Some(Ok(s)) => Value::Str(s.into()),
        _ => Value::Other,
    }
}

/// The value an opcode that pushes one reads from the stream: numbers, strings and bytes,
/// `None`/booleans/empty containers and extension codes (as [`Value::Other`]); an opcode that
/// is none of those is unknown.
fn value<R: Read>(op: u8, r: &mut Counted<R>) -> Result<Value, ScanError> {
    Ok(match op {
        b'F' | b'L' | b'S' | b'V' => {
            let text = r.line()?;
            match op {
                b'V' => Value::Str(String::from_utf8_lossy(&text).into()),
                b'S' => Value::Str(
                    String::from_utf8_lossy(&text)
                        .trim_matches(['\'', '"'])
                        .into(),
                ),
                b'L' => text_int(text.strip_suffix(b"L").unwrap_or(&text)),
                _ => Value::Other,
            }
        }
        b'I' => text_int(&r.line()?),
        b'J' => Value::Int(r.le(4)? as u32 as i32 as i64),
        b'K' => Value::Int(r.le(1)? as i64),
        b'M' => Value::Int(r.le(2)? as i64),
        b'\x8a' | b'\x8b' => {
            let n = if op == b'\x8a' { r.le(1)? } else { r.le(4)? };
            match r.payload(n)? {
                Some(b) if b.len() <= 8 => Value::Int(le_signed(&b)),
                _ => Value::Other,
            }
        }
        b'G' => {
            r.le(8)?;
            Value::Other
        }
        b'N' | b'\x88' | b'\x89' | b'}' | b']' | b'\x8f' | b'\x97' => Value::Other,
        b')' => Value::Tuple(Rc::from(Vec::new())),
        b'P' => {
            r.line()?;
            Value::Other
        }
        b'T' | b'B' | b'X' => {
            let n = r.le(4)?;
            str_value(r.payload(n)?)
        }
        b'U' | b'C' | b'\x8c' => {
            let n = r.le(1)?;
            str_value(r.payload(n)?)
        }
        b'\x8d' | b'\x8e' | b'\x96' => {
            let n = r.le(8)?;
            str_value(r.payload(n)?)
        }
        b'\x82' | b'\x83' | b'\x84' => {
            r.le(match op {
                b'\x82' => 1,
                b'\x83' => 2,
                _ => 4,
            })?;
            Value::Other
        }
        other => return Err(malformed(&format!("unknown opcode 0x{other:02x}"))),
    })
}

fn text_int(text: &[u8]) -> Value {
    match std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
    {
        Some(n) => Value::Int(n),
        None => Value::Other,
    }
}

fn text_index(text: &[u8]) -> Result<u64, ScanError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .ok_or_else(|| malformed("a memo index that is not a number"))
}

fn le_signed(bytes: &[u8]) -> i64 {
    if bytes.is_empty() {
        return 0;
    }
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    if bytes[bytes.len() - 1] & 0x80 != 0 {
        for x in &mut b[bytes.len()..] {
            *x = 0xff;
        }
    }
    i64::from_le_bytes(b)
}
