"""Baseline for the overhead benchmark: the same steps and model, no Prefect, no MLflow."""

from __future__ import annotations

import time

started = time.perf_counter()

from housing_core.data import contract, source, split, validation  # noqa: E402
from housing_core.evaluation.gates import evaluate_model  # noqa: E402
from housing_core.formatting import format_metrics  # noqa: E402
from housing_core.model.pipeline import train_model  # noqa: E402
from housing_core.settings import load_settings  # noqa: E402


def main() -> None:
    settings = load_settings()
    raw = source.read_source(settings.data.source)
    clean = validation.validate(
        source.parse_csv(raw), settings.data.min_rows, settings.data.max_missing_fraction
    )
    parts = split.split_frame(clean, settings.split.test_fraction, settings.split.salt)
    train = parts.train
    fitted = train_model(
        train.loc[:, list(contract.FEATURE_COLUMNS)], train[contract.TARGET], settings.model
    )
    result = evaluate_model(fitted, parts.test, settings.registration_gates)
    seconds = time.perf_counter() - started
    print(f"plain pipeline: {format_metrics(result.metrics)} in {seconds:.1f} s")


if __name__ == "__main__":
    main()
