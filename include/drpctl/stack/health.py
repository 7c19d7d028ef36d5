"""Health checks for each service of the stack: one function per service, each returning a Check."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import redis
from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from drp.settings import Settings
from drp.storage.object_store import client, platform_buckets
from drpctl.stack import postgres
from drpctl.stack.airflow import celery_node_name, celery_queue
from drpctl.stack.supervisor import worker_names


@dataclass(frozen=True)
class Check:
    """The health of one service."""

    service: str
    url: str
    healthy: bool
    detail: str = ""


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts TCP connections at host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def check_postgres(settings: Settings) -> Check:
    url = f"postgresql://{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"
    ok = postgres.answers(settings.postgres_conninfo())
    return Check("postgres", url, ok, "" if ok else "no answer with the platform role")


def check_object_store(settings: Settings) -> Check:
    url = f"http://{settings.s3_endpoint}"
    try:
        buckets = {b.name for b in client(settings).list_buckets()}
    except (S3Error, HTTPError, OSError) as exc:
        return Check("object-store", url, False, type(exc).__name__)
    missing = set(platform_buckets(settings)) - buckets
    return Check("object-store", url, not missing, f"missing buckets: {sorted(missing)}" if missing else "")


def check_generator(settings: Settings) -> Check:
    url = settings.generator_url
    try:
        ok = httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError as exc:
        return Check("generator", url, False, type(exc).__name__)
    return Check("generator", url, ok)


def check_airflow(settings: Settings) -> Check:
    """Airflow is healthy when its API answers and every component reports healthy."""
    url = settings.airflow_url
    try:
        resp = httpx.get(f"{url}/api/v2/monitor/health", timeout=3)
        body = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        return Check("airflow", url, False, type(exc).__name__)
    components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    unhealthy = [c for c in components if (body.get(c) or {}).get("status") != "healthy"]
    return Check("airflow", url, not unhealthy, f"not healthy: {', '.join(unhealthy)}" if unhealthy else "")


def redis_answers(settings: Settings) -> bool:
    try:
        return bool(redis.Redis.from_url(settings.redis_url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def celery_workers_answering(settings: Settings, timeout: float = 1.0) -> list[str]:
    """The Celery workers that answer a ping through the broker, by name."""
    app = Celery(broker=settings.redis_url)
    try:
        replies = app.control.ping(timeout=timeout)
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def check_celery(settings: Settings) -> Check:
    """The Celery workers answer through the broker; the detail gives the queue depth."""
    url = settings.redis_url
    try:
        # A task waiting for a worker is a message in the Redis list named after the queue.
        queued = int(redis.Redis.from_url(url, socket_timeout=1).llen(celery_queue(settings)))
        answering = celery_workers_answering(settings)
    except (redis.RedisError, KombuOperationalError, OSError) as exc:
        return Check("celery", url, False, f"broker: {type(exc).__name__}")
    # Ours by name: another deployment's workers may use the same broker.
    ours = [
        name
        for name in worker_names(settings)
        if any(a.startswith(f"{celery_node_name(settings, name)}@") for a in answering)
    ]
    detail = f"{len(ours)}/{settings.celery_workers} workers answer; {queued} tasks queued"
    return Check("celery", url, len(ours) == settings.celery_workers, detail)


CHECKS: dict[str, Callable[[Settings], Check]] = {
    "postgres": check_postgres,
    "object-store": check_object_store,
    "generator": check_generator,
    "airflow": check_airflow,
    "celery": check_celery,
}


def check_names(settings: Settings) -> tuple[str, ...]:
    """The checks of this configuration (Celery's only under DRP_EXECUTOR=celery)."""
    return tuple(name for name in CHECKS if name != "celery" or settings.executor == "celery")


def check_all(settings: Settings) -> list[Check]:
    """Every service's health, from the host-side settings (the same in the native and Docker stacks)."""
    return [CHECKS[name](settings) for name in check_names(settings)]
