//! Helpers shared by the integration tests: finding real data, GPU adapters and a browser
//! (skipping loudly without them, failing on CI), running the binary, scratch directories,
//! JSON readers, fixture writers.

mod fixtures;
mod train_args;

pub use fixtures::*;
pub use train_args::{TrainArgs, small_mlp_run};

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `true` when the environment variable is set to `1`.
pub fn required(var: &str) -> bool {
    std::env::var(var).map(|v| v == "1").unwrap_or(false)
}

/// The real-data directory (`AUGTRAIN_TEST_DATA`, default `../shared/data`) if it holds `sub`;
/// otherwise skip loudly, or fail when `AUGTRAIN_REQUIRE_DATA=1`.
pub fn data(sub: &str) -> Option<PathBuf> {
    let base = std::env::var_os("AUGTRAIN_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let base = if base.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(base)
    } else {
        base
    };
    let dir = base.join(sub);
    if dir.exists() {
        return Some(dir);
    }
    if required("AUGTRAIN_REQUIRE_DATA") {
        panic!(
            "AUGTRAIN_REQUIRE_DATA=1 but {} is missing; set AUGTRAIN_TEST_DATA",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: real data {} not found (set AUGTRAIN_TEST_DATA)",
        dir.display()
    );
    None
}

/// Whether a GPU adapter (software ones count) exists; skip loudly without one, or fail when
/// `AUGTRAIN_REQUIRE_GPU=1`.
pub fn gpu() -> bool {
    if !augtrain::device::list_adapters().is_empty() {
        return true;
    }
    if required("AUGTRAIN_REQUIRE_GPU") {
        panic!("AUGTRAIN_REQUIRE_GPU=1 but no GPU adapter was found; install mesa-vulkan-drivers");
    }
    eprintln!("SKIPPED: no GPU adapter (install mesa-vulkan-drivers for the software one)");
    false
}

/// Debian's Chromium, or skip loudly (fail with AUGTRAIN_REQUIRE_BROWSER=1).
pub fn chromium() -> Option<PathBuf> {
    for c in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(c).exists() {
            return Some(c.into());
        }
    }
    if required("AUGTRAIN_REQUIRE_BROWSER") {
        panic!("AUGTRAIN_REQUIRE_BROWSER=1 but no Chromium; apt-get install -y chromium");
    }
    eprintln!("SKIPPED: no Chromium for the browser test (apt-get install -y chromium)");
    None
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("augtrain-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run the `augtrain` binary.
pub fn augtrain<S: AsRef<OsStr>>(args: &[S]) -> Output {
    augtrain_env(args, &[])
}

/// Run the `augtrain` binary with extra environment variables.
pub fn augtrain_env<S: AsRef<OsStr>>(args: &[S], env: &[(&str, &str)]) -> Output {
    let mut cmd = augtrain_command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the augtrain binary runs")
}

/// The `augtrain` binary with `args`, not yet started (for tests that spawn and kill it).
pub fn augtrain_command<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_augtrain"));
    cmd.args(args).env("XDG_RUNTIME_DIR", std::env::temp_dir());
    cmd
}

/// Run the `augtrain` binary with its address space limited to `bytes` (Linux with glibc;
/// elsewhere unlimited): a command that would allocate far more fails at once instead of
/// driving the test machine into swap.
pub fn augtrain_limited<S: AsRef<OsStr>>(args: &[S], bytes: u64) -> Output {
    #[allow(unused_mut)]
    let mut cmd = augtrain_command(args);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.output().expect("the augtrain binary runs")
}

/// The one `error:` line of a command that failed with exit code `code`; panics with the
/// output when the code differs or stderr is not exactly one line.
pub fn one_error_line(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

/// Set element `index` of tensor `key` of the safetensors file `path` (an `F32` tensor) to
/// `value`, in place.
pub fn set_safetensors_value(path: &Path, key: &str, index: usize, value: f32) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header[key]["dtype"], "F32", "{key} in {header}");
    let start = header[key]["data_offsets"][0].as_u64().unwrap() as usize;
    let at = 8 + n + start + 4 * index;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// The names of a safetensors file's tensors, sorted.
pub fn safetensors_keys(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut keys: Vec<String> = header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Panic with the output unless the command succeeded.
pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "augtrain failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Read a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The SHA-256 of `bytes` in lower-case hex, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    augtrain::data::files::hex(&sha2::Sha256::digest(bytes))
}

/// Parse a successful command's standard output as JSON.
pub fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// Run the example program `name` in quick mode with its outputs under `out` (and the real
/// data, when there is some); its standard output. Panics with both streams if it fails.
pub fn run_example(name: &str, out: &Path) -> String {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        bin.exists(),
        "example binary {} missing (cargo test builds examples)",
        bin.display()
    );
    let mut cmd = Command::new(&bin);
    cmd.env("AUGTRAIN_EXAMPLE_QUICK", "1")
        .env("AUGTRAIN_EXAMPLE_OUT", out)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir());
    if let Some(d) = data("") {
        cmd.env("AUGTRAIN_TEST_DATA", d);
    }
    let o = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}
