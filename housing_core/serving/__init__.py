"""The serving wing: the `housing-serve` application, which serves the version an alias points
to and follows it when it moves, with no failed request.

- ``supervisor``: the listening socket, following the alias, swaps, replacing dead workers;
- ``workers``: the worker processes of one served version, started and drained;
- ``runtime/``: the files that run INSIDE a version's process, by path, importing nothing of
  the checkout (a lint rule keeps it so): ``worker`` (one serving worker) and
  ``serving_metrics`` (Prometheus). The scoring app they serve is the isolation wing's
  (housing_core.isolation.runtime), the same one promotion smoke-tests every version with.
"""
