"""The team's storages for a study, for real: PostgreSQL and a Redis journal keep a sweep's
trials for the next process, which resumes them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from deployments import services
from housing_core.settings import SweepSettings
from housing_core.sweep.proposals import suggest
from housing_core.sweep.space import load_space
from housing_core.sweep.study import (
    open_storage,
    open_study,
    outcomes_of,
    resume_interrupted,
    storage_url,
    tell_complete,
    trials_left,
)
from tests import servers

pytestmark = [pytest.mark.servers, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="housing-pg-"))  # postgres must traverse its parents
    root.chmod(0o755)
    port = servers.free_port()
    services.init_postgres(root)
    logs = tmp_path_factory.mktemp("postgres")
    server = servers.start_spec(services.postgres(root, port, durable=False), logs / "pg.log")
    try:
        services.create_databases(port, "optuna")
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("redis")
    spec = services.redis(root, servers.free_port(), durable=False)
    server = servers.start_spec(spec, root / "redis.log")
    yield spec.url
    server.stop()


@pytest.mark.parametrize("which", ["postgres", "redis"])
def test_a_study_in_a_team_storage_resumes_in_another_process(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = request.getfixturevalue(f"{which}_url")
    settings = SweepSettings(study_name=f"team-{which}", trials=3, storage=SecretStr(url))
    space = load_space("random_forest")
    assert storage_url(settings, tmp_path) == url  # not the SQLite default

    first = open_study(settings, open_storage(url), space)
    trial = first.ask()
    values = suggest(trial, space)
    tell_complete(first, trial, values, {"rmse": 41_000.0}, "dask-a", 1.5)
    first.ask()  # left running: the process stops here

    resumed = open_study(settings, open_storage(url), space)  # a fresh connection
    assert len(resume_interrupted(resumed)) == 1
    assert trials_left(resumed, 3) == 2
    [kept] = outcomes_of(resumed)
    assert (kept.params, kept.metrics, kept.worker) == (values, {"rmse": 41_000.0}, "dask-a")
