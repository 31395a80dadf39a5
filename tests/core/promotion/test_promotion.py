"""The promotion decision as a pure function: a table of cases, then the rollback plan and tags."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from housing_core.promotion.decision import (
    Decision,
    RollbackError,
    VersionScore,
    decide,
    plan_rollback,
)
from housing_core.promotion.records import ROLLBACK_TO_TAG, Release, move_tags
from housing_core.promotion.report import report
from housing_core.settings import PromotionGates

GATES = PromotionGates(
    max_rmse=70_000, max_mae=50_000, min_r2=0.75, max_mape=0.30, min_improvement=0.01
)


def scored(
    version: str, rmse: float, smoke_error: str | None = None, **overrides: float
) -> VersionScore:
    metrics = {"rmse": rmse, "mae": rmse * 0.7, "r2": 0.80, "mape": 0.18, **overrides}
    return VersionScore(version, metrics, smoke_error)


def unloadable(version: str) -> VersionScore:
    """A version whose pickle this code can no longer load: no scores at all."""
    nan = float("nan")
    return VersionScore(
        version,
        dict.fromkeys(("rmse", "mae", "r2", "mape"), nan),
        "cannot load or score: ModuleNotFoundError: No module named 'old'",
    )


@dataclass(frozen=True)
class Case:
    name: str
    candidates: tuple[VersionScore, ...]
    production: str | None
    action: str
    target: str | None
    reason_has: tuple[str, ...]


CASES = [
    Case(
        "no production yet: the best passing candidate",
        (scored("1", 52_000), scored("2", 50_000), scored("3", 51_000)),
        None,
        "promote",
        "2",
        ("first promotion", "v2"),
    ),
    Case(
        "no production yet and nothing passes",
        (scored("1", 72_000), scored("2", 71_000)),
        None,
        "none",
        None,
        ("no candidate passes", "rmse gate: $71,000 > $70,000 (over by $1,000)"),
    ),
    Case(
        "better by more than the minimum gain",
        (scored("1", 55_000), scored("2", 50_000)),
        "1",
        "promote",
        "2",
        ("v2 replaces v1", "9.09%"),
    ),
    Case(
        "worse than production",
        (scored("1", 50_000), scored("2", 55_000)),
        "1",
        "keep",
        "1",
        ("production stays v1", "not better"),
    ),
    Case(
        "better, but within the minimum gain",
        (scored("1", 50_000), scored("2", 49_800)),
        "1",
        "keep",
        "1",
        ("improvement gate", "0.40%", "needs at least 1.00%", "short by 0.60%"),
    ),
    Case(
        "best RMSE but fails an absolute gate: never promoted",
        (scored("1", 60_000), scored("2", 50_000, r2=0.70), scored("3", 58_000)),
        "1",
        "promote",
        "3",
        ("v3 replaces v1",),
    ),
    Case(
        "the only challenger fails an absolute gate",
        (scored("1", 60_000), scored("2", 50_000, mape=0.35)),
        "1",
        "keep",
        "1",
        ("mape gate: 35.00% > 30.00% (over by 5.00%)",),
    ),
    Case(
        "the challenger fails the smoke test",
        (scored("1", 60_000), scored("2", 50_000, smoke_error="KeyError: 'ratios'")),
        "1",
        "keep",
        "1",
        ("smoke test failed: KeyError: 'ratios'",),
    ),
    Case(
        "tie with production: production stays",
        (scored("1", 50_000.001), scored("2", 50_000.0)),
        "1",
        "keep",
        "1",
        ("not better",),
    ),
    Case(
        "tie between candidates: the newer version wins",
        (scored("4", 50_000), scored("7", 50_000), scored("5", 50_000)),
        None,
        "promote",
        "7",
        ("first promotion",),
    ),
    Case(
        "production is the only version",
        (scored("3", 50_000),),
        "3",
        "keep",
        "3",
        ("no other version",),
    ),
    Case(
        "a failing production is still replaced only by a passing, better candidate",
        (scored("1", 75_000), scored("2", 69_000)),
        "1",
        "promote",
        "2",
        ("v2 replaces v1",),
    ),
    Case(
        "a production that no longer loads is replaced without the improvement gate",
        (unloadable("1"), scored("2", 69_900)),
        "1",
        "promote",
        "2",
        ("production fails its smoke test", "cannot load"),
    ),
    Case(
        "a candidate that cannot be loaded is refused, not fatal",
        (unloadable("5"), scored("4", 50_000)),
        "4",
        "keep",
        "4",
        ("v5: smoke test failed: cannot load",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Case) -> None:
    # given scored candidates and the production version; when
    decision = decide(case.candidates, case.production, GATES)

    # then
    assert (decision.action, decision.target) == (case.action, case.target)
    assert decision.previous == case.production
    for fragment in case.reason_has:
        assert fragment in decision.reason
    assert decision.moves == (case.action == "promote")


def test_decide_is_independent_of_candidate_order() -> None:
    candidates = [scored("4", 50_000), scored("7", 50_000), scored("1", 60_000)]

    decisions = {decide(order, "1", GATES).target for order in (candidates, candidates[::-1])}

    assert decisions == {"7"}


def test_production_must_be_scored_with_the_candidates() -> None:
    with pytest.raises(ValueError, match="production version 9"):
        decide([scored("1", 50_000)], "9", GATES)


def test_table_lists_every_version_best_first_with_its_gates() -> None:
    decision = decide([scored("1", 55_000), scored("2", 50_000), scored("3", 80_000)], "1", GATES)

    rows = decision.table()

    assert [r["version"] for r in rows] == ["2", "1", "3"]
    assert [r["outcome"] for r in rows] == ["**promoted**", "replaced", "-"]
    assert rows[2]["gates"].startswith("rmse gate: $80,000 > $70,000 (over by $10,000)")


def test_rollback_returns_to_the_replaced_version() -> None:
    decision = plan_rollback([scored("3", 50_000), scored("2", 52_000)], "3", "2")

    assert (decision.action, decision.target, decision.previous) == ("rollback", "2", "3")
    assert decision.moves


@pytest.mark.parametrize(
    ("production", "rollback_to", "action", "message"),
    [
        (None, None, "none", "nothing to roll back: no version carries"),
        ("3", None, "keep", "nothing to roll back to: production v3 did not replace"),
    ],
)
def test_a_rollback_with_nowhere_to_go_decides_to_stay(
    production: str | None, rollback_to: str | None, action: str, message: str
) -> None:
    decision = plan_rollback([scored("3", 50_000)], production, rollback_to)

    assert (decision.action, decision.target, decision.previous) == (action, production, production)
    assert not decision.moves
    assert decision.reason.startswith(message)


def test_rollback_refuses_a_version_that_fails_its_smoke_test() -> None:
    with pytest.raises(RollbackError, match="smoke test failed: boom"):
        plan_rollback([scored("3", 50_000), scored("2", 52_000, smoke_error="boom")], "3", "2")


def test_a_promotion_leaves_one_tag_where_a_rollback_goes() -> None:
    decision = decide([scored("1", 55_000), scored("2", 50_000)], "1", GATES)

    assert move_tags(decision) == {ROLLBACK_TO_TAG: "v1"}


def test_rollback_keeps_the_targets_own_rollback_point() -> None:
    decision = plan_rollback([scored("3", 50_000), scored("2", 52_000)], "3", "2")

    assert move_tags(decision) == {}


def test_a_release_needs_a_version_to_move_to() -> None:
    decision = decide([scored("1", 72_000)], None, GATES)

    with pytest.raises(ValueError, match="moves nothing"):
        Release(decision, "production", "2026-01-01T00:00:00.000+00:00")


@pytest.mark.parametrize(("dry_run", "verb"), [(False, "moved"), (True, "would move")])
def test_report_says_what_moved(dry_run: bool, verb: str) -> None:
    decision: Decision = decide([scored("1", 55_000), scored("2", 50_000)], "1", GATES)

    text = report(
        decision, model_name="m", alias="production", dry_run=dry_run, n_rows=10, data_version="d"
    )

    assert f"`production` {verb} from **v1** to **v2**" in text
    assert "| version | role | rmse |" in text
