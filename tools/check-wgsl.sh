#!/usr/bin/env bash
# Every WGSL module augtrain ships, translated by naga (wgpu's own translator, the version in
# Cargo.lock) to SPIR-V, Metal Shading Language and HLSL without error, and the SPIR-V accepted
# by spirv-val (Debian's spirv-tools) for Vulkan 1.1. CI runs it; so can you.
#
#   tools/check-wgsl.sh            # all tracked *.wgsl
#   tools/check-wgsl.sh FILE...    # these modules
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(git ls-files '*.wgsl' | grep -v '^patches/'); fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CARGO_TARGET_DIR="$repo/target/wgsl-check" \
  cargo run --quiet --release --locked --manifest-path tools/wgsl-check/Cargo.toml -- "$out" "${files[@]}"
if ! command -v spirv-val >/dev/null; then
  echo "error: spirv-val not found; install Debian's spirv-tools (apt-get install spirv-tools)" >&2
  exit 1
fi
for spv in "$out"/*.spv; do
  spirv-val --target-env vulkan1.1 "$spv"
  echo "spirv-val: $(basename "$spv") valid for Vulkan 1.1"
done
