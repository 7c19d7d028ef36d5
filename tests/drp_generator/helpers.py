"""Client-side helpers for generator tests: paging, bulk reads and an independent record checker."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")
STATUSES = {"placed", "paid", "shipped", "delivered", "cancelled", "returned"}
SEGMENTS = {"consumer", "smb", "enterprise"}
ID_FIELDS = {"orders": "order_id", "customers": "customer_id", "products": "product_id"}


def loads(text: str | bytes) -> Any:
    """JSON with numbers kept as their exact source text (so `2.40` stays `2.40`)."""
    return json.loads(text, parse_float=str, parse_int=str)


def page_all(
    client: httpx.Client, entity: str, start: str, end: str, *, limit: int = 1000, **params: Any
) -> list[Any]:
    """Every record of a window via the paged endpoint."""
    records: list[Any] = []
    cursor = None
    while True:
        query: dict[str, Any] = {"start": start, "end": end, "limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        response = client.get(f"/v1/{entity}", params=query)
        assert response.status_code == 200, response.text
        body = loads(response.content)
        assert int(body["count"]) == len(body["data"])
        records.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return records


def bulk_lines(client: httpx.Client, entity: str, start: str, end: str, **params: Any) -> list[bytes]:
    response = client.get(f"/v1/{entity}/bulk", params={"start": start, "end": end, **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.content.endswith(b"\n") or response.content == b""
    return response.content.splitlines()


def truth(client: httpx.Client, entity: str, start: str, end: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/truth/{entity}", params={"start": start, "end": end, **params})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def invalid_reason(entity: str, rec: dict[str, Any]) -> str | None:
    """Why a record breaks the contract (independent of the generator's code), or None."""
    id_field = ID_FIELDS[entity]
    if rec.get(id_field) is None:
        return "null_id"
    updated = rec.get("updated_at")
    if not isinstance(updated, str) or not TS.match(updated):
        return "bad_timestamp"
    try:
        datetime.strptime(updated, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return "bad_timestamp"
    if entity == "orders":
        amount = rec["amount"]
        if not isinstance(amount, str) or not MONEY.match(amount):
            return "wrong_type"  # a JSON string where a number belongs (numbers arrive as text here)
        if Decimal(amount) < 0:
            return "negative_amount"
        if rec["status"] not in STATUSES:
            return "unknown_status"
    elif entity == "customers":
        if not (isinstance(rec["country"], str) and len(rec["country"]) == 2 and rec["country"].isalpha()):
            return "wrong_type"
        segment = rec.get("segment", rec.get("customer_segment"))
        if segment not in SEGMENTS:
            return "unknown_segment"
    else:
        price = rec["unit_price"]
        if not isinstance(price, str) or not MONEY.match(price):
            return "wrong_type"
        if Decimal(price) < 0:
            return "negative_price"
    return None


@dataclass
class Tally:
    """What a client observes, computed without the generator's code, to compare with truth."""

    served: int = 0
    valid: int = 0
    duplicates: int = 0
    drifted: int = 0
    late: int = 0
    invalid_by_reason: Counter[str] = field(default_factory=Counter)
    ids: set[str] = field(default_factory=set)
    amount_cents: int = 0


DRIFT_MARKERS = {
    "orders": ("channel", "customer_ref"),
    "customers": ("loyalty_tier", "customer_segment"),
    "products": ("brand", "category_name"),
}


def tally(entity: str, records: list[dict[str, Any]], window_start: str, seen: set[tuple[str, str]]) -> Tally:
    """Classify one window's records. `seen` carries (id, updated_at) across consecutive windows."""
    out = Tally()
    for rec in records:
        out.served += 1
        if any(marker in rec for marker in DRIFT_MARKERS[entity]):
            out.drifted += 1
        reason = invalid_reason(entity, rec)
        if reason:
            out.invalid_by_reason[reason] += 1
            continue
        key = (rec[ID_FIELDS[entity]], rec["updated_at"])
        if key in seen:
            out.duplicates += 1
            continue
        seen.add(key)
        out.valid += 1
        out.ids.add(rec[ID_FIELDS[entity]])
        if rec["updated_at"] < window_start:
            out.late += 1
        if entity == "orders":
            out.amount_cents += int(Decimal(rec["amount"]) * 100)
    return out
