"""Helpers behind running itself, each against the real thing: a local HTTP server for the webhook,
a second process holding the DuckDB lock, dates for retrospective origins and freshness ages."""

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

from forecast_assets.alerts import WebhookError, failure_message, post_json
from forecast_assets.core.running.freshness import stale_clients
from forecast_assets.core.running.retrospective import as_of_dates, parse_as_of_range
from forecast_assets.resources.duckdb_lock import connect_duckdb, is_lock_conflict
from forecast_assets.settings import Settings, redact_webhook_url

from .conftest import make_settings


class Hook:
    """A real HTTP server on 127.0.0.1 that records what is POSTed to it."""

    def __init__(self, status: int = 200):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(
                    {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRET-TOKEN"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


def test_webhook_posts_json(hook):
    payload = failure_message("forecast_client", "0123456789abcdef", "acme", "raw_landing: boom\nTraceback")
    assert post_json(hook.url, payload) == 200
    [got] = hook.received
    assert got["path"] == "/hooks/T000/SECRET-TOKEN" and got["type"] == "application/json"
    assert (
        got["json"]["text"]
        == "forecast-assets: run 01234567 of forecast_client for client acme failed: raw_landing: boom"
    )
    assert got["json"]["client_id"] == "acme" and got["json"]["run_id"] == "0123456789abcdef"


def test_webhook_errors_never_show_the_secret_path():
    failing = Hook(status=500)
    try:
        with pytest.raises(WebhookError) as err:
            post_json(failing.url, {"text": "x"})
        assert "HTTP 500" in str(err.value)
        assert "SECRET" not in str(err.value) and "/***" in str(err.value)
    finally:
        failing.close()
    # Nothing listens on the port any more: unreachable, still redacted.
    with pytest.raises(WebhookError) as err:
        post_json(failing.url, {"text": "x"}, timeout=2)
    assert "unreachable" in str(err.value) and "SECRET" not in str(err.value)


def test_webhook_url_is_kept_out_of_repr_and_redacted_settings(tmp_path, monkeypatch):
    url = "https://hooks.example.com/services/T000/B000/SECRET"
    settings = make_settings(tmp_path, failure_webhook_url=url)
    assert "SECRET" not in repr(settings)
    assert settings.redacted()["failure_webhook_url"] == "https://hooks.example.com/***"
    assert redact_webhook_url("https://user:pw@h.example/x?token=SECRET") == "https://h.example/***"
    monkeypatch.setenv("FAILURE_WEBHOOK_URL", "ftp://h.example/SECRET")
    with pytest.raises(ValueError) as err:
        Settings.from_env()
    assert "SECRET" not in str(err.value)


def test_schedule_settings_from_env(monkeypatch):
    monkeypatch.setenv("SCHEDULE_TIME", "06:45")
    monkeypatch.setenv("SCHEDULE_TIMEZONE", "Europe/Berlin")
    settings = Settings.from_env()
    assert settings.schedule_cron == "45 6 * * *" and settings.schedule_timezone == "Europe/Berlin"
    for name, bad in (("SCHEDULE_TIME", "25:00"), ("SCHEDULE_TIMEZONE", "Mars/Olympus")):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=name):
            Settings.from_env()
        monkeypatch.delenv(name)


def test_stale_clients():
    now = 1_000_000.0
    ages = {"fresh": now - 3600, "old": now - 50 * 3600, "older": now - 80 * 3600, "never": None}
    stale = stale_clients(ages, now, max_age_hours=36)
    assert [(s.client_id, s.age_hours) for s in stale] == [("never", None), ("older", 80.0), ("old", 50.0)]
    assert stale[0].describe() == "never: no forecast yet"


def test_retrospective_origins():
    start, end = parse_as_of_range("2026-08-01:2026-08-20")
    assert as_of_dates(start, end, 7) == [dt.date(2026, 8, d) for d in (1, 8, 15, 20)]
    assert parse_as_of_range("2026-08-01..2026-08-01") == (dt.date(2026, 8, 1), dt.date(2026, 8, 1))
    assert as_of_dates(start, start, 7) == [start]
    for bad in ("2026-08-20:2026-08-01", "yesterday:today"):
        with pytest.raises(ValueError):
            parse_as_of_range(bad)


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_duckdb_connect_waits_for_another_process(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        # Without waiting: DuckDB refuses, and the error is recognised as a lock conflict.
        with pytest.raises(duckdb.IOException) as err:
            connect_duckdb(path, attempts=1)
        assert is_lock_conflict(err.value)
        # With the backoff: the connection opens once the other process lets go.
        started = time.monotonic()
        con = connect_duckdb(path)
        waited = time.monotonic() - started
        con.execute("create table t as select 1 as x")
        con.close()
        assert waited > 0.5
    finally:
        holder.wait(timeout=30)


def test_duckdb_connect_does_not_retry_other_errors(tmp_path):
    bad = tmp_path / "not_a_db.duckdb"
    bad.write_text("this is not a database file")
    started = time.monotonic()
    with pytest.raises(duckdb.Error) as err:
        connect_duckdb(bad)
    assert not is_lock_conflict(err.value) and time.monotonic() - started < 5
