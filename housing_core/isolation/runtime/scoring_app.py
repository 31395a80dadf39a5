"""The scoring app a version's worker process serves: MLflow's protocol, and what an operator needs.

- `POST /invocations`: MLflow's own request handling (`mlflow.pyfunc.scoring_server.invocations`:
  every payload format, its 4xx answers), called directly instead of through MLflow's FastAPI
  app, whose middleware and thread hop cost more than the model when one row is scored. Bodies
  over `max_body_bytes` get 413; a request without a Content-Type gets 415 and what to send
  (MLflow 3.17 answers it with a 500).
- The data contract, when the app has one (housing-serve's workers do): rows that break it
  (a negative count, a coordinate outside California, an unseen category) are refused with a
  400 naming the field and the rule, or priced and named in the answer's
  `contract_violations` (HOUSING_SERVING__INVALID_ROWS); MLflow's request formats stay.
- `GET /ping`, `/health`, `/version`: as MLflow's server answers them.
- `GET /model`: what the server serves (the supervisor's state file) and which worker answered.
- `GET /metrics`: Prometheus text over every process of the server (multiprocess mode).
- Every response carries `X-Model-Name` and `X-Model-Version`; once the worker drains (its
  version is being replaced) every response also says `Connection: close`, so a keep-alive
  client reconnects, to the new version, right after its answer instead of finding its
  connection closed under it.

It runs in the version's own interpreter and imports nothing of housing_core (see
runtime/__init__.py). Nothing runs at import time.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MISSING_CONTENT_TYPE = (
    "Content-Type header is missing: send 'application/json' with a body such as "
    '{"dataframe_records": [{"longitude": -122.23, ...}]}, or \'text/csv\''
)
# Up to this many bytes a request is scored on the event loop; larger ones in a thread, so
# that a 100,000-row request does not hold up the worker's other connections.
INLINE_BODY_BYTES = 256 * 1024
PARALLEL_ROWS = 256
# An over-limit body is read and thrown away up to this multiple of the limit, so the client
# reliably gets its 413 (closing on unread data would reset the connection under it).
DISCARD_FACTOR = 4
JSON = b"application/json"


class Call:
    """What one request's scoring found: the rows it scored, the rules they broke."""

    def __init__(self) -> None:
        self.rows = 0
        self.violations: list[str] | None = None


_call = contextvars.ContextVar[Call]("call")


class Contract:
    """The data contract at serving: its rules (data/portable/rules.py, loaded by path), their
    spec, and what a row that breaks them gets: `refuse` (a 400 naming the field and the rule)
    or `flag` (priced, and named in the answer's `contract_violations`)."""

    def __init__(self, rules: Any, spec: dict[str, Any], invalid_rows: str) -> None:
        if invalid_rows not in ("refuse", "flag"):
            raise ValueError(f"invalid_rows must be refuse or flag, not {invalid_rows!r}")
        self.rules, self.spec, self.invalid_rows = rules, spec, invalid_rows

    @classmethod
    def load(cls, rules_file: Path, spec_file: Path, invalid_rows: str) -> Contract:
        loaded = importlib.util.spec_from_file_location("housing_contract_rules", rules_file)
        if loaded is None or loaded.loader is None:
            raise ImportError(f"cannot load the contract's rules from {rules_file}")
        module = importlib.util.module_from_spec(loaded)
        sys.modules[loaded.name] = module  # its dataclasses look their module up by name
        loaded.loader.exec_module(module)
        return cls(module, json.loads(spec_file.read_text()), invalid_rows)

    def apply(self, data: Any) -> Any:
        """The rows as the model takes them; raises MLflow's 400 for what is refused."""
        import pandas as pd
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        if not isinstance(data, pd.DataFrame):  # tensors and dicts: MLflow's schema decides
            return data
        checked = self.rules.check(data, self.spec)
        if checked.unusable:
            raise MlflowException("; ".join(checked.unusable), INVALID_PARAMETER_VALUE)
        if checked.counts and self.invalid_rows == "refuse":
            first = int(checked.broken.argmax())
            counted = "; ".join(self.rules.describe_counts(checked.counts, len(data)))
            raise MlflowException(
                f"rows break the data contract: {counted} (first: row {first}, "
                f"{checked.violations.iloc[first]})",
                INVALID_PARAMETER_VALUE,
            )
        call = _call.get(None)
        if call is not None and checked.counts:
            call.violations = checked.violations.tolist()
        return checked.features


class CountingModel:
    """The pyfunc model as MLflow's handler sees it, counting the rows each call scores and
    applying the data contract first, when the app has one.

    Workers run with one OpenMP thread (a request is usually one row, and throughput comes
    from the workers); a batch of `PARALLEL_ROWS` or more may use every core of the worker (a
    version's own code may choose fewer: since ensemble.py's OPENMP_MIN_ROWS, below 10,000
    rows it takes one). The thread pools are found once, at the first such batch: finding
    them (threadpoolctl reads every loaded library) costs 5-8 ms, most of a 1000-row request's
    margin over the model.
    """

    def __init__(self, model: Any, contract: Contract | None = None) -> None:
        self._model = model
        self.metadata = model.metadata
        self.cores = len(os.sched_getaffinity(0))
        self.contract = contract
        self._pools: Any = None  # threadpoolctl's controller, once found; False: none

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if self.contract is not None:
            data = self.contract.apply(data)
        if len(data) >= PARALLEL_ROWS and self.cores > 1:
            predictions = self._predict_with_threads(data, params)
        else:
            predictions = self._model.predict(data, params=params)
        call = _call.get(None)
        if call is not None:
            call.rows = len(predictions)
        return predictions

    def _predict_with_threads(self, data: Any, params: dict[str, Any] | None) -> Any:
        pools = self.thread_pools()
        if not pools:  # a version that does not require threadpoolctl: one thread, as before
            return self._model.predict(data, params=params)
        with pools.limit(limits=self.cores, user_api="openmp"):
            return self._model.predict(data, params=params)

    def thread_pools(self) -> Any:
        """threadpoolctl's view of this process's thread pools, found on first use (the model
        is loaded by then, and with it its OpenMP runtime); False without threadpoolctl."""
        if self._pools is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                self._pools = False
            else:
                self._pools = ThreadpoolController()
        return self._pools


class ScoringApp:
    """An ASGI app around one loaded pyfunc model."""

    def __init__(
        self,
        model: Any,
        *,
        name: str,
        version: str,
        max_body_bytes: int,
        state_file: Path | None = None,
        metrics: Any = None,
        contract: Contract | None = None,
    ) -> None:
        from mlflow.pyfunc import scoring_server
        from mlflow.version import VERSION

        self.model = CountingModel(model, contract)
        # With a data contract the rows are parsed as sent and the contract names what is wrong
        # (MLflow's parser would cast them to the signature first, with its own message); the
        # signature is still enforced on the rows the contract hands to the model.
        self.schema = None if contract is not None else model.metadata.get_input_schema()
        self.invocations = scoring_server.invocations
        self.mlflow_version = VERSION.encode()
        self.max_body_bytes = max_body_bytes
        self.state_file = state_file
        self.metrics = metrics
        self.name, self.version = name, version
        self.draining = False
        self.identity = [(b"x-model-name", name.encode()), (b"x-model-version", version.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        route = scope["path"].rstrip("/") or "/"
        status, body, content_type, rows, close = await self._answer(route, scope, receive)
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            *self.identity,
        ]
        if close or self.draining:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if self.metrics is not None:
            self.metrics.observe(route, status, time.perf_counter() - started, rows)

    async def _answer(
        self, route: str, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, bytes, int, bool]:
        """(status, body, content type, rows scored, close the connection after)."""
        method = scope["method"]
        if route == "/invocations":
            if method != "POST":
                return _error(405, "METHOD_NOT_ALLOWED", "POST a request body to /invocations")
            return await self._invoke(scope, receive)
        if method not in ("GET", "HEAD"):
            return _error(405, "METHOD_NOT_ALLOWED", f"{route} answers GET")
        if route in ("/ping", "/health"):
            return 200, b"\n", JSON, 0, False
        if route == "/version":
            return 200, self.mlflow_version, JSON, 0, False
        if route == "/model":
            return 200, json.dumps(self.describe()).encode(), JSON, 0, False
        if route == "/metrics" and self.metrics is not None:
            body, content_type = self.metrics.exposition()
            return 200, body, content_type, 0, False
        return 404, b'{"detail": "Not Found"}', JSON, 0, False

    async def _invoke(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes, int, bool]:
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        declared = headers.get(b"content-length")
        size = int(declared) if declared and declared.isdigit() else None
        if size is not None and size > DISCARD_FACTOR * self.max_body_bytes:
            return _too_large(size, self.max_body_bytes)
        body, total = await _read_body(receive, self.max_body_bytes)
        if body is None:
            return _too_large(total, self.max_body_bytes)
        if not content_type:
            return _error(415, "BAD_REQUEST", MISSING_CONTENT_TYPE)
        call = Call()
        _call.set(call)
        try:
            if len(body) <= INLINE_BODY_BYTES:
                result = self.invocations(body, content_type, self.model, self.schema)  # type: ignore[no-untyped-call]
            else:
                result = await asyncio.to_thread(
                    self.invocations, body, content_type, self.model, self.schema
                )
        except Exception as exc:  # MLflow's own errors carry their status and JSON body
            serialize = getattr(exc, "serialize_as_json", None)
            if serialize is None:
                return _error(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            return int(exc.get_http_status_code()), serialize().encode(), JSON, 0, False  # type: ignore[attr-defined]
        mimetype = result.mimetype.encode()
        answer = result.response
        if call.violations is not None and result.status == 200:
            answer = _with_violations(answer, call.violations)
        return result.status, answer.encode(), mimetype, call.rows, False

    def describe(self) -> dict[str, Any]:
        """The supervisor's state (what the server serves and its last swap), and this worker."""
        state: dict[str, Any] = {}
        if self.state_file is not None and self.state_file.is_file():
            try:
                state = json.loads(self.state_file.read_text())
            except ValueError:  # being replaced this very moment: answer without it
                state = {}
        state["answered_by"] = {
            "pid": os.getpid(),
            "name": self.name,
            "version": self.version,
            "draining": self.draining,
        }
        return state


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, int]:
    """The whole body, or None once it passes `limit` (the rest read and dropped, bounded)."""
    chunks: list[bytes] = []
    total, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        total += len(chunk)
        more = bool(message.get("more_body", False))
        if total <= limit:
            chunks.append(chunk)
        elif total > DISCARD_FACTOR * limit:
            break
    return (None if total > limit else b"".join(chunks)), total


def _with_violations(answer: str, violations: list[str]) -> str:
    """MLflow's answer with, beside its `predictions`, the rules each row broke ('' if none)."""
    try:
        body = json.loads(answer)
    except ValueError:
        return answer
    if isinstance(body, dict):
        body["contract_violations"] = violations
        return json.dumps(body)
    return answer


def _too_large(size: int, limit: int) -> tuple[int, bytes, bytes, int, bool]:
    message = f"request body of {size:,} bytes or more is over the limit of {limit:,} bytes"
    return _error(413, "REQUEST_TOO_LARGE", message, close=True)


def _error(
    status: int, code: str, message: str, close: bool = False
) -> tuple[int, bytes, bytes, int, bool]:
    body = json.dumps({"error_code": code, "message": message}).encode()
    return status, body, JSON, 0, close


async def post_in_process(app: ScoringApp, path: str, body: bytes) -> tuple[int, Any]:
    """POST `body` as JSON to the app without a socket, as a request would: (status, answer)."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", JSON), (b"content-length", str(len(body)).encode())],
    }
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return requests.pop(0) if requests else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    try:
        return int(status), json.loads(text)
    except ValueError:
        return int(status), text.decode(errors="replace")[:2000]


def describe_error(exc: BaseException) -> str:
    """`TypeName: the cause (at file:line)`; MLflow's schema errors echo the input first, the
    cause comes last."""
    text = str(exc).strip().rsplit("Error: ", 1)[-1].strip()
    first = text.splitlines()[0][:300] if text else ""
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {first}{where}"
