"""What batch scoring costs: rows/s and peak memory of `python -m flows.scoring`, beside
`mlflow models predict` on the same model and the same rows. Prints figures; asserts nothing.

    python -m tests.benchmarks.batch_scoring                    # 20k, 1M and 5M rows
    python -m tests.benchmarks.batch_scoring --rows 20000,1000000 --skip-mlflow
    python -m tests.benchmarks.batch_scoring --rows 20000 --skip-mlflow --dask   # and on Dask

Starts a real MLflow and Prefect server on loopback, trains the configured model and releases
it to `production`, then, for each size, writes that many jittered rows (tests/benchmarks/
synthetic.py) as a CSV in a temporary folder and prices them with the scoring flow as a user
runs it, sampling the resident memory of the flow's whole process tree (the flow and the
version's processes) every 0.2 s. `mlflow models predict` (local env manager, the same
version) prices the 1M-row CSV for comparison, and so does the version's own pipeline called
in this process with every core, reading and writing left out: the ceiling both can reach
with the same predictions (docs/scoring-and-drift.md, "Speed"). The drift check's own time
at 1M rows is `tests/benchmarks/drift_check`'s; the scoring flow's includes it.

With `--dask` it also starts a loopback Dask scheduler and two one-thread workers and prices
each size again on that cluster (HOUSING_DASK__ADDRESS), in partitions of `--partition-rows`;
the peak memory then adds the two workers' process trees to the flow's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from deployments import services
from tests import servers
from tests.benchmarks import processes, stack
from tests.benchmarks.synthetic import write_jittered_csv

REPO = Path(__file__).resolve().parents[2]
MODEL = "housing_price_predictor"


def run(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(seconds, peak RSS of the process tree in bytes, stdout) of one command."""
    ran = processes.run(command, env)
    return ran.seconds, ran.peak_rss, ran.stdout


def in_process_rate(data: Path, env: dict[str, str]) -> dict[str, Any]:
    """The ceiling: the version's scikit-learn pipeline called in this process on the same rows,
    50,000 at a time, with its default thread pool (every core), no reading or writing timed."""
    import mlflow.sklearn

    from housing_core.data.rows import check_rows

    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    model = mlflow.sklearn.load_model(f"models:/{MODEL}@production")
    frame = pd.read_csv(data)
    features = check_rows(frame, str(data)).features
    started = time.perf_counter()
    for start in range(0, len(features), 50_000):
        model.predict(features.iloc[start : start + 50_000])
    seconds = time.perf_counter() - started
    return {
        "in_process_pipeline_rows": len(features),
        "seconds": round(seconds, 1),
        "rows_per_s": round(len(features) / seconds),
    }


def start_cluster(root: Path) -> list[servers.Server]:
    """A Dask scheduler and two one-thread workers on loopback: [scheduler, worker, worker]."""
    from distributed import Client

    spec = services.dask_scheduler(root, servers.free_port())
    started = [servers.start_spec(spec, root / "scheduler.log", timeout=60)]
    for name in ("dask-a", "dask-b"):
        worker = services.dask_worker(name, spec.url, root)
        started.append(servers.start_spec(worker, root / f"{name}.log"))
    deadline = time.monotonic() + 120
    with Client(spec.url, timeout=30) as client:
        while len(client.scheduler_info()["workers"]) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the two Dask workers did not register within 120 s")
            time.sleep(0.5)
    return started


def on_cluster(
    data: Path,
    root: Path,
    env: dict[str, str],
    cluster: list[servers.Server],
    partition_rows: int,
) -> dict[str, Any]:
    """The same rows priced on the cluster: seconds, rows/s, and the peak memory of the flow's
    tree plus the workers' trees (sampled together)."""
    out = root / "priced-on-dask.parquet"
    command = [sys.executable, "-m", "flows.scoring", "--source", str(data)]
    command += ["--destination", str(out)]
    dask_env = {
        **env,
        "HOUSING_DASK__ADDRESS": cluster[0].url,
        "HOUSING_SCORING__PARTITION_ROWS": str(partition_rows),
    }
    ran = processes.run(command, dask_env, also=[w.pid for w in cluster[1:]])
    summary = json.loads(ran.stdout.strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    rows = int(summary["rows"])
    return {
        "rows_on_dask": rows,
        "partitions": len(summary["partitions"]),
        "by_worker": {
            w: sum(p["worker"] == w for p in summary["partitions"]) for w in ("dask-a", "dask-b")
        },
        "flow_s": round(ran.seconds, 1),
        "rows_per_s_end_to_end": round(rows / ran.seconds),
        "peak_rss_mb_flow_and_workers": round(ran.peak_rss / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.batch_scoring")
    parser.add_argument("--rows", default="20000,1000000,5000000")
    parser.add_argument("--skip-mlflow", action="store_true", help="no `mlflow models predict`")
    parser.add_argument("--dask", action="store_true", help="each size on a loopback cluster too")
    parser.add_argument("--partition-rows", type=int, default=200_000)
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]

    root = Path(tempfile.mkdtemp(prefix="housing-batch-bench-"))
    mlflow, prefect, env = stack.start(root)
    source = env["HOUSING_DATA__SOURCE"]
    python = sys.executable
    cluster: list[servers.Server] = []
    try:
        if args.dask:
            cluster = start_cluster(root)
        seconds, _, _ = run([python, "-m", "flows.training"], env)
        print(f"trained the configured model in {seconds:.1f} s")
        run([python, "-m", "flows.promotion"], env)
        real = pd.read_csv(source)
        figures: list[dict[str, Any]] = []
        for size in sizes:
            data = write_jittered_csv(real, size, root / f"rows-{size}.csv")
            out = root / f"priced-{size}.parquet"
            seconds, peak, stdout = run(
                [python, "-m", "flows.scoring", "--source", str(data), "--destination", str(out)],
                env,
            )
            summary = json.loads(stdout.strip().splitlines()[-1])
            figure = {
                "rows": size,
                "flow_s": round(seconds, 1),
                "rows_per_s_end_to_end": round(size / seconds),
                "rows_per_s_scoring": summary["rows_per_second"],
                "peak_rss_mb": round(peak / 2**20),
                "drifted": summary["drifted"],
            }
            figures.append(figure)
            print(json.dumps(figure))
            if cluster:
                print(json.dumps(on_cluster(data, root, env, cluster, args.partition_rows)))
            if size != 1_000_000 or args.skip_mlflow:
                out.unlink(missing_ok=True)
                data.unlink()
                continue
            # MLflow's schema enforcement refuses the CSV as it is ("Can not safely convert
            # int64 to float64" for the whole-number columns): it gets the same rows with
            # every numeric column written as a float, the form the data contract hands a model
            floats = root / "rows-floats.csv"
            frame = pd.read_csv(data)
            numeric = frame.select_dtypes("number").columns
            frame[numeric] = frame[numeric].astype("float64")
            frame.to_csv(floats, index=False)
            del frame
            data.unlink()
            data = floats
            print(json.dumps(in_process_rate(data, env)))
            predicted = root / "mlflow-predict.json"
            seconds, peak, _ = run(
                [
                    str(Path(python).parent / "mlflow"),
                    "models",
                    "predict",
                    "-m",
                    f"models:/{MODEL}@production",
                    "-i",
                    str(data),
                    "-t",
                    "csv",
                    "-o",
                    str(predicted),
                    "--env-manager",
                    "local",
                ],
                env,
            )
            mine = next(f for f in figures if f["rows"] == size)
            theirs = pd.read_json(predicted)["predictions"].to_numpy(dtype="float64")
            ours = pd.read_parquet(out, columns=["predicted_median_house_value"])
            gap = abs(ours["predicted_median_house_value"].to_numpy() - theirs).max()
            out.unlink()
            print(
                json.dumps(
                    {
                        "mlflow_models_predict_rows": size,
                        "seconds": round(seconds, 1),
                        "rows_per_s": round(size / seconds),
                        "peak_rss_mb": round(peak / 2**20),
                        "flow_over_mlflow_rate": round(seconds / mine["flow_s"], 2),
                        "largest_price_difference": float(gap),
                    }
                )
            )
            data.unlink()
            predicted.unlink(missing_ok=True)
    finally:
        for server in [*cluster[::-1], mlflow, prefect]:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
