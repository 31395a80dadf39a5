"""Prefect artifacts: the result of a run, as a person sees it in the UI."""

from __future__ import annotations

from uuid import UUID

from prefect import task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(key: str, markdown: str, description: str) -> None:
    """Artifact keys are lowercase with dashes; the same key builds a history across runs."""
    create_markdown_artifact(key=key, markdown=markdown, description=description)


@task(name="publish-table", cache_policy=NO_CACHE)
def publish_table(key: str, rows: list[dict[str, str]], description: str) -> None:
    """A table artifact wants its rows as records (a list of dicts), not a DataFrame."""
    create_table_artifact(key=key, table=rows, description=description)


def start_progress(total: int, description: str) -> UUID:
    """A progress artifact at 0 %: called from the flow, not a task (it is updated often)."""
    return create_progress_artifact(progress=0.0, description=description)  # type: ignore[return-value]


def show_progress(artifact_id: UUID, done: int, total: int, description: str) -> None:
    update_progress_artifact(artifact_id, 100.0 * done / max(total, 1), description=description)
