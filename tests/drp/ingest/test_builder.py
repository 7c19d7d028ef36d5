"""The page builder: rows, COPY text for lines and rejects, counts, drift, duplicates."""

from __future__ import annotations

import copy
import gc
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest

from drp.ingest.client import ClientConfig, SourceClient
from drp.ingest.contract import SPECS
from drp.ingest.errors import IntegrityError
from drp.ingest.loader import _check_counts, _gc_tuned, _PageBuilder, _State
from drp_domain import Entity
from tests.drp.ingest.test_contract import ORDER

pytestmark = pytest.mark.unit

BATCH = UUID("12345678-1234-5678-1234-567812345678")


class _Archive:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.records = 0

    def write(self, chunk: bytes, records: int) -> None:
        self.chunks.append(chunk)
        self.records += records


def _builder() -> tuple[_PageBuilder, _State, _Archive]:
    state, archive = _State(), _Archive()
    builder = _PageBuilder(
        spec=SPECS[Entity.ORDERS],
        state=state,
        archive=archive,  # type: ignore[arg-type]
        batch_id=BATCH,
        source_system="test",
        start=datetime(2026, 11, 21, tzinfo=UTC),
        end=datetime(2026, 11, 22, tzinfo=UTC),
    )
    return builder, state, archive


def _order(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(ORDER)
    out.update(changes)
    return out


def test_page_rows_counts_and_archive() -> None:
    builder, state, archive = _builder()
    tab_id = _order(order_id="ord\twith\\tab", customer_id="c")
    records: list[Any] = [
        _order(),
        _order(),  # exact duplicate
        _order(order_id="ord_2", channel="web"),  # drift, still valid
        _order(order_id=None),  # invalid
        _order(order_id="ord_3", customer_id="has \u0000 nul"),  # invalid (NUL)
        tab_id,
        [1, 2],  # not an object
    ]
    page = builder.build(records)
    assert (state.received, state.loaded, state.quarantined, state.duplicates) == (7, 3, 3, 1)
    assert state.drift == {"channel": 1}
    assert state.reasons == {"null_field:order_id": 1, "invalid_value:customer_id": 1, "not_an_object": 1}
    assert len(state.suspects) == 1
    # Raw rows (COPY text): contract values, batch columns, record hash, payload as received.
    first = page.rows[0].rstrip("\n").split("\t")
    assert first[:7] == [
        "ord_20261121_000001", "cus_00000042", "paid", "EUR", "25.8",
        "2026-11-21T13:45:12Z", "2026-11-21T14:00:00Z",
    ]  # fmt: skip
    assert first[7:11] == [str(BATCH), "test", "2026-11-21T00:00:00+00:00", "2026-11-22T00:00:00+00:00"]
    assert len(first[11]) == 64 and orjson.loads(first[12]) == ORDER
    assert any(row.startswith("ord\\twith\\\\tab\t") for row in page.rows)
    # Order lines as COPY text, escaped.
    lines = "".join(page.lines).splitlines()
    assert lines[0].split("\t")[:6] == [
        "ord_20261121_000001",
        "1",
        "prd_000001",
        "2",
        "10.0",
        "2026-11-21T14:00:00Z",
    ]
    assert any(line.startswith("ord\\twith\\\\tab\t") for line in lines)
    assert state.lines_loaded == len(lines) == 6
    # Rejects: id (or \N), reasons array, payload or raw_text.
    rejected = [r.split("\t") for r in "".join(page.rejected).splitlines()]
    assert rejected[0][:2] == ["\\N", '{"null_field:order_id"}']
    assert rejected[1][0] == "ord_3" and rejected[1][2] == "\\N" and "\\\\u0000" in rejected[1][3]
    assert rejected[2][:3] == ["\\N", '{"not_an_object"}', "[1,2]"]
    # The archive has every record received, in order.
    assert archive.records == 7
    assert [orjson.loads(line) for line in b"".join(archive.chunks).splitlines()] == records


def test_duplicates_are_found_across_pages() -> None:
    builder, state, _archive = _builder()
    builder.build([_order()])
    builder.build([_order(), _order(order_id="ord_9")])
    assert (state.loaded, state.duplicates) == (2, 1)


def test_unencodable_records_are_quarantined_not_fatal() -> None:
    body = b'{"data": [' + orjson.dumps(ORDER) + b', {"order_id": "\\ud800"}], "next_cursor": null}'
    client = SourceClient(
        "http://source.test",
        None,
        config=ClientConfig(prefetch=False),
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)),
    )
    with client:
        (page,) = client.pages(
            "orders", datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
        )
    builder, state, archive = _builder()
    rows = builder.build(page.records)
    assert (state.loaded, state.quarantined) == (1, 1)
    assert state.reasons == {"invalid_value:unencodable": 1}
    reject = "".join(rows.rejected).split("\t")
    assert reject[2] == "\\N" and json.loads(reject[3].replace("\\\\", "\\")) == {"order_id": "\ud800"}
    assert archive.records == 2


def test_count_check_catches_a_mismatch() -> None:
    start, end = datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
    state = _State(received=10, loaded=7, quarantined=2, duplicates=1, lines_loaded=9)
    state.copied.update({"raw": 7, "rejected": 2, "lines": 9})
    _check_counts(spec=SPECS[Entity.ORDERS], state=state, start=start, end=end)
    state.copied["lines"] = 8
    with pytest.raises(IntegrityError, match="order_lines_raw took 8 rows of the batch, expected 9"):
        _check_counts(spec=SPECS[Entity.ORDERS], state=state, start=start, end=end)
    state.duplicates = 0
    with pytest.raises(IntegrityError, match="received 10 != loaded 7"):
        _check_counts(spec=SPECS[Entity.ORDERS], state=state, start=start, end=end)


def test_gc_threshold_is_restored_after_overlapping_loads() -> None:
    before = gc.get_threshold()
    first, second = _gc_tuned(), _gc_tuned()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] >= 50_000
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] >= 50_000  # the other load is still running
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
