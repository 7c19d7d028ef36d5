from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from drp.settings import SECRET_FIELDS, load_settings
from drpctl.stack.supervisor import programs, render_config

pytestmark = pytest.mark.unit


def test_rendered_config_stops_process_groups_and_binds_loopback(tmp_path: Path) -> None:
    settings = load_settings(
        state_dir=tmp_path, **{name: f"secret-{name}-with-%-sign" for name in SECRET_FIELDS}
    )
    progs = programs(settings, local_postgres=False)
    parser = configparser.RawConfigParser()
    parser.read_string(render_config(settings, progs))
    names = {section.split(":", 1)[1] for section in parser.sections() if section.startswith("program:")}
    assert names == {
        "seaweedfs",
        "generator",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }
    for name in names:
        section = parser[f"program:{name}"]
        assert section["stopasgroup"] == "true"
        assert section["killasgroup"] == "true"
        assert section["autostart"] == "false"  # `up` starts them in dependency order
    assert f"-ip.bind={settings.s3_host}" in parser["program:seaweedfs"]["command"]
    assert "--skip-serve-logs" in parser["program:airflow-scheduler"]["command"]
    # '%' is escaped for supervisord's interpolation.
    assert "%%-sign" in parser["program:airflow-scheduler"]["environment"]
