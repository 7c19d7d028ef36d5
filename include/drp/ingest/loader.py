"""Load one (entity, interval) from the source API into Postgres `raw`, exactly once.

`load_interval` is the public entry point (the DAG and the CLI call it). One load:

1. registers a `running` batch in `ops.ingest_batches` (own autocommit connection, see `registry`);
2. opens ONE transaction and takes `pg_advisory_xact_lock` on (source, entity, interval), so two
   loads of one interval run one after the other;
3. streams pages from the API (`client`, one page fetched ahead in a thread), checks every record
   against its contract (`contract`) and turns each page into COPY text rows: valid records for
   `raw.<entity>_raw`, their order lines, rejected records. A second thread runs each page's
   `COPY … FROM STDIN` statements while the next page is checked, so the database and the Python
   work overlap. Exact duplicates are counted and skipped (`dedupe`); every record received goes
   to the gzip archive spool (a third thread compresses);
4. uploads the archive to the object store (a failure fails the load);
5. judges the batch against the thresholds (`thresholds`: quarantined share, a contract field
   missing from most records, volume against the same weekday's history);
6. under a short per-(source, entity) lock, checks the counts against the database and commits
   the batch, one of two ways:
   * it passed the thresholds, or no live batch covers the interval (a first load): the live
     batches it covers become `replaced` (superseded by it; their raw, line and rejected rows
     stay: raw is append-only) and it becomes `succeeded` (live);
   * it is past a threshold and a live batch covers the interval: it becomes `held` (its rows are
     kept, but it is not live) and the live batch stays live.
   A batch past a threshold then raises `BatchRejectedError` naming every cause, after the
   commit (nothing is lost; a retry would fetch the same data).

Any other error before the commit rolls everything back, so no partial batch is ever visible,
and the registry row becomes `failed` with the error. A process killed mid-load leaves a
`running` row that the next load of that entity marks `failed` (abandoned).

Raw therefore holds every committed batch; readers select the live ones (`status = 'succeeded'`
in `ops.ingest_batches`). The raw rows of long-superseded batches are deleted by the retention
purge (`retention`, through `delete_batch_rows` here), which keeps their archives.

This module owns the `raw` tables (every statement on them is here); every statement on the
registry, and the advisory locks, are in `registry`, whose docstring lists the calls in order.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from uuid import UUID, uuid4

import orjson
import psycopg
from psycopg import sql

from drp.errors import PlatformError
from drp.ingest import archive as archive_mod
from drp.ingest import registry, thresholds
from drp.ingest.client import ClientConfig, FetchStats, SourceClient
from drp.ingest.contract import (
    LINES_COLUMNS,
    LINES_TABLE,
    SPECS,
    EntitySpec,
    check_record,
    expected_fields,
    fast_path,
    specs,
)
from drp.ingest.contract import source_record_id as record_id_of
from drp.ingest.dedupe import SeenKeys, key64
from drp.ingest.errors import (
    BatchRejectedError,
    IngestError,
    IntegrityError,
    IntervalConflictError,
    format_window,
)
from drp.intervals import to_utc
from drp.settings import Settings
from drp.storage import object_store
from drp_domain import Entity

log = logging.getLogger("drp.ingest")

DEFAULT_SOURCE: Final = "generator"
BATCH_COLUMNS: Final = ("batch_id", "source_system", "data_interval_start", "data_interval_end")
REJECTED_COLUMNS: Final = ("source_record_id", "reasons", "raw_payload", "raw_text", *BATCH_COLUMNS)
NUL_REASON: Final = "invalid_value:nul_character"
UNENCODABLE_REASON: Final = "invalid_value:unencodable"
GC_GEN0_THRESHOLD: Final = 50_000
NULL: Final = "\\N"  # NULL in COPY text format

_DUMPS = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS
_SHA256 = hashlib.sha256
_COPY_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed load did.

    Attributes:
        batch_id: the `ops.ingest_batches` id; every row loaded carries it.
        received: records the API returned (after transport retries).
        loaded: valid, distinct records in `raw.<entity>_raw`.
        quarantined: records in `raw.<entity>_rejected` (by reason in `quarantined_by_reason`;
            a record with several problems counts once per reason there).
        duplicates: exact repeats skipped (received = loaded + quarantined + duplicates).
        lines_loaded: order lines in `raw.order_lines_raw` (orders only).
        drift: field -> records carrying that field outside the contract.
        archive_key: object key of the gzip NDJSON archive in the raw bucket.
        replaced: batch ids this load superseded (previous live loads of the interval; their
            rows stay in raw, marked `replaced`).
        status: `succeeded` (live) or `held` (past a threshold while a live batch covers the
            interval; only seen through `BatchRejectedError.result`).
        threshold_violations: the thresholds the batch is past (a load with any raises
            `BatchRejectedError`).
        warnings: lines worth an alert that do not fail the load (quarantined share above the
            warning share).
        transport_failures: failed attempts by kind (`http500`, `http429`, `timeout`,
            `invalid_body`, `transport`, ...), all retried successfully.
        timings: seconds per phase (waiting for the source, processing, waiting for the database,
            archive, upload, finalize).
    """

    batch_id: UUID
    entity: str
    source_system: str
    start: datetime
    end: datetime
    received: int
    loaded: int
    quarantined: int
    duplicates: int
    lines_loaded: int
    quarantined_by_reason: dict[str, int]
    drift: dict[str, int]
    archive_key: str
    archive_bucket: str
    archive_bytes: int
    replaced: tuple[UUID, ...]
    pages: int
    retries: int
    duration_seconds: float
    transport_failures: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    status: str = "succeeded"
    threshold_violations: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (ids and timestamps as strings), e.g. for an Airflow XCom."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, UUID):
                value = str(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            elif isinstance(value, dict):
                value = dict(value)
            out[name] = value
        return out

    def summary(self) -> str:
        """One line for logs and the CLI."""
        text = (
            f"{self.entity} {format_window(self.start, self.end)}: received={self.received} "
            f"loaded={self.loaded} quarantined={self.quarantined} duplicates={self.duplicates}"
        )
        if self.lines_loaded:
            text += f" lines={self.lines_loaded}"
        if self.drift:
            text += " drift=" + ",".join(f"{k}:{v}" for k, v in sorted(self.drift.items()))
        if self.replaced:
            text += f" replaced={len(self.replaced)}"
        if self.status != "succeeded":
            text += f" status={self.status}"
        return (
            f"{text} pages={self.pages} retries={self.retries} "
            f"{self.duration_seconds:.1f}s batch={self.batch_id}"
        )


def application_name(entity: str, batch_id: UUID) -> str:
    """The Postgres `application_name` of a load's connection (find it in `pg_stat_activity`)."""
    return f"drp-ingest:{entity}:{batch_id}"


def _esc(text: str) -> str:
    """Escape a value for COPY text format."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _generic_text(values: list[Any]) -> str:
    """Contract values as COPY text columns: NULL, escaped text, or a number's repr."""
    return "\t".join([NULL if v is None else _esc(v) if type(v) is str else repr(v) for v in values])


def _order_text(values: list[Any]) -> str:
    """`_generic_text` for a checked order, by hand: status, currency and the timestamps are
    contract-checked (enumerations, ISO-8601) and need no escaping; the amount is a number."""
    order_id, customer_id, status, currency, amount, created, updated = values
    return f"{_esc(order_id)}\t{_esc(customer_id)}\t{status}\t{currency}\t{amount!r}\t{created}\t{updated}"


def _array_literal(items: list[str]) -> str:
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


@dataclass
class _State:
    """Counters of one load; kept outside the transaction so a failure can report them."""

    received: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    lines_loaded: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    drift: Counter[str] = field(default_factory=Counter)
    suspects: list[bytes] = field(default_factory=list)
    copied: Counter[str] = field(default_factory=Counter)  # rows Postgres says it took, per target
    timings: dict[str, float] = field(default_factory=dict)

    def counts(self) -> registry.Counts:
        return registry.Counts(self.received, self.loaded, self.quarantined, self.duplicates)


class _Clock:
    """Accumulates seconds per phase into a dict; `with clock("x"):` or `start("x")`/`stop()`."""

    def __init__(self, into: dict[str, float]) -> None:
        self._into = into
        self._phase: str | None = None
        self._since = 0.0

    def start(self, phase: str) -> None:
        self.stop()
        self._phase, self._since = phase, time.perf_counter()

    def stop(self) -> None:
        if self._phase is not None:
            elapsed = time.perf_counter() - self._since
            self._into[self._phase] = self._into.get(self._phase, 0.0) + elapsed
            self._phase = None

    def __call__(self, phase: str) -> _Clock:
        self.start(phase)
        return self

    def __enter__(self) -> _Clock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(slots=True)
class _PageRows:
    """What one page becomes: COPY text rows for the raw table, the lines and the rejects."""

    rows: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Statements:
    raw: sql.Composed
    lines: sql.Composed | None
    rejected: sql.Composed


def _statements(spec: EntitySpec) -> _Statements:
    return _Statements(
        raw=_copy_stmt(spec.raw_table, (*spec.raw_columns, *BATCH_COLUMNS, "record_hash", "raw_payload")),
        lines=_copy_stmt(LINES_TABLE, (*LINES_COLUMNS, *BATCH_COLUMNS)) if spec.has_lines else None,
        rejected=_copy_stmt(spec.rejected_table, REJECTED_COLUMNS),
    )


def _copy_page(cur: psycopg.Cursor[Any], stmts: _Statements, page: _PageRows, copied: Counter[str]) -> None:
    """COPY one page: up to three `COPY … FROM STDIN` statements, each fed one chunk of text.

    The rows arrive already in COPY text format (see `_PageBuilder`), so this thread holds the
    GIL only briefly and keeps the server fed while the next page is checked. `copied`
    accumulates the row counts Postgres reports (the `COPY n` command tags), which the
    end-of-load check compares with what the loader meant to write.
    """
    for target, stmt, text in (
        ("raw", stmts.raw, page.rows),
        ("lines", stmts.lines, page.lines),
        ("rejected", stmts.rejected, page.rejected),
    ):
        if text and stmt is not None:
            with cur.copy(stmt) as copy:
                copy.write("".join(text).encode())
            copied[target] += cur.rowcount


_STOP: Final = _PageRows()


class _CopyWriter:
    """Runs the COPYs in a thread of its own, so the database ingests page n while the loader
    decodes and checks page n+1 (the waits on the server release the GIL).

    Each page is up to three `COPY … FROM STDIN` statements in the load's one transaction. The
    queue is short (`depth` pages), so memory stays bounded; a full queue means the database is
    the bottleneck, and the loader waits.
    """

    def __init__(self, conn: psycopg.Connection[Any], stmts: _Statements, *, depth: int = 2) -> None:
        self._cur = conn.cursor()
        self._stmts = stmts
        self._queue: queue.Queue[_PageRows] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.cpu_seconds = 0.0
        self.copied: Counter[str] = Counter()  # rows per target, from COPY command tags
        self._thread = threading.Thread(target=self._run, name="drp-ingest-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (page := self._queue.get()) is not _STOP:
                _copy_page(self._cur, self._stmts, page, self.copied)
        except BaseException as exc:  # noqa: BLE001 - handed to the loading thread, raised there
            self._error = exc
            while self._queue.get() is not _STOP:  # keep draining so `submit` never blocks forever
                pass
        finally:
            self.cpu_seconds = time.thread_time()

    def submit(self, page: _PageRows) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(page, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every submitted page is in the database; raise the thread's error if any."""
        self._queue.put(_STOP)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Stop after the current page (the transaction is rolled back by the caller)."""
        if not self._thread.is_alive():
            return
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_STOP)
        self._thread.join()


class _PageBuilder:
    """Turns pages of decoded records into `_PageRows` and archive bytes, counting as it goes."""

    def __init__(
        self,
        *,
        spec: EntitySpec,
        state: _State,
        archive: archive_mod.ArchiveSpool,
        batch_id: UUID,
        source_system: str,
        start: datetime,
        end: datetime,
    ) -> None:
        self.spec = spec
        self.state = state
        self.archive = archive
        self.seen = SeenKeys()
        # The configured contract's checks (DRP_CONTRACTS_DIR), not the packaged one's.
        self.fast = fast_path(spec)
        # `_order_text` assumes the packaged orders columns; another contract gets the generic text.
        packaged_orders = (
            spec.entity is Entity.ORDERS and spec.raw_columns == SPECS[Entity.ORDERS].raw_columns
        )
        self.row_text = _order_text if packaged_orders else _generic_text
        self.expected = expected_fields(spec)
        self.batch_values = (str(batch_id), source_system, start.isoformat(), end.isoformat())
        self.batch_text = "\t".join(_esc(v) for v in self.batch_values)
        self.updated_index = [f.name for f in spec.fields].index("updated_at")

    def build(self, records: list[Any]) -> _PageRows:
        spec = self.spec
        state = self.state
        out = _PageRows()
        state.received += len(records)
        payloads: list[bytes] = []
        valid: list[tuple[list[Any], list[tuple[int, str, int, float]], bytes, bytes]] = []
        keys: list[int] = []
        drift = state.drift
        fast, expected = self.fast, self.expected
        for record in records:
            try:
                payload = _DUMPS(record)
            except orjson.JSONEncodeError:  # e.g. a lone surrogate: not storable as text or jsonb
                payload = json.dumps(record, ensure_ascii=True, default=repr).encode()
                payloads.append(payload)
                out.rejected.append(self._quarantine(record, payload, [UNENCODABLE_REASON], as_text=True))
                continue
            payloads.append(payload)
            # Fast path: a valid record without drift (nearly all of them) skips `check_record`.
            quick = fast(record) if type(record) is dict else None
            if quick is not None and quick[2] is None and expected.issuperset(record):
                values, lines = quick[0], quick[1]
            else:
                checked = check_record(spec, record)
                if checked.drift:
                    drift.update(checked.drift)
                if checked.reasons:
                    out.rejected.append(self._quarantine(record, payload, checked.reasons))
                    continue
                values, lines = checked.values, checked.lines
            if b"\\u0000" in payload:  # Postgres text and jsonb cannot hold NUL
                out.rejected.append(self._quarantine(record, payload, [NUL_REASON]))
                continue
            digest = _SHA256(_DUMPS(record, option=_SORT_KEYS)).digest()
            valid.append((values, lines, payload, digest))
            keys.append(key64(digest))
        seen = self.seen
        hits = seen.in_runs(keys)
        batch_text, row_text = self.batch_text, self.row_text
        rows = out.rows
        line_parts = out.lines
        page_lines = 0
        for (values, lines, payload, digest), key, hit in zip(valid, keys, hits, strict=True):
            if seen.add(key, hit):
                state.duplicates += 1
                state.suspects.append(digest)
                continue
            rows.append(f"{row_text(values)}\t{batch_text}\t{digest.hex()}\t{_esc(payload.decode())}\n")
            if lines:
                line_parts.append(self.line_rows(values, lines))
                page_lines += len(lines)
        state.loaded += len(rows)
        state.lines_loaded += page_lines
        seen.end_page()
        if payloads:
            payloads.append(b"")
            self.archive.write(b"\n".join(payloads), len(records))
        return out

    def line_rows(self, values: list[Any], lines: list[tuple[int, str, int, float]]) -> str:
        """The COPY text rows of an order's lines."""
        head = _esc(values[0])
        tail = f"\t{values[self.updated_index]}\t{self.batch_text}\n"
        return "".join([f"{head}\t{n}\t{_esc(p)}\t{q}\t{u!r}{tail}" for n, p, q, u in lines])

    def _quarantine(self, record: Any, payload: bytes, reasons: list[str], *, as_text: bool = False) -> str:
        state = self.state
        state.quarantined += 1
        state.reasons.update(reasons)
        rid = record_id_of(self.spec, record)
        if rid is not None:
            rid = rid.encode("utf-8", "replace").decode()  # lone surrogates cannot be stored
        text = _esc(payload.decode())
        if as_text or b"\\u0000" in payload:
            raw_payload, raw_text = NULL, text
        else:
            raw_payload, raw_text = text, NULL
        rid_text = NULL if rid is None else _esc(rid)
        return f"{rid_text}\t{_esc(_array_literal(reasons))}\t{raw_payload}\t{raw_text}\t{self.batch_text}\n"


def _copy_stmt(table: str, columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextmanager
def _gc_tuned(gen0: int = GC_GEN0_THRESHOLD) -> Iterator[None]:
    """Collect young objects less often while streaming.

    Each page allocates hundreds of thousands of short-lived, acyclic objects (decoded records,
    rows); with the default threshold (700) the cyclic GC runs thousands of times per million
    records and took about a third of the loader's CPU in profiles. The first of concurrent
    loads in a process raises the threshold, the last one restores it.
    """
    global _gc_users, _gc_saved  # noqa: PLW0603 - process-wide setting, reference-counted
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(gen0, _gc_saved[0]), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


@contextmanager
def _workdir(settings: Settings) -> Iterator[Path]:
    """A private spool directory under the state dir (on disk: /tmp may be RAM-backed), removed
    after. Directories left by killed loads (their pid is in the name) are removed first."""
    base = settings.state_dir / "ingest-spool"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        base = Path(tempfile.gettempdir())
    _remove_orphan_spools(base)
    with tempfile.TemporaryDirectory(prefix=f"batch-{os.getpid()}-", dir=base) as tmp:
        yield Path(tmp)


def _remove_orphan_spools(base: Path) -> None:
    for path in base.glob("batch-*-*"):
        try:
            pid = int(path.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue  # alive, another user's process


def load_interval(
    settings: Settings,
    entity: str,
    start: datetime,
    end: datetime,
    *,
    api_base_url: str | None = None,
    faults: dict[str, str] | None = None,
    client_config: ClientConfig | None = None,
    source_system: str = DEFAULT_SOURCE,
    records: Iterable[list[Any]] | None = None,
    replay_of: UUID | None = None,
) -> BatchResult:
    """Load `entity` records of `[start, end)` from the source API into Postgres `raw`.

    Loading an interval again supersedes its previous live batch atomically (its rows stay in raw,
    marked `replaced`); a window that contains earlier, smaller batches supersedes them all.
    Live counts never double. A batch past a threshold (`thresholds`) does not supersede a live
    one: it is kept as `held`, and the load raises `BatchRejectedError`.

    Args:
        settings: platform settings (Postgres, object store, generator URL and API key).
        entity: `orders`, `customers` or `products`.
        start: inclusive start of the interval (timezone-aware).
        end: exclusive end of the interval (timezone-aware).
        api_base_url: source API base URL; defaults to `settings.generator_url`.
        faults: fault overrides for the generator (`{"http500": "0.2"}`), sent on every request.
        client_config: retry/timeout/paging policy (defaults: `ClientConfig()`).
        source_system: recorded on every row and in the registry.
        records: pages of decoded records to load instead of calling the API (a replay reads
            them from the archive or the quarantine); when given, no request is made.
        replay_of: the batch a replay re-ingests, recorded on the new batch's registry row.

    Returns:
        The batch's counts, drift, archive key and timing.

    Raises:
        BatchRejectedError: the batch is past a threshold; it was committed (`held`, or live on
            a first load) and the message names every cause.
        IngestError: the load failed and nothing of it was committed; the registry row says
            `failed` with the message. `SourceError` (API unreachable or retry budget exhausted),
            `IntervalConflictError` (window partially overlaps a live batch) and `IntegrityError`
            (counts do not reconcile) are subclasses.
        ValueError: unknown entity, naive datetimes or an empty interval.
    """
    spec = specs(settings.contracts_dir)[Entity(entity)]
    start = to_utc(start, name="start")
    end = to_utc(end, name="end")
    if end <= start:
        raise ValueError(f"empty interval: end {end.isoformat()} is not after start {start.isoformat()}")
    batch_id = uuid4()
    state = _State()
    t0 = time.monotonic()
    conninfo = settings.postgres_conninfo()
    try:
        reg = registry.Registry(conninfo)
    except psycopg.Error as exc:
        raise IngestError(
            f"cannot reach Postgres for the batch registry: {exc}",
            entity=spec.entity.value,
            start=start,
            end=end,
        ) from exc
    with reg:
        try:
            reg.start(batch_id, source_system, spec.entity.value, start, end, replay_of=replay_of)
        except psycopg.Error as exc:
            raise IngestError(
                f"cannot register the batch in {registry.TABLE}: {exc}",
                entity=spec.entity.value,
                start=start,
                end=end,
            ) from exc
        log.info("%s %s: batch %s started", spec.entity.value, format_window(start, end), batch_id)
        try:
            return _load(
                settings, spec=spec, start=start, end=end, batch_id=batch_id, state=state, reg=reg, t0=t0,
                api_base_url=api_base_url or settings.generator_url,
                faults=faults,
                client_config=client_config or ClientConfig(),
                source_system=source_system,
                records=records,
            )  # fmt: skip
        except BatchRejectedError as exc:
            exc.batch_id = batch_id  # committed: its registry row says `held` or `succeeded`
            log.error("%s", exc)
            raise
        except BaseException as exc:
            message = str(exc) if isinstance(exc, PlatformError) else f"{type(exc).__name__}: {exc}"
            reg.fail(
                batch_id, message, state.counts(), duration_seconds=time.monotonic() - t0, drift=state.drift
            )
            log.error(
                "%s %s: batch %s failed: %s", spec.entity.value, format_window(start, end), batch_id, message
            )
            if isinstance(exc, IngestError):
                exc.batch_id = batch_id
                raise
            if isinstance(exc, Exception):
                raise IngestError(
                    message, entity=spec.entity.value, start=start, end=end, batch_id=batch_id
                ) from exc
            raise


def _load(
    settings: Settings,
    *,
    spec: EntitySpec,
    start: datetime,
    end: datetime,
    batch_id: UUID,
    state: _State,
    reg: registry.Registry,
    t0: float,
    api_base_url: str,
    faults: Mapping[str, str] | None,
    client_config: ClientConfig,
    source_system: str,
    records: Iterable[list[Any]] | None,
) -> BatchResult:
    entity = spec.entity.value
    ingest_date: date = datetime.now(UTC).date()
    key = archive_mod.archive_key(entity, ingest_date, batch_id)
    bucket = settings.s3_bucket_raw
    with (
        psycopg.connect(
            settings.postgres_conninfo(), application_name=application_name(entity, batch_id)
        ) as conn,
        _workdir(settings) as work,
        _gc_tuned(),
        ExitStack() as stack,
    ):
        client = (
            None
            if records is not None
            else stack.enter_context(
                SourceClient(
                    api_base_url,
                    settings.generator_api_key.get_secret_value() or None,
                    config=client_config,
                    faults=faults,
                )
            )
        )
        stats = client.stats if client is not None else FetchStats()
        registry.lock_interval(conn, source_system, entity, start, end)
        reg.reap_abandoned(source_system, entity, exclude=batch_id)
        _refuse_partial_overlap(conn, source_system, spec, start, end)

        spool = archive_mod.ArchiveSpool(work / "archive.jsonl.gz")
        builder = _PageBuilder(
            spec=spec, state=state, archive=spool,
            batch_id=batch_id, source_system=source_system, start=start, end=end,
        )  # fmt: skip
        stmts = _statements(spec)
        clock = _Clock(state.timings)
        cpu_start = time.thread_time()
        npages = 0
        try:
            writer = _CopyWriter(conn, stmts)
            try:
                pages = _record_pages(client, records, entity, start, end)
                while True:
                    with clock("wait_source"):
                        page = next(pages, None)
                    if page is None:
                        break
                    npages += 1
                    with clock("process"):
                        rows = builder.build(page)
                    with clock("wait_database"):
                        writer.submit(rows)
                with clock("drain_database"):
                    writer.finish()
                state.copied.update(writer.copied)
            except BaseException:
                pages.close()  # stops the fetch thread's prefetch
                writer.abort()
                raise
            with clock("archive_close"):
                archive_bytes = spool.close()
            # CPU seconds per thread while streaming: where the Python work goes.
            state.timings["cpu_main"] = time.thread_time() - cpu_start
            state.timings["cpu_copy"] = writer.cpu_seconds
            state.timings["cpu_fetch"] = stats.cpu_seconds
            state.timings["cpu_archive"] = spool.cpu_seconds
        finally:
            spool.abort()

        if state.suspects:
            with clock("verify_duplicates"):
                _verify_duplicates(conn, spec=spec, batch_id=batch_id, state=state, builder=builder)

        s3 = object_store.client(settings)
        with clock("upload"):
            archive_mod.upload(
                s3,
                bucket,
                key,
                spool.path,
                metadata={"batch-id": str(batch_id), "entity": entity, "records": str(state.received)},
            )
        try:
            # Judged before finalize: a broken batch must not supersede a good one.
            with clock("thresholds"):
                verdict = _judge(settings, conn, state=state, source_system=source_system,
                                 entity=entity, start=start, end=end)  # fmt: skip
            clock.start("finalize")
            registry.lock_entity(conn, source_system, entity)
            live = _live_covered(conn, source_system=source_system, spec=spec, start=start, end=end)
            _check_counts(spec=spec, state=state, start=start, end=end)
            duration = time.monotonic() - t0
            drift = dict(sorted(state.drift.items()))
            violations = [v.as_dict() for v in verdict.violations]
            held = verdict.rejected and bool(live)
            replaced: tuple[UUID, ...] = ()
            if held:
                marked = registry.hold(
                    conn, batch_id, state.counts(), drift=drift, archive_key=key,
                    duration_seconds=duration, violations=violations,
                )  # fmt: skip
            else:
                if live:
                    registry.supersede(conn, live, by=batch_id)
                    replaced = tuple(live)
                    window = format_window(start, end)
                    log.info("%s %s: batch %s supersedes %s", entity, window, batch_id, live)
                marked = registry.succeed(
                    conn, batch_id, state.counts(), drift=drift, archive_key=key,
                    duration_seconds=duration, violations=violations or None,
                )  # fmt: skip
            if not marked:
                raise IntegrityError(
                    "registry row is no longer 'running' (marked by another process?)",
                    entity=entity,
                    start=start,
                    end=end,
                )
            conn.commit()
        except BaseException:
            # Nothing will reference the archive: remove it (best effort; a leftover is harmless,
            # its key names a batch whose registry row says failed).
            archive_mod.remove(s3, bucket, key)
            raise
        clock.stop()

    result = BatchResult(
        batch_id=batch_id,
        entity=entity,
        source_system=source_system,
        start=start,
        end=end,
        received=state.received,
        loaded=state.loaded,
        quarantined=state.quarantined,
        duplicates=state.duplicates,
        lines_loaded=state.lines_loaded,
        quarantined_by_reason=dict(sorted(state.reasons.items())),
        drift=drift,
        archive_key=key,
        archive_bucket=bucket,
        archive_bytes=archive_bytes,
        replaced=replaced,
        pages=npages,
        retries=stats.retries,
        duration_seconds=duration,
        transport_failures=dict(sorted(stats.failures.items())),
        timings={k: round(v, 3) for k, v in state.timings.items()},
        status="held" if held else "succeeded",
        threshold_violations=tuple(v.message for v in verdict.violations),
        warnings=verdict.warnings,
    )
    if drift:
        log.warning("%s %s: schema drift (field: records): %s", entity, format_window(start, end), drift)
    if state.quarantined:
        log.warning(
            "%s %s: quarantined by reason: %s",
            entity,
            format_window(start, end),
            result.quarantined_by_reason,
        )
    for warning in verdict.warnings:
        log.warning("%s %s: %s", entity, format_window(start, end), warning)
    log.info("%s", result.summary())
    if verdict.rejected:
        if held:
            kept = ", ".join(str(b) for b in live)
            outcome = f"batch held, not live; live batch {kept} stays live"
        else:
            outcome = "no earlier live batch: committed live so its quarantine is visible"
        raise BatchRejectedError(
            f"rejected: {verdict.message()} ({outcome})",
            entity=entity, start=start, end=end, batch_id=batch_id,
            violations=result.threshold_violations, warnings=verdict.warnings,
            held=held, kept_live=tuple(live) if held else (), result=result,
        )  # fmt: skip
    return result


def _judge(
    settings: Settings,
    conn: psycopg.Connection[Any],
    *,
    state: _State,
    source_system: str,
    entity: str,
    start: datetime,
    end: datetime,
) -> thresholds.Verdict:
    """The batch against the thresholds; the volume history only for a one-day batch."""
    history = None
    if end - start == timedelta(days=1):
        history = registry.weekday_history(
            conn, source_system, entity, start, weeks=settings.ingest_volume_history_weeks
        )
    return thresholds.evaluate(
        settings,
        entity=entity,
        received=state.received,
        quarantined=state.quarantined,
        reasons=state.reasons,
        drift=state.drift,
        history=history,
    )


def _record_pages(
    client: SourceClient | None,
    records: Iterable[list[Any]] | None,
    entity: str,
    start: datetime,
    end: datetime,
) -> Generator[list[Any], None, None]:
    """Pages of decoded records: from the API, or from `records` (a replay) without a request."""
    if records is not None:
        yield from records
        return
    assert client is not None  # one of the two is always given (see `_load`)
    pages = client.pages(entity, start, end)
    try:
        for page in pages:
            yield page.records
    finally:
        pages.close()  # stops the fetch thread's prefetch


def _refuse_partial_overlap(
    conn: psycopg.Connection[Any], source_system: str, spec: EntitySpec, start: datetime, end: datetime
) -> None:
    """Refuse a window that would straddle a live batch: before fetching anything (fail fast),
    and again under the entity lock at finalize."""
    for live in registry.live_overlapping(conn, source_system, spec.entity.value, start, end):
        if not (start <= live.start and live.end <= end):
            other = f"{live.batch_id} {format_window(live.start, live.end)}"
            raise IntervalConflictError(
                f"window partially overlaps live batch {other}: "
                "load that exact interval, or a window containing it whole",
                entity=spec.entity.value,
                start=start,
                end=end,
            )


def _live_covered(
    conn: psycopg.Connection[Any],
    *,
    source_system: str,
    spec: EntitySpec,
    start: datetime,
    end: datetime,
) -> list[UUID]:
    """The live batches this window covers, locked until commit (under the entity lock). Nothing
    is deleted: the caller supersedes them, or keeps them live when the new batch is held."""
    _refuse_partial_overlap(conn, source_system, spec, start, end)  # again, under the entity lock
    live = registry.live_overlapping(conn, source_system, spec.entity.value, start, end, for_update=True)
    return [b.batch_id for b in live]


def delete_batch_rows(conn: psycopg.Connection[Any], spec: EntitySpec, batch_ids: list[UUID]) -> int:
    """Delete the raw, line and rejected rows of `batch_ids` (batches of `spec`'s entity); returns
    the rows deleted. Only the retention purge calls this, for batches that are not live."""
    tables = [spec.raw_table, spec.rejected_table] + ([LINES_TABLE] if spec.has_lines else [])
    deleted = 0
    for table in tables:
        cur = conn.execute(
            sql.SQL("delete from {} where batch_id = any(%s)").format(sql.Identifier(*table.split("."))),
            [batch_ids],
        )
        deleted += cur.rowcount
    return deleted


def _check_counts(*, spec: EntitySpec, state: _State, start: datetime, end: datetime) -> None:
    """The batch invariant, and Postgres agreeing with what the loader meant to write.

    Postgres's own counts come from the COPY command tags (`COPY n`), not from re-scanning the
    batch: the same assurance without reading a million rows back.
    """
    problems = []
    if state.received != state.loaded + state.quarantined + state.duplicates:
        problems.append(
            f"received {state.received} != loaded {state.loaded} + quarantined {state.quarantined} "
            f"+ duplicates {state.duplicates}"
        )
    checks = [("raw", spec.raw_table, state.loaded), ("rejected", spec.rejected_table, state.quarantined)]
    if spec.has_lines:
        checks.append(("lines", LINES_TABLE, state.lines_loaded))
    for target, table, expected in checks:
        if state.copied[target] != expected:
            problems.append(f"{table} took {state.copied[target]} rows of the batch, expected {expected}")
    if problems:
        raise IntegrityError("; ".join(problems), entity=spec.entity.value, start=start, end=end)


def _verify_duplicates(
    conn: psycopg.Connection[Any],
    *,
    spec: EntitySpec,
    batch_id: UUID,
    state: _State,
    builder: _PageBuilder,
) -> None:
    """Make sure every skipped duplicate really has a loaded twin (see `dedupe`); recover if not."""
    conn.execute("create temp table drp_ingest_suspects (record_hash text not null) on commit drop")
    with conn.cursor().copy("copy drp_ingest_suspects (record_hash) from stdin") as copy:
        for digest in state.suspects:
            copy.write_row((digest.hex(),))
    stmt = sql.SQL(
        "select distinct s.record_hash from drp_ingest_suspects s where not exists "
        "(select 1 from {} r where r.batch_id = %s and r.record_hash = s.record_hash)"
    ).format(sql.Identifier(*spec.raw_table.split(".")))
    missing = {row[0] for row in conn.execute(stmt, [batch_id]).fetchall()}
    conn.execute("drop table drp_ingest_suspects")
    state.suspects.clear()
    if missing:
        log.warning(
            "%s batch %s: %d 64-bit key collision(s); recovering the records from the archive spool",
            spec.entity.value,
            batch_id,
            len(missing),
        )
        _recover(conn, spec=spec, state=state, builder=builder, missing=missing)


def _recover(
    conn: psycopg.Connection[Any],
    *,
    spec: EntitySpec,
    state: _State,
    builder: _PageBuilder,
    missing: set[str],
) -> None:
    """Load the records whose sha256 is in `missing` (first occurrence each) from the archive spool."""
    page = _PageRows()
    with gzip.open(builder.archive.path, "rb") as src:
        for line in src:
            payload = line.rstrip(b"\n")
            record = orjson.loads(payload)
            hexdigest = _SHA256(_DUMPS(record, option=_SORT_KEYS)).hexdigest()
            if hexdigest not in missing:
                continue
            missing.discard(hexdigest)
            checked = check_record(spec, record)
            page.rows.append(
                f"{builder.row_text(checked.values)}\t{builder.batch_text}\t{hexdigest}\t{_esc(payload.decode())}\n"
            )
            if checked.lines:
                page.lines.append(builder.line_rows(checked.values, checked.lines))
                state.lines_loaded += len(checked.lines)
            state.loaded += 1
            state.duplicates -= 1
            if not missing:
                break
    _copy_page(conn.cursor(), _statements(spec), page, state.copied)


# --- reads for replay (drp.ingest.replay) ---------------------------------------------------------
def batch_payloads(
    conn: psycopg.Connection[Any], spec: EntitySpec, batch_id: UUID, *, page_size: int = 5_000
) -> Iterator[list[Any]]:
    """A committed batch's records as received, in pages: its loaded records (distinct: the
    duplicates it skipped are not stored), then its quarantined ones.

    Reads through a server-side cursor in the caller's transaction, so memory stays flat."""
    sources = (
        (spec.raw_table, "raw_payload::text"),
        # A record jsonb cannot hold (NUL, lone surrogate) is kept as text.
        (spec.rejected_table, "coalesce(raw_payload::text, raw_text)"),
    )
    for table, column in sources:
        stmt = sql.SQL("select {} from {} where batch_id = %s order by id").format(
            sql.SQL(column), sql.Identifier(*table.split("."))
        )
        with conn.cursor(name=f"drp_replay_{uuid4().hex[:8]}") as cur:
            cur.itersize = page_size
            cur.execute(stmt, [batch_id])
            while rows := cur.fetchmany(page_size):
                yield [archive_mod.decode_line(row[0].encode()) for row in rows]


def quarantine_reasons(conn: psycopg.Connection[Any], entity: str, batch_id: UUID) -> dict[str, int]:
    """Records of a batch in `raw.<entity>_rejected`, by reason (a record with two reasons counts
    under each)."""
    rows = conn.execute(
        sql.SQL(
            "select reason, count(*) from {}, unnest(reasons) reason where batch_id = %s group by reason"
        ).format(sql.Identifier("raw", f"{entity}_rejected")),
        (batch_id,),
    ).fetchall()
    return {str(reason): int(count) for reason, count in rows}
