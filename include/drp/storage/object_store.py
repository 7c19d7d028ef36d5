"""The S3-compatible object store (MinIO in Docker, SeaweedFS natively), through the minio client."""

from __future__ import annotations

from typing import Final

from minio import Minio
from minio.error import S3Error

from drp.errors import PlatformError
from drp.settings import Settings

# The error codes of a missing object (S3 says NoSuchKey; a HEAD request, which has no body, NotFound).
MISSING_OBJECT_CODES: Final = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})


class ObjectStoreError(PlatformError):
    """An object-store call failed; carries the bucket and key involved."""

    def __init__(self, message: str, *, bucket: str, key: str | None = None) -> None:
        where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
        super().__init__(f"{where}: {message}")
        self.bucket = bucket
        self.key = key


def client(settings: Settings) -> Minio:
    """A minio client for the configured endpoint and credentials."""
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )


def platform_buckets(settings: Settings) -> tuple[str, ...]:
    return (settings.s3_bucket_raw, settings.s3_bucket_analytics, settings.s3_bucket_logs)


def ensure_buckets(settings: Settings, s3: Minio | None = None) -> list[str]:
    """Create the platform's buckets if missing; returns the ones created."""
    s3 = s3 or client(settings)
    created = []
    for bucket in platform_buckets(settings):
        try:
            if not s3.bucket_exists(bucket):
                s3.make_bucket(bucket)
                created.append(bucket)
        except S3Error as exc:
            raise ObjectStoreError(f"{exc.code}: {exc.message}", bucket=bucket) from exc
    return created
