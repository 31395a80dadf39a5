"""The worker processes of one served version (a generation), and how they start and stop.

Each worker runs `runtime/worker.py` by path in the version's own interpreter, on a listening
socket it inherits from the supervisor: the kernel hands each new connection to one of the
processes accepting on it. A worker talks to the supervisor over two pipes: it writes
`ready <seconds>` or `failed <why>` once it has loaded and smoke-tested its version, and reads
`serve` (start accepting) or `drain` (stop accepting, finish, exit).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from housing_core.isolation.environments import Interpreter, child_environment
from housing_core.isolation.jobs import RUNTIME as APP_DIR

WORKER = Path(__file__).resolve().parent / "runtime" / "worker.py"


class SwapError(RuntimeError):
    """A version did not load or did not pass its smoke test: it is never served."""


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    control: int  # the supervisor's end of the control pipe
    ready: int  # the supervisor's end of the ready pipe
    answer: str = ""

    def tell(self, word: str) -> None:
        with suppress(OSError):  # it has exited already
            os.write(self.control, f"{word}\n".encode())

    def close(self) -> None:
        for fd in (self.control, self.ready):
            with suppress(OSError):
                os.close(fd)


@dataclass(frozen=True)
class Launch:
    """What every worker of a generation is started with."""

    interpreter: Interpreter
    model_dir: Path
    name: str
    version: str
    state_file: Path
    metrics_dir: Path
    price_cap: float
    contract_rules: Path
    contract_spec: Path
    invalid_rows: str
    max_body_bytes: int
    drain_timeout_s: float


@dataclass
class Generation:
    """The workers serving one version."""

    launch: Launch
    workers: list[Worker] = field(default_factory=list)
    load_seconds: float = 0.0

    @classmethod
    def start(cls, launch: Launch, listener: socket.socket, count: int) -> Generation:
        generation = cls(launch)
        for _ in range(count):
            generation.workers.append(start_worker(launch, listener))
        return generation

    def wait_ready(self, timeout_s: float) -> None:
        """Every worker loaded and smoke-tested, or SwapError naming the first failure."""
        deadline = time.monotonic() + timeout_s
        for worker in self.workers:
            worker.answer = _read_line(worker.ready, deadline)
            word, _, detail = worker.answer.partition(" ")
            if word != "ready":
                code = worker.process.poll()
                why = detail or (f"exited with code {code}" if code is not None else "no answer")
                raise SwapError(f"v{self.launch.version} refused: {why}")
            self.load_seconds = max(self.load_seconds, float(detail or 0))

    def serve(self) -> None:
        for worker in self.workers:
            worker.tell("serve")

    def drain(self) -> None:
        for worker in self.workers:
            worker.tell("drain")

    def wait_stopped(self, timeout_s: float) -> None:
        """Wait for the drained workers; kill what is left after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(timeout=10)
            worker.close()

    def kill(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait(timeout=10)
            worker.close()

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers]


def start_worker(launch: Launch, listener: socket.socket) -> Worker:
    """One worker process of the version, on the shared listening socket."""
    control_read, control_write = os.pipe()
    ready_read, ready_write = os.pipe()
    fds = (listener.fileno(), control_read, ready_write)
    command = [
        str(launch.interpreter.python),
        "-I",  # no current directory, no PYTHONPATH: only the version's code is found
        str(WORKER),
        *("--socket-fd", str(listener.fileno())),
        *("--control-fd", str(control_read), "--ready-fd", str(ready_write)),
        *("--app-dir", str(APP_DIR), "--model-dir", str(launch.model_dir)),
        *("--name", launch.name, "--price-cap", repr(launch.price_cap)),
        *("--contract-rules", str(launch.contract_rules)),
        *("--contract-spec", str(launch.contract_spec), "--invalid-rows", launch.invalid_rows),
        *("--version", launch.version, "--state-file", str(launch.state_file)),
        *("--max-body-bytes", str(launch.max_body_bytes)),
        *("--drain-timeout", str(launch.drain_timeout_s)),
    ]
    env = child_environment({"PROMETHEUS_MULTIPROC_DIR": str(launch.metrics_dir)})
    # one OpenMP thread: waking a pool for one row costs more than the row (docs/model.md)
    env.setdefault("OMP_NUM_THREADS", "1")
    process = subprocess.Popen(command, pass_fds=fds, env=env)
    os.close(control_read)
    os.close(ready_write)
    return Worker(process, control_write, ready_read)


def _read_line(fd: int, deadline: float) -> str:
    """One line from a worker's ready pipe, or '' at its end or at the deadline."""
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return ""
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()
