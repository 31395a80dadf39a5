"""housing-serve: serve the version `production` points to with MLflow's scoring server.

    housing-serve                      # 127.0.0.1:5001, the tracking URI in force
    housing-serve --port 8080 --host 0.0.0.0 --alias staging

Resolves the alias once, logs which version it serves, downloads that pinned version, then
becomes (exec: signals reach the server directly) MLflow's scoring server under uvicorn, with
housing_core.scoring_app's two additions: 415 instead of 500 for a request without a
Content-Type, and X-Model-Name / X-Model-Version headers on every response. The server never
reloads: after a promotion, restart it (see README, "Promotion, rollback and serving").
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

import mlflow

from housing_core import serving, tracking
from housing_core.settings import load_settings

log = logging.getLogger("housing-serve")


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="housing-serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alias", default=settings.promotion.alias)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--print-only", action="store_true", help="print the command instead of running it"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    uri = settings.tracking_uri()
    client = tracking.connect(settings)
    served = serving.resolve_alias(client, settings.mlflow.registered_model_name, args.alias)
    log.info("serving %s from %s on http://%s:%d", served.describe(), uri, args.host, args.port)

    bin_dir = Path(sys.executable).parent
    command = serving.scoring_app_command(args.host, args.port, args.workers)
    if args.print_only:
        print(" ".join(command))
        return 0
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    local_model = _download(served, settings.state_dir)
    env = serving.scoring_app_environment(os.environ, bin_dir, served, local_model)
    log.info("model files in %s; running: %s", local_model, " ".join(command))
    executable = shutil.which(command[0], path=env["PATH"]) or command[0]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(executable, command, env)
    return 0  # pragma: no cover - exec does not return


def _download(served: serving.ServedModel, state_dir: Path) -> Path:
    """The pinned version's files, fetched once into the local state folder."""
    target = (state_dir / "serving" / f"{served.name}-v{served.version}").resolve()
    if not (target / "MLmodel").is_file():
        target.mkdir(parents=True, exist_ok=True)
        mlflow.artifacts.download_artifacts(served.uri, dst_path=str(target))
    return target


if __name__ == "__main__":
    sys.exit(main())
