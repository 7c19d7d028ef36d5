"""The operator's data health page, served inside Airflow's UI (the `drp_data_health` plugin).

* `app` - the FastAPI app: recent days, a day's drill-down, the Data Docs site from the object store;
* `views` - its HTML (no query: `drp.monitoring.data_health` reads);
* `charts` - inline SVG charts.
"""
