"""PostgreSQL for the platform: use a server that answers, else a project-local cluster.

`bootstrap()` makes sure the platform role and its databases (`drp`, `airflow`, and the lake's
catalog `drp_lake`) exist and
that the role's password matches the settings, then applies the migrations.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from drp.errors import StackError
from drp.settings import Settings
from drpctl.db_admin import create_owned_database, database_exists


def answers(dsn: str, timeout: int = 2) -> bool:
    """True when a PostgreSQL server accepts a connection at `dsn`."""
    try:
        with psycopg.connect(dsn, connect_timeout=timeout):
            return True
    except psycopg.OperationalError:
        return False


def local_data_dir(settings: Settings) -> Path:
    return settings.state_dir / "postgres" / "data"


def find_bindir() -> Path:
    """The directory holding initdb/postgres, or a StackError saying how to get them."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += [str(Path(p).parent) for p in filter(None, [shutil.which("initdb")])]
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "postgres").exists():
            return Path(cand)
    raise StackError(
        "no PostgreSQL server answers at DRP_POSTGRES_ADMIN_DSN and no PostgreSQL binaries were found; "
        "install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql@16`) "
        "or point DRP_POSTGRES_ADMIN_DSN at a running server",
        service="postgres",
    )


def init_local_cluster(settings: Settings) -> Path:
    """initdb a project-local cluster (idempotent). Trust on the socket, scram on loopback TCP."""
    data = local_data_dir(settings)
    if (data / "PG_VERSION").exists():
        return data
    bindir = find_bindir()
    data.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-instructions",
    ]
    # initdb refuses to run as root; run it as the data dir's owner through a helper user if needed.
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, user=_as_postgres_user(data))
    if result.returncode != 0:
        raise StackError(f"initdb failed: {result.stderr.strip()[-400:]}", service="postgres")
    return data


def cluster_os_user() -> str | None:
    """initdb and postgres refuse to run as root: use the `postgres` OS user when we are root."""
    return "postgres" if os.geteuid() == 0 else None


def _as_postgres_user(data: Path) -> str | None:
    user_name = cluster_os_user()
    if user_name is None:
        return None
    try:
        user = pwd.getpwnam(user_name)
    except KeyError as exc:
        raise StackError(
            "running as root needs an OS user `postgres` to own the local cluster", service="postgres"
        ) from exc
    for path in (data.parent, data):
        os.chown(path, user.pw_uid, user.pw_gid)
    return user_name


def ensure_role_and_databases(settings: Settings, admin_dsn: str) -> None:
    """Create (or update) the platform role and its databases; idempotent."""
    password = settings.postgres_password.get_secret_value()
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "select 1 from pg_roles where rolname = %s", (settings.postgres_user,)
            ).fetchone()
            verb = sql.SQL("alter") if exists else sql.SQL("create")
            conn.execute(
                sql.SQL("{} role {} with login password {}").format(
                    verb, sql.Identifier(settings.postgres_user), sql.Literal(password)
                )
            )
            for db in (settings.postgres_db, settings.airflow_db, settings.lake_catalog_db):
                if not database_exists(conn, db):
                    create_owned_database(conn, db, settings.postgres_user)
    except psycopg.Error as exc:
        raise StackError(
            f"could not prepare role/databases via admin DSN: {exc}".strip(), service="postgres"
        ) from exc
