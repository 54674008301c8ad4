//! # augtrain-fuzz-targets
//!
//! Every parser of outside input as a plain function on bytes, each driven one step further
//! than parsing where a parsed value feeds more code (a pack is read record by record, a
//! pipeline spec is compiled and run on the CPU twin, a checkpoint's records are opened by
//! burn's container reader, a `.pth` file that passes the pre-check is opened by burn-store's
//! PyTorch reader and every tensor read).
//!
//! Two callers share these functions:
//! - the cargo-fuzz binaries in `fuzz/fuzz_targets/` (libFuzzer, coverage-guided, nightly):
//!   `fuzz/run.sh <target>`;
//! - the stable test run, which replays every committed input ([`input_dirs`]) through them
//!   (`tests/replay.rs`).
//!
//! A target returns whether the input was accepted (parsed and carried through the deeper
//! steps). Errors are the expected outcome for most inputs; a failure is a panic (outside the
//! decoders that production code runs under [`augtrain_data::util::panic::contain`]), a broken
//! invariant (asserted here: round trips, record sizes), a hang, or an allocation over
//! libFuzzer's `-malloc_limit_mb` / `-rss_limit_mb` (see `fuzz/run.sh`).

mod annotations;
mod checkpoint;
mod disk;
mod formats;
mod pipeline;
mod records;
mod rle;
mod weights;

use std::path::{Path, PathBuf};

pub use annotations::annotations;
pub use checkpoint::{checkpoint, reseal};
pub use disk::{PACK_SEPARATOR, manifest, pack, pack_files, split_file};
pub use formats::{cifar, embeddings, idx, image, pred_probs};
pub use pipeline::{config, pipeline_json, pipeline_toml};
pub use records::{embedding_index, params_jsonl};
pub use rle::rle;
pub use weights::pth;

/// A fuzz target: a parser entry point that must survive any bytes.
pub struct Target {
    /// Name: the cargo-fuzz binary, and the directory name under `fuzz/seeds`, `fuzz/corpus`
    /// and `fuzz/regressions`.
    pub name: &'static str,
    /// The code under test; returns whether the input was accepted.
    pub run: fn(&[u8]) -> bool,
}

/// Every target, in data-flow order.
pub const TARGETS: [Target; 17] = [
    Target {
        name: "idx",
        run: idx,
    },
    Target {
        name: "cifar",
        run: cifar,
    },
    Target {
        name: "image",
        run: image,
    },
    Target {
        name: "manifest",
        run: manifest,
    },
    Target {
        name: "pack",
        run: pack,
    },
    Target {
        name: "split_file",
        run: split_file,
    },
    Target {
        name: "pipeline_toml",
        run: pipeline_toml,
    },
    Target {
        name: "pipeline_json",
        run: pipeline_json,
    },
    Target {
        name: "config",
        run: config,
    },
    Target {
        name: "pred_probs",
        run: pred_probs,
    },
    Target {
        name: "embeddings",
        run: embeddings,
    },
    Target {
        name: "checkpoint",
        run: checkpoint,
    },
    Target {
        name: "params_jsonl",
        run: params_jsonl,
    },
    Target {
        name: "embedding_index",
        run: embedding_index,
    },
    Target {
        name: "annotations",
        run: annotations,
    },
    Target {
        name: "rle",
        run: rle,
    },
    Target {
        name: "pth",
        run: pth,
    },
];

/// The `fuzz/` directory of the repository.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/targets has a parent")
        .to_path_buf()
}

/// Where a target's committed inputs live, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// `fuzz/seeds/<target>/`: valid files written by the real writers (every one must be
    /// accepted).
    Seed,
    /// `fuzz/corpus/<target>/`: the coverage corpus libFuzzer grew (minimized with
    /// `cargo fuzz cmin`).
    Corpus,
    /// `fuzz/regressions/<target>/`: inputs that once failed, named for what they found.
    Regression,
}

/// The three input directories of `target` (some may not exist).
pub fn input_dirs(target: &str) -> [(InputKind, PathBuf); 3] {
    let fuzz = fuzz_dir();
    [
        (InputKind::Seed, fuzz.join("seeds").join(target)),
        (InputKind::Corpus, fuzz.join("corpus").join(target)),
        (InputKind::Regression, fuzz.join("regressions").join(target)),
    ]
}

/// A scratch directory for targets that need files on disk, unique per process and thread
/// (libFuzzer's `-jobs` runs several processes; the replay test several threads).
pub(crate) fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "augtrain-fuzz-{}-{what}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("cannot create a scratch directory");
    dir
}
