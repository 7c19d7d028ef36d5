"""`drp`: the platform's command line (stack control, migrations, Airflow passthrough).

Imports of drp and drpctl modules stay inside the command bodies on purpose: every `drp` call
(`--help` and typos included) loads this module, and settings (pydantic), the stack modules,
the Airflow driver, dbt and GX helpers would add from 0.2 s to 2 s before any output.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from drp.errors import ConfigError, PlatformError
from drpctl.ingest_cli import app as ingest_app
from drpctl.quality_cli import app as quality_app
from drpctl.replay_cli import replay
from drpctl.snapshot_cli import app as snapshot_app
from drpctl.snapshot_cli import export

if TYPE_CHECKING:
    from drp.settings import Settings

app = typer.Typer(help="drp: the data reliability platform.", no_args_is_help=True, add_completion=False)


app.add_typer(ingest_app, name="ingest", help="Load an entity's window from the source API into raw.")
app.add_typer(quality_app, name="quality", help="Maintain the GX project generated from suites.py.")
app.add_typer(snapshot_app, name="snapshot", help="Published days of the lake (`drp snapshot list`).")
app.command("export")(export)
app.command("replay", help="Re-ingest an interval from the archive or quarantine, without the API.")(replay)

P = ParamSpec("P")
R = TypeVar("R")


def clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a PlatformError into one line on stderr and exit code 1 (no traceback)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PlatformError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None

    return wrapper


def _settings(check_secrets: bool = True) -> Settings:
    from drp.settings import load_settings

    return load_settings(check_secrets=check_secrets)


@app.command("init-env")
@clear_errors
def init_env() -> None:
    """Generate missing secrets into .env (never overwrites a value already set)."""
    from drp.settings import env_file_path
    from drpctl.stack.secrets import ensure_secrets

    generated = ensure_secrets(env_file_path())
    typer.echo(
        f"generated {', '.join(generated)} into {env_file_path()}" if generated else ".env is complete"
    )


@app.command()
@clear_errors
def up(timeout: Annotated[float, typer.Option(help="Seconds to wait for health")] = 240) -> None:
    """Start the stack (Docker when an engine answers, else native services) and wait until healthy."""
    from drp.settings import env_file_path
    from drpctl.stack import docker, native
    from drpctl.stack.secrets import ensure_secrets

    generated = ensure_secrets(env_file_path())
    if generated:
        typer.echo(f"generated secrets into {env_file_path()}: {', '.join(generated)}")
    settings = _settings()
    if docker.use_docker(settings):
        typer.echo(f"DRP_RUNTIME={settings.runtime}, Docker engine found: docker compose up")
        code = docker.compose("up", "-d", "--wait", profiles=docker.compose_profiles(settings))
        if code != 0:
            raise typer.Exit(code)
        _print_status(settings, docker_mode=True)
        return
    report = native.up(settings, timeout=timeout, echo=typer.echo)
    if report.already_up:
        typer.echo("stack already up and healthy: nothing to do")
    else:
        typer.echo(f"stack up in {report.seconds:.1f}s (postgres: {report.postgres_mode})")
    _print_status(settings, docker_mode=False)


@app.command()
@clear_errors
def down() -> None:
    """Stop everything `up` started."""
    from drpctl.stack import docker, native

    settings = _settings(check_secrets=False)
    if docker.use_docker(settings):
        # Every profile: workers started under another DRP_EXECUTOR stop too.
        raise typer.Exit(docker.compose("down", profiles=("celery",)))
    native.down(settings, echo=typer.echo)


def _print_status(settings: Settings, *, docker_mode: bool) -> bool:
    """Print each service's health (and its processes or containers); True when all are healthy.

    The health checks use the host-side settings in both runtimes: Docker publishes every service
    on the same host ports as the native stack.
    """
    from drpctl.stack import docker, health, native

    programs: list[dict[str, object]] = []
    if docker_mode:
        # Redis is not published on the host; the workers' health is their containers' (below).
        checks = [health.CHECKS[n](settings) for n in health.check_names(settings) if n != "celery"]
    else:
        checks, programs = native.status(settings)
    typer.echo(f"{'SERVICE':<14}{'HEALTH':<10}{'URL':<40}DETAIL")
    for check in checks:
        mark = "healthy" if check.healthy else "DOWN"
        typer.echo(f"{check.service:<14}{mark:<10}{check.url:<40}{check.detail}")
    if docker_mode:
        typer.echo("\nCONTAINERS (docker compose ps)")
        docker.compose("ps")
    if programs:
        typer.echo("\nPROCESSES (supervisord)")
        for info in programs:
            name, state, pid = info["name"], info["statename"], info["pid"]
            typer.echo(f"  {name!s:<24}{state!s:<10}pid {pid!s:<8}{info['stdout_logfile']}")
    healthy = {c.service for c in checks if c.healthy}
    if {"postgres", "object-store"} <= healthy:
        from drpctl.stack.lake import describe

        try:
            typer.echo(f"\n{describe(settings)}")
        except Exception as exc:  # noqa: BLE001 - status reports, it does not fail on the lake
            typer.echo(f"\nLake: cannot be read ({' '.join(str(exc).split())[:200]})")
    if any(c.service == "airflow" and c.healthy for c in checks):
        typer.echo(
            f"\nAirflow UI: {settings.airflow_url}  (user {settings.airflow_admin_user}, "
            "password DRP_AIRFLOW_ADMIN_PASSWORD in .env)"
        )
    return all(c.healthy for c in checks)


@app.command()
@clear_errors
def status(
    data: Annotated[
        bool,
        typer.Option("--data", help="The day's data instead: one verdict per layer, source to published"),
    ] = False,
    day_option: Annotated[
        str | None, typer.Option("--date", help="With --data: the day (YYYY-MM-DD); default yesterday")
    ] = None,
) -> None:
    """Each service, its URL/port and health; exit 1 if any is unhealthy.

    With --data: did the day's data arrive, complete and correct? One line per layer; exit 1 when
    it did not (for cron and monitors).
    """
    if data:
        if not _print_data_health(_settings(), _day(day_option or _yesterday(), "--date")):
            raise typer.Exit(1)
        return
    if day_option is not None:
        raise ConfigError("--date needs --data")
    from drpctl.stack import docker

    settings = _settings()
    if not _print_status(settings, docker_mode=docker.use_docker(settings)):
        raise typer.Exit(1)


def _print_data_health(settings: Settings, day: date) -> bool:
    from drp.monitoring.data_health import day_health

    health = day_health(settings, day)
    verdict = "complete and correct" if health.complete_and_correct else "NOT complete and correct"
    typer.echo(f"{day.isoformat()}: {verdict}")
    for layer in health.layers():
        typer.echo(f"  {layer.name:<10} {layer.verdict.value.upper():<5} {layer.line}")
    return health.complete_and_correct


@app.command()
@clear_errors
def logs(
    service: Annotated[str | None, typer.Argument(help="One service, e.g. airflow-scheduler")] = None,
    lines: Annotated[int, typer.Option("-n", help="Lines per log")] = 40,
    follow: Annotated[bool, typer.Option("-f", help="Follow the log (natively: one service's)")] = False,
) -> None:
    """Show the services' logs (docker compose logs in Docker mode, else the state dir's files)."""
    from drpctl.stack import docker
    from drpctl.stack.supervisor import state_paths

    settings = _settings(check_secrets=False)
    if docker.use_docker(settings):
        argv = docker.logs_argv(service, lines=lines, follow=follow)
        os.execvp(argv[0], argv)  # noqa: S606 - fixed argv, no shell
    log_dir = state_paths(settings)["logs"]
    files = [log_dir / f"{service}.log"] if service else sorted(log_dir.glob("*.log"))
    if not files or not files[0].exists():
        raise PlatformError(f"no log for {service or 'any service'} in {log_dir}")
    if follow:
        os.execvp("tail", ["tail", "-n", str(lines), "-F", str(files[0])])  # noqa: S606 - fixed argv
    for path in files:
        typer.secho(f"==> {path} <==", bold=True)
        subprocess.run(["tail", "-n", str(lines), str(path)], check=False)


@app.command()
@clear_errors
def migrate() -> None:
    """Apply pending migrations to the platform database (idempotent)."""
    from drp.db.migrate import current_revisions, upgrade

    settings = _settings()
    upgrade(settings)
    typer.echo(f"database at revision(s): {', '.join(sorted(current_revisions(settings)))}")


@app.command()
@clear_errors
def prepare() -> None:
    """Install the DuckDB extensions offline, create the lake catalog, write dbt's manifest."""
    from drpctl.stack.native import parse_dbt_project

    parse_dbt_project(_settings())
    typer.echo("warehouse prepared and dbt manifest written")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@clear_errors
def airflow(ctx: typer.Context) -> None:
    """Run an `airflow` CLI command with the platform's Airflow configuration."""
    from drpctl.stack.airflow import CREDENTIALS_FROM_CONNECTIONS, cli_env, write_passwords_file
    from drpctl.stack.supervisor import VENV_BIN

    settings = _settings()
    write_passwords_file(settings)
    # As in the native stack: tasks run by this Airflow process read the connections.
    env = {**cli_env(settings), **CREDENTIALS_FROM_CONNECTIONS}
    os.execve(str(VENV_BIN / "airflow"), ["airflow", *ctx.args], env)  # noqa: S606 - argv, no shell


@app.command()
@clear_errors
def docs(
    port: Annotated[int, typer.Option(help="Port to serve on (127.0.0.1)")] = 8081,
    serve: Annotated[bool, typer.Option(help="Serve after building")] = True,
) -> None:
    """Build the dbt docs and GX Data Docs into .drp/docs and serve them locally."""
    from drpctl.docs_site.build import build_site, serve_forever, site_server

    settings = _settings()
    if serve:  # a taken port fails now, not after the build (nothing listens meanwhile)
        site_server(settings, port).server_close()
    index = build_site(settings)
    typer.echo(f"docs built: {index}")
    if serve:
        server = site_server(settings, port)
        host, bound = server.server_address[:2]
        typer.echo(f"serving on http://{host!s}:{bound}/  (dbt: /dbt/, Data Docs: /gx/; Ctrl-C to stop)")
        serve_forever(server)


def _yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


@app.command()
@clear_errors
def run(
    day_option: Annotated[
        str | None, typer.Option("--date", help="Day to process (YYYY-MM-DD); default yesterday")
    ] = None,
) -> None:
    """Run the daily pipeline for one day through Airflow and print what it did."""
    from drpctl.driver.run import format_summary, run_day

    settings = _settings()
    day = _day(day_option or _yesterday(), "--date")
    summary = run_day(settings, day, echo=typer.echo)
    typer.echo("")
    typer.echo(format_summary(settings, summary))


@app.command()
@clear_errors
def backfill(
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option(help="Last day, inclusive (YYYY-MM-DD)")],
) -> None:
    """Backfill START..END (inclusive) as an Airflow backfill: one run per day, oldest first."""
    from drpctl.driver.run import backfill as run_backfill

    settings = _settings()
    first, last = _day(start, "START"), _day(end, "END")
    if last < first:
        raise PlatformError(f"backfill END {end} is before START {start}")
    summaries = run_backfill(settings, first, last, echo=typer.echo)
    typer.echo(f"backfill done: {len(summaries)} days succeeded")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
