#!/usr/bin/env python3
"""PyTorch oracle for the perceptron's explanation of a rising loss (`loss_rise` in nnopt's JSON).

    scripts/torch-python scripts/reference/perceptron_rise.py --seeds 0 1 3 4 11 12 > tests/goldens/perceptron_rise.json

For each seed: the notebook's run (perceptron.py's arithmetic), the longest-gaining stretch of
epochs over which the loss kept rising (by more than 1 % of where it started; epoch 0 is the
initial loss), and, for every epoch of it, a replay from the weights it started with: the
samples updated while x·w + b <= 0 (with a non-zero target), the loss after the same pass
with ReLU's derivative respected (no update there), and — where the largest step gain
lr·(|x|² + 1) is above 2 — the loss after the pass with that sample's steps scaled to a gain of
1.9 where it is active (an update at x·w + b <= 0 cannot overshoot; it is left as it ran). Written from the definitions, not from nnopt's code.
"""
import argparse
import json

import torch

from perceptron import half_squared_error, make_data, predict


def replay(w, b, X, y, lr, respect_derivative, capped=None, scale=1.0):
    kicks = []
    for i in range(y.shape[0]):
        x_i = X[i].reshape(1, 3)
        z = (x_i @ w + b).item()
        if z <= 0 and y[i].item() != 0:
            kicks.append(i)
        if z <= 0 and respect_derivative:
            continue
        rate = lr * scale if i == capped and z > 0 else lr
        error = (y[i].reshape(1, 1) - predict(w, b, x_i)).reshape(-1)
        w = w + rate * error * x_i.reshape(3, 1)
        b = b + rate * error
    return w, b, kicks


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--epochs", type=int, default=101)
    args = ap.parse_args()
    out = {}
    for seed in args.seeds:
        torch.manual_seed(seed)
        with torch.no_grad():
            w = torch.normal(0.0, 1.0, size=(3, 1))
            b = torch.zeros(1)
            X, y = make_data(10)
            states, losses = [(w, b)], [half_squared_error(predict(w, b, X), y).item()]
            for _ in range(args.epochs):
                w, b, _ = replay(w, b, X, y, args.lr, False)
                states.append((w, b))
                losses.append(half_squared_error(predict(w, b, X), y).item())
            best, i = None, 1
            while i < len(losses):
                if losses[i] > losses[i - 1]:
                    start = i
                    while i + 1 < len(losses) and losses[i + 1] > losses[i]:
                        i += 1
                    gain = losses[i] - losses[start - 1]
                    if gain > 0.01 * abs(losses[start - 1]) and (best is None or gain > best[2]):
                        best = (start, i, gain)
                i += 1
            if best is None:
                out[str(seed)] = None
                continue
            start, peak, _ = best
            gains = [args.lr * ((X[i] ** 2).sum().item() + 1) for i in range(10)]
            widest = max(range(10), key=lambda i: gains[i])
            explained, kicked, capped_explained = 0, {}, 0
            for epoch in range(start, peak + 1):
                w0, b0 = states[epoch - 1]
                _, _, kicks = replay(w0, b0, X, y, args.lr, False)
                wd, bd, _ = replay(w0, b0, X, y, args.lr, True)
                if kicks and half_squared_error(predict(wd, bd, X), y).item() <= losses[epoch - 1]:
                    explained += 1
                for k in kicks:
                    kicked[k] = kicked.get(k, 0) + 1
                if gains[widest] > 2:
                    wc, bc, _ = replay(w0, b0, X, y, args.lr, False, widest, 1.9 / gains[widest])
                    if half_squared_error(predict(wc, bc, X), y).item() <= losses[epoch - 1]:
                        capped_explained += 1
            out[str(seed)] = {"from_epoch": start, "to_epoch": peak, "peak_loss": losses[peak],
                              "explained": explained, "rising": peak - start + 1,
                              "widest": widest, "step_gain": gains[widest], "capped_explained": capped_explained,
                              "kicked_epochs": {str(k): n for k, n in sorted(kicked.items())}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
