//! Checks across every subcommand: help with an example, usage errors exit 2.

use crate::support::*;

#[test]
fn every_subcommand_help_has_an_example_and_usage_errors_exit_2() {
    let top = ok(&augtrain(&["--help"]));
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 14, "{commands:?}");
    for c in &commands {
        let help = ok(&augtrain(&[c, "--help"]));
        assert!(
            help.contains("Example"),
            "`augtrain {c} --help` has no example:\n{help}"
        );
    }
    assert_eq!(
        augtrain(&["train", "--no-such-flag"]).status.code(),
        Some(2)
    );
    assert_eq!(augtrain(&["frobnicate"]).status.code(), Some(2));
}
#[test]
fn a_bad_enum_flag_value_is_a_usage_error_naming_the_valid_values() {
    let cases: [(&[&str], &[&str]); 11] = [
        (
            &["train", "--model", "rnn"],
            &[
                "mlp",
                "cnn",
                "resnet-small",
                "resnet18",
                "efficientnet-lite0",
            ],
        ),
        (&["train", "--device", "tpu"], &["auto", "gpu", "cpu"]),
        (
            &["train", "--optimizer", "rmsprop"],
            &["sgd", "adam", "adamw"],
        ),
        (
            &["train", "--schedule", "linear"],
            &["constant", "step", "cosine"],
        ),
        (&["train", "--loss", "hinge"], &["cross_entropy", "mse"]),
        (
            &["train", "--resize", "squash"],
            &["center-crop", "stretch", "letterbox"],
        ),
        (&["train", "--on-error", "ignore"], &["skip", "fail"]),
        (
            &["train", "--balance", "smote"],
            &["none", "weights", "oversample", "undersample", "sampler"],
        ),
        (
            &["label-issues", "--filter", "all"],
            &[
                "prune_by_noise_rate",
                "prune_by_class",
                "both",
                "confident_learning",
            ],
        ),
        (
            &["label-issues", "--rank-by", "margin"],
            &["self_confidence", "normalized_margin"],
        ),
        (
            &["predict", "--run", "r", "--data", "d", "--queue", "random"],
            &["least-confidence", "margin", "entropy"],
        ),
    ];
    for (args, valid) in cases {
        let out = augtrain(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let flag = args[args.len() - 2];
        assert!(
            stderr.contains(flag),
            "{args:?}: the message must name {flag}: {stderr}"
        );
        for v in valid {
            assert!(
                stderr.contains(&format!("`{v}`")),
                "{args:?}: {v} not listed: {stderr}"
            );
        }
    }
}

/// Each command's failure cases exit as the README's table says: 1 for bad input or a missing
/// or damaged run, 2 for usage. One row per case: arguments, expected code.
#[test]
fn every_commands_failure_cases_exit_as_the_readme_table_says() {
    let root = scratch("exit-codes");
    let runs = root.join("runs");
    small_mlp_run(&runs, "ok");
    let run = runs.join("ok");
    // A run whose config.toml is damaged.
    let damaged = runs.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    for entry in std::fs::read_dir(&run).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, damaged.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(damaged.join("config.toml"), "epochs = [").unwrap();
    let missing = root.join("no-such-thing");
    let (run, damaged, missing) = (
        run.to_str().unwrap().to_string(),
        damaged.to_str().unwrap().to_string(),
        missing.to_str().unwrap().to_string(),
    );
    let bad_pipeline = root.join("bad.toml");
    std::fs::write(&bad_pipeline, "version = 1\n[[ops]]\nop = \"twirl\"\n").unwrap();
    let bad_pipeline = bad_pipeline.to_str().unwrap().to_string();
    let out = root.join("o").to_str().unwrap().to_string();
    let existing = root.join("existing.safetensors");
    std::fs::write(&existing, b"keep").unwrap();
    let existing = existing.to_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["export-model", "--run", &run, "--out", &existing], 1),
        (vec!["eval", "--run", &run, "--json", &existing], 1),
        (vec!["eval", "--run", &missing], 1),
        (vec!["eval", "--run", &damaged], 1),
        (vec!["plot", "--run", &missing], 1),
        (vec!["plot", "--run", &damaged], 1),
        (vec!["predict", "--run", &missing, "--data", &run], 1),
        (vec!["predict", "--run", &damaged, "--data", &run], 1),
        (vec!["predict", "--run", &run, "--data", &missing], 1),
        (vec!["train", "--resume", &missing], 1),
        (vec!["train", "--data", &missing], 1),
        (
            vec!["train", "--augment", &bad_pipeline, "--epochs", "1"],
            1,
        ),
        (vec!["train", "--config", &missing], 1),
        (vec!["inspect", &missing], 1),
        (vec!["audit", &missing], 1),
        (vec!["split", &missing], 1),
        (vec!["pack", &missing, "--out", &out], 1),
        (vec!["export", &missing, "--out", &out], 1),
        (vec!["convert", &missing, "--to", "coco", "--out", &out], 1),
        (vec!["convert", &missing, "--to", "pdf", "--out", &out], 2),
        (vec!["cv", &missing, "--out", &out], 1),
        (
            vec!["label-issues", "--pred-probs", &missing, "--out", &out],
            1,
        ),
        (
            vec!["augment", "--pipeline", &bad_pipeline, "--out", &out],
            1,
        ),
        (vec!["train", "--epochs", "0"], 2),
        (vec!["train", "--model", "rnn"], 2),
        (vec!["train", "--frobnicate"], 2),
        (vec!["eval"], 2),
        (vec!["split", &run, "--folds", "1"], 2),
        (vec!["cv", &run, "--folds", "1", "--out", &out], 2),
        (vec!["label-issues", "--folds", "1"], 2),
        (vec!["augment"], 2),
        (vec!["predict", "--run", &run], 2),
        (vec!["frobnicate"], 2),
    ];
    for (args, code) in cases {
        let result = augtrain(&args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(code), "{args:?}: {stderr}");
        if code == 1 {
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "{args:?}: one line: {stderr}");
            assert!(lines[0].starts_with("error:"), "{args:?}: {stderr}");
        }
    }
    assert!(
        !std::path::Path::new(&out).exists(),
        "a failing command wrote {out}"
    );
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep");
}

/// `--help` offers only flags that apply: `embed` takes its size and channels from the model,
/// `cv` and `label-issues` neither resume nor name a run (issue 27, newcomer items).
#[test]
fn help_lists_only_flags_that_apply() {
    let help = |cmd: &str| ok(&augtrain(&[cmd, "--help"]));
    let embed = help("embed");
    assert!(
        !embed.contains("--size") && !embed.contains("--channels"),
        "{embed}"
    );
    assert!(embed.contains("--resize"), "{embed}");
    for cmd in ["cv", "label-issues"] {
        let text = help(cmd);
        for flag in ["--resume", "--name", "--synthetic-train"] {
            assert!(!text.contains(flag), "{cmd} --help lists {flag}: {text}");
        }
        assert!(text.contains("--epochs"), "{text}");
    }
}

/// `--size` help says what the default is in both cases: 64x64, and 256x256 for an ImageNet
/// model with `--pretrained`. Before, it said only 64x64.
#[test]
fn the_size_help_names_both_defaults() {
    let help = ok(&augtrain(&["train", "--help"]));
    let size = help
        .split("--size <SIZE>")
        .nth(1)
        .and_then(|t| t.split("\n      --").next())
        .unwrap_or_else(|| panic!("no --size in:\n{help}"));
    assert!(
        size.contains("64x64") && size.contains("256x256") && size.contains("--pretrained"),
        "{size}"
    );
}
