"""The drift gate of a release, as a table of cases: profiles and rows in, findings out; and
the decision that a finding holds a candidate back unless a person accepts the drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest

from housing_core.data.contract import TARGET
from housing_core.data.split import split_frame
from housing_core.promotion.decision import VersionScore, already_decided, decide
from housing_core.promotion.drift_gate import judge
from housing_core.promotion.records import DRIFT_ACCEPTED_TAG, move_tags
from housing_core.settings import PromotionGates
from housing_core.training.profiling import reference_profile

GATES = PromotionGates(min_improvement=0.01)


@pytest.fixture(scope="module")
def parts(data_source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    split = split_frame(pd.read_csv(data_source))
    return split.train, split.test


def _profile(train: pd.DataFrame, test: pd.DataFrame) -> object:
    # a stand-in model: predictions that follow the prices (what matters is their spread)
    return reference_profile(train, test[TARGET].to_numpy() * 0.95)


def _richer(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(median_income=frame.median_income * 1.3)


@dataclass(frozen=True)
class Case:
    name: str
    candidate_data: Callable[[pd.DataFrame], pd.DataFrame]  # what the candidate trained on
    current_data: Callable[[pd.DataFrame], pd.DataFrame]  # what the promotion reads now
    trained_on_current_data: bool
    found: tuple[str, ...]  # fragments of each finding, in order


def same(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


CASES = [
    Case("a retrain on the same data: clear", same, same, True, ()),
    Case(
        "a retrain on data whose incomes rose: its training rows drift from production's",
        _richer,
        _richer,
        True,
        ("v2's training rows drifted from production's on median_income",),
    ),
    Case(
        "the same, known only from its profile (another data version): still found",
        _richer,
        _richer,
        False,
        ("v2's training rows drifted from production's on median_income (wasserstein",),
    ),
    Case(
        "a candidate trained on the old data, judged on new data: stale",
        same,
        _richer,
        False,
        ("the newest rows drifted from v2's training rows on median_income",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_drift_gate(case: Case, parts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = parts
    production = _profile(train, test)
    candidate = _profile(case.candidate_data(train), case.candidate_data(test))
    now_train, now_test = case.current_data(train), case.current_data(test)

    found = judge(
        "2",
        candidate,  # type: ignore[arg-type]
        production,  # type: ignore[arg-type]
        case.trained_on_current_data,
        now_train,
        now_test,
        now_test[TARGET].to_numpy() * 0.95,
    )

    assert len(found.findings) == len(case.found), found.findings
    for finding, fragment in zip(found.findings, case.found, strict=True):
        assert fragment in finding
    assert found.clear == (not case.found)


def test_a_version_without_a_profile_is_not_judged(
    parts: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, test = parts
    found = judge("1", None, _profile(train, test), True, train, test, None)  # type: ignore[arg-type]
    assert found.clear and found.reports == {}


def test_with_no_production_only_staleness_is_judged(
    parts: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, test = parts
    found = judge(
        "1", _profile(train, test), None, True, train, test, test[TARGET].to_numpy() * 0.95
    )  # type: ignore[arg-type]
    assert list(found.reports) == ["newest rows vs its own"] and found.clear


def scored(version: str, rmse: float, drift: tuple[str, ...] = ()) -> VersionScore:
    return VersionScore(
        version, {"rmse": rmse, "mae": rmse * 0.7, "r2": 0.8, "mape": 0.18}, drift=drift
    )


FINDING = "drift gate: v2's training rows drifted from production's on median_income"


def test_a_finding_holds_the_candidate_back_and_the_release_is_held() -> None:
    decision = decide([scored("1", 50_000), scored("2", 45_000, (FINDING,))], "1", GATES)

    assert (decision.action, decision.target) == ("keep", "1")
    assert FINDING in decision.reason
    assert decision.held and not decision.moves


def test_a_person_may_release_it_anyway_and_the_release_says_so() -> None:
    decision = decide(
        [scored("1", 50_000), scored("2", 45_000, (FINDING,))], "1", GATES, accept_drift=True
    )

    assert (decision.action, decision.target) == ("promote", "2")
    assert decision.accepted_drift == (FINDING,)
    assert "drift accepted by the operator" in decision.reason
    assert move_tags(decision)[DRIFT_ACCEPTED_TAG] == "yes"


def test_a_candidate_that_is_only_worse_does_not_hold_the_release() -> None:
    decision = decide([scored("1", 50_000), scored("2", 55_000)], "1", GATES)
    assert decision.action == "keep" and not decision.held


def test_the_same_trigger_twice_decides_nothing_the_second_time() -> None:
    decision = already_decided("3", "prefect.flow-run.abc", "promote-20261201-031500")

    assert (decision.action, decision.target, decision.moves) == ("keep", "3", False)
    assert "already ran (promote-20261201-031500)" in decision.reason
    assert not decision.held
