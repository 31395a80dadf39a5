"""The training cache keys on the code that changes a model, and on nothing else.

Run from a copy of the checkout, so that its code can be edited: a report's wording leaves
`train-model` Cached (and registers nothing new); an edit to a feature file retrains.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FlowEnv, copy_checkout, run_training, task_states


def test_report_wording_keeps_training_cached_and_a_feature_edit_retrains(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    # given a training run from a copy of the checkout
    checkout = copy_checkout(tmp_path / "checkout")
    first = run_training(flow_env, cwd=checkout).summary
    assert first["registered_version"] == "1"

    # when the training report's wording changes, and the same training runs again
    report = checkout / "housing_core" / "training" / "report.py"
    report.write_text(report.read_text().replace("## Held-out metrics", "## On held-out rows"))
    second = run_training(flow_env, cwd=checkout).summary

    # then the model is not retrained, and no new version is registered
    states = task_states(flow_env.prefect_api, str(second["flow_run_id"]))
    assert states["train-model"] == "Cached", states
    assert (second["registered_version"], second["reused"]) == ("1", True)

    # when a file of the model wing changes
    features = checkout / "housing_core" / "model" / "features.py"
    features.write_text(features.read_text() + "\n# an edit to the model's code\n")
    third = run_training(flow_env, cwd=checkout).summary

    # then the model is retrained from the cached data steps and registered anew
    states = task_states(flow_env.prefect_api, str(third["flow_run_id"]))
    assert states["train-model"] == "Completed", states
    assert states["split-housing-data"] == "Cached", states
    assert third["registered_version"] == "2"
