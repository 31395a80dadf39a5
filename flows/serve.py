"""housing-serve: serve the version `production` points to, and follow it when it moves.

    housing-serve                      # 127.0.0.1:5001, the tracking URI in force
    housing-serve --port 8080 --host 0.0.0.0 --workers 2
    housing-serve --pin 7              # a version by number, whatever the alias says
    housing-serve --poll-interval 5    # read the alias every 5 s (0: never, like --pin)

Every worker runs MLflow's scoring protocol in the version's own interpreter with the version's
own code, never this checkout's (housing_core/isolation). When the alias moves, a promotion or a
rollback reaches the running server within the poll interval plus the new version's load
time, with no failed request (housing_core/serving/supervisor.py). SIGTERM or Ctrl-C drains.
"""

from __future__ import annotations

import argparse
import logging
import sys

from housing_core.serving.supervisor import Follow, Supervisor
from housing_core.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="housing-serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alias", default=settings.promotion.alias)
    parser.add_argument("--pin", metavar="VERSION", help="serve this version, not the alias")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=1, help="processes per version")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=settings.serving.poll_interval_s,
        help="seconds between reads of the alias (HOUSING_SERVING__POLL_INTERVAL_S; 0 pins)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1 or args.poll_interval < 0:
        parser.error("--workers must be at least 1 and --poll-interval at least 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    follow = Follow(
        name=settings.mlflow.registered_model_name,
        alias=args.alias,
        pin=args.pin,
        poll_interval_s=args.poll_interval,
    )
    supervisor = Supervisor(
        settings.mlflow,
        settings.serving,
        settings.state_dir,
        follow,
        host=args.host,
        port=args.port,
        workers=args.workers,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
