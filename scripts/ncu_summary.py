#!/usr/bin/env python3
"""Summarizes Nsight Compute's per-kernel durations (`ncu --csv --page raw --metrics
gpu__time_duration.sum`), one table per file: each kernel's name, how many times it ran, its
median duration, and its share of all the kernels' time — where a step's time goes.

    ncu_summary.py LABEL=FILE.csv [LABEL=FILE.csv …]
"""
import csv
import re
import statistics
import sys

UNITS = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}


def rows(path):
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    reader = csv.DictReader(lines)
    units = None
    for row in reader:
        value = row.get("gpu__time_duration.sum", "")
        if units is None and not re.match(r"^[0-9.,]+$", value or ""):
            units = UNITS.get(value.strip(), 1e-3)
            continue
        try:
            yield row.get("Kernel Name", "?"), float(value.replace(",", "")) * (units or 1e-3)
        except ValueError:
            continue


def short(name):
    """A kernel's name without what every name repeats: namespaces, `void`, its argument list
    (the template arguments stay: they say which functor an elementwise kernel runs)."""
    for noise in ("(anonymous namespace)::", "void ", "at::native::", ", std::array<char*, 3>", ", std::array<char*, 2>"):
        name = name.replace(noise, "")
    depth, cut = 0, len(name)
    for i, ch in enumerate(name):  # the argument list: the first "(" outside template brackets
        depth += {"<": 1, ">": -1}.get(ch, 0)
        if ch == "(" and depth == 0:
            cut = i
            break
    return name[:cut].strip()[:72]


def main():
    for spec in sys.argv[1:]:
        label, path = spec.split("=", 1)
        kernels = {}
        try:
            for name, us in rows(path):
                kernels.setdefault(short(name), []).append(us)
        except OSError as e:
            print(f"{label}: no profile ({e})")
            continue
        total = sum(sum(v) for v in kernels.values())
        print(f"\n{label}: {sum(len(v) for v in kernels.values())} kernels, {total:.0f} µs in all")
        print(f"{'kernel':<72} {'runs':>5} {'median µs':>10} {'share':>6}")
        for name, us in sorted(kernels.items(), key=lambda kv: -sum(kv[1])):
            print(f"{name:<72} {len(us):>5} {statistics.median(us):>10.2f} {100 * sum(us) / max(total, 1e-9):>5.1f}%")


if __name__ == "__main__":
    main()
