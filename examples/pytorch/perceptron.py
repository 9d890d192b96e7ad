# The notebook's perceptron in PyTorch: ŷ = relu(x·w + b), trained by the delta rule by hand.
#   python3 examples/pytorch/perceptron.py [SEED]   → the numbers `nnopt perceptron --seed SEED` prints
import json
import sys

import torch

torch.manual_seed(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
lr, epochs, n = 0.001, 101, 10

w = torch.normal(0.0, 1.0, size=(3, 1))  # drawn first, as the notebook's __init__ does
b = torch.zeros(1)
X = torch.arange(3 * n, dtype=torch.float32).reshape(n, 3) + torch.normal(0, 2, (n, 3))
y = torch.arange(n, dtype=torch.float32)


def predict(X):
    z = X @ w + b
    return torch.maximum(z, torch.zeros_like(z))  # relu


def loss(y_hat, y):
    return ((y.reshape(y_hat.shape) - y_hat) ** 2 / 2).mean()


losses = []
for epoch in range(epochs):
    for i in range(n):  # the delta rule, one sample at a time; no autograd
        x_i = X[i].reshape(1, 3)
        error = (y[i].reshape(1, 1) - predict(x_i)).reshape(-1)
        w += lr * error * x_i.reshape(3, 1)
        b += lr * error
    losses.append(loss(predict(X), y).item())

print(json.dumps({"losses": losses, "w": w.flatten().tolist(), "b": b.item()}))
