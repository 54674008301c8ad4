//! Small helpers shared by every stage: atomic file writes, counter-based randomness, time
//! stamps, panic containment for third-party decoders and "did you mean" suggestions.

pub mod fs;
pub mod panic;
pub mod rng;
pub mod suggest;
pub mod time;
