#!/usr/bin/env bash
# The GPU measurement battery of [gpu-path], one command, meant to finish in under 8 minutes on a
# real GPU: the adapter line, the copy ceiling, every augmentation op and the full pipeline as a
# fraction of it (224x224 RGB batch 256, 28x28 gray), one training epoch of every model (MLP,
# CNN, resnet-small, ResNet-18, EfficientNet-Lite0) with resident images and with per-batch
# uploads, host syncs and kernel launches per epoch, and the GPU tests. Results in OUTDIR:
#   gpu-line.txt     nvidia-smi's line (name, memory, driver), or why there is none
#   devices.json     the adapters augtrain sees and which one --device gpu takes
#   bench-gpu.jsonl  `augtrain bench gpu`, one JSON line per row written as it completes (the
#                    first line: machine, adapter API/driver/name, nvidia-smi line, timing method,
#                    cache rotated past): what survives a timeout
#   bench-gpu.json   the same run's whole report at its end (measurements, gpu_training
#                    traffic); .txt its table
# GPU rows are timed by the device (cubecl's profile: timestamp queries where the adapter has
# TIMESTAMP_QUERY), parameters uploaded before the timed region, K launches per sync, buffers
# rotated past 4x the last-level cache; each row's note also gives the host clock.
#   tests.txt        the GPU tests of the testsuite binary, when one is given
#   summary.json     what ran, exit codes, seconds
#
# usage: tools/gpu-battery.sh OUTDIR [--short]
#   --short          a smoke run (quick bench, MLP and CNN only): what CI runs on Mesa's lavapipe;
#                    it times software adapters (--allow-software), the full run refuses them
#   AUGTRAIN=PATH    the augtrain binary (default: .gpu/bin/augtrain, else target/release/augtrain)
#   GPU_TESTS=PATH   the testsuite binary, to run its GPU tests (default: .gpu/bin/testsuite when
#                    bundled; none otherwise)
# On a bare GPU machine: `source .gpu/setup.sh && tools/gpu-battery.sh "$OUT"` after bundling
# target/release/augtrain and the testsuite binary with ../shared/gpu/bundle.sh.
set -uo pipefail
out=${1:?usage: tools/gpu-battery.sh OUTDIR [--short]}
short=${2:-}
if [ -n "$short" ] && [ "$short" != --short ]; then
  echo "gpu-battery: unknown option '$short' (the only one is --short)" >&2
  exit 2
fi
mkdir -p "$out" || exit 1
bin=${AUGTRAIN:-}
if [ -z "$bin" ]; then
  if [ -x .gpu/bin/augtrain ]; then bin=.gpu/bin/augtrain; else bin=target/release/augtrain; fi
fi
if [ ! -x "$bin" ]; then
  echo "gpu-battery: no augtrain binary at $bin; build with 'cargo build --release' or set AUGTRAIN" >&2
  exit 1
fi
tests=${GPU_TESTS:-}
if [ -z "$tests" ] && [ -x .gpu/bin/testsuite ]; then tests=.gpu/bin/testsuite; fi
start=$(date +%s)

if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu-line.txt" 2>&1
else
  echo "no nvidia-smi on this machine" > "$out/gpu-line.txt"
fi
"$bin" devices --json > "$out/devices.json"
devices_rc=$?

quick=()
budget=420
if [ -n "$short" ]; then quick=(--quick --allow-software); budget=600; fi
rm -f "$out/bench-gpu.jsonl"
timeout "$budget" "$bin" bench gpu --device gpu "${quick[@]}" --jsonl "$out/bench-gpu.jsonl" \
  --json "$out/bench-gpu.json" > "$out/bench-gpu.txt" 2>&1
bench_rc=$?

tests_rc=null
if [ -n "$tests" ] && [ -x "$tests" ]; then
  timeout 300 "$tests" --test-threads 1 gpu:: train::resident train::train_on_the_software_gpu > "$out/tests.txt" 2>&1
  tests_rc=$?
fi

seconds=$(( $(date +%s) - start ))
printf '{"gpu_line": "%s", "short": %s, "devices_rc": %s, "bench_rc": %s, "tests_rc": %s, "seconds": %s}\n' \
  "$(tr -d '"\\\n' < "$out/gpu-line.txt")" "$([ -n "$short" ] && echo true || echo false)" \
  "$devices_rc" "$bench_rc" "$tests_rc" "$seconds" > "$out/summary.json"
cat "$out/summary.json"
[ "$devices_rc" = 0 ] && [ "$bench_rc" = 0 ] && { [ "$tests_rc" = null ] || [ "$tests_rc" = 0 ]; }
