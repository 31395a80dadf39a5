"""Scoring registered versions in processes of their own, never in this one.

Versions are grouped by the code they ship (a hash of their `code/` folder) and the interpreter
their requirements call for; each group is scored by one `runtime/score_job.py` process, so
versions trained from the same code share a process and versions whose code differs never do.
A process that crashes or times out fails its versions, not the caller.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from housing_core.isolation.environments import (
    EnvironmentBuildError,
    Interpreter,
    child_environment,
    interpreter_for,
)
from housing_core.settings import EnvironmentPolicy

RUNTIME = Path(__file__).resolve().parent / "runtime"
SCORE_JOB = RUNTIME / "score_job.py"


@dataclass(frozen=True)
class Answer:
    """What a version's own process answered: its predictions and its smoke test's verdict
    (runtime/smoke.py), or why it could not load or score."""

    predictions: np.ndarray | None
    smoke_error: str | None
    code_from: str | None
    interpreter: str
    error: str | None


def code_fingerprint(model_dir: Path) -> str:
    """A hash of the code a version ships and of what it requires: equal means interchangeable."""
    digest = hashlib.sha256()
    code = model_dir / "code"
    files = sorted(p for p in code.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in [*files, model_dir / "requirements.txt"]:
        if path.is_file():
            digest.update(path.relative_to(model_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def score_in_own_processes(
    models: Mapping[str, Path],
    rows: pd.DataFrame,
    payload: dict[str, Any],
    environments: Path,
    policy: EnvironmentPolicy = "auto",
    price_cap: float | None = None,
    timeout_s: float = 900.0,
) -> dict[str, Answer]:
    """Each model folder's predictions on `rows` and its smoke test on `payload`, by key."""
    groups: dict[tuple[Path, str], list[str]] = {}
    interpreters: dict[Path, Interpreter] = {}
    results: dict[str, Answer] = {}
    for key, model_dir in models.items():
        try:
            interpreter = interpreter_for(model_dir, environments, policy)
        except EnvironmentBuildError as exc:
            results[key] = Answer(None, None, None, "", f"environment: {exc}")
            continue
        interpreters[interpreter.python] = interpreter
        groups.setdefault((interpreter.python, code_fingerprint(model_dir)), []).append(key)
    with tempfile.TemporaryDirectory(prefix="housing-scoring-") as tmp:
        rows_file = Path(tmp) / "rows.parquet"
        rows.to_parquet(rows_file, index=False)
        for number, ((python, _), keys) in enumerate(groups.items()):
            job = {
                "rows": str(rows_file),
                "payload": payload,
                "price_cap": price_cap,
                "models": {key: str(models[key]) for key in keys},
                "out": str(Path(tmp) / f"result-{number}.json"),
            }
            results.update(_run_job(interpreters[python], job, Path(tmp), number, timeout_s))
    return {key: results[key] for key in models}


def _run_job(
    interpreter: Interpreter, job: dict[str, Any], tmp: Path, number: int, timeout_s: float
) -> dict[str, Answer]:
    job_file = tmp / f"job-{number}.json"
    job_file.write_text(json.dumps(job))
    # -I: no current directory, no PYTHONPATH, no user site: only the version's code is found
    command = [str(interpreter.python), "-I", str(SCORE_JOB), str(job_file)]
    python = str(interpreter.python)
    try:
        # one OpenMP thread, as batch scoring and serving: on a busy host a pool of threads
        # waits for its slowest member at each of the trees' parallel regions (docs/model.md)
        env = child_environment({"OMP_NUM_THREADS": "1"})
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        failure = f"scoring process timed out after {timeout_s:.0f} s"
        return {key: Answer(None, None, None, python, failure) for key in job["models"]}
    if done.returncode != 0 or not Path(job["out"]).is_file():
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        failure = f"scoring process exited with code {done.returncode}: {tail[0][:300]}"
        return {key: Answer(None, None, None, python, failure) for key in job["models"]}
    answers = json.loads(Path(job["out"]).read_text())
    return {key: _score(answers[key], python) for key in job["models"]}


def _score(answer: dict[str, Any], python: str) -> Answer:
    if answer.get("error"):
        return Answer(None, None, answer.get("code_from"), python, answer["error"])
    return Answer(
        predictions=np.asarray(answer["predictions"], dtype=float),
        smoke_error=answer["smoke_error"],
        code_from=answer.get("code_from"),
        interpreter=python,
        error=None,
    )
