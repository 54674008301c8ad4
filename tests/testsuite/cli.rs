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
