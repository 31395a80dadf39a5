"""What a flow run tells the Prefect UI about itself beyond its name."""

from __future__ import annotations

from uuid import UUID

from prefect import get_client
from prefect.logging import get_run_logger
from prefect.runtime import flow_run


def add_flow_run_tags(*tags: str) -> None:
    """Add tags (say `model:random_forest`) to the running flow run, for filtering in the UI.

    Deployment tags (adhoc, schedule, release) are already there; these say what ran.
    """
    if not flow_run.get_id():
        return
    run_id = UUID(str(flow_run.get_id()))
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(run_id).tags or []
        client.update_flow_run(run_id, tags=sorted({*current, *tags}))
    get_run_logger().info("flow run tags: %s", ", ".join(sorted({*current, *tags})))
