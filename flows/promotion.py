"""housing-promotion: score the registered versions on the same rows, then move `production`.

Run it with `python -m flows.promotion` (promote the best version), `--dry-run` (decide, move
nothing), `--version 7` (consider only v7 against production) or `--rollback` (return
`production` to the version it replaced). Settings come from HOUSING_* env and config.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow
from prefect.logging import get_run_logger
from prefect.runtime import flow_run
from pydantic import BaseModel

from flows.embedded import run_embedded
from housing_core.data.source import DataSourceError
from housing_core.data.validation import DataValidationError
from housing_core.promotion import decision as decisions
from housing_core.promotion.decision import RollbackError, VersionScore
from housing_core.promotion.records import Release
from housing_core.promotion.report import headline, report
from housing_core.settings import SettingsError, load_settings
from housing_core.tracking.connection import ArtifactStoreError, TrackingUnavailableError
from housing_core.tracking.registry import AliasMismatchError
from tasks.data import prepare_data
from tasks.promotion import (
    judge_drift,
    list_candidates,
    move_alias,
    promotion_lock,
    read_production,
    score_versions,
)
from tasks.reports import publish_report
from tasks.runtime import announce, earlier_claim, flow_body, flow_run_url, version_number
from tasks.tracking import check_tracking_server

Mode = Literal["promote", "rollback"]


class PromotionSummary(BaseModel):
    flow_run_id: str
    mode: Mode
    dry_run: bool
    action: str
    moved: bool
    before: str | None
    after: str | None
    reason: str
    alias: str
    model_name: str
    data_version: str
    moved_at: str | None
    versions: list[VersionScore]


def name_run(params: dict[str, Any], at: datetime | None = None) -> str:
    """`promote-20261201-031500`, `rollback-...`, `promote-dry-run-...`."""
    mode = str(params.get("mode", "promote")) + ("-dry-run" if params.get("dry_run") else "")
    return f"{mode}-{(at or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def describe_run() -> str:
    """Keeps a name `housing-run` gave the run at submission; else names it now."""
    params = flow_run.get_parameters() or {}
    given = flow_run.get_name() or ""
    if given.startswith(name_run(params).rsplit("-", 2)[0] + "-"):
        return given
    return name_run(params)


@flow(name="housing-promotion", flow_run_name=describe_run, validate_parameters=True)
@flow_body(
    SettingsError,
    DataSourceError,
    DataValidationError,
    TrackingUnavailableError,
    ArtifactStoreError,
    RollbackError,
    AliasMismatchError,
    TimeoutError,
)
def promotion_flow(
    mode: Mode = "promote",
    dry_run: bool = False,
    version: int | str | None = None,
    promotion_gates: dict[str, float] | None = None,
    max_candidates: int | None = None,
    accept_drift: bool = False,
    triggered_by: str | None = None,
) -> PromotionSummary:
    """Move the `production` alias to the best registered version, or back (rollback).

    Every setting parameter is a partial override, merged over HOUSING_* env and the config
    file and validated with them; an invalid value fails the run before any data is read or
    the alias is touched.

    Args:
        mode: `promote` picks the best version; `rollback` returns to the replaced version.
        dry_run: decide and report, move nothing.
        version: consider only this version number against production (default: the newest).
        promotion_gates: limits on the shared held-out rows and the improvement production
            must be beaten by, e.g. {"min_r2": 0.8, "min_improvement": 0.01}; from settings.
        max_candidates: how many of the newest versions to consider; from settings.
        accept_drift: release a candidate the drift gate holds back (a person's call: the
            release records it on the version).
        triggered_by: the event's resource that started this release (the release chain:
            the nightly training run); a second release for the same one decides nothing.
    """
    settings = load_settings(
        {"promotion": {"gates": promotion_gates, "max_candidates": max_candidates}}
    )
    only = version_number(version)
    rules, mlflow = settings.promotion, settings.mlflow
    get_run_logger().info(
        "%s of %s's '%s'%s",
        mode,
        mlflow.registered_model_name,
        rules.alias,
        " (dry run)" if dry_run else "",
    )

    check_tracking_server(mlflow)
    data = prepare_data(settings.data, settings.split)
    shared = data.parts.test  # every version is scored on the same held-out rows

    def score(versions: list[str], production: str | None = None) -> list[VersionScore]:
        scores, evidence = score_versions(
            mlflow,
            versions,
            shared,
            rules.smoke_rows,
            settings.state_dir / "environments",
            settings.serving.environment,
        )
        return judge_drift(scores, evidence, production, data, settings.drift)

    moved_at = None
    with promotion_lock(rules):
        production = read_production(mlflow, rules.alias)
        earlier = earlier_claim(f"after:{triggered_by}") if triggered_by else None
        if earlier is not None:  # the same event twice: one release
            decision = decisions.already_decided(production.version, triggered_by, earlier)
        elif mode == "rollback":
            versions = [v for v in (production.version, production.rollback_to) if v]
            decision = decisions.plan_rollback(
                score(versions), production.version, production.rollback_to
            )
        else:
            versions = list_candidates(mlflow, only, rules.max_candidates)
            if production.version:
                versions.append(production.version)
            scores = score(versions, production.version)
            decision = decisions.decide(scores, production.version, rules.gates, accept_drift)
        get_run_logger().info("decision: %s", decision.reason)
        if decision.held and not dry_run:  # for the release alerts (deployments/bootstrap.py)
            announce(
                "housing.release.held",
                {
                    "prefect.resource.id": f"housing.model.{mlflow.registered_model_name}",
                    "prefect.resource.name": mlflow.registered_model_name,
                },
                {"reason": decision.reason, "production": production.version or ""},
            )

        if decision.moves and not dry_run:
            moved_at = datetime.now(UTC).isoformat(timespec="milliseconds")
            move = Release(decision, rules.alias, moved_at, flow_run_url(), len(shared))
            move_alias(mlflow, move)

    publish_report(
        key="housing-promotion-report",
        markdown=report(
            decision,
            model_name=mlflow.registered_model_name,
            alias=rules.alias,
            dry_run=dry_run,
            n_rows=len(shared),
            data_version=data.ingested.version,
            gates=None if mode == "rollback" else rules.gates,
        ),
        description=f"{headline(decision, rules.alias, dry_run)}. {decision.reason[:300]}",
    )
    return PromotionSummary(
        flow_run_id=str(flow_run.get_id() or ""),
        mode=mode,
        dry_run=dry_run,
        action=decision.action,
        moved=moved_at is not None,
        before=decision.previous,
        after=decision.target if moved_at else decision.previous,
        reason=decision.reason,
        alias=rules.alias,
        model_name=mlflow.registered_model_name,
        data_version=data.ingested.version,
        moved_at=moved_at,
        versions=list(decision.scores),
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry: the summary goes to stdout as JSON; exit 1 if the flow run failed."""
    parser = argparse.ArgumentParser(prog="python -m flows.promotion", description=__doc__)
    parser.add_argument("--rollback", action="store_true", help="return to the replaced version")
    parser.add_argument("--dry-run", action="store_true", help="decide and report, move nothing")
    parser.add_argument("--version", help="consider only this version against production")
    parser.add_argument("--min-improvement", type=float, help="e.g. 0.01 for 1 %% lower RMSE")
    parser.add_argument(
        "--accept-drift", action="store_true", help="release past the drift gate (recorded)"
    )
    args = parser.parse_args(argv)
    gates = None if args.min_improvement is None else {"min_improvement": args.min_improvement}
    state = run_embedded(
        promotion_flow,
        mode="rollback" if args.rollback else "promote",
        dry_run=args.dry_run,
        version=args.version,
        promotion_gates=gates,
        accept_drift=args.accept_drift,
    )
    if not state.is_completed():
        return 1
    print(state.result().model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
