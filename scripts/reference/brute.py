#!/usr/bin/env python3
"""Oracle for `nnopt brute-force`'s computed counts, written independently with Python's math:
the grid's points per dimension and in all, and random search's expected draws (1/p, p the
volume of the d-ball of radius √ε over the box [−5, 5]ᵈ, from math.lgamma).

    python3 scripts/reference/brute.py > tests/goldens/brute.json
"""
import json
import math

EPS = 0.01
out = {}
for d in [1, 2, 3, 10, 100, 1000]:
    h = 2 * math.sqrt(EPS / d)
    k = math.ceil(10 / h) + 1
    ln_ball = d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1) + d * math.log(math.sqrt(EPS))
    ln_p = ln_ball - d * math.log(10)
    out[str(d)] = {"k": k, "log10_grid_points": d * math.log10(k), "log10_expected_draws": -ln_p / math.log(10)}
print(json.dumps({"tolerance": EPS, "dims": out}, indent=1))
