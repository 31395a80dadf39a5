"""The data contract at serving, over ASGI with a small real pyfunc model of the housing
columns: a row that breaks it is refused with a 400 naming the field and the rule, or priced
and named in `contract_violations`, by the setting; MLflow's request formats keep working."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest

from housing_core.data.contract import FEATURE_COLUMNS, contract_spec
from housing_core.data.portable import rules
from housing_core.isolation.runtime.scoring_app import Contract, ScoringApp

ROW = {
    "longitude": -122.23,
    "latitude": 37.88,
    "housing_median_age": 41.0,
    "total_rooms": 880.0,
    "total_bedrooms": 129.0,
    "population": 322.0,
    "households": 126.0,
    "median_income": 8.3252,
    "ocean_proximity": "NEAR BAY",
}


class IncomePrice(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return (model_input["median_income"].fillna(0) * 50_000).to_numpy()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    frame = pd.DataFrame([ROW])
    path = tmp_path_factory.mktemp("pyfunc") / "model"
    signature = mlflow.models.infer_signature(frame, [416_260.0])
    mlflow.pyfunc.save_model(str(path), python_model=IncomePrice(), signature=signature)
    return mlflow.pyfunc.load_model(str(path))


def app_with(model: Any, invalid_rows: str, tmp_path: Path) -> ScoringApp:
    spec = tmp_path / "contract.json"
    spec.write_text(json.dumps(contract_spec()))
    contract = Contract.load(Path(rules.__file__), spec, invalid_rows)
    return ScoringApp(model, name="m", version="7", max_body_bytes=1_000_000, contract=contract)


def post(app: ScoringApp, body: dict[str, Any]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/invocations", json=body)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"population": -3}, "population: outside [1, 100000]"),
        ({"latitude": 51.5}, "latitude: outside [32, 42.5]"),
        ({"ocean_proximity": "MARS"}, "ocean_proximity: unseen category"),
        ({"households": None}, "households: blank"),
    ],
)
def test_a_row_that_breaks_the_contract_is_refused_naming_the_field_and_rule(
    model: Any, tmp_path: Path, change: dict[str, Any], rule: str
) -> None:
    app = app_with(model, "refuse", tmp_path)

    answer = post(app, {"dataframe_records": [ROW, {**ROW, **change}]})

    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert f"{rule}: 1 of 2 rows" in answer.json()["message"]
    assert "first: row 1" in answer.json()["message"]


def test_with_flag_the_row_is_priced_and_named_beside_the_predictions(
    model: Any, tmp_path: Path
) -> None:
    app = app_with(model, "flag", tmp_path)

    answer = post(app, {"dataframe_records": [ROW, {**ROW, "population": -3}]})

    assert answer.status_code == 200
    body = answer.json()
    assert len(body["predictions"]) == 2
    assert body["contract_violations"] == ["", "population: outside [1, 100000]"]


@pytest.mark.parametrize("invalid_rows", ["refuse", "flag"])
def test_good_rows_get_mlflows_own_answer_in_every_request_format(
    model: Any, tmp_path: Path, invalid_rows: str
) -> None:
    app = app_with(model, invalid_rows, tmp_path)
    split = {"columns": list(FEATURE_COLUMNS), "data": [[ROW[c] for c in FEATURE_COLUMNS]]}

    for body in ({"dataframe_records": [ROW]}, {"dataframe_split": split}):
        answer = post(app, body)
        assert answer.status_code == 200
        assert answer.json() == {"predictions": [pytest.approx(416_260.0)]}


def test_a_missing_column_is_refused_naming_it(model: Any, tmp_path: Path) -> None:
    app = app_with(model, "flag", tmp_path)
    row = {k: v for k, v in ROW.items() if k != "median_income"}

    answer = post(app, {"dataframe_records": [row]})

    assert answer.status_code == 400
    assert "missing column 'median_income'" in answer.json()["message"]
