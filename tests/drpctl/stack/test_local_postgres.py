"""Where no PostgreSQL answers, the platform runs a project-local cluster (initdb into the state dir)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from drp.db import migrate
from drp.settings import Settings
from drpctl.stack import postgres
from drpctl.stack.native import _local_admin_dsn, expose_local_admin_dsn
from drpctl.stack.secrets import read_env_file
from drpctl.stack.supervisor import Supervisor, programs, render_config

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def state(settings: Settings) -> Iterator[Path]:
    # Under the project's state dir, not /tmp/pytest-of-root (0700): the cluster's OS user must reach it.
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="test-local-pg-", dir=settings.state_dir))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_local_cluster_is_created_supervised_and_migrated(settings: Settings, state: Path) -> None:
    local = settings.model_copy(
        update={
            "state_dir": state,
            "postgres_port": _free_port(),
            "postgres_admin_dsn": "postgresql://postgres@127.0.0.1:1/postgres",
        }
    )
    assert not postgres.answers(local.postgres_admin_dsn)

    data = postgres.init_local_cluster(local)
    assert (data / "PG_VERSION").exists()
    assert postgres.init_local_cluster(local) == data  # idempotent

    sup = Supervisor(local)
    pg_only = [p for p in programs(local, local_postgres=True) if p.name == "postgres"]
    sup.start_daemon(render_config(local, pg_only))
    try:
        sup.start("postgres")
        env_file = state / ".env"
        env_file.write_text("DRP_POSTGRES_ADMIN_DSN=postgresql://postgres@127.0.0.1:1/postgres\n")
        local = expose_local_admin_dsn(local, env_file)
        admin = local.postgres_admin_dsn
        # The admin DSN that tests and tools read from .env is the local cluster's now.
        assert read_env_file(env_file)["DRP_POSTGRES_ADMIN_DSN"] == admin == _local_admin_dsn(local)
        for _ in range(100):
            if postgres.answers(admin):
                break
            time.sleep(0.1)
        assert postgres.answers(admin)
        postgres.ensure_role_and_databases(local, admin)
        postgres.ensure_role_and_databases(local, admin)  # idempotent
        migrate.upgrade(local)
        assert migrate.current_revisions(local) == migrate.head_revisions(local)
        with psycopg.connect(local.postgres_conninfo(local.lake_catalog_db)) as lake_db:
            assert lake_db.execute("select current_database()").fetchone() == (local.lake_catalog_db,)
        # Loopback TCP needs the password (scram), the socket is trust for the superuser only.
        with psycopg.connect(local.postgres_conninfo()) as conn:
            assert conn.execute("select current_user").fetchone() == (local.postgres_user,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(
                local.postgres_conninfo().replace(local.postgres_password.get_secret_value(), "wrong")
            )
    finally:
        sup.shutdown()
    assert not postgres.answers(admin)
