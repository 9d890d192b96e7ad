# The notebook's autograd example in PyTorch: the gradient of a = relu(w·x + b) with respect to w and b.
#   python3 examples/pytorch/autograd.py   → the numbers `nnopt autograd` prints
import json

import torch

x = torch.tensor([5.0])
w = torch.tensor([1.2], requires_grad=True)  # autograd records what is done with w and b
b = torch.tensor([0.5], requires_grad=True)
a = torch.relu(w * x + b)
grad_w, grad_b = torch.autograd.grad(a, (w, b))  # the chain rule, applied backward from a

print(json.dumps({"activation": a.item(), "grad_w": grad_w.item(), "grad_b": grad_b.item(),
                  "grad_fn": type(a.grad_fn).__name__}))
