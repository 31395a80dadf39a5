"""housing-training against real MLflow and Prefect servers, run as a user runs it."""

from __future__ import annotations

from collections.abc import Callable

import mlflow
import pytest

from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.formatting import format_metric
from tests.conftest import FlowEnv, call_flow, mlflow_client, run_training, task_states

UPSTREAM = ("load-housing-data", "validate-housing-data", "split-housing-data")


def test_first_run_logs_everything_and_registers_a_version(
    flow_env: FlowEnv, fluent_mlflow: Callable[[str], None]
) -> None:
    # given a fresh experiment and model name; when the flow runs
    summary = run_training(flow_env).summary

    # then MLflow holds the run with its params, metrics, data set, lineage and artifacts
    client = mlflow_client(flow_env.tracking_uri)
    run = client.get_run(str(summary["run_id"]))
    assert run.info.status == "FINISHED"
    assert run.data.params["model.family"] == "random_forest"
    assert run.data.params["model.n_estimators"] == "20"
    assert set(run.data.metrics) >= {"rmse", "mae", "r2", "mape", "training_seconds"}
    assert 0 < run.data.metrics["training_seconds"] < 120
    assert 30_000 < run.data.metrics["rmse"] < 80_000
    assert run.data.tags["housing.data_version"] == summary["data_version"]
    assert len(run.data.tags["housing.code_version"]) == 64
    assert run.data.tags["prefect.flow_run_id"] == summary["flow_run_id"]
    contexts = {i.tags[0].value for i in run.inputs.dataset_inputs}
    assert contexts == {"training", "evaluation"}
    assert {i.dataset.digest for i in run.inputs.dataset_inputs} == {
        str(summary["data_version"])[:32]
    }
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {"plots/predicted_vs_actual.png", "plots/feature_importance.png"}

    # and the model is registered once, with its signature, a few short tags a person reads
    # and a description whose first line tells the versions apart
    versions = client.search_model_versions(f"name = '{flow_env.model_name}'")
    assert [v.version for v in versions] == [summary["registered_version"]] == ["1"]
    assert versions[0].run_id == run.info.run_id
    assert versions[0].tags == {
        "rmse": format_metric("rmse", summary["metrics"]["rmse"]),
        "r2": format_metric("r2", summary["metrics"]["r2"]),
        "family": "random-forest",
        "data": str(summary["data_version"])[:8],
        "code": run.data.tags["housing.code_version"][:8],
    }
    first_line = str(versions[0].description).splitlines()[0]
    assert first_line == f"RMSE {format_metric('rmse', summary['metrics']['rmse'])} · random-forest"
    version = client.get_model_version(flow_env.model_name, "1")
    model_id = version.source.removeprefix("models:/")
    assert client.get_logged_model(model_id).source_run_id == run.info.run_id
    fluent_mlflow(flow_env.tracking_uri)
    info = mlflow.models.get_model_info(f"models:/{flow_env.model_name}/1")
    inputs = {c.name for c in info.signature.inputs}
    assert inputs == set(FEATURE_COLUMNS)
    assert info.saved_input_example_info is not None


def test_identical_rerun_is_cached_and_registers_nothing_new(flow_env: FlowEnv) -> None:
    first = run_training(flow_env).summary

    second = run_training(flow_env).summary

    states = task_states(flow_env.prefect_api, str(second["flow_run_id"]))
    cached = {t for t, s in states.items() if s == "Cached"}
    assert cached == {*UPSTREAM, "train-model", "evaluate-model"}, states
    assert second["reused"] is True
    assert second["run_id"] == first["run_id"]
    versions = mlflow_client(flow_env.tracking_uri).search_model_versions(
        f"name = '{flow_env.model_name}'"
    )
    assert len(versions) == 1


def test_a_run_lost_after_registering_is_finished_by_the_rerun_not_registered_twice(
    flow_env: FlowEnv,
) -> None:
    # given a training that registered v1 and then lost its host before finishing its run
    # (its flow run ended; its MLflow run was left RUNNING, without the version's tag)
    first = run_training(flow_env).summary
    client = mlflow_client(flow_env.tracking_uri)
    client.update_run(str(first["run_id"]), status="RUNNING")
    client.delete_tag(str(first["run_id"]), "housing.registered_version")

    # when the same training runs again
    second = run_training(flow_env).summary

    # then it registers nothing new: the lost run is finished with its version, and reused
    versions = client.search_model_versions(f"name = '{flow_env.model_name}'")
    assert [v.version for v in versions] == ["1"]
    assert second["registered_version"] == "1" and second["reused"] is True
    assert second["run_id"] == first["run_id"]
    run = client.get_run(str(first["run_id"]))
    assert run.info.status == "FINISHED"
    assert run.data.tags["housing.registered_version"] == "1"


def test_hyperparameter_change_reuses_only_the_data_steps(flow_env: FlowEnv) -> None:
    first = run_training(flow_env).summary

    second = run_training(flow_env.with_(HOUSING_MODEL__N_ESTIMATORS="25")).summary

    states = task_states(flow_env.prefect_api, str(second["flow_run_id"]))
    assert {t for t, s in states.items() if s == "Cached"} == set(UPSTREAM), states
    assert states["train-model"] == "Completed"
    assert second["registered_version"] == "2"
    assert second["run_id"] != first["run_id"]


def test_changed_data_content_invalidates_the_cache(flow_env: FlowEnv, tmp_path) -> None:
    # given a copy of the data set, trained on once
    from pathlib import Path

    copy = tmp_path / "housing.csv"
    copy.write_bytes(Path(flow_env.env["HOUSING_DATA__SOURCE"]).read_bytes())
    env = flow_env.with_(HOUSING_DATA__SOURCE=str(copy))
    first = run_training(env).summary

    # when the same path gets other content (one row fewer)
    lines = copy.read_text().splitlines(keepends=True)
    copy.write_text("".join(lines[:-1]))
    second = run_training(env).summary

    # then the data version changes and nothing downstream is reused
    assert second["data_version"] != first["data_version"]
    states = task_states(flow_env.prefect_api, str(second["flow_run_id"]))
    assert "Cached" not in states.values(), states


@pytest.mark.parametrize("gate", ["HOUSING_REGISTRATION_GATES__MAX_RMSE"])
def test_a_model_missing_its_registration_gates_is_logged_but_not_registered(
    flow_env: FlowEnv, gate: str
) -> None:
    result = run_training(flow_env.with_(**{gate: "1000"}))

    assert result.returncode == 1
    assert "rmse" in result.stderr and "must be <= $1,000" in result.stderr
    client = mlflow_client(flow_env.tracking_uri)
    assert client.search_model_versions(f"name = '{flow_env.model_name}'") == []
    experiment = client.get_experiment_by_name(flow_env.experiment_name)
    runs = client.search_runs([experiment.experiment_id])
    assert [r.data.tags["housing.checks"] for r in runs] == ["failed"]
    assert runs[0].info.status == "FINISHED"


def test_an_out_of_range_parameter_is_refused_before_any_data_is_read(flow_env: FlowEnv) -> None:
    # when a training is started with a tree count below the rule's minimum
    state = call_flow(
        flow_env,
        "flows.training",
        "training_flow",
        {"model": {"family": "random_forest", "n_estimators": 0}},
    )

    # then the run fails naming the field, where it came from and the rule
    assert state["type"] == "FAILED"
    assert (
        "model.n_estimators = 0 (flow parameters): Input should be greater than or equal to 1"
        in state["message"]
    )
    # and no step ran: nothing read, nothing trained, nothing logged
    assert task_states(flow_env.prefect_api, state["flow_run_id"]) == {}
    assert (
        mlflow_client(flow_env.tracking_uri).get_experiment_by_name(flow_env.experiment_name)
        is None
    )
