"""The tracking wing: every MLflow call of the project (serving's runtime aside).

- ``connection``: the one entry point; it owns the client, the URIs and MLflow's HTTP bounds;
- ``lineage``: what a run and a version were made from, as tags;
- ``runs``: logging a training once (idempotent), and sweeping runs a crash left RUNNING;
- ``run_content``: what a run holds: parameters, metrics, data sets, figures, the evaluation;
- ``packaging``: the logged model: flavour, signature, the model wing as its code, requirements;
- ``registry``: versions, aliases, downloads.
"""
