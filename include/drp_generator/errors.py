"""Errors the generator raises on purpose; the API layer maps them to HTTP 422."""

from __future__ import annotations


class GeneratorError(Exception):
    """Base class for every error the generator raises on purpose."""


class GeneratorConfigError(GeneratorError):
    """A `DRP_GENERATOR_*` setting is missing or malformed. The message names the variable."""


class InvalidParameterError(GeneratorError):
    """A request parameter is malformed or out of range. `param` names it (e.g. `start`)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class InvalidCursorError(InvalidParameterError):
    """A cursor was tampered with, is malformed, or belongs to another query."""

    def __init__(self, message: str) -> None:
        super().__init__("cursor", message)


class FaultConfigError(InvalidParameterError):
    """A fault setting is out of range."""
