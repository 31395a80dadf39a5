"""A registered version timed in process, in its own interpreter: the helper of standard_servers.

    python -I tests/benchmarks/in_process.py MODEL_DIR ROWS.parquet [--breakdown]

Run by path with `-I`, as the servers run a version: only the standard library, MLflow, pandas,
numpy, threadpoolctl and the version's own code (MLflow's loader puts it on `sys.path`). It
prints one JSON object: the pyfunc model's and the bare scikit-learn pipeline's single-row p50
and 1000-row median (ms), the 1000 rows' predictions, and with `--breakdown` where a request's
time goes: MLflow's request handler against its parts, each pipeline step, OpenMP threads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models.utils import _enforce_schema
from mlflow.pyfunc import scoring_server
from threadpoolctl import threadpool_info, threadpool_limits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("rows")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--single-seconds", type=float, default=3.0)
    args = parser.parse_args()
    model = scoring_server.load_model_with_mlflow_config(args.model_dir)  # as both servers do
    pipeline = model._model_impl.get_raw_model()
    rows = pd.read_parquet(args.rows)
    one, batch = rows.iloc[[0]], rows.head(1000)
    budget = args.single_seconds
    figures: dict[str, Any] = {
        "pyfunc_one_ms": single(lambda: model.predict(one), budget),
        "sklearn_one_ms": single(lambda: pipeline.predict(one), budget),
        "pyfunc_1000_ms": batch_median(lambda: model.predict(batch)),
        "sklearn_1000_ms": batch_median(lambda: pipeline.predict(batch)),
        "predictions_1000": [float(p) for p in model.predict(batch)],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
    }
    if args.breakdown:
        figures["breakdown"] = breakdown(model, pipeline, one, batch, budget)
    print(json.dumps(figures))
    return 0


def single(call: Callable[[], object], seconds: float) -> float:
    """p50 of back-to-back calls for about `seconds`, in ms, after a warm-up."""
    for _ in range(30):
        call()
    timings: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(timings) < 50:
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def batch_median(call: Callable[[], object], repeats: int = 11) -> float:
    """Median of `repeats` calls after one warm-up, in ms."""
    call()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def body_of(frame: pd.DataFrame) -> bytes:
    """A `dataframe_split` body, as the benchmark sends it (NaN as null)."""
    data = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return json.dumps({"dataframe_split": {"columns": list(frame.columns), "data": data}}).encode()


def breakdown(
    model: Any, pipeline: Any, one: pd.DataFrame, batch: pd.DataFrame, budget: float
) -> dict[str, Any]:
    """Each part of a request, for one row and for 1000 (ms; one row: p50, 1000: median)."""
    schema = model.metadata.get_input_schema()
    parts: dict[str, Any] = {}
    for label, frame in (("one", one), ("1000", batch)):
        body = body_of(frame)
        decoded = json.loads(body)
        parsed = scoring_server.infer_and_parse_data(decoded, schema)
        predictions = model.predict(parsed)

        def time_it(call: Callable[[], object], label: str = label) -> float:
            return single(call, budget / 4) if label == "one" else batch_median(call)

        parts[label] = {
            "invocations (MLflow's handler, whole)": time_it(
                lambda b=body: scoring_server.invocations(b, "application/json", model, schema)
            ),
            "  json.loads": time_it(lambda b=body: json.loads(b)),
            "  DataFrame from the JSON": time_it(
                lambda d=decoded: scoring_server.infer_and_parse_data(d, None)
            ),
            "  ... and cast to the signature": time_it(
                lambda d=decoded: scoring_server.infer_and_parse_data(d, schema)
            ),
            "  pyfunc predict": time_it(lambda p=parsed: model.predict(p)),
            "    _enforce_schema": time_it(lambda p=parsed: _enforce_schema(p, schema)),
            "    scikit-learn pipeline": time_it(lambda p=parsed: pipeline.predict(p)),
            "  predictions_to_json": time_it(
                lambda p=predictions: scoring_server.predictions_to_json(p, StringIO())
            ),
            "pipeline steps": steps(pipeline, frame, time_it),
            "thread hop": hop(
                lambda b=body: scoring_server.invocations(b, "application/json", model, schema),
                time_it,
            ),
        }
    parts["openmp"] = openmp(pipeline, one, batch, budget)
    return parts


def steps(pipeline: Any, frame: pd.DataFrame, time_it: Callable[..., float]) -> dict[str, float]:
    """Each step's own call on the previous step's output, and what Pipeline adds around them."""
    timings: dict[str, float] = {}
    data: Any = frame
    for name, step in pipeline.steps[:-1]:
        timings[name] = time_it(lambda s=step, d=data: s.transform(d))
        data = step.transform(data)
    name, estimator = pipeline.steps[-1]
    timings[name] = time_it(lambda d=data: estimator.predict(d))
    whole = time_it(lambda: pipeline.predict(frame))
    timings["Pipeline.predict (whole)"] = whole
    timings["Pipeline's own overhead"] = whole - sum(
        v for k, v in timings.items() if k != "Pipeline.predict (whole)"
    )
    return timings


def hop(call: Callable[[], object], time_it: Callable[..., float]) -> dict[str, float]:
    """MLflow's handler on an event loop inline (as housing-serve calls it) and through
    `asyncio.to_thread` (as MLflow's server does): what the hop to a thread and back costs."""
    loop = asyncio.new_event_loop()

    async def inline() -> object:
        return call()

    try:
        return {
            "on the event loop": time_it(lambda: loop.run_until_complete(inline())),
            "in asyncio.to_thread": time_it(
                lambda: loop.run_until_complete(asyncio.to_thread(call))
            ),
        }
    finally:
        loop.close()


def openmp(pipeline: Any, one: pd.DataFrame, batch: pd.DataFrame, budget: float) -> dict[str, Any]:
    """Threads: one OpenMP thread against the default, and a team per calling thread."""
    found: dict[str, Any] = {
        "openmp default threads": [
            i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"
        ],
        "cores": len(os.sched_getaffinity(0)),
        "1000 rows, default threads": batch_median(lambda: pipeline.predict(batch)),
    }
    with threadpool_limits(limits=1, user_api="openmp"):
        found["1000 rows, 1 OpenMP thread"] = batch_median(lambda: pipeline.predict(batch))
        found["one row, 1 OpenMP thread"] = single(lambda: pipeline.predict(one), budget / 4)
    found["one row, default threads"] = single(lambda: pipeline.predict(one), budget / 4)
    members = getattr(getattr(pipeline.steps[-1][1], "regressor_", None), "estimators_", None)
    if members:  # the boosted trees called directly: what the model did before it chose
        matrix = pipeline[:-1].transform(batch)
        trees = lambda: sum(m.predict(matrix) for m in members)  # noqa: E731
        found["1000 rows, the trees alone, default threads"] = batch_median(trees)
        with threadpool_limits(limits=1, user_api="openmp"):
            found["1000 rows, the trees alone, 1 OpenMP thread"] = batch_median(trees)
    # MLflow's server predicts in asyncio.to_thread's threads: an OpenMP team is per calling
    # thread, and a limit set with threadpoolctl in one thread does not reach the others
    before = _threads()

    async def in_threads() -> list[float]:
        timings = []
        for _ in range(11):
            started = time.perf_counter()
            await asyncio.gather(*(asyncio.to_thread(pipeline.predict, batch) for _ in range(4)))
            timings.append((time.perf_counter() - started) * 1000 / 4)
        return timings

    found["1000 rows, 4 at once in to_thread (per request)"] = statistics.median(
        asyncio.run(in_threads())
    )
    found["OS threads before / after predicting in to_thread"] = [before, _threads()]
    with threadpool_limits(limits=1, user_api="openmp"):
        found["1000 rows in to_thread, limit set in the caller's thread only"] = batch_median(
            lambda: asyncio.run(asyncio.to_thread(pipeline.predict, batch))
        )
    return found


def _threads() -> int:
    with Path("/proc/self/status").open() as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


if __name__ == "__main__":
    sys.exit(main())
