#!/usr/bin/env python3
"""The training recipe of `nnopt train` in PyTorch, to compare accuracy and speed.

    scripts/torch-python scripts/reference/train.py --data /usr/share/datasets/fashion-mnist [--epochs 20] [--seed 0]

Same recipe: inputs normalized with the training set's mean/std, Linear(784, 32) → ReLU →
Linear(32, 10), cross-entropy, SGD(lr 0.05, momentum 0.9, nesterov, weight decay 5e-4), batch 128,
CosineAnnealingLR over the epochs stepped per epoch, reshuffled every epoch. Prints one JSON
document: per-epoch test accuracy and seconds, the final accuracy. The random streams differ
from nnopt's (torch's DataLoader shuffling), so accuracies agree statistically, not bit for bit.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise SystemExit(f"{directory}: no {stem}[.gz]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=32)
    args = ap.parse_args()
    torch.manual_seed(args.seed)

    x_train = torch.from_numpy(read_idx(find(args.data, "train-images-idx3-ubyte")).copy()).float().div(255)
    y_train = torch.from_numpy(read_idx(find(args.data, "train-labels-idx1-ubyte")).copy()).long()
    x_test = torch.from_numpy(read_idx(find(args.data, "t10k-images-idx3-ubyte")).copy()).float().div(255)
    y_test = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte")).copy()).long()
    mean, std = x_train.mean().item(), x_train.std().item()
    x_train = ((x_train - mean) / std).flatten(1)
    x_test = ((x_test - mean) / std).flatten(1)

    net = nn.Sequential(nn.Linear(x_train.shape[1], args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    epochs = []
    start_all = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(y_train))
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            loss_fn(net(x_train[idx]), y_train[idx]).backward()
            opt.step()
        schedule.step()
        with torch.no_grad():
            accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
        epochs.append({"epoch": epoch, "test_accuracy": accuracy, "seconds": time.perf_counter() - start})
    print(json.dumps({"epochs": epochs, "final": {"test_accuracy": epochs[-1]["test_accuracy"]},
                      "seconds": time.perf_counter() - start_all, "threads": torch.get_num_threads()}, indent=1))


if __name__ == "__main__":
    main()
