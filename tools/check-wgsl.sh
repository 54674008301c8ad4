#!/usr/bin/env bash
# Every WGSL module augtrain ships, translated by naga (wgpu's own translator, the version in
# Cargo.lock) to SPIR-V, Metal Shading Language and HLSL without error, and the SPIR-V accepted
# by spirv-val (Debian's spirv-tools) for Vulkan 1.1. CI runs it; so can you. Each module is
# translated twice: with naga's default runtime checks and as cubecl compiles a kernel launched
# unchecked (no bounds checks, no loop bounding). The fused kernel is specialised per launch
# (crates/augtrain-augment/src/variant.rs): a covering set of its variants, written by the
# `wgsl_variants` example, is checked too.
#
#   tools/check-wgsl.sh            # all tracked *.wgsl and the kernel's variants
#   tools/check-wgsl.sh FILE...    # these modules
#   tools/check-wgsl.sh --capabilities SHADER_INT64 FILE...   # allowing naga capabilities
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
caps=()
if [ "${1:-}" = --capabilities ]; then caps=(--capabilities "$2"); shift 2; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.wgsl' | grep -v '^patches/')
  mapfile -t -O "${#files[@]}" files < <(cargo run --quiet --release --locked -p augtrain-augment \
    --example wgsl_variants -- "$out/variants")
  ls "$out"/variants/augment-*.wgsl >/dev/null || { echo "error: no kernel variants written" >&2; exit 1; }
fi
CARGO_TARGET_DIR="$repo/target/wgsl-check" \
  cargo run --quiet --release --locked --manifest-path tools/wgsl-check/Cargo.toml -- "${caps[@]}" "$out" "${files[@]}"
if ! command -v spirv-val >/dev/null; then
  echo "error: spirv-val not found; install Debian's spirv-tools (apt-get install spirv-tools)" >&2
  exit 1
fi
for spv in "$out"/*.spv; do
  spirv-val --target-env vulkan1.1 "$spv"
  echo "spirv-val: $(basename "$spv") valid for Vulkan 1.1"
done
