"""`drp replay`: re-ingest an interval from the archive or the quarantine, without the API.

    drp replay --entity orders --start 2026-11-20 --end 2026-11-21
    drp replay --entity customers --start 2026-11-20 --end 2026-11-21 --from quarantine
    drp replay --entity orders --start 2026-11-20 --end 2026-11-21 --batch 3f1c...

The records go through the current contracts (`DRP_CONTRACTS_DIR`) as a new batch with the
guarantees of any load (see `drp.ingest.replay`). Prints one summary line; a failure is one line
on stderr and exit code 1.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, NoReturn
from uuid import UUID

import typer

from drp.errors import PlatformError
from drpctl.ingest_cli import parse_when

SOURCES = ("archive", "quarantine")


def replay(
    *,
    entity: Annotated[str, typer.Option(help="orders, customers or products.", case_sensitive=False)],
    start: Annotated[str, typer.Option(help="Inclusive start: ISO date or timestamp (UTC if no offset).")],
    end: Annotated[str, typer.Option(help="Exclusive end: ISO date or timestamp (UTC if no offset).")],
    from_: Annotated[
        str, typer.Option("--from", help="Where the records come from: archive or quarantine.")
    ] = "archive",
    batch: Annotated[
        str | None,
        typer.Option(help="Batch id to replay (default: the interval's latest batch with an archive)."),
    ] = None,
    source_system: Annotated[
        str, typer.Option(help="Source system whose batches to replay (tests use their own).")
    ] = "generator",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
    log_level: Annotated[str, typer.Option(help="Python log level for drp.ingest.")] = "WARNING",
) -> None:
    """Re-ingest [start, end) of an entity from a batch's archive or raw rows, as a new batch."""
    # Imported here: `drp` loads this module on every call, and the loader takes ~2 s to import.
    from drp.ingest.errors import BatchRejectedError
    from drp.ingest.replay import replay_interval
    from drp.settings import load_settings
    from drp_domain import Entity

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    choice = entity.lower()
    if choice not in {e.value for e in Entity}:
        _fail(f"--entity must be one of {', '.join(e.value for e in Entity)}, got {entity!r}")
    if from_ not in SOURCES:
        _fail(f"--from must be archive or quarantine, got {from_!r}")
    try:
        window_start, window_end = parse_when(start), parse_when(end)
    except typer.BadParameter as exc:
        _fail(f"--start/--end: {exc}")
    if window_end <= window_start:
        _fail("--end must be after --start")
    batch_id: UUID | None = None
    if batch is not None:
        try:
            batch_id = UUID(batch)
        except ValueError:
            _fail(f"--batch is not a batch id (a UUID): {batch!r}")
    try:
        result = replay_interval(
            load_settings(), choice, window_start, window_end,
            source=from_,  # type: ignore[arg-type]  # checked against SOURCES above
            batch_id=batch_id, source_system=source_system,
        )  # fmt: skip
    except BatchRejectedError as exc:
        # Committed but past a threshold (held, or live on a first load): say so, and fail.
        kept = "held; the live batch stays" if exc.held else "live, but past a threshold"
        _fail(f"REJECTED ({kept}) {exc}")
    except PlatformError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({**result.as_dict(), "status": "succeeded"}))
    else:
        typer.echo(f"ok {result.summary()}")


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
