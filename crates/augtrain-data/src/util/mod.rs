//! Small helpers shared by every stage: atomic file writes, counter-based randomness, time
//! stamps, panic containment for third-party decoders, enum names shared by config files and flags,
//! and "did you mean" suggestions.

pub mod fs;
pub mod names;
pub mod nan;
pub mod panic;
pub mod rng;
pub mod suggest;
pub mod time;
