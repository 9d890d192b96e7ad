#!/usr/bin/env python3
"""PyTorch oracle for `nnopt descent`: torch.optim on nnopt's surfaces, 20 steps, float64.

    scripts/torch-python scripts/reference/descent.py > tests/goldens/descent.json

Each case is {surface, optimizer, lr, momentum, start, trajectory}: the start and the point after
each of 20 steps. The surfaces are written here from their formulas, independently of nnopt.
"""
import json
import math

import torch

SURFACES = {
    "cosine": lambda x: (x * torch.cos(0.15 * math.pi * x)).sum(),
    "rosenbrock": lambda x: (x[0] - 1) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2,
    "ill-conditioned": lambda x: 0.1 * x[0] ** 2 + 2 * x[1] ** 2,
}

OPTIMIZERS = {
    "momentum": lambda p, lr, mu: torch.optim.SGD([p], lr=lr, momentum=mu),
    "nesterov": lambda p, lr, mu: torch.optim.SGD([p], lr=lr, momentum=mu, nesterov=True),
    "adam": lambda p, lr, mu: torch.optim.Adam([p], lr=lr),
    "rmsprop": lambda p, lr, mu: torch.optim.RMSprop([p], lr=lr),
}


def trajectory(surface, optimizer, lr, mu, start, steps=20):
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = OPTIMIZERS[optimizer](x, lr, mu)
    points = [x.detach().tolist()]
    for _ in range(steps):
        opt.zero_grad()
        SURFACES[surface](x).backward()
        opt.step()
        points.append(x.detach().tolist())
    return points


def main():
    cases = []
    for surface, start, lr in [("cosine", [-6.5], 0.2), ("rosenbrock", [-1.5, 2.0], 1e-3), ("ill-conditioned", [-5.0, -2.0], 0.1)]:
        for optimizer in OPTIMIZERS:
            mu = 0.9 if optimizer in ("momentum", "nesterov") else None
            cases.append({"surface": surface, "optimizer": optimizer, "lr": lr, "momentum": mu, "start": start,
                          "trajectory": trajectory(surface, optimizer, lr, mu, start)})
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
