"""The host name Airflow records for a task (`[core] hostname_callable`).

Natively, every Celery worker runs on this one machine, as if on a host of its own: its program
sets `DRP_WORKER_HOSTNAME`, so the metadata DB shows which worker ran each task. Elsewhere (the
scheduler, LocalExecutor, containers) it is the machine's name, Airflow's default.
"""

from __future__ import annotations

import os
import socket

WORKER_HOSTNAME_VARIABLE = "DRP_WORKER_HOSTNAME"


def hostname() -> str:
    return os.environ.get(WORKER_HOSTNAME_VARIABLE) or socket.getfqdn()
