"""What the drift check costs and what it says, on the real data and a million jittered rows.

    python -m tests.benchmarks.drift_check                      # 1,000,000 rows
    python -m tests.benchmarks.drift_check --rows 5000000 --chunk-rows 500000

Prints JSON lines: the time to profile the real data and the profile's size; the time to
summarise and check the jittered rows (in memory at once, and chunk by chunk as a batch
scorer would) with the memory those steps allocate; and the drift report of (a) the unshifted
rows and (b) the same rows with incomes up 20 % and total_bedrooms blanked in another 30 %.
The rows are generated in memory, never written. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

from housing_core.drift import DriftReport, Profile, build_profile, check, summarize
from tests.benchmarks.synthetic import LinearPrices, jittered_chunks, jittered_rows, shifted

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "housing.csv"
NUMERIC = (
    "longitude",
    "latitude",
    "housing_median_age",
    "total_rooms",
    "total_bedrooms",
    "population",
    "households",
    "median_income",
)
T = TypeVar("T")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    source = os.environ.get("HOUSING_DATA__SOURCE") or str(DATA)
    housing = pd.read_csv(source)
    model = LinearPrices(housing)
    predictions = model.predict(housing)

    seconds, profile = _timed(
        lambda: build_profile(
            housing, NUMERIC, ["ocean_proximity"], "median_house_value", predictions
        ),
        args.repeats,
    )
    size = len(json.dumps(profile.to_dict(), separators=(",", ":")).encode())
    _print(bench="build_profile", rows=len(housing), seconds=seconds, profile_bytes=size)

    batch = jittered_rows(housing, args.rows, seed=1)
    batch_predictions = model.predict(batch)
    seconds, report = _timed(lambda: check(profile, batch, batch_predictions), args.repeats)
    peak = _peak_mb(lambda: check(profile, batch, batch_predictions))
    _print(
        bench="summarize_check_in_memory",
        rows=args.rows,
        seconds=seconds,
        allocated_peak_mb=peak,
        frame_mb=round(batch.memory_usage(deep=True).sum() / 2**20, 1),
    )
    streamed_seconds, streamed = _streamed(profile, housing, model, args.rows, args.chunk_rows)
    _print(
        bench="summarize_check_streamed",
        rows=args.rows,
        chunk_rows=args.chunk_rows,
        seconds_summarize_and_check=streamed_seconds,
        drifted=streamed.drifted,
        process_max_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    _report("unshifted", report)

    moved = shifted(shifted(batch, "income_up"), "bedrooms_blank")
    _report("income_up_20pct_and_bedrooms_blank_30pct", check(profile, moved, model.predict(moved)))
    return 0


def _streamed(
    profile: Profile, housing: pd.DataFrame, model: LinearPrices, rows: int, chunk_rows: int
) -> tuple[float, DriftReport]:
    """Generate, predict, summarise chunk by chunk; time only the summarising and the check."""
    spent = 0.0
    total = None
    for chunk in jittered_chunks(housing, rows, chunk_rows, seed=2):
        predicted = model.predict(chunk)
        started = time.perf_counter()
        part = summarize(chunk, like=profile, predictions=predicted)
        total = part if total is None else total + part
        spent += time.perf_counter() - started
    assert total is not None
    started = time.perf_counter()
    report = check(profile, total)
    return round(spent + time.perf_counter() - started, 3), report


def _timed(work: Callable[[], T], repeats: int) -> tuple[float, T]:
    times, result = [], None
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    assert result is not None
    return round(statistics.median(times), 3), result


def _peak_mb(work: Callable[[], object]) -> float:
    """Peak memory allocated while `work` runs (numpy's arrays included), beyond what it got."""
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def _report(case: str, report: DriftReport) -> None:
    print(
        json.dumps({"bench": "report", "case": case, "report": json.loads(report.to_json_line())})
    )


def _print(**fields: object) -> None:
    print(json.dumps({**fields, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    raise SystemExit(main())
