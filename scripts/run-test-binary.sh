#!/usr/bin/env bash
# Runs a prebuilt integration test binary on a machine without Rust (the GPU machine):
#   cargo test --release --no-run          # here: prints the integration-HASH binary's path
#   LD_LIBRARY_PATH=…/torch/lib scripts/run-test-binary.sh target/release/deps/integration-HASH [threads [filter…]]
# The binary finds the goldens, the docs and the nnopt binary through the CARGO_MANIFEST_DIR it
# was built in (NNOPT_BUILT_AT, default /work/main): where the checkout sits elsewhere, that
# path is made a link to it. Every test that is not about CUDA pins --device cpu and 2 threads
# (tests/integration/common.rs), so 16 test threads share one machine without crowding a GPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${1:?usage: scripts/run-test-binary.sh PATH/TO/integration-HASH [threads]}
threads=${2:-16}
built=${NNOPT_BUILT_AT:-/work/main}
bin=$(realpath "$bin")
if [ "$(realpath -m "$built")" != "$PWD" ]; then
  [ -e "$built" ] && [ ! -L "$built" ] && { echo "run-test-binary: $built exists and is not a link; set NNOPT_BUILT_AT" >&2; exit 2; }
  mkdir -p "$(dirname "$built")"
  ln -sfn "$PWD" "$built"
fi
# Five minutes at most: a suite that takes longer on a 16-core machine has a test to fix.
timeout 300 "$bin" --test-threads="$threads" "${@:3}"
