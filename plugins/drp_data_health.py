"""The operator's data health page, inside Airflow's UI: the app is mounted on Airflow's API
server at /drp, and the navigation gains "Data health" and "Data Docs". Logic lives in
`drp.health_page`; this file only wires.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from drp.health_page.mount import LazyApp

MOUNT = "/drp"


class DrpDataHealthPlugin(AirflowPlugin):
    name = "drp_data_health"
    # Airflow reads these class attributes (declared so on AirflowPlugin).
    fastapi_apps = [{"app": LazyApp(), "url_prefix": MOUNT, "name": "drp data health"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "Data health",
            "href": f"{MOUNT}/health/",
            "destination": "nav",
            "url_route": "data-health",
            "category": "browse",
        },
        {
            "name": "Data Docs",
            "href": f"{MOUNT}/health/docs/index.html",
            "destination": "nav",
            "url_route": "data-docs",
            "category": "browse",
        },
    ]
