"""Serving latency of the production model through MLflow's scoring server, over HTTP.

    python -m tests.benchmarks.serving_latency            # temporary stack, default model
    HOUSING_MODEL__FAMILY=random_forest python -m tests.benchmarks.serving_latency
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python -m tests.benchmarks.serving_latency --existing

By default it starts a throw-away MLflow and Prefect server, trains the configured model,
promotes it and serves `@production` with `housing-serve`; `--existing` serves the production
model of the tracking server in force instead. Then: 200 sequential single-row requests on one
keep-alive connection (p50, p99) and 1000-row requests. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from housing_core.data.split import split_frame
from housing_core.serving.payloads import serving_payload
from tests import servers

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATA = REPO.parent / "shared" / "data" / "housing.csv"
TARGETS = {"p50_ms": 10.0, "p99_ms": 25.0, "batch_1000_ms": 100.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", action="store_true", help="serve the tracking server's model")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    data = os.environ.get("HOUSING_DATA__SOURCE", str(DATA))
    rows = split_frame(pd.read_csv(data)).test

    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        started: list[servers.Server] = []
        try:
            env = dict(os.environ) if args.existing else _stack(Path(tmp), data, started)
            port = servers.free_port()
            url = f"http://127.0.0.1:{port}"
            server = servers.start(
                "housing-serve",
                [str(BIN / "housing-serve"), "--port", str(port)],
                {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"},
                f"{url}/ping",
                Path(tmp) / "serve.log",
                url,
            )
            started.append(server)
            served = [line for line in server.log.read_text().splitlines() if "serving" in line]
            print(served[0].split("housing-serve ", 1)[-1] if served else "serving ?")
            _measure(url, rows, args.requests)
        finally:
            for running in reversed(started):
                running.stop()
    return 0


def _stack(tmp: Path, data: str, started: list[servers.Server]) -> dict[str, str]:
    """Throw-away MLflow + Prefect servers, one trained and promoted model."""
    mlflow_server = servers.start_mlflow(tmp / "mlflow")
    started.append(mlflow_server)
    prefect_server = servers.start_prefect(tmp / "prefect")
    started.append(prefect_server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        {
            "MLFLOW_TRACKING_URI": mlflow_server.url,
            "PREFECT_API_URL": prefect_server.url,
            "PREFECT_HOME": str(tmp / "prefect-client"),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(tmp / "results"),
            "HOUSING_DATA__SOURCE": data,
            "HOUSING_STATE_DIR": str(tmp / "state"),
        }
    )
    for module in ("flows.training", "flows.promotion"):
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", module], cwd=REPO, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module} failed:\n{done.stderr[-3000:]}")
        print(f"{module}: {time.perf_counter() - t0:.1f} s")
    return env


def _measure(url: str, rows: pd.DataFrame, n_requests: int) -> None:
    singles = [serving_payload(rows.iloc[[i % len(rows)]]) for i in range(n_requests)]
    batch = serving_payload(rows.head(1000))
    with httpx.Client(base_url=url, timeout=60) as client:  # one keep-alive connection
        for payload in singles[:20]:  # warm-up: imports, first-call caches
            client.post("/invocations", json=payload).raise_for_status()
        latencies = []
        for payload in singles:
            t0 = time.perf_counter()
            client.post("/invocations", json=payload).raise_for_status()
            latencies.append((time.perf_counter() - t0) * 1000)
        batches = []
        for _ in range(6):
            t0 = time.perf_counter()
            response = client.post("/invocations", json=batch)
            batches.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
            assert len(response.json()["predictions"]) == 1000
    figures = {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "batch_1000_ms": float(np.median(batches[1:])),
    }
    print(f"single row, {n_requests} sequential keep-alive requests:")
    print(
        f"  p50 {figures['p50_ms']:.1f} ms   p99 {figures['p99_ms']:.1f} ms   "
        f"max {max(latencies):.1f} ms"
    )
    print(
        f"1000 rows in one request: first {batches[0]:.0f} ms, median of next 5 "
        f"{figures['batch_1000_ms']:.0f} ms"
    )
    for name, value in figures.items():
        verdict = "ok" if value <= TARGETS[name] else "OVER TARGET"
        print(f"  {name:>14}: {value:7.1f} (target <= {TARGETS[name]:g}) {verdict}")


if __name__ == "__main__":
    sys.exit(main())
