#!/usr/bin/env bash
# The vendored burn-flex (patches/burn-flex) against the release published on crates.io.
#
#   tools/burn-flex-patch.sh check   the folder is exactly the published crate plus
#                                    patches/burn-flex.diff (fails naming what differs)
#   tools/burn-flex-patch.sh write   regenerate patches/burn-flex.diff after editing the folder
#   tools/burn-flex-patch.sh test    run the crate's own test suite (lib tests, the patch's
#                                    kernel tests included) with the published Cargo.lock
#
# The published sources come through cargo itself (`cargo fetch` of a throw-away manifest that
# depends on burn-flex =VERSION, then the `.crate` archive from cargo's cache), so no other
# client or host is involved. The diff is `git diff --no-index` between two folders named
# `published` and `patched`: no timestamps or machine paths, so it is byte-stable.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
version=0.22.1
vendored=patches/burn-flex
diff_file=patches/burn-flex.diff

published_crate() {
  local manifest_dir=$1
  mkdir -p "$manifest_dir/src"
  : >"$manifest_dir/src/lib.rs"
  cat >"$manifest_dir/Cargo.toml" <<EOF
[package]
name = "fetch-burn-flex"
version = "0.0.0"
edition = "2021"

[dependencies]
burn-flex = "=$version"
EOF
  cargo fetch --quiet --manifest-path "$manifest_dir/Cargo.toml" \
    --target "$(rustc -vV | sed -n 's/^host: //p')"
  local home=${CARGO_HOME:-$HOME/.cargo}
  local crate
  crate=$(ls "$home"/registry/cache/*/burn-flex-"$version".crate | head -n 1)
  [ -f "$crate" ] || { echo "error: burn-flex-$version.crate not found in $home/registry/cache" >&2; exit 1; }
  echo "$crate"
}

canonical_diff() {
  local work=$1
  local crate
  crate=$(published_crate "$work/fetch")
  mkdir -p "$work/unpacked"
  tar xzf "$crate" -C "$work/unpacked"
  mv "$work/unpacked/burn-flex-$version" "$work/published"
  cp -a "$repo/$vendored" "$work/patched"
  # Exit status 1 means "differences found", which is the normal case here.
  (cd "$work" && git diff --no-index --no-color --binary published patched || [ $? -eq 1 ])
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case "${1:-}" in
  check)
    canonical_diff "$work" >"$work/expected.diff"
    if ! cmp -s "$work/expected.diff" "$diff_file"; then
      echo "error: $vendored is not the published burn-flex $version plus $diff_file;" \
        "run tools/burn-flex-patch.sh write and review the change" >&2
      diff -u "$diff_file" "$work/expected.diff" | head -n 40 >&2 || true
      exit 1
    fi
    echo "$vendored = published burn-flex $version + $diff_file ($(grep -c '^diff --git' "$diff_file") files changed)"
    ;;
  write)
    canonical_diff "$work" >"$diff_file"
    echo "wrote $diff_file ($(grep -c '^diff --git' "$diff_file") files changed)"
    ;;
  test)
    # Outside the workspace's [patch] and lock: the crate as a user of the patch would build it.
    CARGO_TARGET_DIR="$repo/target/burn-flex-suite" \
      cargo test --release --locked --manifest-path "$vendored/Cargo.toml" --lib
    ;;
  *)
    echo "usage: tools/burn-flex-patch.sh check|write|test" >&2
    exit 2
    ;;
esac
