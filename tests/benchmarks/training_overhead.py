"""What Prefect and MLflow cost, and what caching saves. Prints figures; asserts nothing.

    python -m tests.benchmarks.training_overhead

Starts a real Prefect server and MLflow server on loopback (as in production), then times, each
in a fresh process as a user runs them:
  (a) the plain pipeline: same steps, same model, no Prefect or MLflow;
  (b) the training flow, first run (empty cache);
  (c) an identical re-run;
  (d) a re-run with one hyperparameter changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from housing_core.settings import load_settings
from tests.benchmarks import stack

REPO = Path(__file__).resolve().parents[2]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    launched = time.time()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return elapsed, done.stdout.strip().splitlines()[-1], launched


def task_runs(prefect_api: str, flow_run_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = httpx.post(
        f"{prefect_api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "sort": "EXPECTED_START_TIME_ASC"},
        timeout=30,
    ).json()
    return runs


def first_task_start(runs: list[dict[str, Any]]) -> float:
    return min(datetime.fromisoformat(r["start_time"]).timestamp() for r in runs if r["start_time"])


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="housing-bench-"))
    mlflow, prefect, env = stack.start(root)
    source = env["HOUSING_DATA__SOURCE"]
    try:
        model = load_settings().model
        print(f"model: {model.family}; data: {source}")

        a, line, _ = timed([sys.executable, "-m", "tests.benchmarks.plain_pipeline"], env)
        print(line)
        b, summary, launched = timed([sys.executable, "-m", "flows.training"], env)
        steps = task_runs(prefect.url, json.loads(summary)["flow_run_id"])
        startup = first_task_start(steps) - launched
        c, _, _ = timed([sys.executable, "-m", "flows.training"], env)
        changed = (
            ("HOUSING_MODEL__MAX_ITER", str(model.max_iter + 1))
            if model.family == "hist_gradient_boosting"
            else ("HOUSING_MODEL__N_ESTIMATORS", str(model.n_estimators + 1))
        )
        d, _, _ = timed([sys.executable, "-m", "flows.training"], {**env, changed[0]: changed[1]})
    finally:
        mlflow.stop()
        prefect.stop()

    print(f"(a) plain script             {a:6.1f} s")
    print(f"(b) flow, first run          {b:6.1f} s   b/a = {b / a:.2f}  (target <= 1.3)")
    print(f"(c) identical re-run         {c:6.1f} s   c/b = {c / b:.2f}")
    print(
        f"(d) re-run, {changed[0].split('__')[-1].lower()} changed {d:6.1f} s   d/b = {d / b:.2f}"
    )
    print(
        f"fixed start-up of (b): {startup:.1f} s (process launch to first task: imports, "
        f"flow-run creation)"
    )
    print("steps of (b), seconds:")
    for step in steps:
        print(f"  {step['name'].rsplit('-', 1)[0]:24} {step['total_run_time']:6.2f}")


if __name__ == "__main__":
    main()
