#!/usr/bin/env bash
# Coverage-guided fuzzing of one parser with libFuzzer (cargo-fuzz, nightly Rust):
#
#   fuzz/run.sh <target> [seconds] [extra libFuzzer flags...]
#
# Needs `cargo install cargo-fuzz` and a nightly toolchain. Inputs that reach new code are
# added to fuzz/corpus/<target>/ (the seeds in fuzz/seeds/ and the regression inputs in
# fuzz/regressions/ are read, never written). A crash, timeout or out-of-memory input is saved
# to fuzz/artifacts/<target>/ and libFuzzer stops; fix it, then copy the input into
# fuzz/regressions/<target>/ under a name saying what it found, so that `cargo test` replays
# it from then on. Shrink the grown corpus before committing it:
#   cargo +nightly fuzz cmin <target> fuzz/corpus/<target>
#
# Limits (what the old built-in fuzzer's counting allocator and watchdog measured):
#   -malloc_limit_mb=256   one allocation above 256 MiB is a finding (an input of at most
#                          64 KiB has no business asking for more; the 64 MiB a gzip bomb of
#                          that size can legitimately decompress to stays under it)
#   -rss_limit_mb=2048     the whole process above 2 GiB resident is a finding
#   -timeout=10            one input running over 10 s is a hang
#   -report_slow_units=1   inputs over 1 s are reported (and saved as slow-unit-*), not failed
set -euo pipefail

targets="idx cifar image manifest pack split_file pipeline_toml pipeline_json config pred_probs embeddings checkpoint params_jsonl embedding_index annotations rle pth"
if [ $# -lt 1 ]; then
  echo "usage: fuzz/run.sh <target> [seconds] [libFuzzer flags...]; targets: $targets" >&2
  exit 2
fi
target=$1
seconds=${2:-600}
shift $(( $# < 2 ? $# : 2 ))

# Longest input (bytes) and dictionary per target.
case $target in
  idx) max_len=65536 dict=idx ;;
  cifar) max_len=32768 dict=cifar ;;
  image) max_len=65536 dict=image ;;
  manifest) max_len=16384 dict=manifest ;;
  pack) max_len=16384 dict=pack ;;
  split_file) max_len=16384 dict=split_file ;;
  pipeline_toml) max_len=8192 dict=pipeline ;;
  pipeline_json) max_len=8192 dict=pipeline ;;
  config) max_len=16384 dict=config ;;
  pred_probs) max_len=16384 dict=pred_probs ;;
  embeddings) max_len=16384 dict=embeddings ;;
  checkpoint) max_len=65536 dict=checkpoint ;;
  params_jsonl) max_len=16384 dict=params_jsonl ;;
  embedding_index) max_len=16384 dict=embedding_index ;;
  annotations) max_len=16384 dict=annotations ;;
  rle) max_len=8192 dict=rle ;;
  pth) max_len=131072 dict=pth ;;
  *)
    echo "unknown target '$target'; one of: $targets" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
dirs=("fuzz/corpus/$target" "fuzz/seeds/$target")
if [ -d "fuzz/regressions/$target" ]; then
  dirs+=("fuzz/regressions/$target")
fi
exec cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
  -max_total_time="$seconds" -max_len="$max_len" -dict="fuzz/dict/$dict.dict" \
  -malloc_limit_mb=256 -rss_limit_mb=2048 -timeout=10 -report_slow_units=1 \
  -print_final_stats=1 "$@"
