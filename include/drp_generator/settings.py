"""The generator's own settings, read from `DRP_GENERATOR_*` in the environment and `.env`.

The source simulator stands for a system outside the platform, so it reads its own variables and
imports nothing from `drp`. Variables are documented in `.env.example`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from drp_generator.errors import GeneratorConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Values that look like a key but are not: copied from docs, or a left-over template.
PLACEHOLDER_KEYS = frozenset({"", "changeme", "change-me", "secret", "xxx", "todo", "<generated>"})


class GeneratorSettings(BaseSettings):
    """Where the API listens, its key, and the world it serves (seed, volume, default faults)."""

    model_config = SettingsConfigDict(env_prefix="DRP_GENERATOR_", env_file_encoding="utf-8", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key: SecretStr = SecretStr("")
    seed: int = 42
    orders_per_day: int = Field(default=10_000, ge=0)
    # Default faults, e.g. "dupes=0.01,invalid=0.005" (docs/generator.md); empty: none.
    faults: str = ""


def env_file_path() -> Path:
    """`.env` at the project root; `DRP_ENV_FILE` points elsewhere (tests use a temporary one)."""
    return Path(os.environ.get("DRP_ENV_FILE", PROJECT_ROOT / ".env"))


def load_generator_settings() -> GeneratorSettings:
    """Settings from env/.env; a malformed value or a missing API key is one GeneratorConfigError."""
    try:
        settings = GeneratorSettings(_env_file=env_file_path())  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise GeneratorConfigError(f"DRP_GENERATOR_{field.upper()}: {first['msg']}") from None
    if settings.api_key.get_secret_value().strip().lower() in PLACEHOLDER_KEYS:
        raise GeneratorConfigError(
            "DRP_GENERATOR_API_KEY is empty or a placeholder: run `make up` to generate it into .env"
        )
    return settings
