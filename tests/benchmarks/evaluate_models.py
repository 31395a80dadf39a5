"""Honest evaluation of the model families and feature groups, with the real training code.

Not a test (pytest does not collect it): a script that prints, for each configuration, the
5-fold cross-validated RMSE (mean ± std over folds, ``KFold(shuffle=True, random_state=42)``)
and R² on the shared data, the RMSE and R² on the held-out split (fit on the split's training
side only), the mean fit time and, for the default, the single-row latency. Every model is
built by ``housing_core.model.pipeline.train_model``: the same pipeline the training flow registers,
neighbour features cross-fitted inside it. Choices were made on the CV column only; the
held-out column is reported, never tuned on. Usage, from the repo root:

    .venv/bin/python -m tests.benchmarks.evaluate_models            # every row, ~6-10 min
    .venv/bin/python -m tests.benchmarks.evaluate_models --only default,seed_rf

The data path is ``$HOUSING_DATA__SOURCE`` or ``../shared/data/housing.csv``.

The figures it printed, and the research log of what was tried, are in docs/model.md.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import KFold

from housing_core.data.contract import FEATURE_COLUMNS, TARGET
from housing_core.data.split import split_frame
from housing_core.model.pipeline import predict, train_model
from housing_core.settings import (
    FeatureSettings,
    HistGradientBoostingConfig,
    ModelConfig,
    RandomForestConfig,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "housing.csv"

_NO_GEO = FeatureSettings(geo=False, neighbours=False)
_PRICES = FeatureSettings(
    neighbour_similar_ks=(), neighbour_spread_k=None, neighbour_context_k=None
)
_COMPARABLES = FeatureSettings(neighbour_spread_k=None, neighbour_context_k=None)
_SPREAD = FeatureSettings(neighbour_context_k=None)

# (name, what it adds, config): each row adds one thing to the row before it.
CONFIGS: list[tuple[str, str, ModelConfig]] = [
    ("seed_rf", "seed's RandomForest, ratio features", RandomForestConfig()),
    ("plain_hgb", "HGB x3 seeds, ratios + one-hot", HistGradientBoostingConfig(features=_NO_GEO)),
    (
        "geo",
        "+ rotations, city and coast distances",
        HistGradientBoostingConfig(features=FeatureSettings(neighbours=False)),
    ),
    (
        "neighbours",
        "+ neighbour prices, incomes, density",
        HistGradientBoostingConfig(features=_PRICES),
    ),
    (
        "comparables",
        "+ prices of income-alike neighbours",
        HistGradientBoostingConfig(features=_COMPARABLES),
    ),
    (
        "spread",
        "+ neighbour price spread, share at cap",
        HistGradientBoostingConfig(features=_SPREAD),
    ),
    ("default", "+ neighbourhood context = DEFAULT", HistGradientBoostingConfig()),
    ("default_1_model", "default with one HGB, not three", HistGradientBoostingConfig(n_models=1)),
]


@dataclass(frozen=True)
class Row:
    cv_rmse: float
    cv_rmse_std: float
    cv_r2: float
    held_out_rmse: float
    held_out_r2: float
    fit_s: float


def evaluate(config: ModelConfig, frame: pd.DataFrame, n_folds: int, jobs: int) -> Row:
    """Cross-validate on all rows, then fit the split's training side and score its test side."""
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=42).split(frame)
    split = split_frame(frame)
    pairs = [(frame.iloc[train], frame.iloc[test]) for train, test in folds]
    pairs.append((split.train, split.test))
    # one fit per process: HGB fits single-threaded, so the two cores each take a fold
    scores = Parallel(n_jobs=jobs)(delayed(_fit_and_score)(config, *pair) for pair in pairs)
    rmses, r2s, fits = (np.asarray(column) for column in zip(*scores, strict=True))
    return Row(
        float(np.mean(rmses[:-1])),
        float(np.std(rmses[:-1])),
        float(np.mean(r2s[:-1])),
        float(rmses[-1]),
        float(r2s[-1]),
        float(np.mean(fits)),
    )


def _fit_and_score(
    config: ModelConfig, train: pd.DataFrame, test: pd.DataFrame
) -> tuple[float, float, float]:
    start = time.perf_counter()
    model = train_model(train.loc[:, list(FEATURE_COLUMNS)], train[TARGET], config)
    fit_s = time.perf_counter() - start
    predicted = predict(model, test)
    actual = test[TARGET].to_numpy(dtype=np.float64)
    rmse = float(np.sqrt(mean_squared_error(actual, predicted)))
    return rmse, float(r2_score(actual, predicted)), fit_s


def single_row_latency_ms(frame: pd.DataFrame, repeats: int = 500) -> tuple[float, float]:
    """p50 and p99 of an in-process single-row predict by the default model (split's train)."""
    split = split_frame(frame)
    train = split.train
    model = train_model(
        train.loc[:, list(FEATURE_COLUMNS)], train[TARGET], HistGradientBoostingConfig()
    )
    rows = [split.test.loc[[i], list(FEATURE_COLUMNS)] for i in range(min(200, len(split.test)))]
    for row in rows[:20]:  # warm caches
        model.predict(row)
    timings = []
    for i in range(repeats):
        row = rows[i % len(rows)]
        start = time.perf_counter()
        model.predict(row)
        timings.append(time.perf_counter() - start)
    p50, p99 = np.percentile(timings, [50, 99]) * 1e3
    return float(p50), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated row names (default: all)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="fits run side by side")
    parser.add_argument("--no-latency", action="store_true")
    args = parser.parse_args()
    wanted = {name for name in args.only.split(",") if name}
    source = os.environ.get("HOUSING_DATA__SOURCE") or str(DEFAULT_DATA)
    frame = pd.read_csv(source)

    print(f"{len(frame):,} rows from {source}; {args.folds}-fold CV, held-out = split_frame")
    header = (
        f"{'row':<16}{'adds':<40}{'CV RMSE':>18}{'CV R2':>8}"
        f"{'held-out RMSE':>15}{'R2':>8}{'fit s':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, adds, config in CONFIGS:
        if wanted and name not in wanted:
            continue
        r = evaluate(config, frame, args.folds, args.jobs)
        print(
            f"{name:<16}{adds:<40}{r.cv_rmse:>10,.0f} ± {r.cv_rmse_std:>5,.0f}{r.cv_r2:>8.4f}"
            f"{r.held_out_rmse:>15,.0f}{r.held_out_r2:>8.4f}{r.fit_s:>7.1f}",
            flush=True,
        )
    if not args.no_latency:
        p50, p99 = single_row_latency_ms(frame)
        print(f"default model, single-row predict in process: p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
