"""A snapshot of the asset graph's specs, so a change to it is a reviewed diff, not a surprise.

What an asset promises to the scheduler, the UI and the deployment (its key, upstream deps, group,
partitions, checks, automation condition, backfill policy, op tags, kinds) is easy to change by
accident: a refactor that drops a GPU op tag or a backfill policy still passes every behaviour
test on one machine. This test records those specs in ``tests/snapshots/asset_graph.json`` and
fails on any difference; ``UPDATE_SNAPSHOTS=1`` rewrites the file, and the diff is reviewed like
code.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from dagster import AutomationCondition, Definitions

from forecast_assets.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
UPDATE_HINT = (
    "the asset graph differs from {path}. If the change is intended, run "
    "`UPDATE_SNAPSHOTS=1 .venv/bin/pytest -q tests/test_asset_graph_snapshot.py` and review "
    "`git diff {path}` before committing it."
)


def load_definitions() -> Definitions:
    """The code location's Definitions: ``build_definitions(settings)`` where the module offers it
    (built at load time from the settings), else its module-level ``defs``."""
    module = importlib.import_module("forecast_assets.definitions")
    build = getattr(module, "build_definitions", None)
    if build is not None:
        return build(Settings.from_env())
    return module.defs


def automation_label(condition: AutomationCondition | None) -> str | None:
    """A stable name for a condition: its label (``eager``), else its class."""
    if condition is None:
        return None
    return condition.get_label() or type(condition).__name__


def _decoded(value: str) -> Any:
    """A tag value Dagster stored as JSON text (``dagster-k8s/config``) as the structure it holds,
    so the snapshot's diff shows which field changed; other values as they are."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return value
    return decoded if isinstance(decoded, dict | list) else value


def op_tags(node: Any) -> dict[str, Any] | None:
    """The op's tags (they carry the Kubernetes GPU config and the dbt selection); the file is
    written with sorted keys, so the order is stable."""
    if not node.is_executable:
        return None
    tags = getattr(node.assets_def.node_def, "tags", None) or {}
    return {name: _decoded(value) for name, value in tags.items()}


def asset_graph_specs(defs: Definitions) -> dict[str, dict[str, Any]]:
    """The specs of every asset in ``defs``, keyed by asset key, in a JSON-ready form."""
    graph = defs.resolve_asset_graph()
    specs: dict[str, dict[str, Any]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        partitions = node.partitions_def
        specs[key.to_user_string()] = {
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "group": node.group_name,
            "partitions": None
            if partitions is None
            else (getattr(partitions, "name", None) or type(partitions).__name__),
            "checks": sorted(check.name for check in node.check_keys),
            "automation_condition": automation_label(node.automation_condition),
            "backfill_policy": None if node.backfill_policy is None else str(node.backfill_policy),
            "op_tags": op_tags(node),
            "kinds": sorted(node.kinds),
        }
    return dict(sorted(specs.items()))


@pytest.fixture
def default_settings_env(tmp_path, monkeypatch) -> None:
    """Every setting at its default, so the snapshot does not depend on the developer's shell."""
    for field in dataclasses.fields(Settings):
        env = field.metadata.get("env")
        if env:
            monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("FORECAST_HOME", str(tmp_path / "home"))


def render(specs: dict[str, dict[str, Any]]) -> str:
    return json.dumps(specs, indent=2, sort_keys=True) + "\n"


@pytest.mark.usefixtures("default_settings_env")
def test_asset_graph_matches_snapshot() -> None:
    current = render(asset_graph_specs(load_definitions()))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
        return
    hint = UPDATE_HINT.format(path=SNAPSHOT.relative_to(Path(__file__).parents[1]))
    assert SNAPSHOT.is_file(), f"no snapshot yet: {hint}"
    recorded = SNAPSHOT.read_text()
    if current != recorded:
        diff = "".join(
            difflib.unified_diff(
                recorded.splitlines(keepends=True),
                current.splitlines(keepends=True),
                "snapshot",
                "current",
            )
        )
        pytest.fail(f"{hint}\n{diff}", pytrace=False)


def test_snapshot_records_the_promises_that_matter() -> None:
    """The recorded graph itself holds what deployment relies on (read from the file, so a
    careless ``UPDATE_SNAPSHOTS=1`` that drops one of them fails here too)."""
    specs = json.loads(SNAPSHOT.read_text())
    gpu = specs["chronos_forecast"]["op_tags"]["dagster-k8s/config"]["container_config"]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == "1"
    assert {spec["partitions"] for spec in specs.values()} == {"clients"}
    assert all(spec["backfill_policy"] for spec in specs.values())
    assert specs["fct_demand_forecast"]["automation_condition"] == "eager"
