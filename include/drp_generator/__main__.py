"""`python -m drp_generator`: serve the generator API with uvicorn on DRP_GENERATOR_HOST/PORT."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from drp_generator.api.app import create_app
from drp_generator.config import GeneratorConfig
from drp_generator.errors import GeneratorError
from drp_generator.settings import load_generator_settings


def main(argv: list[str] | None = None) -> None:
    """Parse options and serve until interrupted; a bad setting is one line on stderr, exit 2."""
    try:
        settings = load_generator_settings()
        config = GeneratorConfig.from_settings(settings)
    except GeneratorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    parser = argparse.ArgumentParser(prog="python -m drp_generator", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        access_log=not args.no_access_log,
        log_level="info",
    )


if __name__ == "__main__":
    main()
