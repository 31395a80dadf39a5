"""`housing-serve`'s supervisor: it owns the listening socket, and the served version follows
the alias with zero failed requests.

The supervisor never loads a model. It binds the socket, starts a generation of workers for
the version the alias points to (each in the version's own interpreter, see workers.py), and
reads the alias every `poll_interval_s`. When it has moved (a promotion or a rollback):

1. the new version is downloaded and a new generation started, on the same socket, beside the
   one serving: at most two versions are in memory;
2. each new worker loads its version with its own code and smoke-tests it on the version's
   own input example; a version that fails either is never served: its workers are killed,
   the failure is logged and recorded (state file, `/model`, `/metrics`), the old one serves on;
3. the new workers start accepting, then the old ones drain: they stop accepting, finish the
   requests they hold, and answer anything more on their open connections with
   `Connection: close`, so a client's next request reconnects, to the new version.

No connection is refused meanwhile (the socket stays open and queues them), and no request
is cut: a request that started is answered by the model it started on.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from housing_core.data.contract import PRICE_CAP, contract_spec
from housing_core.data.portable import rules
from housing_core.isolation.environments import interpreter_for, runtime_requirements
from housing_core.serving.workers import Generation, Launch, SwapError, start_worker
from housing_core.settings import MlflowSettings, ServingSettings
from housing_core.tracking import registry, runs
from housing_core.tracking.connection import TrackingUnavailableError, open_tracking
from housing_core.tracking.registry import AliasNotSetError, RegisteredVersion
from housing_core.versioning import Lineage

log = logging.getLogger("housing-serve")


@dataclass
class Follow:
    """What to serve: a pinned version, or the alias (read every `poll_interval_s`)."""

    name: str
    alias: str
    pin: str | None
    poll_interval_s: float

    @property
    def follows(self) -> bool:
        return self.pin is None and self.poll_interval_s > 0


@dataclass
class State:
    """What the server serves and how its swaps went: written for `/model` and `/metrics`."""

    name: str
    alias: str | None
    poll_interval_s: float
    version: str = ""
    run_id: str = ""
    source: str = ""
    code_version: str = ""
    loaded_at: str = ""
    load_seconds: float = 0.0
    interpreter: str = ""
    model_dir: str = ""
    workers: list[int] = field(default_factory=list)
    swaps: int = 0
    failed_swaps: int = 0
    last_swap_error: str | None = None
    last_swap_at: str | None = None
    refused: dict[str, str] = field(default_factory=dict)


class Supervisor:
    def __init__(
        self,
        mlflow: MlflowSettings,
        serving: ServingSettings,
        state_dir: Path,
        follow: Follow,
        *,
        host: str,
        port: int,
        workers: int,
    ) -> None:
        self.mlflow, self.serving, self.state_dir = mlflow, serving, state_dir
        self.follow = follow
        self.host, self.port, self.count = host, port, workers
        self.stop = threading.Event()
        self.run_dir = Path(tempfile.mkdtemp(prefix="housing-serve-"))
        self.state = State(
            follow.name, None if follow.pin else follow.alias, follow.poll_interval_s
        )
        self.current: Generation | None = None

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; 1 if the first version cannot be served."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        (self.run_dir / "metrics").mkdir()
        listener = _listen(self.host, self.port)
        try:
            target = self._target(probe=True)
            self.current = self._start(target, listener)
            self.current.serve()
            self._record(target, self.current)
            log.info("listening on http://%s:%d", self.host, self.port)
            self._loop(listener)
            return 0
        except (SwapError, AliasNotSetError, TrackingUnavailableError) as exc:
            log.error("cannot serve: %s", exc)
            return 1
        finally:
            if self.current is not None:
                self.current.drain()
                self.current.wait_stopped(self.serving.drain_timeout_s + 5)
            listener.close()
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _loop(self, listener: socket.socket) -> None:
        next_poll = time.monotonic() + self.follow.poll_interval_s
        while not self.stop.wait(timeout=0.5):
            self._replace_dead_workers(listener)
            if self.follow.follows and time.monotonic() >= next_poll:
                self._follow_alias(listener)
                next_poll = time.monotonic() + self.follow.poll_interval_s

    def _follow_alias(self, listener: socket.socket) -> None:
        try:
            target = self._target()
        except Exception as exc:  # the tracking server may be down: keep serving, ask again
            log.warning("could not read alias '%s': %s", self.follow.alias, exc)
            return
        if target.version == self.state.version or target.version in self.state.refused:
            return
        log.info(
            "alias '%s' moved: v%s -> v%s", self.follow.alias, self.state.version, target.version
        )
        self._swap(target, listener)

    def _swap(self, target: RegisteredVersion, listener: socket.socket) -> None:
        started = time.monotonic()
        try:
            new = self._start(target, listener)
        except SwapError as exc:
            self._refuse(target, str(exc))
            return
        except Exception as exc:  # download or environment: may heal, try at the next poll
            log.warning("could not prepare v%s: %s", target.version, exc)
            return
        old, self.current = self.current, new
        new.serve()
        if old is not None:
            old.drain()
        self.state.swaps += 1
        self.state.last_swap_error = None
        self.state.last_swap_at = _now()
        self._record(target, new)
        log.info(
            "now serving v%s (loaded and smoke-tested in %.1f s; swap %.1f s)",
            target.version,
            new.load_seconds,
            time.monotonic() - started,
        )
        if old is not None:
            old.wait_stopped(self.serving.drain_timeout_s + 5)

    def _start(self, target: RegisteredVersion, listener: socket.socket) -> Generation:
        """A generation of `self.count` workers for `target`, loaded and smoke-tested."""
        launch = self._launch(target)
        generation = Generation.start(launch, listener, self.count)
        try:
            generation.wait_ready(self.serving.swap_timeout_s)
        except SwapError:
            generation.kill()
            raise
        return generation

    def _launch(self, target: RegisteredVersion) -> Launch:
        model_dir = self._download(target)
        serving = self.serving
        interpreter = interpreter_for(
            model_dir,
            self.state_dir / "environments",
            serving.environment,
            extra=runtime_requirements(),
        )
        log.info("v%s runs in %s (%s)", target.version, interpreter.python, interpreter.reason)
        return Launch(
            interpreter=interpreter,
            model_dir=model_dir,
            name=target.name,
            version=target.version,
            state_file=self.run_dir / "state.json",
            metrics_dir=self.run_dir / "metrics",
            price_cap=PRICE_CAP,
            contract_rules=Path(rules.__file__),
            contract_spec=self._contract_spec(),
            invalid_rows=serving.invalid_rows,
            max_body_bytes=serving.max_body_bytes,
            drain_timeout_s=serving.drain_timeout_s,
        )

    def _contract_spec(self) -> Path:
        """The contract's rules as a JSON file the workers read (written once)."""
        path = self.run_dir / "contract.json"
        if not path.is_file():
            path.write_text(json.dumps(contract_spec()))
        return path

    def _replace_dead_workers(self, listener: socket.socket) -> None:
        """A worker that died (a crash, the OOM killer) is replaced by one of the same version."""
        if self.current is None:
            return
        for index, worker in enumerate(self.current.workers):
            code = worker.process.poll()
            if code is None or self.stop.is_set():
                continue
            log.warning(
                "worker %d of v%s exited (%s): replacing it",
                worker.process.pid,
                self.state.version,
                code,
            )
            worker.close()
            fresh = start_worker(self.current.launch, listener)
            self.current.workers[index] = fresh
            single = Generation(self.current.launch, [fresh])
            try:
                single.wait_ready(self.serving.swap_timeout_s)
            except SwapError as exc:
                log.error("replacement worker failed: %s", exc)
                continue
            fresh.tell("serve")
            self.state.workers = self.current.pids()
            self._write_state()

    def _target(self, probe: bool = False) -> RegisteredVersion:
        with open_tracking(self.mlflow) as tracking:
            if probe:  # the first read: fail in seconds, naming the server, if it is down
                tracking.probe()
            if self.follow.pin is not None:
                return registry.get_version(tracking, self.follow.name, self.follow.pin)
            return registry.version_with_alias(tracking, self.follow.name, self.follow.alias)

    def _download(self, target: RegisteredVersion) -> Path:
        """The version's files, fetched once into the state folder, whole or not at all."""
        with open_tracking(self.mlflow) as tracking:
            return registry.fetch_version(tracking, target, self.state_dir / "serving")

    def _lineage(self, target: RegisteredVersion) -> Lineage:
        """What made the version, as its run records it (empty if the server cannot say)."""
        try:
            with open_tracking(self.mlflow) as tracking:
                return Lineage.from_tags(runs.run_tags(tracking, target.run_id))
        except Exception as exc:  # the tracking server may be down: serving goes on
            log.warning("could not read the lineage of v%s: %s", target.version, exc)
            return Lineage.from_tags({})

    def _refuse(self, target: RegisteredVersion, error: str) -> None:
        log.error(
            "not swapping to v%s, v%s serves on: %s", target.version, self.state.version, error
        )
        self.state.failed_swaps += 1
        self.state.last_swap_error = error
        self.state.last_swap_at = _now()
        self.state.refused[target.version] = error
        self._write_state()

    def _record(self, target: RegisteredVersion, generation: Generation) -> None:
        self.state.version = target.version
        self.state.run_id = target.run_id
        self.state.source = target.source
        self.state.code_version = self._lineage(target).code_version
        self.state.loaded_at = _now()
        self.state.load_seconds = round(generation.load_seconds, 3)
        self.state.interpreter = str(generation.launch.interpreter.python)
        self.state.model_dir = str(generation.launch.model_dir)
        self.state.workers = generation.pids()
        self._write_state()
        log.info("serving %s", target.describe())

    def _write_state(self) -> None:
        path = self.run_dir / "state.json"
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(_public(self.state), indent=2))
        partial.replace(path)


def _public(state: State) -> dict[str, Any]:
    data = {k: v for k, v in state.__dict__.items()}
    data["refused"] = dict(state.refused)
    return data


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.create_server((host, port), backlog=2048)
    listener.set_inheritable(True)
    return listener


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
