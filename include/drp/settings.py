"""Typed settings for the whole platform, read from the environment and `.env`.

Every setting is documented in `.env.example`. Secrets have no usable default: `make up`
generates them into `.env` (see `drpctl.stack.secrets`), and `get_settings()` refuses empty or
placeholder values with a message naming the variable.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from drp.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Values that look like secrets but are not: copied from docs, or a left-over template.
PLACEHOLDERS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "password",
        "secret",
        "admin",
        "minioadmin",
        "postgres",
        "airflow",
        "xxx",
        "todo",
        "<generated>",
        "generated-by-make-up",
    }
)

SECRET_FIELDS = (
    "postgres_password",
    "s3_access_key",
    "s3_secret_key",
    "airflow_admin_password",
    "airflow_fernet_key",
    "airflow_jwt_secret",
    "airflow_api_secret_key",
    "generator_api_key",
)


class Settings(BaseSettings):
    """All drp settings. Environment variables are the field names upper-cased, prefixed `DRP_`."""

    model_config = SettingsConfigDict(
        env_prefix="DRP_",
        env_file=(PROJECT_ROOT / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
    )

    state_dir: Path = PROJECT_ROOT / ".drp"
    # How `drp up` runs the services: "docker" (docker compose), "native" (supervisord), or
    # "auto" (Docker when an engine answers, else native). Read by the operator tooling only.
    runtime: Literal["auto", "native", "docker"] = "auto"

    # Where tasks take the credentials of Postgres, the object store and the generator API from:
    # "env" (DRP_* variables and `.env`; the CLI, tests, dag.test()) or "airflow" (the platform's
    # Airflow Connections, through Airflow's secrets backends: `make up` sets it for every Airflow
    # process, which gets no DRP_* secret and reads no `.env`; see drp.connections).
    credentials_from: Literal["env", "airflow"] = "env"

    # PostgreSQL: `drp` holds platform data (raw, ops); `airflow` holds Airflow's metadata.
    postgres_host: str = "127.0.0.1"
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_user: str = "drp"
    postgres_password: SecretStr = SecretStr("")
    postgres_db: str = "drp"
    airflow_db: str = "airflow"
    # Superuser connection used only by `make up` to create the role and databases. When it does
    # not answer, `make up` creates a project-local cluster instead.
    postgres_admin_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"

    # S3-compatible object store (MinIO in Docker, SeaweedFS natively).
    s3_host: str = "127.0.0.1"
    s3_port: int = Field(default=8333, ge=1, le=65535)
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    s3_bucket_raw: str = "drp-raw"
    s3_bucket_analytics: str = "drp-analytics"
    # Airflow's task logs (remote logging), so the UI reads any worker's log.
    s3_bucket_logs: str = "drp-logs"

    # Airflow 3.
    airflow_host: str = "127.0.0.1"
    airflow_port: int = Field(default=8080, ge=1, le=65535)
    airflow_admin_user: str = "admin"
    airflow_admin_password: SecretStr = SecretStr("")
    airflow_fernet_key: SecretStr = SecretStr("")
    airflow_jwt_secret: SecretStr = SecretStr("")
    airflow_api_secret_key: SecretStr = SecretStr("")
    # Which Airflow executor runs the tasks: "local" (LocalExecutor, the laptop default) or
    # "celery" (CeleryExecutor: `celery_workers` workers, Redis as the broker, Flower).
    executor: Literal["local", "celery"] = "local"
    celery_workers: int = Field(default=2, ge=1, le=16)
    # Task slots per Celery worker.
    celery_worker_concurrency: int = Field(default=4, ge=1, le=64)
    # The Celery broker. `make up` uses the Redis answering here, else starts `redis-server` on
    # this loopback port under the supervisor.
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", pattern=r"^rediss?://")
    flower_host: str = "127.0.0.1"
    flower_port: int = Field(default=5555, ge=1, le=65535)

    # Generator API (the synthetic source system).
    generator_host: str = "127.0.0.1"
    generator_port: int = Field(default=8000, ge=1, le=65535)
    generator_api_key: SecretStr = SecretStr("")
    generator_seed: int = 42
    generator_orders_per_day: int = Field(default=10_000, ge=0)
    # Default faults the API serves, e.g. "dupes=0.01,invalid=0.005" (see docs/generator.md);
    # requests may override them with fault_<name> query parameters.
    generator_faults: str = ""
    # First day the source has data. A dimension (customers, products) is only sent when it
    # changes, so the first run loads every day of its history since then (see drp.tasks).
    source_history_start: date = date(2024, 1, 1)

    # Which engine holds the warehouse (staging and marts) that dbt builds, the gate validates and
    # publish makes visible: "lake" (a DuckLake, the default) or "postgres" (schemas next to raw
    # in `postgres_db`, with snapshots the gate freezes: drp.warehouse.postgres).
    warehouse_engine: Literal["lake", "postgres"] = "lake"

    # The lake: a DuckLake. Its catalog is a Postgres database of its own (created by
    # `make up`); its data is Parquet under s3://<analytics bucket>/<lake_data_prefix>/.
    lake_catalog_db: str = "drp_lake"
    lake_data_prefix: str = Field(
        default="lake", pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9_]$|^[A-Za-z0-9]$"
    )
    # Where the quality gate's Great Expectations validation results live, under
    # s3://<analytics bucket>/: shared by every host that runs the gate (drp.quality.object_store_backend).
    quality_results_prefix: str = Field(
        default="quality/validations", pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9_]$"
    )
    # The Data Docs site under s3://<analytics bucket>/: every gate run (on any worker) adds its
    # pages there, and `make docs` serves a copy.
    quality_docs_prefix: str = Field(
        default="quality/data_docs", pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9_]$"
    )
    # Lake maintenance expires catalog snapshots older than this; published days stay
    # exportable (`drp export`) for at least as long.
    lake_snapshot_retention_days: int = Field(default=30, ge=1)
    # DuckDB under dbt on the lake: threads (1: see dbt_project/profiles.yml) and a memory bound.
    dbt_threads: int | None = Field(default=None, ge=1)
    duckdb_memory_limit: str = Field(default="4GB", pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")

    # --- Ingestion thresholds and raw retention (drp.ingest.thresholds, drp.ingest.retention) ---
    # A batch past a threshold is refused: it is kept (`held`) and the interval's live batch stays
    # live; a first load still goes live. Shares are of the records received.
    ingest_max_quarantined_share: float = Field(default=0.20, ge=0.0, le=1.0)
    # Above this share the load succeeds but reports a warning (alerted).
    ingest_warn_quarantined_share: float = Field(default=0.05, ge=0.0, le=1.0)
    # A contract field missing (`missing_field:<f>`) from more than this share of records.
    ingest_max_missing_field_share: float = Field(default=0.5, ge=0.0, le=1.0)
    # Volume of a one-day load against the median of the same weekday's live one-day batches in
    # the last `ingest_volume_history_weeks` weeks; checked only with at least
    # `ingest_volume_min_history` such batches and a median of at least `ingest_volume_min_median`
    # records (a dimension's few daily changes are too noisy for a ratio).
    ingest_volume_min_ratio: float = Field(default=0.5, ge=0.0)
    ingest_volume_max_ratio: float = Field(default=2.0, ge=1.0)
    ingest_volume_history_weeks: int = Field(default=4, ge=1)
    ingest_volume_min_history: int = Field(default=3, ge=1)
    ingest_volume_min_median: int = Field(default=50, ge=1)
    # Raw rows of superseded (`replaced`) and `held` batches are purged this many days after they
    # were set aside; their archive objects stay (`drp replay` reads them).
    raw_superseded_retention_days: int = Field(default=30, ge=0)

    # --- Data contracts (drp.ingest.contract) ---
    # The directory of the source's contracts (`<entity>.yml`): the load and `drp replay` check
    # records against them. Default: the ones shipped in the package.
    contracts_dir: Path = Path(__file__).resolve().parent / "contracts"

    # --- Alerting (drp.monitoring.alerts; every alert is recorded in ops.alerts) ---------------
    # Slack-compatible incoming webhook the alerts are posted to (empty: recorded, not sent).
    alert_webhook_url: str = ""
    # A day must be published by this time (UTC) after its data interval ends, else Airflow's
    # deadline alert fires (drp.monitoring.deadlines). "06:00": the morning after the day.
    publish_deadline_utc: str = Field(default="06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @field_validator("postgres_admin_dsn")
    @classmethod
    def _dsn_is_postgres(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    # --- derived values -------------------------------------------------------------------
    def postgres_conninfo(self, database: str | None = None) -> str:
        """libpq key/value conninfo for the platform role."""
        return (
            f"host={self.postgres_host} port={self.postgres_port} dbname={database or self.postgres_db} "
            f"user={self.postgres_user} password={self.postgres_password.get_secret_value()}"
        )

    def sqlalchemy_url(self, database: str | None = None, driver: str = "psycopg") -> str:
        """SQLAlchemy URL for the platform role (psycopg 3 by default)."""
        password = quote(self.postgres_password.get_secret_value(), safe="")
        return (
            f"postgresql+{driver}://{self.postgres_user}:{password}@{self.postgres_host}:"
            f"{self.postgres_port}/{database or self.postgres_db}"
        )

    @property
    def s3_endpoint(self) -> str:
        return f"{self.s3_host}:{self.s3_port}"

    @property
    def lake_data_path(self) -> str:
        """Where the lake's Parquet files live."""
        return f"s3://{self.s3_bucket_analytics}/{self.lake_data_prefix.strip('/')}/"

    @property
    def quality_docs_path(self) -> str:
        """The Data Docs site's root in the object store (what its pages' URLs start with)."""
        return f"s3://{self.s3_bucket_analytics}/{self.quality_docs_prefix.strip('/')}/"

    @property
    def dbt_target(self) -> Literal["duckdb", "postgres"]:
        """The dbt target (dbt_project/profiles.yml) that builds the warehouse engine."""
        return "duckdb" if self.warehouse_engine == "lake" else "postgres"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.airflow_host}:{self.airflow_port}"

    @property
    def generator_url(self) -> str:
        return f"http://{self.generator_host}:{self.generator_port}"

    def check_secrets(self, names: tuple[str, ...] = SECRET_FIELDS) -> None:
        """Raise ConfigError naming the first secret that is empty or a known placeholder."""
        for name in names:
            value: SecretStr = getattr(self, name)
            if value.get_secret_value().strip().lower() in PLACEHOLDERS:
                raise ConfigError(
                    f"DRP_{name.upper()} is empty or a placeholder: run `make up` to generate it "
                    "into .env, or set it in the environment"
                )


def load_settings(*, check_secrets: bool = True, **overrides: object) -> Settings:
    """Build settings from env/.env, turning validation errors into one-line ConfigErrors."""
    try:
        settings = Settings(_env_file=env_file_path(), **overrides)  # type: ignore[arg-type,call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ConfigError(f"DRP_{field.upper()}: {first['msg']}") from None
    if check_secrets:
        settings.check_secrets()
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated once. Inside Airflow (`credentials_from=airflow`) the
    credentials come from the platform's Airflow Connections; the Airflow secrets of `.env`
    (admin password, Fernet key, ...) are Airflow's own configuration there, not ours."""
    settings = load_settings(check_secrets=False)
    if settings.credentials_from == "env":
        settings.check_secrets()
        return settings
    from drp.connections import CONNECTION_SECRET_FIELDS, airflow_connections, credential_fields  # noqa: PLC0415

    settings = load_settings(check_secrets=False, **credential_fields(airflow_connections()))
    settings.check_secrets(CONNECTION_SECRET_FIELDS)
    return settings


def env_file_path() -> Path:
    """Where `.env` lives; `DRP_ENV_FILE` points elsewhere (tests use a temporary one)."""
    return Path(os.environ.get("DRP_ENV_FILE", PROJECT_ROOT / ".env"))
