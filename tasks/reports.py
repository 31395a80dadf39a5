"""Prefect artifacts: the result of a run, as a person sees it in the UI."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE


@task(name="publish-report", cache_policy=NO_CACHE)
def publish_report(key: str, markdown: str, description: str) -> None:
    """Artifact keys are lowercase with dashes; the same key builds a history across runs."""
    create_markdown_artifact(key=key, markdown=markdown, description=description)


@task(name="publish-table", cache_policy=NO_CACHE)
def publish_table(key: str, rows: list[dict[str, str]], description: str) -> None:
    """A table artifact wants its rows as records (a list of dicts), not a DataFrame."""
    create_table_artifact(key=key, table=rows, description=description)
