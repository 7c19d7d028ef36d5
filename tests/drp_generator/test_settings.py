"""The generator reads its own `DRP_GENERATOR_*` settings and refuses to serve without an API key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drp_generator.config import GeneratorConfig
from drp_generator.errors import GeneratorConfigError
from drp_generator.settings import load_generator_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("API_KEY", "SEED", "ORDERS_PER_DAY", "FAULTS", "PORT", "HOST"):
        monkeypatch.delenv(f"DRP_GENERATOR_{name}", raising=False)
    path = tmp_path / ".env"
    monkeypatch.setenv("DRP_ENV_FILE", str(path))
    return path


def test_settings_come_from_the_env_file_and_the_environment_wins(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file.write_text(
        "DRP_GENERATOR_API_KEY=key-from-file-0123456789\nDRP_GENERATOR_SEED=7\n"
        "DRP_GENERATOR_FAULTS=dupes=0.01\nDRP_POSTGRES_PASSWORD=not-the-generators\n"
    )
    monkeypatch.setenv("DRP_GENERATOR_SEED", "9")
    config = GeneratorConfig.from_settings(load_generator_settings())
    assert config.api_key == "key-from-file-0123456789"
    assert config.seed == 9
    assert config.faults.dupes == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "DRP_GENERATOR_API_KEY is empty or a placeholder"),
        ("DRP_GENERATOR_API_KEY=changeme\n", "DRP_GENERATOR_API_KEY is empty or a placeholder"),
        ("DRP_GENERATOR_API_KEY=k-0123456789\nDRP_GENERATOR_PORT=0\n", "DRP_GENERATOR_PORT"),
    ],
)
def test_bad_settings_are_one_error_naming_the_variable(env_file: Path, content: str, message: str) -> None:
    env_file.write_text(content)
    with pytest.raises(GeneratorConfigError, match=message):
        load_generator_settings()


def test_bad_faults_setting_names_the_variable(env_file: Path) -> None:
    env_file.write_text("DRP_GENERATOR_API_KEY=k-0123456789\nDRP_GENERATOR_FAULTS=dupes=2\n")
    with pytest.raises(GeneratorConfigError, match="DRP_GENERATOR_FAULTS"):
        GeneratorConfig.from_settings(load_generator_settings())


def test_the_server_refuses_to_start_without_a_key_in_one_line(env_file: Path) -> None:
    env_file.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "drp_generator"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: DRP_GENERATOR_API_KEY is empty or a placeholder: run `make up` to generate it into .env"
    ]
