"""The data health page's HTML: recent days at a glance, and one day's drill-down.

Pure functions of `DayHealth` (no query here): `drp.monitoring.data_health` reads, this renders.
Links to Airflow's own pages open inside the frame Airflow shows the page in (its sandbox allows
no navigation of the whole window).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from drp.health_page import charts
from drp.monitoring.data_health import DAILY_DAG, DayHealth, EntityLoad, Verdict
from drp.quality.suites import VOLUME_RATIO_WARNING

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em;color:#1b1f24;font-size:14px}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.2em 0 .4em}
table{border-collapse:collapse}td,th{border-bottom:1px solid #d8dee4;padding:.3em .6em;text-align:left;
vertical-align:top}th{background:#f3f5f7}
.ok{color:#1a7f37}.warn{color:#9a6700}.fail{color:#cf222e;font-weight:600}
.pill{display:inline-block;border-radius:.7em;padding:0 .5em;font-size:.85em}
.pill.ok{background:#dafbe1}.pill.warn{background:#fff8c5}.pill.fail{background:#ffebe9}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{border:1px solid #d8dee4;border-radius:4px}
.chart .bar{fill:#54aeff}.chart .bar.bad{fill:#cf222e}.chart .band{fill:#dafbe1}
.chart .line{fill:none;stroke:#0969da;stroke-width:2}.chart .dot{fill:#0969da}
.chart .title{font-size:12px;font-weight:600}.chart .axis{font-size:10px;fill:#57606a;stroke:#d8dee4}
.muted{color:#57606a}a{color:#0969da}
"""

LAYERS = ("run", "raw", "freshness", "dbt", "quality", "published", "alerts")


def overview_page(days: Sequence[DayHealth], *, base: str) -> str:
    """Recent days, newest first: the verdict of each layer, and four charts."""
    rows = []
    for health in sorted(days, key=lambda h: h.day, reverse=True):
        layers = {layer.name: layer for layer in health.layers()}
        cells = "".join(
            f'<td title="{escape(layers[name].line)}">{_pill(layers[name].verdict)}</td>' for name in LAYERS
        )
        verdict = "complete and correct" if health.complete_and_correct else "not complete and correct"
        css = "ok" if health.complete_and_correct else "fail"
        rows.append(
            f'<tr data-day="{health.day.isoformat()}"><td><a href="{base}/day/{health.day.isoformat()}">'
            f'{health.day.isoformat()}</a></td><td class="{css}">{verdict}</td>{cells}</tr>'
        )
    header = "".join(f"<th>{name}</th>" for name in LAYERS)
    return _page(
        "Data health",
        "Did each day's data arrive, complete and correct? One verdict per layer, source to published "
        "(hover a verdict for its line; a day for its drill-down).",
        _charts(days)
        + f"<h2>Recent days</h2><table><tr><th>day</th><th>verdict</th>{header}</tr>{''.join(rows)}</table>"
        + f'<p class="muted"><a href="{base}/docs/index.html">Great Expectations Data Docs</a> · '
        '<a href="/dags/orders_elt_daily">the daily DAG</a> · '
        "the same answer in a terminal: <code>drp status --data --date YYYY-MM-DD</code></p>",
    )


def day_page(health: DayHealth, *, base: str, docs_root: str) -> str:
    """One day: every layer's line, the entities' loads, quality failures with their Data Docs
    pages, the failing tasks with their logs."""
    layers = "".join(
        f"<tr><th>{layer.name}</th><td>{_pill(layer.verdict)}</td><td>{escape(layer.line)}</td></tr>"
        for layer in health.layers()
    )
    loads = "".join(_load_row(load) for load in health.loads)
    sections = [
        f"<table>{layers}</table>",
        "<h2>Raw</h2><table><tr><th>entity</th><th>batch</th><th>received</th><th>loaded</th>"
        "<th>quarantined</th><th>duplicates</th><th>quarantine reasons</th><th>drift</th></tr>"
        f"{loads}</table>",
    ]
    if health.quality is not None:
        pages = health.quality.pages
        items = [
            f"<li class='{css}'>{escape(check)} {_docs_link(pages, check, docs_root, base)}</li>"
            for css, checks in (("fail", health.quality.critical), ("warn", health.quality.warnings))
            for check in checks
        ]
        sections.append(
            f"<h2>Quality ({health.quality.suites} suites, run {escape(health.quality.run_id)})</h2>"
            + (f"<ul>{''.join(items)}</ul>" if items else "<p class='ok'>every expectation met</p>")
            + f'<p><a href="{base}/docs/index.html">all Data Docs</a></p>'
        )
    if health.run is not None:
        run = quote(health.run.run_id, safe="")
        tasks = "".join(
            f'<li class="fail">{escape(task)}: <a '
            f'href="/dags/{DAILY_DAG}/runs/{run}/tasks/{quote(task, safe="")}">its log</a></li>'
            for task in health.failed_tasks
        )
        sections.append(
            f'<h2>Run <a href="/dags/{DAILY_DAG}/runs/{run}">'
            f"{escape(health.run.run_id)}</a></h2>"
            + (f"<p>Failed tasks:</p><ul>{tasks}</ul>" if tasks else "<p class='ok'>no task failed</p>")
        )
    if health.published is not None:
        marts = "".join(
            f"<tr><td>{escape(mart)}</td><td>{rows:,}</td></tr>"
            for mart, rows in sorted(health.published.rows.items())
        )
        sections.append(
            f"<h2>Published: lake snapshot {health.published.lake_snapshot_id}</h2>"
            f"<table><tr><th>mart</th><th>rows</th></tr>{marts}</table>"
        )
    if health.alerts:
        alerts = "".join(
            f"<li class='{'fail' if a.level == 'error' else 'warn'}'>{escape(a.level)}: {escape(a.title)}"
            f"{'' if a.delivered else ' (not sent: ' + escape(a.delivery_error or 'pending') + ')'}</li>"
            for a in health.alerts
        )
        sections.append(f"<h2>Alerts</h2><ul>{alerts}</ul>")
    verdict = "complete and correct" if health.complete_and_correct else "NOT complete and correct"
    return _page(
        f"{health.day.isoformat()}: {verdict}",
        f'<a href="{base}/">← recent days</a>',
        "".join(sections),
        raw_intro=True,
    )


def _load_row(load: EntityLoad) -> str:
    batch = "live" if load.live else escape(load.refused or "missing")
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in sorted(load.reasons.items()))
    return (
        f"<tr><td>{load.entity}</td><td>{batch}</td><td>{load.received:,}</td><td>{load.loaded:,}</td>"
        f"<td>{load.quarantined:,}</td><td>{load.duplicates:,}</td><td>{escape(reasons)}</td>"
        f"<td>{escape(', '.join(sorted(load.drift)))}</td></tr>"
    )


def _docs_link(pages: Mapping[str, str], check: str, docs_root: str, base: str) -> str:
    url = pages.get(check.split(": ", 1)[0])
    if not url or not url.startswith(docs_root):
        return ""
    return f'(<a href="{base}/docs/{quote(url.removeprefix(docs_root))}">Data Docs</a>)'


def _charts(days: Sequence[DayHealth]) -> str:
    ordered = sorted(days, key=lambda h: h.day)
    labels = [h.day.isoformat() for h in ordered]
    orders = [next((ld for ld in h.loads if ld.entity == "orders" and ld.live), None) for h in ordered]
    volume = [float(load.received) if load else None for load in orders]
    known = [v for v in volume if v]
    band = None
    if known:
        median = statistics.median(known)
        band = (median * VOLUME_RATIO_WARNING[0], median * VOLUME_RATIO_WARNING[1])
    quarantine = [100 * load.quarantined_share if load else None for load in orders]
    duration = [h.run.duration_seconds if h.run else None for h in ordered]
    pass_rate = [_pass_rate(h) for h in ordered]
    return (
        '<div class="charts">'
        + charts.bars(
            "Orders received per day (band: the gate's typical range around the median)",
            list(zip(labels, volume, strict=True)),
            band=band,
        )
        + charts.line("Quarantine share of orders (%)", list(zip(labels, quarantine, strict=True)), unit="%")
        + charts.bars(
            "Run duration (s; red: failed)",
            list(zip(labels, duration, strict=True)),
            unit="s",
            flagged=frozenset(h.day.isoformat() for h in ordered if h.run and h.run.status != "success"),
        )
        + charts.line(
            "Quality pass rate (% of suites)", list(zip(labels, pass_rate, strict=True)), unit="%", top=100
        )
        + "</div>"
    )


def _pass_rate(health: DayHealth) -> float | None:
    if health.quality is None or not health.quality.suites:
        return None
    failing = {check.split(": ", 1)[0] for check in (*health.quality.critical, *health.quality.warnings)}
    return 100 * (health.quality.suites - len(failing)) / health.quality.suites


def _pill(verdict: Verdict) -> str:
    return f'<span class="pill {verdict.value}">{verdict.value.upper()}</span>'


def _page(title: str, intro: str, body: str, *, raw_intro: bool = False) -> str:
    intro_html = intro if raw_intro else escape(intro)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f'<p class="muted">{intro_html}</p>{body}</body></html>'
    )
