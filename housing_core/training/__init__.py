"""The training wing: the use case "record a training", above the plain tracking gateway.

- ``identity``: what a training is called (its label and run name) and what made it (lineage,
  training key);
- ``fitting``: the model fitted and timed, then evaluated on the held-out rows;
- ``content``: what its MLflow run holds: parameters, metrics, data sets, figures, texts;
- ``pages``: what people read in MLflow: the experiment's kind, view and note, the version's
  description and tags;
- ``shipping``: what a registered version carries with it: the model wing and its pins;
- ``recording``: logging it once and registering it if it passed (idempotent).
"""
