"""`drp quality {sync,check,docs}`: maintain the GX project generated from `drp/quality/suites.py`.

* `sync`  - write the suites, validation definitions and checkpoints that differ from suites.py;
* `check` - exit 1 (listing them) when the committed project is out of step with suites.py;
* `docs`  - rebuild the Data Docs site in the object store and print its index's URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Maintain the GX project generated from drp/quality/suites.py.", add_completion=False)

GxRoot = Annotated[Path | None, typer.Option(help="GX project dir (default: great_expectations/)")]


# The drp.quality imports sit in the commands: `drp` loads this module on every call (`--help`
# included) and they pull in the settings (pydantic); Great Expectations itself loads later still.


def _sync(gx_root: Path | None, *, dry_run: bool) -> list[str]:
    from drp.quality.project import open_context, project_lock, sync_project

    context = open_context(gx_root)
    with project_lock(gx_root):
        return sync_project(context, dry_run=dry_run)


@app.command()
def sync(gx_root: GxRoot = None) -> None:
    """Write what differs from suites.py into the GX project."""
    changes = _sync(gx_root, dry_run=False)
    for change in changes:
        typer.echo(f"wrote: {change}")
    if not changes:
        typer.echo("GX project in step with drp/quality/suites.py")


@app.command()
def check(gx_root: GxRoot = None) -> None:
    """Exit 1, listing what is stale, when the committed GX project is out of step with suites.py."""
    changes = _sync(gx_root, dry_run=True)
    for change in changes:
        typer.echo(f"stale: {change}")
    if changes:
        typer.echo("the GX project is out of step with drp/quality/suites.py: run `drp quality sync`")
        raise typer.Exit(1)
    typer.echo("GX project in step with drp/quality/suites.py")


@app.command()
def docs(gx_root: GxRoot = None) -> None:
    """Rebuild the Data Docs site in the object store and print its index's s3:// URL."""
    from drp.quality.docs import build_data_docs

    typer.echo(str(build_data_docs(gx_root)))
