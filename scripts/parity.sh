#!/usr/bin/env bash
# Runs nnopt and the PyTorch reference scripts side by side on several seeds and settings, and
# fails if any number differs by more than 1e-6 (bit-for-bit is expected on the CPU).
#   scripts/parity.sh [path/to/nnopt]   (default: target/release/nnopt)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
nnopt=${1:-target/release/nnopt}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # name, nnopt args, reference script, reference args
  local name=$1 args=$2 script=$3 ref_args=$4
  # shellcheck disable=SC2086 # the argument lists are word lists
  "$nnopt" --device cpu --json --quiet $args > "$tmp/ours.json"
  # shellcheck disable=SC2086
  scripts/torch-python "scripts/reference/$script" $ref_args > "$tmp/ref.json"
  printf '%-44s ' "$name"
  python3 scripts/reference/compare.py "$tmp/ours.json" "$tmp/ref.json" --tol 1e-6
}
for seed in 0 1 2 3 42; do
  check "perceptron --seed $seed" "perceptron --seed $seed" perceptron.py "--seed $seed"
done
check "perceptron --samples 40 --epochs 30 --lr 2e-4" "perceptron --seed 5 --samples 40 --epochs 30 --lr 2e-4" \
  perceptron.py "--seed 5 --samples 40 --epochs 30 --lr 2e-4"
for seed in 0 1 2 3 42; do
  check "mlp --seed $seed" "mlp --seed $seed" mlp.py "--seed $seed"
done
check "mlp --hidden 100 --lr 0.3" "mlp --seed 9 --hidden 100 --lr 0.3" mlp.py "--seed 9 --hidden 100 --lr 0.3"
