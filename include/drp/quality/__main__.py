"""`python -m drp.quality {sync,check,docs}`: maintain the GX project generated from suites.py.

* `sync`  - write the suites, validation definitions and checkpoints that differ from suites.py;
* `check` - exit 1 (listing them) when the committed project is out of step with suites.py;
* `docs`  - rebuild the Data Docs site and print its index.html.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drp.quality", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("sync", "check", "docs"))
    parser.add_argument(
        "--gx-root", type=Path, default=None, help="GX project dir (default: great_expectations/)"
    )
    args = parser.parse_args(argv)

    if args.command == "docs":
        from drp.quality.docs import build_data_docs

        print(build_data_docs(args.gx_root))
        return 0

    from drp.quality.project import open_context, project_lock, sync_project

    context = open_context(args.gx_root)
    with project_lock(args.gx_root):
        changes = sync_project(context, dry_run=args.command == "check")
    for change in changes:
        print(("stale: " if args.command == "check" else "wrote: ") + change)
    if args.command == "check" and changes:
        print("the GX project is out of step with drp/quality/suites.py: run `python -m drp.quality sync`")
        return 1
    if not changes:
        print("GX project in step with drp/quality/suites.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
