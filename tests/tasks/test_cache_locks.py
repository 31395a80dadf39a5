"""Cache locks on a real Redis: isolation on the cached steps, and locks that cannot outlive
a dead worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prefect.transactions import IsolationLevel

from deployments import services
from housing_core.settings import CacheSettings
from tasks.caching import BoundedRedisLocks, cache_locks, holding, isolated
from tasks.modeling import train_model
from tests.servers import Server, free_port, start_spec


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("redis")
    spec = services.redis(root, free_port(), durable=False)
    server: Server = start_spec(spec, root / "redis.log")
    yield spec.url
    server.stop()


def test_without_a_lock_url_the_steps_stay_as_they_are() -> None:
    assert cache_locks(CacheSettings()) is None
    assert isolated(train_model, None) is train_model


def test_with_a_lock_url_the_step_is_serializable_under_redis(redis_url: str) -> None:
    locks = cache_locks(CacheSettings(lock_url=redis_url))
    step = isolated(train_model, locks)

    assert step.name == train_model.name
    policy = step.cache_policy
    assert policy.isolation_level == IsolationLevel.SERIALIZABLE  # type: ignore[union-attr]
    assert policy.lock_manager is locks  # type: ignore[union-attr]
    # and the original task's policy is untouched
    assert train_model.cache_policy.isolation_level is None  # type: ignore[union-attr]


def test_a_second_holder_waits_for_the_first(redis_url: str) -> None:
    locks = BoundedRedisLocks(redis_url, limit_s=30)
    order: list[str] = []

    def second() -> None:
        with holding(locks, "registration-x", timeout_s=10):
            order.append("second in")

    with holding(locks, "registration-x", timeout_s=10):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first out")
    thread.join(timeout=10)
    assert order == ["first out", "second in"]


def test_a_lock_whose_holder_died_expires_after_the_limit(redis_url: str) -> None:
    # given a holder that took the lock and never released it (a killed worker)
    locks = BoundedRedisLocks(redis_url, limit_s=1.0)
    assert locks.acquire_lock("train-y", holder="dead-worker")

    # then another worker, as Prefect's transaction asks (no timeouts), still gets it
    started = time.monotonic()
    assert BoundedRedisLocks(redis_url, limit_s=5.0).acquire_lock("train-y", holder="worker-b")
    assert time.monotonic() - started < 3


def test_waiting_longer_than_the_limit_fails_with_the_lock_named(redis_url: str) -> None:
    locks = BoundedRedisLocks(redis_url, limit_s=30)
    assert locks.acquire_lock("registration-z", holder="busy-worker", hold_timeout=30)
    with pytest.raises(TimeoutError, match="registration-z"), holding(locks, "registration-z", 0.5):
        pass  # pragma: no cover
    locks.release_lock("registration-z", "busy-worker")
