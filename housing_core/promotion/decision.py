"""Which registered version should carry the serving alias: a pure decision, tested by table.

Every version in the comparison (the candidates and the current production version) is scored
on the same held-out rows before it reaches this module, so the numbers compare like with like.
Moving the alias is not done here: the flow applies a `Decision` through the registry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from housing_core.evaluation.gates import check_gates
from housing_core.evaluation.metrics import METRICS
from housing_core.formatting import format_metric, format_share
from housing_core.settings import PromotionGates

Action = Literal["promote", "rollback", "keep", "none"]
# RMSEs closer than a cent are a tie: the same model scored twice must not look "better".
_TIE_DECIMALS = 2


class RollbackError(RuntimeError):
    """There is nothing to roll back to, or the version to return to does not serve."""


Role = Literal["production", "candidate"]


@dataclass(frozen=True)
class VersionScore:
    """One registered version judged on the shared rows: the one score type from its own
    process's answer to the promotion summary.

    Scoring fills the metrics, the smoke test's verdict and where its code ran; the decision
    fills its role and the gates it missed (`failures`, naming each gate and by how much).
    """

    version: str
    metrics: dict[str, float]
    smoke_error: str | None = None
    code_from: str | None = None
    interpreter: str = ""
    drift: tuple[str, ...] = ()  # the drift gate's findings (promotion.drift_gate)
    role: Role = "candidate"
    failures: tuple[str, ...] = ()

    @property
    def rmse(self) -> float:
        return round(self.metrics["rmse"], _TIE_DECIMALS)

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
    scores: tuple[VersionScore, ...]
    accepted_drift: tuple[str, ...] = ()  # released despite these findings: `accept_drift`

    @property
    def moves(self) -> bool:
        return self.action in ("promote", "rollback") and self.target != self.previous

    @property
    def held(self) -> bool:
        """Nothing moves though candidates were put forward: every one missed a gate."""
        candidates = [s for s in self.scores if s.role == "candidate"]
        return not self.moves and bool(candidates) and all(not s.passed for s in candidates)

    def scores_of(self, version: str) -> dict[str, float]:
        return next(v.metrics for v in self.scores if v.version == version)

    def table(self) -> list[dict[str, str]]:
        """One row per version, best first, as the promotion report shows it."""
        return [
            {
                "version": score.version,
                "role": score.role,
                **{name: format_metric(name, score.metrics[name]) for name in METRICS},
                "gates": "pass" if score.passed else "; ".join(score.failures),
                "outcome": self._outcome(score.version),
            }
            for score in self.scores
        ]

    def _outcome(self, version: str) -> str:
        if version == self.target and self.moves:
            return "**promoted**" if self.action == "promote" else "**rolled back to**"
        if version == self.target:
            return "stays production"
        if version == self.previous and self.moves:
            return "replaced"
        return "-"


def decide(
    candidates: Sequence[VersionScore],
    production: str | None,
    gates: PromotionGates,
    accept_drift: bool = False,
) -> Decision:
    """Promote the best candidate that passes every gate and beats production by enough.

    Ranking: lowest RMSE on the shared rows; a tie goes to production (no churn), then to the
    newer version. A candidate failing an absolute gate or the smoke test is never promoted;
    one with a drift finding only when a person accepts the drift (`accept_drift`), which the
    decision carries so that the release records it.
    """
    if production is not None and production not in {c.version for c in candidates}:
        raise ValueError(f"production version {production} must be scored with the candidates")
    judged = _judged(candidates, production, gates, accept_drift)
    passing = [v for v in judged if v.passed and v.version != production]
    if not passing:
        refused = "; ".join(
            f"v{v.version}: {', '.join(v.failures)}" for v in judged if v.version != production
        )
        if production is None:
            return Decision(
                "none",
                None,
                None,
                f"no candidate passes the gates ({refused or 'none found'})",
                judged,
            )
        why = f"no candidate passes the gates ({refused})" if refused else "no other version"
        return Decision(
            "keep", production, production, f"production stays v{production}: {why}", judged
        )
    best = min(passing, key=lambda c: (c.rmse, -int(c.version)))
    if production is None:
        first = Decision(
            "promote",
            best.version,
            None,
            f"first promotion: v{best.version} has the lowest RMSE "
            f"({format_metric('rmse', best.rmse)}) "
            f"of {len(passing)} candidate(s) passing every gate",
            judged,
        )
        return _with_accepted_drift(first, judged)
    champion = next(v for v in judged if v.version == production)
    decision = _against_production(best, champion, gates.min_improvement, judged)
    return _with_accepted_drift(decision, judged)


def _against_production(
    best: VersionScore,
    champion: VersionScore,
    min_improvement: float,
    judged: tuple[VersionScore, ...],
) -> Decision:
    if champion.smoke_error:
        reason = (
            f"v{best.version} replaces v{champion.version}: production fails its smoke test "
            f"({champion.smoke_error}); v{best.version} passes every gate "
            f"(RMSE {format_metric('rmse', best.rmse)})"
        )
        return Decision("promote", best.version, champion.version, reason, judged)
    gain = (champion.rmse - best.rmse) / champion.rmse if champion.rmse else 0.0
    compared = f"RMSE {format_metric('rmse', best.rmse)} vs {format_metric('rmse', champion.rmse)}"
    if best.rmse >= champion.rmse:
        reason = (
            f"production stays v{champion.version}: best candidate v{best.version} is not "
            f"better on the shared rows ({compared}); nothing to change"
        )
        return Decision("keep", champion.version, champion.version, reason, judged)
    if gain < min_improvement:
        reason = (
            f"production stays v{champion.version}: improvement gate: v{best.version} lowers "
            f"RMSE by {format_share(gain)} ({compared}), needs at least "
            f"{format_share(min_improvement)} (short by {format_share(min_improvement - gain)})"
        )
        return Decision("keep", champion.version, champion.version, reason, judged)
    reason = (
        f"v{best.version} replaces v{champion.version}: RMSE {format_share(gain)} lower on the "
        f"shared rows ({compared}; gate {format_share(min_improvement)})"
    )
    return Decision("promote", best.version, champion.version, reason, judged)


def already_decided(production: str | None, trigger: str | None, earlier: str) -> Decision:
    """A second release for the same trigger: it decides nothing, and says which one did."""
    reason = f"a release for {trigger} already ran ({earlier}): nothing decided twice"
    return Decision("none" if production is None else "keep", production, production, reason, ())


def plan_rollback(
    candidates: Sequence[VersionScore], production: str | None, rollback_to: str | None
) -> Decision:
    """Move the alias back to the version production replaced; only its smoke test must pass.

    No quality gate here: a rollback is an operator's call, made because production misbehaves.
    With nowhere to go back to, the decision is to leave the alias as it is, with the reason;
    a version to return to that fails its smoke test is refused (`RollbackError`).
    """
    if production is None:
        return Decision(
            "none", None, None, "nothing to roll back: no version carries the alias", ()
        )
    judged = tuple(
        replace(
            c,
            role="production" if c.version == production else "candidate",
            failures=(f"smoke test: {c.smoke_error}",) if c.smoke_error else (),
        )
        for c in candidates
    )
    if not rollback_to:
        reason = (
            f"nothing to roll back to: production v{production} did not replace another "
            "version, so it stays"
        )
        return Decision("keep", production, production, reason, judged)
    target = next((c for c in candidates if c.version == rollback_to), None)
    if target is None:
        raise ValueError(f"version {rollback_to} must be scored before rolling back to it")
    if target.smoke_error:
        raise RollbackError(
            f"refusing to roll back to v{rollback_to}: smoke test failed: {target.smoke_error}"
        )
    reason = f"rollback: v{rollback_to} returns to production, replacing v{production}"
    return Decision("rollback", rollback_to, production, reason, judged)


def _with_accepted_drift(decision: Decision, judged: tuple[VersionScore, ...]) -> Decision:
    """A promotion past drift findings (accepted by a person) says so, in its reason too."""
    target = next((v for v in judged if v.version == decision.target), None)
    if decision.action != "promote" or target is None or not target.drift:
        return decision
    reason = f"{decision.reason}; drift accepted by the operator: {'; '.join(target.drift)}"
    return replace(decision, reason=reason, accepted_drift=target.drift)


def _judged(
    candidates: Sequence[VersionScore],
    production: str | None,
    gates: PromotionGates,
    accept_drift: bool = False,
) -> tuple[VersionScore, ...]:
    """Each version with its role and the gates it missed, best first."""
    ordered = sorted(
        candidates,
        key=lambda c: (math.isnan(c.rmse), c.rmse, c.version != production, -int(c.version)),
    )
    return tuple(
        replace(
            c,
            role="production" if c.version == production else "candidate",
            failures=_failures(c, gates)
            + (() if accept_drift or c.version == production else c.drift),
        )
        for c in ordered
    )


def _failures(candidate: VersionScore, gates: PromotionGates) -> tuple[str, ...]:
    if any(math.isnan(v) for v in candidate.metrics.values()):  # not even scored
        return (f"smoke test failed: {candidate.smoke_error or 'no scores'}",)
    failures = [check.miss() for check in check_gates(candidate.metrics, gates)]
    if candidate.smoke_error:
        failures.append(f"smoke test failed: {candidate.smoke_error}")
    return tuple(f for f in failures if f)
