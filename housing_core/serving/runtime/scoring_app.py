"""MLflow's own scoring app (`/invocations`, `/ping`, `/version`) with two small additions.

- A POST to `/invocations` without a Content-Type gets 415 and a message saying what to send;
  MLflow 3.17 answers it with a 500 and a stack trace.
- Every response carries `X-Model-Name` and `X-Model-Version`, so a client (or a deploy script
  after a promotion) can see which registered version answered.

`housing-serve` runs it in the version's own interpreter as
`python -I -m uvicorn --app-dir <this folder> --factory scoring_app:create_app`, with the
model's local directory in MLflow's `__pyfunc_model_path__` variable, exactly where
`mlflow models serve` puts it. It imports nothing of housing_core (see runtime/__init__.py).
Nothing runs at import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

MODEL_PATH_ENV = "__pyfunc_model_path__"  # mlflow.pyfunc.scoring_server._SERVER_MODEL_PATH
MODEL_NAME_ENV = "HOUSING_SERVED_MODEL_NAME"
MODEL_VERSION_ENV = "HOUSING_SERVED_MODEL_VERSION"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MISSING_CONTENT_TYPE = (
    "Content-Type header is missing: send 'application/json' with a body such as "
    '{"dataframe_records": [{"longitude": -122.23, ...}]}, or \'text/csv\''
)


class ContentTypeRequired:
    """ASGI middleware: answer 415 to an `/invocations` POST that names no content type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].rstrip("/") == "/invocations"
            and not dict(scope["headers"]).get(b"content-type")
        ):
            body = json.dumps({"error_code": "BAD_REQUEST", "message": MISSING_CONTENT_TYPE})
            await _respond(send, 415, body.encode())
            return
        await self.app(scope, receive, send)


class ModelVersionHeaders:
    """ASGI middleware: add `X-Model-Name` and `X-Model-Version` to every response."""

    def __init__(self, app: ASGIApp, name: str, version: str) -> None:
        self.app = app
        self.headers = [(b"x-model-name", name.encode()), (b"x-model-version", version.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app() -> ASGIApp:
    """Load the model MLflow's way and wrap MLflow's app; called once per server worker."""
    from mlflow.pyfunc import scoring_server

    model = scoring_server.load_model_with_mlflow_config(  # type: ignore[no-untyped-call]
        os.environ[MODEL_PATH_ENV]
    )
    app: ASGIApp = scoring_server.init(model)
    app = ContentTypeRequired(app)
    name, version = os.environ.get(MODEL_NAME_ENV), os.environ.get(MODEL_VERSION_ENV)
    if name and version:
        app = ModelVersionHeaders(app, name, version)
    return app


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
