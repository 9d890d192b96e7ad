#!/usr/bin/env python3
"""PyTorch oracle for `nnopt perceptron`: the same draws and the same float32 arithmetic.

Prints one JSON document in nnopt's `--json` layout (without "device"), so the two can be
compared field by field:

    scripts/torch-python scripts/reference/perceptron.py --seed 0

The model is the notebook's regressor perceptron (ReLU output, squared loss / 2, the delta rule
applied by hand sample by sample); this script is written independently of the notebook's code
but performs the same tensor operations in the same order, which is what makes the numbers
bit-for-bit comparable.
"""
import argparse
import json

import torch


def predict(w, b, X):
    z = X @ w + b
    return torch.maximum(z, torch.zeros_like(z))


def half_squared_error(y_hat, y):
    return ((y.reshape(y_hat.shape) - y_hat) ** 2 / 2).mean()


def delta_rule_pass(w, b, X, y, lr):
    n_in = X.shape[1]
    for i in range(y.shape[0]):
        x_i = X[i].reshape(1, n_in)
        y_hat = predict(w, b, x_i)
        error = (y[i].reshape(y_hat.shape) - y_hat).reshape(-1)
        w = w + lr * error * x_i.reshape(n_in, 1)
        b = b + lr * error
    return w, b


def make_data(n):
    return (torch.arange(3 * n, dtype=torch.float32).reshape(n, 3) + torch.normal(0, 2, (n, 3)),
            torch.arange(n, dtype=torch.float32))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--epochs", type=int, default=101)
    ap.add_argument("--samples", type=int, default=10)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    with torch.no_grad():
        w = torch.normal(0.0, 1.0, size=(3, 1))
        b = torch.zeros(1)
        X, y = make_data(args.samples)
        out = {"seed": args.seed, "lr": args.lr}
        y_hat = predict(w, b, X)
        out["initial"] = {"w": w.tolist(), "b": b.tolist(), "predictions": y_hat.tolist(),
                          "loss": half_squared_error(y_hat, y).item()}
        out["train"] = {"X": X.tolist(), "y": y.tolist()}
        history = []
        for epoch in range(1, args.epochs + 1):
            w, b = delta_rule_pass(w, b, X, y, args.lr)
            history.append({"epoch": epoch, "w": w.tolist(), "b": b.tolist(),
                            "loss": half_squared_error(predict(w, b, X), y).item()})
        out["history"] = history
        out["train_predictions"] = predict(w, b, X).tolist()
        X_test, y_test = make_data(5)
        y_hat = predict(w, b, X_test)
        out["test"] = {"X": X_test.tolist(), "y": y_test.tolist(), "predictions": y_hat.tolist(),
                       "loss": half_squared_error(y_hat, y_test).item()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
