"""`make up` generates every secret into .env once, never overwriting a value, and the result is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from drp.settings import SECRET_FIELDS, load_settings
from drpctl.stack.secrets import GENERATED, ensure_secrets, read_env_file

pytestmark = pytest.mark.unit


def test_every_secret_field_is_generated() -> None:
    assert {f"DRP_{name.upper()}" for name in SECRET_FIELDS} == set(GENERATED)


def test_ensure_secrets_generates_once_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in GENERATED:
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".env"
    env.write_text("DRP_POSTGRES_PASSWORD=my-own-password\nDRP_S3_ACCESS_KEY=changeme\nOTHER=1\n")
    generated = ensure_secrets(env)
    values = read_env_file(env)
    assert "DRP_POSTGRES_PASSWORD" not in generated
    assert values["DRP_POSTGRES_PASSWORD"] == "my-own-password"
    assert values["DRP_S3_ACCESS_KEY"] != "changeme"  # a placeholder is replaced
    assert values["OTHER"] == "1"
    assert set(generated) == set(GENERATED) - {"DRP_POSTGRES_PASSWORD"}
    assert env.stat().st_mode & 0o777 == 0o600
    # Second run: nothing to do, file unchanged.
    before = env.read_text()
    assert ensure_secrets(env) == []
    assert env.read_text() == before
    # Generated values are distinct and long enough to be real secrets.
    secret_values = [values[name] for name in generated]
    assert len(set(secret_values)) == len(secret_values)
    assert all(len(v) >= 16 for v in secret_values)


def test_generated_secrets_satisfy_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GENERATED:
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".env"
    ensure_secrets(env)
    monkeypatch.setenv("DRP_ENV_FILE", str(env))
    settings = load_settings()
    Fernet(settings.airflow_fernet_key.get_secret_value())  # a valid Fernet key
