#!/usr/bin/env bash
# The WGSL that cubecl generates on this machine's GPU adapter for one training step of each
# model (and the evaluation after it), through the same check as the modules we ship
# (tools/check-wgsl.sh): naga to SPIR-V (spirv-val), MSL and HLSL, failing on any error.
# cubecl's compilation logger (a cubecl.toml in the run's directory) writes every kernel it
# compiles, burn's fused and autotuned kernels and our own augmentation kernel alike; each
# distinct module is checked once. CI runs it after the tests; so can you.
#
#   tools/check-cubecl-wgsl.sh [BIN [KEEP_DIR]]   # BIN: default target/release/augtrain
#                                                  # KEEP_DIR: also keep the dumped modules there
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin=$(realpath "${1:-target/release/augtrain}")
keep=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
mkdir -p "$work/wgsl"
# Model and image side: the two ImageNet models at a small input keep the step short.
for spec in mlp:28 cnn:28 resnet-small:32 resnet18:32 efficientnet-lite0:32; do
  model=${spec%%:*} size=${spec##*:}
  run="$work/$model"
  mkdir -p "$run"
  printf '[compilation.logger]\nlevel = "full"\nfile = "%s"\n' "$run/kernels.log" >"$run/cubecl.toml"
  # 20 synthetic images: 18 train as one batch, 2 validate; 8 test.
  (cd "$run" && "$bin" train --device gpu --model "$model" --synthetic-train 20 --synthetic-test 8 \
    --synthetic-size "$size" --batch-size 18 --epochs 1 --seed 1 --runs-dir "$run/runs" -q)
  # One file per logged source: the lines between "```wgsl" and "```" of each entry.
  awk -v out="$work/wgsl/$model" '
    /^```wgsl$/ { n++; file = sprintf("%s-%03d.wgsl", out, n); inside = 1; next }
    inside && /^```$/ { close(file); inside = 0; next }
    inside { print > file }
  ' "$run/kernels.log"
  echo "$model: $(ls "$work/wgsl" | grep -c "^$model-") kernels compiled"
done
# The same kernel compiled for two models is checked once.
declare -A seen
modules=()
for f in "$work"/wgsl/*.wgsl; do
  sum=$(sha256sum "$f" | cut -d' ' -f1)
  if [ -z "${seen[$sum]:-}" ]; then seen[$sum]=1; modules+=("$f"); fi
done
echo "${#modules[@]} distinct WGSL modules"
if [ -n "$keep" ]; then mkdir -p "$keep" && cp "${modules[@]}" "$keep/"; fi
# cubecl writes 64-bit integers (`u64`) where the adapter has SHADER_INT64 (lavapipe does), so
# those modules are validated with that capability and translated for MSL 2.3 / HLSL SM 6.0;
# any other capability is an error.
echo "$(grep -l -E '\b[ui]64\b' "${modules[@]}" | wc -l) of them use 64-bit integers"
"$repo/tools/check-wgsl.sh" --capabilities SHADER_INT64 "${modules[@]}"
