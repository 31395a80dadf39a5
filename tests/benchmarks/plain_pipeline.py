"""Baseline for the overhead benchmark: the same steps and model, no Prefect, no MLflow."""

from __future__ import annotations

import time

started = time.perf_counter()

from housing_core import data, evaluation, model, split  # noqa: E402
from housing_core.settings import load_settings  # noqa: E402


def main() -> None:
    settings = load_settings()
    raw = data.read_source(settings.data.source)
    clean = data.validate(
        data.parse_csv(raw), settings.data.min_rows, settings.data.max_missing_fraction
    )
    parts = split.split_frame(clean, settings.split.test_fraction, settings.split.salt)
    fitted = model.train_model(parts.train, settings.model)
    result = evaluation.evaluate_model(fitted, parts.test, settings.thresholds)
    print(
        f"plain pipeline: rmse {result.metrics['rmse']:,.0f} r2 {result.metrics['r2']:.4f} "
        f"in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
