# The notebook's MLP in PyTorch: a forward pass, backpropagation, one SGD step.
#   python3 examples/pytorch/mlp.py [SEED]   → the numbers `nnopt mlp --seed SEED` prints
import json
import sys

import torch
from torch import nn, optim

torch.manual_seed(int(sys.argv[1]) if len(sys.argv) > 1 else 0)


class Network(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 32)  # weight, then bias: the first draws
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(self.fc1(x.view(-1, 28 * 28)))
        return self.fc2(x)


net = Network()
image = torch.randn(1, 1, 28, 28)
net(image).backward(torch.randn(1, 10))  # the notebook's first backward, with a random gradient
target = torch.randn(10).view(1, -1)

criterion = nn.MSELoss()
optimizer = optim.SGD(net.parameters(), lr=0.05)
optimizer.zero_grad()  # .grad accumulates: clear what the first backward left
loss = criterion(net(image), target)
loss.backward()  # backpropagation: every parameter's .grad
fc1_bias_grad = net.fc1.bias.grad.tolist()
optimizer.step()  # θ ← θ − lr·∇L
loss_after = criterion(net(image), target)

print(json.dumps({"loss": loss.item(), "loss_after_step": loss_after.item(), "fc1_bias_grad": fc1_bias_grad}))
