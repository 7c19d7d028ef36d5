"""Quality gate wall time at scale: a 100k-order interval and a 1M-order interval.

For each size, builds a synthetic warehouse (`tests.drp.quality.sample_warehouse`: staging.orders
and every mart, two days of N orders each) in a temp DuckDB file, then runs the real gate on day 2,
so the staging frame holds the N orders created that day plus the earlier orders its batch updated.
Results go to a throw-away Postgres database (`drp_bench_gx_<random>`, dropped afterwards) and a
temp copy of the GX project. Prints a table and a JSON document (also written to
`bench/results/quality_bench.json`).

    uv run --frozen python bench/quality_bench.py [--sizes 100000 1000000] [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import remove_objects
from drp.db.migrate import upgrade
from drp.quality.gate import run_quality_gate
from drp.quality.project import GX_ROOT
from drp.settings import PROJECT_ROOT, Settings, load_settings
from drpctl.db_admin import create_database, drop_database

# The sample warehouse is a test fixture, and tests/ is not an installed package.
sys.path.insert(0, str(PROJECT_ROOT))
from tests.drp.quality.sample_warehouse import SampleSpec, build_sample_warehouse

RESULTS = PROJECT_ROOT / "bench" / "results" / "quality_bench.json"


def bench_size(settings: Settings, work: Path, gx_root: Path, orders: int, *, docs: bool) -> dict[str, Any]:
    spec = SampleSpec(days=2, orders_per_day=orders, customers=min(100_000, max(1_000, orders // 2)))
    path = work / f"warehouse_{orders}.duckdb"
    started = time.perf_counter()
    build_sample_warehouse(path, spec)
    build_seconds = time.perf_counter() - started
    start, end = spec.day_interval(1)
    sized = settings.model_copy(update={"generator_orders_per_day": orders})

    started = time.perf_counter()
    report = run_quality_gate(
        sized,
        run_id=f"bench__{orders}__{secrets.token_hex(3)}",
        data_interval_start=start,
        data_interval_end=end,
        duckdb_path=path,
        gx_root=gx_root,
        build_docs=docs,
    )
    wall = time.perf_counter() - started
    size_mb = path.stat().st_size / 2**20
    path.unlink()
    return {
        "orders_per_interval": orders,
        "warehouse_mb": round(size_mb, 1),
        "build_seconds": round(build_seconds, 2),
        "gate_seconds": round(wall, 2),
        "passed": report.passed,
        "timings": {name: round(value, 2) for name, value in report.timings.items()},
        "suites": [
            {
                "suite": r.suite,
                "rows": r.rows,
                "expectations": r.evaluated,
                "seconds": round(r.elapsed_seconds, 2),
            }
            for r in report.suites
        ],
    }


def _import_seconds(module: str) -> float:
    """What importing `module` costs a fresh interpreter (every gate task process pays it once)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-docs", action="store_true", help="skip the Data Docs build")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    base = load_settings()
    name = f"drp_bench_gx_{secrets.token_hex(4)}"
    create_database(base.postgres_admin_dsn, name, base.postgres_user)
    results: list[dict[str, Any]] = []
    try:
        # Its own database, validation results and Data Docs in the object store (all removed).
        settings = load_settings(
            postgres_db=name,
            quality_results_prefix=f"bench-quality/{name}/validations",
            quality_docs_prefix=f"bench-quality/{name}/data_docs",
        )
        upgrade(settings, "0101")
        with tempfile.TemporaryDirectory(prefix="drp_quality_bench_") as tmp:
            work = Path(tmp)
            gx_root = work / "great_expectations"
            shutil.copytree(GX_ROOT, gx_root, ignore=shutil.ignore_patterns("uncommitted"))

            # In a fresh process: this one imported GX already (drp.quality.gate imports it).
            import_seconds = _import_seconds("great_expectations")
            # Warm-up on a tiny interval: the first validation pays GX's lazy initialisation.
            bench_size(settings, work, gx_root, 1_000, docs=False)
            for orders in args.sizes:
                results.append(bench_size(settings, work, gx_root, orders, docs=not args.no_docs))
    finally:
        drop_database(base.postgres_admin_dsn, name)
        remove_objects(base, f"bench-quality/{name}")

    print(
        f"\nquality gate wall time (GX import, paid once per process: {import_seconds:.1f}s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)\n"
    )
    header = ("orders", "build", "read", "validate", "docs", "record", "gate")
    print("  ".join(f"{cell:>10}" for cell in header) + "  passed")
    for result in results:
        t = result["timings"]
        cells = [
            f"{result['orders_per_interval']:,}",
            *(
                f"{value:.2f}s"
                for value in (
                    result["build_seconds"],
                    t["read_frames"],
                    t["validate"],
                    t.get("data_docs", 0.0),
                    t["record"],
                    result["gate_seconds"],
                )
            ),
        ]
        print("  ".join(f"{cell:>10}" for cell in cells) + f"  {result['passed']}")
    print("\nper suite (rows validated / seconds):")
    for result in results:
        suites = ", ".join(f"{s['suite']} {s['rows']:,}/{s['seconds']:.2f}s" for s in result["suites"])
        print(f"  {result['orders_per_interval']:,}: {suites}")

    document = {
        "benchmark": "quality_gate",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        # Other work on the machine inflates every figure: record how busy it was.
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "gx_import_seconds": round(import_seconds, 2),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2))
    print(json.dumps(document, indent=2))
    return 0 if all(result["passed"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
