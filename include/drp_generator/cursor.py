"""Opaque, signed page cursors.

A cursor carries a position `(day, index)` in a window's fixed serving order plus a fingerprint
of the query it belongs to (entity, window, data faults, seed), signed with a key derived from
the seed and API key. Any change, a cursor from another query, or garbage raises
`InvalidCursorError` (HTTP 422). The page size is not bound: clients may change `limit` mid-way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

from drp_generator.config import GeneratorConfig
from drp_generator.errors import InvalidCursorError
from drp_generator.faults import FaultConfig
from drp_generator.generate import Position, Window
from drp_generator.model import Entity

_VERSION: Final = "1"
_SIG_BYTES: Final = 12
MAX_CURSOR_LENGTH: Final = 256


def _secret(config: GeneratorConfig) -> bytes:
    return hashlib.blake2b(
        f"drp-cursor|{config.seed}|{config.api_key or ''}".encode(), digest_size=32
    ).digest()


def _fingerprint(config: GeneratorConfig, entity: Entity, window: Window, faults: FaultConfig) -> str:
    text = f"{entity.value}|{window.start}|{window.end}|{config.gen_key}|{faults.data_key}"
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def encode_cursor(
    config: GeneratorConfig, entity: Entity, window: Window, faults: FaultConfig, position: Position
) -> str:
    """The cursor for `position` in this query."""
    payload = (
        f"{_VERSION}:{position[0]}:{position[1]}:{_fingerprint(config, entity, window, faults)}".encode()
    )
    sig = hmac.new(_secret(config), payload, hashlib.sha256).digest()[:_SIG_BYTES]
    return base64.urlsafe_b64encode(payload + sig).rstrip(b"=").decode()


def decode_cursor(
    config: GeneratorConfig, entity: Entity, window: Window, faults: FaultConfig, cursor: str
) -> Position:
    """The position a cursor points at.

    Raises:
        InvalidCursorError: when the cursor is malformed, tampered with or from another query.
    """
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursorError("malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursorError("malformed cursor") from None
    payload, sig = raw[:-_SIG_BYTES], raw[-_SIG_BYTES:]
    expected = hmac.new(_secret(config), payload, hashlib.sha256).digest()[:_SIG_BYTES]
    if len(raw) <= _SIG_BYTES or not hmac.compare_digest(sig, expected):
        raise InvalidCursorError("cursor signature does not match (tampered or from another server)")
    try:
        version, day, index, fingerprint = payload.decode().split(":")
        position = (int(day), int(index))
    except ValueError:
        raise InvalidCursorError("malformed cursor") from None
    if version != _VERSION:
        raise InvalidCursorError("unsupported cursor version")
    if fingerprint != _fingerprint(config, entity, window, faults):
        raise InvalidCursorError("cursor belongs to another query (entity, window or faults differ)")
    return position
