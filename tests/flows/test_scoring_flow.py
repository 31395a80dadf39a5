"""housing-scoring and housing-drift against real MLflow and Prefect servers (and s3rver), run
as a user runs them; then the drift gate of a release, with a version trained on shifted data.

One module-scoped registry: v1 (a small forest on the real data) carries `production`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from deployments.services import S3Store
from housing_core import storage
from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.storage import S3Connection
from tests import servers
from tests.conftest import BUCKET, FlowEnv, make_flow_env, mlflow_client, run_module, run_training
from tests.flows.conftest import run_promotion

OUTPUT_COLUMNS = ["predicted_median_house_value", "model_version", "contract_violations"]


@dataclass(frozen=True)
class Scored:
    env: FlowEnv
    data: pd.DataFrame
    folder: Path


@pytest.fixture(scope="module")
def scored(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
    s3_store: S3Store,
) -> Iterator[Scored]:
    folder = tmp_path_factory.mktemp("scoring")
    env = make_flow_env(folder, data_source, mlflow_server, prefect_server)
    env = env.with_(**s3_store.client_env())
    assert run_training(env).summary["registered_version"] == "1"
    assert run_promotion(env).summary["after"] == "1"
    yield Scored(env, pd.read_csv(data_source), folder)


def score(env: FlowEnv, source: str, destination: str, *args: str) -> tuple[int, dict, str]:
    done = run_module("flows.scoring", env, "--source", source, "--destination", destination, *args)
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    return done.returncode, summary, done.stderr


def scoring_runs(env: FlowEnv) -> list[object]:
    client = mlflow_client(env.tracking_uri)
    experiment = client.get_experiment_by_name("housing_batch_scoring")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


def test_a_file_is_priced_row_by_row_keeping_its_columns_and_flagging_broken_rows(
    scored: Scored, tmp_path: Path
) -> None:
    # given a file with an extra column and two rows that break the contract (a random sample:
    # the file is sorted by place, so its first rows are one region and would drift)
    rows = scored.data.sample(3000, random_state=1).reset_index(drop=True).assign(region="north")
    rows.loc[5, "median_income"] = -2.0
    rows.loc[9, "ocean_proximity"] = "MARS"
    source = tmp_path / "in.csv"
    rows.to_csv(source, index=False)

    # when it is scored into a Parquet file
    code, summary, stderr = score(scored.env, str(source), str(tmp_path / "out.parquet"))

    # then every row comes back, with its own columns, its price, the version, what it broke
    assert code == 0, stderr[-3000:]
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == [*rows.columns, *OUTPUT_COLUMNS]
    assert len(out) == len(rows) == summary["rows"] == summary["priced"]
    assert (out["model_version"] == "1").all() and (out["region"] == "north").all()
    assert out.loc[5, "contract_violations"] == "median_income: outside [0, 20]"
    assert out.loc[9, "contract_violations"] == "ocean_proximity: unseen category"
    assert (out.drop(index=[5, 9])["contract_violations"] == "").all()
    assert out["predicted_median_house_value"].between(10_000, 500_001).all()
    assert summary["flagged"] == 2 and summary["contract"] == {
        "median_income: outside [0, 20]": 1,
        "ocean_proximity: unseen category": 1,
    }
    assert summary["metrics"]["r2"] > 0.7  # the file has prices: the metrics are there
    assert summary["drifted"] == []

    # and MLflow holds the scoring: the input's content hash, the version and its lineage
    (run,) = [r for r in scoring_runs(scored.env) if r.info.run_id == summary["mlflow_run_id"]]
    assert run.info.status == "FINISHED"
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.digest == hashlib.sha256(source.read_bytes()).hexdigest()[:32]
    assert run.data.tags["model.version"] == "1"
    assert len(run.data.tags["model.housing.training_key"]) == 64
    assert run.data.metrics["rows"] == len(rows)
    client = mlflow_client(scored.env.tracking_uri)
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/predicted_vs_actual.png", "plots/drift.png"}

    # and the Prefect run has its progress (done) and its summary, which leads with the rows
    artifacts = httpx.post(
        f"{scored.env.prefect_api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [summary["flow_run_id"]]}}},
        timeout=30,
    ).json()
    by_key = {a["key"]: a for a in artifacts}
    assert by_key["housing-scoring-progress"]["data"] == 100.0
    assert by_key["housing-scoring-report"]["description"].startswith("3,000 of 3,000 rows priced")


def test_refused_rows_get_no_price_and_a_failing_batch_writes_nothing(
    scored: Scored, tmp_path: Path
) -> None:
    rows = scored.data.head(500).copy()
    rows.loc[3, "latitude"] = 60.0
    source = tmp_path / "in.csv"
    rows.to_csv(source, index=False)

    # refuse: the row is written back, without a price, naming the rule
    refusing = scored.env.with_(HOUSING_SCORING__INVALID_ROWS="refuse")
    code, summary, stderr = score(refusing, str(source), str(tmp_path / "refused.csv"))
    assert code == 0, stderr[-3000:]
    out = pd.read_csv(tmp_path / "refused.csv")
    assert np.isnan(out.loc[3, "predicted_median_house_value"])
    assert out["predicted_median_house_value"].notna().sum() == 499
    assert (summary["refused"], summary["priced"]) == (1, 499)

    # fail: the batch is refused whole, naming the rows and the rule; no file appears
    failing = scored.env.with_(HOUSING_SCORING__INVALID_ROWS="fail")
    code, _, stderr = score(failing, str(source), str(tmp_path / "failed.csv"))
    assert code == 1
    assert "rows 1 to 500: latitude: outside [32, 42.5]: 1 of 500 rows" in stderr
    assert not (tmp_path / "failed.csv").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"in.csv", "refused.csv"}


def test_parquet_on_the_object_store_in_and_parts_with_a_manifest_out(
    scored: Scored, s3: S3Connection
) -> None:
    # given a Parquet input on the object store
    prefix = f"s3://{BUCKET}/{scored.env.model_name}"
    rows = scored.data.head(2000)
    source = f"{prefix}/in.parquet"
    s3.client.put_object(
        Bucket=BUCKET,
        Key=source.removeprefix(f"s3://{BUCKET}/"),
        Body=rows.to_parquet(index=False),
    )

    # when it is scored into a folder of the object store, in chunks
    small = scored.env.with_(HOUSING_SCORING__CHUNK_ROWS="700")
    code, summary, stderr = score(small, source, f"{prefix}/out/")

    # then the output is whole: parts under the run's prefix, a manifest listing them
    assert code == 0, stderr[-3000:]
    manifest = storage.read_manifest(f"{prefix}/out/", s3=s3)
    assert manifest.rows == 2000 and len(manifest.parts) == 3
    assert manifest.run_id == summary["flow_run_id"]
    back = pd.concat(storage.read_chunks(f"{prefix}/out/", 5000, s3=s3), ignore_index=True)
    pd.testing.assert_frame_equal(back[list(rows.columns)], rows.reset_index(drop=True))


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("missing-column", "missing column 'median_income'"),
        ("wrong-type", "column 'households': expected numbers"),
        ("empty", "empty"),
        ("unreachable", "data source 'http://127.0.0.1:"),
        ("unwritable", "out.csv"),
        ("no-alias", "carries the alias 'nowhere'"),
    ],
)
def test_bad_input_gets_one_clear_error_no_output_and_no_run_left_running(
    scored: Scored, tmp_path: Path, case: str, says: str
) -> None:
    rows = scored.data.head(200)
    source, destination, args = tmp_path / "in.csv", str(tmp_path / "out.csv"), []
    if case == "missing-column":
        rows = rows.drop(columns=["median_income"])
    elif case == "wrong-type":
        rows = rows.assign(households="many")
    rows.to_csv(source, index=False)
    location = str(source)
    if case == "empty":
        source.write_text("")
    elif case == "unreachable":
        location = f"http://127.0.0.1:{servers.free_port()}/in.csv"
    elif case == "unwritable":
        (tmp_path / "a-file").write_text("x")
        destination = str(tmp_path / "a-file" / "out.csv")
    elif case == "no-alias":
        args = ["--alias", "nowhere"]
    before = {r.info.run_id for r in scoring_runs(scored.env)}

    code, _, stderr = score(scored.env, location, destination, *args)

    assert code == 1
    assert says in stderr, stderr[-3000:]
    assert not Path(destination).exists()
    assert {p.name for p in tmp_path.iterdir()} <= {"in.csv", "a-file"}
    after = scoring_runs(scored.env)
    assert {r.info.run_id for r in after} == before
    assert all(r.info.status != "RUNNING" for r in after)


def test_the_drift_check_flags_a_shifted_copy_and_not_the_same_rows(
    scored: Scored, tmp_path: Path
) -> None:
    same, shifted = tmp_path / "same.csv", tmp_path / "shifted.csv"
    scored.data.sample(5000, random_state=2).to_csv(same, index=False)
    scored.data.assign(median_income=scored.data.median_income * 1.25).to_csv(shifted, index=False)

    reports = {}
    for name, path in (("same", same), ("shifted", shifted)):
        done = run_module("flows.drift", scored.env, "--source", str(path))
        assert done.returncode == 0, done.stderr[-3000:]
        reports[name] = json.loads(done.stdout.strip().splitlines()[-1])

    # the last line: per feature its scores and status, and what drifted
    assert reports["same"]["drifted"] == [] and reports["same"]["status"] in ("ok", "watch")
    assert "median_income" in reports["shifted"]["drifted"]
    assert reports["shifted"]["features"]["median_income"]["status"] == "drift"
    assert reports["shifted"]["features"]["longitude"]["status"] == "ok"
    assert set(reports["shifted"]["features"]) >= {*FEATURE_COLUMNS, "prediction"}

    # and the drift run in MLflow has the chart
    client = mlflow_client(scored.env.tracking_uri)
    experiment = client.get_experiment_by_name("housing_drift")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], "tags.`housing.drift` = 'drift'")
    assert runs and {a.path for a in client.list_artifacts(runs[0].info.run_id, "plots")} == {
        "plots/drift.png"
    }


def test_a_drifted_batch_fails_the_scoring_when_the_setting_says_so(
    scored: Scored, tmp_path: Path
) -> None:
    shifted = tmp_path / "shifted.csv"
    scored.data.assign(median_income=scored.data.median_income * 1.3).to_csv(shifted, index=False)
    strict = scored.env.with_(HOUSING_SCORING__FAIL_ON_DRIFT="true")

    code, _, stderr = score(strict, str(shifted), str(tmp_path / "out.parquet"))

    assert code == 1
    assert "drifted from" in stderr and "median_income" in stderr
    assert not (tmp_path / "out.parquet").exists()


def test_a_version_trained_on_shifted_data_is_held_back_until_a_person_accepts_the_drift(
    scored: Scored, tmp_path: Path
) -> None:
    # given v2, trained on data whose incomes rose by a third, better on that data than v1
    shifted = tmp_path / "shifted.csv"
    scored.data.assign(median_income=scored.data.median_income * 1.33).to_csv(shifted, index=False)
    env = scored.env.with_(HOUSING_DATA__SOURCE=str(shifted), HOUSING_MODEL__N_ESTIMATORS="40")
    assert run_training(env).summary["registered_version"] == "2"

    # when a release runs: the drift gate holds it, naming the feature
    held = run_promotion(env).summary
    assert (held["action"], held["after"]) == ("keep", "1")
    assert (
        "drift gate: v2's training rows drifted from production's on median_income"
        in (held["reason"])
    )

    # and when a person accepts the drift, it is released, and the version says so
    accepted = run_promotion(env, "--accept-drift").summary
    assert (accepted["action"], accepted["after"]) == ("promote", "2")
    version = mlflow_client(env.tracking_uri).get_model_version(env.model_name, "2")
    assert version.tags["drift_accepted"] == "yes"
    assert (
        "**Drift accepted by the operator** (`accept_drift`): drift gate: v2's training rows"
        in (str(version.description))
    )
