"""Sweep throughput: trials per minute with one Dask worker and with two, side by side.

    python -m tests.benchmarks.sweep_throughput [--trials 8] [--parallelism 2] [--space FILE]

Starts an MLflow and a Prefect server and a Dask scheduler on loopback, then runs
`python -m flows.sweep` (no registration) once against one worker and once against two
single-threaded workers, each time with its own study and an empty cache, so every trial is
computed. Prints one JSON line per cluster size: the trials' window (first trial start to
last trial end, from the Prefect API), trials per minute over it, the whole flow's time, and
how many trials each worker ran; then the ratio of the two.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx

from deployments import services
from tests import servers
from tests.benchmarks import stack

REPO = stack.REPO


def trial_window_s(prefect_api: str, flow_run_id: str) -> float:
    """First trial start to last trial end, in seconds."""
    response = httpx.post(
        f"{prefect_api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200},
        timeout=30,
    )
    response.raise_for_status()
    runs = [r for r in response.json() if r["name"].startswith("sweep-trial-")]
    starts = [datetime.fromisoformat(r["start_time"]) for r in runs]
    ends = [datetime.fromisoformat(r["end_time"]) for r in runs]
    return (max(ends) - min(starts)).total_seconds()


def wait_for_workers(address: str, count: int, timeout: float = 60) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    with Client(address, timeout=30) as client:
        while len(client.scheduler_info()["workers"]) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} Dask workers after {timeout:.0f} s")
            time.sleep(0.5)


def run_sweep(
    root: Path, env: dict[str, str], address: str, args: argparse.Namespace, label: str
) -> dict[str, object]:
    suffix = f"{label}-{uuid.uuid4().hex[:6]}"
    run_env = {
        **env,
        "HOUSING_DASK__ADDRESS": address,
        "HOUSING_STATE_DIR": str(root / f"state-{suffix}"),
        "HOUSING_SWEEP__STUDY_NAME": f"bench-{suffix}",
        "HOUSING_SWEEP__EXPERIMENT_NAME": f"bench_sweeps_{suffix}",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(root / f"results-{suffix}"),  # cache empty
    }
    command = [sys.executable, "-m", "flows.sweep", "--no-register"]
    command += ["--trials", str(args.trials), "--parallelism", str(args.parallelism)]
    command += ["--space", args.space]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=run_env, capture_output=True, text=True)
    flow_s = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sweep failed:\n{done.stderr[-4000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    window = trial_window_s(env["PREFECT_API_URL"], summary["flow_run_id"])
    complete = [t for t in summary["trials"] if t["state"] == "complete"]
    return {
        "workers": label,
        "trials": len(complete),
        "trial_window_s": round(window, 1),
        "trials_per_minute": round(60 * len(complete) / window, 2),
        "flow_seconds": round(flow_s, 1),
        "trials_by_worker": dict(Counter(t["worker"] for t in complete)),
        "best_validation_rmse": round(summary["best_validation_rmse"], 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--space", default="hist_gradient_boosting", help="file or family")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        root = Path(tmp)
        mlflow, prefect, env = stack.start(root)
        scheduler_spec = services.dask_scheduler(root, servers.free_port())
        scheduler = servers.start_spec(scheduler_spec, root / "scheduler.log", timeout=60)
        workers: list[servers.Server] = []
        try:
            results = []
            for count, name in ((1, "dask-a"), (2, "dask-b")):
                spec = services.dask_worker(name, scheduler_spec.url, root)
                workers.append(servers.start_spec(spec, root / f"{name}.log"))
                wait_for_workers(scheduler_spec.url, count)
                result = run_sweep(root, env, scheduler_spec.url, args, f"{count}")
                print(json.dumps(result), flush=True)
                results.append(result)
            ratio = float(results[1]["trials_per_minute"]) / float(  # type: ignore[arg-type]
                results[0]["trials_per_minute"]  # type: ignore[arg-type]
            )
            print(json.dumps({"two_over_one_worker": round(ratio, 2)}), flush=True)
        finally:
            for server in [*workers, scheduler, prefect, mlflow]:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
