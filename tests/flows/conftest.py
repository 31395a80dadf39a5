"""Promotion fixtures: two registered versions trained once per module, a private alias per test.

Training is the slow part, so a module trains its versions once; each test then promotes under
its own alias name and concurrency-limit name, which keeps the tests independent.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import (
    REPO,
    FlowEnv,
    FlowResult,
    make_flow_env,
    mlflow_client,
    run_module,
    run_training,
)

# v1: a deliberately weak forest (r2 ~0.65): registered only with relaxed registration gates,
# and refused by the default promotion gates (min r2 0.75).
WEAK = {
    "HOUSING_MODEL__N_ESTIMATORS": "5",
    "HOUSING_MODEL__MAX_DEPTH": "4",
    "HOUSING_REGISTRATION_GATES__MAX_RMSE": "90000",
    "HOUSING_REGISTRATION_GATES__MAX_MAE": "70000",
    "HOUSING_REGISTRATION_GATES__MIN_R2": "0.4",
}
# promotion gates loose enough to let the weak version in (to have something to replace)
LOOSE_GATES = {
    "HOUSING_PROMOTION__GATES__MAX_RMSE": "90000",
    "HOUSING_PROMOTION__GATES__MAX_MAE": "70000",
    "HOUSING_PROMOTION__GATES__MIN_R2": "0.4",
}


@dataclass(frozen=True)
class Registry:
    """A model name holding v1 (weak) and v2 (strong), with the training summaries."""

    env: FlowEnv
    weak: dict[str, object]
    strong: dict[str, object]


@pytest.fixture(scope="module")
def registry_env(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> Iterator[Registry]:
    flow_env = make_flow_env(
        tmp_path_factory.mktemp("promotion"), data_source, mlflow_server, prefect_server
    )
    weak = run_training(flow_env.with_(**WEAK)).summary
    strong = run_training(flow_env).summary
    assert (weak["registered_version"], strong["registered_version"]) == ("1", "2")
    yield Registry(flow_env, weak, strong)


@pytest.fixture
def promo_env(registry_env: Registry) -> FlowEnv:
    """The module's registry under an alias and a lock of this test's own."""
    suffix = uuid.uuid4().hex[:8]
    return registry_env.env.with_(
        HOUSING_PROMOTION__ALIAS=f"production_{suffix}",
        HOUSING_PROMOTION__CONCURRENCY_LIMIT=f"housing-promotion-{suffix}",
    )


def alias_of(env: FlowEnv) -> str | None:
    aliases = mlflow_client(env.tracking_uri).get_registered_model(env.model_name).aliases
    return aliases.get(env.env["HOUSING_PROMOTION__ALIAS"])


def promotion_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows.promotion", *args]


def run_promotion(env: FlowEnv, *args: str, timeout: float = 300, cwd: Path = REPO) -> FlowResult:
    """`python -m flows.promotion ...` in a fresh process, as an operator runs it."""
    return run_module("flows.promotion", env, *args, timeout=timeout, cwd=cwd)
