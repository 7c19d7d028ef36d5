"""What the supervised Airflow processes hold in their environment (tasks inherit it)."""

from __future__ import annotations

from pathlib import Path

from drp.connections import CONNECTION_SECRET_FIELDS
from drp.settings import SECRET_FIELDS, Settings
from drpctl.stack.supervisor import Supervisor


def program_environ(settings: Settings, program: str) -> dict[str, str]:
    """The environment of a running supervised program's main process."""
    info = Supervisor(settings).info(program)
    assert info and info["pid"], program
    raw = Path(f"/proc/{info['pid']}/environ").read_bytes()
    pairs = (item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
    return dict(pairs)


def assert_holds_no_drp_secret(settings: Settings, program: str) -> None:
    """The program reads no `.env`, has no DRP_* secret, and takes credentials from connections."""
    env = program_environ(settings, program)
    assert not {f"DRP_{name.upper()}" for name in SECRET_FIELDS} & set(env), program
    values = {getattr(settings, name).get_secret_value() for name in CONNECTION_SECRET_FIELDS}
    assert not [k for k, v in env.items() if k.startswith("DRP_") and v in values], program
    assert env.get("DRP_ENV_FILE") == "/dev/null", program
    assert env.get("DRP_CREDENTIALS_FROM") == "airflow", program
