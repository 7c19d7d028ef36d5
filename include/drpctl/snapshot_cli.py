"""`drp snapshot list` and `drp export`: what was published, and files of a published day.

A published day is a lake catalog snapshot recorded in `ops.published_snapshots`; these commands
read it. The drp imports sit in the commands (see `drpctl.cli`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from drp.errors import ConfigError, PlatformError

app = typer.Typer(help="Published days of the lake.", no_args_is_help=True, add_completion=False)


def _fail(exc: PlatformError) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--date: {value!r} is not a date (YYYY-MM-DD)") from None


@app.command("list")
def list_snapshots() -> None:
    """Each published day: its warehouse snapshot (the lake's, or Postgres's), run, time and rows
    (oldest first)."""
    from drp.publish.snapshots import publications
    from drp.settings import load_settings

    try:
        settings = load_settings()
        found = publications(settings)
    except PlatformError as exc:
        raise _fail(exc) from None
    if not found:
        typer.echo("nothing published yet")
        return
    kind = "lake snapshot" if settings.warehouse_engine == "lake" else "pg snapshot"
    typer.echo(f"{'date':<10}  {kind:>13}  {'published at (UTC)':<19}  {'rows':>10}  run")
    for pub in found:
        rows = sum(int(m["rows"]) for m in pub.marts.values())
        when = pub.published_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{pub.snapshot_date}  {pub.lake_snapshot_id:>13}  {when:<19}  {rows:>10,}  {pub.run_id}")


def export(
    day: Annotated[str, typer.Option("--date", help="The published day (YYYY-MM-DD)")],
    mart: Annotated[list[str] | None, typer.Option("--mart", help="Only this mart (repeatable)")] = None,
    out: Annotated[
        str, typer.Option(help="Directory or s3://bucket/prefix to write under (default exports/)")
    ] = "exports",
) -> None:
    """Write the marts as published on a day to Parquet: <out>/<mart>/snapshot_date=D/<mart>.parquet."""
    from drp.publish.snapshots import export_published
    from drp.settings import load_settings

    try:
        files = export_published(
            load_settings(), _day(day), out if out.startswith("s3://") else Path(out), models=mart
        )
    except PlatformError as exc:
        raise _fail(exc) from None
    for model, path in files.items():
        typer.echo(f"{model:<22} {path}")
