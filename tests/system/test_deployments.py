"""End to end, as an operator runs it: the stack, `prefect deploy`, a worker, deployment runs.

One module-scoped dev stack (its own Prefect server, MLflow server, pool and two workers, under
supervisord) brought up with `deployments.stack.up` and taken down with `.down`; then the
team profile's `up`, its stack.env, and its `down`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest

from deployments import stack
from housing_core.data.contract import FEATURE_COLUMNS
from housing_core.isolation.payloads import serving_payload
from tests.clients import Client
from tests.conftest import REPO, mlflow_client
from tests.servers import BIN, free_port

MODEL = "housing_price_predictor"
CHROMIUM = "/usr/bin/chromium"
# screenshots of the pages the browser tests look at: CI output, never committed
SCREENSHOTS = Path(os.environ.get("HOUSING_SCREENSHOTS", REPO / ".housing" / "screenshots"))


@pytest.fixture(scope="module")
def running_stack(
    tmp_path_factory: pytest.TempPathFactory, data_source: str
) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("stack")
    saved = dict(os.environ)
    os.environ.update({"HOUSING_DATA__SOURCE": data_source, "PREFECT_WORKER_QUERY_SECONDS": "2"})
    for name in [n for n in os.environ if n.startswith(("HOUSING_MLFLOW__", "HOUSING_MODEL__"))]:
        del os.environ[name]
    try:
        ports = {
            **stack.DEFAULT_PORTS,
            **{part: free_port() for part in ("prefect", "mlflow", "serve")},
        }
        record = stack.up(state, "dev", ports, workers=2)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    record["state"] = state
    try:
        yield record
    finally:
        stack.down(state)


def cli_env(running_stack: dict[str, Any]) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": running_stack["prefect_api"],
        "MLFLOW_TRACKING_URI": running_stack["mlflow"],
    }


def run_deployment(running_stack: dict[str, Any], name: str, *args: str) -> tuple[str, float]:
    """`prefect deployment run NAME ... --watch`; returns the flow-run id and seconds taken."""
    started = time.monotonic()
    done = subprocess.run(
        [
            str(BIN / "prefect"),
            "deployment",
            "run",
            name,
            *args,
            "--watch",
            "--watch-timeout",
            "600",
        ],
        env=cli_env(running_stack),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=700,
    )
    elapsed = time.monotonic() - started
    worker_log = (Path(running_stack["logs"]) / "housing-worker-1.log").read_text()[-3000:]
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\nworker:\n{worker_log}"
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", done.stdout)
    assert match, done.stdout
    return match.group(1), elapsed


def test_deployments_are_registered_with_their_schedule_and_pool(
    running_stack: dict[str, Any],
) -> None:
    api = running_stack["prefect_api"]

    nightly = httpx.get(f"{api}/deployments/name/housing-training/nightly", timeout=30).json()
    adhoc = httpx.get(f"{api}/deployments/name/housing-training/adhoc", timeout=30).json()
    release = httpx.get(f"{api}/deployments/name/housing-promotion/release", timeout=30).json()

    (schedule,) = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "0 3 * * *"
    assert schedule["schedule"]["timezone"] == "America/Los_Angeles"
    assert schedule["active"] is True
    assert adhoc["schedules"] == []
    assert {d["work_pool_name"] for d in (nightly, adhoc, release)} == {"housing"}
    assert "schedule" in nightly["tags"] and "adhoc" in adhoc["tags"]
    assert "release" in release["tags"]
    assert release["concurrency_limit"] == 1 or release["global_concurrency_limit"]["limit"] == 1
    # nothing machine-specific was baked in: the pull step resolves on the worker
    for deployment in (nightly, adhoc, release):
        assert deployment["pull_steps"] == [{"flows.pull_steps.use_worker_directory": {}}]
    # the bootstrap installed the watchdog, and the worker's runs send heartbeats it can hear
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=30).json()
    watchdog = {a["name"]: a["trigger"]["within"] for a in automations}
    assert watchdog["housing-zombie-runs"] == 90 and watchdog["housing-stuck-pending"] == 600
    conf = (Path(running_stack["state"]) / "supervisord.conf").read_text()
    assert 'PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30"' in conf


WRONG_VALUES = {  # a value of each JSON type, to give a parameter one its schema refuses
    "array": [[1]],
    "object": {"x": [1]},
    "string": "text",
    "number": 3.5,
    "boolean": True,
}


def _allowed_types(spec: dict[str, Any]) -> set[str]:
    kinds = {spec["type"]} if "type" in spec else set()
    for option in spec.get("anyOf", []):
        kinds |= _allowed_types(option)
    return kinds


def _wrong_value(spec: dict[str, Any]) -> Any:
    allowed = _allowed_types(spec)  # 3.5 is no integer; True is neither number nor integer
    return next(v for kind, v in WRONG_VALUES.items() if kind not in allowed)


def _flow_runs(api: str) -> set[str]:
    """The ids of the flow runs someone asked for (not the schedule's upcoming ones)."""
    runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 200}, timeout=30).json()
    return {r["id"] for r in runs if not r["auto_scheduled"]}


def _final_state(api: str, flow_run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return dict(run["state"])
        time.sleep(1)
    raise AssertionError(f"flow run {flow_run_id} not final within {timeout:.0f} s")


def test_every_deployment_refuses_an_unknown_or_mistyped_parameter_at_the_api_naming_it(
    running_stack: dict[str, Any],
) -> None:
    api = running_stack["prefect_api"]
    flows = {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter", json={}).json()}
    deployments = [
        d
        for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
        if flows[d["flow_id"]].startswith("housing-")
    ]
    names = sorted(f"{flows[d['flow_id']]}/{d['name']}" for d in deployments)
    assert {"housing-training/adhoc", "housing-scoring/batch", "housing-sweep/search"} <= set(names)
    before = _flow_runs(api)

    # when each deployment is asked for a run with a key its flow does not take, and with
    # each of its parameters given a value of the wrong type
    tried = 0
    for deployment in deployments:
        schema = deployment["parameter_openapi_schema"]
        assert schema["additionalProperties"] is False, deployment["name"]
        # the required ones get a well-typed value (the API would otherwise name them first)
        base = {
            n: "in.csv" for n in schema.get("required", []) if n not in deployment["parameters"]
        }
        cases = [({**base, "no_such_parameter": 1}, "no_such_parameter")]
        cases += [({**base, n: _wrong_value(spec)}, n) for n, spec in schema["properties"].items()]
        for parameters, field in cases:
            answer = httpx.post(
                f"{api}/deployments/{deployment['id']}/create_flow_run",
                json={"parameters": parameters},
                timeout=30,
            )
            tried += 1
            # then the API refuses it, naming the parameter
            assert answer.status_code == 409, (deployment["name"], parameters, answer.text)
            assert field in answer.json()["detail"], answer.text

    # and no run was created by any of them
    assert _flow_runs(api) == before
    print(f"\n{tried} bad parameter sets to {len(deployments)} deployments: {tried} refused")


def test_a_nested_parameter_out_of_range_or_unknown_fails_the_run_before_any_step(
    running_stack: dict[str, Any],
) -> None:
    api, client = running_stack["prefect_api"], mlflow_client(running_stack["mlflow"])
    adhoc = httpx.get(f"{api}/deployments/name/housing-training/adhoc", timeout=30).json()
    experiment = client.get_experiment_by_name("housing_price_prediction")
    runs_before = len(client.search_runs([experiment.experiment_id])) if experiment else 0
    cases = {
        "model.n_estimators": {"model": {"family": "random_forest", "n_estimators": 0}},
        "model.n_estimatorz": {"model": {"family": "random_forest", "n_estimatorz": 5}},
        "registration_gates.max_rmse": {"registration_gates": {"max_rmse": -1}},
    }
    for field, parameters in cases.items():
        created = httpx.post(
            f"{api}/deployments/{adhoc['id']}/create_flow_run",
            json={"parameters": parameters},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        flow_run_id = created.json()["id"]
        # when the worker runs it, then it fails naming the field, and no step ran
        state = _final_state(api, flow_run_id)
        assert state["type"] == "FAILED", state
        assert field in state["message"], state["message"]
        tasks = httpx.post(
            f"{api}/task_runs/filter",
            json={"flow_runs": {"id": {"any_": [flow_run_id]}}},
            timeout=30,
        ).json()
        assert tasks == [], [t["name"] for t in tasks]
    # and nothing reached MLflow
    experiment = client.get_experiment_by_name("housing_price_prediction")
    assert (len(client.search_runs([experiment.experiment_id])) if experiment else 0) == runs_before


def test_adhoc_training_with_an_override_then_release_then_serve(
    running_stack: dict[str, Any], data_source: str, tmp_path: Path
) -> None:
    tracking = running_stack["mlflow"]
    client = mlflow_client(tracking)

    # when an ad hoc training runs with nested parameter overrides
    model = {"family": "random_forest", "n_estimators": 20, "max_depth": 12}
    flow_run_id, seconds = run_deployment(
        running_stack, "housing-training/adhoc", "--param", f"model={json.dumps(model)}"
    )
    print(f"housing-training/adhoc: request to Completed in {seconds:.1f} s")

    # then MLflow has its run, with the overridden parameter, and a registered version
    experiment = client.get_experiment_by_name("housing_price_prediction")
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{flow_run_id}'"
    )
    assert run.data.params["model.n_estimators"] == "20"
    assert run.data.params["model.family"] == "random_forest"
    (version,) = client.search_model_versions(f"name = '{MODEL}' and run_id = '{run.info.run_id}'")

    # and the flow run carries what ran, for the UI
    api = running_stack["prefect_api"]
    flow_run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()
    assert {"adhoc", "model:random_forest"} <= set(flow_run["tags"])
    assert flow_run["name"].startswith("random-forest-n20-d12-")
    artifacts = httpx.post(
        f"{api}/artifacts/filter",
        timeout=30,
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
    ).json()
    assert any(a["key"] == "housing-training-report" for a in artifacts)

    # when the release deployment runs
    release_id, seconds = run_deployment(running_stack, "housing-promotion/release")
    print(f"housing-promotion/release: request to Completed in {seconds:.1f} s")

    # then production points at the new version, and the run says so in an artifact
    assert client.get_registered_model(MODEL).aliases["production"] == version.version
    release_artifacts = httpx.post(
        f"{api}/artifacts/filter",
        timeout=30,
        json={"artifacts": {"flow_run_id": {"any_": [release_id]}}},
    ).json()
    assert any(version.version in (a["data"] or "") for a in release_artifacts)

    # and the stack serves the production model (under supervisord), which scores a request
    url = stack.serve(running_stack["state"])
    rows = pd.read_csv(data_source).head(3)[list(FEATURE_COLUMNS)]
    response = httpx.post(
        f"{url}/invocations", timeout=30, json={"dataframe_records": rows.to_dict("records")}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-model-version"] == version.version
    prices = response.json()["predictions"]
    assert len(prices) == 3 and all(10_000 < p <= 500_001 for p in prices)


def test_the_serving_process_killed_under_load_is_restarted_and_no_answer_is_wrong(
    running_stack: dict[str, Any], data_source: str
) -> None:
    # given production served by the stack, and eight clients that never stop
    layout = stack.Layout(running_stack["state"])
    url = stack.serve(running_stack["state"])  # running already: the previous test started it
    payload = serving_payload(pd.read_csv(data_source).head(1))
    clients = [Client(url, payload) for _ in range(8)]
    for client in clients:
        client.start()
    try:
        _wait(lambda: all(len(c.answers) >= 5 for c in clients), "the clients' first answers")
        served = {v for c in clients for _, _, v in c.answers}
        killed_pid = int(stack.supervisorctl(layout, "pid", stack.SERVE).strip())
        workers = psutil.Process(killed_pid).children(recursive=True)

        # when the whole serving process is SIGKILLed (a crash, the OOM killer), its workers
        # orphaned
        os.kill(killed_pid, signal.SIGKILL)
        killed_at = time.time()

        # then supervisord starts it again, and every client is answered again
        _wait(lambda: _serving_pid(layout) not in (None, killed_pid), "a new housing-serve")
        _wait(
            lambda: all(c.first_answer_after(killed_at + 0.5) for c in clients),
            "every client answered by the new server",
            timeout_s=180,
        )
        recovered = max(c.first_answer_after(killed_at + 0.5) or 0 for c in clients) - killed_at
        _wait(lambda: sum(len(c.answers) for c in clients) > 100 + 8 * 5, "more answers")
    finally:
        for client in clients:
            client.stopping.set()
        for client in clients:
            client.join(timeout=30)
        stack.stop_serving(running_stack["state"])

    # and what failed failed to connect or was cut, only while it was down; no answer was an
    # error, and each answer is the served version's one price for that row
    failures = [f for c in clients for f in c.failures]
    late = [t - killed_at for c in clients for t in c.failed_at if t > killed_at + recovered]
    print(
        f"\nhousing-serve killed: answering again after {recovered:.1f} s, "
        f"{len(failures)} failed requests ({sorted({f.split(':')[0] for f in failures})})"
    )
    assert late == [], late
    assert all(f.startswith(("ConnectError", "ReadError", "RemoteProtocolError")) for f in failures)
    assert {status for c in clients for _, status, _ in c.answers} == {200}
    assert {v for c in clients for _, _, v in c.answers} == served
    for client in clients:
        assert all(len(prices) == 1 for prices in client.prices.values()), client.prices
    # and the orphaned workers drained and went, leaving nothing behind
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert alive == [], alive
    log = (layout.logs / f"{stack.SERVE}.log").read_text()
    assert log.count("listening on http://") >= 2


def _serving_pid(layout: stack.Layout) -> int | None:
    answer = stack.supervisorctl(layout, "pid", stack.SERVE, check=False).strip()
    return int(answer) if answer.isdigit() and answer != "0" else None


def _wait(condition: Any, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def housing_run(running_stack: dict[str, Any], *args: str) -> list[str]:
    """`housing-run ARGS` (the README's way to run a deployment); its output lines."""
    done = subprocess.run(
        [str(BIN / "housing-run"), *args, "--timeout", "600"],
        env=cli_env(running_stack),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=700,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout.splitlines()


def test_housing_run_names_the_run_once_and_prints_each_decision(
    running_stack: dict[str, Any],
) -> None:
    api, client = running_stack["prefect_api"], mlflow_client(running_stack["mlflow"])

    # when a training runs through housing-run
    # (a small boosted model: clearly better than v1's forest, so the release promotes it)
    model = {"family": "hist_gradient_boosting", "n_models": 1, "max_iter": 100}
    lines = housing_run(
        running_stack, "housing-training/adhoc", "--param", f"model={json.dumps(model)}"
    )

    # then its first line is the run's one name: in Prefect from the start, and in MLflow
    name, flow_run_id = re.fullmatch(r"(\S+)  \(([0-9a-f-]{36})\)", lines[0]).groups()  # type: ignore[union-attr]
    assert re.fullmatch(r"hist-gb-lr0.08-it100-leaves63-\d{8}-\d{6}", name)
    assert httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()["name"] == name
    experiment = client.get_experiment_by_name("housing_price_prediction")
    (run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{flow_run_id}'"
    )
    assert run.info.run_name == name
    # and its last line leads with what it registered, in the one number format, then the name
    assert re.search(
        r"housing-training-report: registered as v2: rmse \$[\d,]+, mae \$[\d,]+, "
        rf"r2 0\.\d{{4}}, mape [\d.]+% · {re.escape(name)}$",
        lines[-1],
    )
    assert any(re.search(r"\d{2}:\d{2}:\d{2} Completed\b", line) for line in lines)

    # when releases and rollbacks run, each prints its decision
    promoted = housing_run(running_stack, "housing-promotion/release")[-1]
    assert "production moved from v1 to v2 (promote)" in promoted
    rolled = housing_run(running_stack, "housing-promotion/release", "--param", "mode=rollback")[-1]
    assert "production moved from v2 to v1 (rollback)" in rolled

    # and a rollback with nowhere to go completes, says so, and leaves the alias
    nothing = housing_run(running_stack, "housing-promotion/release", "--param", "mode=rollback")
    assert "production stays on v1: no change" in nothing[-1]
    assert "nothing to roll back to: production v1 did not replace another version" in nothing[-1]
    assert client.get_registered_model(MODEL).aliases["production"] == "1"


# --- what a person sees, in a real browser --------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (no saved UI state); its screenshot is kept as CI output, pass or fail."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    # MLflow's assistant panel opens itself on a first visit and takes a quarter of the width
    context.add_init_script(
        "localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true')"
    )
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()


def _experiment_id(running_stack: dict[str, Any]) -> str:
    experiment = mlflow_client(running_stack["mlflow"]).get_experiment_by_name(
        "housing_price_prediction"
    )
    assert experiment is not None
    return str(experiment.experiment_id)


def test_ui_the_experiment_opens_on_its_runs_with_rmse_for_each(
    running_stack: dict[str, Any], page: Any
) -> None:
    client = mlflow_client(running_stack["mlflow"])
    experiment_id = _experiment_id(running_stack)
    runs = client.search_runs([experiment_id])
    # the link every report and description gives
    experiment = client.get_experiment(experiment_id)
    (link,) = re.findall(
        r"\((http[^)]*viewStateShareKey[^)]*)\)", experiment.tags["mlflow.note.content"]
    )

    page.goto(link)
    table = page.locator("[role=grid], table").first
    table.wait_for()
    page.get_by_text(runs[0].info.run_name).first.wait_for()

    # then the runs table, in model-training mode, has an rmse column and every run's value
    assert page.get_by_text("Model training").first.is_visible()
    page.get_by_role("columnheader", name=re.compile("rmse")).first.wait_for()
    body = page.inner_text("body")
    for run in runs:
        assert run.info.run_name in body
        # and the whole name shows, not cut off with an ellipsis
        name = page.get_by_text(run.info.run_name, exact=True).first
        whole = "e => e.scrollWidth <= e.clientWidth"
        for _ in range(20):  # the saved widths apply once the grid has laid out
            if name.evaluate(whole):
                break
            page.wait_for_timeout(250)
        assert name.evaluate(whole), f"{run.info.run_name} is cut off"
        assert f"{run.data.metrics['rmse']:.2f}"[:6] in body, run.data.metrics["rmse"]


def test_ui_from_the_root_a_newcomer_reaches_the_runs_with_their_metrics(
    running_stack: dict[str, Any], page: Any
) -> None:
    # given a browser that has never seen this MLflow: it opens the root, then the experiment
    # (MLflow 3.17 shows it in GenAI mode, whatever the server says)
    page.goto(running_stack["mlflow"])
    page.get_by_text("housing_price_prediction").first.click()

    # then the experiment's note leads with the link to the runs and their metrics
    # (by its text: MLflow's tour of GenAI features opens over the page and hides the rest
    # from the accessibility tree)
    link = page.locator("a", has_text="Runs with their metrics, best RMSE first").first
    link.wait_for()
    page.goto(str(link.get_attribute("href")))  # it opens in a new tab; here, in this one

    # and it opens the runs table in model-training mode, best RMSE first
    page.get_by_role("columnheader", name=re.compile("rmse")).first.wait_for()
    assert page.get_by_text("Model training").first.is_visible()
    assert "workflowType=machine_learning" in page.url


def test_ui_the_model_page_tells_the_versions_apart_and_shows_production_on_its_own(
    running_stack: dict[str, Any], page: Any
) -> None:
    client = mlflow_client(running_stack["mlflow"])
    versions = client.search_model_versions(f"name = '{MODEL}'")
    page.goto(f"{running_stack['mlflow']}/#/models/{MODEL}")
    row = page.get_by_role("row").filter(has_text="@ production")
    row.first.wait_for()
    assert row.count() == 1
    assert re.search(r"Version\s*1\b", row.first.inner_text())

    # each version's row reads its RMSE first, then short tags, whole (MLflow cuts a first line
    # past 32 characters and a tag past 30 with an ellipsis), and no raw Markdown
    rows = page.get_by_role("row").filter(has_text=re.compile(r"Version\s*\d"))
    # a chip's key and value are two elements: read "rmse\n: $39,922" as "rmse: $39,922"
    texts = [rows.nth(i).inner_text().replace("\n: ", ": ") for i in range(rows.count())]
    assert len(texts) == len(versions)
    for version in versions:
        first_line = str(version.description).splitlines()[0]
        (text,) = [t for t in texts if re.search(rf"Version\s*{version.version}\b", t)]
        assert first_line in text and f"rmse: {version.tags['rmse']}" in text
        assert "…" not in text and "**" not in text, text
    assert len({str(v.description).splitlines()[0] for v in versions}) == len(versions)


def test_ui_a_version_page_shows_its_promotion_reason(
    running_stack: dict[str, Any], page: Any
) -> None:
    page.goto(f"{running_stack['mlflow']}/#/models/{MODEL}/versions/1")
    page.get_by_text("Passed every registration check").first.wait_for()
    text = page.inner_text("body")
    assert "Why: rollback: v1 returns to production, replacing v2" in text
    assert "Prefect flow run" in text and "MLflow run" in text
    # the metrics read as labelled dollars, spaced, not run together as a table renders here
    assert re.search(r"RMSE \$\d{2},\d{3} · MAE \$\d{2},\d{3} · R² 0\.\d{4} · MAPE", text)


def test_ui_the_flow_run_page_shows_the_training_report(
    running_stack: dict[str, Any], page: Any
) -> None:
    api = running_stack["prefect_api"]
    (report,) = httpx.post(
        f"{api}/artifacts/filter",
        timeout=30,
        json={"artifacts": {"key": {"any_": ["housing-training-report"]}}, "limit": 1},
    ).json()
    page.goto(f"{running_stack['prefect_ui']}/runs/flow-run/{report['flow_run_id']}")
    page.get_by_text("Artifacts", exact=True).first.click()  # the run's tab
    page.get_by_text("housing-training-report").first.click()
    page.get_by_text("Held-out metrics").first.wait_for()
    metrics = page.get_by_role("table").first
    assert re.search(r"rmse\s+\$[\d,]+", metrics.inner_text())
    assert "mape" in metrics.inner_text() and "%" in metrics.inner_text()


def test_ui_the_deployment_page_shows_the_nightly_schedule_with_its_timezone(
    running_stack: dict[str, Any], page: Any
) -> None:
    api = running_stack["prefect_api"]
    nightly = httpx.get(f"{api}/deployments/name/housing-training/nightly", timeout=30).json()
    page.goto(f"{running_stack['prefect_ui']}/deployments/deployment/{nightly['id']}")
    page.get_by_text("At 03:00 AM every day").first.wait_for()
    page.get_by_text("Description", exact=True).first.click()  # the deployment's tab
    page.get_by_text("America/Los_Angeles").first.wait_for()
    assert "03:00" in page.inner_text("body")


def test_five_trainings_at_once_on_the_two_workers_all_register(
    running_stack: dict[str, Any],
) -> None:
    # given five configurations never trained before, and both workers' logs so far
    api = running_stack["prefect_api"]
    logs = Path(running_stack["logs"])
    workers = ("housing-worker-1", "housing-worker-2")
    before = {w: len((logs / f"{w}.log").read_text(errors="replace")) for w in workers}
    configurations = [
        {"family": "random_forest", "n_estimators": n, "max_depth": 8} for n in range(21, 26)
    ]

    # when all five are asked for at once
    started = time.monotonic()
    found = httpx.get(f"{api}/deployments/name/housing-training/adhoc", timeout=30)
    assert found.status_code == 200, found.text
    ids, busy = [], 0
    for model in configurations:
        for _ in range(20):  # SQLite's write lock answers 503 "retry": Prefect's client retries
            created = httpx.post(
                f"{api}/deployments/{found.json()['id']}/create_flow_run",
                json={"parameters": {"model": model}},
                timeout=30,
            )
            if created.status_code != 503:
                break
            busy += 1
            time.sleep(0.5)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    final = {i: _final_state(api, i, timeout=400)["type"] for i in ids}
    seconds = time.monotonic() - started

    # then all complete, each with a version of its own, each run by exactly one worker
    assert set(final.values()) == {"COMPLETED"}, final
    client = mlflow_client(running_stack["mlflow"])
    experiment = client.get_experiment_by_name("housing_price_prediction")
    assert experiment is not None
    versions = {}
    for flow_run_id in ids:
        runs = client.search_runs(
            [experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{flow_run_id}'"
        )
        assert "RUNNING" not in {r.info.status for r in runs}
        versions[flow_run_id] = [
            v.version
            for r in runs
            for v in client.search_model_versions(
                f"name = '{MODEL}' and run_id = '{r.info.run_id}'"
            )
        ]
    assert all(len(v) == 1 for v in versions.values()), versions
    assert len({v[0] for v in versions.values()}) == 5
    new_logs = {w: (logs / f"{w}.log").read_text(errors="replace")[before[w] :] for w in workers}
    ran_on = {i: [w for w, text in new_logs.items() if f"flow-run/{i}" in text] for i in ids}
    assert all(len(on) == 1 for on in ran_on.values()), ran_on
    lock_errors = (
        "LockError",
        "still held by another worker",
        "acquire lock",
        "database is locked",
    )
    for text in new_logs.values():
        assert not [e for e in lock_errors if e in text], text[-3000:]
    per_worker = {w: sum(on == [w] for on in ran_on.values()) for w in workers}
    print(
        f"\nfive trainings at once on the dev profile: {seconds:.0f} s, {per_worker}, "
        f"{busy} create answered 503 (SQLite busy) and retried"
    )


def test_stack_down_leaves_no_process(running_stack: dict[str, Any]) -> None:
    # given the running stack's supervisord
    layout = stack.Layout(running_stack["state"])
    supervisord = stack.supervisord_pid(layout)
    assert supervisord and stack.stack_processes(running_stack["state"])

    # when it is taken down
    stopped = stack.down(running_stack["state"])

    # then every program stopped, supervisord too, and nothing runs from the stack's folder
    assert set(stopped) == {"prefect", "mlflow", "housing-worker-1", "housing-worker-2"}
    assert not Path(f"/proc/{supervisord}").exists()
    assert stack.stack_processes(running_stack["state"]) == []
    assert stack.supervisord_pid(layout) is None


def test_team_profile_up_writes_a_client_env_and_down_leaves_nothing(data_source: str) -> None:
    """`python -m deployments.stack up --profile team` (what `make stack-up PROFILE=team` runs)."""
    # postgres runs as its own user: its folder's parents must let it through (pytest's do not)
    state = Path(tempfile.mkdtemp(prefix="housing-team-stack-"))
    state.chmod(0o755)
    ports = {f"HOUSING_{part.upper()}_PORT": str(free_port()) for part in stack.DEFAULT_PORTS}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))},
        **ports,
        "HOUSING_STACK_DIR": str(state),
        "HOUSING_DATA__SOURCE": data_source,
    }
    command = [str(BIN / "python"), "-m", "deployments.stack"]
    try:
        started = time.monotonic()
        up = subprocess.run(
            [*command, "up", "--profile", "team", "--workers", "1"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=400,
        )
        print(f"team stack up in {time.monotonic() - started:.1f} s")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "source " in up.stdout and "MLflow UI:" in up.stdout

        # then stack.env holds a client's exports, readable by its owner only
        env_file = state / "stack.env"
        assert env_file.stat().st_mode & 0o077 == 0
        exports = dict(
            re.findall(r"^export ([A-Z0-9_]+)=(.*)$", env_file.read_text(), flags=re.MULTILINE)
        )
        needed = {
            "PREFECT_API_URL",
            "PREFECT_API_AUTH_STRING",
            "MLFLOW_TRACKING_URI",
            "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ENDPOINT_URL_S3",
        }
        assert needed <= set(exports), exports.keys()
        assert exports["MLFLOW_TRACKING_USERNAME"] == "trainer"

        # and a shell that sources it gets them, and reaches both servers as the trainer
        shell = subprocess.run(
            ["bash", "-c", f"source {env_file} && env -0"],
            env={"PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=30,
        )
        client = dict(line.split("=", 1) for line in shell.stdout.split("\0") if "=" in line)
        assert {k: client[k] for k in needed} == {k: shlex.split(exports[k])[0] for k in needed}
        mlflow_api = f"{client['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/experiments/get-by-name"
        params = {"experiment_name": "housing_price_prediction"}
        trainer = (client["MLFLOW_TRACKING_USERNAME"], client["MLFLOW_TRACKING_PASSWORD"])
        assert httpx.get(mlflow_api, params=params, auth=trainer).status_code == 200
        assert httpx.get(mlflow_api, params=params).status_code == 401
        inspect = subprocess.run(
            [str(BIN / "prefect"), "work-pool", "inspect", "housing"],
            env={**os.environ, **client},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert inspect.returncode == 0, inspect.stderr

        # and every port the stack's processes listen on is loopback
        pids = set(stack.stack_processes(state))
        sockets = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        ours = [
            line.split()[3]
            for line in sockets.splitlines()
            if {int(p) for p in re.findall(r"pid=(\d+)", line)} & pids
        ]
        assert ours and all(address.startswith("127.0.0.1:") for address in ours), ours
    finally:
        down = subprocess.run(
            [*command, "down"], env=env, cwd=REPO, capture_output=True, text=True, timeout=200
        )
        left = stack.stack_processes(state)
        shutil.rmtree(state, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert left == []
