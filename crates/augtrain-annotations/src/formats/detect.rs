use std::path::Path;
use super::Format;
use crate::error::Result;
/// Detect.
pub fn detect(_path: &Path) -> Result<Format> { todo!() }
