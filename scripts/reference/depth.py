#!/usr/bin/env python3
"""PyTorch oracle for `nnopt depth`: each network's gradient size per layer at its first step.

    scripts/torch-python scripts/reference/depth.py > tests/goldens/depth_fashion.json

The same draws in the same order as nnopt's (manual_seed(0); nn.Linear layers in order; for He
initialisation each weight re-drawn N(0, 2/fan_in) and each bias zeroed; then randperm over the
first 1280 training images), pixels normalized with the whole training set's mean and standard
deviation (float64), the first batch of 128 through cross-entropy, one backward: ‖∂L/∂W‖ per
layer. Written independently of nnopt's code.
"""
import gzip
import json
import math

import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name):
    raw = gzip.open(f"{DATA}/{name}.gz").read()
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(raw[3])]
    return torch.frombuffer(bytearray(raw[4 + 4 * len(dims):]), dtype=torch.uint8).reshape(dims)


pixels = idx("train-images-idx3-ubyte").float() / 255
labels = idx("train-labels-idx1-ubyte").long()
mean, std = pixels.double().mean().item(), pixels.double().std().item()
limit = 1280
x = ((pixels[:limit] - mean) / std).flatten(1)
y = labels[:limit]

out = {}
for name, widths, he in [("shallow", [784, 32, 10], False), ("deep", [784] + [16] * 8 + [10], False),
                         ("deep, He init", [784] + [16] * 8 + [10], True)]:
    torch.manual_seed(0)
    layers = [nn.Linear(a, b) for a, b in zip(widths, widths[1:])]
    if he:
        with torch.no_grad():
            for layer in layers:
                layer.weight.normal_(0.0, math.sqrt(2.0 / layer.in_features))
                layer.bias.zero_()
    order = torch.randperm(limit)
    batch = order[:128]
    h = x[batch]
    for i, layer in enumerate(layers):
        h = layer(h)
        if i < len(layers) - 1:
            h = torch.relu(h)
    loss = nn.functional.cross_entropy(h, y[batch])
    loss.backward()
    out[name] = {"first_loss": loss.item(), "gradient_norms": [layer.weight.grad.norm().item() for layer in layers]}
print(json.dumps(out, indent=1))
