#!/usr/bin/env bash
# Checks nnopt on a GPU machine against itself on the CPU and against PyTorch on CUDA.
# Needs only the nnopt binary and a Python with torch 2.11 (no Rust):
#   LD_LIBRARY_PATH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib \
#     scripts/gpu-check.sh [path/to/nnopt] [python]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The GPU machine has no Rust: there the binary is the one carried over (target/release/nnopt by
# default); where cargo exists, cargo says where it built it.
if [ -n "${1:-}" ]; then nnopt=$1
elif command -v cargo >/dev/null; then nnopt=$(scripts/nnopt-path)
else nnopt=target/release/nnopt; fi
py=${2:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nnopt" info
"$nnopt" info --json | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["cuda_available"] else 1)' \
  || { echo "gpu-check: libtorch sees no CUDA device (see nnopt info above)" >&2; exit 1; }
fail=0
for seed in 0 1; do
  "$nnopt" --quiet --json --device cpu mlp --seed "$seed" > "$tmp/cpu.json"
  "$nnopt" --quiet --json --device cuda mlp --seed "$seed" > "$tmp/cuda.json"
  "$py" scripts/reference/mlp.py --seed "$seed" --device cuda > "$tmp/torch-cuda.json"
  printf 'mlp seed %s, nnopt cuda vs nnopt cpu:     ' "$seed"
  python3 scripts/reference/compare.py "$tmp/cuda.json" "$tmp/cpu.json" --tol 1e-5 --device-agnostic || fail=1
  printf 'mlp seed %s, nnopt cuda vs PyTorch cuda:  ' "$seed"
  python3 scripts/reference/compare.py "$tmp/cuda.json" "$tmp/torch-cuda.json" --tol 1e-5 || fail=1
done
for cmd in autograd "perceptron --epochs 20"; do
  # shellcheck disable=SC2086
  "$nnopt" --quiet --json --device cpu $cmd > "$tmp/cpu.json"
  # shellcheck disable=SC2086
  "$nnopt" --quiet --json --device cuda $cmd > "$tmp/cuda.json"
  printf '%-40s ' "$cmd, cuda vs cpu:"
  python3 scripts/reference/compare.py "$tmp/cuda.json" "$tmp/cpu.json" --tol 1e-4 --device-agnostic || fail=1
done
# The autograd graph read from libtorch: CUDA tensors carry the same nodes, names and edges, in
# each command's JSON graph and in every grad_fn=<…> its text prints.
for cmd in "mlp --graph" "autograd --graph" "perceptron --graph --epochs 3"; do
  # shellcheck disable=SC2086
  "$nnopt" --quiet --json --device cpu $cmd > "$tmp/cpu.json"
  # shellcheck disable=SC2086
  "$nnopt" --quiet --json --device cuda $cmd > "$tmp/cuda.json"
  # shellcheck disable=SC2086
  "$nnopt" --quiet --device cpu $cmd | grep -o 'grad_fn=<[A-Za-z0-9]*>' > "$tmp/cpu.txt" || true
  # shellcheck disable=SC2086
  "$nnopt" --quiet --device cuda $cmd | grep -o 'grad_fn=<[A-Za-z0-9]*>' > "$tmp/cuda.txt" || true
  python3 - "$cmd" "$tmp/cpu.json" "$tmp/cuda.json" "$tmp/cpu.txt" "$tmp/cuda.txt" <<'PY' || fail=1
import json, sys
cmd = sys.argv[1]
cpu, cuda = (json.load(open(p)) for p in sys.argv[2:4])
cpu_names, cuda_names = (open(p).read().split() for p in sys.argv[4:6])
keys = [k for k in ("grad_fn_chain", "backward_graph", "notebook_graph") if k in cpu]
same = bool(keys) and all(cpu[k] == cuda.get(k) for k in keys) and cpu_names == cuda_names
print(f"{cmd} graph, cuda vs cpu: {', '.join(keys)} and {len(cuda_names)} printed grad_fn names: {'same' if same else 'DIFFERENT'}")
sys.exit(0 if same else 1)
PY
done
# Training on the GPU: a short run must learn (the numbers differ from the CPU's in the last bits,
# so they are checked for sense, not equality), and its speed is reported.
"$nnopt" --quiet --json --device cuda train --epochs 2 > "$tmp/train.json"
python3 - "$tmp/train.json" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
e = r["epochs"][-1]
print(f"train (synthetic, 2 epochs, cuda): test accuracy {e['test_accuracy']:.4f}, {e['samples_per_second']:.0f} samples/s")
sys.exit(0 if e["test_accuracy"] > 0.9 else 1)
PY
# The MLP training epoch on the GPU (the data is moved to the GPU once and stays there),
# samples/s; beside PyTorch on the same card where Fashion-MNIST is installed.
gpu=$("$nnopt" info --json | "$py" -c 'import json, sys; print(", ".join(json.load(sys.stdin)["cuda_devices"]) or "a CUDA GPU")')
# Fashion-MNIST where it is: NNOPT_FASHION_DIR (a copy carried to a machine without the Debian
# package), else Debian's place; else the synthetic digits, for nnopt's side only.
fashion=${NNOPT_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
data=synthetic
[ -f "$fashion/train-images-idx3-ubyte.gz" ] && data=$fashion
for batch in 64 1024 8192; do
  ours=$("$nnopt" --quiet --json --device cuda train --data "$data" --epochs 2 --batch-size "$batch" \
    | "$py" -c 'import json, sys; print(round(json.load(sys.stdin)["epochs"][-1]["samples_per_second"]))') || fail=1
  theirs="(PyTorch side needs Fashion-MNIST)"
  if [ "$data" != synthetic ]; then
    theirs="PyTorch $("$py" scripts/bench_torch.py mlp --data "$data" --device cuda --epochs 2 --batch-size "$batch" \
      | "$py" -c 'import json, sys; print(round(json.load(sys.stdin)["samples_per_second"]))') samples/s" || fail=1
  fi
  echo "mlp epoch on $gpu ($data), batch $batch: nnopt $ours samples/s, $theirs"
done
# The test suite, where its binary was carried (NNOPT_TEST_BINARY: built with
# `cargo test --release --no-run`): the CUDA tests run, everything else pins the CPU.
if [ -n "${NNOPT_TEST_BINARY:-}" ]; then
  bash scripts/run-test-binary.sh "$NNOPT_TEST_BINARY" 16 2>&1 | tail -25 || fail=1
fi
exit $fail
