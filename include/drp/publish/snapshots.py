"""Publish each mart as a Parquet snapshot, plus a manifest, keyed by snapshot date.

The marts are the models of the dbt exposure `analytics_parquet_snapshots`, in its order. Keys
(`drp.publish.layout`): `analytics/<model>/snapshot_date=YYYY-MM-DD/<model>.parquet` and
`analytics/_manifests/snapshot_date=YYYY-MM-DD/manifest.json` in the analytics bucket. A rerun of
the same date overwrites the same keys, so publication is idempotent. The manifest is written
last: its presence means the snapshot set is complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
from minio.error import S3Error

from drp.publish.layout import manifest_key, snapshot_key
from drp.settings import Settings
from drp.storage.object_store import ObjectStoreError, client
from drp.transform.manifest import published_marts

__all__ = [
    "MART_SCHEMA",
    "PublishResult",
    "PublishedSnapshot",
    "manifest_key",
    "publish_marts",
    "snapshot_key",
]

MART_SCHEMA = "analytics"


@dataclass(frozen=True)
class PublishedSnapshot:
    model: str
    key: str
    rows: int
    sha256: str
    bytes: int


@dataclass
class PublishResult:
    snapshot_date: str
    bucket: str
    manifest_key: str
    snapshots: list[PublishedSnapshot] = field(default_factory=list)
    seconds: float = 0.0

    def keys(self) -> list[str]:
        return [s.key for s in self.snapshots]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish_marts(
    settings: Settings,
    snapshot_date: date,
    *,
    run_id: str,
    extra_manifest: dict[str, Any] | None = None,
    duckdb_path: Path | None = None,
    models: Sequence[str] | None = None,
) -> PublishResult:
    """Export each mart from DuckDB (read-only) to Parquet and upload it, then the manifest.

    `models` defaults to the published marts, the models of the dbt exposure
    `analytics_parquet_snapshots` in its order (`drp.transform.manifest.published_marts`).
    """
    models = published_marts() if models is None else models
    started = time.monotonic()
    s3 = client(settings)
    bucket = settings.s3_bucket_analytics
    result = PublishResult(snapshot_date.isoformat(), bucket, manifest_key(snapshot_date))
    with tempfile.TemporaryDirectory(prefix="drp-publish-") as tmp:
        exported: list[tuple[str, Path, int]] = []
        con = duckdb.connect(str(duckdb_path or settings.duckdb_path), read_only=True)
        try:
            for model in models:
                path = Path(tmp) / f"{model}.parquet"
                relation = f"{MART_SCHEMA}.{model}"
                # A stable row order makes the file (and its checksum) reproducible for equal data.
                ordered = f"select * from {relation} order by all"
                con.execute(f"copy ({ordered}) to '{path}' (format parquet, compression zstd)")
                row = con.execute(f"select count(*) from {relation}").fetchone()
                exported.append((model, path, int(row[0]) if row else 0))
        finally:
            con.close()
        for model, path, rows in exported:
            key = snapshot_key(model, snapshot_date)
            try:
                s3.fput_object(bucket, key, str(path), content_type="application/vnd.apache.parquet")
            except S3Error as exc:
                raise ObjectStoreError(f"upload failed: {exc.code}", bucket=bucket, key=key) from exc
            result.snapshots.append(PublishedSnapshot(model, key, rows, _sha256(path), path.stat().st_size))
    manifest = {
        "snapshot_date": snapshot_date.isoformat(),
        "run_id": run_id,
        "published_at": datetime.now(UTC).isoformat(),
        "bucket": bucket,
        "snapshots": [asdict(s) for s in result.snapshots],
        **(extra_manifest or {}),
    }
    body = json.dumps(manifest, indent=2, default=str).encode()
    try:
        s3.put_object(
            bucket, result.manifest_key, io.BytesIO(body), len(body), content_type="application/json"
        )
    except S3Error as exc:
        raise ObjectStoreError(
            f"manifest upload failed: {exc.code}", bucket=bucket, key=result.manifest_key
        ) from exc
    result.seconds = time.monotonic() - started
    return result
