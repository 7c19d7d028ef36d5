"""HTTP layer of the generator (FastAPI). `create_app` builds it."""

from drp_generator.api.app import create_app

__all__ = ["create_app"]
