"""One registered version served by housing-serve and by `mlflow models serve`, against the
same version in process: the ratios the model must hold wherever it is served.

    python -m tests.benchmarks.standard_servers                 # temporary stack, default model
    python -m tests.benchmarks.standard_servers --breakdown     # and where a request's time goes
    python -m tests.benchmarks.standard_servers --rounds 3 --wrk-seconds 10

It starts a throw-away MLflow and Prefect server, trains and promotes the configured model (as
serving_latency does), then serves that one version two ways, one process each:

- `housing-serve` (`--workers 1`), and
- `mlflow models serve -m <the version's downloaded folder> --env-manager local` on 127.0.0.1,
  with the environment a platform would give it (no `OMP_NUM_THREADS` unless yours sets one).

For each: one row a request with `wrk` (one connection, `--wrk-seconds`): p50; and a 1000-row
body (pre-encoded) posted 11 times with httpx: the median of the last 10. In process, in the
version's own interpreter (tests/benchmarks/in_process.py): the pyfunc model's and the bare
scikit-learn pipeline's single-row p50 and 1000-row median. The machine is shared, so each
round measures all four back to back; the figures are the medians over `--rounds` rounds, a
ratio the median of the rounds' own ratios.
Targets, as ratios to the in-process pyfunc model: a server's single-row p50 <= 2x, its
1000-row time <= 1.3x. Figures, not pass/fail; the servers' answers must equal the in-process
predictions (the largest difference is printed and checked).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from housing_core.data.contract import features_of
from housing_core.data.split import split_frame
from housing_core.isolation.payloads import serving_payload
from tests import servers
from tests.benchmarks.serving_latency import BIN, DATA, REPO, _stack, _wrk

PROBE = Path(__file__).resolve().parent / "in_process.py"
TARGETS = {"one row": 2.0, "1000 rows": 1.3}  # a server's time over the in-process pyfunc time
SERVERS = ("housing-serve", "mlflow models serve")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--wrk-seconds", type=float, default=10.0)
    parser.add_argument("--breakdown", action="store_true", help="where a request's time goes")
    parser.add_argument(
        "--before",
        metavar="REF",
        help="also train and serve a version with this commit's code (model and housing-serve)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk")
        return 2
    data = os.environ.get("HOUSING_DATA__SOURCE", str(DATA))
    rows = features_of(split_frame(pd.read_csv(data)).test)
    with tempfile.TemporaryDirectory(prefix="standard-servers-") as tmp:
        root = Path(tmp)
        started: list[servers.Server] = []
        try:
            env = _stack(root, data, started)  # v1, this checkout's, in production
            runs: list[tuple[str, Path, str | None]] = [("this checkout", REPO, None)]
            if args.before:
                checkout = _worktree(args.before, root / "before")
                runs.insert(0, (f"before ({args.before})", checkout, _train(env, checkout)))
            results = {
                label: _serve_and_measure(label, env, checkout, pin, rows, root, args)
                for label, checkout, pin in runs
            }
            if args.before:
                _before_after(results)
        finally:
            for running in reversed(started):
                running.stop()
            if args.before:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(root / "before")], cwd=REPO
                )
    return 0


def _worktree(ref: str, where: Path) -> Path:
    """A detached checkout of `ref`, to train and serve with its code."""
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), ref],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return where


def _train(env: dict[str, str], checkout: Path) -> str:
    """Train the configured model with `checkout`'s code (its `housing_core` comes first on
    `sys.path`): the version it registered."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flows.training"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"training at {checkout} failed:\n{done.stderr[-3000:]}")
    summary = json.loads(next(x for x in reversed(done.stdout.splitlines()) if x.startswith("{")))
    print(
        f"flows.training at {checkout.name}: v{summary['registered_version']}, "
        f"{time.perf_counter() - started:.1f} s"
    )
    return str(summary["registered_version"])


def _serve_and_measure(
    label: str,
    env: dict[str, str],
    checkout: Path,
    pin: str | None,
    rows: pd.DataFrame,
    root: Path,
    args: Any,
) -> dict[str, float]:
    """Serve one version both ways (housing-serve of `checkout`), measure, stop both."""
    started: list[servers.Server] = []
    tmp = root / label.split()[0]
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        extra = ["--workers", "1", "--poll-interval", "0", *(["--pin", pin] if pin else [])]
        command = None if checkout == REPO else [sys.executable, "-m", "flows.serve"]
        served = servers.start_housing_serve(
            env, tmp / "serve.log", *extra, command=command, cwd=checkout
        )
        started.append(served)
        model = httpx.get(f"{served.url}/model", timeout=30).json()
        print(f"\n{label}: {model['name']} v{model['version']}, {model['model_dir']}")
        started.append(_mlflow_models_serve(Path(model["model_dir"]), tmp))
        urls = dict(zip(SERVERS, (served.url, started[-1].url), strict=True))
        return _measure(urls, model, rows, tmp, args)
    finally:
        for running in reversed(started):
            running.stop()


def _mlflow_models_serve(model_dir: Path, tmp: Path) -> servers.Server:
    """MLflow's own scoring server on the version's folder, as build-docker and platforms run it."""
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"  # it runs `uvicorn` from PATH
    command = [str(BIN / "mlflow"), "models", "serve", "-m", str(model_dir)]
    command += ["-h", "127.0.0.1", "-p", str(port), "--env-manager", "local"]
    return servers.start("mlflow models serve", command, env, f"{url}/ping", tmp / "mms.log", url)


def _measure(
    urls: dict[str, str], model: dict[str, Any], rows: pd.DataFrame, tmp: Path, args: Any
) -> dict[str, float]:
    sample = tmp / "rows.parquet"
    rows.head(1000).to_parquet(sample, index=False)
    script = tmp / "post.lua"
    body = json.dumps(serving_payload(rows.iloc[[0]]))
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    batch = json.dumps(serving_payload(rows.head(1000))).encode()
    rounds: list[dict[str, float]] = []
    worst = 0.0
    for number in range(1, args.rounds + 1):
        figures, expected = _in_process(model, sample)
        for name, url in urls.items():
            one = _wrk(url, script, threads=1, connections=1, seconds=args.wrk_seconds)
            figures[f"{name} one"] = one["p50"]
            figures[f"{name} 1000"], answer = _post_batch(url, batch)
            worst = max(worst, max(abs(a - b) for a, b in zip(answer, expected, strict=True)))
        rounds.append(figures)
        print(f"round {number}: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    for name in SERVERS:  # each round's servers against that round's in-process figures
        for key in ("one", "1000"):
            ratios = [r[f"{name} {key}"] / r[f"pyfunc {key}"] for r in rounds]
            medians[f"{name} {key} ratio"] = statistics.median(ratios)
    _table(medians, worst)
    if args.breakdown:
        _breakdown(model, sample)
    return medians


def _in_process(
    model: dict[str, Any], sample: Path, *extra: str
) -> tuple[dict[str, float], list[float]]:
    """The probe in the version's own interpreter, with the environment the servers get."""
    done = subprocess.run(
        [model["interpreter"], "-I", str(PROBE), model["model_dir"], str(sample), *extra],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))},
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    figures = {
        "pyfunc one": found["pyfunc_one_ms"],
        "sklearn one": found["sklearn_one_ms"],
        "pyfunc 1000": found["pyfunc_1000_ms"],
        "sklearn 1000": found["sklearn_1000_ms"],
    }
    if "breakdown" in found:
        figures["breakdown"] = found["breakdown"]  # type: ignore[assignment]
    return figures, found["predictions_1000"]


def _post_batch(url: str, batch: bytes) -> tuple[float, list[float]]:
    """Median of the last 10 of 11 posts of the pre-encoded 1000-row body (ms), and the answer."""
    headers = {"Content-Type": "application/json"}
    timings = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for _ in range(11):
            started = time.perf_counter()
            answer = client.post("/invocations", content=batch, headers=headers)
            timings.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
    return statistics.median(timings[1:]), [float(p) for p in answer.json()["predictions"]]


def _table(figures: dict[str, float], worst: float) -> None:
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"\nmedian over the rounds (ms); OMP_NUM_THREADS={threads}")
    print(f"  {'':<24} {'one row p50':>12} {'1000 rows':>10}")
    for name in ("pyfunc", "sklearn", *SERVERS):
        print(f"  {name:<24} {figures[f'{name} one']:>12.2f} {figures[f'{name} 1000']:>10.1f}")
    print("\nratios to the in-process pyfunc model (median of the rounds' own ratios):")
    for name in SERVERS:
        for label, key in (("one row", "one"), ("1000 rows", "1000")):
            ratio = figures[f"{name} {key} ratio"]
            target = TARGETS[label]
            met = "ok" if ratio <= target else "MISSED"
            print(f"  {name:<20} {label:<10} {ratio:>5.2f}x  (target <= {target:g}x)  {met}")
    print(f"\nlargest difference between a server's and the in-process predictions: {worst:.3g}")
    if worst > 1e-6:
        raise SystemExit("the servers' predictions differ from the model's in process")


def _before_after(results: dict[str, dict[str, float]]) -> None:
    """The same figures of the two versions side by side, from this one run."""
    (before, old), (after, new) = results.items()
    print(f"\nbefore and after, one run (ms): {before} -> {after}")
    for name in ("pyfunc", "sklearn", *SERVERS):
        for key, what in (("one", "one row p50"), ("1000", "1000 rows")):
            a, b = old[f"{name} {key}"], new[f"{name} {key}"]
            print(f"  {name:<20} {what:<12} {a:>8.2f} -> {b:>8.2f}")
    for name in SERVERS:
        for key in ("one", "1000"):
            a, b = old[f"{name} {key} ratio"], new[f"{name} {key} ratio"]
            print(f"  {name:<20} {key:<4} ratio {a:.2f}x -> {b:.2f}x")


def _breakdown(model: dict[str, Any], sample: Path) -> None:
    """Where a request's time goes, in process: with the default OpenMP threads, and with one."""
    for label, threads in (("default environment", None), ("OMP_NUM_THREADS=1", "1")):
        saved = os.environ.get("OMP_NUM_THREADS")
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = threads
        try:
            figures, _ = _in_process(model, sample, "--breakdown")
        finally:
            if saved is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = saved
        print(f"\nbreakdown, {label} (ms; one row: p50, 1000 rows: median)")
        _print_tree(figures["breakdown"], "  ")  # type: ignore[arg-type]


def _print_tree(node: dict[str, Any], indent: str) -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_tree(value, indent + "  ")
        elif isinstance(value, float):
            print(f"{indent}{key:<62} {value:>9.3f}")
        else:
            print(f"{indent}{key:<62} {value}")


if __name__ == "__main__":
    sys.exit(main())
