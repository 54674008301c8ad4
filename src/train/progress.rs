//! Progress output: an `indicatif` bar per epoch (loss and images/s) on a terminal, one plain
//! line per epoch otherwise, nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// How much to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing.
    Quiet,
    /// Plain lines (stdout is not a terminal).
    Plain,
    /// Progress bars.
    Bar,
}

impl Verbosity {
    /// Bars on a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Verbosity::Quiet
        } else if std::io::stdout().is_terminal() {
            Verbosity::Bar
        } else {
            Verbosity::Plain
        }
    }
}

/// Prints run progress at the chosen verbosity.
pub struct Reporter {
    verbosity: Verbosity,
}

impl Reporter {
    /// A reporter printing at `verbosity`.
    pub fn new(verbosity: Verbosity) -> Self {
        Self { verbosity }
    }

    /// Print one line (not in quiet mode), control characters escaped as the command line's
    /// printers do. A closed or full standard output is ignored: a run never depends on its
    /// output staying open.
    pub fn line(&self, text: &str) {
        if self.verbosity != Verbosity::Quiet {
            use std::io::Write as _;
            let text = crate::util::escape::escape_lines(text);
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }

    /// Print a command's result (not in quiet mode), escaped as [`Reporter::line`], and flush
    /// it. Unlike a progress line, a result that cannot be written (a full disk, a closed
    /// pipe) is an error: a lost result is never a success.
    pub fn result(&self, text: &str) -> std::io::Result<()> {
        if self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", crate::util::escape::escape_lines(text))?;
        out.flush()
    }

    /// Start an epoch of `batches` batches.
    pub fn epoch(&self, epoch: usize, epochs: usize, batches: usize) -> EpochProgress {
        let bar = (self.verbosity == Verbosity::Bar).then(|| {
            let bar = ProgressBar::new(batches as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} batches  {msg}  eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{epoch}/{epochs}"));
            bar
        });
        EpochProgress {
            bar,
            start: Instant::now(),
            last_draw: Instant::now(),
        }
    }
}

impl Reporter {
    /// Start a pass over `items` images named `what` (e.g. "embedding"): a bar with images/s
    /// on a terminal, nothing otherwise (the caller prints the summary line).
    pub fn images(&self, what: &str, items: usize) -> ImageProgress {
        let bar = (self.verbosity == Verbosity::Bar).then(|| image_bar(what, items));
        ImageProgress { bar }
    }

    /// On a terminal, show a bar while the data layer decodes image files (its
    /// `util::progress` passes); elsewhere, and with `--quiet`, nothing.
    pub fn show_loading(&self) {
        if self.verbosity == Verbosity::Bar {
            crate::util::progress::listen(Some(std::sync::Arc::new(LoadingBar::default())));
        }
    }
}

/// A bar over `items` images named `what`.
fn image_bar(what: &str, items: usize) -> ProgressBar {
    let bar = ProgressBar::new(items as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} images  {per_sec}  eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// The bar of the data layer's passes (decoding image files), moved from its worker threads.
#[derive(Default)]
struct LoadingBar {
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

impl crate::util::progress::Listener for LoadingBar {
    fn start(&self, what: &str, total: usize) {
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(image_bar(what, total));
    }

    fn advance(&self, n: usize) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(n as u64);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// Progress of a pass over images (no loss).
pub struct ImageProgress {
    bar: Option<ProgressBar>,
}

impl ImageProgress {
    /// `images` more are done.
    pub fn advance(&self, images: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(images as u64);
        }
    }

    /// Clear the bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Progress of one epoch.
pub struct EpochProgress {
    bar: Option<ProgressBar>,
    start: Instant,
    last_draw: Instant,
}

impl EpochProgress {
    /// Report a finished batch: running mean loss and images so far.
    pub fn batch(&mut self, done: usize, mean_loss: f64, images: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            if self.last_draw.elapsed().as_millis() >= 100 {
                let rate = images as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("loss {mean_loss:.4}  {rate:.0} img/s"));
                self.last_draw = Instant::now();
            }
        }
    }

    /// Finish the epoch's bar (the caller prints the summary line).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
