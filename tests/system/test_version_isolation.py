"""Every registered version is scored and served by the code it ships, whatever the checkout holds.

One registry for the module: v1 logged by the previous layout's own code (its pickle names
`housing_core.columns`, and `housing_core.model` as a module), v2 by today's. Then a copy of the
checkout gets a model wing that raises on import, and from that copy the promotion flow still
scores, promotes and rolls back both versions with unchanged metrics, and `housing-serve` still
serves each with unchanged predictions.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from housing_core.data.split import split_frame
from housing_core.isolation.jobs import score_in_own_processes
from housing_core.isolation.payloads import serving_payload
from tests import servers
from tests.conftest import FlowEnv, copy_checkout, make_flow_env, mlflow_client, run_training
from tests.fixtures.previous_layout import register_previous_layout_version
from tests.flows.conftest import LOOSE_GATES, run_promotion

pytestmark = pytest.mark.servers

BROKEN_MODEL_WING = (
    'raise ImportError("the checkout\'s model wing was imported: a version must load its own")\n'
)


@dataclass(frozen=True)
class Registry:
    env: FlowEnv
    checkout: Path
    old: dict[str, Any]  # v1, from the previous layout's own code
    new: dict[str, Any]  # v2, the training flow's summary
    rows: pd.DataFrame  # the first 20 held-out rows
    new_predictions: list[float]  # v2 on those rows, scored before the checkout was broken


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> Registry:
    tmp = tmp_path_factory.mktemp("isolation")
    env = make_flow_env(tmp, data_source, mlflow_server, prefect_server)
    old = register_previous_layout_version(
        env.tracking_uri, env.model_name, env.experiment_name, data_source
    )
    assert (old["version"], old["module_of_model"]) == ("1", "housing_core.columns")
    new = run_training(env).summary
    assert new["registered_version"] == "2"
    rows = split_frame(pd.read_csv(data_source)).test.head(20)
    reference = _score_version(env, "2", rows, tmp / "v2")

    checkout = copy_checkout(tmp / "checkout")
    (checkout / "housing_core" / "model" / "__init__.py").write_text(BROKEN_MODEL_WING)
    return Registry(env, checkout, old, new, rows, reference)


def _score_version(env: FlowEnv, version: str, rows: pd.DataFrame, folder: Path) -> list[float]:
    """A version's predictions in a process of its own, as `mlflow models serve` would load it."""
    client = mlflow_client(env.tracking_uri)
    location = client.get_model_version_download_uri(env.model_name, version)
    local = Path(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, mlflow; print(mlflow.artifacts.download_artifacts("
                "artifact_uri=sys.argv[1], dst_path=sys.argv[2], tracking_uri=sys.argv[3]))",
                location,
                str(folder),
                env.tracking_uri,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (score,) = score_in_own_processes(
        {version: local}, rows, serving_payload(rows.head(2)), folder / "envs"
    ).values()
    assert score.error is None and score.predictions is not None, score.error
    return [float(p) for p in score.predictions]


def test_the_promotion_and_serving_entry_points_never_import_the_model_wing() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, flows.promotion, flows.serve; "
            "print(sorted(m for m in sys.modules if m.startswith('housing_core.model')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.strip() == "[]"


def test_promotion_judges_each_version_by_its_own_code_when_the_checkouts_is_broken(
    registry: Registry,
) -> None:
    env, checkout = registry.env, registry.checkout

    # when the previous layout's version is put forward first (gates loose enough for it)
    first = run_promotion(env.with_(**LOOSE_GATES), "--version", "1", cwd=checkout)

    # then it is scored with the metrics its own code measured, by the code it ships
    summary = first.summary
    assert (summary["action"], summary["after"]) == ("promote", "1")
    assert _metrics(summary, "1") == pytest.approx(registry.old["metrics"], rel=1e-9)
    assert "code/housing_core/__init__.py" in first.stderr
    assert str(checkout / "housing_core") not in first.stderr

    # when the promotion runs over both versions
    second = run_promotion(env, cwd=checkout).summary

    # then today's v2 replaces v1, each with its training metrics unchanged
    assert (second["action"], second["before"], second["after"]) == ("promote", "1", "2")
    assert _metrics(second, "2") == pytest.approx(registry.new["metrics"], rel=1e-9)
    assert _metrics(second, "1") == pytest.approx(registry.old["metrics"], rel=1e-9)

    # and a rollback returns to the previous layout's version, smoke-tested by its own code
    rolled = run_promotion(env, "--rollback", cwd=checkout).summary
    assert (rolled["action"], rolled["before"], rolled["after"]) == ("rollback", "2", "1")


@pytest.mark.parametrize("version", ["1", "2"], ids=["previous-layout", "current-layout"])
def test_housing_serve_serves_each_version_with_its_own_code_when_the_checkouts_is_broken(
    registry: Registry, version: str, tmp_path: Path
) -> None:
    expected = registry.old["predictions"] if version == "1" else registry.new_predictions

    # when housing-serve, run from the broken checkout, serves the version
    with _serving(registry, version, tmp_path) as url:
        response = httpx.post(f"{url}/invocations", json=serving_payload(registry.rows), timeout=60)
        # and a row that breaks the checkout's contract is refused whatever the version's age
        broken = registry.rows.head(2).assign(population=[-5.0, 100.0])
        refused = httpx.post(f"{url}/invocations", json=serving_payload(broken), timeout=60)

    # then it answers with the predictions the version gave before the checkout broke
    assert response.status_code == 200, response.text
    assert response.headers["x-model-version"] == version
    assert response.json()["predictions"] == pytest.approx(expected, rel=1e-12)
    assert refused.status_code == 400, refused.text
    assert "population" in refused.json()["message"] and "1 of 2 rows" in refused.json()["message"]


def _metrics(summary: dict[str, Any], version: str) -> dict[str, float]:
    (scored,) = [v for v in summary["versions"] if v["version"] == version]  # type: ignore[union-attr]
    return dict(scored["metrics"])


class _serving:  # noqa: N801 - used as `with _serving(...) as url`
    """`python -m flows.serve --pin VERSION` from the broken checkout, stopped on exit."""

    def __init__(self, registry: Registry, version: str, tmp: Path) -> None:
        self.server = servers.start_housing_serve(
            {**registry.env.env, "HOUSING_STATE_DIR": str(tmp / "state")},
            tmp / "serve.log",
            "--pin",
            version,
            command=[sys.executable, "-m", "flows.serve"],  # the checkout's, not the install's
            cwd=registry.checkout,
        )

    def __enter__(self) -> str:
        return self.server.url

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
