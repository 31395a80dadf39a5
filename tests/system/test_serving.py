"""`housing-serve` on `@production`: MLflow's protocol, bad requests, limits, what it reports.

One model is trained and promoted for the module; `housing-serve` serves it as documented, and
the plain `mlflow models serve -m models:/NAME@production` is checked to work as well.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from housing_core.data.contract import FEATURE_COLUMNS, PRICE_CAP
from housing_core.isolation.payloads import serving_payload
from tests import servers
from tests.conftest import FlowEnv, make_flow_env, run_training
from tests.flows.conftest import run_promotion

BIN = Path(sys.executable).parent
LIMIT = 16_000_000  # bytes of a request body: a 100,000-row request is about 9 MB
pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def promoted(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> FlowEnv:
    """A registered model whose `production` alias points at a freshly trained v1."""
    env = make_flow_env(
        tmp_path_factory.mktemp("serving"), data_source, mlflow_server, prefect_server
    )
    assert run_training(env).summary["registered_version"] == "1"
    assert run_promotion(env).summary["after"] == "1"
    return env


@pytest.fixture(scope="module")
def scoring_server(
    promoted: FlowEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[servers.Server]:
    server = servers.start_housing_serve(
        {**promoted.env, "HOUSING_SERVING__MAX_BODY_BYTES": str(LIMIT)},
        tmp_path_factory.mktemp("scoring") / "server.log",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rows(data_source: str) -> pd.DataFrame:
    return pd.read_csv(data_source).head(20)


def invoke(server: servers.Server, body: object = None, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{server.url}/invocations", json=body, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_logs_which_version_it_serves(scoring_server: servers.Server, promoted: FlowEnv) -> None:
    log = scoring_server.log.read_text()
    assert f"serving {promoted.model_name} version 1 (run " in log
    assert f"listening on {scoring_server.url}" in log  # loopback unless --host says otherwise


def test_the_model_endpoint_says_what_is_served(
    scoring_server: servers.Server, promoted: FlowEnv
) -> None:
    model = httpx.get(f"{scoring_server.url}/model", timeout=30).json()

    assert (model["name"], model["alias"], model["version"]) == (
        promoted.model_name,
        "production",
        "1",
    )
    assert len(model["run_id"]) == 32 and len(model["code_version"]) == 64
    assert model["loaded_at"].startswith("20") and model["load_seconds"] > 0
    assert model["last_swap_error"] is None and model["swaps"] == 0
    assert model["answered_by"]["version"] == "1"


def test_mlflows_other_routes_answer_as_mlflow_does(scoring_server: servers.Server) -> None:
    for route in ("/ping", "/health"):
        response = httpx.get(f"{scoring_server.url}{route}", timeout=30)
        assert (response.status_code, response.text) == (200, "\n")
    assert httpx.get(f"{scoring_server.url}/version", timeout=30).text == mlflow_version()
    assert httpx.get(f"{scoring_server.url}/nowhere", timeout=30).status_code == 404


def test_a_body_over_the_limit_gets_413_and_serving_goes_on(
    scoring_server: servers.Server, rows: pd.DataFrame
) -> None:
    # given a body one byte over the limit
    oversized = b"{" + b" " * LIMIT + b"}"

    # when it is posted
    response = httpx.post(
        f"{scoring_server.url}/invocations",
        content=oversized,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )

    # then it is refused with 413, naming the limit, and the next request is served
    assert response.status_code == 413
    assert f"over the limit of {LIMIT:,} bytes" in response.json()["message"]
    assert invoke(scoring_server, _one_row(rows)).status_code == 200


def test_a_100000_row_request_within_the_limit_is_scored(
    scoring_server: servers.Server, data_source: str
) -> None:
    frame = pd.read_csv(data_source)
    big = pd.concat([frame] * 6, ignore_index=True).head(100_000)

    response = invoke(scoring_server, serving_payload(big))

    assert response.status_code == 200, response.text[:300]
    prices = response.json()["predictions"]
    assert len(prices) == 100_000 and min(prices) >= 0 and max(prices) <= PRICE_CAP


def test_metrics_count_requests_rows_and_the_version_served(
    scoring_server: servers.Server, rows: pd.DataFrame
) -> None:
    before = servers.read_metrics(scoring_server.url)
    invoke(scoring_server, _one_row(rows))
    invoke(scoring_server, {"dataframe_records": []})  # a 400

    after = servers.read_metrics(scoring_server.url)

    ok = 'housing_serving_requests_total{route="/invocations",status="200"}'
    bad = 'housing_serving_requests_total{route="/invocations",status="400"}'
    assert after[ok] == before.get(ok, 0) + 1
    assert after[bad] == before.get(bad, 0) + 1
    assert (
        after["housing_serving_rows_scored_total"]
        == before["housing_serving_rows_scored_total"] + 1
    )
    assert after[f'housing_serving_model_version{{name="{_name(scoring_server)}"}}'] == 1
    assert after["housing_serving_swaps_total"] == 0
    count = 'housing_serving_request_duration_seconds_count{route="/invocations"}'
    assert after[count] >= before.get(count, 0) + 2


def mlflow_version() -> str:
    from mlflow.version import VERSION

    return VERSION


def _name(server: servers.Server) -> str:
    return str(httpx.get(f"{server.url}/model", timeout=30).json()["name"])


def test_a_request_with_the_raw_columns_gets_plausible_prices(
    scoring_server: servers.Server, rows: pd.DataFrame
) -> None:
    # given raw housing.csv rows, target and all, one with a blank total_bedrooms
    records = rows.assign(total_bedrooms=rows["total_bedrooms"].mask(rows.index == 0))

    # when they are sent as records (extra target column included) and as split
    as_json = records.astype(object).where(records.notna(), None)
    by_records = invoke(scoring_server, {"dataframe_records": as_json.to_dict("records")})
    by_split = invoke(scoring_server, serving_payload(records))

    # then each row gets a price in the range the data can hold
    for response in (by_records, by_split):
        assert response.status_code == 200, response.text
        prices = response.json()["predictions"]
        assert len(prices) == len(rows)
        assert all(15_000 <= p <= PRICE_CAP for p in prices)


def _one_row(rows: pd.DataFrame, drop: str | None = None, **changes: object) -> dict[str, object]:
    record = rows.loc[:, list(FEATURE_COLUMNS)].iloc[1].to_dict()
    record.update(changes)
    record.pop(drop or "", None)
    return {"dataframe_records": [record]}


def bad_request(label: str, rows: pd.DataFrame) -> dict[str, object]:
    """httpx keyword arguments of each bad request, sent as application/json."""
    return {
        "missing column": {"json": _one_row(rows, drop="median_income")},
        "wrong type": {"json": _one_row(rows, median_income="high")},
        "garbage JSON": {"content": b"{not json"},
        "empty body": {"content": b""},
        "no input field": {"json": {}},
        "no rows": {"json": {"dataframe_records": []}},
        "a negative count": {"json": _one_row(rows, population=-3)},
        "outside California": {"json": _one_row(rows, longitude=-80.0)},
        "an unseen category": {"json": _one_row(rows, ocean_proximity="MARS")},
    }[label]


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("missing column", "missing column 'median_income'"),
        ("wrong type", "column 'median_income': expected numbers"),
        ("garbage JSON", "valid JSON"),
        ("empty body", "valid JSON"),
        ("no input field", "exactly one of the input fields"),
        ("no rows", "missing column"),
        # the data contract, as at training: the field and the rule
        ("a negative count", "population: outside [1, 100000]: 1 of 1 rows"),
        ("outside California", "longitude: outside [-125, -114]: 1 of 1 rows"),
        ("an unseen category", "ocean_proximity: unseen category: 1 of 1 rows"),
    ],
)
def test_a_bad_request_gets_a_400_with_a_useful_message_and_serving_goes_on(
    scoring_server: servers.Server, rows: pd.DataFrame, label: str, message: str
) -> None:
    # given a bad request; when it is sent
    response = httpx.post(
        f"{scoring_server.url}/invocations",
        headers={"Content-Type": "application/json"},
        timeout=30,
        **bad_request(label, rows),  # type: ignore[arg-type]
    )

    # then a 400 that says what is wrong
    assert response.status_code == 400, f"{label}: {response.status_code} {response.text[:300]}"
    assert message in response.json()["message"], label

    # and the server still answers
    assert httpx.get(f"{scoring_server.url}/ping", timeout=10).status_code == 200
    assert invoke(scoring_server, _one_row(rows)).status_code == 200


def test_a_wrong_content_type_gets_415(scoring_server: servers.Server) -> None:
    response = httpx.post(
        f"{scoring_server.url}/invocations",
        content=b"x",
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    assert response.status_code == 415
    assert "application/json" in response.text


def test_a_body_without_content_type_gets_415_saying_what_to_send(
    scoring_server: servers.Server,
) -> None:
    # stock MLflow 3.17 answers this with a 500; housing_core.scoring_app turns it into a 415
    response = httpx.post(f"{scoring_server.url}/invocations", content=b"", timeout=30)

    assert response.status_code == 415
    assert "Content-Type header is missing" in response.json()["message"]
    assert httpx.get(f"{scoring_server.url}/ping", timeout=10).status_code == 200


def test_every_answer_names_the_version_that_gave_it(
    scoring_server: servers.Server, rows: pd.DataFrame, promoted: FlowEnv
) -> None:
    response = invoke(scoring_server, _one_row(rows))

    assert response.headers["x-model-name"] == promoted.model_name
    assert response.headers["x-model-version"] == "1"


def test_plain_mlflow_models_serve_on_the_alias_works(
    promoted: FlowEnv, rows: pd.DataFrame, tmp_path: Path
) -> None:
    # given the plain command the README documents, on the alias URI
    port = servers.free_port()
    command = [
        *(str(BIN / "mlflow"), "models", "serve"),
        *("-m", f"models:/{promoted.model_name}@production", "--env-manager", "local"),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]
    # it runs `exec uvicorn` through bash: the venv's bin must lead PATH
    env = {
        **promoted.env,
        "PATH": f"{BIN}:{promoted.env.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": promoted.tracking_uri,
    }

    # when it starts
    server = servers.start(
        "mlflow-models-serve",
        command,
        env,
        f"http://127.0.0.1:{port}/ping",
        tmp_path / "server.log",
        f"http://127.0.0.1:{port}",
    )
    try:
        # then it scores raw rows
        response = invoke(server, serving_payload(rows.head(3)))
        assert response.status_code == 200, response.text
        assert len(response.json()["predictions"]) == 3
    finally:
        server.stop()
