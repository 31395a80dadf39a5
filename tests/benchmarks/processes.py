"""A command timed as a user runs it, with the resident memory of its whole process tree."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]


class PeakRss:
    """The sum of RSS over a process and its descendants, sampled every 0.2 s: its peak, and
    the samples as (wall-clock time, bytes), to find the peak inside any interval."""

    def __init__(self, pid: int, also: Sequence[int] = ()) -> None:
        self.root, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self.others = [psutil.Process(p) for p in also]  # other trees counted with it
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                for other in self.others:
                    with contextlib.suppress(psutil.Error):
                        tree += [other, *other.children(recursive=True)]
                total = 0
                for process in tree:
                    with contextlib.suppress(psutil.Error):
                        total += process.memory_info().rss
                self.peak = max(self.peak, total)
                self.samples.append((time.time(), total))
            except psutil.Error:
                return
            self._stop.wait(0.2)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def peak_between(self, start: float, end: float) -> int:
        """The largest sample taken between two wall-clock times (0 when none was)."""
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)


@dataclass(frozen=True)
class Ran:
    seconds: float
    peak_rss: int
    stdout: str
    memory: PeakRss
    launched: float  # wall-clock time of the start


def run(command: list[str], env: dict[str, str], also: Sequence[int] = ()) -> Ran:
    """Run `command` from the checkout; exits with its stderr's tail when it fails. The peak
    memory adds the process trees of `also` (servers the command hands work to)."""
    launched, started = time.time(), time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    memory = PeakRss(process.pid, also)
    out, err = process.communicate()
    elapsed, peak = time.perf_counter() - started, memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return Ran(elapsed, peak, out, memory, launched)
