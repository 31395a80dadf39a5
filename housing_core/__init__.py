"""housing_core: the pure domain library of housing-flows (no Prefect, nothing run at import).

Modules, one concern each:
- configuration and contract: `settings`, `schemas`, `versioning`;
- data: `data` (read, hash, validate), `split` (stable held-out rows);
- the model: `columns` (the numpy table its steps share), `features`, `geo`, `nearest`,
  `neighbours`, `ensemble`, `model`;
- judging it: `evaluation`, `plots`, `reports`;
- MLflow: `tracking` (runs), `model_logging` (the logged model), `registry` (versions,
  aliases), `promotion` (the decision);
- serving: `serving` (alias to version, payloads, smoke test), `scoring_app` (the server app).
"""

__version__ = "0.1.0"
