use std::path::Path;
use super::{ReadOutput, WriteOutput};
use crate::error::Result;
use crate::model::Dataset;
/// Read.
pub fn read(_path: &Path) -> Result<ReadOutput> { todo!() }
/// Write.
pub fn write(_d: &Dataset) -> Result<WriteOutput> { todo!() }
