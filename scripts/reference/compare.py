#!/usr/bin/env python3
"""Compares two JSON documents number by number: nnopt's --json output and a reference's.

    python3 scripts/reference/compare.py NNOPT.json REFERENCE.json [--tol 1e-6]

Walks the reference document; every number in it must appear at the same place in nnopt's
output within the tolerance (keys only nnopt has, like "device", are ignored). Prints the
largest absolute difference and exits 1 if it exceeds the tolerance or the structure differs.
"""
import json
import math
import sys


def walk(ours, ref, path, diffs):
    if isinstance(ref, dict):
        if not isinstance(ours, dict):
            raise ValueError(f"{path}: expected an object")
        for key, value in ref.items():
            if key not in ours:
                raise ValueError(f"{path}.{key}: missing from nnopt's output")
            walk(ours[key], value, f"{path}.{key}", diffs)
    elif isinstance(ref, list):
        if not isinstance(ours, list) or len(ours) != len(ref):
            raise ValueError(f"{path}: expected a list of {len(ref)}")
        for i, (a, b) in enumerate(zip(ours, ref)):
            walk(a, b, f"{path}[{i}]", diffs)
    elif isinstance(ref, (int, float)) and not isinstance(ref, bool):
        if math.isnan(ref) and math.isnan(ours):
            return
        diffs.append((abs(ours - ref), path))
    elif ours != ref:
        raise ValueError(f"{path}: {ours!r} != {ref!r}")


def main():
    args = sys.argv[1:]
    tol = 1e-6
    if "--tol" in args:
        i = args.index("--tol")
        tol = float(args[i + 1])
        del args[i:i + 2]
    ours, ref = (json.load(open(p)) for p in args)
    diffs = []
    try:
        walk(ours, ref, "$", diffs)
    except ValueError as err:
        print(f"structure differs: {err}")
        sys.exit(1)
    worst = max(diffs, default=(0.0, "$"), key=lambda d: d[0])
    where = f" at {worst[1]}" if worst[0] > 0 else " (identical)"
    print(f"{len(diffs)} numbers compared, max |diff| = {worst[0]:.3g}{where}")
    sys.exit(0 if worst[0] <= tol else 1)


if __name__ == "__main__":
    main()
