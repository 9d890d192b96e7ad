#!/usr/bin/env python3
"""Loads nnopt's saved weights in PyTorch and evaluates them: proof the file is a plain state_dict.

    scripts/torch-python scripts/reference/load_weights.py W.safetensors [DATA_DIR]

Builds a PyTorch module with attributes fc1, fc2, … of the widths the tensors have, loads the
file with safetensors.torch.load_file + load_state_dict(strict=True), and prints JSON with the
state_dict keys and, given DATA_DIR, the test accuracy using the normalization nnopt recorded.
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from train import find, read_idx  # noqa: E402  (the IDX reader of the training reference)


class Net(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.depth = len(widths) - 1
        for i in range(self.depth):
            setattr(self, f"fc{i + 1}", nn.Linear(widths[i], widths[i + 1]))

    def forward(self, x):
        x = x.flatten(1)
        for i in range(1, self.depth + 1):
            x = getattr(self, f"fc{i}")(x)
            if i < self.depth:
                x = torch.relu(x)
        return x


def main():
    path = sys.argv[1]
    state = load_file(path)
    layers = sorted(int(k[2:].split(".")[0]) for k in state if k.endswith(".weight"))
    widths = [state["fc1.weight"].shape[1]] + [state[f"fc{i}.weight"].shape[0] for i in layers]
    net = Net(widths)
    net.load_state_dict(state, strict=True)
    out = {"keys": sorted(state), "widths": widths}
    if len(sys.argv) > 2:
        with safe_open(path, "pt") as f:
            meta = f.metadata()
        mean, std = float(meta["normalization_mean"]), float(meta["normalization_std"])
        x = torch.from_numpy(read_idx(find(sys.argv[2], "t10k-images-idx3-ubyte")).copy()).float() / 255
        y = torch.from_numpy(read_idx(find(sys.argv[2], "t10k-labels-idx1-ubyte")).copy()).long()
        with torch.no_grad():
            correct = (net((x - mean) / std).argmax(1) == y).sum().item()
        out["correct"] = correct
        out["accuracy"] = correct / len(y)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
