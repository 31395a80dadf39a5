"""The serving wing: every registered version scored and served by its own code.

- ``payloads``: request bodies as `/invocations` takes them;
- ``environments``: which interpreter a version runs in: this one when it has every pinned
  requirement, else a virtual environment built (once) from the version's requirements.txt;
- ``isolation``: scoring versions in processes of their own, one per distinct code;
- ``supervisor``: `housing-serve`: the listening socket, following the alias, swaps;
- ``workers``: the worker processes of one served version, started and drained;
- ``runtime/``: the files that run INSIDE a version's process, by path, importing nothing of
  the checkout (a lint rule keeps it so): ``worker`` (one serving worker), ``scoring_app``
  (MLflow's protocol and our routes), ``serving_metrics`` (Prometheus) and ``score_job``
  (batch scoring and the smoke test for promotion).

Two versions whose code differs cannot share one interpreter: a pickle names modules
(`housing_core.model.features`), and a process holds one module per name. Loading a version in
a process that imported the checkout's housing_core would score it with the checkout's code.
"""
