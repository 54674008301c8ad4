//! Real networks, pretrained weights, transfer learning, export.

use std::path::{Path, PathBuf};

use augtrain::data::decode::{ResizePolicy, decode_file};
use augtrain::data::{ImageShape, LoadOptions};
use augtrain::device;
use augtrain::model::Model;
use augtrain::model::pretrained::{HeadOutcome, HeadPolicy, WeightsFile};
use augtrain::train::progress::{Reporter, Verbosity};
use augtrain::train::{Inference, Trainer};
use augtrain_run::config::DeviceChoice;
use augtrain_run::config::ModelKind;
use augtrain_run::config::{Freeze, TrainConfig};
use burn::module::Module;
use burn::prelude::{Device, Tensor, TensorData};
use burn::store::{ModuleSnapshot, bridge};

use crate::support::*;

const RESNET18: &str = "resnet18-random-seed0.pth";
const LITE0: &str = "efficientnet-lite0-57934424.pth";
/// The file a hostile pickle's payload would create in the working directory.
const MARKER: &str = "augtrain-pickle-executed";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn floats(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// `x[n,c,h,w] = sin(0.1(n+1)(h+1)) · cos(0.07(c+1)(w+1))`, `[2, 3, 64, 64]`, in f32 as
/// the fixture's torch code computes it.
fn resnet18_fixture_input() -> Vec<f32> {
    let mut x = Vec::with_capacity(2 * 3 * 64 * 64);
    for n in 0..2 {
        for c in 0..3 {
            for h in 0..64 {
                for w in 0..64 {
                    let a = 0.1f32 * (n + 1) as f32 * (h + 1) as f32;
                    let b = 0.07f32 * (c + 1) as f32 * (w + 1) as f32;
                    x.push(a.sin() * b.cos());
                }
            }
        }
    }
    x
}

/// ResNet-18 with the fixture's weights, head included, in evaluation mode.
fn resnet18(models: &Path, device: &Device) -> Model {
    let model = Model::new(
        ModelKind::Resnet18,
        ImageShape::new(64, 64, 3),
        1000,
        0,
        device,
    )
    .unwrap();
    let (model, report) = WeightsFile::open(&models.join(RESNET18))
        .unwrap()
        .load_into(model, HeadPolicy::Keep)
        .unwrap();
    assert_eq!(report.head, HeadOutcome::Loaded);
    // 62 parameters and 2 x 20 batch-norm statistics (num_batches_tracked left out).
    assert_eq!(report.loaded, 102);
    model.valid()
}

fn resnet18_logits(model: &Model, device: &Device) -> Vec<f32> {
    let x = Tensor::<4>::from_data(
        TensorData::new(resnet18_fixture_input(), [2, 3, 64, 64]),
        device,
    );
    floats(model.forward(x))
}

/// The model as loaded and as inference runs it (batch norms folded into the convolutions):
/// both give torchvision's logits.
#[test]
fn resnet18_state_dict_reproduces_torchvision_logits() {
    let Some(models) = data("models") else { return };
    let device = Device::flex();
    let model = resnet18(&models, &device);
    let expected = json(&models.join("resnet18-random-seed0.expected.json"));
    check_torchvision_logits(&resnet18_logits(&model, &device), &expected, "as loaded");
    let folded = model.for_inference();
    check_torchvision_logits(&resnet18_logits(&folded, &device), &expected, "folded");
}

fn check_torchvision_logits(logits: &[f32], expected: &serde_json::Value, what: &str) {
    let mut worst = 0f64;
    for n in 0..2 {
        let row = &logits[n * 1000..(n + 1) * 1000];
        for (j, want) in expected["logits_first10"][n]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            worst = worst.max((row[j] as f64 - want.as_f64().unwrap()).abs());
        }
        let sum: f32 = row.iter().sum();
        let want_sum = expected["logits_sum"][n].as_f64().unwrap();
        assert!(
            (sum as f64 - want_sum).abs() < 1e-3,
            "sum {sum} vs {want_sum}"
        );
        let argmax = (0..1000)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        assert_eq!(argmax as u64, expected["argmax"][n].as_u64().unwrap());
    }
    eprintln!("resnet18 fixture ({what}): max |logit - torchvision| = {worst:.2e}");
    assert!(worst < 1e-4, "{what}: max difference {worst}");
}

#[test]
fn exported_weights_reimport_to_identical_logits() {
    let Some(models) = data("models") else { return };
    let device = Device::flex();
    let model = resnet18(&models, &device);
    let before = resnet18_logits(&model, &device);
    let bytes = augtrain::model::export::safetensors_bytes(&model, Default::default(), 0).unwrap();
    let dir = scratch("export-reimport");
    let path = dir.join("resnet18.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let file = WeightsFile::open(&path).unwrap();
    let names: Vec<&str> = file.names().collect();
    // torchvision's names: the shortcut as downsample.0/1, BN weight/bias.
    for key in [
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.weight",
        "bn1.running_var",
        "fc.weight",
    ] {
        assert!(names.contains(&key), "{key} missing from the export");
    }
    // PyTorch's layout: fc.weight is [out, in]; strict loading finds num_batches_tracked.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header["fc.weight"]["shape"], serde_json::json!([1000, 512]));
    assert_eq!(header["bn1.num_batches_tracked"]["dtype"], "I64");
    let fresh = Model::new(
        ModelKind::Resnet18,
        ImageShape::new(64, 64, 3),
        1000,
        0,
        &device,
    )
    .unwrap();
    let (again, _) = file.load_into(fresh, HeadPolicy::Keep).unwrap();
    assert_eq!(resnet18_logits(&again.valid(), &device), before);
}

/// Sorted photo files of the real-photos folder.
fn photo_files(photos: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(photos)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| {
                ["png", "jpg", "jpeg"].contains(&e.to_string_lossy().to_lowercase().as_str())
            })
        })
        .collect();
    files.sort();
    files
}

/// `images` (uint8 `[n, h, w, 3]`) as a NumPy `.npy` file.
fn write_npy(path: &Path, images: &[Vec<u8>], side: usize) {
    let mut header = format!(
        "{{'descr': '|u1', 'fortran_order': False, 'shape': ({}, {side}, {side}, 3), }}",
        images.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for image in images {
        out.extend_from_slice(image);
    }
    std::fs::write(path, out).unwrap();
}

/// EfficientNet-Lite0 with the real ImageNet weights on the ten real photos, against
/// tools/efficientnet_lite_reference.py run on the very same uint8 inputs (the fixture
/// holds each input's SHA-256). `AUGTRAIN_WRITE_NPY=FILE` writes those inputs instead, to
/// remake the fixture:
///   AUGTRAIN_WRITE_NPY=/tmp/photos.npy cargo test --release --test testsuite efficientnet_lite0
///   /work/venv/bin/python tools/efficientnet_lite_reference.py --inputs /tmp/photos.npy \
///       --out tests/fixtures/efficientnet_lite0_photos.json
#[test]
fn efficientnet_lite0_real_weights_match_the_pytorch_reference_on_real_photos() {
    let Some(models) = data("models") else { return };
    let Some(photos) = data("photos") else { return };
    let files = photo_files(&photos);
    assert_eq!(files.len(), 10);
    // augtrain's evaluation preprocessing: loaded at 256x256 (shorter side, centre crop),
    // then the centre 224x224 window.
    let opts = LoadOptions {
        size: [256, 256],
        channels: 3,
        resize: ResizePolicy::CenterCrop,
        ..LoadOptions::default()
    };
    let loaded: Vec<Vec<u8>> = files
        .iter()
        .map(|p| decode_file(p, &opts).unwrap().0.pixels)
        .collect();
    let crops: Vec<Vec<u8>> = loaded
        .iter()
        .map(|img| {
            (16..240)
                .flat_map(|y| img[(y * 256 + 16) * 3..(y * 256 + 240) * 3].to_vec())
                .collect()
        })
        .collect();
    if let Some(npy) = std::env::var_os("AUGTRAIN_WRITE_NPY") {
        write_npy(Path::new(&npy), &crops, 224);
        eprintln!(
            "wrote {} inputs to {}",
            crops.len(),
            Path::new(&npy).display()
        );
        return;
    }
    let reference = json(&fixture("efficientnet_lite0_photos.json"));
    let rows = reference["images"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for (crop, row) in crops.iter().zip(rows) {
        let sha = sha256_hex(crop);
        assert_eq!(
            sha,
            row["sha256"].as_str().unwrap(),
            "not the reference's input"
        );
    }
    let cpu = device::open(DeviceChoice::Cpu).unwrap();
    let inference = Inference::pretrained(
        ModelKind::EfficientnetLite0,
        &models.join(LITE0),
        None,
        &cpu,
    )
    .unwrap();
    assert_eq!(inference.aug.output_shape(), ImageShape::new(224, 224, 3));
    let images: Vec<&[u8]> = loaded.iter().map(Vec::as_slice).collect();
    let ids: Vec<u64> = (0..10).collect();
    let batch = inference.aug.batch(&images, &ids, 0, &cpu.device).unwrap();
    // The pipeline's input is the crop, scaled as (x - 127) / 128.
    let input = batch
        .images
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (i, crop) in crops.iter().enumerate() {
        for c in 0..3 {
            for p in (0..224 * 224).step_by(97) {
                let got = input[(i * 3 + c) * 224 * 224 + p];
                let want = (crop[p * 3 + c] as f32 - 127.0) / 128.0;
                assert!(
                    (got - want).abs() < 1e-5,
                    "input {i} {c} {p}: {got} vs {want}"
                );
            }
        }
    }
    // As loaded, and as inference runs it (batch norms folded into the convolutions).
    let folded = inference.model.clone().for_inference();
    for (what, model) in [("as loaded", &inference.model), ("folded", &folded)] {
        let logits = floats(model.forward(batch.images.clone()));
        check_lite0_logits(&logits, rows, &files, what);
    }
}

fn check_lite0_logits(logits: &[f32], rows: &[serde_json::Value], files: &[PathBuf], what: &str) {
    let mut worst = 0f64;
    let mut top1 = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let ours = &logits[i * 1000..(i + 1) * 1000];
        for (a, b) in ours.iter().zip(row["logits"].as_array().unwrap()) {
            worst = worst.max((*a as f64 - b.as_f64().unwrap()).abs());
        }
        top1.push(
            (0..1000)
                .max_by(|&a, &b| ours[a].total_cmp(&ours[b]))
                .unwrap(),
        );
    }
    eprintln!("efficientnet-lite0 on 10 photos ({what}): max |logit - PyTorch| = {worst:.2e}");
    assert!(worst < 1e-3, "{what}: max difference {worst}");
    let name = |i: usize| files[i].file_stem().unwrap().to_string_lossy().into_owned();
    for (i, &class) in top1.iter().enumerate() {
        match name(i).as_str() {
            "chelsea" => assert!((281..=285).contains(&class), "chelsea: {class}"),
            "coffee" => assert_eq!(class, 967, "coffee"),
            "rocket" => assert_eq!(class, 657, "rocket"),
            _ => {}
        }
    }
}

/// Every tensor of a model (parameters and batch-norm statistics) by name.
fn tensors(model: &Model) -> std::collections::BTreeMap<String, Vec<f32>> {
    model
        .collect(None, None, true)
        .iter()
        .map(|t| {
            let data = bridge::to_data(t).unwrap().convert::<f32>();
            (t.name.clone(), data.try_to_vec::<f32>().unwrap())
        })
        .collect()
}

/// One epoch of ResNet-18 (fixture weights, new 10-class head) on a little synthetic data;
/// the tensors before and after.
fn one_epoch(models: &Path, freeze: Freeze) -> [std::collections::BTreeMap<String, Vec<f32>>; 2] {
    let mut cfg = TrainConfig::default();
    cfg.model.kind = ModelKind::Resnet18;
    cfg.model.pretrained = Some(models.join(RESNET18));
    cfg.model.freeze = freeze;
    cfg.batch_size = 16;
    cfg.epochs = 1;
    cfg.optimizer.lr = Some(0.01);
    cfg.data.synthetic_train = 64;
    cfg.data.synthetic_test = 10;
    let splits = cfg.data.load(cfg.seed).unwrap();
    let cpu = device::open(DeviceChoice::Cpu).unwrap();
    let trainer = Trainer::new(&cfg, &splits.train, &cpu).unwrap();
    let before = tensors(&trainer.model().valid());
    let (trainer, record) = trainer.epoch(0, None, &Reporter::new(Verbosity::Quiet));
    let record = record.unwrap();
    assert!(record.train_loss.is_finite());
    [before, tensors(&trainer.model().valid())]
}

/// An epoch that fails inside its batch loop (a learning rate that makes the loss infinite,
/// seen at the first read-back) hands the trainer back with its model: it can still be
/// evaluated and trained on, and a later epoch fails cleanly too. (The model used to be lost
/// on that path, and the next use of the trainer panicked.)
#[test]
fn a_failed_epoch_leaves_a_usable_trainer() {
    let mut cfg = TrainConfig::default();
    cfg.model.kind = ModelKind::Mlp;
    cfg.batch_size = 10;
    cfg.sync_every = 1;
    cfg.optimizer.lr = Some(1e30);
    cfg.data.synthetic_train = 40;
    cfg.data.synthetic_test = 10;
    let splits = cfg.data.load(cfg.seed).unwrap();
    let cpu = device::open(DeviceChoice::Cpu).unwrap();
    let quiet = Reporter::new(Verbosity::Quiet);
    let trainer = Trainer::new(&cfg, &splits.train, &cpu).unwrap();
    let (trainer, failed) = trainer.epoch(0, None, &quiet);
    let error = failed.expect_err("a learning rate of 1e30 makes the loss infinite");
    assert!(
        error.to_string().contains("the loss became"),
        "the batch loop's own error: {error}"
    );
    let evaluation = trainer.evaluate(&splits.test, false, None).unwrap();
    assert_eq!(evaluation.confusion.total(), 10);
    assert!(trainer.model().num_params() > 0);
    let (trainer, again) = trainer.epoch(1, None, &quiet);
    assert!(again.is_err(), "the weights are still broken");
    assert!(trainer.space_needed() > 0);
}

#[test]
fn freezing_the_backbone_keeps_its_weights_and_statistics_bit_identical() {
    let Some(models) = data("models") else { return };
    let [before, after] = one_epoch(&models, Freeze::Backbone);
    assert_eq!(before.len(), after.len());
    let mut head_changed = false;
    for (name, b) in &before {
        let a = &after[name];
        if name.starts_with("fc.") {
            head_changed |= a != b;
        } else {
            assert!(a == b, "{name} changed although the backbone is frozen");
        }
    }
    assert!(head_changed, "the head did not train");
    // The control: without freezing, the same epoch moves the backbone and its statistics.
    let [before, after] = one_epoch(&models, Freeze::None);
    for name in [
        "conv1.weight",
        "bn1.running_mean",
        "layer4.1.bn2.running_var",
    ] {
        assert!(
            before[name] != after[name],
            "{name} did not change when training all"
        );
    }
}

/// A folder of 2 x `n` real photos (ants, bees) for short runs.
fn photo_folder(root: &Path, n: usize) -> Option<PathBuf> {
    let dir = root.join("photos");
    real_folder(&dir, &["ants", "bees"], n)?;
    Some(dir)
}

/// Run augtrain in `dir` (where a pickle payload would write its marker).
fn augtrain_in(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_augtrain"))
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

/// Exit code and the stderr lines of a failed command; asserts one `error:` line.
fn failure(out: &std::process::Output) -> (i32, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
    assert_eq!(errors, 1, "expected one error line:\n{stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// Runs a one-epoch `train` on `photos` with the flags `extra` and checks that it fails with
/// exit `code` and one error line containing every word of `words`, writing no run directory.
fn assert_train_refuses(
    root: &Path,
    photos: &Path,
    runs: &Path,
    extra: &[&str],
    code: i32,
    words: &[&str],
) {
    let mut args = vec![
        "train",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--size",
        "40x40",
        "--quiet",
        "--data",
        photos.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ];
    args.extend(extra.iter().copied());
    let out = augtrain_in(root, &args);
    let (got, stderr) = failure(&out);
    assert_eq!(got, code, "{extra:?}:\n{stderr}");
    for w in words {
        assert!(stderr.contains(w), "{extra:?}: no '{w}' in:\n{stderr}");
    }
    let written = std::fs::read_dir(runs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "{extra:?} wrote a run directory");
}

#[test]
fn weights_that_do_not_fit_fail_with_one_line_and_write_nothing() {
    let Some(models) = data("models") else { return };
    let root = scratch("pretrained-bad");
    let Some(photos) = photo_folder(&root, 3) else {
        return;
    };
    let truncated = root.join("truncated.pth");
    let full = std::fs::read(models.join(RESNET18)).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 3]).unwrap();
    let empty = root.join("empty.pth");
    std::fs::write(&empty, b"").unwrap();
    let hostile = fixture("pretrained/root-os-system.pth");
    let runs = root.join("runs");
    let resnet18 = models.join(RESNET18);
    let r18 = resnet18.to_str().unwrap();
    let refuses = |extra: &[&str], code: i32, words: &[&str]| {
        assert_train_refuses(&root, &photos, &runs, extra, code, words)
    };
    refuses(
        &["--model", "efficientnet-lite0", "--pretrained", r18],
        1,
        &[
            "does not fit the efficientnet-lite0 model",
            "_conv_stem.weight",
            "--model resnet18",
        ],
    );
    refuses(
        &["--model", "resnet34", "--pretrained", r18],
        1,
        &["does not fit the resnet34 model", "layer1.2.conv1.weight"],
    );
    for (file, why) in [
        (&truncated, "cannot read it"),
        (&empty, "empty"),
        (&hostile, "cannot read it"),
    ] {
        let name = file.file_name().unwrap().to_str().unwrap();
        let weights = file.to_str().unwrap();
        refuses(
            &["--model", "resnet18", "--pretrained", weights],
            1,
            &[name, why],
        );
    }
    refuses(
        &["--model", "resnet18", "--freeze", "backbone"],
        2,
        &["--pretrained"],
    );
    assert!(!root.join(MARKER).exists(), "a pickle payload ran");
}

/// `predict --pretrained` with a class-names file of the wrong length: one line, exit 1,
/// nothing written.
#[test]
fn predict_refuses_a_class_names_file_of_the_wrong_length() {
    let Some(models) = data("models") else { return };
    let root = scratch("pretrained-names");
    let Some(photos) = photo_folder(&root, 3) else {
        return;
    };
    let resnet18 = models.join(RESNET18);
    let names = root.join("names.txt");
    std::fs::write(&names, "ant\nbee\nwasp\n").unwrap();
    let out = augtrain_in(
        &root,
        &[
            "predict",
            "--device",
            "cpu",
            "--pretrained",
            resnet18.to_str().unwrap(),
            "--model",
            "resnet18",
            "--class-names",
            names.to_str().unwrap(),
            "--data",
            photos.to_str().unwrap(),
            "--out",
            root.join("pred").to_str().unwrap(),
        ],
    );
    let (code, stderr) = failure(&out);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("names 3 classes") && stderr.contains("1000"),
        "{stderr}"
    );
    assert!(!root.join("pred").exists());
}

#[test]
fn a_pickle_payload_is_ignored_and_the_state_dict_around_it_loads() {
    let root = scratch("pretrained-payload");
    let Some(photos) = photo_folder(&root, 3) else {
        return;
    };
    let file = fixture("pretrained/reduce-in-dict.pth");
    let runs = root.join("runs");
    let out = augtrain_in(
        &root,
        &[
            "train",
            "--device",
            "cpu",
            "--model",
            "mlp",
            "--hidden",
            "4",
            "--size",
            "8x8",
            "--epochs",
            "1",
            "--data",
            photos.to_str().unwrap(),
            "--pretrained",
            file.to_str().unwrap(),
            "--runs-dir",
            runs.to_str().unwrap(),
            "--name",
            "payload",
        ],
    );
    let stdout = ok(&out);
    assert!(
        stdout.contains("loaded 4 tensors") && stdout.contains("head included"),
        "{stdout}"
    );
    assert!(!root.join(MARKER).exists(), "the pickle payload ran");
}

#[test]
fn transfer_learning_from_the_command_line_records_its_preprocessing() {
    let Some(models) = data("models") else { return };
    let root = scratch("transfer-cli");
    let Some(photos) = photo_folder(&root, 4) else {
        return;
    };
    let runs = root.join("runs");
    let resnet18 = models.join(RESNET18);
    let stdout = ok(&augtrain(&[
        "train",
        "--device",
        "cpu",
        "--model",
        "resnet18",
        "--pretrained",
        resnet18.to_str().unwrap(),
        "--freeze",
        "backbone",
        "--size",
        "64x64",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--data",
        photos.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
        "--name",
        "hym",
    ]));
    assert!(
        stdout.contains("1000-class head was replaced by a new 2-class one"),
        "{stdout}"
    );
    let run = runs.join("hym");
    let card = json(&run.join("model.json"));
    assert_eq!(card["architecture"], "resnet18");
    assert_eq!(card["width"], 64);
    assert_eq!(card["model_input"]["width"], 56);
    assert_eq!(
        card["normalization"]["mean"][0].as_f64().unwrap() as f32,
        0.485
    );
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("eval = \"center_crop\""), "{config}");
    assert!(config.contains("freeze = \"backbone\""), "{config}");
    // eval reproduces the test report through the same centre crop.
    let report = json(&run.join("report.json"));
    let eval_json = root.join("eval.json");
    ok(&augtrain(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--device",
        "cpu",
        "--json",
        eval_json.to_str().unwrap(),
        "--quiet",
    ]));
    assert_eq!(json(&eval_json)["accuracy"], report["accuracy"]);
    // export-model: PyTorch names, a 2-class head, then refuses to overwrite.
    let out_file = root.join("hym.safetensors");
    ok(&augtrain(&[
        "export-model",
        "--run",
        run.to_str().unwrap(),
        "--format",
        "safetensors",
        "--out",
        out_file.to_str().unwrap(),
    ]));
    let file = WeightsFile::open(&out_file).unwrap();
    assert_eq!(file.head_classes("fc"), Some(2));
    let again = augtrain(&[
        "export-model",
        "--run",
        run.to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing file is not a usage error"
    );
    // The exported backbone is the pretrained one (frozen), bit for bit.
    assert_backbone_is_pretrained(&resnet18, &file);
}

/// Checks that every ResNet-18 tensor of `exported` except the head (`fc.`) equals the one in
/// the `pretrained` file, loaded at 56×56 with a 2-class head.
fn assert_backbone_is_pretrained(pretrained: &Path, exported: &WeightsFile) {
    let original = WeightsFile::open(pretrained).unwrap();
    let device = Device::flex();
    let shape = ImageShape::new(56, 56, 3);
    let (a, _) = original
        .load_into(
            Model::new(ModelKind::Resnet18, shape, 2, 0, &device).unwrap(),
            HeadPolicy::Replace,
        )
        .unwrap();
    let (b, _) = exported
        .load_into(
            Model::new(ModelKind::Resnet18, shape, 2, 0, &device).unwrap(),
            HeadPolicy::Keep,
        )
        .unwrap();
    let (a, b) = (tensors(&a), tensors(&b));
    for (name, value) in &a {
        if !name.starts_with("fc.") {
            assert!(&b[name] == value, "{name} differs from the pretrained file");
        }
    }
}

#[test]
fn predict_with_a_pretrained_head_names_imagenet_classes() {
    let Some(models) = data("models") else { return };
    let Some(photos) = data("photos") else { return };
    let root = scratch("predict-pretrained");
    let names = root.join("names.txt");
    let list: Vec<String> = (0..1000).map(|i| format!("class-{i}")).collect();
    std::fs::write(&names, list.join("\n")).unwrap();
    let out = root.join("pred");
    let stdout = ok(&augtrain(&[
        "predict",
        "--device",
        "cpu",
        "--pretrained",
        models.join(LITE0).to_str().unwrap(),
        "--model",
        "efficientnet-lite0",
        "--class-names",
        names.to_str().unwrap(),
        "--data",
        photos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let line = |stem: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(stem))
            .unwrap_or_else(|| panic!("no line for {stem}:\n{stdout}"))
            .to_string()
    };
    assert!(line("coffee").contains(": 967 class-967"), "{stdout}");
    assert!(line("rocket").contains(": 657 class-657"), "{stdout}");
    let chelsea = line("chelsea");
    assert!(
        (281..=285).any(|c| chelsea.contains(&format!(": {c} class-{c}"))),
        "{chelsea}"
    );
    let csv = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(csv.lines().count(), 11);
    assert!(csv.lines().next().unwrap().ends_with(",p_class-999"));
}

#[test]
fn resnet_small_learns_and_resume_keeps_its_batch_norm_statistics() {
    let root = scratch("resnet-small");
    let runs = root.join("runs");
    let runs_s = runs.to_str().unwrap();
    let args = |name: &'static str, epochs: &'static str| {
        vec![
            "train",
            "--device",
            "cpu",
            "--model",
            "resnet-small",
            "--epochs",
            epochs,
            "--synthetic-train",
            "2000",
            "--synthetic-test",
            "200",
            "--batch-size",
            "32",
            "--optimizer",
            "adam",
            "--lr",
            "0.002",
            "--seed",
            "5",
            "--runs-dir",
            runs_s,
            "--name",
            name,
            "--quiet",
        ]
    };
    ok(&augtrain(&args("whole", "2")));
    ok(&augtrain(&args("halves", "1")));
    let resumed = runs.join("halves");
    let mut resume = args("halves", "2");
    let at = resume.iter().position(|a| *a == "--name").unwrap();
    resume.drain(at..at + 2);
    resume.extend(["--resume", resumed.to_str().unwrap()]);
    ok(&augtrain(&resume));
    let whole = json(&runs.join("whole/report.json"));
    let halves = json(&resumed.join("report.json"));
    assert_eq!(whole["accuracy"], halves["accuracy"]);
    assert_eq!(whole["loss"], halves["loss"]);
    assert!(
        std::fs::read(runs.join("whole/predictions.csv")).unwrap()
            == std::fs::read(resumed.join("predictions.csv")).unwrap()
    );
    // Chance is 0.1; two epochs of 2,000 images with Adam reach 0.25-0.33 depending on the
    // initial weights (seed 5, weights drawn at construction: 0.25).
    assert!(whole["accuracy"].as_f64().unwrap() > 0.2, "{whole}");
}

#[test]
fn transfer_learning_example_runs_in_quick_mode() {
    let out_dir = scratch("example-transfer");
    let stdout = run_example("transfer_learning", &out_dir);
    let data_dir = data("");
    if data_dir.is_some() && data("models").is_some() {
        assert!(
            stdout.contains("## 1.") && stdout.contains("## 4."),
            "{stdout}"
        );
        assert!(
            out_dir
                .join("transfer_learning/fine-tune/report.html")
                .exists()
        );
    }
}
