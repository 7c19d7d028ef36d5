"""Slack-compatible webhook alerts (any receiver that accepts `{"text": …, "blocks": …}`)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from drp.settings import Settings

log = logging.getLogger(__name__)


def send_alert(settings: Settings, title: str, lines: list[str], *, level: str = "error") -> bool:
    """POST one message to DRP_ALERT_WEBHOOK_URL; returns False (and logs) when it cannot be sent."""
    url = settings.alert_webhook_url
    if not url:
        log.info("no DRP_ALERT_WEBHOOK_URL configured; alert not sent: %s", title)
        return False
    icon = {"error": ":red_circle:", "warning": ":warning:"}.get(level, ":information_source:")
    text = f"{icon} *{title}*\n" + "\n".join(f"• {line}" for line in lines)
    payload: dict[str, Any] = {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "drp": {"level": level, "title": title, "lines": lines},
    }
    try:
        response = httpx.post(url, json=payload, timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.error("alert to %s failed: %s (%s)", url, exc, title)
        return False
    return True
