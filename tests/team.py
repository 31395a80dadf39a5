"""A throw-away team stack for the tests: PostgreSQL, s3rver, Redis, MLflow with basic auth,
Prefect with an auth string, on free loopback ports, in one temporary folder.

The tests' own fixture, started from `deployments.services` without supervisord (the
operator's tool) so a test can stop, restart or kill any one part.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deployments import bootstrap, services
from deployments.services import Endpoints, MlflowAuth, S3Store
from tests.servers import Server, free_port, start_spec


@dataclass
class TeamStack:
    root: Path
    pg_root: Path
    pg_port: int
    redis_url: str
    store: S3Store
    auth: MlflowAuth
    prefect_auth: str
    passwords: dict[str, str]
    prefect_port: int
    servers: dict[str, Server] = field(default_factory=dict)

    @property
    def tracking_uri(self) -> str:
        return self.servers["mlflow"].url

    @property
    def prefect_api(self) -> str:
        return self.servers["prefect"].url

    def endpoints(self, user: str = "trainer") -> Endpoints:
        return Endpoints(
            prefect_api=f"http://127.0.0.1:{self.prefect_port}/api",
            tracking_uri=self.tracking_uri,
            prefect_auth=self.prefect_auth,
            mlflow_user=user,
            mlflow_password=self.passwords[user],
            store=self.store,
            lock_url=self.redis_url,
            results_block=services.RESULTS_BLOCK,
        )

    def database_url(self, name: str, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.pg_port}/{name}"

    def prefect_spec(self) -> services.ServiceSpec:
        return services.prefect_server(
            self.root / "prefect-home",
            self.prefect_port,
            database=self.database_url("prefect", "postgresql+asyncpg"),
            auth_string=self.prefect_auth,
            redis_url=self.redis_url,
        )

    def start_prefect(self, base: Mapping[str, str]) -> Server:
        self.servers["prefect"] = start_spec(
            self.prefect_spec(), self.root / "prefect-server.log", base
        )
        return self.servers["prefect"]

    def restart_postgres(self, base: Mapping[str, str]) -> float:
        """Stop PostgreSQL (its fast shutdown, as `pg_ctl restart` does: clients are cut off)
        and start it again on the same data and port; the seconds it was down."""
        stopped = time.monotonic()
        self.servers["postgres"].stop()
        spec = services.postgres(self.pg_root, self.pg_port, durable=False)
        self.servers["postgres"] = start_spec(spec, self.root / "postgres.log", base)
        return time.monotonic() - stopped

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()
        self.servers.clear()
        shutil.rmtree(self.pg_root, ignore_errors=True)


def start_team_stack(root: Path, base: Mapping[str, str]) -> TeamStack:
    """Every team server, then the one-shot bootstrap (users, grants, result block)."""
    # postgres must traverse its folder's parents: pytest's are private to root
    pg_root = Path(tempfile.mkdtemp(prefix="housing-pg-"))
    pg_root.chmod(0o755)
    passwords = {user: secrets.token_hex(12) for user in ("admin", "trainer", "reader")}
    pg_port = free_port()
    stack = TeamStack(
        root=root,
        pg_root=pg_root,
        pg_port=pg_port,
        redis_url="",
        store=S3Store("", "", ""),
        auth=MlflowAuth(
            admin_password=passwords["admin"],
            secret_key=secrets.token_hex(16),
            database_uri=f"postgresql://postgres@127.0.0.1:{pg_port}/mlflow_auth",
            config_path=root / "mlflow-auth.ini",
        ),
        prefect_auth=f"housing:{secrets.token_hex(12)}",
        passwords=passwords,
        prefect_port=free_port(),
    )
    try:
        services.init_postgres(pg_root)
        stack.servers["postgres"] = start_spec(
            services.postgres(pg_root, pg_port, durable=False), root / "postgres.log", base
        )
        services.create_databases(pg_port, "prefect", "mlflow", "mlflow_auth")
        redis_spec = services.redis(root / "redis", free_port(), durable=False)
        stack.servers["redis"] = start_spec(redis_spec, root / "redis.log", base)
        stack.redis_url = redis_spec.url
        s3_spec, stack.store = services.s3rver(
            root / "s3", free_port(), (services.MLFLOW_BUCKET, services.RESULTS_BUCKET)
        )
        stack.servers["s3"] = start_spec(s3_spec, root / "s3.log", base)
        services.write_auth_config(stack.auth)
        mlflow_spec = services.mlflow_server(
            root / "mlflow",
            free_port(),
            backend=stack.database_url("mlflow"),
            artifacts=f"s3://{services.MLFLOW_BUCKET}/artifacts",
            store=stack.store,
            auth=stack.auth,
        )
        stack.servers["mlflow"] = start_spec(mlflow_spec, root / "mlflow-server.log", base)
        stack.start_prefect(base)
        bootstrap.mlflow_users(
            stack.tracking_uri,
            passwords["admin"],
            {"trainer": passwords["trainer"], "reader": passwords["reader"]},
        )
        bootstrap.results_block({**base, **stack.endpoints().client_env()})
    except BaseException:
        stack.stop()
        raise
    return stack
