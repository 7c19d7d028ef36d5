"""The raw archive of a batch: every record received, as gzip NDJSON in the object store.

Records are spooled to a local gzip file while the load streams (compression runs in a worker
thread: zlib releases the GIL, so it overlaps the loader's CPU work), then uploaded with
`fput_object` before the database transaction commits. Memory stays flat whatever the window.
`read_pages` streams an archive back (`drp replay`), page by page, as decoded records.
"""

from __future__ import annotations

import gzip
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import orjson
from minio import Minio
from minio.error import MinioException

from drp.storage.object_store import ObjectStoreError

log = logging.getLogger("drp.ingest.archive")

# Level 1: ~1.3 µs per order record against ~1.5 at level 3 and ~3.5 at 6, for files ~15 % larger
# than level 3's (13 % of the NDJSON): throughput matters more than archive size here.
GZIP_LEVEL: Final = 1
_STOP: Final = b""
UPLOAD_PART_SIZE: Final = 5 * 1024 * 1024  # S3 minimum


def archive_key(entity: str, ingest_date: date, batch_id: UUID) -> str:
    """`raw/<entity>/ingest_date=YYYY-MM-DD/batch_id=<uuid>.jsonl.gz`."""
    return f"raw/{entity}/ingest_date={ingest_date.isoformat()}/batch_id={batch_id}.jsonl.gz"


class ArchiveSpool:
    """A gzip NDJSON file written from a background thread.

    `write(chunk)` hands over bytes that already end in a newline per record; `close()` flushes
    and returns the file's size. Errors in the worker surface on the next `write` or on `close`.
    """

    def __init__(self, path: Path, *, level: int = GZIP_LEVEL, depth: int = 8) -> None:
        self.path = path
        self.records = 0
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.cpu_seconds = 0.0
        self._file = gzip.open(path, "wb", compresslevel=level)  # noqa: SIM115 - closed by the worker
        self._thread = threading.Thread(target=self._run, name="drp-ingest-archive", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        try:
            while chunk := self._queue.get():
                self._file.write(chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread, re-raised there
            self._error = exc
            while self._queue.get():  # drain so `write` never blocks forever
                pass
        finally:
            self._file.close()
            self.cpu_seconds = time.thread_time()

    def write(self, chunk: bytes, records: int) -> None:
        if self._error is not None:
            raise self._error
        if chunk:
            self._queue.put(chunk)
            self.records += records

    def close(self) -> int:
        """Finish the file; returns its size in bytes."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self.path.stat().st_size

    def abort(self) -> None:
        """Stop the worker without raising (used when the load already failed)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()


def upload(s3: Minio, bucket: str, key: str, path: Path, *, metadata: dict[str, str] | None = None) -> None:
    """Upload the spooled archive.

    Raises:
        ObjectStoreError: the upload failed (the caller fails the load: nothing is committed).
    """
    try:
        # Some stores (SeaweedFS) create a missing bucket on PUT: a typo must fail, not fork the archive.
        if not s3.bucket_exists(bucket):
            raise ObjectStoreError("archive upload failed: bucket does not exist", bucket=bucket, key=key)
        s3.fput_object(
            bucket,
            key,
            str(path),
            content_type="application/gzip",
            metadata=metadata,  # type: ignore[arg-type]
            # One part in memory at a time: the default (parallel parts) is what made peak RSS
            # grow with the archive size.
            part_size=UPLOAD_PART_SIZE,
            num_parallel_uploads=1,
        )
    except (MinioException, OSError, ValueError) as exc:
        raise ObjectStoreError(f"archive upload failed: {exc}", bucket=bucket, key=key) from exc


def remove(s3: Minio, bucket: str, key: str) -> None:
    """Delete an archive object, logging instead of raising (used on the failure path)."""
    try:
        s3.remove_object(bucket, key)
    except (MinioException, OSError, ValueError) as exc:
        log.warning("could not remove orphan archive s3://%s/%s: %s", bucket, key, exc)


def decode_line(line: bytes) -> Any:
    """One archived record. The loader archives what it received re-encoded by orjson, or, for a
    record orjson cannot encode (a lone surrogate), by `json.dumps`, which orjson cannot read back."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def read_pages(s3: Minio, bucket: str, key: str, *, page_size: int = 5_000) -> Iterator[list[Any]]:
    """Stream an archive back as pages of decoded records, in the order they were received.

    Raises:
        ObjectStoreError: the object is missing or unreadable, or a line is not JSON.
    """
    try:
        response = s3.get_object(bucket, key)
    except (MinioException, OSError, ValueError) as exc:
        raise ObjectStoreError(f"cannot read the archive: {exc}", bucket=bucket, key=key) from exc
    try:
        with gzip.GzipFile(fileobj=response, mode="rb") as src:
            page: list[Any] = []
            for number, line in enumerate(src, start=1):
                if not line.strip():
                    continue
                try:
                    page.append(decode_line(line))
                except ValueError as exc:
                    raise ObjectStoreError(
                        f"archive line {number} is not JSON: {exc}", bucket=bucket, key=key
                    ) from exc
                if len(page) >= page_size:
                    yield page
                    page = []
            if page:
                yield page
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream, or the connection
        raise ObjectStoreError(f"cannot read the archive: {exc}", bucket=bucket, key=key) from exc
    finally:
        response.close()
        response.release_conn()
