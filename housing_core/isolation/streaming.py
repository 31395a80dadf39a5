"""Scoring a stream of chunks with one registered version, in processes of its own.

Each process runs `runtime/batch_job.py` in the version's interpreter (its own code, its own
requirements, no credentials: `child_environment`) and exchanges Arrow IPC record batches
over two pipes: a chunk of rows out, its predictions back. Memory is bounded by the chunks in
flight, never by the whole input. A pool of processes keeps several chunks in flight and
gives the answers back in the chunks' order.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from housing_core.isolation.environments import Interpreter, child_environment
from housing_core.isolation.jobs import RUNTIME

BATCH_JOB = RUNTIME / "batch_job.py"
T = TypeVar("T")


class ScoringProcessError(RuntimeError):
    """A version's own process could not load or score: names the version and the cause."""


class VersionProcess:
    """One process of a version, answering chunks of rows with their predictions, in order."""

    def __init__(
        self, model_dir: Path, interpreter: Interpreter, label: str, threads: int = 1
    ) -> None:
        self.label = label
        rows_read, rows_write = os.pipe()
        answers_read, answers_write = os.pipe()
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        env = child_environment({"OMP_NUM_THREADS": str(threads)})
        command = [
            str(interpreter.python),
            "-I",  # no current directory, no PYTHONPATH: only the version's code is found
            str(BATCH_JOB),
            str(model_dir),
            str(rows_read),
            str(answers_write),
        ]
        self.process = subprocess.Popen(
            command,
            pass_fds=(rows_read, answers_write),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        os.close(rows_read)
        os.close(answers_write)
        self._rows: IO[bytes] = os.fdopen(rows_write, "wb")
        self._answers: IO[bytes] = os.fdopen(answers_read, "rb")
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._reader: pa.ipc.RecordBatchStreamReader | None = None

    def ready(self) -> None:
        """Wait until the version has loaded (its first, empty answer has arrived)."""
        if self._reader is None:
            with self._failing("load"):
                self._reader = pa.ipc.open_stream(self._answers)
                self._reader.read_next_batch()

    def send(self, rows: pd.DataFrame) -> None:
        batch = pa.RecordBatch.from_pandas(rows, preserve_index=False)
        with self._failing("take rows"):
            if self._writer is None:
                self._writer = pa.ipc.new_stream(self._rows, batch.schema)
            self._writer.write_batch(batch)
            self._rows.flush()

    def receive(self) -> np.ndarray:
        self.ready()
        assert self._reader is not None
        with self._failing("score"):
            answer = self._reader.read_next_batch()
        return np.asarray(answer.column(0).to_numpy(zero_copy_only=False), dtype=np.float64)

    def close(self) -> None:
        """End the stream and wait for the process; kill it if it does not stop."""
        for closing in (self._writer, self._rows):
            try:
                if closing is not None:
                    closing.close()
            except (OSError, pa.ArrowException):  # it has died already: nothing to tell it
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._answers.close()
        self._stderr.close()

    def _failing(self, step: str) -> _Failing:
        return _Failing(self, step)

    def why(self) -> str:
        """The last lines the process wrote to stderr (its cause of death, if any)."""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:]) or f"exit code {self.process.poll()}"


class _Failing:
    """Pipe and Arrow errors as a ScoringProcessError naming the version and its stderr."""

    def __init__(self, process: VersionProcess, step: str) -> None:
        self.process, self.step = process, step

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, OSError | pa.ArrowException | StopIteration | EOFError):
            self.process.process.poll()
            raise ScoringProcessError(
                f"{self.process.label} could not {self.step}: {self.process.why()}"
            ) from exc


class VersionPool:
    """`processes` processes of one version; `score` keeps one chunk in flight in each."""

    def __init__(
        self,
        model_dir: Path,
        interpreter: Interpreter,
        label: str,
        processes: int = 1,
        threads: int = 1,
    ) -> None:
        self.workers = [
            VersionProcess(model_dir, interpreter, f"{label} (process {i + 1})", threads)
            for i in range(max(1, processes))
        ]

    def __enter__(self) -> VersionPool:
        try:
            for worker in self.workers:
                worker.ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def score(self, chunks: Iterable[tuple[T, pd.DataFrame]]) -> Iterator[tuple[T, np.ndarray]]:
        """Each chunk's predictions, with what came with it, in the chunks' order. An empty
        chunk is answered with no predictions, without troubling a process."""
        in_flight: deque[tuple[VersionProcess | None, T]] = deque()
        turn = 0
        for context, rows in chunks:
            if len(in_flight) == len(self.workers):
                yield self._answer(*in_flight.popleft())
            worker = None
            if len(rows):
                worker = self.workers[turn % len(self.workers)]
                turn += 1
                worker.send(rows)
            in_flight.append((worker, context))
        while in_flight:
            yield self._answer(*in_flight.popleft())

    @staticmethod
    def _answer(worker: VersionProcess | None, context: T) -> tuple[T, np.ndarray]:
        return context, (worker.receive() if worker is not None else np.empty(0))

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
