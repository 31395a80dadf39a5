"""housing-run: run a deployment under its final name, watch it, and print what it decided.

    housing-run housing-training/adhoc --param model='{"family": "random_forest"}'
    housing-run housing-promotion/release --param mode=rollback
    housing-run housing-promotion/release --param dry_run=true --no-watch

`prefect deployment run --watch` prints a random name that the flow renames when it starts,
then state changes only. This names the run as the flow would (`random-forest-n150-d20-...`,
`promote-...`: the MLflow run gets the same name), follows it, and prints each state and, at
the end, its reports' summaries: a training's metrics and version, a release's decision.
Exit status: 0 when the run completes, 1 when it does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.settings import PREFECT_UI_URL

from flows import drift, promotion, scoring, sweep, training

NAMERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "housing-training": training.name_run,
    "housing-promotion": promotion.name_run,
    "housing-scoring": scoring.name_run,
    "housing-drift": drift.name_run,
    "housing-sweep": sweep.name_run,
}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def parse_param(text: str) -> tuple[str, Any]:
    """`key=value`; the value is JSON when it parses as JSON, else the plain string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--param wants key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="housing-run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("deployment", help="FLOW/DEPLOYMENT, e.g. housing-training/adhoc")
    parser.add_argument("--param", action="append", type=parse_param, default=[], metavar="K=V")
    parser.add_argument("--no-watch", action="store_true", help="submit and return")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to watch (1800)")
    args = parser.parse_args(argv)
    flow_name = args.deployment.split("/", 1)[0]
    params = dict(args.param)
    namer = NAMERS.get(flow_name)
    name = namer(params) if namer else None

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(args.deployment)
        run = client.create_flow_run_from_deployment(deployment.id, parameters=params, name=name)
        ui = PREFECT_UI_URL.value()
        print(f"{run.name}  ({run.id})")
        if ui:
            print(f"  {ui.rstrip('/')}/runs/flow-run/{run.id}")
        if args.no_watch:
            return 0
        state = watch(client, run.id, args.timeout)
        for line in summaries(client, run.id):
            print(line)
    return 0 if state == "COMPLETED" else 1


def watch(client: Any, flow_run_id: Any, timeout_s: float) -> str:
    """Print each state the run enters until it is final; returns the final state's type."""
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        state = client.read_flow_run(flow_run_id).state
        label = f"{state.name}" + (f": {state.message}" if state.message else "")
        if label != seen:
            print(f"  {time.strftime('%H:%M:%S')} {label}")
            seen = label
        if state.type.value in FINAL:
            return str(state.type.value)
        time.sleep(2)
    print(f"  still {seen} after {timeout_s:.0f} s; the run goes on (watch it in the UI)")
    return "TIMEOUT"


def summaries(client: Any, flow_run_id: Any) -> list[str]:
    """The one-line summary each report of the run carries (its artifact description)."""
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )
    return [f"{a.key}: {a.description}" for a in artifacts if a.description]


if __name__ == "__main__":
    sys.exit(main())
