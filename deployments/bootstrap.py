"""The one-shot set-up of a running stack: what the servers need once, before the first run.

    python -m deployments.bootstrap results-block       # the S3 result-storage block (team)
    python -m deployments.bootstrap alerts BLOCK_SLUG   # notify a block: release failed or held
    python -m deployments.bootstrap strict-parameters   # after a `prefect deploy` by hand
    python -m deployments.bootstrap watchdog            # zombie and stuck-PENDING runs

- MLflow users: `trainer` may write the project's experiment and registered model, `reader`
  may only read (the server's default permission). Done as the admin, over the REST API.
- The result-storage block the workers share: bucket and folder only. The keys and the
  endpoint stay in each worker's environment (boto3's AWS_* variables), not in Prefect's DB.
- The `housing` process work pool, and `prefect deploy --all` (which also creates the release
  chain's automation from prefect.yaml's trigger); then each deployment's parameter schema is
  closed, so the API refuses a parameter the flow does not take (`strict-parameters`).
- The release alerts, when an operator names a notification block (a Slack or e-mail block,
  a custom webhook): two automations that notify it when a release fails or its gates hold a
  candidate back. Automations cannot be upserted from prefect.yaml (prefect#18918), so they
  are created here, replaced on each run.
- The watchdog (`deployments/watchdog.py`): two automations that mark CRASHED a RUNNING run
  whose heartbeats stopped and a PENDING run that never started, freeing its deployment's
  concurrency slot. Their windows are settings (`HOUSING_WATCHDOG__*`).

Each step is idempotent: running it against a bootstrapped stack changes nothing.
Every Prefect step runs as a subprocess with the caller's environment (PREFECT_API_URL,
PREFECT_API_AUTH_STRING), as an operator's shell would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from deployments.services import BIN, REPO, RESULTS_BLOCK, RESULTS_BUCKET, WORK_POOL
from housing_core.settings.sections import EXPERIMENT_NAME, REGISTERED_MODEL_NAME

WRITERS = ("trainer",)  # users who may train, register and promote


def mlflow_users(
    tracking_uri: str,
    admin_password: str,
    users: Mapping[str, str],
    experiment: str = EXPERIMENT_NAME,
    model: str = REGISTERED_MODEL_NAME,
) -> None:
    """Create `users` (name: password); give the writers EDIT on the experiment and model."""
    with httpx.Client(base_url=tracking_uri, auth=("admin", admin_password), timeout=30) as api:
        for name, password in users.items():
            found = api.get("/api/2.0/mlflow/users/get", params={"username": name})
            if found.status_code != 200:
                _ok(
                    api.post(
                        "/api/2.0/mlflow/users/create",
                        json={"username": name, "password": password},
                    )
                )
        experiment_id = _experiment_id(api, experiment)
        if (
            api.get("/api/2.0/mlflow/registered-models/get", params={"name": model}).status_code
            != 200
        ):
            _ok(api.post("/api/2.0/mlflow/registered-models/create", json={"name": model}))
        for name in WRITERS:
            if name not in users:
                continue
            for kind, resource in (("experiment", experiment_id), ("registered_model", model)):
                _ok(
                    api.post(
                        "/api/3.0/mlflow/users/permissions/grant",
                        json={
                            "username": name,
                            "resource_type": kind,
                            "resource_id": resource,
                            "permission": "EDIT",
                        },
                    )
                )


def _experiment_id(api: httpx.Client, name: str) -> str:
    found = api.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name})
    if found.status_code == 200:
        return str(found.json()["experiment"]["experiment_id"])
    created = _ok(api.post("/api/2.0/mlflow/experiments/create", json={"name": name}))
    return str(created.json()["experiment_id"])


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise RuntimeError(
            f"MLflow {response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:500]}"
        )
    return response


def results_block(env: Mapping[str, str]) -> None:
    """Save the shared result-storage block (through a subprocess with `env`)."""
    _run([sys.executable, "-m", "deployments.bootstrap", "results-block"], env)


def ensure_work_pool(env: Mapping[str, str]) -> None:
    """Create the process pool once; an existing pool is left as it is."""
    inspect = subprocess.run(
        [str(BIN / "prefect"), "work-pool", "inspect", WORK_POOL],
        env=dict(env),
        capture_output=True,
        text=True,
    )
    if inspect.returncode == 0:
        return
    _run([str(BIN / "prefect"), "work-pool", "create", WORK_POOL, "--type", "process"], env)


def deploy_all(env: Mapping[str, str], cwd: Path = REPO) -> None:
    """`prefect deploy --all` from a checkout (reads its prefect.yaml), then every deployment
    of the project made to refuse a parameter its flow does not take."""
    _run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], env, cwd)
    _run([sys.executable, "-m", "deployments.bootstrap", "strict-parameters"], env, cwd)


def _strict_parameters() -> list[str]:
    """Close each project deployment's parameter schema (`additionalProperties: false`).

    Prefect builds the schema from the flow's signature but leaves it open, so the API takes
    `{"modle": ...}` and the run fails only once a worker has started it. Closed, the API
    refuses it at creation (409, naming the key), as it refuses a wrong type. Nested keys
    (inside `model`, `gates`) are the settings' to refuse, before any data is read.
    """
    from prefect import get_client
    from prefect.client.schemas.actions import DeploymentUpdate

    closed = []
    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        for deployment in client.read_deployments():
            name = flows.get(deployment.flow_id, "")
            schema = dict(deployment.parameter_openapi_schema or {})
            if not name.startswith("housing-") or schema.get("additionalProperties") is False:
                continue
            schema["additionalProperties"] = False
            client.update_deployment(
                deployment.id, DeploymentUpdate(parameter_openapi_schema=schema)
            )
            closed.append(f"{name}/{deployment.name}")
    return closed


def _run(command: list[str], env: Mapping[str, str], cwd: Path = REPO) -> None:
    done = subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )


def release_alerts(env: Mapping[str, str], block: str) -> None:
    """Install the release alerts to `block` (a `type-slug/name`), through a subprocess."""
    _run([sys.executable, "-m", "deployments.bootstrap", "alerts", block], env)


ALERTS = {
    "housing-release-failed": {
        "description": "A release (housing-promotion) failed or crashed.",
        "trigger": {
            "type": "event",
            "posture": "Reactive",
            "expect": ["prefect.flow-run.Failed", "prefect.flow-run.Crashed"],
            "match": {"prefect.resource.id": "prefect.flow-run.*"},
            "match_related": {
                "prefect.resource.role": "flow",
                "prefect.resource.name": "housing-promotion",
            },
            "threshold": 1,
            "within": 0,
        },
        "subject": "housing-flows: release {{ flow_run.name }} {{ flow_run.state.name }}",
        "body": "The release {{ flow_run.name }} ended {{ flow_run.state.name }}: "
        "{{ flow_run.state.message }}",
    },
    "housing-release-held": {
        "description": "A release's gates held every candidate back (housing.release.held).",
        "trigger": {
            "type": "event",
            "posture": "Reactive",
            "expect": ["housing.release.held"],
            "match": {"prefect.resource.id": "housing.model.*"},
            "threshold": 1,
            "within": 0,
        },
        "subject": "housing-flows: release held for {{ event.resource.name }}",
        "body": "{{ event.payload.reason }}",
    },
}


def _install_alerts(block: str) -> None:
    from prefect import get_client
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    block_type, _, name = block.partition("/")
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(name, block_type)
        for title, spec in ALERTS.items():
            for existing in client.read_automations_by_name(title):
                client.delete_automation(existing.id)
            client.create_automation(
                AutomationCore(
                    name=title,
                    description=str(spec["description"]),
                    enabled=True,
                    trigger=EventTrigger.model_validate(spec["trigger"]),
                    actions=[
                        SendNotification(
                            block_document_id=document.id,
                            subject=str(spec["subject"]),
                            body=str(spec["body"]),
                        )
                    ],
                )
            )


def _save_results_block() -> None:
    from prefect_aws import AwsCredentials, S3Bucket

    block_type, _, name = RESULTS_BLOCK.partition("/")
    assert block_type == "s3-bucket", RESULTS_BLOCK
    # no keys and no endpoint: boto3 reads AWS_* from each worker's environment
    S3Bucket(
        bucket_name=RESULTS_BUCKET, bucket_folder="results", credentials=AwsCredentials()
    ).save(name, overwrite=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["results-block"]:
        _save_results_block()
    elif sys.argv[1:] == ["strict-parameters"]:
        print("parameter schemas closed:", ", ".join(_strict_parameters()) or "none")
    elif sys.argv[1:] == ["watchdog"]:
        from deployments.watchdog import WatchdogError, install
        from housing_core.settings import SettingsError

        try:
            print("watchdog automations created:", ", ".join(install()) or "none (up to date)")
        except (WatchdogError, SettingsError) as error:
            sys.exit(f"watchdog not installed: {error}")
    elif len(sys.argv) == 3 and sys.argv[1] == "alerts":
        _install_alerts(sys.argv[2])
    else:
        sys.exit(__doc__)
