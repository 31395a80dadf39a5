"""housing-serve: serve the version `production` points to, with its own code.

    housing-serve                      # 127.0.0.1:5001, the tracking URI in force
    housing-serve --port 8080 --host 0.0.0.0 --alias staging
    housing-serve --pin 7              # a version by number, whatever the alias says

Resolves the alias once, logs which version it serves, downloads that pinned version, then
becomes (exec: signals reach the server directly) MLflow's scoring server under uvicorn in the
interpreter the version's own requirements call for, importing nothing of this checkout (see
housing_core/serving), with two additions: 415 instead of 500 for a request without a
Content-Type, and X-Model-Name / X-Model-Version headers on every response. The server never
reloads: after a promotion, restart it (see README, "Promotion, rollback and serving").
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from housing_core.serving.environments import interpreter_for
from housing_core.serving.server import scoring_command, scoring_environment
from housing_core.settings import load_settings
from housing_core.tracking import registry
from housing_core.tracking.connection import Tracking, open_tracking

log = logging.getLogger("housing-serve")


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="housing-serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alias", default=settings.promotion.alias)
    parser.add_argument("--pin", metavar="VERSION", help="serve this version, not the alias")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--print-only", action="store_true", help="print the command instead of running it"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    name = settings.mlflow.registered_model_name
    with open_tracking(settings) as tracking:
        if args.pin:
            served = registry.get_version(tracking.client, name, args.pin)
            chosen = f"pinned by --pin {args.pin}"
        else:
            served = registry.version_with_alias(tracking.client, name, args.alias)
            chosen = f"alias '{args.alias}'"
        log.info(
            "serving %s (%s) from %s on http://%s:%d",
            served.describe(),
            chosen,
            tracking.uri,
            args.host,
            args.port,
        )
        local_model = _download(tracking, served, settings.state_dir)
    environments = settings.state_dir / "environments"
    interpreter = interpreter_for(local_model, environments, settings.serving.environment)
    command = scoring_command(interpreter.python, args.host, args.port, args.workers)
    if args.print_only:
        print(" ".join(command))
        return 0
    env = scoring_environment(os.environ, local_model, served.name, served.version)
    log.info("model files in %s; interpreter: %s", local_model, interpreter.reason)
    log.info("running: %s", " ".join(command))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, env)
    return 0  # pragma: no cover - exec does not return


def _download(tracking: Tracking, served: registry.RegisteredVersion, state_dir: Path) -> Path:
    """The pinned version's files, fetched once into the local state folder, whole or not at all."""
    target = (state_dir / "serving" / f"{served.name}-v{served.version}").resolve()
    if not target.is_dir():
        try:
            registry.download_version(tracking, served.name, served.version, target)
        except OSError:  # another server fetched it meanwhile: keep theirs
            if not target.is_dir():
                raise
    return target


if __name__ == "__main__":
    sys.exit(main())
