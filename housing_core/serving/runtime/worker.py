"""One worker of `housing-serve`: one registered version, loaded with its own code, behind the
server's shared listening socket. The supervisor starts it by path, in the version's own
interpreter:

    python -I worker.py --socket-fd N --control-fd N --ready-fd N --app-dir DIR \\
        --model-dir DIR --name NAME --version V [--state-file F] [--price-cap P] \\
        [--contract-rules FILE --contract-spec FILE --invalid-rows refuse|flag] \\
        [--max-body-bytes B] [--drain-timeout S]

1. it loads the version (MLflow's loader puts the version's `code/` first on `sys.path`);
2. it smoke-tests it on the version's own input example, through the app as a request goes,
   by the one smoke rule (`smoke.py` in the app folder, shared with promotion's score jobs);
3. it says `ready <seconds>` (or `failed <why>`) on the ready pipe, and waits;
4. on `serve` from the control pipe it accepts connections on the shared socket;
5. on `drain` (or the end of the control pipe: the supervisor is gone) it stops accepting,
   answers what is in flight and what arrives on its open connections with `Connection:
   close`, and exits once no connection is left or the drain timeout has passed.

Nothing of housing_core is imported: the standard library, MLflow, uvicorn, prometheus-client
and the version's requirements only. The scoring app comes from `--app-dir` (the isolation
wing's runtime folder), by path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

RUNTIME = Path(__file__).resolve().parent
ACCEPT_SETTLE_S = 0.5  # see _drain


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sys.path[:0] = [str(RUNTIME), args.app_dir]  # serving_metrics; scoring_app and smoke
    started = time.perf_counter()
    with os.fdopen(args.ready_fd, "w", buffering=1) as ready:
        try:
            app, metrics = _load(args)
            _smoke_test(app, Path(args.model_dir), args.price_cap)
        except Exception as exc:  # the finding itself: this version is not served
            from scoring_app import describe_error

            ready.write(f"failed {describe_error(exc)}\n")
            return 1
        app.metrics = metrics  # counted from here: the smoke test is not a client's request
        ready.write(f"ready {time.perf_counter() - started:.3f}\n")
    if _read_command(args.control_fd) != "serve":
        return 0
    asyncio.run(_serve(app, args))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="worker.py", description=__doc__.split("\n\n")[0])
    for name in ("--socket-fd", "--control-fd", "--ready-fd"):
        parser.add_argument(name, type=int, required=True)
    parser.add_argument("--app-dir", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--state-file")
    parser.add_argument("--price-cap", type=float)
    parser.add_argument("--contract-rules")
    parser.add_argument("--contract-spec")
    parser.add_argument("--invalid-rows", default="refuse", choices=("refuse", "flag"))
    parser.add_argument("--max-body-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--drain-timeout", type=float, default=30.0)
    return parser


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from mlflow.pyfunc import scoring_server
    from scoring_app import Contract, ScoringApp

    from serving_metrics import RequestMetrics

    model = scoring_server.load_model_with_mlflow_config(args.model_dir)  # type: ignore[no-untyped-call]
    state_file = Path(args.state_file) if args.state_file else None
    contract = None
    if args.contract_rules and args.contract_spec:
        contract = Contract.load(
            Path(args.contract_rules), Path(args.contract_spec), args.invalid_rows
        )
    app = ScoringApp(
        model,
        name=args.name,
        version=args.version,
        max_body_bytes=args.max_body_bytes,
        state_file=state_file,
        contract=contract,
    )
    return app, RequestMetrics(state_file)


def _smoke_test(app: Any, model_dir: Path, price_cap: float | None) -> None:
    """The version's own serving input example must pass the one smoke rule."""
    from scoring_app import post_in_process
    from smoke import payload_rows, smoke_failure

    example = model_dir / "serving_input_example.json"
    if not example.is_file():
        print(f"worker {os.getpid()}: no serving input example to smoke-test", file=sys.stderr)
        return
    body = example.read_bytes()
    status, answer = asyncio.run(post_in_process(app, "/invocations", body))
    failure = smoke_failure(status, answer, payload_rows(json.loads(body)), price_cap)
    if failure:
        raise RuntimeError(f"smoke test: {failure}")


def _read_command(fd: int) -> str:
    """The supervisor's next word on the control pipe ('' when it is gone)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


async def _serve(app: Any, args: argparse.Namespace) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=int(args.drain_timeout),
    )
    server = uvicorn.Server(config)
    loop = asyncio.get_running_loop()
    drain = asyncio.Event()

    def on_control() -> None:
        if os.read(args.control_fd, 64) in (b"", b"drain\n"):
            loop.remove_reader(args.control_fd)
            drain.set()

    loop.add_reader(args.control_fd, on_control)
    serving = asyncio.create_task(server.serve(sockets=[socket.socket(fileno=args.socket_fd)]))
    waiting = asyncio.create_task(drain.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if not serving.done():
        await _drain(server, app, args.drain_timeout)
    await serving


async def _drain(server: Any, app: Any, timeout: float) -> None:
    """Stop accepting; let the open connections finish (each closes after its next answer)."""
    app.draining = True
    for listener in getattr(server, "servers", []):
        listener.close()
    # A connection accepted in the last loop turns before the listener closed is counted only
    # once its protocol is made, a few turns later. Checking at once could find none, exit,
    # and reset that client's first request (a starved process on a loaded host did so).
    await asyncio.sleep(ACCEPT_SETTLE_S)
    deadline = time.monotonic() + timeout
    while server.server_state.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    server.should_exit = True


if __name__ == "__main__":
    sys.exit(main())
