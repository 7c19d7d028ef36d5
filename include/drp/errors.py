"""One base error for the platform; subclasses carry the context an operator needs."""

from __future__ import annotations


class PlatformError(Exception):
    """Base class for every error drp raises on purpose."""


class ConfigError(PlatformError):
    """A setting is missing, malformed or unsafe. The message names the variable."""


class StackError(PlatformError):
    """A local service could not be started, reached or stopped."""

    def __init__(self, message: str, *, service: str | None = None, log: str | None = None) -> None:
        detail = message
        if service:
            detail = f"{service}: {detail}"
        if log:
            detail = f"{detail} (log: {log})"
        super().__init__(detail)
        self.service = service
        self.log = log


class IntervalError(PlatformError, ValueError):
    """A data interval bound is malformed or has no time zone. The message names the bound."""
