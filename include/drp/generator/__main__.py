"""`python -m drp.generator`: serve the generator API with uvicorn on settings.generator_host/port."""

from __future__ import annotations

import argparse

import uvicorn

from drp.generator.api.app import create_app
from drp.generator.config import GeneratorConfig


def main(argv: list[str] | None = None) -> None:
    """Parse options and serve until interrupted."""
    from drp.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m drp.generator", description=__doc__)
    parser.add_argument("--host", default=settings.generator_host)
    parser.add_argument("--port", type=int, default=settings.generator_port)
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    args = parser.parse_args(argv)
    app = create_app(GeneratorConfig.from_settings(settings))
    uvicorn.run(app, host=args.host, port=args.port, access_log=not args.no_access_log, log_level="info")


if __name__ == "__main__":
    main()
