"""Prefect flows: wiring only, readable top to bottom as the pipeline they run."""
