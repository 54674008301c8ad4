//! Replays every committed fuzz input (`fuzz/seeds`, `fuzz/corpus`, `fuzz/regressions`)
//! through its target: no input may panic or break a target's invariants, and every seed (a
//! valid file written by the real writers) must be accepted. This is the stable, every-run
//! half of the fuzzing; `fuzz/run.sh` is the coverage-guided half.

use std::path::Path;

use augtrain_fuzz_targets::{InputKind, TARGETS, Target, input_dirs};

/// The files of `dir`, sorted by name (none when it does not exist).
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `target`; returns how many ran.
fn replay(target: &Target) -> usize {
    let mut count = 0;
    for (kind, dir) in input_dirs(target.name) {
        for file in files(&dir) {
            let bytes = match std::fs::read(&file) {
                Ok(bytes) => bytes,
                // A running `fuzz/run.sh` replaces corpus files with smaller ones as it goes.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            let accepted = (target.run)(&bytes);
            if kind == InputKind::Seed {
                assert!(accepted, "seed {} is not accepted", file.display());
            }
            count += 1;
        }
    }
    assert!(
        !files(&input_dirs(target.name)[0].1).is_empty(),
        "target {} has no seeds",
        target.name
    );
    count
}

#[test]
fn every_target_has_a_cargo_fuzz_binary_and_a_dictionary_entry() {
    let fuzz = augtrain_fuzz_targets::fuzz_dir();
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    let script = std::fs::read_to_string(fuzz.join("run.sh")).unwrap();
    for t in &TARGETS {
        let binary = fuzz.join("fuzz_targets").join(format!("{}.rs", t.name));
        let source = std::fs::read_to_string(&binary)
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        assert!(
            source.contains(&format!("augtrain_fuzz_targets::{}(", t.name)),
            "{} does not call its target",
            binary.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{}\"", t.name)),
            "fuzz/Cargo.toml has no [[bin]] {}",
            t.name
        );
        assert!(
            script.contains(&format!("{})", t.name)),
            "fuzz/run.sh has no options for {}",
            t.name
        );
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let target = TARGETS
                .iter()
                .find(|t| t.name == stringify!($name))
                .expect("a target of that name");
            let n = replay(target);
            eprintln!("replayed {n} inputs through {}", target.name);
        }
    )*};
}

replay_tests!(
    idx,
    cifar,
    image,
    manifest,
    pack,
    split_file,
    pipeline_toml,
    pipeline_json,
    config,
    pred_probs,
    embeddings,
    checkpoint,
    params_jsonl,
    embedding_index,
    annotations,
    rle,
    pth,
);

#[test]
fn the_replay_tests_cover_every_target() {
    let tested = [
        "idx",
        "cifar",
        "image",
        "manifest",
        "pack",
        "split_file",
        "pipeline_toml",
        "pipeline_json",
        "config",
        "pred_probs",
        "embeddings",
        "checkpoint",
        "params_jsonl",
        "embedding_index",
        "annotations",
        "rle",
        "pth",
    ];
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(names, tested);
}
