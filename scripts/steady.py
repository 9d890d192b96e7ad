#!/usr/bin/env python3
"""A training speed that a single short epoch cannot give: the median of 5 timings, each over
whole consecutive epochs adding up to at least 200 steps, after the warm-up epochs.

    steady.py epochs BATCH [N]        how many epochs a run needs (warm-up + 5 blocks)
    steady.py rate BATCH [N] < JSON   the median samples/s of such a run's 5 blocks
    steady.py epochs-median < JSON    the median samples/s of the epochs after the warm-up
                                      (a CPU's epochs are long and steady: 7 epochs suffice)

JSON is nnopt's train report (`epochs[].samples_per_second`) or scripts/bench_torch.py's line
(`rates`); N is the training images per epoch (60 000). At batch 8192 an epoch is 8 steps and a
few milliseconds, and single epochs moved up to 5x between runs: each block here is 25 epochs.
"""
import json
import math
import statistics
import sys

WARMUP_EPOCHS = 2  # the eager warm-up steps and the graphs' captures happen here
BLOCKS = 5
MIN_STEPS = 200


def per_block(batch, n):
    return math.ceil(MIN_STEPS / math.ceil(n / batch))


def main():
    if sys.argv[1] == "epochs-median":
        report = json.load(sys.stdin)
        print(round(statistics.median(e["samples_per_second"] for e in report["epochs"][WARMUP_EPOCHS:])))
        return
    what, batch = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 60000
    m = per_block(batch, n)
    if what == "epochs":
        print(WARMUP_EPOCHS + BLOCKS * m)
        return
    report = json.load(sys.stdin)
    rates = report["rates"] if "rates" in report else [e["samples_per_second"] for e in report["epochs"]]
    per_sample = n if "rates" not in report or "members" not in report else n * report["members"]
    timed = rates[WARMUP_EPOCHS:]
    if len(timed) < BLOCKS * m:
        sys.exit(f"steady: {len(timed)} epochs after the warm-up, {BLOCKS * m} needed")
    blocks = []
    for b in range(BLOCKS):
        epochs = timed[b * m:(b + 1) * m]
        seconds = sum(per_sample / r for r in epochs)
        blocks.append(m * per_sample / seconds)
    print(round(statistics.median(blocks)))


if __name__ == "__main__":
    main()
