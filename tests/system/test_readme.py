"""The README's commands, run as a newcomer runs them: every one is run here or by CI.

The deployed-mode walkthrough is extracted from the README and run as it is written, line by
line with `bash -e`, in a copy of the checkout beside a `shared/` folder, on the default ports.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import REPO, copy_checkout

README = REPO / "README.md"
WALKTHROUGH_MARK = "<!-- walkthrough -->"
# the README's quick-start commands, and the line of .ci/run that runs each (CI's data source
# is ../shared/data/housing.csv, as the README's)
RUN_BY_CI = {
    "make run": "make run",
    "make test": "make test",
    "HOUSING_DATA__SOURCE=../shared/data/housing.csv make run": "make run",
}
UI_COMMAND = "--backend-store-uri sqlite:///.housing/mlflow.db --port 5050"


def bash_blocks(text: str) -> list[tuple[bool, list[str]]]:
    """Each ```bash block: whether the walkthrough mark precedes it, and its command lines."""
    blocks = []
    for match in re.finditer(r"(?ms)^(.*?)```bash\n(.*?)^```", text):
        marked = match.group(1).rstrip().endswith(WALKTHROUGH_MARK)
        lines = [line.split("  #", 1)[0].strip() for line in match.group(2).splitlines()]
        blocks.append((marked, [line for line in lines if line and not line.startswith("#")]))
    return blocks


def scrubbed_environment(home: Path) -> dict[str, str]:
    """A newcomer's shell: none of the tests' servers, settings or credentials."""
    blocked = ("PREFECT_", "MLFLOW_", "HOUSING_", "AWS_", "MAKE", "MFLAGS")
    # not inside CI's `make test` either: a sub-make prints "Leaving directory" after each step
    env = {k: v for k, v in os.environ.items() if not k.startswith(blocked)}
    return {**env, "PREFECT_HOME": str(home / "prefect-home"), "HOME": str(home)}


@pytest.fixture
def newcomer_checkout(tmp_path: Path) -> Iterator[Path]:
    """A copy of the checkout with the environment `make setup` built, beside `shared/`."""
    checkout = copy_checkout(tmp_path / "housing-flows")
    (checkout / ".venv").symlink_to(REPO / ".venv")
    # `make setup` has built that environment from these files: no newer than its stamp
    stamp = (REPO / ".venv" / ".installed").stat().st_mtime
    for name in ("pyproject.toml", "requirements.lock"):
        os.utime(checkout / name, (stamp - 1, stamp - 1))
    (tmp_path / "shared").symlink_to(REPO.parent / "shared")
    yield checkout
    # whatever happened, nothing of the stack is left running
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "deployments.stack", "down"],
        cwd=checkout,
        env=scrubbed_environment(tmp_path),
        capture_output=True,
        timeout=120,
    )


def test_every_command_in_the_readme_is_run_by_a_test_or_by_ci() -> None:
    blocks = bash_blocks(README.read_text())
    walkthroughs = [lines for marked, lines in blocks if marked]
    others = [line for marked, lines in blocks if not marked for line in lines]

    assert len(walkthroughs) == 1, "one walkthrough block, marked <!-- walkthrough -->"
    ci = (REPO / ".ci" / "run").read_text()
    for line in others:
        if line in RUN_BY_CI:
            assert re.search(rf"^{re.escape(RUN_BY_CI[line])}\b", ci, re.M), f"{line!r}: not in CI"
        else:
            assert UI_COMMAND in line, f"{line!r} is run by no test and not by .ci/run"
    assert (
        'HOUSING_DATA__SOURCE="${HOUSING_DATA__SOURCE:-$(cd .. && pwd)/shared/data/housing.csv}"'
        in ci
    )


def test_the_quick_start_ui_command_shows_the_embedded_store_on_loopback(
    tmp_path: Path,
) -> None:
    # given the embedded store a `make run` leaves (tables created, one experiment)
    (line,) = [
        cmd for _, lines in bash_blocks(README.read_text()) for cmd in lines if UI_COMMAND in cmd
    ]
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    store = f"sqlite:///{tmp_path / '.housing' / 'mlflow.db'}"
    (tmp_path / ".housing").mkdir()
    MlflowClient(tracking_uri=store).create_experiment("housing_price_prediction")

    # when the README's command runs
    ui = subprocess.Popen(
        ["bash", "-c", f"exec {line}"],
        cwd=tmp_path,
        env=scrubbed_environment(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # then the UI answers on 127.0.0.1:5050 and lists the experiment, bound to loopback only
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get("http://127.0.0.1:5050/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        found = httpx.post(
            "http://127.0.0.1:5050/api/2.0/mlflow/experiments/search",
            json={"max_results": 10},
            timeout=30,
        ).json()
        assert "housing_price_prediction" in {e["name"] for e in found["experiments"]}
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
        ports = [line.split()[3] for line in listening.splitlines() if ":5050" in line]
        assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports
    finally:
        os.killpg(ui.pid, 15)
        ui.wait(timeout=30)


def test_the_deployed_mode_walkthrough_runs_as_written(newcomer_checkout: Path) -> None:
    # given the README's walkthrough, exactly as written
    (lines,) = [lines for marked, lines in bash_blocks(README.read_text()) if marked]
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"

    # when a newcomer runs it from the checkout, with nothing of ours in their environment
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=newcomer_checkout,
        env=scrubbed_environment(newcomer_checkout.parent),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    print(f"README walkthrough: {time.monotonic() - started:.0f} s")
    logs = newcomer_checkout / ".housing" / "stack" / "logs"
    tail = "".join(
        f"\n--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs.glob("*")
    )
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}{tail}"

    # then each step says what it did: two trainings, three releases, a price, a clean stop
    out = done.stdout
    # each housing-run prints the run's one name first, and a training's report ends with it
    names = re.findall(r"^(\S+)  \(([0-9a-f-]{36})\)$", out, flags=re.MULTILINE)
    assert re.fullmatch(r"random-forest-n150-d20-(\S+-)?\d{8}-\d{6}", names[0][0]), names
    for version, (name, _) in (("v1", names[0]), ("v2", names[2])):
        assert re.search(
            rf"housing-training-report: registered as {version}: rmse \$[\d,]+, mae \$[\d,]+, "
            rf"r2 0\.\d{{4}}, mape [\d.]+% · {re.escape(name)}$",
            out,
            flags=re.MULTILINE,
        ), name
    assert re.search(r"\d{2}:\d{2}:\d{2} Completed\b", out)
    assert "production moved (first time) to v1 (promote)" in out
    assert "production moved from v1 to v2 (promote)" in out
    assert "production moved from v2 to v1 (rollback)" in out
    assert re.search(r"housing-scoring-report: 18,\d{3} of 18,\d{3} rows priced by \S+ v1", out)
    priced = pd.read_parquet(newcomer_checkout / ".housing" / "priced.parquet")
    assert (
        priced["model_version"].eq("1").all() and priced["predicted_median_house_value"].gt(0).all()
    )
    assert re.search(r"housing-drift: 18,\d{3} rows against \S+ v1's training rows", out)
    (price,) = re.findall(r'\{"predictions": \[([\d.]+)\]\}', out)
    assert 100_000 < float(price) < 500_001
    assert out.splitlines()[-1].startswith("stopped: ")
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    assert not [line for line in listening.splitlines() if re.search(r":(4200|5000|5001)\s", line)]
