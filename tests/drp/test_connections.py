"""Credentials from the platform's Airflow Connections (drp.connections), as an Airflow process
`make up` starts reads them: no DRP_* secret in its environment, no `.env`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drp.connections import (
    ALERT_WEBHOOK_CONN_ID,
    CONNECTION_SECRET_FIELDS,
    GENERATOR_CONN_ID,
    OBJECT_STORE_CONN_ID,
    POSTGRES_CONN_ID,
    credential_fields,
)
from drp.errors import ConfigError
from drp.settings import SECRET_FIELDS, Settings, load_settings
from drpctl.stack.connections import platform_connections
from drpctl.stack.supervisor import airflow_program_env
from tests.e2e.process_env import assert_no_drp_secret

pytestmark = pytest.mark.unit

ODD = "p@ss:w/rd%'\" \\x"
# A webhook URL with a port, a path and a query that carries a token (Slack's carry one in the path).
WEBHOOK = "https://hooks.example.com:8443/services/T0/B1/x%2Fy?token=a%2Fb+c&d=e"


def _settings(tmp_path: Path) -> Settings:
    return load_settings(
        state_dir=tmp_path,
        postgres_host="db.internal",
        postgres_port=6543,
        postgres_user="platform",
        postgres_db="warehouse",
        s3_host="s3.internal",
        s3_port=9443,
        s3_secure=True,
        s3_region="eu-west-1",
        generator_host="source.internal",
        generator_port=8100,
        alert_webhook_url=WEBHOOK,
        **{name: f"{name}-{ODD}" for name in SECRET_FIELDS},
    )


def _connections(settings: Settings) -> dict[str, object]:
    from airflow.sdk import Connection  # noqa: PLC0415 - slow import

    return {cid: Connection.from_uri(uri, conn_id=cid) for cid, uri in platform_connections(settings).items()}


def test_the_connections_carry_every_credential_back(tmp_path: Path) -> None:
    """What `make up` renders into the connections reads back as the same settings."""
    settings = _settings(tmp_path)
    fields = credential_fields(_connections(settings))  # type: ignore[arg-type]
    back = load_settings(check_secrets=False, state_dir=tmp_path, **fields)
    for name in ("postgres_host", "postgres_port", "postgres_user", "postgres_db", "s3_host", "s3_port"):
        assert getattr(back, name) == getattr(settings, name), name
    for name in ("s3_secure", "s3_region", "generator_host", "generator_port"):
        assert getattr(back, name) == getattr(settings, name), name
    for name in CONNECTION_SECRET_FIELDS:
        assert getattr(back, name).get_secret_value() == f"{name}-{ODD}", name
    assert back.postgres_conninfo() == settings.postgres_conninfo()
    assert back.alert_webhook_url == WEBHOOK


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765/hooks/drp",  # Airflow's URI parser strips "http://" wherever it is
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "http://user:p%40ss@receiver.internal/a+b?x=1#frag",
    ],
)
def test_any_webhook_url_reads_back_from_its_connection(tmp_path: Path, url: str) -> None:
    settings = _settings(tmp_path).model_copy(update={"alert_webhook_url": url})
    assert credential_fields(_connections(settings))["alert_webhook_url"] == url  # type: ignore[arg-type]


def test_no_webhook_is_a_webhook_connection_without_a_host(tmp_path: Path) -> None:
    """Defined all the same: an undefined connection's lookup reaches the metadata DB, which in
    the scheduler broke its loop's session (drp.connections)."""
    unset = _settings(tmp_path).model_copy(update={"alert_webhook_url": ""})
    assert platform_connections(unset)[ALERT_WEBHOOK_CONN_ID] == "http://"
    assert credential_fields(_connections(unset))["alert_webhook_url"] == ""  # type: ignore[arg-type]
    connections = _connections(_settings(tmp_path))
    connections[ALERT_WEBHOOK_CONN_ID].host = "hooks.example.com"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="drp_alert_webhook: host must be the webhook's http"):
        credential_fields(connections)  # type: ignore[arg-type]


def test_a_connection_without_its_secret_is_refused_by_name(tmp_path: Path) -> None:
    connections = _connections(_settings(tmp_path))
    connections[POSTGRES_CONN_ID].password = None  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="drp_postgres has no password"):
        credential_fields(connections)  # type: ignore[arg-type]
    connections = _connections(_settings(tmp_path))
    connections[OBJECT_STORE_CONN_ID].extra = "{}"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="drp_object_store has no endpoint_url"):
        credential_fields(connections)  # type: ignore[arg-type]


_PRINT_SETTINGS = """
import json
from drp.settings import get_settings
s = get_settings()
print(json.dumps({
    "password": s.postgres_password.get_secret_value(),
    "s3": [s.s3_access_key.get_secret_value(), s.s3_secret_key.get_secret_value(), s.s3_endpoint],
    "generator": [s.generator_api_key.get_secret_value(), s.generator_url],
    "bucket": s.s3_bucket_raw,
    "webhook": s.alert_webhook_url,
}))
"""


def _airflow_process(settings: Settings, drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run `get_settings()` in a process with an Airflow program's environment (and nothing else
    of ours: no DRP_* from this process, no `.env`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRP_", "AIRFLOW"))}
    env |= {k: v for k, v in airflow_program_env(settings).items() if k not in drop}
    return subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_airflow_process_holds_no_drp_secret_and_reads_them_from_the_connections(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(update={"s3_bucket_raw": "raw-elsewhere"})
    assert_no_drp_secret(airflow_program_env(settings), settings, "airflow_program_env")
    done = _airflow_process(settings)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "password": f"postgres_password-{ODD}",
        "s3": [f"s3_access_key-{ODD}", f"s3_secret_key-{ODD}", "s3.internal:9443"],
        "generator": [f"generator_api_key-{ODD}", "http://source.internal:8100"],
        "bucket": "raw-elsewhere",  # a non-secret setting reaches it through the environment
        "webhook": WEBHOOK,
    }
    assert "DRP_ALERT_WEBHOOK_URL" not in airflow_program_env(settings)
    without = _airflow_process(settings.model_copy(update={"alert_webhook_url": ""}))
    assert without.returncode == 0, without.stderr[-2000:]
    assert json.loads(without.stdout.strip().splitlines()[-1])["webhook"] == ""  # recorded, not sent


def test_a_missing_connection_is_one_clear_line(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    done = _airflow_process(settings, drop=(f"AIRFLOW_CONN_{GENERATOR_CONN_ID.upper()}",))
    assert done.returncode != 0
    assert f"Airflow connection {GENERATOR_CONN_ID} is not available" in done.stderr
