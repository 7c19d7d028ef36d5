"""FastAPI dependencies: configuration, API-key check, parameter parsing, attempt numbering."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, Security, status
from fastapi.security import APIKeyHeader

from drp_generator.config import GeneratorConfig
from drp_generator.errors import FaultConfigError, InvalidParameterError
from drp_generator.faults import FaultConfig
from drp_generator.generate import Window, make_window
from drp_generator.schemas import FaultQuery, PageQuery, WindowQuery, parse_bound

API_KEY_HEADER = "X-API-Key"
_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Required when configured")


class ConfigHolder:
    """Resolves the config on first use, so `create_app()` needs no settings at import time."""

    def __init__(self, config: GeneratorConfig | None) -> None:
        self._config = config
        self._lock = threading.Lock()

    def get(self) -> GeneratorConfig:
        if self._config is None:
            with self._lock:
                if self._config is None:
                    self._config = GeneratorConfig.from_settings()
        return self._config


def get_config(request: Request) -> GeneratorConfig:
    holder: ConfigHolder = request.app.state.config_holder
    return holder.get()


ConfigDep = Annotated[GeneratorConfig, Depends(get_config)]


def require_api_key(config: ConfigDep, api_key: Annotated[str | None, Security(_api_key_header)]) -> None:
    """401 unless the configured API key (if any) was sent in `X-API-Key`."""
    if config.api_key is None:
        return
    if api_key is None or not secrets.compare_digest(api_key.encode(), config.api_key.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key (send it in the X-API-Key header)",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )


def effective_faults(config: GeneratorConfig, query: FaultQuery) -> FaultConfig:
    """The server's default faults with the request's overrides (when overrides are allowed)."""
    overrides = query.overrides()
    if not overrides or not config.allow_fault_overrides:
        return config.faults
    return config.faults.replace(**overrides)


@dataclass(frozen=True, slots=True)
class RecordsRequest:
    """A parsed window request (paged or bulk)."""

    window: Window
    faults: FaultConfig
    limit: int
    cursor: str | None


def _window(config: GeneratorConfig, query: WindowQuery) -> Window:
    return make_window(parse_bound(query.start), parse_bound(query.end), config.max_window_days)


def parse_page(config: ConfigDep, query: Annotated[PageQuery, Query()]) -> RecordsRequest:
    limit = config.default_limit if query.limit is None else query.limit
    if limit > config.max_limit:
        raise InvalidParameterError("limit", f"must be at most {config.max_limit}")
    return RecordsRequest(_window(config, query), _faults(config, query), limit, query.cursor)


def parse_window(config: ConfigDep, query: Annotated[WindowQuery, Query()]) -> RecordsRequest:
    return RecordsRequest(_window(config, query), _faults(config, query), 0, None)


def _faults(config: GeneratorConfig, query: FaultQuery) -> FaultConfig:
    try:
        return effective_faults(config, query)
    except FaultConfigError:
        raise
    except (TypeError, ValueError) as exc:  # a combination FaultConfig rejects
        raise FaultConfigError("fault", str(exc)) from None


PageDep = Annotated[RecordsRequest, Depends(parse_page)]
WindowDep = Annotated[RecordsRequest, Depends(parse_window)]


class AttemptCounter:
    """Numbers repeated identical requests when clients send no `X-Attempt` header.

    Process memory, bounded: the oldest keys are forgotten first.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def next(self, key: str) -> int:
        with self._lock:
            count = self._seen.pop(key, 0) + 1
            self._seen[key] = count
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return count


AttemptHeader = Annotated[
    int | None,
    Header(
        alias="X-Attempt",
        ge=1,
        le=1_000_000,
        description=(
            "1 for a first try, 2 for the first retry, ...: HTTP faults are decided per page and attempt. "
            "Without it the server counts identical requests itself."
        ),
    ),
]
