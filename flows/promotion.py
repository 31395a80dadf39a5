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

from housing_core.promotion import decision as decisions
from housing_core.promotion.records import move_tags
from housing_core.promotion.report import headline, report
from housing_core.settings import load_settings
from tasks.data import (
    fingerprint_source,
    load_housing_data,
    split_housing_data,
    validate_housing_data,
)
from tasks.promotion import (
    list_candidates,
    move_alias,
    promotion_lock,
    read_production,
    score_versions,
)
from tasks.reports import publish_report
from tasks.tracking import check_tracking_server

Mode = Literal["promote", "rollback"]


class VersionScore(BaseModel):
    version: str
    role: str
    metrics: dict[str, float]
    passed: bool
    failures: list[str]


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
def promotion_flow(
    mode: Mode = "promote",
    dry_run: bool = False,
    version: str | None = None,
    promotion_gates: dict[str, float] | None = None,
    max_candidates: int | None = None,
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
    """
    settings = load_settings(
        {"promotion": {"gates": promotion_gates, "max_candidates": max_candidates}}
    )
    if version is not None and not version.isdigit():
        raise ValueError(f"version: must be a version number such as '7', got {version!r}")
    rules = settings.promotion
    name = settings.mlflow.registered_model_name
    logger = get_run_logger()
    logger.info("%s of %s's '%s'%s", mode, name, rules.alias, " (dry run)" if dry_run else "")

    check_tracking_server(settings)
    fingerprint = fingerprint_source(settings.data.source, settings.data.download_timeout_s)
    ingested = load_housing_data(
        settings.data.source, fingerprint, settings.data.download_timeout_s
    )
    clean = validate_housing_data(ingested, settings.data)
    parts = split_housing_data(clean, settings.split)

    with promotion_lock(rules):
        production = read_production(settings)
        if mode == "rollback":
            versions = [v for v in (production.version, production.rollback_to) if v]
            scored = score_versions(settings, versions, parts.test)
            decision = decisions.plan_rollback(scored, production.version, production.rollback_to)
        else:
            versions = list_candidates(settings, version)
            if production.version:
                versions.append(production.version)
            scored = score_versions(settings, versions, parts.test)
            decision = decisions.decide(scored, production.version, rules.gates)
        logger.info("decision: %s", decision.reason)

        if decision.moves and not dry_run:
            tags = move_tags(
                decision,
                alias=rules.alias,
                at=datetime.now(UTC).isoformat(timespec="milliseconds"),
                flow_run_id=str(flow_run.get_id() or ""),
                data_version=ingested.version,
            )
            move_alias(settings, decision, tags, n_rows=len(parts.test))

    publish_report(
        key="housing-promotion-report",
        markdown=report(
            decision,
            model_name=name,
            alias=rules.alias,
            dry_run=dry_run,
            n_rows=len(parts.test),
            data_version=ingested.version,
            gates=None if mode == "rollback" else rules.gates,
        ),
        description=f"{headline(decision, rules.alias, dry_run)}. {decision.reason[:300]}",
    )
    return _summary(mode, dry_run, decision, rules.alias, name, ingested.version)


def _summary(
    mode: Mode,
    dry_run: bool,
    decision: decisions.Decision,
    alias: str,
    name: str,
    data_version: str,
) -> PromotionSummary:
    moved = decision.moves and not dry_run
    return PromotionSummary(
        flow_run_id=str(flow_run.get_id() or ""),
        mode=mode,
        dry_run=dry_run,
        action=decision.action,
        moved=moved,
        before=decision.previous,
        after=decision.target if moved else decision.previous,
        reason=decision.reason,
        alias=alias,
        model_name=name,
        data_version=data_version,
        versions=[
            VersionScore(
                version=v.version,
                role=v.role,
                metrics=v.metrics,
                passed=v.passed,
                failures=list(v.failures),
            )
            for v in decision.verdicts
        ],
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry: the summary goes to stdout as JSON; exit 1 if the flow run failed."""
    parser = argparse.ArgumentParser(prog="python -m flows.promotion", description=__doc__)
    parser.add_argument("--rollback", action="store_true", help="return to the replaced version")
    parser.add_argument("--dry-run", action="store_true", help="decide and report, move nothing")
    parser.add_argument("--version", help="consider only this version against production")
    parser.add_argument("--min-improvement", type=float, help="e.g. 0.01 for 1 %% lower RMSE")
    args = parser.parse_args(argv)
    gates = None if args.min_improvement is None else {"min_improvement": args.min_improvement}
    state = promotion_flow(
        mode="rollback" if args.rollback else "promote",
        dry_run=args.dry_run,
        version=args.version,
        promotion_gates=gates,
        return_state=True,
    )
    if not state.is_completed():
        return 1
    print(state.result().model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
