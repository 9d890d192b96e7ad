#!/usr/bin/env python3
"""PyTorch's repr for a set of named tensors: the goldens for nnopt's repr tests.

    scripts/torch-python scripts/reference/repr_goldens.py > tests/goldens/repr.json

tests/integration/repr.rs builds the tensor of the same name with tch and compares its repr
with the string here. Random cases use torch.manual_seed(seed) then torch.randn(shape), which
tch reproduces exactly.
"""
import json

import torch


def randn(seed, *shape, requires_grad=False):
    torch.manual_seed(seed)
    return torch.randn(*shape).requires_grad_(requires_grad)


CASES = {
    "one_value": torch.tensor([6.5]),
    "integral": torch.tensor([5.0]),
    "column_requires_grad": torch.tensor([[1.5410], [-0.2934]], requires_grad=True),
    "randn_32x784": randn(0, 32, 784),
    "randn_1x10": randn(1, 1, 10),
    "randn_2x3x4": randn(2, 2, 3, 4),
    "randn_1200": randn(3, 1200),
    "randn_10x10x20": randn(4, 10, 10, 20),
    "randn_8_requires_grad": randn(5, 8, requires_grad=True),
    "randn_9_requires_grad": randn(6, 9, requires_grad=True),
    "randn_3x7_scaled": randn(7, 3, 7) * 100,
    "arange_10": torch.arange(10.0),
    "arange_int": torch.arange(12),
    "int32": torch.arange(5, dtype=torch.int32),
    "float64": torch.tensor([0.1, 2.5], dtype=torch.float64),
    "half": torch.tensor([1.5, 2.25], dtype=torch.float16),
    "sci_small": torch.tensor([1e-5, 1.0, 3.5]),
    "sci_large": torch.tensor([1e9, 2.5]),
    "integral_wide": torch.tensor([1.0, 20000.0]),
    "zeros": torch.zeros(2, 2),
    "scalar": torch.tensor(0.0592),
    "scalar_zero": torch.tensor(0.0),
    "scalar_large": torch.tensor(2782.2212),
    "nan_inf": torch.tensor([float("nan"), float("inf"), float("-inf"), 1.5]),
    "bool": torch.tensor([True, False, True]),
    "empty_2d": torch.zeros(0, 3),
    "empty_1d": torch.zeros(0),
    "negative_zero": torch.tensor([-0.0, 1.25]),
    "linspace_25": torch.linspace(-3, 3, 25),
}

GOLDENS = {name: repr(t) for name, t in CASES.items()}
GOLDENS["parameter_32x784"] = repr(torch.nn.Parameter(randn(0, 32, 784)))
print(json.dumps(GOLDENS, indent=1))
