"""A Great Expectations store backend in the platform's object store.

GX 1.x ships no S3 store backend any more (only filesystem, in-memory and GX Cloud), and a gate
run on one Celery worker must leave its validation results where every host (and `make docs`)
finds them. This backend keeps GX's key layout (`<suite>/<run name>/<run time>/<batch>.json`)
under `s3://<bucket>/<prefix>/`; `great_expectations.yml` names it by `module_name`/`class_name`
for the validation results store. Endpoint and credentials come from the platform's settings
(those `open_context` was given, else `get_settings()`: inside Airflow, from the connections),
never from the YAML.

Results are immutable (their key holds the run time), so each host keeps a read-through copy
under its state directory: Data Docs, rebuilt after every gate run, re-read the newest results
of the index from disk instead of downloading each one again.

The Data Docs site uses the same backend (`local_copy: false`: its pages are written, not read
back). GX builds a site's backends itself, handing them the data context: they reach the object
store the context's results store was given, and a static asset (GX's CSS, fonts, images, about
4 MB, copied by every build) is uploaded only when the stored object differs.
"""

from __future__ import annotations

import hashlib
import io
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from great_expectations.data_context.store.tuple_store_backend import TupleStoreBackend
from great_expectations.exceptions.exceptions import InvalidKeyError, StoreBackendError
from minio.commonconfig import CopySource
from minio.error import S3Error

from drp.storage.object_store import MISSING_OBJECT_CODES

if TYPE_CHECKING:
    from minio import Minio

    from drp.settings import Settings


class ObjectStoreBackend(TupleStoreBackend):  # type: ignore[misc]  # GX's store classes are untyped
    """GX tuple keys as objects under `s3://<bucket>/<prefix>/`."""

    def __init__(  # noqa: PLR0917 - GX passes its store options as keywords
        self,
        bucket: str,
        prefix: str = "",
        filepath_template: str | None = None,
        filepath_prefix: str | None = None,
        filepath_suffix: str | None = None,
        forbidden_substrings: list[str] | None = None,
        platform_specific_separator: bool = False,
        fixed_length_key: bool = False,
        suppress_store_backend_id: bool = True,
        manually_initialize_store_backend_id: str = "",
        base_public_path: str | None = None,
        store_name: str | None = None,
        local_copy: bool = True,
        data_context: Any = None,
    ) -> None:
        if not bucket:
            raise StoreBackendError("ObjectStoreBackend needs a bucket")
        super().__init__(
            filepath_template=filepath_template,
            filepath_prefix=filepath_prefix,
            filepath_suffix=filepath_suffix,
            forbidden_substrings=forbidden_substrings,
            # Object keys use "/" on every platform.
            platform_specific_separator=False,
            fixed_length_key=fixed_length_key,
            suppress_store_backend_id=suppress_store_backend_id,
            manually_initialize_store_backend_id=manually_initialize_store_backend_id,
            base_public_path=base_public_path,
            store_name=store_name,
        )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings: Settings | None = None
        self.local_copy = local_copy
        # Given by GX to a Data Docs site's backends (never part of the config).
        self._data_context = data_context
        self._config: dict[str, Any] = {
            key: value
            for key, value in {
                "bucket": bucket,
                "prefix": prefix,
                "filepath_template": filepath_template,
                "filepath_prefix": filepath_prefix,
                "filepath_suffix": filepath_suffix,
                "forbidden_substrings": forbidden_substrings,
                "fixed_length_key": fixed_length_key,
                "suppress_store_backend_id": suppress_store_backend_id,
                "manually_initialize_store_backend_id": manually_initialize_store_backend_id,
                "base_public_path": base_public_path,
                "store_name": store_name,
                "module_name": self.__class__.__module__,
                "class_name": self.__class__.__name__,
            }.items()
            if value
        }
        if not local_copy:
            self._config["local_copy"] = False

    def use_settings(self, settings: Settings) -> None:
        """Reach the object store of `settings` (the one whose bucket and prefix the YAML got)."""
        self.settings = settings
        self.__dict__.pop("_client", None)

    def _settings(self) -> Settings:
        from drp.settings import get_settings  # noqa: PLC0415

        return self.settings or self._context_settings() or get_settings()

    def _context_settings(self) -> Settings | None:
        """The settings `open_context` gave the data context's results store (a site's backend)."""
        if self._data_context is None:
            return None
        backend = self._data_context.validation_results_store.store_backend
        return backend.settings if isinstance(backend, ObjectStoreBackend) else None

    @cached_property
    def _client(self) -> Minio:
        # Lazy: opening the GX project (`drp quality check`) must not need the object store.
        from drp.storage.object_store import client  # noqa: PLC0415

        return client(self._settings())

    def _cached(self, name: str) -> Path:
        return self._settings().state_dir / "gx-results" / self.bucket / name

    def _object_name(self, key: tuple[str, ...]) -> str:
        path = str(self._convert_key_to_filepath(key))  # type: ignore[no-untyped-call]
        return f"{self.prefix}/{path}" if self.prefix else path

    def _get(self, key: tuple[str, ...]) -> str:  # type: ignore[override]  # GX types it as None
        name = self._object_name(key)
        cached = self._cached(name)
        if self.local_copy and cached.is_file():
            return cached.read_text(encoding="utf-8").rstrip("\n")
        try:
            response = self._client.get_object(self.bucket, name)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise InvalidKeyError(f"no GX object s3://{self.bucket}/{name}") from exc
            raise StoreBackendError(f"s3://{self.bucket}/{name}: {exc.code}: {exc.message}") from exc
        try:
            data = bytes(response.read())
        finally:
            response.close()
            response.release_conn()
        self._keep(name, data)
        return data.decode("utf-8").rstrip("\n")

    def _keep(self, name: str, data: bytes) -> None:
        """Write the local copy atomically (gate runs of one host share it)."""
        if not self.local_copy:
            return
        path = self._cached(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{id(self)}.partial")
        partial.write_bytes(data)
        partial.replace(path)

    def _stored_md5(self, name: str) -> str | None:
        """The stored object's MD5 (a single-part upload's ETag), or None when it is missing."""
        try:
            return str(self._client.stat_object(self.bucket, name).etag).strip('"')
        except S3Error as exc:
            if exc.code in MISSING_OBJECT_CODES:
                return None
            raise

    def _get_all(self) -> list[Any]:
        keys = [key for key in self.list_keys() if key != self.STORE_BACKEND_ID_KEY]
        return [self._get(key) for key in keys]

    def _set(self, key: Any, value: Any, **kwargs: Any) -> None:
        if not isinstance(key, tuple):
            key = key.to_tuple()
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        name = self._object_name(key)
        if (
            key[:1] == ("static",)
            and self._stored_md5(name) == hashlib.md5(data, usedforsecurity=False).hexdigest()
        ):
            return
        self._client.put_object(
            self.bucket,
            name,
            io.BytesIO(data),
            len(data),
            content_type=kwargs.get("content_type") or "application/json",
        )
        self._keep(name, data)

    def _move(self, source_key: tuple[str, ...], dest_key: tuple[str, ...], **_: Any) -> Any:
        source, dest = self._object_name(source_key), self._object_name(dest_key)
        if not self._has_key(source_key):
            return False
        self._client.copy_object(self.bucket, dest, CopySource(self.bucket, source))
        self._client.remove_object(self.bucket, source)
        self._cached(source).unlink(missing_ok=True)
        return dest_key

    def list_keys(self, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        base = f"{self.prefix}/" if self.prefix else ""
        # A site's pages of one kind live under their filepath_prefix (`validations/`, ...).
        kind = f"{self.filepath_prefix.strip('/')}/" if self.filepath_prefix else ""
        start = base + kind + "".join(f"{part}/" for part in prefix)
        keys = []
        for obj in self._client.list_objects(self.bucket, prefix=start, recursive=True):
            path = str(obj.object_name)[len(base) :]
            if self._is_missing_prefix_or_suffix(self.filepath_prefix, self.filepath_suffix, path):
                continue
            key = self._convert_filepath_to_key(path)  # type: ignore[no-untyped-call]
            if key and not self.is_ignored_key(key):  # type: ignore[no-untyped-call]
                keys.append(key)
        return keys

    def remove_key(self, key: Any) -> bool:  # type: ignore[override]  # GX types it as None
        if not isinstance(key, tuple):
            key = key.to_tuple()
        if not self._has_key(key):
            return False
        name = self._object_name(key)
        self._client.remove_object(self.bucket, name)
        self._cached(name).unlink(missing_ok=True)
        return True

    def _has_key(self, key: tuple[str, ...]) -> bool:
        try:
            self._client.stat_object(self.bucket, self._object_name(key))
        except S3Error as exc:
            if exc.code in MISSING_OBJECT_CODES:
                return False
            raise
        return True

    def get_url_for_key(self, key: tuple[str, ...], protocol: str | None = None) -> str:
        return f"s3://{self.bucket}/{self._object_name(key)}"

    def get_public_url_for_key(self, key: tuple[str, ...], protocol: str | None = None) -> str:
        if not self.base_public_path:
            raise StoreBackendError("no base_public_path is configured for the ObjectStoreBackend")
        return f"{self.base_public_path}{self._convert_key_to_filepath(key)}"  # type: ignore[no-untyped-call]

    @property
    def config(self) -> dict[str, Any]:
        return self._config
