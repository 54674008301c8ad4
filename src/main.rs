//! The `augtrain` command-line tool. It only parses arguments, calls the library and prints;
//! errors become one line on stderr and exit code 1 (2 for usage errors).

use std::process::ExitCode;

fn main() -> ExitCode {
    // SAFETY: set before any thread starts. burn materializes loaded optimizer state on its
    // default device; pin that to the CPU so that resuming never probes for a GPU, and keep
    // Mesa from warning about a missing runtime directory.
    unsafe {
        std::env::set_var("BURN_DEVICE", "flex");
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
        }
    }
    augtrain::cli::main()
}
