"""Small inline SVG charts: nothing to download at run time, readable at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 560, 150, 28


def bars(
    title: str,
    points: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    band: tuple[float, float] | None = None,
    flagged: frozenset[str] = frozenset(),
) -> str:
    """One bar per label (a missing value: no bar), an optional shaded band of expected values;
    a bar outside the band, or whose label is in `flagged`, is drawn red."""
    values = [v for _, v in points if v is not None]
    top = max([*values, band[1] if band else 0.0, 1.0])
    slot = (WIDTH - 2 * PAD) / max(len(points), 1)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top

    parts = [_frame(title, top, unit)]
    if band:
        parts.append(
            f'<rect class="band" x="{PAD}" y="{y(band[1]):.1f}" width="{WIDTH - 2 * PAD}" '
            f'height="{y(band[0]) - y(band[1]):.1f}"><title>expected {band[0]:,.0f}-{band[1]:,.0f}{unit}'
            "</title></rect>"
        )
    for i, (label, value) in enumerate(points):
        if value is None:
            continue
        outside = band is not None and not band[0] <= value <= band[1]
        cls = "bar bad" if outside or label in flagged else "bar"
        x = PAD + i * slot + slot * 0.15
        parts.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{y(value):.1f}" width="{slot * 0.7:.1f}" '
            f'height="{HEIGHT - PAD - y(value):.1f}">{_tip(label, value, unit)}</rect>'
        )
    parts.append(_labels(points, slot))
    return _svg(title, parts)


def line(
    title: str, points: Sequence[tuple[str, float | None]], *, unit: str = "", top: float | None = None
) -> str:
    """A line through the values (gaps where a value is missing), with a dot per value."""
    values = [v for _, v in points if v is not None]
    top = top or max([*values, 1.0])
    slot = (WIDTH - 2 * PAD) / max(len(points), 1)
    coords = [
        (PAD + i * slot + slot / 2, HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top, label, v)
        for i, (label, v) in enumerate(points)
        if v is not None
    ]
    parts = [_frame(title, top, unit)]
    if coords:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _, _ in coords)
        parts.append(f'<polyline class="line" points="{path}"/>')
        parts += [
            f'<circle class="dot" cx="{x:.1f}" cy="{yy:.1f}" r="3">{_tip(label, v, unit)}</circle>'
            for x, yy, label, v in coords
        ]
    parts.append(_labels(points, slot))
    return _svg(title, parts)


def _tip(label: str, value: float, unit: str) -> str:
    return f"<title>{escape(label)}: {_number(value)}{escape(unit)}</title>"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _frame(title: str, top: float, unit: str) -> str:
    return (
        f'<text class="title" x="{PAD}" y="14">{escape(title)}</text>'
        f'<text class="axis" x="2" y="{PAD + 4}">{_number(top)}{escape(unit)}</text>'
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>'
    )


def _labels(points: Sequence[tuple[str, float | None]], slot: float) -> str:
    every = max(1, len(points) // 7)
    return "".join(
        f'<text class="axis" x="{PAD + i * slot + slot / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(label[5:])}</text>"
        for i, (label, _) in enumerate(points)
        if i % every == 0
    )


def _svg(title: str, parts: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}">' + "".join(parts) + "</svg>"
    )
