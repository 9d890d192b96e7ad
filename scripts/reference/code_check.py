#!/usr/bin/env python3
"""`--code`'s programs print nnopt's numbers: runs each PyTorch program (examples/pytorch/*.py,
with this interpreter) and each tch example (built by cargo, in EXAMPLES_DIR) and compares what
they print with `nnopt --json` for the same settings. Exact equality: the same libtorch kernels
run in the same order on one machine.

    scripts/torch-python scripts/reference/code_check.py NNOPT EXAMPLES_DIR [--data DIR]
"""
import argparse
import json
import os
import subprocess
import sys


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nnopt")
    ap.add_argument("examples")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    nnopt = lambda *a: run_json([args.nnopt, "--device", "cpu", "--json", "--quiet", *a])
    python = lambda name, *a: run_json([sys.executable, f"examples/pytorch/{name}.py", *a])
    tch = lambda name, *a: run_json([os.path.join(args.examples, f"tch_{name}"), *a])
    failed = []

    def check(label, ours, theirs):
        same = ours == theirs
        print(f"{label:<44} {'same numbers' if same else 'DIFFERENT'}")
        if not same:
            failed.append(label)
            print(f"  nnopt: {json.dumps(ours)[:300]}\n  code:  {json.dumps(theirs)[:300]}")

    for seed in ["7", "0", "3"]:
        v = nnopt("perceptron", "--seed", seed)
        ours = {"losses": [h["loss"] for h in v["history"]], "w": [w[0] for w in v["history"][-1]["w"]],
                "b": v["history"][-1]["b"][0]}
        for side, doc in [("PyTorch", python("perceptron", seed)), ("tch", tch("perceptron", seed))]:
            check(f"perceptron --seed {seed}, {side} code", ours, doc)

    v = nnopt("autograd")
    ours = {k: v[k] for k in ["activation", "grad_w", "grad_b"]}
    for side, doc in [("PyTorch", python("autograd")), ("tch", tch("autograd"))]:
        check(f"autograd, {side} code", ours, {k: doc[k] for k in ours})

    for seed in ["0", "5"]:
        v = nnopt("mlp", "--seed", seed)
        ours = {k: v[k] for k in ["loss", "loss_after_step", "fc1_bias_grad"]}
        for side, doc in [("PyTorch", python("mlp", seed)), ("tch", tch("mlp", seed))]:
            check(f"mlp --seed {seed}, {side} code", ours, doc)

    # The data directory holds gzip'd IDX files (Debian's Fashion-MNIST); accuracy as nnopt rounds it.
    v = nnopt("train", "--data", args.data, "--epochs", "1", "--momentum", "0", "--weight-decay", "0",
              "--schedule", "constant")
    ours = [e["test_accuracy"] for e in v["epochs"]]
    for side, doc in [("PyTorch", python("train", "1", args.data)), ("tch", tch("train", "1", args.data))]:
        check(f"train 1 epoch, {side} code", ours, [round(a, 4) for a in doc["test_accuracy"]])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
