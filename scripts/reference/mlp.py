#!/usr/bin/env python3
"""PyTorch oracle for `nnopt mlp`: the notebook's MLP walk-through, as JSON in nnopt's layout.

    scripts/torch-python scripts/reference/mlp.py --seed 0 [--hidden 32] [--lr 0.05] [--device cpu]

Written independently of the notebook's code; it draws in the same order (fc1.weight, fc1.bias,
fc2.weight, fc2.bias, input, output gradient, target — all on the CPU) and runs the same
operations, so the numbers are comparable bit for bit on the CPU.
"""
import argparse
import json

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, images):
        return self.fc2(torch.relu(self.fc1(images.flatten(1))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)

    torch.manual_seed(args.seed)
    net = Net(args.hidden).to(dev)
    images = torch.randn(1, 1, 28, 28).to(dev)
    out = net(images)
    net.zero_grad()
    out.backward(torch.randn(1, 10).to(dev))
    target = torch.randn(10).to(dev).view(1, -1)
    out = net(images)
    loss = nn.MSELoss()(out, target)
    net.zero_grad()
    loss.backward()
    bias_grad = net.fc1.bias.grad.tolist()
    before = net.fc1.weight[0, :10].tolist()
    sgd = torch.optim.SGD(net.parameters(), lr=args.lr)
    sgd.zero_grad()
    nn.MSELoss()(net(images), target).backward()
    sgd.step()
    print(json.dumps({
        "seed": args.seed,
        "parameters": [{"name": n, "shape": list(p.shape)} for n, p in net.named_parameters()],
        "output": out.tolist(),
        "target": target.view(-1).tolist(),
        "loss": loss.item(),
        "fc1_bias_grad": bias_grad,
        "fc1_weight_row0_before": before,
        "fc1_weight_row0_after": net.fc1.weight[0, :10].tolist(),
    }, indent=1))


if __name__ == "__main__":
    main()
