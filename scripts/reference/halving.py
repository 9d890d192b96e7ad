#!/usr/bin/env python3
"""scikit-learn oracle for the successive-halving plan: (configurations, epochs) per rung.

    /root/.cache/nnopt/reference-venv/bin/python scripts/reference/halving.py

(The venv is `python3 -m venv /root/.cache/nnopt/reference-venv` with
`pip install scikit-learn scipy numpy`.)

For each setting (n_candidates, max_epochs, factor) this runs scikit-learn's real
`HalvingGridSearchCV` with factor=factor, resource='epochs', min_resources=1,
max_resources=max_epochs, aggressive_elimination=False, cv=2, refit=False, over a grid
with exactly n_candidates distinct values of a dummy parameter `c`, on a tiny dataset.
The estimator does no learning: its score is a deterministic function of `c`, so the
search only exercises the schedule. The plan is read back from the fitted search
(`n_candidates_` and `n_resources_`, one entry per iteration), not computed here.

Prints one line per setting, `(n, max_epochs, factor): [(configurations, epochs), ...]`,
then the same plans as a Rust array literal. A setting that scikit-learn refuses is
reported with its exception message and left out of the Rust literal.
"""
import warnings

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV

SETTINGS = [
    (5, 3, 2), (10, 16, 2), (12, 6, 2), (27, 9, 2), (7, 5, 2), (9, 3, 2), (33, 7, 2),
    (2, 8, 2), (1, 4, 2), (8, 8, 2), (8, 4, 2), (8, 2, 2), (8, 1, 2), (3, 5, 2),
    (5, 16, 2), (16, 16, 2), (27, 9, 3), (12, 6, 3), (10, 27, 3), (243, 81, 3),
    (100, 10, 3), (4, 16, 4), (2, 2, 2), (64, 3, 2),
]


class Dummy(ClassifierMixin, BaseEstimator):
    """Has the `epochs` resource and a dummy `c`; scores by `c` alone."""

    def __init__(self, epochs=1, c=0):
        self.epochs = epochs
        self.c = c

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y, sample_weight=None):
        # Distinct, deterministic scores: a larger c scores higher.
        return float(self.c) / 1000.0


def plan(n, max_epochs, factor):
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array([0, 1] * 10)
    search = HalvingGridSearchCV(
        Dummy(),
        {"c": list(range(n))},
        factor=factor,
        resource="epochs",
        min_resources=1,
        max_resources=max_epochs,
        aggressive_elimination=False,
        cv=2,
        refit=False,
    )
    search.fit(X, y)
    return [(int(c), int(r)) for c, r in zip(search.n_candidates_, search.n_resources_)]


def main():
    print(f"# scikit-learn {sklearn.__version__}")
    rust = []
    for setting in SETTINGS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = plan(*setting)
        except Exception as e:  # report sklearn's refusal, keep going
            print(f"{setting}: REFUSED {type(e).__name__}: {e}")
            continue
        print(f"{setting}: {p}")
        rungs = ", ".join(f"({c}, {r})" for c, r in p)
        rust.append(f"    ({setting[0]}, {setting[1]}, {setting[2]}, &[{rungs}]),")
    print()
    print("&[")
    print("\n".join(rust))
    print("]")


if __name__ == "__main__":
    main()
