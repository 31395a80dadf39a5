"""Clients that never stop: what a release, a crash or a restart must not fail."""

from __future__ import annotations

import threading
import time

import httpx


class Client(threading.Thread):
    """Posts one row again and again on one keep-alive connection; records every answer."""

    def __init__(self, url: str, payload: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.url, self.payload = url, payload
        self.answers: list[tuple[float, int, str]] = []  # (time, status, version)
        self.prices: dict[str, set[float]] = {}  # version: the prices it gave the one row
        self.failures: list[str] = []
        self.failed_at: list[float] = []  # when each failure happened
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stopping.is_set():
                try:
                    response = http.post("/invocations", json=self.payload)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    self.failed_at.append(time.time())
                    time.sleep(0.05)  # a refused connection fails at once: ask at the same pace
                    continue
                version = response.headers.get("x-model-version", "?")
                self.answers.append((time.time(), response.status_code, version))
                if response.status_code == 200:
                    price = float(response.json()["predictions"][0])
                    self.prices.setdefault(version, set()).add(price)
                time.sleep(0.05)

    def versions(self) -> list[str]:
        """The versions seen, each run of equal answers once: ['1', '2', '1']."""
        seen: list[str] = []
        for _, _, version in self.answers:
            if not seen or seen[-1] != version:
                seen.append(version)
        return seen

    def first_answer_from(self, version: str, after: float) -> float | None:
        return next((t for t, _, v in self.answers if v == version and t >= after), None)

    def first_answer_after(self, moment: float) -> float | None:
        """When the first 200 after `moment` came, if one has."""
        return next((t for t, status, _ in self.answers if t >= moment and status == 200), None)
