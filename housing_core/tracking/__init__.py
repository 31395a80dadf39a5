"""The tracking wing: a plain gateway to MLflow, for every use case (serving's runtime aside).

It takes finished values (names, tags, parameters, metrics, frames, figures, texts) and writes
them; what to record and how it reads to a person belongs to the use cases above it
(housing_core.training, housing_core.promotion). It imports neither the reports nor the
number format (a lint rule keeps it so).

- ``connection``: the one entry point; it owns the client, the URIs and MLflow's HTTP bounds;
- ``runs``: experiments and runs: created, written, found, failed when left running;
- ``packaging``: a fitted model logged as a LoggedModel with its code and requirements;
- ``registry``: versions, their tags and descriptions, aliases, downloads.
"""
