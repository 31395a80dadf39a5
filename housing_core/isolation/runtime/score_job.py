"""Score registered versions on shared rows, inside their own interpreter; run by path:

    python -I score_job.py JOB.json

JOB names the rows (a parquet file), a serving payload, the highest plausible price, the
versions' model folders and where to write the result. Every version in one job ships the
same code, so they may share this process. Each version is loaded with MLflow's pyfunc
loader, which puts the version's own `code/` first on `sys.path`; nothing here imports
housing_core, so the pickle's `housing_core.*` resolves to the code the version ships. For
each version the result holds: the predictions on the rows, the smoke test's verdict (the
payload answered by the scoring app `housing-serve` serves, as `/invocations` would answer
it, judged by smoke.py's rule), and where its `housing_core` was imported from. Standard
library, MLflow, pandas and numpy only: this file runs in environments built from a
version's requirements alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

RUNTIME = Path(__file__).resolve().parent


def main(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text())
    sys.path.insert(0, str(RUNTIME))  # this folder's modules: scoring_app, smoke
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    from scoring_app import ScoringApp, describe_error, post_in_process
    from smoke import payload_rows, smoke_failure

    rows = pd.read_parquet(job["rows"])
    results: dict[str, dict[str, Any]] = {}
    for key, model_dir in job["models"].items():
        try:
            model = mlflow.pyfunc.load_model(model_dir)
            predicted = np.asarray(model.predict(rows), dtype=float).ravel()
            app = ScoringApp(model, name=key, version=key, max_body_bytes=2**31)
            body = json.dumps(job["payload"]).encode()
            status, answer = asyncio.run(post_in_process(app, "/invocations", body))
            rows_sent = payload_rows(job["payload"])
            results[key] = {
                "predictions": predicted.tolist(),
                "smoke_error": smoke_failure(status, answer, rows_sent, job.get("price_cap")),
                "code_from": _code_origin(),
                "error": None,
            }
        except Exception as exc:  # the finding itself: this version does not load or score
            results[key] = {"error": describe_error(exc), "code_from": _code_origin()}
    Path(job["out"]).write_text(json.dumps(results))
    return 0


def _code_origin() -> str | None:
    """Where this process imported `housing_core` from (None if the version never needed it)."""
    package = sys.modules.get("housing_core")
    return getattr(package, "__file__", None) if package is not None else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
