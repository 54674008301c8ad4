//! Data quality and label quality: integrity, duplicates and leaks, image health, class
//! balance, and label issues by confident learning.

pub mod confident;
