"""The isolation wing: running a registered version with its own code and its own requirements.

Used by promotion (scoring versions on shared rows), by housing-serve (its workers) and by
batch scoring. Two versions whose code differs cannot share one interpreter: a pickle names
modules (`housing_core.model.features`), and a process holds one module per name. Loading a
version in a process that imported the checkout's housing_core would score it with the
checkout's code. So a version always runs in a process of its own:

- ``environments``: which interpreter: this one when it meets every pinned requirement, else a
  virtual environment built (once) from the version's requirements.txt;
- ``jobs``: scoring versions in processes of their own, one per distinct code;
- ``payloads``: request bodies as `/invocations` takes them;
- ``runtime/``: the files that run INSIDE a version's process, by path, importing nothing of
  the checkout (a lint rule keeps it so): ``scoring_app`` (MLflow's protocol and our routes),
  ``smoke`` (the smoke test's one rule) and ``score_job`` (scoring for promotion).
"""
