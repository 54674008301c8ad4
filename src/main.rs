//! The `augtrain` command-line tool. It only parses arguments, calls the library and prints;
//! errors become one line on stderr and exit code 1 (2 for usage errors).

use std::process::ExitCode;

fn main() -> ExitCode {
    // SAFETY: no other thread has started yet.
    unsafe { augtrain::device::prepare_environment() };
    // SAFETY: still no other thread.
    unsafe { augtrain::heap::keep_freed_memory() };
    augtrain::cli::main()
}
