"""Retry only what can heal: a network blip, not a broken file."""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.client.schemas.objects import State, TaskRun

from housing_core.data.source import DataSourceError
from housing_core.data.validation import DataValidationError

NETWORK_RETRY_DELAYS: list[float] = [2, 5, 15]


def retry_unless_bad_data(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect `retry_condition_fn`: False for errors that the same input will raise again."""
    try:
        state.result()
    except DataSourceError as exc:
        return exc.retryable
    except (DataValidationError, ValueError, TypeError, KeyError):
        return False
    except Exception:
        return True
    return True
