"""A registered version carries all it needs: the model wing as its code, its pinned packages.

Built as a serving platform builds it (a fresh virtual environment from the version's own
requirements.txt, nothing of this project installed), it loads and gives the same prices as in
the project's environment.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from housing_core.data.contract import FEATURE_COLUMNS, TARGET
from housing_core.data.split import split_frame
from housing_core.isolation.environments import read_requirements
from housing_core.isolation.jobs import score_in_own_processes
from housing_core.isolation.payloads import serving_payload
from housing_core.model.pipeline import predict, train_model
from housing_core.settings import HistGradientBoostingConfig, load_settings
from housing_core.tracking.connection import open_tracking
from housing_core.tracking.registry import (
    download_version,
    ensure_registered_model,
    register_version,
)
from housing_core.training.shipping import log_shipped_model


@pytest.fixture(scope="module")
def registered(data_source: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A small default-family model, logged and registered as the flow does, downloaded."""
    tmp = tmp_path_factory.mktemp("self-contained")
    split = split_frame(pd.read_csv(data_source))
    train = split.train
    config = HistGradientBoostingConfig(max_iter=40, n_models=1)
    model = train_model(train.loc[:, list(FEATURE_COLUMNS)], train[TARGET], config)
    settings = load_settings(
        {"mlflow": {"tracking_uri": f"sqlite:///{(tmp / 'mlflow.db').as_posix()}"}}
    )
    with open_tracking(settings.mlflow) as tracking:
        experiment = tracking.client.create_experiment(
            "self-contained", artifact_location=(tmp / "artifacts").as_uri()
        )
        run_id = tracking.client.create_run(experiment).info.run_id
        example = train.loc[:, list(FEATURE_COLUMNS)].head(5)
        model_id = log_shipped_model(tracking, experiment, run_id, model, example, {})
        ensure_registered_model(tracking, "self_contained", "test")
        register_version(tracking, "self_contained", model_id, run_id, {}, "test")
        local = download_version(tracking, "self_contained", "1", tmp / "v1")
    return local, model


def test_a_version_ships_the_model_wing_and_nothing_else_of_the_package(
    registered: tuple[Path, object],
) -> None:
    local, _ = registered

    shipped = sorted(p.relative_to(local / "code").as_posix() for p in local.rglob("code/**/*.py"))

    assert "housing_core/__init__.py" in shipped
    assert "housing_core/model/pipeline.py" in shipped
    assert all(
        p.startswith("housing_core/model/") for p in shipped if p != "housing_core/__init__.py"
    )
    assert not any(
        p.startswith(("housing_core/settings", "housing_core/tracking")) for p in shipped
    )
    size = sum(p.stat().st_size for p in (local / "code").rglob("*") if p.is_file())
    assert size < 150_000, f"{size:,} bytes of code shipped"


def test_a_fresh_environment_from_its_requirements_alone_gives_the_same_prices(
    registered: tuple[Path, object], data_source: str, tmp_path: Path
) -> None:
    local, model = registered
    rows = split_frame(pd.read_csv(data_source)).test.loc[:, list(FEATURE_COLUMNS)].head(200)
    payload = serving_payload(rows.head(3))

    # when the version is scored in an environment built from its requirements.txt only
    own = score_in_own_processes({"1": local}, rows, payload, tmp_path / "envs", policy="own")["1"]
    here = score_in_own_processes({"1": local}, rows, payload, tmp_path / "envs", policy="auto")[
        "1"
    ]

    # then it loads there, with its own code, and prices every row as in the project's
    assert own.error is None, own.error
    assert own.interpreter.startswith(str(tmp_path / "envs"))
    assert own.code_from == str(local / "code" / "housing_core" / "__init__.py")
    assert own.predictions is not None and here.predictions is not None
    np.testing.assert_allclose(own.predictions, here.predictions, rtol=1e-12)
    np.testing.assert_allclose(own.predictions, predict(model, rows), rtol=1e-12)  # type: ignore[arg-type]
    assert own.smoke_error is None

    # and nothing of the project is in that environment: not the package, not its settings
    python = own.interpreter
    assert "pydantic-settings" not in " ".join(read_requirements(local))
    for module in ("housing_core", "pydantic_settings", "prefect"):
        probe = subprocess.run(
            [python, "-I", "-c", f"import {module}"], capture_output=True, text=True
        )
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, module
