#!/usr/bin/env python3
"""The peer a Python user would pick for `nnopt sweep`: Optuna's TPE over PyTorch training.

    scripts/torch-python -m pip install optuna==5.0.0     # once; not part of scripts/setup.sh
    scripts/torch-python scripts/bench_optuna.py [--data DIR] [--trials 20] [--epochs 3]

The same search as `nnopt sweep --strategy tpe` with its default space and recipe: the learning
rate log-uniform in [0.001, 1) and the hidden width one of 16, 32, 64; each trial trains the
MLP (784-h-10) with SGD (Nesterov momentum 0.9, weight decay 5e-4, a cosine rate over the
epochs, batch 128) on 90 % of the training set and is scored by its accuracy on the other 10 %;
TPE multivariate (optuna 5's recommended form) after 4 random trials, seed 0. Prints one JSON
line: the wall time of the whole process (imports and data loading included, as a command's
time is) and the best trial.
"""
import argparse
import json
import math
import os
import time

START = time.perf_counter()

import optuna  # noqa: E402
import torch  # noqa: E402

from bench_torch import load_idx  # noqa: E402  (the IDX reader of the other benchmarks)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    images = load_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    labels = load_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).long()
    x = images.float().reshape(len(images), -1) / 255.0
    x = (x - x.mean()) / x.std()
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x), generator=g)
    held = len(x) // 10
    x_val, y_val = x[order[:held]], labels[order[:held]]
    x_train, y_train = x[order[held:]], labels[order[held:]]
    n = len(x_train)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
        hidden = trial.suggest_categorical("hidden", [16, 32, 64])
        torch.manual_seed(trial.number)
        net = torch.nn.Sequential(torch.nn.Linear(784, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
        for epoch in range(args.epochs):
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))
            perm = torch.randperm(n)
            for s in range(0, n, 128):
                idx = perm[s: s + 128]
                loss = torch.nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if not math.isfinite(loss.item()):
                    return 0.0
        with torch.no_grad():
            return (net(x_val).argmax(1) == y_val).float().mean().item()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(multivariate=True, n_startup_trials=4, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=args.trials)
    print(json.dumps({"seconds": time.perf_counter() - START, "trials": args.trials, "epochs": args.epochs,
                      "best_accuracy": study.best_value, "best_params": study.best_params,
                      "threads": torch.get_num_threads(), "optuna": optuna.__version__}))


if __name__ == "__main__":
    main()
