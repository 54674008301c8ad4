//! The corpus of malformed inputs in `tests/malformed/` (its README says how to add a case).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::*;

/// Every file under `tests/malformed/<kind>/` is one way an input can be broken. Each is put
/// where that kind of file goes (an IDX slot, a CIFAR batch, a pack's manifest, a run's
/// checkpoint, an image in a class folder, or a file given on the command line), and the
/// command must exit 1 with one line naming the file, and write nothing.
#[test]
fn malformed_input_corpus_fails_cleanly_and_writes_nothing() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let expected = expectations(&corpus);
    let root = scratch("malformed-corpus");
    let bases = Bases::build(&root);
    let mut seen = 0;
    let mut failures = Vec::new();
    for (kind, file) in corpus_files(&corpus) {
        let case = format!("{kind}/{}", file_name(&file));
        seen += 1;
        let work = root.join(case.replace('/', "--"));
        std::fs::create_dir_all(&work).unwrap();
        let placed = place(&kind, &file, &work, &bases);
        let expect = expected
            .get(&case)
            .map(String::as_str)
            .unwrap_or("<no expectation in expected.csv>");
        if let Some(problems) = misbehaviour(&placed, &work.join("runs"), expect) {
            failures.push(format!("{case}: {problems}"));
        }
    }
    assert_eq!(
        seen,
        expected.len(),
        "tests/malformed/expected.csv lists {} cases, the corpus holds {seen}",
        expected.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {seen} malformed inputs misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `expected.csv`: each case (`kind/file`) and the text its error message must contain.
fn expectations(corpus: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(corpus.join("expected.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (case, expect) = l.split_once(',').unwrap();
            (case.to_string(), expect.to_string())
        })
        .collect()
}

/// Every corpus file with its kind (its folder's name), kinds and files in name order.
fn corpus_files(corpus: &Path) -> Vec<(String, PathBuf)> {
    let sorted = |dir: &Path| {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        paths
    };
    let kinds = sorted(corpus).into_iter().filter(|p| p.is_dir());
    kinds
        .flat_map(|kind_dir| {
            let kind = file_name(&kind_dir);
            sorted(&kind_dir)
                .into_iter()
                .map(move |f| (kind.clone(), f))
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Valid inputs the broken files are put into.
struct Bases {
    /// A little IDX dataset ([`write_idx`]).
    idx: PathBuf,
    /// The same dataset as a pack.
    pack: PathBuf,
    /// A finished synthetic run, whose checkpoint the broken ones replace.
    run: PathBuf,
}

impl Bases {
    fn build(root: &Path) -> Self {
        let idx = root.join("base-idx");
        write_idx(&idx);
        let pack = root.join("base.pack");
        ok(&augtrain(&[
            "pack",
            idx.to_str().unwrap(),
            "--out",
            pack.to_str().unwrap(),
            "--quiet",
        ]));
        let base_runs = root.join("base-runs");
        corpus_train(&base_runs)
            .synthetic(60, 20)
            .synthetic_size(8)
            .set("--hidden", 4)
            .name("run")
            .run_ok();
        Self {
            idx,
            pack,
            run: base_runs.join("run"),
        }
    }
}

/// The `train` command the cases that train run: an MLP on the CPU, one quiet epoch into `runs`.
fn corpus_train(runs: &Path) -> TrainArgs {
    TrainArgs::new()
        .device("cpu")
        .model("mlp")
        .epochs(1)
        .quiet()
        .runs_dir(runs)
}

/// One malformed file put in place.
struct Placed {
    /// The command line to run.
    args: Vec<String>,
    /// The name the message must contain: the file's, or the slot's it was put in.
    names: String,
    /// A directory the command must leave as it was.
    unchanged: Option<PathBuf>,
}

impl Placed {
    fn naming(args: Vec<String>, names: &str) -> Self {
        Self {
            args,
            names: names.to_string(),
            unchanged: None,
        }
    }
}

/// Put `file` (of `kind`) where that kind of file goes, under `work`; the command that reads
/// it writes into `work/runs`.
fn place(kind: &str, file: &Path, work: &Path, bases: &Bases) -> Placed {
    let name = file_name(file);
    let train = corpus_train(&work.join("runs"));
    match kind {
        "idx-train-images" | "idx-test-labels" => place_idx(kind, file, work, train),
        "cifar-batch" => place_cifar(file, work, train),
        "manifest" => {
            gray_png(&work.join("a.png"), 10);
            let m = work.join(&name);
            std::fs::copy(file, &m).unwrap();
            Placed::naming(train.data(&m).args(), &name)
        }
        "config" => Placed::naming(train.config(file).args(), &name),
        "pipeline" => Placed::naming(
            train
                .set_path("--augment", file)
                .set("--synthetic-train", 40)
                .synthetic_size(8)
                .args(),
            &name,
        ),
        "split-file" => Placed::naming(
            train.data(&bases.idx).set_path("--split", file).args(),
            &name,
        ),
        "pack-manifest" | "pack-index" | "pack-shard" => {
            place_pack(kind, file, work, &bases.pack, train)
        }
        "pred-probs" => {
            let runs = work.join("runs");
            let args = [
                "label-issues",
                "--pred-probs",
                file.to_str().unwrap(),
                "--out",
                runs.to_str().unwrap(),
            ];
            Placed::naming(args.iter().map(|s| s.to_string()).collect(), &name)
        }
        "checkpoint" => place_checkpoint(file, work, &bases.run),
        "image" => place_image(file, work, train),
        other => panic!("tests/malformed/{other}: unknown kind; teach this test where it goes"),
    }
}

/// A broken IDX training-image or test-label file in place of the valid one.
fn place_idx(kind: &str, file: &Path, work: &Path, train: TrainArgs) -> Placed {
    let d = work.join("data");
    write_idx(&d);
    let slot = if kind == "idx-train-images" {
        std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
        "train-images-idx3-ubyte"
    } else {
        "t10k-labels-idx1-ubyte"
    };
    std::fs::copy(file, d.join(slot)).unwrap();
    Placed::naming(train.data(&d).args(), slot)
}

/// A broken CIFAR-10 training batch next to a valid test batch.
fn place_cifar(file: &Path, work: &Path, train: TrainArgs) -> Placed {
    let d = work.join("data");
    std::fs::create_dir_all(&d).unwrap();
    augtrain::data::cifar::write_cifar10_batch(
        &d.join("test_batch.bin"),
        &vec![9u8; 2 * 3072],
        &[0, 1],
    )
    .unwrap();
    std::fs::copy(file, d.join("data_batch_1.bin")).unwrap();
    Placed::naming(train.data(&d).args(), "data_batch_1.bin")
}

/// A broken manifest, index or shard in a copy of a valid pack.
fn place_pack(kind: &str, file: &Path, work: &Path, pack: &Path, train: TrainArgs) -> Placed {
    let d = work.join("data.pack");
    std::fs::create_dir_all(&d).unwrap();
    for e in std::fs::read_dir(pack).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.join(e.file_name())).unwrap();
    }
    let slot = match kind {
        "pack-manifest" => "manifest.json",
        "pack-index" => "index.csv",
        _ => "shard-00000.bin",
    };
    std::fs::copy(file, d.join(slot)).unwrap();
    Placed::naming(train.data(&d).args(), slot)
}

/// A broken checkpoint in a copy of a finished run, resumed; the run must not change.
fn place_checkpoint(file: &Path, work: &Path, run: &Path) -> Placed {
    let d = work.join("run");
    std::fs::create_dir_all(&d).unwrap();
    for e in std::fs::read_dir(run).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), d.join(e.file_name())).unwrap();
    }
    std::fs::copy(file, d.join("checkpoint.bin")).unwrap();
    Placed {
        args: TrainArgs::new().resume(&d).epochs(3).quiet().args(),
        names: "checkpoint.bin".into(),
        unchanged: Some(d),
    }
}

/// A broken image among valid ones in a class folder, with `--on-error fail`.
fn place_image(file: &Path, work: &Path, train: TrainArgs) -> Placed {
    let name = file_name(file);
    let d = work.join("data");
    for (class, v) in [("cat", 30u8), ("dog", 200)] {
        std::fs::create_dir_all(d.join(class)).unwrap();
        gray_png(&d.join(class).join("good-1.png"), v);
        gray_png(&d.join(class).join("good-2.png"), v / 2);
    }
    std::fs::copy(file, d.join("cat").join(&name)).unwrap();
    let args = train.data(&d).set("--on-error", "fail").size("8x8").args();
    Placed::naming(args, &name)
}

/// A 6x6 grey PNG of value `v`.
fn gray_png(path: &Path, v: u8) {
    image::GrayImage::from_pixel(6, 6, image::Luma([v]))
        .save(path)
        .unwrap();
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap_or_default()))
        .collect()
}

/// Run a placed case: `None` if it failed cleanly (exit 1, one `error:` line naming the file and
/// saying `expect`, nothing written to `runs`, nothing changed), else what went wrong.
fn misbehaviour(placed: &Placed, runs: &Path, expect: &str) -> Option<String> {
    let before = placed.unchanged.as_deref().map(snapshot);
    let out = augtrain(&placed.args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut problems = Vec::new();
    if out.status.code() != Some(1) {
        problems.push(format!("exit {:?}", out.status.code()));
    }
    if lines.len() != 1 || !lines[0].starts_with("error: ") {
        problems.push("not exactly one 'error:' line".into());
    }
    if !stderr.contains(&placed.names) {
        problems.push(format!("does not name {}", placed.names));
    }
    if !stderr.contains(expect) {
        problems.push(format!("does not say '{expect}'"));
    }
    if runs.exists() {
        problems.push(format!("wrote {}", runs.display()));
    }
    if let (Some(dir), Some(before)) = (&placed.unchanged, before)
        && snapshot(dir) != before
    {
        problems.push(format!("changed {}", dir.display()));
    }
    (!problems.is_empty()).then(|| format!("{} | stderr: {}", problems.join("; "), stderr.trim()))
}
