//! Command-line interface: one module per subcommand. Each parses its flags (clap derive),
//! calls the library and prints. Exit codes: 0 success, 1 runtime error, 2 usage error.

/// Print a line on standard output; a closed or full stdout is an ordinary error (exit 1),
/// never a panic. Control characters other than line breaks and tabs are escaped
/// (`util::escape::escape_lines`), so no file name can drive the terminal.
macro_rules! say {
    () => {{
        say!("")
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        writeln!(std::io::stdout().lock(), "{}", $crate::util::escape::escape_lines(&text))
            .map_err($crate::cli::stdout_error)?
    }};
}

/// Print a line on standard error, escaped like [`say!`]; a closed stderr is ignored (there is
/// nowhere left to say it).
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(std::io::stderr().lock(), "{}", $crate::util::escape::escape_lines(&text));
    }};
}

/// [`say!`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        write!(std::io::stdout().lock(), "{}", $crate::util::escape::escape_lines(&text))
            .map_err($crate::cli::stdout_error)?
    }};
}

mod agreement;
mod audit;
mod augment;
mod bench;
mod config;
mod convert;
mod cv;
mod data_args;
mod devices;
mod embed;
mod embed_args;
mod eval;
mod export;
mod export_model;
mod inspect;
mod key_flags;
mod label_issues;
mod output_args;
mod pack;
mod plot;
mod predict;
mod split;
mod train;
mod train_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Error;

/// augtrain: labelled images to a trained, evaluated classifier, with augmentation on the GPU.
#[derive(Parser, Debug)]
#[command(name = "augtrain", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    /// Train a classifier (default: the built-in synthetic data, GPU if present).
    Train(train_args::TrainArgs),
    /// Re-evaluate a finished run's checkpoint on its test split (or other data).
    Eval(eval::EvalArgs),
    /// List GPU adapters and say which device `--device auto` picks.
    Devices(devices::DevicesArgs),
    /// Preview a pipeline (contact sheet), write augmented images with their parameters, replay them.
    Augment(augment::AugmentArgs),
    /// Measure throughput against the machine's own bandwidth ceiling.
    Bench(bench::BenchArgs),
    /// Counts per class and split, image sizes, channels, formats, unusable files.
    Inspect(inspect::InspectArgs),
    /// Convert annotations between COCO, YOLO, Pascal VOC, LabelMe, Label Studio and CVAT.
    Convert(convert::ConvertArgs),
    /// Write a dataset as a memory-mapped pack of fixed-size records.
    Pack(pack::PackArgs),
    /// Make a stratified train/val/test split (and folds) that keeps duplicates together.
    Split(split::SplitArgs),
    /// Write a privacy-clean copy: metadata stripped, names anonymised, checksummed.
    Export(export::ExportArgs),
    /// Write a run's trained weights as safetensors with PyTorch's names and layouts.
    ExportModel(export_model::ExportModelArgs),
    /// Find corrupt files, duplicates, leaks between splits, unhealthy images, class imbalance.
    Audit(audit::AuditArgs),
    /// One L2-normalized embedding per image from a pretrained or trained backbone.
    Embed(embed::EmbedArgs),
    /// Stratified k-fold cross-validation with out-of-sample predicted probabilities.
    Cv(cv::CvArgs),
    /// Several annotators per image: agreement, consensus labels, annotator quality, what to label next.
    Agreement(agreement::AgreementArgs),
    /// Find mislabelled examples by confident learning; ranked CSV and review queue.
    LabelIssues(label_issues::LabelIssuesArgs),
    /// Predict unlabelled images; pseudo-labels and a review queue of the most uncertain.
    Predict(predict::PredictArgs),
    /// Redraw a run's charts, contact sheet and HTML report.
    Plot(plot::PlotArgs),
    /// Print the default run config (commented TOML) for `train --config`.
    Config(config::ConfigArgs),
}

/// What a command's default output is named after: the file stem of `path` (e.g. the data
/// folder's name), or `data`.
pub(crate) fn stem_name(path: Option<&std::path::Path>) -> String {
    path.and_then(|p| p.file_stem())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into())
}

/// The error of a failed write to standard output (closed pipe, full disk).
pub(crate) fn stdout_error(e: std::io::Error) -> crate::Error {
    crate::Error::Io(crate::util::fs::IoError::new(
        "write to",
        "standard output",
        e,
    ))
}

/// Parse the command line, run the subcommand, turn errors into a message and an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands whose standard output is their result (the others' is progress: a run never
    // depends on its output staying open).
    let prints_result = matches!(
        cli.command,
        Command::Inspect(_)
            | Command::Audit(_)
            | Command::Eval(_)
            | Command::Config(_)
            | Command::Devices(_)
    );
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Devices(args) => devices::run(args),
        Command::Augment(args) => augment::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Pack(args) => pack::run(args),
        Command::Split(args) => split::run(args),
        Command::Export(args) => export::run(args),
        Command::ExportModel(args) => export_model::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Cv(args) => cv::run(args),
        Command::Agreement(args) => agreement::run(args),
        Command::LabelIssues(args) => label_issues::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Plot(args) => plot::run(args),
        Command::Config(args) => config::run(args),
    };
    // What is still buffered is part of the result: a write error now is an error too (Rust
    // ignores it when flushing at exit).
    let result = result.and_then(|()| {
        use std::io::Write as _;
        match std::io::stdout().flush() {
            Err(e) if prints_result => Err(stdout_error(e)),
            _ => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn!("error: {e}");
            match e {
                // A class list naming a class the data lacks is a mistake in the flag.
                Error::Usage(_) | Error::Data(crate::data::DataError::ClassNotInData { .. }) => {
                    ExitCode::from(2)
                }
                _ => ExitCode::from(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use clap::CommandFactory;

    /// The command modules of `src/cli` (a file or a folder each) and their source files; the
    /// shared flag structs (`*_args`, `key_flags`) are not commands.
    fn command_modules() -> Vec<(String, Vec<PathBuf>)> {
        let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        let mut commands = Vec::new();
        for entry in std::fs::read_dir(&cli).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if name == "mod" || name.ends_with("_args") || name == "key_flags" {
                continue;
            }
            let files = if path.is_dir() {
                let files = std::fs::read_dir(&path).unwrap();
                files.map(|f| f.unwrap().path()).collect()
            } else {
                vec![path]
            };
            commands.push((name, files));
        }
        commands
    }

    /// The names a source file imports from `src/cli` itself: after `crate::cli::`, or after
    /// the `super::` that reaches `src/cli` from where the file is (one level from a command's
    /// file or folder module, two from a file inside a command's folder).
    fn cli_names(file: &Path, text: &str) -> Vec<String> {
        let nested = file.file_name().unwrap() != "mod.rs"
            && file.parent().unwrap().file_name().unwrap() != "cli";
        let to_cli = if nested { "super::super::" } else { "super::" };
        let mut names = Vec::new();
        for prefix in ["crate::cli::", to_cli] {
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + prefix.len()..];
                let ident = |t: &str| t.find(|c: char| !(c.is_alphanumeric() || c == '_'));
                let group = match rest.strip_prefix('{') {
                    Some(g) => &g[..g.find('}').unwrap_or(g.len())],
                    None => &rest[..ident(rest).unwrap_or(rest.len())],
                };
                for item in group.split(',') {
                    let item = item.trim();
                    names.push(item[..ident(item).unwrap_or(item.len())].to_string());
                }
            }
        }
        names
    }

    /// A command module parses, calls the library and prints: it never imports another
    /// command's module (what two commands share is a flag struct, `*_args.rs`, or library
    /// code).
    #[test]
    fn no_command_module_imports_another() {
        let commands = command_modules();
        assert!(commands.len() >= 19, "every subcommand has its module");
        for (name, files) in &commands {
            for file in files {
                let text = std::fs::read_to_string(file).unwrap();
                for used in cli_names(file, &text) {
                    assert!(
                        used == *name || !commands.iter().any(|(other, _)| *other == used),
                        "{} imports the `{used}` command's module",
                        file.display()
                    );
                }
            }
        }
    }

    /// clap's own consistency checks over every command (ids named by `conflicts_with`,
    /// `requires` and `mut_arg` exist, no flag is defined twice).
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
