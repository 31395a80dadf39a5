"""housing-promotion against real MLflow and Prefect servers, run as an operator runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from housing_core.formatting import format_metric
from tests.conftest import REPO, FlowEnv, FlowResult, call_flow, mlflow_client, task_states
from tests.flows.conftest import (
    LOOSE_GATES,
    Registry,
    alias_of,
    promotion_command,
    run_promotion,
)


def page_of(env: FlowEnv, version: str) -> tuple[dict[str, str], str]:
    """A version's tags and description, as its registry page shows them."""
    found = mlflow_client(env.tracking_uri).get_model_version(env.model_name, version)
    return dict(found.tags), str(found.description or "")


def test_promotion_picks_the_better_version_and_rollback_restores_the_previous(
    promo_env: FlowEnv, registry_env: Registry
) -> None:
    # given the weak v1 in production (first promotion, admitted by loose gates)
    first = run_promotion(promo_env.with_(**LOOSE_GATES), "--version", "1").summary
    assert (first["action"], first["before"], first["after"]) == ("promote", None, "1")
    assert alias_of(promo_env) == "1"

    # when the promotion flow runs over every registered version
    promoted = run_promotion(promo_env).summary

    # then it picks v2, which scores better on the same held-out rows as v1
    assert (promoted["action"], promoted["before"], promoted["after"]) == ("promote", "1", "2")
    assert alias_of(promo_env) == "2"
    scores = {v["version"]: v["metrics"]["rmse"] for v in promoted["versions"]}
    assert scores["2"] < scores["1"]
    # the shared rows are the training flow's held-out side: the same figures come back
    assert scores["2"] == pytest.approx(registry_env.strong["metrics"]["rmse"])
    # and the move is recorded on the version: one tag where a rollback goes, and the record
    # in its description's serving section
    tags, page = page_of(promo_env, "2")
    assert tags["rollback_to"] == "v1"
    assert not [k for k in tags if k.startswith("housing.promotion.")]
    serving = page.split("## Serving", 1)[1]
    alias = promoted["alias"]
    assert f"**`{alias}` since {promoted['moved_at']}**: promoted, replacing v1." in serving
    assert f"RMSE **{format_metric('rmse', scores['2'])}**" in serving
    assert "Rollback goes to: v1." in serving
    assert promoted["moved_at"].startswith("20")
    _, replaced_page = page_of(promo_env, "1")
    assert f"**No longer `{alias}`**: replaced by v2" in replaced_page

    # when production is rolled back
    rolled = run_promotion(promo_env, "--rollback").summary

    # then v1 serves again, recorded the same way
    assert (rolled["action"], rolled["before"], rolled["after"]) == ("rollback", "2", "1")
    assert alias_of(promo_env) == "1"
    _, page = page_of(promo_env, "1")
    assert "restored by a rollback, replacing v2." in page.split("## Serving", 1)[1]
    assert "No longer" not in page


def test_a_worse_candidate_is_refused_and_production_does_not_move(promo_env: FlowEnv) -> None:
    # given the strong v2 in production
    assert run_promotion(promo_env, "--version", "2").summary["after"] == "2"

    # when the weak v1 is put forward
    refused = run_promotion(promo_env, "--version", "1").summary

    # then it is refused, naming the gate and the margin, and nothing moves
    assert (refused["action"], refused["moved"], refused["after"]) == ("keep", False, "2")
    assert "r2 gate: 0.65" in refused["reason"] and "under by" in refused["reason"]
    assert alias_of(promo_env) == "2"
    alias = promo_env.env["HOUSING_PROMOTION__ALIAS"]
    assert f"`{alias}`" not in page_of(promo_env, "1")[1]  # v1's page records no move to it

    # and promoting again with nothing better is a no-op that says so
    again = run_promotion(promo_env).summary
    assert (again["action"], again["moved"]) == ("keep", False)
    assert "production stays v2" in again["reason"]


def test_dry_run_reports_the_decision_and_moves_nothing(promo_env: FlowEnv) -> None:
    # when
    result = run_promotion(promo_env, "--dry-run")

    # then
    summary = result.summary
    assert (summary["action"], summary["after"], summary["moved"]) == ("promote", None, False)
    assert alias_of(promo_env) is None
    assert "move-alias" not in task_states(promo_env.prefect_api, str(summary["flow_run_id"]))
    report = _latest_report(promo_env.prefect_api, str(summary["flow_run_id"]))
    assert "(dry run: nothing moved)" in report and "would move" in report
    assert "| version | role | rmse |" in report


def test_two_promotions_started_together_leave_one_consistent_alias(
    promo_env: FlowEnv, tmp_path: Path
) -> None:
    # given the weak v1 in production
    assert run_promotion(promo_env.with_(**LOOSE_GATES), "--version", "1").summary["after"] == "1"

    # when two promotions start at the same moment (output to files: pipes could fill and stall)
    logs = [(tmp_path / f"out{i}", tmp_path / f"err{i}") for i in range(2)]
    processes = []
    for out, err in logs:
        with out.open("w") as stdout, err.open("w") as stderr:
            processes.append(
                subprocess.Popen(
                    promotion_command(), cwd=REPO, env=promo_env.env, stdout=stdout, stderr=stderr
                )
            )
    codes = [p.wait(300) for p in processes]
    results = [
        FlowResult(code, out.read_text(), err.read_text())
        for code, (out, err) in zip(codes, logs, strict=True)
    ]

    # then one moved the alias, the other saw the move and changed nothing
    summaries = sorted((r.summary for r in results), key=lambda s: not s["moved"])
    assert [(s["action"], s["before"], s["after"]) for s in summaries] == [
        ("promote", "1", "2"),
        ("keep", "2", "2"),
    ]
    assert alias_of(promo_env) == "2"


def test_an_out_of_range_gate_is_refused_before_the_alias_is_touched(promo_env: FlowEnv) -> None:
    # given the strong v2 in production
    assert run_promotion(promo_env, "--version", "2").summary["after"] == "2"
    page_before = page_of(promo_env, "2")

    # when a promotion is started with an R² gate no model can reach
    state = call_flow(
        promo_env, "flows.promotion", "promotion_flow", {"promotion_gates": {"min_r2": 5}}
    )

    # then it fails naming the field and the rule, and nothing ran or moved
    assert state["type"] == "FAILED"
    assert (
        "promotion.gates.min_r2 = 5.0 (flow parameters): Input should be less than or equal to 1"
        in state["message"]
    )
    assert task_states(promo_env.prefect_api, state["flow_run_id"]) == {}
    assert alias_of(promo_env) == "2"
    assert page_of(promo_env, "2") == page_before


def _latest_report(prefect_api: str, flow_run_id: str) -> str:
    response = httpx.post(
        f"{prefect_api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()[0]["data"])
