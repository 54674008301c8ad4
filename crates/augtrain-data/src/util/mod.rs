//! Small helpers shared by every stage: atomic file writes, counter-based randomness, time
//! stamps, names read from files kept inside their folder, panic containment for third-party decoders, enum names shared by config files and flags,
//! "did you mean" suggestions, file paths as text and escaping of user-controlled text for the
//! terminal.

pub mod escape;
pub mod fs;
pub mod inside;
pub mod names;
pub mod nan;
pub mod panic;
pub mod path_text;
pub mod progress;
pub mod rng;
pub mod suggest;
pub mod time;
