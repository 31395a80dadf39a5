"""Does a sweep's best configuration beat today's default by more than the folds' noise?

    python -m tests.benchmarks.sweep_quality SUMMARY.json [--folds 5]

SUMMARY.json is the last line `python -m flows.sweep` printed. Both configurations are fitted
on the same rows: on each of `--folds` validation folds of the training rows (other keys than
the sweep's own fold, so the best was not chosen on them) for the paired fold-to-fold
differences, then on all training rows and scored on the held-out rows. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from housing_core.data.contract import TARGET, features_of
from housing_core.data.split import split_frame
from housing_core.evaluation.metrics import regression_metrics
from housing_core.settings import ModelConfig, SplitSettings, load_settings
from housing_core.sweep.space import load_space
from housing_core.sweep.trial import score_trial
from housing_core.training import fitting
from tests.benchmarks import stack


def held_out_predictions(
    train: pd.DataFrame, test: pd.DataFrame, config: ModelConfig
) -> np.ndarray:
    """`config` fitted as the training flow fits it, its prices for the `test` rows (one
    OpenMP thread while predicting, as the flow's evaluation does)."""
    trained = fitting.fit(train, config)
    with threadpool_limits(limits=1, user_api="openmp"):
        return np.asarray(trained.pipeline.predict(features_of(test)))


def held_out_rmse(train: pd.DataFrame, test: pd.DataFrame, config: ModelConfig) -> float:
    predicted = held_out_predictions(train, test, config)
    return regression_metrics(test[TARGET].to_numpy(), predicted)["rmse"]


def paired(differences: list[float]) -> dict[str, float]:
    """Mean, sd and standard error of paired differences (one per fold or repetition)."""
    sd = statistics.stdev(differences)
    return {
        "mean": statistics.mean(differences),
        "sd": sd,
        "se": sd / len(differences) ** 0.5,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--space", default="hist_gradient_boosting")
    args = parser.parse_args(argv)
    summary = json.loads(args.summary.read_text().strip().splitlines()[-1])
    settings = load_settings()
    default = settings.model
    best = load_space(args.space).config(summary["best_params"], default)
    frame = pd.read_csv(stack.data_source())
    parts = split_frame(frame, settings.split.test_fraction, settings.split.salt)
    differences, defaults = [], []
    for k in range(args.folds):
        fold = SplitSettings(salt=f"{settings.split.salt}-quality-{k}")
        a = score_trial(parts.train, default, 0.2, fold).value
        b = score_trial(parts.train, best, 0.2, fold).value
        defaults.append(a)
        differences.append(b - a)
    spread = paired(differences)
    default_held_out = held_out_rmse(parts.train, parts.test, default)
    best_held_out = held_out_rmse(parts.train, parts.test, best)
    print(
        json.dumps(
            {
                "best_params": summary["best_params"],
                "held_out_rmse_default": round(default_held_out),
                "held_out_rmse_best": round(best_held_out),
                "held_out_difference": round(best_held_out - default_held_out),
                "fold_rmse_default_mean": round(statistics.mean(defaults)),
                "fold_rmse_default_sd": round(statistics.stdev(defaults)),
                "fold_differences": [round(d) for d in differences],
                "fold_difference_mean": round(spread["mean"]),
                "fold_difference_sd": round(spread["sd"]),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
