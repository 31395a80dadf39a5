"""The training flow at 1, 10, 50 and 250 times the data: time and memory, step by step.
Prints figures; asserts nothing.

    python -m tests.benchmarks.scale --factors 1,10,50,250
    python -m tests.benchmarks.scale --factors 1,10 --latency-rows 200

Starts a real MLflow and Prefect server on loopback, then for each factor writes that many
times the shared data's rows as jittered copies (new rows from real ones:
tests/benchmarks/synthetic.py) into a temporary folder, never committed; factor 1 is the data
itself. It runs `python -m flows.training` on them as a user does, sampling the resident
memory of the flow's process tree every 0.2 s, and prints one JSON line per factor:

- `factor`, `rows`, `flow_seconds`, `peak_rss_gb`;
- `steps`: each task's seconds and the peak RSS while it ran (from the Prefect API's task runs);
- `model_mb`: the registered version's files, as a server downloads them;
- `single_row_p50_ms`: one row a call through the version's pyfunc, in process, one thread.

A last line compares each step's growth from the second factor to the last with n log n.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
from threadpoolctl import threadpool_limits

from housing_core.data.contract import FEATURE_COLUMNS
from tests.benchmarks import processes, stack
from tests.benchmarks.synthetic import write_jittered_csv

MODEL = "housing_price_predictor"
GB = 1024**3


def task_runs(prefect_api: str, flow_run_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = httpx.post(
        f"{prefect_api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "EXPECTED_START_TIME_ASC"},
        timeout=30,
    ).json()
    return runs


def steps_of(runs: list[dict[str, Any]], memory: processes.PeakRss) -> dict[str, dict[str, float]]:
    steps: dict[str, dict[str, float]] = {}
    for run in runs:
        if not run["start_time"] or not run["end_time"]:
            continue
        start = datetime.fromisoformat(run["start_time"]).timestamp()
        end = datetime.fromisoformat(run["end_time"]).timestamp()
        name = run["name"].rsplit("-", 1)[0]  # "train-model-0a1" -> "train-model"
        steps[name] = {
            "seconds": round(end - start, 2),
            "peak_rss_gb": round(memory.peak_between(start, end) / GB, 2),
        }
    return steps


def version_figures(
    version: str, rows: pd.DataFrame, latency_rows: int, tmp: Path
) -> dict[str, float]:
    """The version's size as downloaded, and its single-row p50 in process."""
    folder = Path(
        mlflow.artifacts.download_artifacts(f"models:/{MODEL}/{version}", dst_path=str(tmp))
    )
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    model = mlflow.pyfunc.load_model(str(folder))
    sample = rows.loc[:, list(FEATURE_COLUMNS)].head(latency_rows)
    times = []
    with threadpool_limits(1):
        model.predict(sample.iloc[[0]])  # warm
        for i in range(len(sample)):
            row = sample.iloc[[i]]
            started = time.perf_counter()
            model.predict(row)
            times.append(time.perf_counter() - started)
    return {
        "model_mb": round(size / 2**20, 1),
        "single_row_p50_ms": round(statistics.median(times) * 1000, 2),
    }


def growth(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """Each step's time ratio between the second and the last factor, beside n log n's."""
    first, last = figures[1], figures[-1]
    n0, n1 = first["rows"], last["rows"]
    nlogn = (n1 * math.log(n1)) / (n0 * math.log(n0))
    ratios = {
        name: round(last["steps"][name]["seconds"] / step["seconds"], 1)
        for name, step in first["steps"].items()
        if name in last["steps"] and step["seconds"] >= 0.5
    }
    return {
        "from_factor": first["factor"],
        "to_factor": last["factor"],
        "n_log_n_ratio": round(nlogn, 1),
        "step_ratios": ratios,
        "faster_than_n_log_n": sorted(k for k, v in ratios.items() if v > nlogn),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.scale")
    parser.add_argument("--factors", default="1,10,50,250")
    parser.add_argument("--latency-rows", type=int, default=300)
    args = parser.parse_args()
    factors = [int(f) for f in args.factors.split(",")]
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"

    root = Path(tempfile.mkdtemp(prefix="housing-scale-"))
    mlflow_server, prefect, env = stack.start(root)
    mlflow.set_tracking_uri(mlflow_server.url)
    real = pd.read_csv(env["HOUSING_DATA__SOURCE"])
    figures: list[dict[str, Any]] = []
    try:
        for factor in factors:
            rows = len(real) * factor
            data = (
                Path(env["HOUSING_DATA__SOURCE"])
                if factor == 1
                else write_jittered_csv(real, rows, root / f"x{factor}.csv", seed=factor)
            )
            ran = processes.run(
                [sys.executable, "-m", "flows.training"],
                {**env, "HOUSING_DATA__SOURCE": str(data)},
            )
            summary = json.loads(ran.stdout.strip().splitlines()[-1])
            figure: dict[str, Any] = {
                "factor": factor,
                "rows": rows,
                "flow_seconds": round(ran.seconds, 1),
                "peak_rss_gb": round(ran.peak_rss / GB, 2),
                "steps": steps_of(task_runs(prefect.url, summary["flow_run_id"]), ran.memory),
            }
            if summary["registered_version"]:
                figure |= version_figures(
                    summary["registered_version"], real, args.latency_rows, root / f"v{factor}"
                )
            figures.append(figure)
            print(json.dumps(figure), flush=True)
            if factor != 1:
                data.unlink()
        if len(figures) >= 3:
            print(json.dumps({"growth": growth(figures)}))
    finally:
        mlflow_server.stop()
        prefect.stop()


if __name__ == "__main__":
    main()
