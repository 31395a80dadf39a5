"""The scoring app's own rules, over ASGI with a small real pyfunc model: limits, content types,
headers, draining, the model endpoint. (The real server over HTTP: tests/system.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
import threadpoolctl
from sklearn.linear_model import LinearRegression

from housing_core.isolation.runtime.scoring_app import PARALLEL_ROWS, CountingModel, ScoringApp

LIMIT = 10_000


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, int]] = []

    def observe(self, route: str, status: int, seconds: float, rows: int) -> None:
        self.seen.append((route, status, rows))

    def exposition(self) -> tuple[bytes, bytes]:
        return b"metrics\n", b"text/plain"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A linear model on two columns, saved and loaded as MLflow's pyfunc."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    fitted = LinearRegression().fit(frame, frame["a"] * 2 + frame["b"])
    path = tmp_path_factory.mktemp("pyfunc") / "model"
    signature = mlflow.models.infer_signature(frame, fitted.predict(frame))
    mlflow.sklearn.save_model(fitted, str(path), signature=signature)
    return mlflow.pyfunc.load_model(str(path))


@pytest.fixture
def app(model: Any, tmp_path: Path) -> ScoringApp:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"name": "m", "alias": "production", "version": "7"}))
    return ScoringApp(
        model, name="m", version="7", max_body_bytes=LIMIT, state_file=state, metrics=Recorder()
    )


def call(app: ScoringApp, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


ROWS = {"dataframe_split": {"columns": ["a", "b"], "data": [[5.0, 1.0], [6.0, 0.0]]}}


def test_invocations_answer_as_mlflow_does_and_name_the_version(app: ScoringApp) -> None:
    response = call(app, "POST", "/invocations", json=ROWS)

    assert response.status_code == 200
    np.testing.assert_allclose(response.json()["predictions"], [11.0, 12.0])
    assert response.headers["x-model-name"] == "m"
    assert response.headers["x-model-version"] == "7"
    assert "connection" not in response.headers
    assert app.metrics.seen[-1] == ("/invocations", 200, 2)


def test_mlflows_own_errors_keep_their_status_and_message(app: ScoringApp) -> None:
    missing = {"dataframe_split": {"columns": ["a"], "data": [[5.0]]}}

    response = call(app, "POST", "/invocations", json=missing)

    assert response.status_code == 400
    assert "missing inputs" in response.json()["message"]


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 415, "Content-Type header is missing"),
        ({"Content-Type": "text/plain"}, 415, "only supports the following content types"),
    ],
)
def test_a_body_without_a_usable_content_type_gets_415(
    app: ScoringApp, headers: dict[str, str], status: int, words: str
) -> None:
    response = call(app, "POST", "/invocations", content=b"{}", headers=headers)

    assert response.status_code == status and words in response.text


@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT], ids=["read-and-refused", "declared"])
def test_a_body_over_the_limit_gets_413_and_closes_the_connection(
    app: ScoringApp, size: int
) -> None:
    body = b'{"dataframe_split": ' + b" " * size + b"}"

    response = call(
        app, "POST", "/invocations", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert f"over the limit of {LIMIT:,} bytes" in response.json()["message"]
    assert response.headers["connection"] == "close"


def test_a_draining_worker_asks_every_client_to_reconnect(app: ScoringApp) -> None:
    app.draining = True

    response = call(app, "POST", "/invocations", json=ROWS)

    assert response.status_code == 200
    assert response.headers["connection"] == "close"


def test_the_model_endpoint_joins_the_supervisors_state_and_the_worker(app: ScoringApp) -> None:
    described = call(app, "GET", "/model").json()

    assert (described["name"], described["alias"], described["version"]) == (
        "m",
        "production",
        "7",
    )
    assert described["answered_by"]["version"] == "7"
    assert described["answered_by"]["draining"] is False


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/ping", 200), ("GET", "/health", 200), ("GET", "/invocations", 405),
     ("POST", "/ping", 405), ("GET", "/elsewhere", 404), ("GET", "/metrics", 200)],
)  # fmt: skip
def test_every_route_answers_with_its_status(
    app: ScoringApp, method: str, path: str, status: int
) -> None:
    response = call(app, method, path)

    assert response.status_code == status
    assert response.headers["x-model-version"] == "7"


def _openmp_threads(pools: threadpoolctl.ThreadpoolController) -> int:
    return int(next(i["num_threads"] for i in pools.info() if i["user_api"] == "openmp"))


def test_a_large_batch_may_use_every_core_and_the_thread_pools_are_found_once(
    model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a worker of one OpenMP thread on two cores, and a model that notes its threads
    seen: list[int] = []
    pools = threadpoolctl.ThreadpoolController()  # the test's own view, found before counting

    class Noting:
        metadata = model.metadata

        def predict(self, data: pd.DataFrame, params: Any = None) -> np.ndarray:
            seen.append(_openmp_threads(pools))
            return np.zeros(len(data))

    found: list[object] = []
    controller = threadpoolctl.ThreadpoolController

    def finding() -> threadpoolctl.ThreadpoolController:
        found.append(controller())
        return found[-1]

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", finding)
    counting = CountingModel(Noting())
    counting.cores = 2
    batch = pd.DataFrame({"a": np.zeros(PARALLEL_ROWS), "b": np.zeros(PARALLEL_ROWS)})
    with pools.limit(limits=1, user_api="openmp"):
        # when two large batches and one row are scored
        counting.predict(batch)
        counting.predict(batch)
        counting.predict(batch.head(1))
        after = _openmp_threads(pools)

    # then the batches had both cores, the row one thread, the worker's limit is back, and the
    # thread pools were looked up once (finding them costs milliseconds a request)
    assert seen == [2, 2, 1]
    assert after == 1
    assert len(found) == 1
