"""Cross-validated study: do the geographic and neighbour features pay for themselves?

Not a test (pytest does not collect it): a script that prints mean ± std RMSE, R² and fit time
over a shuffled 5-fold CV for four feature sets, all on a HistGradientBoostingRegressor fit on
the price (``--target raw``, default: squared error in dollars, predictions clipped to
[0, 500,001]) or on log1p(price) with a clipped expm1 back-transform (``--target log``):

    a  ratio features + one-hot ocean_proximity
    b  a + GeographicFeatures
    c  a + NeighbourTargetFeatures
    d  a + both

Every feature step sits inside the cross-validated Pipeline, so the neighbour features of a
validation fold are built from its training folds only. Usage, from the repo root:

    .venv/bin/python tests/benchmarks/feature_study.py --latency          # all four, defaults
    .venv/bin/python tests/benchmarks/feature_study.py --configs d --target log --ks 5,20

The defaults are the recommended ones. What it measured on 18,576 rows (2 shared cores,
single-threaded HGB; RMSE in dollars, mean ± std over the 5 folds):

    config          RMSE (raw)        RMSE (log)    R2 (raw)
    a          44,531 ± 1,162                      0.851
    b          42,523 ± 1,045                      0.864
    c          40,497 ± 1,330                      0.877
    d          40,123 ± 1,001     40,583 ± 1,125   0.879

Earlier sweeps on config d (log target, 600 trees at learning rate 0.05, 31 leaves: 40,424)
all landed within ~±250 of it, while the fold-to-fold std is ~1,100: ks (3,10,30,100) or
(5,20), smoothing_km 0.3 or 3, income_k 8 or 30, 10 folds, 250 trees of 63 or 127 leaves at
0.1, max_features 0.5; dropping the density feature cost 250, dropping the income-adjusted
one 220. The raw target with 600 trees of 31 leaves gave 40,053, the same as 300 of 63.

The data path is ``$HOUSING_DATA__SOURCE`` or ``../shared/data/housing.csv`` from the repo root.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from housing_core.geo import GeographicFeatures  # noqa: E402
from housing_core.neighbours import NeighbourTargetFeatures  # noqa: E402

TARGET = "median_house_value"
PRICE_CAP = 500_001.0
OCEAN = ("<1H OCEAN", "INLAND", "NEAR OCEAN", "NEAR BAY", "ISLAND")


class StudyRatios(TransformerMixin, BaseEstimator):
    """Stand-in for the package's RatioFeatures and one-hot encoder.

    One-hot rather than HGB's native categorical support: the latter runs an internal
    ColumnTransformer on every predict, about 2 ms per call, which a single-row server feels.
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> StudyRatios:
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        out["rooms_per_household"] = X["total_rooms"] / X["households"]
        out["bedrooms_per_room"] = X["total_bedrooms"] / X["total_rooms"]
        out["population_per_household"] = X["population"] / X["households"]
        for category in OCEAN:
            out[f"ocean_{category}"] = (X["ocean_proximity"] == category).astype(np.float64)
        return out.drop(columns="ocean_proximity")


def clipped_expm1(values: np.ndarray) -> np.ndarray:
    return np.clip(np.expm1(values), 0.0, PRICE_CAP)


def clipped_square(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0.0, None) ** 2


def clipped(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0.0, PRICE_CAP)


# How the regressor sees the price: (forward, inverse, y is on a log scale).
TARGETS = {
    "log": (np.log1p, clipped_expm1, True),
    "sqrt": (np.sqrt, clipped_square, False),
    "raw": (clipped, clipped, False),
}


@dataclass
class Options:
    learning_rate: float
    max_iter: int
    max_leaf_nodes: int
    min_samples_leaf: int
    l2_regularization: float
    max_features: float
    angles: tuple[float, ...]
    ks: tuple[int, ...]
    income_k: int | None
    density_k: int | None
    smoothing_km: float
    target: str
    income_adjusted: bool
    n_splits: int


def build_model(config: str, o: Options) -> TransformedTargetRegressor:
    forward, inverse, logged = TARGETS[o.target]
    steps: list[tuple[str, object]] = [("ratios", StudyRatios())]
    if config in ("b", "d"):
        steps.append(("geo", GeographicFeatures(angles=o.angles)))
    if config in ("c", "d"):
        steps.append(
            (
                "neighbours",
                NeighbourTargetFeatures(
                    ks=o.ks,
                    income_k=o.income_k,
                    density_k=o.density_k,
                    smoothing_km=o.smoothing_km,
                    income_adjusted=o.income_adjusted,
                    n_splits=o.n_splits,
                    log_target=not logged,  # y reaches it through the wrapper below
                ),
            )
        )
    hgb = HistGradientBoostingRegressor(
        learning_rate=o.learning_rate,
        max_iter=o.max_iter,
        max_leaf_nodes=o.max_leaf_nodes,
        min_samples_leaf=o.min_samples_leaf,
        l2_regularization=o.l2_regularization,
        max_features=o.max_features,
        early_stopping=False,
        random_state=0,
    )
    steps.append(("model", hgb))
    return TransformedTargetRegressor(
        regressor=Pipeline(steps), func=forward, inverse_func=inverse, check_inverse=False
    )


def cross_validate(config: str, o: Options, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    rmses, r2s, fits = [], [], []
    for train, test in KFold(n_splits=5, shuffle=True, random_state=42).split(X):
        model = build_model(config, o)
        start = time.perf_counter()
        model.fit(X.iloc[train], y[train])
        fits.append(time.perf_counter() - start)
        predicted = model.predict(X.iloc[test])
        rmses.append(float(np.sqrt(mean_squared_error(y[test], predicted))))
        r2s.append(float(r2_score(y[test], predicted)))
    return {
        "rmse": float(np.mean(rmses)),
        "rmse_std": float(np.std(rmses)),
        "r2": float(np.mean(r2s)),
        "r2_std": float(np.std(r2s)),
        "fit_s": float(np.mean(fits)),
    }


def single_row_latency_ms(o: Options, X: pd.DataFrame, y: np.ndarray, repeats: int = 300) -> float:
    """p50 of predict on one row of the full config d, fit on all rows."""
    model = build_model("d", o).fit(X, y)
    row = X.iloc[[123]]
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(row)
        timings.append(time.perf_counter() - start)
    return float(np.median(timings) * 1e3)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="abcd")
    parser.add_argument("--learning-rate", type=float, default=0.08)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--max-leaf-nodes", type=int, default=63)
    parser.add_argument("--min-samples-leaf", type=int, default=20)
    parser.add_argument("--l2-regularization", type=float, default=3.0)
    parser.add_argument("--max-features", type=float, default=1.0)
    parser.add_argument("--angles", type=_floats, default=(15.0, 30.0, 45.0, 60.0, 75.0))
    parser.add_argument("--ks", type=_ints, default=(5, 15, 50))
    parser.add_argument("--income-k", type=_optional_int, default=15)
    parser.add_argument("--density-k", type=_optional_int, default=15)
    parser.add_argument("--smoothing-km", type=float, default=1.0)
    parser.add_argument("--target", choices=sorted(TARGETS), default="raw")
    parser.add_argument("--income-adjusted", type=int, default=1)
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads for HGB")
    parser.add_argument("--latency", action="store_true", help="also time a single-row predict")
    args = parser.parse_args()
    options = Options(
        **{k: v for k, v in vars(args).items() if k not in ("configs", "latency", "threads")}
    )

    source = os.environ.get("HOUSING_DATA__SOURCE") or REPO_ROOT / "../shared/data/housing.csv"
    frame = pd.read_csv(source)
    X, y = frame.drop(columns=TARGET), frame[TARGET].to_numpy(dtype=np.float64)

    threadpool_limits(args.threads)  # oversubscribed OpenMP is erratic on a shared 2-core box
    print(f"{options}")
    print(f"{'config':<8}{'RMSE':>18}{'R2':>18}{'fit s':>8}")
    for config in args.configs:
        r = cross_validate(config, options, X, y)
        print(
            f"{config:<8}{r['rmse']:>10,.0f} ± {r['rmse_std']:>5,.0f}"
            f"{r['r2']:>11.4f} ± {r['r2_std']:.4f}{r['fit_s']:>8.2f}",
            flush=True,
        )
    if args.latency:
        print(f"single-row predict p50 (config d): {single_row_latency_ms(options, X, y):.2f} ms")


if __name__ == "__main__":
    main()
