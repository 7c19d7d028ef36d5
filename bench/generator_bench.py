"""Benchmark the generator API: records/s one client pulls, paged JSON vs bulk NDJSON.

Starts the API with uvicorn in a subprocess on a free loopback port (this same script, `--serve`),
then one httpx client pulls an order window:

* paged: `GET /v1/orders?limit=…` following `next_cursor`, each body parsed with orjson;
* bulk: `GET /v1/orders/bulk` streamed, each NDJSON line parsed with orjson.

Each form runs twice on its own window: *cold* (the server generates the days while serving) and
*warm* (the same window again, served from the server's day cache). Prints a table and a JSON line.

    uv run --frozen python bench/generator_bench.py [--orders-per-day N] [--days D] [--limit L]

Targets: >= 60,000 orders/s paged, >= 150,000 orders/s bulk.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

API_KEY = "bench-key"
TARGETS = {"paged": 60_000, "bulk": 150_000}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(port: int, orders_per_day: int) -> None:
    """Run the API in this process (the benchmark's server side)."""
    import uvicorn

    from drp_generator.api import create_app
    from drp_generator.config import GeneratorConfig

    app = create_app(GeneratorConfig(seed=42, orders_per_day=orders_per_day, api_key=API_KEY))
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("server did not become ready")


def pull_paged(client: httpx.Client, start: str, end: str, limit: int) -> tuple[int, int]:
    """(records, requests) of paging through the window."""
    records = requests = 0
    cursor = None
    while True:
        params: dict[str, Any] = {"start": start, "end": end, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/orders", params=params)
        response.raise_for_status()
        body = orjson.loads(response.content)
        records += len(body["data"])
        requests += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return records, requests


def pull_bulk(client: httpx.Client, start: str, end: str) -> tuple[int, int]:
    """(records, requests) of streaming the window as NDJSON."""
    records = 0
    buffer = b""
    with client.stream("GET", "/v1/orders/bulk", params={"start": start, "end": end}) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 20):
            lines = (buffer + chunk).split(b"\n")
            buffer = lines.pop()
            for line in lines:
                orjson.loads(line)
            records += len(lines)
    if buffer:
        orjson.loads(buffer)
        records += 1
    return records, 1


def run(orders_per_day: int, days: int, limit: int, repeat: int = 3) -> dict[str, Any]:
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine skews the figures
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "include")}
    cmd = [sys.executable, __file__, "--serve", "--port", str(port), "--orders-per-day", str(orders_per_day)]
    proc = subprocess.Popen(cmd, env=env)
    results: list[dict[str, Any]] = []
    try:
        _wait_ready(url, proc)
        windows = {"paged": date(2026, 3, 2), "bulk": date(2026, 5, 4)}  # disjoint: no shared cache
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=300) as client:
            for form, first in windows.items():
                start, end = first.isoformat(), (first + timedelta(days=days)).isoformat()
                # Cold: the server generates the days while serving them. Warm: best of `repeat` passes
                # over the same window (served from the day cache when the window fits in it).
                for phase, passes in (("cold", 1), ("warm", repeat)):
                    best: tuple[float, int, int] | None = None
                    for _ in range(passes):
                        began = time.perf_counter()
                        if form == "paged":
                            records, requests = pull_paged(client, start, end, limit)
                        else:
                            records, requests = pull_bulk(client, start, end)
                        seconds = time.perf_counter() - began
                        if best is None or seconds < best[0]:
                            best = (seconds, records, requests)
                    assert best is not None
                    seconds, records, requests = best
                    results.append(
                        {
                            "form": form,
                            "phase": phase,
                            "window": f"[{start}, {end})",
                            "records": records,
                            "requests": requests,
                            "seconds": round(seconds, 3),
                            "records_per_s": round(records / seconds),
                            "target_per_s": TARGETS[form],
                        }
                    )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "orders_per_day": orders_per_day,
        "days": days,
        "limit": limit,
        "cpus": os.cpu_count(),
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "results": results,
    }


def _table(report: dict[str, Any]) -> str:
    header = ("form", "phase", "records", "requests", "seconds", "records/s", "target")
    rows = ["{:<6} {:<5} {:>9} {:>8} {:>8} {:>10} {:>8}".format(*header)]
    for r in report["results"]:
        ok = "ok" if r["records_per_s"] >= r["target_per_s"] else "BELOW"
        rows.append(
            f"{r['form']:<6} {r['phase']:<5} {r['records']:>9} {r['requests']:>8} {r['seconds']:>8.2f} "
            f"{r['records_per_s']:>10,} {r['target_per_s']:>8,} {ok}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders-per-day", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7, help="window length in days")
    parser.add_argument("--limit", type=int, default=1_000, help="page size of the paged form")
    parser.add_argument("--repeat", type=int, default=3, help="warm passes (best one is reported)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.port, args.orders_per_day)
        return None
    report = run(args.orders_per_day, args.days, args.limit, args.repeat)
    print(_table(report))
    print(f"load average (1 min) before/after: {report['load_avg_1m_before']}/{report['load_avg_1m_after']}")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
