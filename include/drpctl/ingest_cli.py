"""`drp ingest`: load an interval of one or all entities.

    drp ingest --entity orders --start 2026-11-20 --end 2026-11-21
    drp ingest --entity all --start 2026-11-20T00:00:00Z --end 2026-11-20T06:00:00Z

Mount into the main CLI with `app.add_typer(drpctl.ingest_cli.app, name="ingest")`: the work happens
in the sub-app's callback, so the options follow `drp ingest` directly. Prints one summary line per
entity; exits 1 if any entity failed (the others are still loaded).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from drp.errors import PlatformError
from drp_domain import Entity

app = typer.Typer(
    help="Load source API records of [start, end) into Postgres raw, exactly once per interval.",
    add_completion=False,
)

ENTITY_CHOICES = ("orders", "customers", "products", "all")
# Customers and products first: orders reference them.
ALL_ORDER = (Entity.CUSTOMERS, Entity.PRODUCTS, Entity.ORDERS)


def parse_when(value: str) -> datetime:
    """An ISO date (`2026-11-21`, midnight UTC) or timestamp (naive means UTC) as aware UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_faults(items: list[str]) -> dict[str, str]:
    faults = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--fault takes name=value, got {item!r}")
        faults[name.strip()] = value.strip()
    return faults


@app.callback(invoke_without_command=True)
def ingest(
    *,
    start: Annotated[str, typer.Option(help="Inclusive start: ISO date or timestamp (UTC if no offset).")],
    end: Annotated[str, typer.Option(help="Exclusive end: ISO date or timestamp (UTC if no offset).")],
    entity: Annotated[
        str, typer.Option(help="orders, customers, products or all.", case_sensitive=False)
    ] = "all",
    api_url: Annotated[
        str | None, typer.Option(help="Source API base URL (default: the generator from settings).")
    ] = None,
    fault: Annotated[
        list[str] | None, typer.Option(help="Generator fault override name=value (repeatable).")
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, help="Records per API page.")] = 5_000,
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts per page before giving up.")] = 6,
    timeout: Annotated[float, typer.Option(min=0.1, help="HTTP read timeout in seconds.")] = 30.0,
    source_system: Annotated[
        str, typer.Option(help="Source system recorded on rows and batches (tests use their own).")
    ] = "generator",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per entity.")] = False,
    log_level: Annotated[str, typer.Option(help="Python log level for drp.ingest.")] = "WARNING",
) -> None:
    """Load [start, end) of the chosen entities; one summary line per entity."""
    # Imported here, not at the top: `drp` loads this module on every call (`--help` included),
    # and the ingest client and loader take about 2 s to import.
    from drp.ingest.client import ClientConfig
    from drp.ingest.errors import BatchRejectedError
    from drp.ingest.loader import load_interval
    from drp.settings import load_settings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    choice = entity.lower()
    if choice not in ENTITY_CHOICES:
        raise typer.BadParameter(f"--entity must be one of {', '.join(ENTITY_CHOICES)}")
    window_start, window_end = parse_when(start), parse_when(end)
    if window_end <= window_start:
        raise typer.BadParameter("--end must be after --start")
    entities = ALL_ORDER if choice == "all" else (Entity(choice),)
    config = ClientConfig(page_size=page_size, max_attempts=max_attempts, read_timeout=timeout)
    faults = _parse_faults(fault or [])

    try:
        settings = load_settings()
    except PlatformError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None

    failed = 0
    for name in entities:
        try:
            result = load_interval(
                settings, name.value, window_start, window_end,
                api_base_url=api_url, faults=faults or None, client_config=config,
                source_system=source_system,
            )  # fmt: skip
        except BatchRejectedError as exc:
            # Committed (nothing lost) but refused as the interval's live data, or live and broken.
            failed += 1
            status = "held" if exc.held else "rejected_live"
            if as_json:
                body = exc.result.as_dict() if exc.result is not None else {"entity": name.value}
                typer.echo(json.dumps({**body, "status": status, "error": str(exc)}))
            else:
                typer.secho(f"REJECTED ({status}) {exc}", fg=typer.colors.RED, err=True)
            continue
        except PlatformError as exc:
            failed += 1
            if as_json:
                typer.echo(json.dumps({"entity": name.value, "status": "failed", "error": str(exc)}))
            else:
                typer.secho(f"FAILED {exc}", fg=typer.colors.RED, err=True)
            continue
        if as_json:
            typer.echo(json.dumps({**result.as_dict(), "status": "succeeded"}))
        else:
            typer.echo(f"ok {result.summary()}")
    if failed:
        raise typer.Exit(1)
