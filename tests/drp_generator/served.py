"""The real generator app served by uvicorn on a free loopback port, and the config tests share."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import uvicorn

from drp_generator.api import create_app
from drp_generator.config import GeneratorConfig

API_KEY = "test-key-0123456789"
# Small volume and a recent epoch keep whole-history checks fast.
TEST_CONFIG = GeneratorConfig(seed=7, orders_per_day=400, api_key=API_KEY, epoch=date(2026, 9, 1))


@dataclass(frozen=True)
class Served:
    """A running server: its base URL and the config it serves."""

    url: str
    config: GeneratorConfig


def start_server(
    config: GeneratorConfig, start_timeout: float = 15
) -> tuple[uvicorn.Server, threading.Thread, str]:
    """The generator app for `config` served by uvicorn in a daemon thread; returns the server,
    its thread and base URL. The socket is bound here and handed to uvicorn, so no other test
    (another xdist worker's) can take the port between picking it and listening on it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"generator-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout=5)
            sock.close()
            raise RuntimeError("generator test server did not start")
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


@contextmanager
def serve(config: GeneratorConfig) -> Iterator[Served]:
    """Serve `config` in a daemon thread until the block ends."""
    server, thread, url = start_server(config)
    try:
        yield Served(url, config)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
