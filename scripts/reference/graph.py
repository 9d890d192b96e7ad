#!/usr/bin/env python3
"""PyTorch oracle for nnopt's autograd-graph reader (src/graph.rs): the backward graphs of a few
expressions, walked over grad_fn.next_functions, as JSON.

    scripts/torch-python scripts/reference/graph.py > tests/goldens/graph.json

The walk is breadth first from tensor.grad_fn, numbering nodes as they are first found and
skipping (None, 0) entries — the order graph.cpp uses — so nodes and edges compare one to one.
Names are the Python class names (type(node).__name__): what `print(loss.grad_fn)` shows.
"""
import json

import torch
import torch.nn.functional as F
from torch import nn


def walk(tensor, variables):
    """{nodes: [{id, name, variable}], edges: [{from, to, input}]} of tensor's backward graph."""
    names = {id(v): n for n, v in variables.items()}
    root = tensor.grad_fn
    if root is None:
        return {"nodes": [], "edges": []}
    ids, order, queue, edges = {root: 0}, [root], [root], []
    while queue:
        node = queue.pop(0)
        for i, (nxt, _) in enumerate(node.next_functions):
            if nxt is None:
                continue
            if nxt not in ids:
                ids[nxt] = len(order)
                order.append(nxt)
                queue.append(nxt)
            edges.append({"from": ids[node], "to": ids[nxt], "input": i})
    nodes = []
    for i, n in enumerate(order):
        var = getattr(n, "variable", None)
        nodes.append({"id": i, "name": type(n).__name__, "variable": names.get(id(var)) if var is not None else None})
    return {"nodes": nodes, "edges": edges}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, images):
        return self.fc2(torch.relu(self.fc1(images.flatten(1))))


def notebook_perceptron_growth(updates):
    """Nodes behind w after each count of the notebook's out-of-place updates (w, b require grad)."""
    torch.manual_seed(0)
    w = torch.normal(mean=0, std=1, size=(3, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    leaves = {"w": w, "b": b}
    X = torch.arange(30, dtype=torch.float32).reshape((10, 3)) + torch.normal(0, 2, (10, 3))
    y = torch.arange(10, dtype=torch.float32)
    lr, counts, done = 0.001, [], 0
    for target in updates:
        while done < target:
            i = done % 10
            xi = X[i].reshape(1, 3)
            linear = xi @ w + b
            y_hat = torch.max(linear, torch.zeros_like(linear))
            error = (y[i].reshape(y_hat.shape) - y_hat).reshape(-1)
            w = w + lr * error * X[i].reshape(3, 1)
            b = b + lr * error
            done += 1
        graph = walk(w, leaves)
        names = {}
        for node in graph["nodes"]:
            names[node["name"]] = names.get(node["name"], 0) + 1
        counts.append({
            "updates": target,
            "nodes": len(graph["nodes"]),
            "edges": len(graph["edges"]),
            "names": dict(sorted(names.items())),
            "leaves": sorted(n["variable"] for n in graph["nodes"] if n["variable"] is not None),
        })
    return counts


def main():
    out = {}
    # relu(w·x + b), the autograd demo.
    x = torch.tensor([5.0])
    w = torch.tensor([1.2], requires_grad=True)
    b = torch.tensor([0.5], requires_grad=True)
    out["relu_wx_b"] = walk(F.relu(w * x + b), {"w": w, "b": b})
    # The MLP's MSE loss (cell In [7] and In [8]).
    torch.manual_seed(0)
    net = Net()
    loss = nn.MSELoss()(net(torch.randn(1, 1, 28, 28)), torch.randn(10).view(1, -1))
    out["mlp_mse_loss"] = walk(loss, dict(net.named_parameters()))
    # A leaf, and a result computed under no_grad: no grad_fn, no graph.
    out["leaf"] = walk(w, {"w": w})
    with torch.no_grad():
        out["no_grad"] = walk(w * 2, {"w": w})
    # A shared subexpression: y used twice, one node.
    y = w * 2
    out["shared"] = walk(y + y, {"w": w})
    out["notebook_perceptron_growth"] = notebook_perceptron_growth([1, 2, 10, 100])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
