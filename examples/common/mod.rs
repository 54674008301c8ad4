//! Shared bits of the examples: where data and outputs live, quick mode, section headings,
//! one training run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use augtrain::data::source::Splits;
use augtrain::device::ComputeDevice;
use augtrain::train::progress::{Reporter, Verbosity};
use augtrain::train::{self, RunOptions, RunSummary};
use augtrain_run::config::TrainConfig;

/// `AUGTRAIN_EXAMPLE_QUICK=1` runs a small, fast version (used by the tests).
pub fn quick() -> bool {
    std::env::var("AUGTRAIN_EXAMPLE_QUICK").is_ok_and(|v| v == "1")
}

/// The real-data folder (`AUGTRAIN_TEST_DATA`, default `../shared/data`), if it has `sub`.
pub fn data(sub: &str) -> Option<PathBuf> {
    let base = std::env::var_os("AUGTRAIN_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let dir = base.join(sub);
    if dir.exists() {
        Some(dir)
    } else {
        println!(
            "This example needs {} (set AUGTRAIN_TEST_DATA to the folder holding it); nothing to do.",
            dir.display()
        );
        None
    }
}

/// Where this example writes (`AUGTRAIN_EXAMPLE_OUT`, default `runs/examples`).
pub fn out_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("AUGTRAIN_EXAMPLE_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("runs/examples"));
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the output directory can be created");
    dir
}

/// Print a numbered section heading.
pub fn section(n: usize, title: &str) {
    println!("\n## {n}. {title}\n");
}

/// Stop with the error's message (examples are programs too: no panics on bad input).
pub fn check<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1)
    })
}

/// Train `cfg` on `splits` into the run directory `out/<name>`: progress bars on a terminal,
/// silent in quick mode; stops with the error's message on failure.
pub fn train_run(
    cfg: &TrainConfig,
    splits: &Splits,
    dev: &ComputeDevice,
    out: &Path,
    name: &str,
) -> RunSummary {
    let reporter = Reporter::new(if quick() {
        Verbosity::Quiet
    } else {
        Verbosity::detect(false)
    });
    let opts = RunOptions {
        runs_dir: out.to_path_buf(),
        name: Some(name.into()),
        resume: None,
    };
    check(train::run(cfg, splits, dev, &opts, &reporter))
}
