//! augtrain's integration tests, one binary (like cargo's own `tests/testsuite/`): one module
//! per command, cross-command checks in `cli`, faults in `reliability`, the GPU kernel against
//! its CPU twin in `gpu`, the patched CPU kernels against their definitions in `kernels`; every
//! shared helper in `support`. Fixtures stay in `tests/fixtures`, `tests/malformed`; the
//! parsers' fuzz inputs in `fuzz/` (replayed by `fuzz/targets`).
//!
//! Tests that need real data, a GPU adapter or a browser print `SKIPPED` without them and fail
//! instead when `AUGTRAIN_REQUIRE_DATA=1`, `AUGTRAIN_REQUIRE_GPU=1` or
//! `AUGTRAIN_REQUIRE_BROWSER=1` is set (as `.ci/run` does).

mod support;

mod agreement;
mod audit;
mod augment;
mod augment_data;
mod bench;
mod cli;
mod convert;
mod cv;
mod devices;
mod embed;
mod eval;
mod examples;
mod export;
mod file_names;
mod gpu;
mod inspect;
mod integrity;
mod kernels;
mod label_issues;
mod models;
mod pack;
mod plot;
mod predict;
mod reliability;
mod split;
mod train;
