#!/usr/bin/env python3
"""SciPy oracle for nnopt's statistics: binomial chance bounds, Kruskal-Wallis, chi2, Student t.

    /root/.cache/nnopt/reference-venv/bin/python scripts/reference/stats.py

(The venv is `python3 -m venv /root/.cache/nnopt/reference-venv` with
`pip install scikit-learn scipy numpy`.)

(a) For majority rate p and n trials, the smallest integer k with P(X >= k) <= 0.001 for
    X ~ Binomial(n, p), i.e. scipy.stats.binom.sf(k - 1, n, p) <= 0.001, and that tail.
(b) scipy.stats.kruskal on fixed group sets (tie-corrected H and its chi2 p-value), and
    scipy.stats.chi2.sf at a few points.
(c) scipy.stats.t.ppf(0.975, df): two-sided 95% Student t quantiles.
All floats are printed with repr (full precision) for pasting into Rust tests.
"""
import scipy
from scipy import stats

ALPHA = 0.001


def chance_bound(n, p):
    """Smallest k with P(X >= k) <= ALPHA; search upward from the mean."""
    k = int(n * p)
    while stats.binom.sf(k - 1, n, p) > ALPHA:
        k += 1
    while k > 0 and stats.binom.sf(k - 2, n, p) <= ALPHA:
        k -= 1
    return k, float(stats.binom.sf(k - 1, n, p))


def main():
    print(f"# scipy {scipy.__version__}")

    print("\n## (a) binomial chance bounds: smallest k with P(X >= k) <= 0.001")
    rows = []
    for p in (0.1, 0.2, 0.5):
        for n in (10, 60, 100, 500, 6000, 60000):
            k, tail = chance_bound(n, p)
            prev = float(stats.binom.sf(k - 2, n, p))
            print(f"p={p!r} n={n} k={k} P(X>=k)={tail!r} P(X>=k-1)={prev!r}")
            rows.append(f"    ({p!r}, {n}, {k}, {tail!r}),")
    print("&[")
    print("\n".join(rows))
    print("]")

    print("\n## (b) Kruskal-Wallis")
    groups = {
        "A": [[0.81, 0.79, 0.84], [0.70, 0.72, 0.69, 0.71], [0.50, 0.55]],
        "B": [[1, 2, 3, 4], [1, 2, 3, 4]],
        "C": [[0.1, 0.2, 0.2, 0.3], [0.2, 0.3, 0.4], [0.9, 0.8, 0.85], [0.0, 0.1]],
    }
    for name, g in groups.items():
        r = stats.kruskal(*g)
        print(f"{name}: statistic={float(r.statistic)!r} pvalue={float(r.pvalue)!r}")

    print("\n## (b) chi2.sf(x, df)")
    for x, df in ((3.84, 1), (5.99, 2), (0.5, 3), (12.0, 4), (20.0, 7)):
        print(f"chi2.sf({x!r}, {df}) = {float(stats.chi2.sf(x, df))!r}")

    print("\n## (c) t.ppf(0.975, df)")
    for df in list(range(1, 11)) + [20, 30]:
        print(f"df={df}: {float(stats.t.ppf(0.975, df))!r}")


if __name__ == "__main__":
    main()
