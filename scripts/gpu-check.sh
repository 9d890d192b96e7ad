#!/usr/bin/env bash
# Checks nnopt on a GPU machine against itself on the CPU and against PyTorch on CUDA.
# Needs only the nnopt binary and a Python with torch 2.11 (no Rust):
#   LD_LIBRARY_PATH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib \
#     scripts/gpu-check.sh [path/to/nnopt] [python] [--table]
# --table measures only the speed table. With NNOPT_TEST_BINARY (and NNOPT_UNIT_TEST_BINARY) it
# also runs the test suite carried from a build machine; results go to $OUT/gpu-check.md too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The GPU machine has no Rust: there the binary is the one carried over (target/release/nnopt by
# default); where cargo exists, cargo says where it built it.
if [ -n "${1:-}" ]; then nnopt=$1
elif command -v cargo >/dev/null; then nnopt=$(scripts/nnopt-path)
else nnopt=target/release/nnopt; fi
py=${2:-python3}
# --table (third argument): only the speed table (a re-measurement within a short device budget).
table_only=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nnopt" info
"$nnopt" info --json | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["cuda_available"] else 1)' \
  || { echo "gpu-check: libtorch sees no CUDA device (see nnopt info above)" >&2; exit 1; }
fail=0
gpu=$("$nnopt" info --json | "$py" -c 'import json, sys; print(", ".join(json.load(sys.stdin)["cuda_devices"]) or "a CUDA GPU")')
# Fashion-MNIST where it is: NNOPT_FASHION_DIR (a copy carried to a machine without the Debian
# package), else Debian's place; else the synthetic digits, for nnopt's side only.
fashion=${NNOPT_FASHION_DIR:-/usr/share/datasets/fashion-mnist}
data=synthetic
[ -f "$fashion/train-images-idx3-ubyte.gz" ] && data=$fashion
report=${OUT:-$tmp}/gpu-check.md
if [ "$table_only" != --table ]; then
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
# CUDA graphs replay the kernels eager CUDA launches, in the same order: every epoch's numbers
# must agree (within 1e-6), for one network (the default recipe: a capture per epoch's rate) and
# for a population of networks (one capture for the whole run).
"$nnopt" --quiet --json --device cuda train --data "$data" --epochs 3 --cuda-graphs off > "$tmp/eager.json"
"$nnopt" --quiet --json --device cuda train --data "$data" --epochs 3 --cuda-graphs on > "$tmp/graphs.json"
sweep=(--quiet --json --device cuda sweep --data "$data" --strategy random --trials 16 --epochs 2 --lr 0.01..0.3:log --population 16)
"$nnopt" "${sweep[@]}" --cuda-graphs off > "$tmp/pop-eager.json"
"$nnopt" "${sweep[@]}" --cuda-graphs on > "$tmp/pop-graphs.json"
python3 - "$tmp" <<'PY' || fail=1
import json, sys
d = sys.argv[1]
eager, graphs = (json.load(open(f"{d}/{n}.json")) for n in ("eager", "graphs"))
worst = 0.0
for a, b in zip(eager["epochs"], graphs["epochs"]):
    for k in ("train_loss", "test_loss", "test_accuracy"):
        worst = max(worst, abs(a[k] - b[k]) / max(abs(a[k]), 1e-12))
pe, pg = (json.load(open(f"{d}/{n}.json")) for n in ("pop-eager", "pop-graphs"))
# Failed trials (no accuracy) must fail alike; the graphed sweep must have replayed graphs.
pairs = [(a["validation_accuracy"], b["validation_accuracy"]) for a, b in zip(pe["trials"], pg["trials"])]
acc = max((abs(a - b) if a is not None and b is not None else (0.0 if a == b else 1.0)) for a, b in pairs)
graphed = pg.get("cuda_graphs", {}).get("graphed", 0)
ok = graphs["config"].get("cuda_graphs") is True and len(eager["epochs"]) == len(graphs["epochs"]) == 3 \
    and worst <= 1e-6 and acc <= 1e-6 and len(pairs) == 16 and graphed == 16 \
    and pe.get("cuda_graphs", {}).get("graphed") == 0
print(f"cuda graphs vs eager cuda: train 3 epochs max relative difference {worst:.2e}; "
      f"a population of 16, max validation-accuracy difference {acc:.2e}: {'same' if ok else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
PY

fi

# Samples per second of the MLP's training (784-32-10, Fashion-MNIST) in the recipe
# scripts/bench_torch.py runs — SGD, lr 0.05, Nesterov momentum 0.9, weight decay 5e-4, a
# constant rate (nnopt: --schedule constant) — nnopt eager and with CUDA graphs, PyTorch eager and
# with CUDA graphs on the same card, and nnopt on this machine's CPU. Each figure is the median of
# 5 timings of whole epochs adding up to at least 200 steps, after 2 warm-up epochs
# (scripts/steady.py: at batch 8192 an epoch is 8 steps, and single epochs moved up to 5x).
steady() { python3 scripts/steady.py rate "$1"; }
# The last epoch's samples/s of an nnopt report (a list of epochs) or a bench_torch.py line.
rate() { "$py" -c 'import json, sys; r = json.load(sys.stdin); print(round(r["samples_per_second"] if "samples_per_second" in r else r["epochs"][-1]["samples_per_second"]))'; }
# NNOPT_BASELINE: another nnopt binary (an earlier commit's) measured the same way beside it, with
# CUDA graphs — a change's before and after on the same card in the same run.
baseline=${NNOPT_BASELINE:-}
{
  echo "| samples/s on $gpu, batch | nnopt eager | nnopt CUDA graphs | PyTorch eager | PyTorch CUDA graphs | nnopt CPU ($(nproc) cores) |"
  echo "|---|---|---|---|---|---|"
} | tee "$tmp/table.md"
[ -n "$baseline" ] && echo "| batch | baseline ($baseline) CUDA graphs |" > "$tmp/baseline.md"
for batch in 64 128 1024 8192; do
  epochs=$(python3 scripts/steady.py epochs "$batch")
  train=(--quiet --json train --data "$data" --epochs "$epochs" --batch-size "$batch" --schedule constant)
  eager=$("$nnopt" --device cuda "${train[@]}" --cuda-graphs off | steady "$batch") || fail=1
  graphs=$("$nnopt" --device cuda "${train[@]}" --cuda-graphs on | steady "$batch") || fail=1
  # The CPU: the median of 5 epochs (its epochs are long, and do not swing with a launch queue).
  cpu=$("$nnopt" --device cpu --quiet --json train --data "$data" --epochs 7 --batch-size "$batch" \
    --schedule constant | python3 scripts/steady.py epochs-median) || fail=1
  torch_eager="–" torch_graphs="–"
  if [ "$data" != synthetic ]; then
    bench=(scripts/bench_torch.py mlp --data "$data" --device cuda --epochs "$epochs" --batch-size "$batch")
    torch_eager=$("$py" "${bench[@]}" | steady "$batch") || fail=1
    torch_graphs=$("$py" "${bench[@]}" --graphs | steady "$batch") || fail=1
  fi
  echo "| $batch | $eager | $graphs | $torch_eager | $torch_graphs | $cpu |" | tee -a "$tmp/table.md"
  if [ -n "$baseline" ]; then
    before=$("$baseline" --device cuda "${train[@]}" --cuda-graphs on | steady "$batch") || fail=1
    echo "| $batch | $before |" | tee -a "$tmp/baseline.md"
  fi
done
# nnopt's default recipe (the cosine schedule: a capture per epoch's rate), batch 128.
cosine=$("$nnopt" --device cuda --quiet --json train --data "$data" --epochs 3 | rate) || fail=1
echo "the default recipe (cosine schedule), batch 128, nnopt CUDA graphs: $cosine samples/s" | tee "$tmp/cosine.md"
[ -n "$baseline" ] && { echo; cat "$tmp/baseline.md"; } >> "$tmp/cosine.md"
# The ratios the targets are stated in, at the default batch size (128).
python3 - "$tmp/table.md" <<'PY' || true
import sys
for line in open(sys.argv[1]):
    cells = line.strip("|\n").split("|")
    if not cells[0].strip().isdigit():
        continue
    v = [float(x) if x.strip() not in ("–", "") else None for x in cells[1:]]
    eager, graphs, te, tg, cpu = v
    say = lambda n, a, b: f"{n} {a / b:.2f}×" if a and b else f"{n} –"
    print(f"batch {cells[0].strip()}, nnopt CUDA graphs against:", ", ".join(
        [say("its own CPU", graphs, cpu), say("PyTorch eager", graphs, te), say("PyTorch CUDA graphs", graphs, tg), say("nnopt eager", graphs, eager)]))
PY

if [ "$table_only" = --table ]; then
  { echo "## gpu-check --table on $gpu"; echo; cat "$tmp/table.md"; echo; cat "$tmp/cosine.md"; } > "$report"
  exit $fail
fi

# A sweep of 64 random trials (3 epochs each): one trial alone, the 64 one at a time, the 64 as
# one population; wall time of the whole command, aggregate samples/s of the population.
# Prints the command's wall time; a command that fails makes `timed` fail (the caller notes it).
# `timed FILE command…`: the command's stdout goes to FILE.
timed() {
  local t0 t1 to=$1
  shift
  t0=$(date +%s.%N)
  "$@" > "$to" || { echo "timed: failed: $*" >&2; return 1; }
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
sweep=(--quiet --json --device cuda sweep --data "$data" --strategy random --epochs 3 --lr 0.01..0.3:log)
one=$(timed /dev/null "$nnopt" "${sweep[@]}" --trials 1) || { fail=1; one=nan; }
sequential=$(timed /dev/null "$nnopt" "${sweep[@]}" --trials 64 --population 1) || { fail=1; sequential=nan; }
population=$(timed "$tmp/sweep64.json" "$nnopt" "${sweep[@]}" --trials 64 --population 64) || { fail=1; population=nan; }
python3 - "$tmp/sweep64.json" "$one" "$sequential" "$population" <<'PY' | tee "$tmp/sweep.md" || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
one, seq, pop = map(float, sys.argv[2:5])
trials = [t for t in r["trials"] if t["status"] == "ok"]
# Each trial trains on the training split (60 000 images, Fashion-MNIST's and the synthetic
# default's) less the validation hold-out (10 %), 3 epochs; a member's
# `seconds` is its share of the population's epochs (training and per-epoch validation).
samples = sum(t["epochs"] for t in r["trials"]) * round(60000 * 0.9)
training = sum(t["seconds"] for t in r["trials"])
print(f"sweep, 64 random trials × 3 epochs: one trial alone {one:.2f} s; 64 one at a time {seq:.2f} s; "
      f"64 as one population {pop:.2f} s = {pop / one:.2f}× one trial, {seq / pop:.1f}× one at a time "
      f"(whole commands: start-up, data loading and the winner's test included); the population's "
      f"epochs {training:.2f} s, {samples / training / 1e6:.1f} M samples/s aggregate (per-epoch validation "
      f"included); {len(trials)}/64 trials ok")
PY
if [ -n "$baseline" ]; then
  "$baseline" "${sweep[@]}" --trials 64 --population 64 > "$tmp/sweep64-baseline.json" || fail=1
  python3 - "$tmp/sweep64-baseline.json" <<'PY' | tee -a "$tmp/sweep.md" || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
samples = sum(t["epochs"] for t in r["trials"]) * round(60000 * 0.9)
training = sum(t["seconds"] for t in r["trials"])
print(f"baseline, the same 64 as one population: epochs {training:.2f} s, {samples / training / 1e6:.1f} M samples/s aggregate")
PY
fi
# PyTorch's batched form of the same population (64 networks, batch 128, baddbmm, one graph).
if [ "$data" != synthetic ]; then
  for form in "" --graphs; do
    # shellcheck disable=SC2086
    "$py" scripts/bench_torch.py population --data "$data" --members 64 --batch-size 128 --epochs 5 $form \
      | "$py" -c '
import json, statistics, sys
r, form = json.load(sys.stdin), sys.argv[1] or "eager"
rate = statistics.median(r["rates"][2:]) / 1e6
print(f"PyTorch population of 64, batch 128, {form}: {rate:.1f} M samples/s (median of epochs 3-5)")' "$form" \
      | tee -a "$tmp/sweep.md" || fail=1
  done
fi
{ echo "## gpu-check on $gpu"; echo; cat "$tmp/table.md"; echo; cat "$tmp/cosine.md"; echo; cat "$tmp/sweep.md"; } > "$report"

# Where a step's time goes: every kernel's duration under Nsight Compute, nnopt's captured step
# beside PyTorch's, at batch 8192 and 128 (6 and 8 steps an epoch, 2 epochs: eager warm-up steps,
# the capture, then replays). Only where ncu is installed; the summaries go to the report.
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || true)
if [ -n "$ncu" ] && [ "$data" != synthetic ]; then
  profile=(--clock-control none --graph-profiling node --metrics gpu__time_duration.sum --csv --page raw --launch-count 400)
  specs=()
  for batch in 8192 128; do
    limit=$(( batch == 8192 ? 49152 : 1024 ))
    timeout 45 "$ncu" "${profile[@]}" "$nnopt" --device cuda --quiet --json train --data "$data" --epochs 2 \
      --batch-size "$batch" --limit "$limit" --schedule constant > "$tmp/ncu-nnopt-$batch.csv" 2>&1 || echo "ncu nnopt $batch failed" >&2
    timeout 45 "$ncu" "${profile[@]}" "$py" scripts/bench_torch.py mlp --data "$data" --device cuda --epochs 2 \
      --batch-size "$batch" --limit "$limit" --graphs > "$tmp/ncu-torch-$batch.csv" 2>&1 || echo "ncu torch $batch failed" >&2
    specs+=("nnopt, batch $batch=$tmp/ncu-nnopt-$batch.csv" "PyTorch graphs, batch $batch=$tmp/ncu-torch-$batch.csv")
  done
  python3 scripts/ncu_summary.py "${specs[@]}" | tee "$tmp/profile.md" || true
  [ -n "${OUT:-}" ] && tar czf "$OUT/ncu.tar.gz" -C "$tmp" $(cd "$tmp" && ls ncu-*.csv) 2>/dev/null || true
  { echo; echo "## kernels (ncu)"; echo '```'; cat "$tmp/profile.md"; echo '```'; } >> "$report"
fi

# The test suite, where its binaries were carried (built with `cargo test --release --no-run`):
# NNOPT_TEST_BINARY the integration tests, NNOPT_UNIT_TEST_BINARY the library's own. The CUDA
# tests run; everything else pins the CPU.
if [ -n "${NNOPT_UNIT_TEST_BINARY:-}" ]; then
  echo "unit tests (16 threads):"
  timeout 120 "$NNOPT_UNIT_TEST_BINARY" --test-threads=16 2>&1 | tee "${OUT:-$tmp}/unit-tests.log" | tail -3 || fail=1
fi
if [ -n "${NNOPT_TEST_BINARY:-}" ]; then
  echo "integration tests (16 threads):"
  t0=$(date +%s)
  bash scripts/run-test-binary.sh "$NNOPT_TEST_BINARY" 16 2>&1 | tee "${OUT:-$tmp}/integration-tests.log" \
    | grep -E "^test .*(FAILED|failed)|^test result|SKIPPED|panicked" || fail=1
  echo "integration tests took $(( $(date +%s) - t0 )) s"
fi
exit $fail
