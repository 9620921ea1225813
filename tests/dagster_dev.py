"""A real ``dagster dev`` (webserver + daemon + code server) for end-to-end tests.

It runs on 127.0.0.1 with a free port, a temporary DAGSTER_HOME (the repo's dagster.yaml) and a
temporary FORECAST_HOME, from a temporary working directory (so a developer's ``.env`` is not
read), in its own process group, which is killed as a whole at the end.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forecast_assets.settings import REPO_ROOT

# Variables of the developer's environment that would point the server elsewhere.
_FOREIGN = ("WAREHOUSE_URL", "MLFLOW_TRACKING_URI", "LANDING_DIR", "FAILURE_WEBHOOK_URL", "DAGSTER_PG_HOST")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class DagsterDev:
    def __init__(self, root: Path, extra_env: dict[str, str] | None = None):
        self.root = root
        self.dagster_home = root / "dagster_home"
        self.forecast_home = root / "forecast_home"
        self.landing_dir = self.forecast_home / "landing"
        self.log_path = root / "dagster_dev.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.dagster_home.mkdir(parents=True)
        self.landing_dir.mkdir(parents=True)
        (self.dagster_home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
        workdir = self.root / "cwd"
        workdir.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN and not k.startswith("DAGSTER_PG")}
        env.update(
            DAGSTER_HOME=str(self.dagster_home),
            FORECAST_HOME=str(self.forecast_home),
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        dagster = Path(sys.executable).parent / "dagster"
        command = [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml")]
        command += ["-h", "127.0.0.1", "-p", str(self.port)]
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(self._location_loaded, 240, "dagster dev to load the code location", every=3)

    def _location_loaded(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            data = self.graphql(
                "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                "locationOrLoadError { __typename } } } } }"
            )
        except OSError:
            return False
        entries = data["workspaceOrError"]["locationEntries"]
        for entry in entries:
            if entry["locationOrLoadError"] and entry["locationOrLoadError"]["__typename"] == "PythonError":
                raise RuntimeError(f"code location failed to load:\n{self.log_tail()}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str, every: float = 5.0) -> Any:
        """:func:`wait_for`, with the end of the server's log in the error when it times out."""
        try:
            return wait_for(predicate, timeout, what, every)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n--- dagster dev log ---\n{self.log_tail()}") from None

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Children (code server, daemon, run workers) share the group: make sure none is left.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
