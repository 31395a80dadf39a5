"""The sweep wing: the use case "search hyperparameters" (housing-sweep).

- ``space``: a search space read from YAML, one per model family (``spaces/``), checked
  whole before anything starts;
- ``proposals``: the sampler (TPE, random, grid) and one trial's values from a space;
- ``study``: the Optuna study in its storage (SQLite, PostgreSQL, a Redis journal), resumed;
- ``folds``: the validation fold, carved from the training rows only;
- ``trial``: one trial fitted and scored on that fold;
- ``ranking``: the trials ranked, as tables;
- ``recording``: the parent run and a child run per trial in MLflow.
"""
