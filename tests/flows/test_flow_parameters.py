"""Every parameter of every flow, called directly as a library user would: an unknown key, and
each parameter given a value of a JSON type its signature refuses. Each call is refused before
any step, naming the parameter; nothing reaches MLflow. (Through the Prefect API the same
values are refused at creation: tests/system/test_deployments.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.conftest import REPO, FlowEnv, mlflow_client

FLOWS = [
    ("flows.training", "training_flow"),
    ("flows.promotion", "promotion_flow"),
    ("flows.scoring", "scoring_flow"),
    ("flows.drift", "drift_flow"),
    ("flows.sweep", "sweep_flow"),
]

# run in one process against the session's servers: for each flow an unknown key, then each
# parameter with a wrong type (required ones otherwise well typed); prints what each call gave
SCRIPT = """
import importlib, json, sys
from prefect.utilities.callables import parameter_schema

WRONG = {"array": [[1]], "object": {"x": [1]}, "string": "text", "number": 3.5, "boolean": True}

def kinds(spec):
    found = {spec["type"]} if "type" in spec else set()
    for option in spec.get("anyOf", []):
        found |= kinds(option)
    return found

results = []
for module, name in json.loads(sys.argv[1]):
    flow = getattr(importlib.import_module(module), name)
    schema = parameter_schema(flow).model_dump_for_openapi()
    base = {n: "in.csv" for n in schema.get("required", [])}
    cases = [({**base, "no_such_parameter": 1}, "no_such_parameter")]
    for field, spec in schema["properties"].items():
        wrong = next(v for kind, v in WRONG.items() if kind not in kinds(spec))
        cases.append(({**base, field: wrong}, field))
    for parameters, field in cases:
        try:
            state = flow(**parameters, return_state=True)
            outcome, message = state.type.value, state.message or ""
            run_id = str(state.state_details.flow_run_id)
        except Exception as exc:  # an unknown keyword: the call itself is refused
            outcome, message, run_id = type(exc).__name__, str(exc), ""
        results.append({"flow": name, "field": field, "outcome": outcome,
                        "message": message, "flow_run_id": run_id})
print(json.dumps(results))
"""


def test_every_flow_called_directly_refuses_a_wrong_or_unknown_parameter_naming_it(
    flow_env: FlowEnv,
) -> None:
    client = mlflow_client(flow_env.tracking_uri)
    runs_before = {
        r.info.run_id
        for e in client.search_experiments()
        for r in client.search_runs([e.experiment_id])
    }

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(FLOWS)],
        cwd=REPO,
        env=flow_env.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])

    # then each is refused, naming the parameter: an unknown one by the call itself, a wrong
    # type by the flow run's parameter validation (FAILED before any step)
    assert {r["flow"] for r in results} == {name for _, name in FLOWS}
    for result in results:
        if result["field"] == "no_such_parameter":
            assert result["outcome"] == "ParameterBindError", result
            assert "unexpected keyword argument 'no_such_parameter'" in result["message"]
        else:
            assert result["outcome"] == "FAILED", result
            assert "Validation of flow parameters failed" in result["message"], result
            assert f" - {result['field']}" in result["message"], result

    # and no step ran in any of them, and nothing reached MLflow
    failed = [r["flow_run_id"] for r in results if r["flow_run_id"]]
    tasks = httpx.post(
        f"{flow_env.prefect_api}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": failed}}},
        timeout=30,
    ).json()
    assert tasks == [], sorted({t["name"] for t in tasks})
    runs_after = {
        r.info.run_id
        for e in client.search_experiments()
        for r in client.search_runs([e.experiment_id])
    }
    assert runs_after - runs_before == set()
    print(f"\n{len(results)} bad parameter sets to {len(FLOWS)} flows: all refused")
