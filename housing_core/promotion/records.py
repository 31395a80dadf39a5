"""What moving the alias leaves on the version that receives it: when, who, why, over what."""

from __future__ import annotations

import json

from housing_core.promotion.decision import Decision

TAG_PREFIX = "housing.promotion."
ROLLBACK_TO_TAG = f"{TAG_PREFIX}rollback_to"


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
