#!/usr/bin/env python3
"""The PyTorch side of scripts/bench: the same workloads nnopt runs, written for PyTorch 2.11.

    scripts/torch-python scripts/bench_torch.py perceptron --form nograd --samples 10 --epochs 1000
    scripts/torch-python scripts/bench_torch.py perceptron --form notebook --samples 10 --epochs 100
    scripts/torch-python scripts/bench_torch.py mlp --batch-size 64 [--limit N] [--epochs 1] [--device cuda [--graphs]]
    scripts/torch-python scripts/bench_torch.py population --members 64 --batch-size 128 [--graphs]
    scripts/torch-python scripts/bench_torch.py autograd
    scripts/torch-python scripts/bench_torch.py sgemm

Each prints one JSON line. The perceptron runs the delta rule sample by sample as nnopt does,
with the per-epoch loss and parameter history kept (as nnopt's JSON report has them):
`nograd` updates w and b in place under torch.no_grad(); `notebook` is the notebook's own
form (w and b require grad and are replaced by `w = w + …`, so the autograd graph grows).
"""
import argparse
import contextlib
import gzip
import json
import os
import time

import torch


def perceptron(args):
    start = time.perf_counter()
    torch.manual_seed(0)
    w = torch.normal(0.0, 1.0, size=(3, 1))
    b = torch.zeros(1)
    n = args.samples
    X = torch.arange(3 * n, dtype=torch.float32).reshape(n, 3) + torch.normal(0.0, 2.0, (n, 3))
    y = torch.arange(n, dtype=torch.float32)
    if args.form == "notebook":
        w.requires_grad_(True)
        b.requires_grad_(True)
    history = []
    loop = time.perf_counter()
    context = torch.no_grad() if args.form == "nograd" else torch.enable_grad()
    with context:
        for epoch in range(args.epochs):
            for i in range(n):
                xi = X[i].reshape(1, 3)
                z = xi @ w + b
                y_hat = torch.maximum(z, torch.zeros_like(z))
                error = (y[i].reshape(y_hat.shape) - y_hat).reshape(-1)
                if args.form == "nograd":
                    step = error * args.lr
                    w += step * xi.reshape(3, 1)
                    b += step
                else:
                    w = w + args.lr * error * X[i].reshape(3, 1)
                    b = b + args.lr * error
            z = X @ w + b
            loss = ((y.reshape(-1, 1) - torch.maximum(z, torch.zeros_like(z))) ** 2 / 2).mean()
            history.append({"epoch": epoch + 1, "w": w.detach().tolist(), "b": b.detach().tolist(), "loss": loss.item()})
    loop_seconds = time.perf_counter() - loop
    text = json.dumps({"history": history})
    print(json.dumps({"steps": n * args.epochs, "loop_seconds": loop_seconds,
                      "seconds": time.perf_counter() - start, "json_bytes": len(text)}))


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


def mlp(args):
    images = load_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    labels = load_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).long()
    x = images.float().reshape(len(images), -1) / 255.0
    x = (x - x.mean()) / x.std()
    if args.limit:
        x, labels = x[: args.limit], labels[: args.limit]
    device = torch.device(args.device)
    x, labels = x.to(device), labels.to(device)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    n = len(labels)
    rates = []
    # nnopt reads the batches' losses back (its divergence check) every batch on the CPU and
    # every 64 on CUDA (train --sync-every's defaults); this does the same, so neither side
    # stalls the GPU more than the other.
    sync_every = 64 if device.type == "cuda" else 1

    def step(idx):
        loss = torch.nn.functional.cross_entropy(net(x.index_select(0, idx)), labels.index_select(0, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    # --graphs: PyTorch's standard cure for launch-bound steps (torch.cuda.graphs): warm up on a
    # side stream, capture the whole step once per batch shape (the full batches, the last one),
    # replay it with each batch's indices copied into the captured index tensor.
    graphs = {}
    warmed = 0
    stream = torch.cuda.Stream() if args.graphs else None

    def graphed(idx):
        nonlocal warmed
        size = idx.shape[0]
        if size in graphs:
            g, static_idx, static_loss = graphs[size]
            static_idx.copy_(idx)
            g.replay()
            return static_loss.clone()
        if warmed < 3 or size not in seen:
            warmed += 1
            seen.add(size)
            return step(idx)
        static_idx = idx.clone()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, stream=stream):
            static_loss = step(static_idx)
        graphs[size] = (g, static_idx, static_loss)
        g.replay()
        return static_loss.clone()

    seen = set()
    for _ in range(args.epochs):
        # The epoch's time starts before its shuffle, as nnopt's does (a CPU randperm of 60 000
        # and its copy to the device: ~0.4 ms, a fifth of an epoch at batch 8192 on a GPU).
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        order = torch.randperm(n).to(device)
        pending = []
        context = torch.cuda.stream(stream) if args.graphs else contextlib.nullcontext()
        with context:
            for s in range(0, n, args.batch_size):
                idx = order[s: s + args.batch_size]
                pending.append(graphed(idx) if args.graphs else step(idx))
                if len(pending) >= sync_every:
                    torch.stack(pending).tolist()
                    pending = []
            if pending:
                torch.stack(pending).tolist()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - start))
    print(json.dumps({"samples_per_second": rates[-1], "rates": rates, "epochs": args.epochs,
                      "threads": torch.get_num_threads(), "graphs": len(graphs)}))


def population(args):
    """K networks of 784-32-10 stacked along a member dimension, PyTorch's batched form: each
    layer one baddbmm for all members, autograd's backward of the members' summed mean losses,
    torch.optim.SGD (Nesterov 0.9, weight decay 5e-4) over the stacked parameters, every
    member's batch drawn from its own shuffle (all drawn before the timed epochs, as nnopt's
    members draw theirs before training); with --graphs the step is captured once per batch
    shape (the full batches, the last one), as nnopt's is. Samples/s counts every member's
    samples."""
    images = load_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    labels = load_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).long()
    x = images.float().reshape(len(images), -1) / 255.0
    x = (x - x.mean()) / x.std()
    device = torch.device(args.device)
    x, labels = x.to(device), labels.to(device)
    torch.manual_seed(0)
    k, b, n = args.members, args.batch_size, len(labels)
    widths = [784, 32, 10]
    params = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        bound = 1 / fan_in ** 0.5
        params.append((torch.rand(k, fan_out, fan_in, device=device) * 2 - 1).mul_(bound).requires_grad_())
        params.append((torch.rand(k, 1, fan_out, device=device) * 2 - 1).mul_(bound).requires_grad_())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step(idx):
        a = x.index_select(0, idx.reshape(-1)).reshape(k, -1, 784)
        for i in range(0, len(params), 2):
            a = torch.baddbmm(params[i + 1], a, params[i].transpose(1, 2))
            if i + 2 < len(params):
                a = a.relu()
        y = labels.index_select(0, idx.reshape(-1))
        losses = torch.nn.functional.cross_entropy(a.reshape(-1, 10), y, reduction="none").reshape(k, -1).mean(1)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
        return losses.detach()

    graphs, stream, rates = {}, torch.cuda.Stream() if args.graphs else None, []
    context = torch.cuda.stream(stream) if args.graphs else contextlib.nullcontext()
    warm = 0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    shuffles = [torch.stack([torch.randperm(n) for _ in range(k)]) for _ in range(args.epochs)]
    for epoch in range(args.epochs):
        sync()
        start = time.perf_counter()
        orders = shuffles[epoch].to(device)
        pending = []
        with context:
            for s in range(0, n, b):
                idx = orders[:, s: s + b]
                size = idx.shape[1]
                if args.graphs and size in graphs:
                    g, static_idx, static_loss = graphs[size]
                    static_idx.copy_(idx)
                    g.replay()
                    pending.append(static_loss.clone())
                elif args.graphs and warm >= 3:
                    static_idx = idx.clone()
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g, stream=stream):
                        static_loss = step(static_idx)
                    graphs[size] = (g, static_idx, static_loss)
                    g.replay()
                    pending.append(static_loss.clone())
                else:
                    warm += 1
                    pending.append(step(idx.contiguous()))
                if len(pending) >= 64:
                    torch.stack(pending).tolist()
                    pending = []
            if pending:
                torch.stack(pending).tolist()
        sync()
        rates.append(k * n / (time.perf_counter() - start))
    print(json.dumps({"samples_per_second": rates[-1], "rates": rates, "members": k, "epochs": args.epochs,
                      "graphs": len(graphs)}))


def autograd(_args):
    x = torch.tensor([5.0])
    w = torch.tensor([1.2], requires_grad=True)
    b = torch.tensor([0.5], requires_grad=True)
    act = torch.nn.functional.relu(w * x + b)
    print(act, torch.autograd.grad(act, w, retain_graph=True), torch.autograd.grad(act, b))


def sgemm(args):
    a, b = torch.randn(args.n, args.n), torch.randn(args.n, args.n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"gflops": 2 * args.n ** 3 / best / 1e9, "n": args.n, "threads": torch.get_num_threads()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("perceptron")
    p.add_argument("--form", choices=["nograd", "notebook"], default="nograd")
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--lr", type=float, default=0.001)
    m = sub.add_parser("mlp")
    m.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    m.add_argument("--batch-size", type=int, default=64)
    m.add_argument("--epochs", type=int, default=1)
    m.add_argument("--limit", type=int, default=0)
    m.add_argument("--device", default="cpu")
    m.add_argument("--graphs", action="store_true", help="capture the step as CUDA graphs (CUDA only)")
    q = sub.add_parser("population")
    q.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    q.add_argument("--members", type=int, default=64)
    q.add_argument("--batch-size", type=int, default=128)
    q.add_argument("--epochs", type=int, default=3)
    q.add_argument("--device", default="cuda")
    q.add_argument("--graphs", action="store_true", help="capture the step as one CUDA graph")
    sub.add_parser("autograd")
    g = sub.add_parser("sgemm")
    g.add_argument("--n", type=int, default=1024)
    g.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    if getattr(args, "graphs", False) and not args.device.startswith("cuda"):
        ap.error("--graphs captures CUDA graphs: it needs --device cuda")
    {"perceptron": perceptron, "mlp": mlp, "population": population, "autograd": autograd,
     "sgemm": sgemm}[args.what](args)


if __name__ == "__main__":
    main()
