"""What serving holds: latency of one client, load of eight, against the model's own rate.

    python -m tests.benchmarks.serving_latency            # temporary stack, default model
    python -m tests.benchmarks.serving_latency --load-seconds 20
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python -m tests.benchmarks.serving_latency --existing

By default it starts a throw-away MLflow and Prefect server, trains the configured model,
promotes it and serves `@production` with `housing-serve --workers 2`; `--existing` serves the
production model of the tracking server in force instead. The load comes from `wrk` (Debian's
package: `apt-get install wrk`), a compiled client that leaves the cores to the server:

1. one keep-alive client for 20 s, one row a request: p50 and p99; then 1000-row requests;
2. eight keep-alive clients for 60 s: throughput, p50, p99, errors, and each worker's RSS at
   the start and at the end;
3. the in-process rate: rows a second of the loaded model on one core, one row a call, in the
   version's own process; the served throughput as a share of that rate times the cores.

Figures against the targets, not pass/fail. Bodies are encoded once, before the clock
starts, as `wrk` sends them: the figures are the server's, not the client's JSON encoder's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

from housing_core.data.split import split_frame
from housing_core.isolation.payloads import serving_payload
from tests import servers

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DATA = REPO.parent / "shared" / "data" / "housing.csv"
TARGETS = {
    "one client p50 (ms)": ("<=", 5.0),
    "one client p99 (ms)": ("<=", 10.0),
    "1000 rows (ms)": ("<=", 50.0),
    "8 clients errors": ("<=", 0.0),
    "8 clients share of in-process rate x cores": (">=", 0.5),
    "worker RSS change (%)": ("<=", 10.0),
}
_RATE_SCRIPT = """
import os, sys, time
import mlflow.pyfunc, pandas as pd
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.read_parquet(sys.argv[2])
singles = [rows.iloc[[i]] for i in range(len(rows))]
for row in singles[:50]:
    model.predict(row)
done, started = 0, time.perf_counter()
while time.perf_counter() - started < float(sys.argv[3]):
    model.predict(singles[done % len(singles)])
    done += 1
print(done / (time.perf_counter() - started))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", action="store_true", help="serve the tracking server's model")
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk")
        return 2
    data = os.environ.get("HOUSING_DATA__SOURCE", str(DATA))
    rows = split_frame(pd.read_csv(data)).test
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        started: list[servers.Server] = []
        try:
            env = dict(os.environ) if args.existing else _stack(Path(tmp), data, started)
            server = servers.start_housing_serve(
                env, Path(tmp) / "serve.log", "--workers", str(args.workers)
            )
            started.append(server)
            _measure(server.url, rows, Path(tmp), args)
        finally:
            for running in reversed(started):
                running.stop()
    return 0


def _stack(tmp: Path, data: str, started: list[servers.Server]) -> dict[str, str]:
    """Throw-away MLflow + Prefect servers, one trained and promoted model."""
    started.append(servers.start_mlflow(tmp / "mlflow"))
    started.append(servers.start_prefect(tmp / "prefect"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        {
            "MLFLOW_TRACKING_URI": started[0].url,
            "PREFECT_API_URL": started[1].url,
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


def _measure(url: str, rows: pd.DataFrame, tmp: Path, args: argparse.Namespace) -> None:
    model = httpx.get(f"{url}/model", timeout=30).json()
    print(f"serving {model['name']} v{model['version']} with {len(model['workers'])} workers")
    script = tmp / "post.lua"
    body = json.dumps(serving_payload(rows.iloc[[0]]))
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    figures: dict[str, float] = {}

    one = _wrk(url, script, threads=1, connections=1, seconds=20)
    figures["one client p50 (ms)"], figures["one client p99 (ms)"] = one["p50"], one["p99"]
    print(
        f"1. one client, one row, 20 s: {one['rps']:.0f} req/s, p50 {one['p50']:.2f} ms, "
        f"p99 {one['p99']:.2f} ms"
    )
    batch = json.dumps(serving_payload(rows.head(1000))).encode()
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=60) as client:
        timings = []
        for _ in range(11):
            t0 = time.perf_counter()
            client.post("/invocations", content=batch, headers=headers).raise_for_status()
            timings.append((time.perf_counter() - t0) * 1000)
    figures["1000 rows (ms)"] = statistics.median(timings[1:])
    print(
        f"   1000 rows a request: median {figures['1000 rows (ms)']:.1f} ms "
        f"(min {min(timings[1:]):.1f}, max {max(timings[1:]):.1f})"
    )

    workers = [int(pid) for pid in model["workers"]]
    rss_start = {pid: _rss_mb(pid) for pid in workers}
    load = _wrk(url, script, threads=2, connections=8, seconds=args.load_seconds)
    rss_end = {pid: _rss_mb(pid) for pid in workers}
    figures["8 clients errors"] = load["errors"]
    print(
        f"2. eight clients, {args.load_seconds:.0f} s, {len(workers)} workers: "
        f"{load['rps']:.0f} req/s, p50 {load['p50']:.2f} ms, p99 {load['p99']:.2f} ms, "
        f"{load['errors']:.0f} errors"
    )
    for pid in workers:
        print(f"   worker {pid}: RSS {rss_start[pid]:.0f} MB -> {rss_end[pid]:.0f} MB")
    figures["worker RSS change (%)"] = max(
        abs(rss_end[p] - rss_start[p]) / rss_start[p] * 100 for p in workers
    )

    rate = _in_process_rate(Path(model["model_dir"]), rows.head(200), tmp, model["interpreter"])
    cores = len(os.sched_getaffinity(0))
    share = load["rps"] / (rate * cores)
    figures["8 clients share of in-process rate x cores"] = share
    print(
        f"3. in process, one core, one row a call: {rate:.0f} rows/s; served {load['rps']:.0f} "
        f"req/s = {share:.0%} of {rate:.0f} x {cores} cores"
    )

    print("\ntargets:")
    for name, (rule, target) in TARGETS.items():
        value = figures[name]
        met = value <= target if rule == "<=" else value >= target
        print(
            f"  {name:<45} {value:>9.2f}  (target {rule} {target:g})  {'ok' if met else 'MISSED'}"
        )


def _wrk(
    url: str, script: Path, *, threads: int, connections: int, seconds: float
) -> dict[str, float]:
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "--latency",
            "-s",
            str(script),
            f"{url}/invocations",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    out = done.stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "errors": float(errors),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def _in_process_rate(model_dir: Path, rows: pd.DataFrame, tmp: Path, python: str) -> float:
    """Rows a second of the served version's model on one core, in its own interpreter."""
    sample = tmp / "rows.parquet"
    rows.drop(columns=["median_house_value"]).to_parquet(sample, index=False)
    done = subprocess.run(
        [python, "-I", "-c", _RATE_SCRIPT, str(model_dir), str(sample), "10"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return float(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
