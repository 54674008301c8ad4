//! Why a pipeline spec cannot be used: text that is not a spec, or a value out of range,
//! naming the op and key.

/// A pipeline spec that cannot be used. Each message names the key (and op) to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The text is not a pipeline spec: a syntax error, an unknown key (with the nearest
    /// known one) or a value of the wrong type.
    #[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Syntax {
        /// 1-based line of the problem in TOML text, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A key of the pipeline itself (`version`, `fill`, the erase boxes of all ops) is out of
    /// range.
    #[error("{problem}")]
    Pipeline {
        /// The key.
        key: &'static str,
        /// What is wrong with its value and what is accepted.
        problem: String,
    },
    /// An op's key is out of range, or the op is out of place in the pipeline.
    #[error("ops[{index}] ({op}): {problem}")]
    Op {
        /// 0-based position of the op in `ops`.
        index: usize,
        /// The op's name (`rotate`, `hflip`, ...).
        op: &'static str,
        /// The key and what is wrong with it.
        problem: String,
    },
    /// One of the above, in this file.
    #[error("{origin}: {error}")]
    InFile {
        /// The file (or other origin) of the text.
        origin: String,
        /// The problem.
        error: Box<SpecError>,
    },
}

impl SpecError {
    /// This error, as found in `origin` (a file name).
    pub fn in_file(self, origin: &str) -> Self {
        SpecError::InFile {
            origin: origin.to_string(),
            error: Box::new(self),
        }
    }
}
