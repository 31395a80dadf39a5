"""housing-serve fuzzed over HTTP: hypothesis builds request bodies, headers and content types
(MLflow's five input formats with odd contents, random JSON, random bytes, CSV) and sends
them to a real server. Never a 5xx, the workers never die, `/ping` still answers and their
memory comes back near where it started. Prints how many requests were sent, by status.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from housing_core.data.contract import FEATURE_COLUMNS
from tests import servers
from tests.conftest import make_flow_env, run_training
from tests.flows.conftest import run_promotion
from tests.system.test_least_privilege import _descendants

pytestmark = [pytest.mark.servers, pytest.mark.timeout(600)]

SENT: Counter[str] = Counter()
COLUMNS = list(FEATURE_COLUMNS)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    data_source: str,
    mlflow_server: servers.Server,
    prefect_server: servers.Server,
) -> Iterator[tuple[servers.Server, pd.DataFrame]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    env = make_flow_env(tmp, data_source, mlflow_server, prefect_server)
    assert run_training(env).summary["registered_version"] == "1"
    assert run_promotion(env).summary["after"] == "1"
    server = servers.start_housing_serve(
        {**env.env, "HOUSING_SERVING__MAX_BODY_BYTES": "65536"},
        tmp / "serve.log",
        "--poll-interval",
        "0",
        "--workers",
        "2",
    )
    yield server, pd.read_csv(data_source).head(5)
    server.stop()


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 0.0, -0.0, 5e-324]),
    st.text(max_size=20),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "NEAR BAY", "ISLAND", "\x00", "\ud7ff"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
VALUE = st.one_of(SCALARS, JSON)
COLUMN = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=12))


@st.composite
def record(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    row = dict(base)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["set", "drop", "add"]))
        if op == "set":
            row[draw(st.sampled_from(COLUMNS))] = draw(VALUE)
        elif op == "drop" and row:
            row.pop(draw(st.sampled_from(sorted(row))))
        else:
            row[draw(COLUMN)] = draw(VALUE)
    return row


@st.composite
def request(draw: st.DrawFn, base: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    rows = draw(st.lists(record(base), max_size=4))
    kind = draw(
        st.sampled_from(
            ["records", "split", "instances", "inputs", "csv", "json", "bytes", "two keys"]
        )
    )
    content_type = "application/json"
    body: Any
    if kind == "records":
        body = {"dataframe_records": rows if draw(st.booleans()) else draw(JSON)}
    elif kind == "split":
        columns = draw(st.lists(COLUMN, max_size=10)) if draw(st.booleans()) else COLUMNS
        data = [[draw(VALUE) for _ in columns] for _ in range(draw(st.integers(0, 3)))]
        body = {
            "dataframe_split": {
                "columns": columns,
                "data": data if draw(st.booleans()) else draw(JSON),
            }
        }
        if draw(st.booleans()):
            body["dataframe_split"]["index"] = draw(JSON)
    elif kind == "instances":
        body = {"instances": rows if draw(st.booleans()) else draw(JSON)}
    elif kind == "inputs":
        body = {
            "inputs": {c: [r.get(c) for r in rows] for c in COLUMNS}
            if draw(st.booleans())
            else draw(JSON)
        }
    elif kind == "csv":
        content_type = "text/csv"
        frame = pd.DataFrame(rows)
        text = frame.to_csv(index=False) if len(frame.columns) else draw(st.text(max_size=80))
        raw = text.encode("utf-8", errors="replace")
        return raw, {
            "content-type": draw(st.sampled_from([content_type, "text/csv; charset=utf-16"]))
        }
    elif kind == "two keys":
        body = {"dataframe_records": rows, "instances": rows}
    elif kind == "bytes":
        raw = draw(st.binary(max_size=200))
        return raw, {"content-type": draw(st.sampled_from(["application/json", "text/csv"]))}
    else:
        body = draw(JSON)
    raw = json.dumps(body, allow_nan=True).encode()
    content_type = draw(
        st.just(content_type)
        | st.sampled_from(
            [
                "application/json; charset=utf-8",
                "application/json; format=pandas-split",
                "APPLICATION/JSON",
                "text/plain",
                "application/x-www-form-urlencoded",
                "",
                "multipart/form-data; boundary=x",
                "application/json; charset=latin-1",
            ]
        )
    )
    headers = {"content-type": content_type} if content_type else {}
    if draw(st.booleans()):
        headers[draw(st.sampled_from(["accept", "x-request-id", "content-encoding"]))] = draw(
            st.sampled_from(["*/*", "gzip", "text/html", "x y", "a" * 300])
        )
    return raw, headers


def worker_rss_kib(server: servers.Server) -> dict[str, int]:
    rss = {}
    for pid in [str(server.pid), *_descendants(server.pid)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1])
    return rss


def test_fuzzed_requests_never_get_a_5xx_and_the_server_recovers(
    served: tuple[servers.Server, pd.DataFrame],
) -> None:
    server, rows = served
    base = rows[COLUMNS].to_dict("records")[0]
    client = httpx.Client(base_url=server.url, timeout=30)
    for _ in range(50):  # warm both workers before the memory is read
        client.post("/invocations", json={"dataframe_records": [base] * 3})
    before = worker_rss_kib(server)
    failures: list[str] = []

    @settings(
        max_examples=2500,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request(base))
    def send(message: tuple[bytes, dict[str, str]]) -> None:
        body, headers = message
        answer = client.post("/invocations", content=body, headers=headers)
        SENT[str(answer.status_code)] += 1
        if answer.status_code >= 500:
            failures.append(f"{answer.status_code} {answer.text[:300]} <- {body[:300]!r} {headers}")
        assert answer.status_code < 500, failures[-1]

    try:
        send()
    finally:
        print(f"\nfuzzed requests by status: {dict(SENT)}; 5xx: {len(failures)}")
    after = worker_rss_kib(server)

    assert sum(SENT.values()) >= 2000
    assert failures == []
    assert client.get("/ping").status_code == 200
    assert set(after) == set(before), "a worker died or was replaced"
    grown = {pid: (after[pid] - before[pid]) // 1024 for pid in before}
    print(f"RSS growth (MiB) per process: {grown}")
    assert max(grown.values()) < 64, grown
