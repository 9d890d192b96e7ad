#!/usr/bin/env python3
"""Compares two JSON documents number by number: nnopt's --json output and a reference's.

    python3 scripts/reference/compare.py NNOPT.json REFERENCE.json [--tol 1e-6] [--device-agnostic]

Walks the reference document; every number in it must appear at the same place in nnopt's
output within the tolerance (keys only nnopt has are ignored). Prints the largest absolute
difference and exits 1 if it exceeds the tolerance or the structure differs.

--device-agnostic compares two runs on different devices (CUDA against CPU): a "device" key is
not compared, and a device named inside a string (PyTorch's `device='cuda:0'`) is left out, so
only the numbers and the rest of the text must agree.

Timings (keys ending in "seconds", "samples_per_second") are never compared: two runs of the
same computation take different times.
"""
import json
import math
import re
import sys

DEVICE_IN_TEXT = re.compile(r",? ?device='[a-z]+(:[0-9]+)?'")
TIMING = re.compile(r"(^|_)seconds$|^samples_per_second$")


def walk(ours, ref, path, diffs, agnostic=False):
    if isinstance(ref, dict):
        if not isinstance(ours, dict):
            raise ValueError(f"{path}: expected an object")
        for key, value in ref.items():
            if (agnostic and key == "device") or TIMING.search(key):
                continue
            if key not in ours:
                raise ValueError(f"{path}.{key}: missing from nnopt's output")
            walk(ours[key], value, f"{path}.{key}", diffs, agnostic)
    elif isinstance(ref, list):
        if not isinstance(ours, list) or len(ours) != len(ref):
            raise ValueError(f"{path}: expected a list of {len(ref)}")
        for i, (a, b) in enumerate(zip(ours, ref)):
            walk(a, b, f"{path}[{i}]", diffs, agnostic)
    elif isinstance(ref, (int, float)) and not isinstance(ref, bool):
        if not isinstance(ours, (int, float)) or isinstance(ours, bool):
            raise ValueError(f"{path}: {ours!r} is not a number")
        if math.isnan(ref) and math.isnan(ours):
            return
        diffs.append((abs(ours - ref), path))
    elif agnostic and isinstance(ref, str) and isinstance(ours, str):
        if DEVICE_IN_TEXT.sub("", ours) != DEVICE_IN_TEXT.sub("", ref):
            raise ValueError(f"{path}: {ours!r} != {ref!r} (devices aside)")
    elif ours != ref:
        raise ValueError(f"{path}: {ours!r} != {ref!r}")


def main():
    args = sys.argv[1:]
    tol = 1e-6
    agnostic = "--device-agnostic" in args
    if agnostic:
        args.remove("--device-agnostic")
    if "--tol" in args:
        i = args.index("--tol")
        tol = float(args[i + 1])
        del args[i:i + 2]
    ours, ref = (json.load(open(p)) for p in args)
    diffs = []
    try:
        walk(ours, ref, "$", diffs, agnostic)
    except ValueError as err:
        print(f"structure differs: {err}")
        sys.exit(1)
    worst = max(diffs, default=(0.0, "$"), key=lambda d: d[0])
    where = f" at {worst[1]}" if worst[0] > 0 else " (identical)"
    print(f"{len(diffs)} numbers compared, max |diff| = {worst[0]:.3g}{where}")
    sys.exit(0 if worst[0] <= tol else 1)


if __name__ == "__main__":
    main()
