"""The smoke test's one rule, for promotion's score jobs and housing-serve's workers alike.

A version passes when `/invocations`, answering a serving payload through the same app that
serves, gives 200 and one finite price per row, at least 0 and at most the price cap when one
is given. Imports nothing of housing_core: it runs in a version's own interpreter.
"""

from __future__ import annotations

import math
from typing import Any

PAYLOAD_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def payload_rows(payload: dict[str, Any]) -> int | None:
    """How many rows a serving payload holds (None if its format has no row count)."""
    for key in PAYLOAD_KEYS:
        if key in payload:
            value = payload[key]
            return len(value["data"]) if key == "dataframe_split" else len(value)
    return None


def smoke_failure(
    status: int, answer: Any, rows: int | None, price_cap: float | None = None
) -> str | None:
    """Why this answer to a payload of `rows` rows fails the smoke test; None if it passes."""
    if status != 200 or not isinstance(answer, dict):
        message = answer.get("message", answer) if isinstance(answer, dict) else answer
        return f"/invocations answered {status}: {str(message)[:300]}"
    prices = answer.get("predictions")
    if not isinstance(prices, list) or (rows is not None and len(prices) != rows):
        count = len(prices) if isinstance(prices, list) else 0
        return f"{rows} rows in, {count} predictions out"
    if not all(isinstance(p, int | float) and math.isfinite(p) for p in prices):
        return f"not every prediction is a finite number: {str(prices)[:200]}"
    high = math.inf if price_cap is None else price_cap
    if prices and (min(prices) < 0 or max(prices) > high):
        return f"prices outside [$0, ${high:,.0f}]: ${min(prices):,.0f}..${max(prices):,.0f}"
    return None
