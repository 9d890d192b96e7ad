# `nnopt train`'s loop in PyTorch with the notebook's optimizer (plain SGD, lr 0.05), on Fashion-MNIST.
#   python3 examples/pytorch/train.py [EPOCHS] [DATA_DIR]
#   → the numbers of `nnopt train --data DATA_DIR --epochs EPOCHS --momentum 0 --weight-decay 0 --schedule constant`
import gzip
import json
import sys

import torch
from torch import nn, optim

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
data = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
torch.manual_seed(0)


def idx(name):  # an IDX file: a big-endian header, then one byte per pixel or label
    raw = gzip.open(f"{data}/{name}.gz").read()
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(raw[3])]
    return torch.frombuffer(bytearray(raw[4 + 4 * len(dims):]), dtype=torch.uint8).reshape(dims)


x_train, y_train = idx("train-images-idx3-ubyte") / 255, idx("train-labels-idx1-ubyte").long()
x_test, y_test = idx("t10k-images-idx3-ubyte") / 255, idx("t10k-labels-idx1-ubyte").long()
mean, std = x_train.double().mean().item(), x_train.double().std().item()  # the training pixels'
x_train, x_test = ((x_train - mean) / std).flatten(1), ((x_test - mean) / std).flatten(1)

net = nn.Sequential(nn.Linear(28 * 28, 32), nn.ReLU(), nn.Linear(32, 10))
optimizer = optim.SGD(net.parameters(), lr=0.05)
criterion = nn.CrossEntropyLoss()  # softmax and log-loss over the 10 classes' logits

accuracies = []
for epoch in range(epochs):
    order = torch.randperm(len(y_train))  # a new shuffle every epoch
    for batch in order.split(128):
        optimizer.zero_grad()
        loss = criterion(net(x_train[batch]), y_train[batch])
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        accuracies.append((net(x_test).argmax(1) == y_test).float().mean().item())

print(json.dumps({"test_accuracy": accuracies}))
