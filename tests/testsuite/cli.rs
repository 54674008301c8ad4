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
            &["mlp", "cnn", "resnet-small", "resnet18", "efficientnet-lite0"],
        ),
        (&["train", "--device", "tpu"], &["auto", "gpu", "cpu"]),
        (&["train", "--optimizer", "rmsprop"], &["sgd", "adam", "adamw"]),
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

