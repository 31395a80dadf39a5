"""Prefect tasks: thin adapters, one per pipeline step, over one housing_core call each."""
