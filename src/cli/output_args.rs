//! `--out` and `--force`, for the commands that write an output directory.

use std::path::{Path, PathBuf};

use clap::Args;

use augtrain_run::RunError;
use augtrain_run::run_dir::OutputDir;

/// Where a command writes its output directory.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output directory (default: a new directory named after the input, the command and the
    /// time, under --runs-dir); must not exist or be empty.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing --out directory (as a whole, once the new one is complete).
    #[arg(long)]
    pub force: bool,
}

impl OutputArgs {
    /// Claim the output directory: `--out`, or `parent/default_name`. An existing, non-empty
    /// one fails now (before any work) unless `--force`.
    pub fn claim(&self, parent: &Path, default_name: &str) -> Result<OutputDir, RunError> {
        OutputDir::claim(self.out.as_deref(), parent, default_name, self.force)
    }
}
