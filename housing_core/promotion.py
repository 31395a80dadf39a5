"""Which registered version should carry the serving alias: a pure decision, tested by table.

Every version in the comparison (the candidates and the current production version) is scored
on the same held-out rows before it reaches this module, so the numbers compare like with like.
Moving the alias is not done here: the flow applies a `Decision` through `registry`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from housing_core.evaluation import Check, check_thresholds
from housing_core.reports import markdown_table
from housing_core.settings import Thresholds

Action = Literal["promote", "rollback", "keep", "none"]
TAG_PREFIX = "housing.promotion."
ROLLBACK_TO_TAG = f"{TAG_PREFIX}rollback_to"
# RMSEs closer than a cent are a tie: the same model scored twice must not look "better".
_TIE_DECIMALS = 2


class RollbackError(RuntimeError):
    """There is nothing to roll back to, or the version to return to does not serve."""


@dataclass(frozen=True)
class Candidate:
    """A registered version, scored on the shared rows and smoke-tested with a serving payload."""

    version: str
    metrics: dict[str, float]
    smoke_error: str | None = None

    @property
    def rmse(self) -> float:
        return round(self.metrics["rmse"], _TIE_DECIMALS)


@dataclass(frozen=True)
class Gates:
    """What a candidate must pass to replace production."""

    thresholds: Thresholds
    min_improvement: float  # share of production's RMSE to remove: 0.005 = 0.5 %


@dataclass(frozen=True)
class Verdict:
    """One version's gate results; `failures` name each gate missed and by how much."""

    version: str
    role: Literal["production", "candidate"]
    metrics: dict[str, float]
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Decision:
    """Where the alias points afterwards (`target`), where it pointed before, and why."""

    action: Action
    target: str | None
    previous: str | None
    reason: str
    verdicts: tuple[Verdict, ...]

    @property
    def moves(self) -> bool:
        return self.action in ("promote", "rollback") and self.target != self.previous

    def scores_of(self, version: str) -> dict[str, float]:
        return next(v.metrics for v in self.verdicts if v.version == version)

    def table(self) -> list[dict[str, str]]:
        """One row per version, best first, as the promotion report shows it."""
        rows = []
        for verdict in self.verdicts:
            m = verdict.metrics
            rows.append(
                {
                    "version": verdict.version,
                    "role": verdict.role,
                    "rmse": f"{m['rmse']:,.0f}",
                    "mae": f"{m['mae']:,.0f}",
                    "r2": f"{m['r2']:.4f}",
                    "mape": f"{m['mape']:.2%}",
                    "gates": "pass" if verdict.passed else "; ".join(verdict.failures),
                    "outcome": self._outcome(verdict.version),
                }
            )
        return rows

    def _outcome(self, version: str) -> str:
        if version == self.target and self.moves:
            return "**promoted**" if self.action == "promote" else "**rolled back to**"
        if version == self.target:
            return "stays production"
        if version == self.previous and self.moves:
            return "replaced"
        return "-"


def decide(candidates: Sequence[Candidate], production: str | None, gates: Gates) -> Decision:
    """Promote the best candidate that passes every gate and beats production by enough.

    Ranking: lowest RMSE on the shared rows; a tie goes to production (no churn), then to the
    newer version. A candidate failing an absolute gate or the smoke test is never promoted.
    """
    by_version = {c.version: c for c in candidates}
    if production is not None and production not in by_version:
        raise ValueError(f"production version {production} must be scored with the candidates")
    verdicts = _verdicts(candidates, production, gates.thresholds)
    passing = [by_version[v.version] for v in verdicts if v.passed and v.version != production]
    if not passing:
        refused = "; ".join(
            f"v{v.version}: {', '.join(v.failures)}" for v in verdicts if v.version != production
        )
        if production is None:
            return Decision(
                "none",
                None,
                None,
                f"no candidate passes the gates ({refused or 'none found'})",
                verdicts,
            )
        why = f"no candidate passes the gates ({refused})" if refused else "no other version"
        return Decision(
            "keep", production, production, f"production stays v{production}: {why}", verdicts
        )
    best = min(passing, key=lambda c: (c.rmse, -int(c.version)))
    if production is None:
        return Decision(
            "promote",
            best.version,
            None,
            f"first promotion: v{best.version} has the lowest RMSE ({best.rmse:,.0f}) "
            f"of {len(passing)} candidate(s) passing every gate",
            verdicts,
        )
    return _against_production(best, by_version[production], gates.min_improvement, verdicts)


def _against_production(
    best: Candidate, champion: Candidate, min_improvement: float, verdicts: tuple[Verdict, ...]
) -> Decision:
    if champion.smoke_error:
        reason = (
            f"v{best.version} replaces v{champion.version}: production fails its smoke test "
            f"({champion.smoke_error}); v{best.version} passes every gate (RMSE {best.rmse:,.0f})"
        )
        return Decision("promote", best.version, champion.version, reason, verdicts)
    gain = (champion.rmse - best.rmse) / champion.rmse if champion.rmse else 0.0
    compared = f"RMSE {best.rmse:,.0f} vs {champion.rmse:,.0f}"
    if best.rmse >= champion.rmse:
        reason = (
            f"production stays v{champion.version}: best candidate v{best.version} is not "
            f"better on the shared rows ({compared}); nothing to change"
        )
        return Decision("keep", champion.version, champion.version, reason, verdicts)
    if gain < min_improvement:
        reason = (
            f"production stays v{champion.version}: improvement gate: v{best.version} lowers "
            f"RMSE by {gain:.2%} ({compared}), needs at least {min_improvement:.2%} "
            f"(short by {min_improvement - gain:.2%})"
        )
        return Decision("keep", champion.version, champion.version, reason, verdicts)
    reason = (
        f"v{best.version} replaces v{champion.version}: RMSE {gain:.2%} lower on the shared rows "
        f"({compared}; gate {min_improvement:.2%})"
    )
    return Decision("promote", best.version, champion.version, reason, verdicts)


def plan_rollback(
    candidates: Sequence[Candidate], production: str | None, rollback_to: str | None
) -> Decision:
    """Move the alias back to the version production replaced; only its smoke test must pass.

    No quality gate here: a rollback is an operator's call, made because production misbehaves.
    """
    if production is None:
        raise RollbackError("nothing to roll back: no version carries the alias")
    if not rollback_to:
        raise RollbackError(
            f"nothing to roll back to: production v{production} did not replace another version"
        )
    target = next((c for c in candidates if c.version == rollback_to), None)
    if target is None:
        raise ValueError(f"version {rollback_to} must be scored before rolling back to it")
    verdicts = tuple(
        Verdict(
            c.version,
            "production" if c.version == production else "candidate",
            c.metrics,
            (f"smoke test: {c.smoke_error}",) if c.smoke_error else (),
        )
        for c in candidates
    )
    if target.smoke_error:
        raise RollbackError(
            f"refusing to roll back to v{rollback_to}: smoke test failed: {target.smoke_error}"
        )
    reason = f"rollback: v{rollback_to} returns to production, replacing v{production}"
    return Decision("rollback", rollback_to, production, reason, verdicts)


def _verdicts(
    candidates: Sequence[Candidate], production: str | None, thresholds: Thresholds
) -> tuple[Verdict, ...]:
    ordered = sorted(
        candidates,
        key=lambda c: (math.isnan(c.rmse), c.rmse, c.version != production, -int(c.version)),
    )
    return tuple(
        Verdict(
            c.version,
            "production" if c.version == production else "candidate",
            c.metrics,
            _failures(c, thresholds),
        )
        for c in ordered
    )


def _failures(candidate: Candidate, thresholds: Thresholds) -> tuple[str, ...]:
    if any(math.isnan(v) for v in candidate.metrics.values()):  # not even scored
        return (f"smoke test failed: {candidate.smoke_error or 'no scores'}",)
    failures = [_describe_miss(c) for c in check_thresholds(candidate.metrics, thresholds)]
    if candidate.smoke_error:
        failures.append(f"smoke test failed: {candidate.smoke_error}")
    return tuple(f for f in failures if f)


def _describe_miss(check: Check) -> str:
    """`rmse gate: 72,345 > 70,000 (over by 2,345)`, or '' when the check passed."""
    if check.passed:
        return ""
    over = "over" if check.rule == "<=" else "under"
    side = ">" if check.rule == "<=" else "<"
    gap = abs(check.value - check.limit)
    return (
        f"{check.metric} gate: {_fmt(check.metric, check.value)} {side} "
        f"{_fmt(check.metric, check.limit)} ({over} by {_fmt(check.metric, gap)})"
    )


def _fmt(metric: str, value: float) -> str:
    if metric == "mape":
        return f"{value:.2%}"
    if metric == "r2":
        return f"{value:.4f}"
    return f"{value:,.0f}"


def move_tags(
    decision: Decision, *, alias: str, at: str, flow_run_id: str, data_version: str
) -> dict[str, str]:
    """Tags written on the version that now carries the alias: when, by whom, why, over what.

    `rollback_to` is where a later rollback goes. A promotion sets it to the version it
    replaced; a rollback leaves the target's own, so a second rollback goes one step further.
    """
    if decision.target is None:
        raise ValueError("a decision without a target moves nothing")
    tags = {
        f"{TAG_PREFIX}action": decision.action,
        f"{TAG_PREFIX}alias": alias,
        f"{TAG_PREFIX}at": at,
        f"{TAG_PREFIX}flow_run_id": flow_run_id,
        f"{TAG_PREFIX}replaced": decision.previous or "",
        f"{TAG_PREFIX}scores": json.dumps(
            {k: round(v, 6) for k, v in decision.scores_of(decision.target).items()}
        ),
        f"{TAG_PREFIX}data_version": data_version,
        f"{TAG_PREFIX}reason": decision.reason[:5000],
    }
    if decision.action == "promote":
        tags[ROLLBACK_TO_TAG] = decision.previous or ""
    return tags


def report(
    decision: Decision,
    *,
    model_name: str,
    alias: str,
    dry_run: bool,
    n_rows: int,
    data_version: str,
    gates: Gates | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The promotion artifact: the decision in one line, then the comparison table."""
    if decision.moves:
        verb = "would move" if dry_run else "moved"
        before = f"from **v{decision.previous}**" if decision.previous else "(first time)"
        headline = f"`{alias}` {verb} {before} to **v{decision.target}** ({decision.action})"
    elif decision.action == "none":
        headline = f"`{alias}` not set: nothing to promote"
    else:
        headline = f"`{alias}` stays on **v{decision.target}**: no change"
    parts: list[Any] = [
        f"# Promotion of {model_name}{' (dry run: nothing moved)' if dry_run else ''}",
        headline,
        f"**Why:** {decision.reason}",
        f"Scored on the same {n_rows:,} held-out rows (data version `{data_version[:16]}`).",
        markdown_table(decision.table()),
    ]
    if gates is not None:
        t = gates.thresholds
        parts.append(
            f"Gates: rmse <= {t.max_rmse:,.0f}, mae <= {t.max_mae:,.0f}, r2 >= {t.min_r2:g}, "
            f"mape <= {t.max_mape:.0%}, smoke test passes; to replace production, RMSE at "
            f"least {gates.min_improvement:.2%} lower."
        )
    if notes:
        parts += ["## Notes", *[f"- {n}" for n in notes]]
    return "\n\n".join(str(p) for p in parts)
