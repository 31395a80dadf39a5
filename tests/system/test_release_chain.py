"""The release chain on a real Prefect server with a real worker: a nightly retrain that
registered a new version starts a release; one that registered nothing does not; an operator
switches the chain off; the same trigger twice releases once; a held or a failed release
notifies the block an operator configured (a webhook here, received on loopback).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from deployments import bootstrap, stack
from tests.conftest import mlflow_client
from tests.servers import BIN, free_port

MODEL = "housing_price_predictor"
BLOCK = "custom-webhook/housing-alerts"


class Hooks:
    """A webhook receiver on loopback: every POST's JSON body, as it arrives."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                hooks.received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, data_source: str) -> Iterator[dict[str, Any]]:
    """A dev stack (its own ports) whose worker trains small forests, and the alerts block."""
    state = tmp_path_factory.mktemp("chain-stack")
    saved = dict(os.environ)
    os.environ.update(
        {
            "HOUSING_DATA__SOURCE": data_source,
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "HOUSING_MODEL__FAMILY": "random_forest",
            "HOUSING_MODEL__N_ESTIMATORS": "20",
            "HOUSING_MODEL__MAX_DEPTH": "12",
        }
    )
    try:
        ports = {**stack.DEFAULT_PORTS, "prefect": free_port(), "mlflow": free_port()}
        record = stack.up(state, "dev", ports, workers=1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    hooks = Hooks()
    env = {**os.environ, "PREFECT_API_URL": record["prefect_api"]}
    script = (
        "from prefect.blocks.notifications import CustomWebhookNotificationBlock as B\n"
        f"B(name='housing-alerts', url={hooks.url!r}, json_data={{'subject': '{{{{subject}}}}', "
        "'body': '{{body}}'}).save('housing-alerts', overwrite=True)\n"
    )
    subprocess.run([str(BIN / "python"), "-c", script], env=env, check=True, timeout=120)
    bootstrap.release_alerts(env, BLOCK)
    try:
        yield {**record, "hooks": hooks, "env": env}
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()
        stack.down(state)


def api(chain: dict[str, Any], method: str, path: str, **body: Any) -> Any:
    # a 503 is the SQLite server saying "database is locked, try again": Prefect's own client
    # retries 429, 502 and 503 (prefect/client/base.py), so the test does too
    for attempt in range(5):
        response = httpx.request(
            method, f"{chain['prefect_api']}{path}", json=body or None, timeout=30
        )
        if response.status_code != 503:
            break
        time.sleep(1 + attempt)
    response.raise_for_status()
    return response.json() if response.content else None


def run_deployment(chain: dict[str, Any], name: str, **parameters: Any) -> str:
    """Create a run of a deployment (by its flow/name); its flow-run id."""
    deployment = api(chain, "GET", f"/deployments/name/{name}")
    run = api(
        chain, "POST", f"/deployments/{deployment['id']}/create_flow_run", parameters=parameters
    )
    return str(run["id"])


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 300) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def final(chain: dict[str, Any], flow_run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run = api(chain, "GET", f"/flow_runs/{flow_run_id}")
        return run if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

    run = wait_for(f"flow run {flow_run_id}", done)
    return dict(run)


def releases(chain: dict[str, Any]) -> list[dict[str, Any]]:
    runs = api(
        chain,
        "POST",
        "/flow_runs/filter",
        flows={"name": {"any_": ["housing-promotion"]}},
        sort="EXPECTED_START_TIME_ASC",
    )
    return list(runs)


def release_after(chain: dict[str, Any], training: str) -> dict[str, Any]:
    trigger = f"prefect.flow-run.{training}"
    found = wait_for(
        f"a release triggered by {training}",
        lambda: [r for r in releases(chain) if r["parameters"].get("triggered_by") == trigger],
        timeout_s=120,
    )
    return final(chain, found[0]["id"])


def alias(chain: dict[str, Any]) -> str | None:
    aliases = mlflow_client(chain["mlflow"]).get_registered_model(MODEL).aliases
    return aliases.get("production")


def test_1_a_nightly_retrain_that_registers_a_version_starts_a_release(
    chain: dict[str, Any],
) -> None:
    # when the nightly deployment runs and registers v1
    training = final(chain, run_deployment(chain, "housing-training/nightly"))
    assert training["state"]["type"] == "COMPLETED"
    assert training["state"]["message"] == "new version: v1" and "nightly" in training["tags"]

    # then the chain starts a release for that run, and the gates let v1 in
    release = release_after(chain, training["id"])
    assert release["state"]["type"] == "COMPLETED"
    assert release["parameters"]["mode"] == "promote"
    assert alias(chain) == "1"
    started = f"{release['start_time']} after {training['end_time']}"
    print(
        f"chain: {training['name']} {training['state']['message']!r} -> {release['name']}", started
    )


def test_2_a_nightly_retrain_that_registers_nothing_starts_no_release(
    chain: dict[str, Any],
) -> None:
    before = len(releases(chain))

    # when the same nightly training runs again: the same data, code and model
    training = final(chain, run_deployment(chain, "housing-training/nightly"))

    # then it completes, reuses v1, and no release follows
    assert training["state"]["type"] == "COMPLETED"
    assert not training["state"]["message"]
    time.sleep(15)  # the chain reacts within a second or two when it does
    assert len(releases(chain)) == before


def test_3_an_operator_switches_the_chain_off_and_on_without_editing_code(
    chain: dict[str, Any],
) -> None:
    prefect = [str(BIN / "prefect"), "automation"]
    subprocess.run([*prefect, "pause", "housing-release-chain"], env=chain["env"], check=True)
    before = len(releases(chain))

    # when a nightly run registers v2 while the chain is paused
    model = {"family": "random_forest", "n_estimators": 40, "max_depth": 14}
    training = final(chain, run_deployment(chain, "housing-training/nightly", model=model))
    assert training["state"]["message"] == "new version: v2"
    time.sleep(15)

    # then no release runs, and production stays on v1
    assert len(releases(chain)) == before and alias(chain) == "1"
    subprocess.run([*prefect, "resume", "housing-release-chain"], env=chain["env"], check=True)
    chain["v2_training"] = training["id"]


def test_4_the_same_trigger_twice_releases_once(chain: dict[str, Any]) -> None:
    # when the release for v2's training arrives twice (a duplicated event)
    trigger = f"prefect.flow-run.{chain['v2_training']}"
    first = run_deployment(chain, "housing-promotion/release", triggered_by=trigger)
    second = run_deployment(chain, "housing-promotion/release", triggered_by=trigger)
    runs = [final(chain, first), final(chain, second)]

    # then both complete, one moves production to v2, the other says the first did
    assert [r["state"]["type"] for r in runs] == ["COMPLETED", "COMPLETED"]
    assert alias(chain) == "2"
    descriptions = [_report(chain, r["id"]) for r in runs]
    assert sum("already ran" in d for d in descriptions) == 1, descriptions
    assert sum("moved from v1 to v2" in d for d in descriptions) == 1, descriptions


def test_5_a_held_release_and_a_failed_one_notify_the_operators_block(
    chain: dict[str, Any],
) -> None:
    hooks = chain["hooks"]

    # when a release's gates hold every candidate back
    held = run_deployment(chain, "housing-promotion/release", promotion_gates={"max_rmse": 1000})
    assert final(chain, held)["state"]["type"] == "COMPLETED"

    # then the webhook receives the reason
    message = wait_for(
        "the held release's notification",
        lambda: [h for h in hooks.received if "release held" in h.get("subject", "")],
        timeout_s=90,
    )
    assert "rmse gate" in message[0]["body"]

    # and when a release fails (a version that does not exist), it is notified too
    failed = run_deployment(chain, "housing-promotion/release", version="999")
    assert final(chain, failed)["state"]["type"] == "FAILED"
    notified = wait_for(
        "the failed release's notification",
        lambda: [h for h in hooks.received if "Failed" in h.get("subject", "")],
        timeout_s=90,
    )
    assert "release" in notified[0]["subject"]
    for hook in [*message, *notified]:  # what the operator reads, shown by `pytest -s`
        print("webhook received:", json.dumps(hook)[:600])


def _report(chain: dict[str, Any], flow_run_id: str) -> str:
    artifacts = api(
        chain, "POST", "/artifacts/filter", artifacts={"flow_run_id": {"any_": [flow_run_id]}}
    )
    return " ".join(str(a.get("description") or "") for a in artifacts)
