"""DuckDB extensions, installed offline from the files their PyPI packages ship.

`INSTALL ducklake` (or httpfs, postgres) downloads, which cannot work here. Each
`duckdb-extension-*` wheel ships the binary for our exact DuckDB version; installing that file
into an extension directory lets every connection (ours and dbt's) load it with autoinstall off.
"""

from __future__ import annotations

import fcntl
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from drp.errors import PlatformError
from drp.settings import Settings

if TYPE_CHECKING:
    import duckdb

# Extension name -> the PyPI package (import name) that ships its binary.
EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "httpfs": "duckdb_extension_httpfs",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
}


class ExtensionError(PlatformError):
    """A DuckDB extension is not installed or does not match the DuckDB version."""


def extension_directory(settings: Settings) -> Path:
    """Where DuckDB looks for extensions (under the state dir; one per machine or container)."""
    return settings.state_dir / "duckdb" / "extensions"


def shipped_extension(name: str) -> Path:
    """The extension binary inside its PyPI package, for the installed DuckDB version."""
    import duckdb  # noqa: PLC0415 - the DAG imports this module's callers at parse time

    package = EXTENSION_PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(f"the {package.replace('_', '-')} package is not installed")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = package_dir / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise ExtensionError(
            f"no {name} extension for DuckDB {duckdb.__version__} at {path}: the extension "
            "package must match the duckdb version exactly"
        )
    return path


def _installed(extension_dir: Path, version: str) -> set[str]:
    return {
        p.name.removesuffix(".duckdb_extension")
        for p in extension_dir.glob(f"v{version}/*/*.duckdb_extension")
    }


def ensure_extensions(extension_dir: Path) -> Path:
    """INSTALL every extension the platform uses from its package into `extension_dir` (idempotent).

    Returns:
        The extension directory.
    """
    import duckdb  # noqa: PLC0415

    extension_dir.mkdir(parents=True, exist_ok=True)
    if _installed(extension_dir, duckdb.__version__) >= EXTENSION_PACKAGES.keys():
        return extension_dir
    with (extension_dir / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two first runs at once must not write the same file
        missing = EXTENSION_PACKAGES.keys() - _installed(extension_dir, duckdb.__version__)
        config: dict[str, str | bool | int | float | list[str]] = {
            "extension_directory": str(extension_dir),
            "autoinstall_known_extensions": False,
        }
        with duckdb.connect(":memory:", config=config) as conn:
            for name in sorted(missing):
                conn.execute(f"INSTALL '{shipped_extension(name)}'")
    return extension_dir


def duckdb_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection that loads the platform's extensions from the local
    directory only (installing them there first if needed). Close it when done."""
    import duckdb  # noqa: PLC0415 - the DAG imports this module's callers at parse time

    ext_dir = ensure_extensions(extension_directory(settings))
    return duckdb.connect(
        ":memory:",
        config={
            "extension_directory": str(ext_dir),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
        },
    )
