"""Posting a short JSON message to a webhook (chat, incident tool), with the stdlib only.

The URL is a secret (chat webhooks carry their token in the path): errors raised from here name
only its scheme and host.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping

from forecast_assets.settings import redact_webhook_url


class WebhookError(RuntimeError):
    """The webhook could not be reached or answered with an error status."""


def post_json(url: str, payload: Mapping[str, object], timeout: float = 10.0) -> int:
    """POST ``payload`` as JSON to ``url``; return the HTTP status, raise :class:`WebhookError`."""
    if not url.startswith(("http://", "https://")):
        raise WebhookError(f"not an http(s) webhook URL: {redact_webhook_url(url)}")
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "forecast-assets"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"webhook {redact_webhook_url(url)} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookError(f"webhook {redact_webhook_url(url)} unreachable: {reason}") from None


def failure_message(
    job_name: str, run_id: str, client_id: str | None, error: str | None, max_error_chars: int = 500
) -> dict[str, object]:
    """The short alert posted for a failed run: one readable ``text`` line plus the fields."""
    lines = (error or "").strip().splitlines()
    error = lines[0][:max_error_chars] if lines else ""
    where = f" for client {client_id}" if client_id else ""
    return {
        "text": f"forecast-assets: run {run_id[:8]} of {job_name}{where} failed: "
        f"{error or 'see the run log'}",
        "job": job_name,
        "run_id": run_id,
        "client_id": client_id,
        "error": error,
    }
