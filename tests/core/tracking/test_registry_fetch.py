"""A version's files, fetched once into a local folder: never another registry's `v1`."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from housing_core.settings import load_settings
from housing_core.tracking import registry
from housing_core.tracking.connection import open_tracking

MODEL = "housing_price_predictor"


class Constant(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def __init__(self, price: float) -> None:
        self.price = price

    def predict(self, context: object, model_input: object) -> list[float]:
        return [self.price]


@pytest.fixture(autouse=True)
def no_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("MLFLOW_", "HOUSING_")):
            monkeypatch.delenv(name)


def register_v1(store: Path, price: float) -> registry.RegisteredVersion:
    """A store whose registry holds `MODEL` v1, a model that prices everything at `price`."""
    uri = f"sqlite:///{(store / 'mlflow.db').as_posix()}"
    settings = load_settings({"mlflow": {"tracking_uri": uri}})
    with open_tracking(settings.mlflow) as tracking:
        experiment = tracking.client.create_experiment("e", artifact_location=str(store / "a"))
        with mlflow.start_run(experiment_id=experiment):
            mlflow.pyfunc.log_model(
                name="model", python_model=Constant(price), registered_model_name=MODEL
            )
        return registry.get_version(tracking, MODEL, "1")


def test_two_registries_v1_get_their_own_folders_and_a_second_fetch_reuses_the_first(
    tmp_path: Path,
) -> None:
    # given two registries, each with its own v1 (a re-created store, another team's server)
    first, second = register_v1(tmp_path / "one", 100.0), register_v1(tmp_path / "two", 200.0)
    root = tmp_path / "serving"

    # when both are fetched into the same folder, and the first once more
    folders = []
    for store, found in (("one", first), ("two", second), ("one", first)):
        uri = f"sqlite:///{(tmp_path / store / 'mlflow.db').as_posix()}"
        with open_tracking(load_settings({"mlflow": {"tracking_uri": uri}}).mlflow) as tracking:
            folders.append(registry.fetch_version(tracking, found, root))

    # then each v1 is its own folder, pricing as its registry's does; the second fetch reuses
    assert folders[0] != folders[1] and folders[0] == folders[2]
    assert {f.name.rsplit("-", 1)[0] for f in folders} == {f"{MODEL}-v1"}
    prices = [mlflow.pyfunc.load_model(str(f)).predict([[0.0]]) for f in folders[:2]]
    assert prices == [[100.0], [200.0]]
    assert sorted(p.name for p in root.iterdir()) == sorted({f.name for f in folders})
