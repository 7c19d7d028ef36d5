from __future__ import annotations

import re
from pathlib import Path

import pytest

from drp.errors import ConfigError
from drp.settings import PROJECT_ROOT, SECRET_FIELDS, Settings, load_settings
from drp_generator.settings import GeneratorSettings

pytestmark = pytest.mark.unit


def _secrets() -> dict[str, str]:
    return {name: f"value-for-{name}-0123456789" for name in SECRET_FIELDS}


@pytest.mark.parametrize("field", SECRET_FIELDS)
@pytest.mark.parametrize("bad", ["", "changeme", "  ", "password"])
def test_placeholder_secret_is_refused_naming_the_variable(
    field: str, bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRP_ENV_FILE", str(tmp_path / "missing.env"))
    values = {**_secrets(), field: bad}
    with pytest.raises(ConfigError, match=f"DRP_{field.upper()}"):
        load_settings(**values)


def test_no_secret_has_a_usable_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRP_ENV_FILE", str(tmp_path / "missing.env"))
    for name in SECRET_FIELDS:
        monkeypatch.delenv(f"DRP_{name.upper()}", raising=False)
    with pytest.raises(ConfigError, match="is empty or a placeholder"):
        load_settings()


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"postgres_admin_dsn": "mysql://root@localhost/db"}, "DRP_POSTGRES_ADMIN_DSN"),
        ({"postgres_port": "not-a-port"}, "DRP_POSTGRES_PORT"),
        ({"airflow_port": 70000}, "DRP_AIRFLOW_PORT"),
    ],
)
def test_bad_values_give_one_line_error_naming_the_setting(
    override: dict[str, object], variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRP_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ConfigError) as info:
        load_settings(**_secrets(), **override)
    message = str(info.value)
    assert message.startswith(variable)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env_file_value", "environment_value", "expected"),
    [
        (None, None, "auto"),
        ("native", None, "native"),  # .env alone is enough (it used to be ignored)
        (None, "docker", "docker"),
        ("native", "docker", "docker"),  # the environment wins over .env
    ],
)
def test_runtime_comes_from_env_file_and_environment(
    env_file_value: str | None,
    environment_value: str | None,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DRP_RUNTIME={env_file_value}\n" if env_file_value else "")
    monkeypatch.setenv("DRP_ENV_FILE", str(env))
    if environment_value:
        monkeypatch.setenv("DRP_RUNTIME", environment_value)
    else:
        monkeypatch.delenv("DRP_RUNTIME", raising=False)
    assert load_settings(check_secrets=False).runtime == expected


def test_unknown_runtime_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRP_ENV_FILE", str(tmp_path / "missing.env"))
    monkeypatch.setenv("DRP_RUNTIME", "podman")
    with pytest.raises(ConfigError) as info:
        load_settings(check_secrets=False)
    assert str(info.value).startswith("DRP_RUNTIME: ")
    assert "'auto', 'native' or 'docker'" in str(info.value)
    assert "\n" not in str(info.value)


def test_env_example_documents_exactly_the_settings() -> None:
    """Every setting (platform and generator) has its line in .env.example, and no other variable."""
    documented = set(
        re.findall(r"^#?\s*(DRP_[A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M)
    )
    fields = {f"DRP_{name.upper()}" for name in Settings.model_fields}
    fields |= {f"DRP_GENERATOR_{name.upper()}" for name in GeneratorSettings.model_fields}
    assert sorted(fields - documented) == []
    assert sorted(documented - fields) == []
