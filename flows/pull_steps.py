"""Pull steps the worker runs before a flow run (see `pull:` in prefect.yaml)."""

from __future__ import annotations

import os
from pathlib import Path


def use_worker_directory() -> dict[str, str]:
    """Run the flow in the directory the worker was started in (the project root).

    Prefect's own `set_working_directory` with `{{ $PWD }}` would be resolved by `prefect deploy`
    on the deploying machine and bake its path into the deployment. This step reads the
    worker's environment at run time instead: HOUSING_PROJECT_DIR if set, else the worker's
    PWD. Relative settings (a data path, the embedded MLflow store) then mean the same thing
    on every worker.
    """
    directory = os.environ.get("HOUSING_PROJECT_DIR") or os.environ.get("PWD")
    if not directory or not Path(directory, "prefect.yaml").is_file():
        raise RuntimeError(
            f"worker directory {directory!r} is not the project root (no prefect.yaml there): "
            "start the worker in the project root or set HOUSING_PROJECT_DIR"
        )
    os.chdir(directory)
    return {"directory": str(Path.cwd())}
