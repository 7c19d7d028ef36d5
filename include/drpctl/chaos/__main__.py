"""`python -m drpctl.chaos --runs N --seed S`: what `make chaos` runs. Exit 1 when an invariant breaks."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path

from drp.errors import PlatformError
from drp.settings import load_settings
from drpctl.chaos.campaign import (
    QUIET_DAYS,
    Campaign,
    default_first_day,
    first_quiet_day,
    format_table,
    report_path,
)
from drpctl.chaos.heal import heal_days


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drpctl.chaos", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="daily runs in the campaign (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault profiles (default 1)")
    parser.add_argument(
        "--first-day", type=date.fromisoformat, default=None,
        help="first day the campaign runs (default: the first day from 2024-03-01 whose days are quiet)",
    )  # fmt: skip
    parser.add_argument(
        "--rebuild-every", type=int, default=10,
        help="compare published marts with a clean rebuild every K runs (and after the last; 0: last only)",
    )  # fmt: skip
    parser.add_argument(
        "--stop-after", type=datetime.fromisoformat, default=None,
        help="start no run after this ISO time (the campaign then checks and reports what it ran)",
    )  # fmt: skip
    parser.add_argument("--run-timeout", type=float, default=1200, help="seconds one run may take")
    parser.add_argument("--out", type=Path, default=None, help="report directory (default .drp/chaos)")
    parser.add_argument(
        "--no-heal", action="store_true",
        help="leave the campaign's faulted batches live (default: reload its days without faults at the end)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    settings = load_settings()
    path = report_path(args.out or settings.state_dir / "chaos")
    try:
        if args.first_day and first_quiet_day(settings, args.first_day, args.runs) != args.first_day:
            print(
                f"chaos: warning: raw already holds orders batches between {args.first_day} and "
                f"{QUIET_DAYS} days after the campaign's days; the clean-rebuild check may report "
                "differences that come from them, not from this campaign (docs/chaos.md; the "
                "default --first-day avoids them)",
                file=sys.stderr,
            )
        campaign = Campaign(
            settings,
            seed=args.seed,
            runs=args.runs,
            first_day=args.first_day or default_first_day(settings, args.runs),
            rebuild_every=args.rebuild_every,
            run_timeout=args.run_timeout,
            echo=lambda line: print(line, flush=True),
            report_path=path,
            stop_after=args.stop_after,
        )
        try:
            report = campaign.run()
        finally:  # a campaign cut short by an error or Ctrl-C heals what it ran, too
            refused = _heal(campaign, heal=not args.no_heal)
    except PlatformError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    days = sorted({d.isoformat() for r in campaign.records for d in r.profile.days})
    report["healed_days"] = [] if args.no_heal else days
    report["heal_refused"] = refused
    path.write_text(json.dumps(report, indent=2, default=str))
    print(format_table(report))
    print(f"\nreport: {path}")
    return 0 if report["ok"] and not refused else 1


def _heal(campaign: Campaign, *, heal: bool) -> list[str]:
    """Load the campaign's days again without faults; what could not be loaded, one line each."""
    days = sorted({d for r in campaign.records for d in r.profile.days})
    if not heal or not days:
        return []
    print(f"healing {len(days)} campaign days (loading them again without faults)", flush=True)
    return heal_days(campaign.settings, days, echo=lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
