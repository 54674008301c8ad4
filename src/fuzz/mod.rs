//! A mutation fuzzer for the parsers (test builds only).
//!
//! Each target takes arbitrary bytes. The fuzzer starts from the seed files in
//! `tests/corpus/<target>/` (valid files, plus every input that once failed), runs each as is,
//! then mutates them AFL-style (bit flips, interesting integers, deletions, duplications,
//! splices between seeds, dictionary tokens) until the time budget is spent. An input fails
//! when the target
//! - panics,
//! - takes longer than [`SLOW`] every time it is run (an input over [`SLOW`] is re-run up to
//!   [`SLOW_RETRIES`] times, so that a stall of a loaded machine is not taken for a slow
//!   parser; a hang is caught by a watchdog after [`HANG`]), or
//! - allocates more than [`MEMORY_BASE`] + [`MEMORY_PER_BYTE`] × input length bytes at peak on
//!   its thread, or asks for more than [`alloc::HARD_LIMIT`] bytes in one request.
//!
//! The slowest input of a run is kept as `target/fuzz-slowest/<target>`.
//! Failing inputs are written to `target/fuzz-failures/<target>/`; copy them into the corpus
//! once fixed. There is no coverage feedback (stable Rust, no instrumentation): the fuzzer
//! is blind, so the seeds and dictionaries carry the structure.
//!
//! Environment: `AUGTRAIN_FUZZ_SECONDS` (per target, default 2), `AUGTRAIN_FUZZ_SEED`
//! (default: fixed per target, so a smoke run is reproducible).

pub mod alloc;
mod targets;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// An input running longer than this is reported as slow.
pub const SLOW: Duration = Duration::from_secs(1);
/// Extra runs of an input that took longer than [`SLOW`]: it fails only if every run does.
pub const SLOW_RETRIES: usize = 2;
/// An input running longer than this is a hang: the watchdog saves it and ends the process.
pub const HANG: Duration = Duration::from_secs(20);
/// Peak allocation allowed for any input (bytes).
pub const MEMORY_BASE: i64 = 64 << 20;
/// Peak allocation allowed per input byte, on top of [`MEMORY_BASE`].
pub const MEMORY_PER_BYTE: i64 = 64;

/// A fuzz target: a parser entry point that must survive any bytes.
pub struct Target {
    /// Name; also the corpus directory under `tests/corpus/`.
    pub name: &'static str,
    /// Tokens worth inserting (keywords, separators, magic numbers).
    pub dict: &'static [&'static [u8]],
    /// Mutated inputs are cut to this length (bytes).
    pub max_len: usize,
    /// The code under test. Errors are fine; panics, hangs and huge allocations are not.
    /// Returns whether the input was accepted (parsed and carried through the deeper steps),
    /// to show how far the blind mutations get.
    pub run: fn(&[u8]) -> bool,
}

/// What one fuzzing run did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Inputs executed (corpus and mutants).
    pub execs: u64,
    /// Inputs the target accepted (see [`Target::run`]).
    pub accepted: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// Slowest input (seconds).
    pub slowest: f64,
    /// The slowest input's bytes (written to `target/fuzz-slowest/<target>` after a run, so
    /// that a slow case can be timed on its own).
    pub slowest_input: Vec<u8>,
    /// Largest peak allocation of one input (bytes).
    pub peak_bytes: i64,
    /// One line per failing input, with the file it was saved to.
    pub failures: Vec<String>,
}

/// A small, fast generator (SplitMix64) for mutation choices.
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const INTERESTING_8: [u8; 12] = [
    0, 1, 2, 0x10, 0x20, 0x7f, 0x80, 0xff, b'\n', b'"', b',', b'0',
];
const INTERESTING_32: [u32; 24] = [
    0,
    1,
    2,
    3,
    4,
    8,
    16,
    28,
    32,
    255,
    256,
    1024,
    3072,
    3073,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    1_000_000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    2051,
];
const NUMBERS: [&[u8]; 14] = [
    b"0",
    b"-1",
    b"1",
    b"255",
    b"65536",
    b"4294967296",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"1e309",
    b"-1e309",
    b"nan",
    b"inf",
    b"0.0000001",
    b"1.5",
];

/// Apply one or a stack of up to 16 random mutations to `data`.
pub fn mutate(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    corpus: &[Vec<u8>],
    dict: &[&[u8]],
    max_len: usize,
) {
    // Half the inputs get a single mutation (they stay close to valid and reach deeper code),
    // the rest a stack of 1 to 16.
    let rounds = if rng.below(2) == 0 {
        1
    } else {
        1 << rng.below(5)
    };
    for _ in 0..rounds {
        let len = data.len();
        let pos = |rng: &mut Rng| if len == 0 { 0 } else { rng.below(len) };
        let span = |rng: &mut Rng| {
            let bits = 1 + rng.below(8);
            1 + rng.below(1 << bits)
        };
        match rng.below(14) {
            0 if len > 0 => {
                let p = pos(rng);
                data[p] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let p = pos(rng);
                data[p] = rng.next() as u8;
            }
            2 if len > 0 => {
                let p = pos(rng);
                data[p] = INTERESTING_8[rng.below(INTERESTING_8.len())];
            }
            3 | 4 if len >= 4 => {
                let v = INTERESTING_32[rng.below(INTERESTING_32.len())];
                let v = if rng.below(4) == 0 {
                    v.wrapping_add(rng.below(5) as u32).wrapping_sub(2)
                } else {
                    v
                };
                let bytes = if rng.below(2) == 0 {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                let mut p = rng.below(len - 3);
                if rng.below(2) == 0 {
                    p &= !3;
                }
                data[p..p + 4].copy_from_slice(&bytes);
            }
            5 if len > 0 => {
                let p = pos(rng);
                let d = 1 + rng.below(35) as u8;
                data[p] = if rng.below(2) == 0 {
                    data[p].wrapping_add(d)
                } else {
                    data[p].wrapping_sub(d)
                };
            }
            6 if len > 0 => {
                let p = pos(rng);
                let n = span(rng).min(len - p);
                data.drain(p..p + n);
            }
            7 if len > 0 => {
                let p = pos(rng);
                let n = span(rng).min(len - p);
                let chunk = data[p..p + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            8 => {
                let n = 1 + rng.below(16);
                let at = rng.below(len + 1);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(at..at, bytes);
            }
            9 if len > 0 => {
                data.truncate(pos(rng));
            }
            10 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let p = rng.below(other.len());
                    let n = span(rng).min(other.len() - p);
                    let chunk = other[p..p + n].to_vec();
                    let at = rng.below(len + 1);
                    if rng.below(2) == 0 {
                        let end = (at + n).min(len);
                        data.splice(at..end, chunk);
                    } else {
                        data.splice(at..at, chunk);
                    }
                }
            }
            11 | 12 if !dict.is_empty() => {
                let token = dict[rng.below(dict.len())].to_vec();
                let at = rng.below(len + 1);
                if rng.below(2) == 0 {
                    let end = (at + token.len()).min(len);
                    data.splice(at..end, token);
                } else {
                    data.splice(at..at, token);
                }
            }
            13 => {
                // Replace a run of ASCII digits with a boundary number.
                if let Some(start) = (0..len)
                    .map(|k| (pos(rng) + k) % len.max(1))
                    .take(64)
                    .find(|&k| data.get(k).is_some_and(u8::is_ascii_digit))
                {
                    let mut end = start;
                    while end < len && (data[end].is_ascii_digit() || data[end] == b'.') {
                        end += 1;
                    }
                    let number = NUMBERS[rng.below(NUMBERS.len())].to_vec();
                    data.splice(start..end, number);
                }
            }
            _ => {}
        }
        data.truncate(max_len);
    }
}

thread_local! {
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Install (once) a panic hook that records panics on fuzzing threads instead of printing them.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Panics contained by the code under test are its own business: defer to that hook.
        crate::util::panic::install_hook();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET_PANICS.with(|q| q.get()) && !crate::util::panic::contained() {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".into());
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(format!("{msg} at {at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// The repository root (where `tests/corpus` lives).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The corpus directory of `target`.
pub fn corpus_dir(target: &str) -> PathBuf {
    repo_root().join("tests/corpus").join(target)
}

/// Where failing inputs of `target` are written.
fn failure_dir(target: &str) -> PathBuf {
    repo_root().join("target/fuzz-failures").join(target)
}

/// The corpus files of `target`, sorted by name.
pub fn load_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn save_failure(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = failure_dir(target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{:016x}", fnv(input)));
    let _ = std::fs::write(&path, input);
    path
}

/// State shared with the watchdog thread.
struct Watch {
    /// Milliseconds since `epoch` when the current input started (0: idle).
    started_ms: AtomicU64,
    current: Mutex<Vec<u8>>,
    done: AtomicBool,
    epoch: Instant,
}

fn env_f64(key: &str) -> Option<f64> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

impl Watch {
    fn new() -> Self {
        Self {
            started_ms: AtomicU64::new(0),
            current: Mutex::new(Vec::new()),
            done: AtomicBool::new(false),
            epoch: Instant::now(),
        }
    }

    /// Mark the start (`true`) or end of one run for the hang watchdog.
    fn running(&self, yes: bool) {
        let at = if yes {
            self.epoch.elapsed().as_millis() as u64 + 1
        } else {
            0
        };
        self.started_ms.store(at, Ordering::SeqCst);
    }
}

/// Run `target` on `input` once, catching a panic, and time it. A run longer than `slow` is
/// confirmed by up to `retries` more runs; the time returned is the fastest (a loaded machine
/// can stall any thread for a second, a slow parser is slow every time).
fn timed_run(
    target: &Target,
    input: &[u8],
    watch: &Watch,
    slow: Duration,
    retries: usize,
) -> (std::thread::Result<bool>, Duration) {
    let once = || {
        let t0 = Instant::now();
        watch.running(true);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (target.run)(input)));
        watch.running(false);
        (result, t0.elapsed())
    };
    let (result, mut took) = once();
    if result.is_ok() {
        for _ in 0..retries {
            if took <= slow {
                break;
            }
            let (again, t) = once();
            took = took.min(t);
            if again.is_err() {
                break;
            }
        }
    }
    (result, took)
}

/// Fuzz `target` for the configured time; returns what happened.
pub fn fuzz(target: &Target) -> Outcome {
    install_panic_hook();
    static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);
    let slot = NEXT_SLOT.fetch_add(1, Ordering::SeqCst);
    assert!(slot < alloc::SLOTS, "too many fuzzing threads");

    let seconds = env_f64("AUGTRAIN_FUZZ_SECONDS").unwrap_or(2.0);
    let seed = std::env::var("AUGTRAIN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fnv(target.name.as_bytes()));
    let corpus = load_corpus(target.name);
    assert!(
        !corpus.is_empty(),
        "corpus {} is empty",
        corpus_dir(target.name).display()
    );
    let seeds: Vec<Vec<u8>> = corpus.iter().map(|(_, b)| b.clone()).collect();

    let watch = Arc::new(Watch::new());
    let watchdog = {
        let watch = watch.clone();
        let name = target.name;
        std::thread::spawn(move || {
            while !watch.done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                let oversize = alloc::OVERSIZE[slot].load(Ordering::SeqCst);
                let started = watch.started_ms.load(Ordering::SeqCst);
                let now = watch.epoch.elapsed().as_millis() as u64;
                let hung = started != 0 && now.saturating_sub(started) > HANG.as_millis() as u64;
                if oversize != 0 || hung {
                    let input = watch.current.lock().map(|c| c.clone()).unwrap_or_default();
                    let (kind, what) = if oversize != 0 {
                        (
                            "oom",
                            format!("asked for {oversize} bytes in one allocation"),
                        )
                    } else {
                        ("hang", format!("ran longer than {HANG:?}"))
                    };
                    let path = save_failure(name, kind, &input);
                    eprintln!(
                        "fuzz {name}: an input {what}; saved to {}. Stopping.",
                        path.display()
                    );
                    std::process::exit(101);
                }
            }
        })
    };

    alloc::set_slot(slot);
    QUIET_PANICS.with(|q| q.set(true));
    let mut outcome = Outcome::default();
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let exec = |input: &[u8], outcome: &mut Outcome| {
        if let Ok(mut c) = watch.current.lock() {
            c.clear();
            c.extend_from_slice(input);
        }
        let base = alloc::reset_peak();
        let (result, took) = timed_run(target, input, &watch, SLOW, SLOW_RETRIES);
        let peak = alloc::peak() - base;
        outcome.execs += 1;
        outcome.accepted += u64::from(matches!(result, Ok(true)));
        if took.as_secs_f64() > outcome.slowest {
            outcome.slowest = took.as_secs_f64();
            outcome.slowest_input = input.to_vec();
        }
        outcome.peak_bytes = outcome.peak_bytes.max(peak);
        let limit = MEMORY_BASE + MEMORY_PER_BYTE * input.len() as i64;
        let failure = if result.is_err() {
            let msg = PANIC_MESSAGE
                .with(|m| m.borrow_mut().take())
                .unwrap_or_default();
            Some(("panic", format!("panicked: {msg}")))
        } else if took > SLOW {
            Some((
                "slow",
                format!(
                    "took {:.2} s at best over {} runs",
                    took.as_secs_f64(),
                    1 + SLOW_RETRIES
                ),
            ))
        } else if peak > limit {
            Some((
                "memory",
                format!("allocated {peak} bytes at peak (limit {limit})"),
            ))
        } else {
            None
        };
        if let Some((kind, what)) = failure
            && outcome.failures.len() < 20
        {
            let path = save_failure(target.name, kind, input);
            outcome
                .failures
                .push(format!("{what} (input saved to {})", path.display()));
        }
    };
    for (_, input) in &corpus {
        exec(input, &mut outcome);
    }
    while Instant::now() < deadline && outcome.failures.len() < 20 {
        let mut input = seeds[rng.below(seeds.len())].clone();
        if rng.below(64) == 0 {
            // Now and then, plain noise.
            input = (0..rng.below(256)).map(|_| rng.next() as u8).collect();
        }
        mutate(&mut rng, &mut input, &seeds, target.dict, target.max_len);
        exec(&input, &mut outcome);
    }
    QUIET_PANICS.with(|q| q.set(false));
    alloc::set_slot(0);
    watch.done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    outcome.seconds = started.elapsed().as_secs_f64();
    let slowest_path = repo_root().join("target/fuzz-slowest").join(target.name);
    if let Some(dir) = slowest_path.parent() {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(&slowest_path, &outcome.slowest_input);
    }
    eprintln!(
        "fuzz {}: {} inputs in {:.1} s (seed {seed}), {:.1} % accepted, slowest {:.1} ms, peak {:.1} MiB, {} failures",
        target.name,
        outcome.execs,
        outcome.seconds,
        100.0 * outcome.accepted as f64 / outcome.execs.max(1) as f64,
        outcome.slowest * 1e3,
        outcome.peak_bytes as f64 / (1 << 20) as f64,
        outcome.failures.len()
    );
    outcome
}

/// Fuzz `target` and fail the test on any failing input.
pub fn check(target: &Target) {
    let outcome = fuzz(target);
    assert!(
        outcome.failures.is_empty(),
        "fuzz {}: {} failing inputs:\n{}",
        target.name,
        outcome.failures.len(),
        outcome.failures.join("\n")
    );
}

/// Write `bytes` as `name` into `target`'s corpus (used by the seed generator).
pub fn write_seed(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// A scratch directory for targets that need files on disk, unique per thread.
pub fn scratch(target: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "augtrain-fuzz-{}-{target}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `Path` helper for targets: a fixed fake name for in-memory parses.
pub fn fake_path(name: &str) -> &Path {
    Path::new(name)
}

#[cfg(test)]
mod harness_tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static TRANSIENT_CALLS: AtomicUsize = AtomicUsize::new(0);
    static SLOW_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn target(run: fn(&[u8]) -> bool) -> Target {
        Target {
            name: "harness",
            dict: &[],
            max_len: 16,
            run,
        }
    }

    #[test]
    fn a_stall_is_not_a_slow_input_but_a_slow_input_is() {
        let watch = Watch::new();
        let slow = Duration::from_millis(150);
        // Stalls once (like a thread starved on a loaded machine), then runs fast.
        let transient = target(|_| {
            if TRANSIENT_CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
            true
        });
        let (result, took) = timed_run(&transient, b"x", &watch, slow, 2);
        assert!(matches!(result, Ok(true)));
        assert!(took <= slow, "{took:?}");
        assert_eq!(
            TRANSIENT_CALLS.load(Ordering::SeqCst),
            2,
            "one confirming run"
        );
        // Slow every time: reported, after all the confirming runs.
        let always = target(|_| {
            SLOW_CALLS.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(200));
            false
        });
        let (result, took) = timed_run(&always, b"x", &watch, slow, 2);
        assert!(matches!(result, Ok(false)));
        assert!(took > slow, "{took:?}");
        assert_eq!(SLOW_CALLS.load(Ordering::SeqCst), 3);
        // A fast input runs once.
        let before = SLOW_CALLS.load(Ordering::SeqCst);
        let (_, took) = timed_run(&always, b"x", &watch, Duration::from_secs(5), 2);
        assert!(took < Duration::from_secs(5));
        assert_eq!(SLOW_CALLS.load(Ordering::SeqCst), before + 1);
    }
}
