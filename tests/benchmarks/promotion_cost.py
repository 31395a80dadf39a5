"""What the promotion flow costs: the whole run, and its scoring step, for a few versions.

    python -m tests.benchmarks.promotion_cost               # 3 versions, 3 dry runs
    python -m tests.benchmarks.promotion_cost --versions 5 --runs 5

Starts a throw-away MLflow and Prefect server, registers N small forests (same code, other
hyperparameters), then times `python -m flows.promotion --dry-run` as an operator runs it:
wall time of the process, and the `score-versions` task's own run time read from the Prefect
API (download, load, score on the shared rows, smoke test: where version isolation costs).
Figures, not pass/fail. It talks to the flows only through their command line, so the same
file measures an older checkout too (copy it there and run it from that checkout's root).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests import servers

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "housing.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = os.environ.get("HOUSING_DATA__SOURCE", str(DATA))
    with tempfile.TemporaryDirectory(prefix="promotion-bench-") as tmp:
        root = Path(tmp)
        started = [servers.start_mlflow(root / "mlflow"), servers.start_prefect(root / "prefect")]
        try:
            env = _environment(root, data, started[0].url, started[1].url)
            for n in range(args.versions):
                trees = {"HOUSING_MODEL__N_ESTIMATORS": str(20 + 5 * n)}
                _run("flows.training", {**env, **trees})
            walls, scoring = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                summary = _run("flows.promotion", env, "--dry-run")
                walls.append(time.perf_counter() - t0)
                scoring.append(_task_seconds(started[1].url, summary["flow_run_id"]))
        finally:
            for server in reversed(started):
                server.stop()
    print(f"checkout: {REPO}")
    print(f"{args.versions} versions scored per run, {args.runs} runs of --dry-run")
    print(f"  flow process: {_spread(walls)}")
    print(f"  score-versions task: {_spread(scoring)}")
    return 0


def _environment(root: Path, data: str, tracking: str, prefect: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HOUSING_"))}
    env.update(
        {
            "MLFLOW_TRACKING_URI": tracking,
            "PREFECT_API_URL": prefect,
            "PREFECT_HOME": str(root / "prefect-client"),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(root / "results"),
            "HOUSING_DATA__SOURCE": data,
            "HOUSING_STATE_DIR": str(root / "state"),
            "HOUSING_MODEL__FAMILY": "random_forest",
            "HOUSING_MODEL__MAX_DEPTH": "12",
        }
    )
    return env


def _run(module: str, env: dict[str, str], *args: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _task_seconds(prefect_api: str, flow_run_id: str) -> float:
    runs = httpx.post(
        f"{prefect_api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [flow_run_id]}}},
        timeout=30,
    ).json()
    (scoring,) = [r for r in runs if r["name"].startswith("score-versions")]
    return float(scoring["total_run_time"])


def _spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f})"
    )


if __name__ == "__main__":
    sys.exit(main())
