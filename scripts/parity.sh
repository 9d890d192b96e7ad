#!/usr/bin/env bash
# Runs nnopt and the PyTorch reference scripts side by side on several seeds and settings, and
# fails if any number differs at all: on one machine the same libtorch kernels run, so the
# perceptron and MLP numbers must be bit-for-bit PyTorch's. (The committed goldens in
# tests/goldens/ are checked to the issues' 1e-6, as they may be read on another CPU.)
#   scripts/parity.sh [path/to/nnopt]   (default: the release build, located through cargo)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
nnopt=${1:-$(scripts/nnopt-path)}
if ! scripts/torch-python -c 'import torch' 2>/dev/null; then
  if [ -n "${LIBTORCH:-}" ]; then
    # Your own libtorch: scripts/setup.sh made no PyTorch environment, so there is no oracle.
    echo "parity: SKIPPED — LIBTORCH is set and there is no PyTorch environment to compare with;" \
         "run scripts/setup.sh without LIBTORCH to make one" >&2
    exit 0
  fi
  echo "parity: error: no PyTorch environment; run scripts/setup.sh" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # name, nnopt args, reference script, reference args
  local name=$1 args=$2 script=$3 ref_args=$4
  # shellcheck disable=SC2086 # the argument lists are word lists
  "$nnopt" --device cpu --json --quiet $args > "$tmp/ours.json"
  # shellcheck disable=SC2086
  scripts/torch-python "scripts/reference/$script" $ref_args > "$tmp/ref.json"
  printf '%-44s ' "$name"
  python3 scripts/reference/compare.py "$tmp/ours.json" "$tmp/ref.json" --tol 0
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

# `--code`'s programs (examples/pytorch/*.py and examples/tch_*.rs) print these same numbers.
# Where cargo put the examples, asked of cargo (CARGO_TARGET_DIR or build.target-dir may move them).
examples=$(cargo build --release --quiet --examples --message-format=json-render-diagnostics | python3 -c '
import json, os, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "tch_perceptron" and msg.get("executable"):
        print(os.path.dirname(msg["executable"]))')
scripts/torch-python scripts/reference/code_check.py "$nnopt" "$examples"

# Training: the same recipe in PyTorch (scripts/reference/train.py) draws the same initial
# weights and the same shuffles, so the test accuracy after each epoch must agree.
"$nnopt" --device cpu --json --quiet train --data fashion --epochs 3 --save "$tmp/w.safetensors" > "$tmp/ours.json"
scripts/torch-python scripts/reference/train.py --data /usr/share/datasets/fashion-mnist --epochs 3 > "$tmp/ref.json"
python3 - "$tmp/ours.json" "$tmp/ref.json" <<'PY'
import json, sys
ours, ref = (json.load(open(p)) for p in sys.argv[1:])
a = [e["test_accuracy"] for e in ours["epochs"]]
b = [e["test_accuracy"] for e in ref["epochs"]]
worst = max(abs(x - y) for x, y in zip(a, b))
print(f"{'train fashion 3 epochs, accuracy per epoch':<44} nnopt {a} PyTorch {[round(x, 4) for x in b]}, max |diff| = {worst:.2g}")
sys.exit(0 if worst <= 0.002 else 1)
PY
# The saved weights load in PyTorch as a strict state_dict and score what nnopt scores.
scripts/torch-python scripts/reference/load_weights.py "$tmp/w.safetensors" /usr/share/datasets/fashion-mnist > "$tmp/py.json"
"$nnopt" --device cpu --json evaluate --weights "$tmp/w.safetensors" --data fashion > "$tmp/eval.json"
python3 - "$tmp/eval.json" "$tmp/py.json" <<'PY'
import json, sys
ours, py = (json.load(open(p)) for p in sys.argv[1:])
print(f"{'weights loaded in PyTorch (strict)':<44} keys {py['keys']}, accuracy nnopt {ours['accuracy']} PyTorch {py['accuracy']}")
sys.exit(0 if ours["correct"] == py["correct"] else 1)
PY
