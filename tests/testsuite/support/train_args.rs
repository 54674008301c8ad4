//! One builder for `augtrain train` command lines, so that each test states only the flags it
//! cares about.

use std::path::Path;
use std::process::{Command, Output};

use super::{augtrain_command, augtrain_env, ok};

/// An `augtrain train` command line, built flag by flag. Setting a flag again replaces its
/// value (so a preset such as [`TrainArgs::small`] can be adjusted); flags keep the order in
/// which they were first set.
#[derive(Clone, Debug)]
pub struct TrainArgs {
    /// `(flag, value)`; `None` for a switch such as `--quiet`.
    flags: Vec<(String, Option<String>)>,
}

impl TrainArgs {
    /// `augtrain train` with no flags: every setting at the binary's default.
    pub fn new() -> Self {
        Self { flags: Vec::new() }
    }

    /// The tests' small, fast synthetic run on the CPU: 2 epochs over 3,000 generated training
    /// images, 300 test images, batch 32.
    pub fn small() -> Self {
        Self::new()
            .device("cpu")
            .epochs(2)
            .synthetic(3000, 300)
            .batch_size(32)
    }

    /// Set `flag` (with its leading `--`) to `value`, replacing an earlier value.
    pub fn set(mut self, flag: &str, value: impl ToString) -> Self {
        let value = Some(value.to_string());
        match self.flags.iter_mut().find(|(f, _)| f == flag) {
            Some(slot) => slot.1 = value,
            None => self.flags.push((flag.to_string(), value)),
        }
        self
    }

    /// Set `flag` to a path.
    pub fn set_path(self, flag: &str, path: &Path) -> Self {
        self.set(flag, utf8(path))
    }

    /// Add a switch (a flag without a value), once.
    pub fn switch(mut self, flag: &str) -> Self {
        if !self.flags.iter().any(|(f, _)| f == flag) {
            self.flags.push((flag.to_string(), None));
        }
        self
    }

    /// `--device`: `cpu`, `gpu` or `auto`.
    pub fn device(self, device: &str) -> Self {
        self.set("--device", device)
    }

    /// `--model`: `mlp`, `cnn`, ...
    pub fn model(self, model: &str) -> Self {
        self.set("--model", model)
    }

    /// `--epochs`.
    pub fn epochs(self, epochs: u32) -> Self {
        self.set("--epochs", epochs)
    }

    /// `--batch-size`, in images.
    pub fn batch_size(self, images: usize) -> Self {
        self.set("--batch-size", images)
    }

    /// `--seed`.
    pub fn seed(self, seed: u64) -> Self {
        self.set("--seed", seed)
    }

    /// `--synthetic-train` and `--synthetic-test`: generated training and test image counts.
    pub fn synthetic(self, train: usize, test: usize) -> Self {
        self.set("--synthetic-train", train)
            .set("--synthetic-test", test)
    }

    /// `--synthetic-size`: the generated images' side, in pixels.
    pub fn synthetic_size(self, pixels: usize) -> Self {
        self.set("--synthetic-size", pixels)
    }

    /// `--size`: the size images are loaded at, `WxH` in pixels.
    pub fn size(self, size: &str) -> Self {
        self.set("--size", size)
    }

    /// `--data`: a dataset directory, manifest or pack.
    pub fn data(self, path: &Path) -> Self {
        self.set("--data", utf8(path))
    }

    /// `--runs-dir`: where run directories are created.
    pub fn runs_dir(self, dir: &Path) -> Self {
        self.set("--runs-dir", utf8(dir))
    }

    /// `--name`: the run directory's name under `--runs-dir`.
    pub fn name(self, name: &str) -> Self {
        self.set("--name", name)
    }

    /// `--resume`: continue the run in `dir`.
    pub fn resume(self, dir: &Path) -> Self {
        self.set("--resume", utf8(dir))
    }

    /// `--config`: a run config file.
    pub fn config(self, file: &Path) -> Self {
        self.set("--config", utf8(file))
    }

    /// `--quiet`: no progress output.
    pub fn quiet(self) -> Self {
        self.switch("--quiet")
    }

    /// The full argument list, `train` first.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["train".to_string()];
        for (flag, value) in &self.flags {
            args.push(flag.clone());
            args.extend(value.clone());
        }
        args
    }

    /// Run it and return its output, whatever the exit status.
    pub fn run(&self) -> Output {
        self.run_env(&[])
    }

    /// Run it with extra environment variables.
    pub fn run_env(&self, env: &[(&str, &str)]) -> Output {
        augtrain_env(&self.args(), env)
    }

    /// Run it, panic with its output unless it succeeded, and return its standard output.
    pub fn run_ok(&self) -> String {
        ok(&self.run())
    }

    /// The command, not yet started (for tests that spawn and kill it).
    pub fn command(&self) -> Command {
        augtrain_command(&self.args())
    }
}

/// A path as the UTF-8 argument the tests pass (scratch paths always are).
fn utf8(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// A finished one-epoch run of the small synthetic MLP (CPU) named `name` under `runs`; its
/// directory.
pub fn small_mlp_run(runs: &Path, name: &str) -> std::path::PathBuf {
    TrainArgs::small()
        .model("mlp")
        .epochs(1)
        .runs_dir(runs)
        .name(name)
        .quiet()
        .run_ok();
    runs.join(name)
}
