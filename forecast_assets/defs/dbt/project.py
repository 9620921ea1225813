"""The dbt project and its CLI resource, built when definitions load, never at import.

Importing this module reads nothing and runs nothing: :func:`dbt_project` prepares the manifest
the first time it is called (once per process), so a test, a tool or a CLI that only imports the
package never waits for ``dbt parse``.
"""

import functools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from forecast_assets.settings import DBT_PROJECT_DIR

# What the manifest is built from: a newer file here means the manifest is stale.
PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_FOLDERS = ("models", "macros", "tests", "seeds")


def dbt_executable() -> str:
    """The dbt installed beside this Python (a venv need not be on PATH), else ``dbt`` on PATH."""
    sibling = Path(sys.executable).parent / "dbt"
    return str(sibling) if sibling.exists() else "dbt"


def manifest_is_stale(project: DbtProject) -> bool:
    """No manifest yet, or a model, macro, test, seed or project file changed after it was written
    (a stale manifest would build yesterday's model list and miss new marts and their tests)."""
    if not project.manifest_path.exists():
        return True
    written = project.manifest_path.stat().st_mtime
    sources = [project.project_dir / name for name in PROJECT_FILES]
    for folder in PROJECT_FOLDERS:
        sources += [p for p in (project.project_dir / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > written for p in sources if p.exists())


@contextmanager
def _venv_dbt_on_path() -> Iterator[None]:
    """dagster-dbt's own preparation runs ``dbt`` from PATH; a venv used without activating it
    (``.venv/bin/dagster dev``) has its dbt beside Python instead, so that folder goes first on
    PATH for the duration of the call."""
    executable = dbt_executable()
    if os.sep not in executable:
        yield
        return
    before = os.environ.get("PATH")
    os.environ["PATH"] = os.pathsep.join(p for p in (str(Path(executable).parent), before) if p)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = before


def parse(project: DbtProject) -> None:
    """``dbt parse`` into the project's target folder, with the dbt beside this Python."""
    DbtCliResource(
        project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
    ).cli(["parse", "--quiet"], target_path=project.target_path).wait()


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project with a current manifest, prepared once per process.

    The manifest is prepared only where it is missing or stale (a model, macro, test, seed or
    project file newer than it): under ``dagster dev`` by dagster-dbt's ``prepare_if_dev``, elsewhere
    (CI, tests, a fresh clone) by ``dbt parse``. A current manifest is used as it is, so neither a
    deployed image nor each run worker of ``dagster dev`` waits ~20 s for dbt on every load.
    """
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if manifest_is_stale(project):
        with _venv_dbt_on_path():
            project.prepare_if_dev()
        if manifest_is_stale(project):
            parse(project)
    return project


def dbt_cli_resource() -> DbtCliResource:
    """The dbt CLI. Target and connection are not fixed here but set for each run from the
    warehouse resource the run writes to (``defs/dbt/assets.py``), so the two can never disagree."""
    project = dbt_project()
    return DbtCliResource(
        project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
    )
